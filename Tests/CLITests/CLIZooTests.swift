import XCTest
import Foundation

/// A real, tiny zoo (the committed 20-image MNIST fixture, a small net, one epoch): trained and scanned once
/// unsharded and once as two shards, and the merged table must equal the unsharded one (issue 6). Detection
/// quality is not the point here (docs/RESULTS.md is); equality, resumption and the outputs are.
final class CLIZooTests: XCTestCase {
    func testShardedZooMergesToTheUnshardedTable() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let plan = tmp.appendingPathComponent("plan.json")
        try Data("""
        {"name": "tiny", "dataset": "mnist", "images": 12, "detectors": ["neuroninspect:paper", "neuroninspect:default", "neuroninspect:paper@6"],
         "architecture": "input(1,28,28) conv(4,5,pad=2) relu maxpool(2) flatten dense(10)",
         "training": {"epochs": 1, "batchSize": 8, "injectRatio": 0.2},
         "benign": 1, "seeds": 1,
         "attacks": [{"target": 5, "patterns": ["square"], "sizes": [4], "positions": ["bottom-right"]}],
         "triggers": [{"name": "check", "trigger": "checkerboard:4@top-left", "target": 1}]}
        """.utf8).write(to: plan)
        let whole = tmp.appendingPathComponent("whole"), shards = tmp.appendingPathComponent("shards")
        let merged = tmp.appendingPathComponent("merged")
        let r = try runCLI(["zoo", "--plan", plan.path, "--out", whole.path, "--data", data.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("neuroninspect:paper: target flagged alone on"), r.stdout)
        for k in 1...2 {
            let s = try runCLI(["zoo", "--plan", plan.path, "--out", shards.appendingPathComponent("\(k)").path, "--shard", "\(k)/2", "--data", data.path])
            XCTAssertEqual(s.status, 0, s.stderr)
        }
        let incomplete = try runCLI(["merge", "--plan", plan.path, "--from", shards.appendingPathComponent("1").path, "--out", merged.path])
        XCTAssertNotEqual(incomplete.status, 0)
        XCTAssertTrue(incomplete.stderr.contains("missing"), incomplete.stderr)
        let m = try runCLI(["merge", "--plan", plan.path, "--from", shards.appendingPathComponent("1").path,
                            "--from", shards.appendingPathComponent("2").path, "--out", merged.path])
        XCTAssertEqual(m.status, 0, m.stderr)
        func table(_ dir: URL) throws -> [String] {
            // Everything but the timing column must match.
            try String(contentsOf: dir.appendingPathComponent("results.csv"), encoding: .utf8)
                .split(separator: "\n").map { $0.split(separator: ",", omittingEmptySubsequences: false).dropLast().joined(separator: ",") }
        }
        let expected = try table(whole)
        XCTAssertEqual(expected.count, 10, "header + 3 models x 3 detector entries")
        let six = try JSONSerialization.jsonObject(with: Data(contentsOf: whole.appendingPathComponent("results/benign-s1.neuroninspect-paper@6.json"))) as? [String: Any]
        XCTAssertEqual(six?["detector"] as? String, "neuroninspect:paper@6")
        XCTAssertTrue(try String(contentsOf: whole.appendingPathComponent("results.csv"), encoding: .utf8).contains("neuroninspect:paper@6"))
        XCTAssertEqual(try table(merged), expected)
        // Resumable: a second run trains and scans nothing.
        let again = try runCLI(["zoo", "--plan", plan.path, "--out", whole.path, "--data", data.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("training"), again.stderr)
        XCTAssertTrue(FileManager.default.fileExists(atPath: whole.appendingPathComponent("index.html").path))
        // A row removed (to be rescored, or lost) is rebuilt from the kept report, without scanning again.
        try FileManager.default.removeItem(at: whole.appendingPathComponent("results/benign-s1.neuroninspect-default.json"))
        let rebuilt = try runCLI(["zoo", "--plan", plan.path, "--out", whole.path, "--data", data.path])
        XCTAssertEqual(rebuilt.status, 0, rebuilt.stderr)
        XCTAssertTrue(rebuilt.stderr.contains("row rebuilt from the kept benign-s1.neuroninspect-default.report.json"), rebuilt.stderr)
        XCTAssertEqual(try table(whole), expected)
        // --models: only the matching model is trained and scanned.
        let one = tmp.appendingPathComponent("one")
        let o = try runCLI(["zoo", "--plan", plan.path, "--out", one.path, "--data", data.path, "--models", "check-*",
                            "--detectors", "neuroninspect:paper"])
        XCTAssertEqual(o.status, 0, o.stderr)
        XCTAssertTrue(o.stderr.contains("1 model(s)"), o.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: one.appendingPathComponent("results").path).filter { $0.hasSuffix(".json") }.sorted(),
                       ["check-t1-s1.neuroninspect-paper.json", "check-t1-s1.neuroninspect-paper.report.json"],
                       "--detectors: only that detector ran; its row and its whole report are kept")
        let full = try JSONSerialization.jsonObject(with: Data(contentsOf: one.appendingPathComponent("results/check-t1-s1.neuroninspect-paper.report.json"))) as? [String: Any]
        XCTAssertEqual((full?["perClass"] as? [Any])?.count, 10, "the report lists every label")
        assertFailure(try runCLI(["zoo", "--plan", plan.path, "--out", one.path, "--data", data.path, "--detectors", "strip"]),
                      mentions: ["'strip'"])
        let trained = try FileManager.default.contentsOfDirectory(atPath: one.appendingPathComponent("models").path).filter { $0.hasSuffix(".onnx") }
        XCTAssertEqual(trained, ["check-t1-s1.onnx"])
        assertFailure(try runCLI(["zoo", "--plan", plan.path, "--out", one.path, "--data", data.path, "--models", "nothing*"]),
                      mentions: ["--models nothing*"])
        // A plan that needs more clean images than an existing output folder holds is refused before any work.
        let more = tmp.appendingPathComponent("more.json")
        try Data(#"{"name": "tiny", "dataset": "mnist", "images": 12, "detectors": ["neuroninspect:paper@30"], "benign": 1}"#.utf8).write(to: more)
        assertFailure(try runCLI(["zoo", "--plan", more.path, "--out", whole.path, "--data", data.path]),
                      mentions: ["clean", "holds 12 clean images", "need 30"])
    }
}

extension CLIZooTests {
    /// A model whose training collapses (here: any clean accuracy below 100%, which one epoch on 20 images
    /// never reaches) is set aside and retrained with the next attempt's seed; still collapsed, its row is kept,
    /// marked, and left out of the summary. A rerun trains nothing more.
    func testCollapsedTrainingIsRetriedThenLeftOutOfTheSummary() throws {
        let tmp = try makeTempDir()
        let data = try makeMNISTFolder(in: tmp)
        let plan = tmp.appendingPathComponent("plan.json")
        try Data("""
        {"name": "collapse", "dataset": "mnist", "images": 12, "detectors": ["neuroninspect:paper"],
         "architecture": "input(1,28,28) conv(4,5,pad=2) relu maxpool(2) flatten dense(10)",
         "training": {"epochs": 1, "batchSize": 8, "minCleanAccuracy": 1.0, "retries": 1}, "benign": 1}
        """.utf8).write(to: plan)
        let out = tmp.appendingPathComponent("out")
        let r = try runCLI(["zoo", "--plan", plan.path, "--out", out.path, "--data", data.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stderr.contains("training collapsed"), r.stderr)
        XCTAssertTrue(r.stderr.contains("attempt 2"), r.stderr)
        XCTAssertTrue(r.stdout.contains("1 model(s) whose training collapsed left out"), r.stdout)
        let fm = FileManager.default
        let aside = out.appendingPathComponent("models/collapsed")
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: aside.path).sorted(),
                       ["benign-s1.attempt1.json", "benign-s1.attempt1.onnx", "benign-s1.attempt1.onnx.ckpt"])
        let row = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("results/benign-s1.neuroninspect-paper.json"))) as? [String: Any]
        XCTAssertEqual(row?["trainingAttempt"] as? Int, 1)
        let first = try JSONSerialization.jsonObject(with: Data(contentsOf: aside.appendingPathComponent("benign-s1.attempt1.json"))) as? [String: Any]
        let firstSeed = (first?["config"] as? [String: Any])?["seed"] as? Int
        XCTAssertEqual(row?["seed"] as? Int, firstSeed.map { $0 + 1_000_000 }, "the retry's seed is the plan's plus a million")
        let csv = try String(contentsOf: out.appendingPathComponent("results.csv"), encoding: .utf8)
        XCTAssertTrue(csv.contains(",1,true,"), csv)
        let again = try runCLI(["zoo", "--plan", plan.path, "--out", out.path, "--data", data.path])
        XCTAssertEqual(again.status, 0, again.stderr)
        XCTAssertFalse(again.stderr.contains("] training"), again.stderr)
        XCTAssertFalse(fm.fileExists(atPath: aside.appendingPathComponent("benign-s1.attempt2.onnx").path), "the last attempt is kept")
    }

    /// A missing plan and an impossible shard end in an error naming the file or the option, before any work.
    func testBadPlanPathAndShard() throws {
        let tmp = try makeTempDir()
        let out = tmp.appendingPathComponent("out")
        assertFailure(try runCLI(["zoo", "--plan", tmp.appendingPathComponent("nope.json").path, "--out", out.path]),
                      mentions: ["nope.json", "no such file"])
        let plan = tmp.appendingPathComponent("plan.json")
        try Data(#"{"name": "x", "dataset": "mnist", "benign": 2}"#.utf8).write(to: plan)
        assertFailure(try runCLI(["zoo", "--plan", plan.path, "--out", out.path, "--shard", "3/2"]), mentions: ["--shard '3/2'"])
        assertFailure(try runCLI(["zoo", "--plan", plan.path, "--out", out.path, "--shard", "x"]), mentions: ["--shard 'x'"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "nothing written")
    }
}
