import XCTest
import NIDetectors
@testable import NIExperiments

/// Zoo plans, sharding and result tables (no training here: CLITests/CLIZooTests runs a real zoo).
final class ZooTests: XCTestCase {
    let planJSON = """
    {"name": "t", "dataset": "mnist", "benign": 2, "seeds": 2,
     "attacks": [{"target": 5, "patterns": ["square", "checkerboard"], "sizes": [1, 4], "positions": ["bottom-right", "top-left,bottom-right"]}],
     "triggers": [{"name": "blend10", "trigger": "blend:random:seed=1:alpha=0.1", "target": 5}]}
    """

    func plan() throws -> ZooPlan {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("plan-\(UUID().uuidString).json")
        try Data(planJSON.utf8).write(to: url)
        return try ZooPlan.load(url)
    }

    func testExpansionIsTheFullGridInAFixedOrder() throws {
        let p = try plan()
        let models = p.models()
        // 2 patterns x 2 sizes x 2 positions x 2 seeds + 1 named trigger x 2 seeds + 2 benign.
        XCTAssertEqual(models.count, 16 + 2 + 2)
        XCTAssertEqual(models[0].name, "square1-bottom-right-t5-s1")
        XCTAssertEqual(models[0].trigger, "square:1@bottom-right")
        XCTAssertEqual(models[2].trigger, "square:1@top-left,bottom-right")
        XCTAssertEqual(models[2].triggerCount, 2)
        XCTAssertEqual(models.last?.name, "benign-s2")
        XCTAssertNil(models.last?.trigger)
        XCTAssertEqual(Set(models.map(\.seed)).count, models.count, "every model has its own seed")
        XCTAssertEqual(models, try plan().models(), "expansion is deterministic")
        XCTAssertEqual(p.detectors, ["neuroninspect:default", "neuroninspect:paper"])
    }

    func testShardsPartitionThePlan() throws {
        let p = try plan()
        for n in 1...5 {
            let shards = (1...n).map { p.shard($0, of: n).map(\.name) }
            XCTAssertEqual(shards.flatMap { $0 }.sorted(), p.models().map(\.name).sorted(), "n = \(n)")
            XCTAssertEqual(Set(shards.flatMap { $0 }).count, p.models().count)
        }
    }

    func testBadPlansAreRefusedWithTheFileName() throws {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("bad-plan.json")
        try Data(#"{"name": "x", "dataset": "cifar"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("bad-plan.json") && "\($0)".contains("cifar"), "\($0)") }
        try Data(#"{"name": "x", "dataset": "mnist", "detectors": ["strip"], "benign": 1}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("strip"), "\($0)") }
        try Data(#"{"name": "x", "dataset": "mnist"}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("no models"), "\($0)") }
        try Data(#"{"name": "x", "dataset": "mnist", "benign": 1, "training": {"retries": 2}}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("retries needs training.minCleanAccuracy"), "\($0)") }
        try Data(#"{"name": "x", "dataset": "mnist", "benign": 1, "training": {"minCleanAccuracy": 0.5, "retries": 11}}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("retries must be 0...10, got 11"), "\($0)") }
        try Data(#"{"name": "x", "dataset": "mnist", "benign": 1, "training": {"minCleanAccuracy": 50}}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("minCleanAccuracy must be in 0...1"), "\($0)") }
        try Data("{".utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("bad-plan.json"), "\($0)") }
        XCTAssertThrowsError(try ZooPlan.load(URL(fileURLWithPath: "/nonexistent/plan.json"))) { XCTAssertTrue("\($0)".contains("no such file")) }
    }

    /// The image-count study: `detector@N` entries, the export count covers the largest, bad counts refused.
    func testDetectorEntriesWithImageCounts() throws {
        XCTAssertEqual(ZooPlan.detectorSpec("neuroninspect:default@20")?.name, "neuroninspect:default")
        XCTAssertEqual(ZooPlan.detectorSpec("neuroninspect:default@20")?.images, 20)
        XCTAssertNil(ZooPlan.detectorSpec("neuroninspect:default")?.images)
        XCTAssertNil(ZooPlan.detectorSpec("neural-cleanse@1"))
        XCTAssertNil(ZooPlan.detectorSpec("neural-cleanse@x"))
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("count-plan-\(UUID().uuidString).json")
        try Data(#"{"name": "x", "dataset": "mnist", "benign": 1, "images": 50, "detectors": ["neuroninspect:paper@5", "neuroninspect:paper@200", "neuroninspect:paper", "neural-cleanse@10"]}"#.utf8).write(to: url)
        let p = try ZooPlan.load(url)
        XCTAssertEqual(p.imageCount(for: "neuroninspect:paper@5"), 5)
        XCTAssertEqual(p.imageCount(for: "neuroninspect:paper"), 50)
        XCTAssertEqual(p.exportCount, 200)
        for bad in ["neuroninspect:paper@1", "strip@10", "neuroninspect:paper@ten"] {
            try Data(#"{"name": "x", "dataset": "mnist", "benign": 1, "detectors": ["\#(bad)"]}"#.utf8).write(to: url)
            XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains(bad), "\($0)") }
        }
        try Data(#"{"name": "x", "dataset": "mnist", "benign": 1, "detectors": ["neuroninspect:paper", "neuroninspect:paper"]}"#.utf8).write(to: url)
        XCTAssertThrowsError(try ZooPlan.load(url)) { XCTAssertTrue("\($0)".contains("twice"), "\($0)") }
    }

    func report(flagged: [Int], index: Double, combined: [Double], verified: Bool) -> DetectionReport {
        DetectionReport(model: "m", detector: "neuroninspect", preset: "p", classes: combined.count, images: 10, flagged: flagged,
                        anomalyIndex: index, threshold: 2,
                        perClass: combined.enumerated().map { .init(label: $0.offset, features: [:], combined: $0.element, anomalyIndex: 0, flagged: flagged.contains($0.offset)) },
                        seconds: 0.5, settings: verified ? ["verification": "{}"] : [:])
    }

    /// Hand-computed: trojaned scores {0.9, 0.3}, benign {0.5, 0.3}: pairs (0.9 > 0.5, 0.9 > 0.3, 0.3 < 0.5,
    /// 0.3 = 0.3 -> 1/2) give AUC (1 + 1 + 0 + 0.5) / 4 = 0.625.
    func testSummaryRatesAndROCAUC() throws {
        let p = try plan()
        let ms = p.models()
        let troj1 = ms[0], troj2 = ms[1], ben1 = ms[18], ben2 = ms[19]
        let rows = [
            ZooResult(model: troj1, detector: "d", cleanAccuracy: 0.99, attackSuccess: 1, report: report(flagged: [5], index: 9, combined: [0.1, 0.9, 0, 0, 0, 0.9], verified: true)),
            ZooResult(model: troj2, detector: "d", cleanAccuracy: 0.99, attackSuccess: 1, report: report(flagged: [3, 5], index: 3, combined: [0.3, 0.1, 0.2], verified: true)),
            ZooResult(model: ben1, detector: "d", cleanAccuracy: 0.99, attackSuccess: nil, report: report(flagged: [2], index: 4, combined: [0.5, 0.2, 0.1], verified: true)),
            ZooResult(model: ben2, detector: "d", cleanAccuracy: 0.99, attackSuccess: nil, report: report(flagged: [], index: 1, combined: [0.3, 0.1, 0.1], verified: true)),
        ]
        XCTAssertEqual(rows.map(\.correct), [true, false, false, true])
        XCTAssertEqual(rows.map(\.score), [0.9, 0.3, 0.5, 0.3])
        let s = ZooSummary.of(rows)[0]
        XCTAssertEqual(s.detected, 1); XCTAssertEqual(s.trojaned, 2); XCTAssertEqual(s.falseAlarms, 1); XCTAssertEqual(s.benign, 2)
        XCTAssertEqual(s.rocAUC!, 0.625, accuracy: 1e-12)
        XCTAssertNil(s.collapsed)
        // A model whose training collapsed stays in the rows but out of the counts: without troj2 the pairs are
        // (0.9 > 0.5, 0.9 > 0.3), AUC 1.
        var marked = rows
        marked[1].collapsed = true
        let c = ZooSummary.of(marked)[0]
        XCTAssertEqual(c.detected, 1); XCTAssertEqual(c.trojaned, 1); XCTAssertEqual(c.falseAlarms, 1); XCTAssertEqual(c.collapsed, 1)
        XCTAssertEqual(c.rocAUC!, 1, accuracy: 1e-12)
        XCTAssertTrue(ZooTable(plan: "p", rows: marked, summary: [c]).summaryText.contains("1 model(s) whose training collapsed left out"))
        // Without verification the score is the anomaly index.
        XCTAssertEqual(ZooResult(model: troj1, detector: "d", cleanAccuracy: 1, attackSuccess: 1, report: report(flagged: [5], index: 9, combined: [0.1, 0.2, 0.3], verified: false)).score, 9)
    }

    /// The verified presets' ROC score is the largest `TriggerVerification.evidence`: per label the smallest
    /// ratio to the default thresholds (index 2, flips 0.65, margin floor 1.5 for 15x15 and 1 for 10x10, times
    /// max(0.6, 4.5 / specificity) up to 1; specificity 4.5). By hand: label 0 min(4/2, 1/0.65, 3/(1.5 x 0.6),
    /// 9/4.5) = 1/0.65; label 1 min(5, 1/0.65, 0.75/(1.5 x 4.5/5.4), 5.4/4.5) = 0.6; label 2 min(1/2, 0.7/0.65,
    /// 2/1, 4.5/4.5) = 0.5; the score 1/0.65.
    func testVerifiedScoreIsTheLargestEvidenceOverLabels() throws {
        let settings = String(decoding: try JSONEncoder().encode(TriggerVerification()), as: UTF8.self)
        let stats: [(index: Double, flip: Double, margin: Double, spec: Double, window: Double)] =
            [(4, 1, 3, 9, 15), (10, 1, 0.75, 5.4, 15), (1, 0.7, 2, 4.5, 10)]
        let perClass = stats.enumerated().map { i, s in
            DetectionReport.ClassEntry(label: i, features: ["flipRate": s.flip, "marginRatio": s.margin, "specificity": s.spec, "windowSize": s.window],
                                        combined: s.flip, anomalyIndex: s.index, flagged: i == 0)
        }
        let r = DetectionReport(model: "m", detector: "neuroninspect", preset: "default", classes: 3, images: 10, flagged: [0],
                                anomalyIndex: 10, threshold: 2, perClass: perClass, seconds: 1, settings: ["verification": settings])
        let row = ZooResult(model: try plan().models()[0], detector: "d", cleanAccuracy: 1, attackSuccess: 1, report: r)
        XCTAssertEqual(row.score, 1 / 0.65, accuracy: 1e-12)
        XCTAssertEqual(TriggerVerification().evidence(anomalyIndex: 1, flipRate: 0.7, marginRatio: 2, specificity: 4.5, windowSize: 10), 0.5, accuracy: 1e-12)
        XCTAssertEqual(TriggerVerification().evidence(anomalyIndex: 10, flipRate: 1, marginRatio: 0.75, specificity: 5.4, windowSize: 15), 0.6, accuracy: 1e-12)
    }

    /// A report written before session 7 stores settings without `specificityRelief` and `specificityMAD`: they
    /// decode with the rules of then (no relief), so its row is rescored by those rules, not by the flip rate.
    /// By hand: index 5, 100% flips, 1.2 margins at 13x13 (floor 1.3), specificity 9: the old evidence is
    /// min(2.5, 1/0.65, 1.2/1.3, 2) = 0.923; today's rules relieve the floor to 0.78 (min = 1/0.65).
    func testSettingsOfOlderReportsKeepTheirRules() throws {
        var stored = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TriggerVerification())) as! [String: Any]
        stored["specificityRelief"] = nil; stored["specificityMAD"] = nil
        let old = String(decoding: try JSONSerialization.data(withJSONObject: stored), as: UTF8.self)
        XCTAssertThrowsError(try JSONDecoder().decode(TriggerVerification.self, from: Data(old.utf8)), "plain decoding fails on the missing keys")
        let tv = try XCTUnwrap(TriggerVerification.fromSettings(old))
        XCTAssertEqual(tv.specificityRelief, 1)
        XCTAssertEqual(tv.specificityMAD, TriggerVerification().specificityMAD)
        XCTAssertEqual(tv.evidence(anomalyIndex: 5, flipRate: 1, marginRatio: 1.2, specificity: 9, windowSize: 13), 1.2 / 1.3, accuracy: 1e-12)
        XCTAssertEqual(TriggerVerification().evidence(anomalyIndex: 5, flipRate: 1, marginRatio: 1.2, specificity: 9, windowSize: 13), 1 / 0.65, accuracy: 1e-12)
        let entry = DetectionReport.ClassEntry(label: 0, features: ["flipRate": 1, "marginRatio": 1.2, "specificity": 9, "windowSize": 13],
                                               combined: 1, anomalyIndex: 5, flagged: false)
        let r = DetectionReport(model: "m", detector: "neuroninspect", preset: "default", classes: 1, images: 10, flagged: [],
                                anomalyIndex: 5, threshold: 2, perClass: [entry], seconds: 1, settings: ["verification": old])
        XCTAssertEqual(ZooResult(model: try plan().models()[0], detector: "d", cleanAccuracy: 1, attackSuccess: 1, report: r).score, 1.2 / 1.3, accuracy: 1e-12)
        XCTAssertNil(TriggerVerification.fromSettings("not json"))
    }

    func testCollectReadsEveryShardFolderAndListsWhatIsMissing() throws {
        let p = try plan()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("zoo-\(UUID().uuidString)")
        let a = root.appendingPathComponent("a"), b = root.appendingPathComponent("b")
        for d in [a, b] { try FileManager.default.createDirectory(at: d.appendingPathComponent("results"), withIntermediateDirectories: true) }
        let ms = p.models()
        for (i, m) in ms.enumerated() where i != 3 {
            for d in p.detectors {
                let r = ZooResult(model: m, detector: d, cleanAccuracy: 0.98, attackSuccess: m.trojaned ? 1 : nil,
                                  report: report(flagged: m.trojaned ? [5] : [], index: 3, combined: [0, 0.2, 0.1], verified: false))
                try JSONEncoder().encode(r).write(to: ZooResult.url(in: i % 2 == 0 ? a : b, model: m.name, detector: d))
            }
        }
        let (table, missing) = try ZooTable.collect(plan: p, from: [a, b])
        XCTAssertEqual(missing, p.detectors.map { "\(ms[3].name) / \($0)" })
        XCTAssertEqual(table.rows.count, (ms.count - 1) * 2)
        XCTAssertEqual(table.rows.first?.model, ms[0].name, "plan order")
        XCTAssertTrue(table.csv.hasPrefix(ZooResult.csvHeader + "\n"))
        XCTAssertTrue(table.csv.contains("\"square:1@top-left,bottom-right\""), "fields with commas are quoted")
        XCTAssertEqual(table.summary.map(\.detector), p.detectors)
        XCTAssertTrue(ZooPage.render(table).contains("<svg"))
    }
}
