import Foundation

/// Work splitting across CPU cores. Parallel regions are flat: code running inside `Parallel.forEach` must
/// not start another parallel region (kernels take a `threads: 1` path there).
public enum Parallel {
    /// Number of worker threads used by the engine. Defaults to the active core count, or
    /// `NEURONINSPECT_THREADS` when set.
    nonisolated(unsafe) public static var threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["NEURONINSPECT_THREADS"], let n = Int(s), n > 0 { return n }
        return Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Runs `body(chunk, range)` for `chunks` contiguous ranges covering `0..<count`, one per worker.
    /// With one chunk it runs inline on the calling thread.
    @inlinable
    public static func forEachChunk(_ count: Int, chunks requested: Int = Parallel.threadCount,
                                    _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        let chunks = Swift.max(1, Swift.min(requested, count))
        if chunks == 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            body(c, lo..<hi)
        }
    }

    /// Runs `body(i)` for every `i` in `0..<count` spread over the workers.
    @inlinable
    public static func forEach(_ count: Int, _ body: (Int) -> Void) {
        forEachChunk(count) { _, r in for i in r { body(i) } }
    }
}
