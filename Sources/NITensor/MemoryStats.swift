import Foundation

/// Process memory figures read from `/proc/self/status` (Linux); zero elsewhere.
public enum MemoryStats {
    /// Peak resident set size (VmHWM) in bytes.
    public static func peakResidentBytes() -> Int { field("VmHWM:") }

    static func field(_ name: String) -> Int {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in s.split(separator: "\n") where line.hasPrefix(name) {
            let kb = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kb * 1024
        }
        return 0
    }
}

/// Monotonic wall-clock seconds, for timing.
public func monotonicSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_MONOTONIC, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}
