import Foundation
import XCTest

/// Bad inputs to `train` and `evaluate`: each must exit non-zero, say on stderr which file (or value) is wrong
/// and what is wrong with it, and leave nothing at the `--out` path.
final class CLIBadInputTests: XCTestCase {
    static let mnistArch = "input(1,28,28) flatten dense(10)"
    static let gtsrbArch = "input(3,32,32) flatten dense(43)"

    /// `train --dataset mnist` on `data`, writing to `<tmp>/out/m.onnx` (a folder that does not exist yet).
    func trainMNIST(_ data: URL, _ tmp: URL, extra: [String] = []) throws -> (result: (status: Int32, stdout: String, stderr: String), out: URL) {
        let out = tmp.appendingPathComponent("out/m.onnx")
        let r = try runCLI(["train", "--dataset", "mnist", "--data", data.path, "--arch", Self.mnistArch,
                            "--epochs", "1", "--out", out.path] + extra)
        return (r, out)
    }

    // MARK: - MNIST files

    func testTruncatedMNISTImageFile() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        // A valid header declaring 100 images of 28x28, followed by the bytes of only 10 images.
        let images = data.appendingPathComponent("train-images-idx3-ubyte")
        try Bytes.write(Bytes.idxImages(declared: 100, payload: [UInt8](repeating: 7, count: 10 * 784)), to: images)
        try Bytes.write(Bytes.idxLabels((0..<100).map { UInt8($0 % 10) }), to: data.appendingPathComponent("train-labels-idx1-ubyte"))
        let (r, out) = try trainMNIST(data, tmp)
        assertFailure(r, mentions: [images.path, "truncated", "\(16 + 100 * 784)", "\(16 + 10 * 784)"])
        assertNoOutput(out)
    }

    func testMNISTLabelOutOfRange() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let labels = data.appendingPathComponent("train-labels-idx1-ubyte")
        var bytes = [UInt8](try Data(contentsOf: labels))
        XCTAssertEqual(bytes.count, 8 + 20)
        bytes[8 + 3] = 12   // record 3
        try Bytes.write(bytes, to: labels)
        let (r, out) = try trainMNIST(data, tmp)
        assertFailure(r, mentions: [labels.path, "record 3", "label 12", "out of range"])
        assertNoOutput(out)
    }

    func testMNISTFolderMissing() throws {
        let tmp = try makeTempDir()
        let missing = tmp.appendingPathComponent("no-such-mnist")
        let (r, out) = try trainMNIST(missing, tmp)
        assertFailure(r, mentions: [missing.path, "not found"])
        assertNoOutput(out)
    }

    // MARK: - GTSRB layout

    /// The hand-made layout itself is valid (so the failures below come from the one defect each introduces).
    func testGTSRBLayoutIsValid() throws {
        let tmp = try makeTempDir()
        let root = tmp.appendingPathComponent("gtsrb")
        try GTSRBLayout.make(at: root)
        let out = tmp.appendingPathComponent("out/m.onnx")
        let r = try runCLI(["train", "--dataset", "gtsrb", "--data", root.path, "--arch", Self.gtsrbArch,
                            "--epochs", "1", "--out", out.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("loaded 4 training and 2 test images"), r.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: out.path))
    }

    func testGTSRBCSVWithoutRoiX2Column() throws {
        let tmp = try makeTempDir()
        let root = tmp.appendingPathComponent("gtsrb")
        try GTSRBLayout.make(at: root, trainCSVHeader: "Filename;Width;Height;Roi.X1;Roi.Y1;Roi.Y2;ClassId;Extra")
        let out = tmp.appendingPathComponent("out/m.onnx")
        let r = try runCLI(["train", "--dataset", "gtsrb", "--data", root.path, "--arch", Self.gtsrbArch,
                            "--epochs", "1", "--out", out.path])
        assertFailure(r, mentions: [GTSRBLayout.trainCSV(root, cls: 1).path, "'Roi.X2'"])
        assertNoOutput(out)
    }

    func testGTSRBTruncatedPPM() throws {
        let tmp = try makeTempDir()
        let root = tmp.appendingPathComponent("gtsrb")
        try GTSRBLayout.make(at: root)
        let image = GTSRBLayout.trainImage(root, cls: 1, k: 1)
        let full = Bytes.ppm(width: 12, height: 12, seed: 0)
        try Bytes.write(Array(full.prefix(full.count - 100)), to: image)   // header intact, last 100 samples cut
        let out = tmp.appendingPathComponent("out/m.onnx")
        let r = try runCLI(["train", "--dataset", "gtsrb", "--data", root.path, "--arch", Self.gtsrbArch,
                            "--epochs", "1", "--out", out.path])
        assertFailure(r, mentions: [image.path, "truncated", "\(full.count)", "\(full.count - 100)"])
        assertNoOutput(out)
    }

    // MARK: - Model files

    func testEvaluateTextFileAsONNX() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let model = tmp.appendingPathComponent("notes.onnx")
        try Bytes.write(Array("This is a text file, not an ONNX model.\nSecond line.\n".utf8), to: model)
        let json = tmp.appendingPathComponent("out/e.json")
        let r = try runCLI(["evaluate", "--model", model.path, "--dataset", "mnist", "--data", data.path, "--json", json.path])
        assertFailure(r, mentions: [model.path, "not an ONNX model"])
        assertNoOutput(json)
    }

    func testEvaluateMissingModel() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let model = tmp.appendingPathComponent("missing.onnx")
        let json = tmp.appendingPathComponent("out/e.json")
        let r = try runCLI(["evaluate", "--model", model.path, "--dataset", "mnist", "--data", data.path, "--json", json.path])
        assertFailure(r, mentions: [model.path, "no such model file"])
        assertNoOutput(json)
    }

    // MARK: - Options

    func testUnknownArchitectureListsKnownOnes() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let out = tmp.appendingPathComponent("out/m.onnx")
        let r = try runCLI(["train", "--dataset", "mnist", "--data", data.path, "--arch", "doesnotexist", "--out", out.path])
        assertFailure(r, mentions: ["'doesnotexist'", "unknown architecture", "mnist", "gtsrb", "gtsrb-dropout"])
        assertNoOutput(out)
    }

    func testUnknownOptimizer() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let (r, out) = try trainMNIST(data, tmp, extra: ["--optimizer", "nope"])
        assertFailure(r, mentions: ["'nope'", "optimizer", "sgd", "adam", "rmsprop"])
        assertNoOutput(out)
    }

    func testZeroEpochs() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let out = tmp.appendingPathComponent("out/m.onnx")
        let r = try runCLI(["train", "--dataset", "mnist", "--data", data.path, "--arch", Self.mnistArch,
                            "--epochs", "0", "--out", out.path])
        assertFailure(r, mentions: ["--epochs must be at least 1, got 0"])
        assertNoOutput(out)
    }

    func testStuckFloorOutsideZeroToOne() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let (r, out) = try trainMNIST(data, tmp, extra: ["--stop-if-stuck-below", "50"])
        assertFailure(r, mentions: ["--stop-if-stuck-below must be a fraction in 0...1, got 50"])
        assertNoOutput(out)
    }

    func testNonNumericEpochs() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let (r, out) = try trainMNIST(data, tmp, extra: ["--epochs", "three"])
        assertFailure(r, mentions: ["three", "epochs"])
        assertNoOutput(out)
    }
}
