import Foundation
import XCTest

/// `train` then `evaluate` on a tiny MNIST folder, and resuming from a checkpoint.
final class CLITrainEvaluateTests: XCTestCase {
    static let arch = "input(1,28,28) conv(4,5,pad=2) relu maxpool(2) flatten dense(10)"

    func trainArgs(_ data: URL, out: URL, epochs: Int, seed: Int = 0, batch: Int = 8) -> [String] {
        ["train", "--dataset", "mnist", "--data", data.path, "--arch", Self.arch, "--epochs", String(epochs),
         "--batch-size", String(batch), "--seed", String(seed), "--out", out.path]
    }

    func readJSON(_ url: URL, file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let data = try Data(contentsOf: url)
        guard let obj = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            XCTFail("\(url.path) is not a JSON object", file: file, line: line)
            return [:]
        }
        return obj
    }

    func testTrainThenEvaluate() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let outDir = tmp.appendingPathComponent("models")
        let model = outDir.appendingPathComponent("m.onnx")
        let t = try runCLI(["train", "--dataset", "mnist", "--data", data.path, "--arch", Self.arch,
                            "--epochs", "2", "--out", model.path])
        XCTAssertEqual(t.status, 0, t.stderr)
        XCTAssertTrue(t.stdout.contains("wrote \(model.path)"), t.stdout)
        XCTAssertTrue(t.stderr.contains("loaded 20 training and 20 test images"), t.stderr)
        XCTAssertFalse(t.stderr.contains("resuming"), t.stderr)
        // The model, its report and the checkpoint (kept so that a longer run can resume); no temporary files.
        XCTAssertEqual(listing(outDir), ["m.json", "m.onnx", "m.onnx.ckpt"])

        let report = try readJSON(outDir.appendingPathComponent("m.json"))
        let clean = try XCTUnwrap(report["cleanAccuracy"] as? Double, "m.json: \(report)")
        XCTAssert((0...1).contains(clean))
        let history = try XCTUnwrap(report["history"] as? [[String: Any]], "m.json: \(report)")
        XCTAssertEqual(history.count, 2)
        XCTAssertEqual(history.map { $0["epoch"] as? Int }, [1, 2])
        XCTAssertEqual(history.last?["testAccuracy"] as? Double, clean)
        XCTAssertEqual(report["trainImages"] as? Int, 20)
        XCTAssertEqual(report["testImages"] as? Int, 20)
        XCTAssertEqual(report["architecture"] as? String, Self.arch)
        XCTAssertEqual(report["model"] as? String, "m.onnx")

        let evalJSON = tmp.appendingPathComponent("eval/e.json")
        let e = try runCLI(["evaluate", "--model", model.path, "--dataset", "mnist", "--data", data.path,
                            "--json", evalJSON.path])
        XCTAssertEqual(e.status, 0, e.stderr)
        XCTAssertTrue(e.stdout.contains("accuracy"), e.stdout)
        XCTAssertEqual(listing(evalJSON.deletingLastPathComponent()), ["e.json"])
        let result = try readJSON(evalJSON)
        XCTAssertEqual(result["images"] as? Int, 20)
        // The ONNX file round-trips the trained weights exactly: same accuracy as measured right after training.
        XCTAssertEqual(try XCTUnwrap(result["cleanAccuracy"] as? Double), clean,
                       "evaluate on the written ONNX must reproduce the train report's cleanAccuracy")
    }

    /// An interrupted run continued with a larger `--epochs` ends with exactly the model of an uninterrupted run
    /// with the same seed (same bytes of ONNX); a different seed gives a different model.
    func testResumeMatchesUninterruptedRun() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let resumed = tmp.appendingPathComponent("resumed/a.onnx")
        let straight = tmp.appendingPathComponent("straight/a.onnx")
        let otherSeed = tmp.appendingPathComponent("seed1/a.onnx")

        let first = try runCLI(trainArgs(data, out: resumed, epochs: 1))
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertFalse(first.stderr.contains("resuming"), first.stderr)
        let second = try runCLI(trainArgs(data, out: resumed, epochs: 2))
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stderr.contains("resuming from checkpoint: 1 epoch(s) already done"), second.stderr)
        XCTAssertFalse(second.stderr.contains("epoch 1:"), "epoch 1 must not be trained again: \(second.stderr)")
        XCTAssertTrue(second.stderr.contains("epoch 2:"), second.stderr)
        let history = try XCTUnwrap(try readJSON(resumed.deletingPathExtension().appendingPathExtension("json"))["history"] as? [[String: Any]])
        XCTAssertEqual(history.map { $0["epoch"] as? Int }, [1, 2])

        let whole = try runCLI(trainArgs(data, out: straight, epochs: 2))
        XCTAssertEqual(whole.status, 0, whole.stderr)
        XCTAssertFalse(whole.stderr.contains("resuming"), whole.stderr)

        let a = try Data(contentsOf: resumed), b = try Data(contentsOf: straight)
        XCTAssertGreaterThan(a.count, 1000)
        XCTAssertTrue(a == b, "resumed and uninterrupted runs with the same seed must write identical ONNX files "
                      + "(\(a.count) vs \(b.count) bytes, first difference at byte "
                      + "\(zip(a, b).enumerated().first { $0.element.0 != $0.element.1 }?.offset ?? min(a.count, b.count)))")

        let other = try runCLI(trainArgs(data, out: otherSeed, epochs: 2, seed: 1))
        XCTAssertEqual(other.status, 0, other.stderr)
        XCTAssertNotEqual(try Data(contentsOf: otherSeed), a, "a different seed must give a different model")
    }

    /// A checkpoint that is further along than `--epochs` (a 2-epoch run, then the same command with
    /// `--epochs 1`) must not make `train` run away. Today `Trainer.fit` builds `start..<config.epochs` with
    /// start 2 > 1; under -Ounchecked that range is not trapped and the loop trains epoch 3, 4, ... forever,
    /// rewriting the checkpoint each time (see the report).
    func testCheckpointAheadOfRequestedEpochsTerminates() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let model = tmp.appendingPathComponent("ahead/a.onnx")
        let two = try runCLI(trainArgs(data, out: model, epochs: 2))
        XCTAssertEqual(two.status, 0, two.stderr)
        let modelAfterTwo = try Data(contentsOf: model)

        // A normal run takes well under a second; 10 s means it is looping.
        let r = try runCLIResult(trainArgs(data, out: model, epochs: 1), timeout: 10)
        XCTAssertFalse(r.timedOut, "train --epochs 1 with a 2-epoch checkpoint did not stop within 10 s "
                       + "(Trainer.fit iterates start..<config.epochs with start > epochs); stderr tail: "
                       + String(r.stderr.suffix(300)))
        if r.timedOut { return }
        // The refusal names the checkpoint and what to do; the 2-epoch model is untouched.
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("a.onnx.ckpt") && r.stderr.contains("already holds 2 epoch(s)"), r.stderr)
        XCTAssertEqual(try Data(contentsOf: model), modelAfterTwo)
    }
}
