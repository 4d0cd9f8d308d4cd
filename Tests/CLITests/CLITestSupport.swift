import Foundation
import XCTest

/// Helpers for tests that run the built `neuroninspect` executable as a subprocess.
enum CLI {
    /// The `neuroninspect` executable built next to the test bundle (the products folder), or nil.
    static let executable: URL? = {
        var folders: [URL] = []
        let bundle = Bundle.main.bundleURL
        folders.append(bundle)                                   // Linux: the folder of the test executable
        folders.append(bundle.deletingLastPathComponent())       // the products folder holding the .xctest
        if let exe = Bundle.main.executableURL { folders.append(exe.deletingLastPathComponent()) }
        let arg0 = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL
        folders.append(arg0.deletingLastPathComponent())
        // macOS: .../debug/X.xctest/Contents/MacOS/X -> .../debug
        folders.append(arg0.deletingLastPathComponent().deletingLastPathComponent()
                        .deletingLastPathComponent().deletingLastPathComponent())
        for case let b in Bundle.allBundles where b.bundlePath.hasSuffix(".xctest") {
            folders.append(b.bundleURL.deletingLastPathComponent())
        }
        for folder in folders {
            let candidate = folder.appendingPathComponent("neuroninspect")
            var isDir: ObjCBool = false
            if FileManager.default.fileExists(atPath: candidate.path, isDirectory: &isDir), !isDir.boolValue,
               FileManager.default.isExecutableFile(atPath: candidate.path) {
                return candidate
            }
        }
        return nil
    }()

    /// The committed NIDatasets fixtures (`Tests/NIDatasetsTests/Fixtures`), found from this source file.
    static let fixtures: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("NIDatasetsTests/Fixtures")
}

/// The outcome of one run of the CLI.
struct CLIResult {
    var status: Int32
    var stdout: String
    var stderr: String
    /// True when the process was killed because it exceeded its time limit.
    var timedOut: Bool
}

extension XCTestCase {
    /// Runs `neuroninspect args` with `env` added to the current environment, waiting at most `timeout`
    /// seconds (the process is killed after that, and `timedOut` is set). Output goes to temporary files, so
    /// a chatty process can never block on a full pipe.
    func runCLIResult(_ args: [String], env: [String: String] = [:], timeout: TimeInterval = 60,
                      file: StaticString = #filePath, line: UInt = #line) throws -> CLIResult {
        guard let exe = CLI.executable else {
            XCTFail("neuroninspect executable not found next to the test bundle (\(Bundle.main.bundleURL.path)); "
                    + "build with `swift build --build-tests`", file: file, line: line)
            throw XCTSkip("no neuroninspect executable")
        }
        let io = FileManager.default.temporaryDirectory.appendingPathComponent("cli-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: io, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: io) }
        let outURL = io.appendingPathComponent("stdout"), errURL = io.appendingPathComponent("stderr")
        _ = FileManager.default.createFile(atPath: outURL.path, contents: nil)
        _ = FileManager.default.createFile(atPath: errURL.path, contents: nil)
        let outHandle = try FileHandle(forWritingTo: outURL), errHandle = try FileHandle(forWritingTo: errURL)

        let process = Process()
        process.executableURL = exe
        process.arguments = args
        var environment = ProcessInfo.processInfo.environment
        for (k, v) in env { environment[k] = v }
        process.environment = environment
        process.standardOutput = outHandle
        process.standardError = errHandle
        process.standardInput = FileHandle.nullDevice

        let done = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in done.signal() }
        try process.run()
        var timedOut = false
        if done.wait(timeout: .now() + timeout) == .timedOut {
            timedOut = true
            process.terminate()
            if done.wait(timeout: .now() + 5) == .timedOut { kill(process.processIdentifier, SIGKILL); done.wait() }
        }
        process.waitUntilExit()
        try outHandle.close(); try errHandle.close()
        let stdout = String(decoding: try Data(contentsOf: outURL), as: UTF8.self)
        let stderr = String(decoding: try Data(contentsOf: errURL), as: UTF8.self)
        return CLIResult(status: timedOut ? -1 : process.terminationStatus, stdout: stdout, stderr: stderr,
                         timedOut: timedOut)
    }

    /// `runCLIResult` in the shape `(status, stdout, stderr)`; a run that exceeds its time limit fails the test.
    func runCLI(_ args: [String], env: [String: String] = [:], timeout: TimeInterval = 60,
                file: StaticString = #filePath, line: UInt = #line) throws -> (status: Int32, stdout: String, stderr: String) {
        let r = try runCLIResult(args, env: env, timeout: timeout, file: file, line: line)
        XCTAssertFalse(r.timedOut, "neuroninspect \(args.joined(separator: " ")) did not finish within \(timeout) s; "
                       + "stderr tail: \(r.stderr.suffix(500))", file: file, line: line)
        return (r.status, r.stdout, r.stderr)
    }

    /// A new empty folder, removed when the test ends.
    func makeTempDir(_ label: String = "CLITests") throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(label)-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
        return dir
    }

    /// A valid tiny MNIST folder: the committed 20-image test fixtures copied under both the `train-*` and the
    /// `t10k-*` names.
    func makeMNISTFolder(in parent: URL, name: String = "mnist") throws -> URL {
        let src = CLI.fixtures.appendingPathComponent("mnist/plain")
        let images = src.appendingPathComponent("t10k-images-idx3-ubyte")
        let labels = src.appendingPathComponent("t10k-labels-idx1-ubyte")
        guard FileManager.default.fileExists(atPath: images.path), FileManager.default.fileExists(atPath: labels.path) else {
            XCTFail("MNIST fixtures missing at \(src.path)")
            throw XCTSkip("MNIST fixtures missing")
        }
        let dir = parent.appendingPathComponent(name)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for prefix in ["train", "t10k"] {
            try FileManager.default.copyItem(at: images, to: dir.appendingPathComponent("\(prefix)-images-idx3-ubyte"))
            try FileManager.default.copyItem(at: labels, to: dir.appendingPathComponent("\(prefix)-labels-idx1-ubyte"))
        }
        return dir
    }

    /// The names in `dir` (hidden ones included), sorted; empty when `dir` does not exist.
    func listing(_ dir: URL) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []).sorted()
    }

    /// Asserts the run failed (non-zero, not killed) and that stderr contains every string of `parts`.
    func assertFailure(_ r: (status: Int32, stdout: String, stderr: String), mentions parts: [String],
                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNotEqual(r.status, 0, "expected a non-zero exit status; stderr: \(r.stderr)", file: file, line: line)
        XCTAssertNotEqual(r.status, -1, "the process timed out", file: file, line: line)
        for p in parts {
            XCTAssertTrue(r.stderr.contains(p), "stderr does not mention '\(p)': \(r.stderr)", file: file, line: line)
        }
    }

    /// Asserts nothing was written at `out` (no model, no report, no checkpoint, no temporary file beside it).
    func assertNoOutput(_ out: URL, file: StaticString = #filePath, line: UInt = #line) {
        let fm = FileManager.default
        XCTAssertFalse(fm.fileExists(atPath: out.path), "\(out.path) must not exist after a failed run", file: file, line: line)
        let json = out.deletingPathExtension().appendingPathExtension("json")
        XCTAssertFalse(fm.fileExists(atPath: json.path), "\(json.path) must not exist after a failed run", file: file, line: line)
        let left = listing(out.deletingLastPathComponent())
        XCTAssertEqual(left, [], "the output folder must stay empty after a failed run", file: file, line: line)
    }
}

/// Binary writers for hand-made bad inputs.
enum Bytes {
    static func be32(_ v: Int) -> [UInt8] {
        [UInt8((v >> 24) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    /// An IDX image header (`00 00 08 03`, count, rows, cols) followed by `payload`.
    static func idxImages(declared count: Int, rows: Int = 28, cols: Int = 28, payload: [UInt8]) -> [UInt8] {
        [0, 0, 0x08, 3] + be32(count) + be32(rows) + be32(cols) + payload
    }

    /// An IDX label file (`00 00 08 01`, count, labels).
    static func idxLabels(_ labels: [UInt8]) -> [UInt8] { [0, 0, 0x08, 1] + be32(labels.count) + labels }

    /// A binary P6 image of `width` x `height` with a deterministic pattern.
    static func ppm(width: Int, height: Int, seed: Int) -> [UInt8] {
        var out = Array("P6\n\(width) \(height)\n255\n".utf8)
        for i in 0..<(width * height * 3) { out.append(UInt8((i * 37 + seed * 101) & 0xFF)) }
        return out
    }

    static func write(_ bytes: [UInt8], to url: URL) throws {
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }
}

/// A small GTSRB tree in the official layout (see Sources/NIDatasets/GTSRB.swift): two training classes of
/// two 12x12 PPMs each, and a test folder of two PPMs.
enum GTSRBLayout {
    static let header = "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.X2;Roi.Y2;ClassId"

    /// Builds the tree under `root/GTSRB`. `trainCSVHeader` replaces the header of class 00001's CSV (the
    /// data rows keep all eight fields).
    static func make(at root: URL, trainCSVHeader: String = header) throws {
        let base = root.appendingPathComponent("GTSRB")
        for cls in [0, 1] {
            let name = String(format: "%05d", cls)
            let folder = base.appendingPathComponent("Final_Training/Images/\(name)")
            var csv = (cls == 1 ? trainCSVHeader : header) + "\n"
            for k in 0..<2 {
                let file = String(format: "%05d_%05d.ppm", 0, k)
                try Bytes.write(Bytes.ppm(width: 12, height: 12, seed: cls * 10 + k), to: folder.appendingPathComponent(file))
                csv += "\(file);12;12;1;1;10;10;\(cls)\n"
            }
            try Bytes.write(Array(csv.utf8), to: folder.appendingPathComponent("GT-\(name).csv"))
        }
        let test = base.appendingPathComponent("Final_Test/Images")
        var csv = header + "\n"
        for k in 0..<2 {
            let file = String(format: "%05d.ppm", k)
            try Bytes.write(Bytes.ppm(width: 12, height: 12, seed: 50 + k), to: test.appendingPathComponent(file))
            csv += "\(file);12;12;1;1;10;10;\(k)\n"
        }
        try Bytes.write(Array(csv.utf8), to: test.appendingPathComponent("GT-final_test.csv"))
    }

    /// Path of a training image of the tree made by `make`.
    static func trainImage(_ root: URL, cls: Int, k: Int) -> URL {
        root.appendingPathComponent(String(format: "GTSRB/Final_Training/Images/%05d/%05d_%05d.ppm", cls, 0, k))
    }

    static func trainCSV(_ root: URL, cls: Int) -> URL {
        root.appendingPathComponent(String(format: "GTSRB/Final_Training/Images/%05d/GT-%05d.csv", cls, cls))
    }
}
