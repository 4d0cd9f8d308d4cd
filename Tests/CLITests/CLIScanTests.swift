import XCTest
import Foundation
import NITensor
import NINetwork
import NIDatasets
import NIONNX

/// `scan` and `demo` through the real executable: report formats, the CI gate, and bad inputs.
final class CLIScanTests: XCTestCase {
    /// The bundled demo (Sources/neuroninspect/Resources/Demo, made by scripts/make_demo.sh).
    var demo: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/neuroninspect/Resources/Demo")
    }

    func testDemoPrintsVerdictAndWritesHTML() throws {
        let tmp = try makeTempDir()
        let html = tmp.appendingPathComponent("report")
        let r = try runCLI(["demo", "--html", html.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("verdict:"), r.stdout)
        XCTAssertTrue(r.stdout.contains("Ground truth: attack target 5"), r.stdout)
        let page = try String(contentsOf: html.appendingPathComponent("index.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("data:image/png;base64,"))
        XCTAssertTrue(page.contains("<svg"))
        XCTAssertFalse(page.contains("http://") && page.contains("<script src"), "the page must work offline")
        XCTAssertTrue(page.contains("Candidate trigger per class"), "the default preset's patches are shown")
        XCTAssertTrue(r.stdout.contains("label 5: candidate trigger"), r.stdout)
        XCTAssertEqual(listing(html), ["index.html"])
    }

    func testScanJSONHasTheDocumentedFields() throws {
        let tmp = try makeTempDir()
        let json = tmp.appendingPathComponent("r.json")
        let r = try runCLI(["scan", "--model", demo.appendingPathComponent("trojaned-mnist.onnx").path,
                            "--images", demo.appendingPathComponent("images").path, "--count", "20", "--json", json.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
        for key in ["model", "detector", "classes", "images", "flagged", "anomalyIndex", "perClass", "seconds", "verdict"] {
            XCTAssertNotNil(obj[key], "missing \(key)")
        }
        XCTAssertEqual(obj["detector"] as? String, "neuroninspect")
        XCTAssertEqual(obj["classes"] as? Int, 10)
        XCTAssertEqual(obj["images"] as? Int, 20)
        let per = obj["perClass"] as! [[String: Any]]
        XCTAssertEqual(per.count, 10)
        for key in ["label", "sparseness", "smoothness", "persistence", "combined", "anomalyIndex"] {
            XCTAssertNotNil(per[0][key], "perClass lacks \(key)")
        }
        // One candidate trigger per label; the flagged label's lies on the bundled model's real trigger
        // (square:4@bottom-right: x and y 23-26 on 28x28) -- the detector never sees that spec.
        let triggers = try XCTUnwrap(obj["triggers"] as? [[String: Any]])
        XCTAssertEqual(triggers.count, 10)
        let flagged = try XCTUnwrap(obj["flagged"] as? [Int])
        XCTAssertEqual(flagged, [5])
        let t5 = try XCTUnwrap(triggers.first { $0["label"] as? Int == 5 })
        let x = t5["x"] as! Int, y = t5["y"] as! Int, size = t5["size"] as! Int
        XCTAssertEqual((t5["values"] as! [Double]).count, size * size)
        XCTAssertTrue(x < 27 && x + size > 23 && y < 27 && y + size > 23, "trigger at (\(x), \(y)) size \(size)")
    }

    /// `--fail-on-detection` turns a flagged label into exit status 3. The smoothgrad preset flags label 5
    /// (and 9) on the bundled model with its 40 images (measured with this build; seeded, so repeatable).
    func testFailOnDetectionGatesCI() throws {
        let args = ["scan", "--model", demo.appendingPathComponent("trojaned-mnist.onnx").path,
                    "--images", demo.appendingPathComponent("images").path, "--count", "40", "--preset", "smoothgrad"]
        let plain = try runCLI(args)
        XCTAssertEqual(plain.status, 0, plain.stderr)
        XCTAssertTrue(plain.stdout.contains("flagged: 5"), plain.stdout)
        let gated = try runCLI(args + ["--fail-on-detection"])
        XCTAssertEqual(gated.status, 3, gated.stdout + gated.stderr)
    }

    func testBadImageFolders() throws {
        let tmp = try makeTempDir()
        let model = demo.appendingPathComponent("trojaned-mnist.onnx").path
        let empty = tmp.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        assertFailure(try runCLI(["scan", "--model", model, "--images", empty.path]), mentions: ["empty"])

        let corrupt = tmp.appendingPathComponent("corrupt")
        try FileManager.default.createDirectory(at: corrupt, withIntermediateDirectories: true)
        try Data([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 1, 2, 3]).write(to: corrupt.appendingPathComponent("bad.png"))
        assertFailure(try runCLI(["scan", "--model", model, "--images", corrupt.path]), mentions: ["bad.png"])

        let wrong = tmp.appendingPathComponent("wrongsize")
        try FileManager.default.createDirectory(at: wrong, withIntermediateDirectories: true)
        for i in 0..<3 { try PNG.write(DecodedImage(width: 32, height: 32, channels: 1), to: wrong.appendingPathComponent("i\(i).png").path) }
        assertFailure(try runCLI(["scan", "--model", model, "--images", wrong.path]), mentions: ["i0.png", "32x32", "--resize"])
        let resized = try runCLI(["scan", "--model", model, "--images", wrong.path, "--resize"])
        XCTAssertEqual(resized.status, 0, resized.stderr)

        assertFailure(try runCLI(["scan", "--model", model, "--images", wrong.path, "--count", "1"]), mentions: ["--count"])
        let few = try runCLI(["scan", "--model", model, "--images", wrong.path, "--resize", "--count", "10"])
        XCTAssertEqual(few.status, 0, few.stderr)
        XCTAssertTrue(few.stdout.contains("asked for 10 images, the folder holds 3"), few.stdout)
    }

    func testModelWithTooFewClassesIsRefused() throws {
        let tmp = try makeTempDir()
        let spec = ArchitectureSpec("input(1,28,28) flatten dense(2)")
        let url = tmp.appendingPathComponent("two.onnx")
        try ONNXExport.write(try spec.build(seed: 1), to: url, architecture: spec)
        let r = try runCLI(["scan", "--model", url.path, "--images", demo.appendingPathComponent("images").path])
        assertFailure(r, mentions: ["2 labels", "at least 3"])
    }
}

extension CLIScanTests {
    func testNormalisationOptionsAreChecked() throws {
        let model = demo.appendingPathComponent("trojaned-mnist.onnx").path, images = demo.appendingPathComponent("images").path
        assertFailure(try runCLI(["scan", "--model", model, "--images", images, "--mean", "0.1,0.2"]),
                      mentions: ["--mean needs 1 comma-separated values", "0.1,0.2"])
        assertFailure(try runCLI(["scan", "--model", model, "--images", images, "--std", "0"]),
                      mentions: ["--std values must be positive"])
        assertFailure(try runCLI(["scan", "--model", model, "--images", images, "--preset", "magic"]),
                      mentions: ["unknown preset 'magic'"])
    }
}
