import Foundation

/// Runs `scripts/pytorch_reference.py` (when Python with torch is installed) so benchmark tables show
/// PyTorch's figures measured in the same run, on the same machine. Absent PyTorch, the columns stay empty.
public struct PyTorchReference {
    public let script: URL
    public let python: String
    public let threads: Int

    /// Finds the script next to the package (walking up from the current directory) and a Python
    /// interpreter that can `import torch`.
    public static func locate(threads: Int) -> PyTorchReference? {
        var dir = URL(fileURLWithPath: FileManager.default.currentDirectoryPath)
        for _ in 0..<6 {
            let s = dir.appendingPathComponent("scripts/pytorch_reference.py")
            if FileManager.default.fileExists(atPath: s.path) {
                for py in ["python3", "python"] {
                    let ref = PyTorchReference(script: s, python: py, threads: threads)
                    if (try? ref.run(["versions"])) != nil { return ref }
                }
                return nil
            }
            dir.deleteLastPathComponent()
        }
        return nil
    }

    /// Runs one subcommand and returns the parsed JSON object.
    public func run(_ args: [String]) throws -> [String: Any] {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [python, script.path, "--threads", String(threads)] + args
        let out = Pipe()
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0,
              let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw CocoaError(.executableLoad)
        }
        return obj
    }
}
