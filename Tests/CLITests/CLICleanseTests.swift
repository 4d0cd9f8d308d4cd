import XCTest
import Foundation
import NITensor
import NINetwork
import NIDatasets
import NIONNX

/// `cleanse` (Neural Cleanse, issue 5) through the real executable: the report formats, per-label progress,
/// resuming a killed run, and bad input. Short step budgets keep it quick; detection quality is tested in
/// NIDetectorsTests/NeuralCleanseTests.
final class CLICleanseTests: XCTestCase {
    var demo: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/neuroninspect/Resources/Demo")
    }
    var model: String { demo.appendingPathComponent("trojaned-mnist.onnx").path }
    var images: String { demo.appendingPathComponent("images").path }

    func perClass(_ json: URL) throws -> [[String: Any]] {
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
        return obj["perClass"] as! [[String: Any]]
    }

    func testJSONHTMLProgressAndResume() throws {
        let tmp = try makeTempDir()
        let json = tmp.appendingPathComponent("r.json"), html = tmp.appendingPathComponent("report")
        let args = ["cleanse", "--model", model, "--images", images, "--count", "20", "--labels", "0,5,7",
                    "--steps", "3", "--mini-batches", "2", "--json", json.path, "--html", html.path]
        let r = try runCLI(args)
        XCTAssertEqual(r.status, 0, r.stderr)
        for l in [0, 5, 7] { XCTAssertTrue(r.stderr.contains("label \(l): mask norm"), r.stderr) }
        XCTAssertTrue(r.stderr.contains("(2/3)"), r.stderr)
        XCTAssertTrue(r.stdout.contains("verdict:"), r.stdout)

        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
        for key in ["model", "detector", "classes", "images", "flagged", "anomalyIndex", "perClass", "seconds", "verdict", "threshold"] {
            XCTAssertNotNil(obj[key], "missing \(key)")
        }
        XCTAssertEqual(obj["detector"] as? String, "neural-cleanse")
        XCTAssertEqual(obj["classes"] as? Int, 10)
        XCTAssertEqual(obj["images"] as? Int, 20)
        let per = obj["perClass"] as! [[String: Any]]
        XCTAssertEqual(per.map { $0["label"] as? Int }, [0, 5, 7])
        for e in per {
            for key in ["label", "maskNorm", "attackSuccess", "steps", "combined", "anomalyIndex", "flagged"] {
                XCTAssertNotNil(e[key], "perClass lacks \(key)")
            }
            XCTAssertEqual(e["maskNorm"] as? Double, e["combined"] as? Double)
            XCTAssertEqual(e["steps"] as? Double, 3)
        }
        let page = try String(contentsOf: html.appendingPathComponent("index.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("Reversed masks"), "the page must show the masks")
        XCTAssertTrue(page.contains("Reversed patterns"))
        XCTAssertTrue(page.contains(">class 7</div>"), "pictures are labelled with their label")
        XCTAssertGreaterThanOrEqual(page.components(separatedBy: "data:image/png;base64,").count - 1, 9)
        XCTAssertFalse(page.contains("Mean heatmap"))
        // The work directory sits next to the JSON; a second run takes every label from it, same numbers.
        XCTAssertEqual(listing(URL(fileURLWithPath: json.path + ".work")), ["label-0.json", "label-5.json", "label-7.json"])
        let again = try runCLI(args)
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertEqual(again.stderr.components(separatedBy: "resumed from the work directory").count - 1, 3, again.stderr)
        XCTAssertEqual(try perClass(json).map { $0["maskNorm"] as? Double }, per.map { $0["maskNorm"] as? Double })
        // Other settings: refused with advice, accepted with --fresh.
        let other = try runCLI(args.map { $0 == "3" ? "4" : $0 })
        assertFailure(other, mentions: ["--fresh", "label-0.json"])
        let fresh = try runCLI(args.map { $0 == "3" ? "4" : $0 } + ["--fresh"])
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        XCTAssertFalse(fresh.stderr.contains("resumed"), fresh.stderr)
    }

    /// A run killed after its first label resumes from the finished labels and ends with the same report as an
    /// uninterrupted run.
    func testKilledRunResumesWithTheSameResult() throws {
        guard let exe = CLI.executable else { XCTFail("no neuroninspect executable"); return }
        let tmp = try makeTempDir()
        let work = tmp.appendingPathComponent("work")
        let base = ["cleanse", "--model", model, "--images", images, "--count", "20", "--labels", "1,2,3,5",
                    "--steps", "40", "--mini-batches", "4", "--work-dir", work.path]
        let process = Process()
        process.executableURL = exe
        process.arguments = base
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(120)
        while process.isRunning && Date() < deadline && !listing(work).contains("label-1.json") { usleep(2000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        let done = listing(work).filter { $0.hasPrefix("label-") && $0.hasSuffix(".json") }
        XCTAssertTrue(done.contains("label-1.json"), "label 1 must have finished before the kill: \(done)")
        XCTAssertLessThan(done.count, 4, "the kill came too late to test resuming: \(done)")

        let resumedJSON = tmp.appendingPathComponent("resumed.json"), freshJSON = tmp.appendingPathComponent("fresh.json")
        let resumed = try runCLI(base + ["--json", resumedJSON.path], timeout: 180)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("label 1: mask norm") && resumed.stderr.contains("(resumed from the work directory)"), resumed.stderr)
        let fresh = try runCLI(base.map { $0 == work.path ? tmp.appendingPathComponent("other").path : $0 } + ["--json", freshJSON.path], timeout: 180)
        XCTAssertEqual(fresh.status, 0, fresh.stderr)
        let a = try perClass(resumedJSON), b = try perClass(freshJSON)
        XCTAssertEqual(a.map { $0["maskNorm"] as? Double }, b.map { $0["maskNorm"] as? Double })
        XCTAssertEqual(a.map { $0["anomalyIndex"] as? Double }, b.map { $0["anomalyIndex"] as? Double })
    }

    func testBadInput() throws {
        let tmp = try makeTempDir()
        let out = tmp.appendingPathComponent("out")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        let json = out.appendingPathComponent("r.json").path, html = out.appendingPathComponent("html").path
        let outputs = ["--json", json, "--html", html, "--work-dir", out.appendingPathComponent("work").path]
        func assertNothingWritten(file: StaticString = #filePath, line: UInt = #line) {
            XCTAssertEqual(listing(out), [], "a failed run must write nothing", file: file, line: line)
        }

        assertFailure(try runCLI(["cleanse", "--model", tmp.appendingPathComponent("missing.onnx").path, "--images", images] + outputs),
                      mentions: ["missing.onnx"])
        assertNothingWritten()

        let empty = tmp.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        assertFailure(try runCLI(["cleanse", "--model", model, "--images", empty.path] + outputs), mentions: ["empty"])
        assertNothingWritten()

        let wrong = tmp.appendingPathComponent("wrongsize")
        try FileManager.default.createDirectory(at: wrong, withIntermediateDirectories: true)
        for i in 0..<3 { try PNG.write(DecodedImage(width: 32, height: 32, channels: 1), to: wrong.appendingPathComponent("i\(i).png").path) }
        assertFailure(try runCLI(["cleanse", "--model", model, "--images", wrong.path] + outputs), mentions: ["i0.png", "32x32", "--resize"])
        assertNothingWritten()

        let spec = ArchitectureSpec("input(1,28,28) flatten dense(2)")
        let two = tmp.appendingPathComponent("two.onnx")
        try ONNXExport.write(try spec.build(seed: 1), to: two, architecture: spec)
        assertFailure(try runCLI(["cleanse", "--model", two.path, "--images", images] + outputs), mentions: ["2 labels", "at least 3"])
        assertNothingWritten()

        assertFailure(try runCLI(["cleanse", "--model", model, "--images", images, "--steps", "0"] + outputs), mentions: ["--steps"])
        assertFailure(try runCLI(["cleanse", "--model", model, "--images", images, "--labels", "0,x"] + outputs), mentions: ["--labels", "0,x"])
        assertFailure(try runCLI(["cleanse", "--model", model, "--images", images, "--labels", "0,1"] + outputs), mentions: ["2 labels", "at least 3"])
        assertFailure(try runCLI(["cleanse", "--model", model, "--images", images, "--labels", "0,1,12"] + outputs), mentions: ["label 12", "0..<10"])
        assertFailure(try runCLI(["cleanse", "--model", model, "--images", images, "--mean", "0.1,0.2"] + outputs), mentions: ["--mean"])
        assertNothingWritten()
    }
}
