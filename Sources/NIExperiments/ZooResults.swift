import Foundation
import NIDetectors

/// One detector's verdict on one model of a zoo: a row of the results table. Stored as
/// `results/<model>.<detector>.json` so a killed or sharded run keeps what it finished.
public struct ZooResult: Codable, Sendable, Equatable {
    public var model: String
    public var detector: String
    public var trojaned: Bool
    public var trigger: String?
    public var target: Int?
    public var pattern: String?
    public var size: Int?
    public var position: String?
    public var triggerCount: Int
    public var seed: UInt64
    public var cleanAccuracy: Double
    /// Attack success rate of the trained model (nil for benign models).
    public var attackSuccess: Double?
    public var flagged: [Int]
    public var anomalyIndex: Double
    /// The model-level score the ROC uses: for NeuronInspect's verified presets the largest
    /// `TriggerVerification.evidence` over the labels (the largest flip rate for reports without the
    /// verification's per-class statistics), for the others the largest anomaly index.
    public var score: Double
    /// Trojaned: the true target flagged and nothing else. Benign: nothing flagged.
    public var correct: Bool
    /// Seconds the detector took on this model.
    public var seconds: Double
    /// Which training attempt the scanned model is (nil or 0: the plan's seed; k: the k-th retraining after
    /// a collapse, `seed` is then that attempt's seed).
    public var trainingAttempt: Int?
    /// The model's training collapsed (clean accuracy below the plan's `minCleanAccuracy` after every retry):
    /// set when the table is collected, and such rows are left out of the summary.
    public var collapsed: Bool?

    public init(model m: ZooModel, detector: String, cleanAccuracy: Double, attackSuccess: Double?, report: DetectionReport,
                trainingAttempt: Int = 0) {
        model = m.name; self.detector = detector; trojaned = m.trojaned; trigger = m.trigger; target = m.target
        pattern = m.pattern; size = m.size; position = m.position; triggerCount = m.triggerCount
        seed = m.seed(attempt: trainingAttempt)
        self.trainingAttempt = trainingAttempt == 0 ? nil : trainingAttempt
        self.cleanAccuracy = cleanAccuracy; self.attackSuccess = attackSuccess
        flagged = report.flagged; anomalyIndex = report.anomalyIndex.isFinite ? report.anomalyIndex : 1e9
        if let v = report.settings["verification"] {
            score = Self.verifiedScore(report, settings: v)
        } else {
            score = anomalyIndex
        }
        correct = m.trojaned ? report.flagged == [m.target!] : report.flagged.isEmpty
        seconds = report.seconds
    }

    static func verifiedScore(_ report: DetectionReport, settings: String) -> Double {
        let flips = report.perClass.map(\.combined).max() ?? 0
        guard let tv = TriggerVerification.fromSettings(settings) else { return flips }
        let scores = report.perClass.compactMap { c -> Double? in
            guard let f = c.features["flipRate"], let m = c.features["marginRatio"], let s = c.features["specificity"],
                  let w = c.features["windowSize"] else { return nil }
            return tv.evidence(anomalyIndex: c.anomalyIndex, flipRate: f, marginRatio: m, specificity: s, windowSize: Int(w))
        }
        return scores.count == report.perClass.count ? (scores.max() ?? flips) : flips
    }

    public static let csvHeader = "model,detector,trojaned,trigger,target,pattern,size,position,triggers,seed,clean_accuracy,attack_success,flagged,anomaly_index,score,correct,training_attempt,collapsed,seconds"

    public var csvLine: String {
        func q(_ s: String?) -> String { guard let s else { return "" }; return s.contains(",") || s.contains("\"") ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s }
        return [model, detector, String(trojaned), q(trigger), target.map(String.init) ?? "", q(pattern), size.map(String.init) ?? "",
                q(position), String(triggerCount), String(seed), String(format: "%.4f", cleanAccuracy),
                attackSuccess.map { String(format: "%.4f", $0) } ?? "", q(flagged.map(String.init).joined(separator: " ")),
                String(format: "%.4f", anomalyIndex), String(format: "%.4f", score), String(correct),
                String(trainingAttempt ?? 0), String(collapsed ?? false), String(format: "%.3f", seconds)]
            .joined(separator: ",")
    }

    /// The file a result is kept in inside a zoo folder.
    public static func url(in dir: URL, model: String, detector: String) -> URL {
        dir.appendingPathComponent("results").appendingPathComponent("\(model).\(detector.replacingOccurrences(of: ":", with: "-")).json")
    }

    /// The detector's whole report kept beside the row: `results/<model>.<detector>.report.json`.
    public static func reportURL(in dir: URL, model: String, detector: String) -> URL {
        url(in: dir, model: model, detector: detector).deletingPathExtension().appendingPathExtension("report.json")
    }
}

/// Per detector over a zoo: detection rate, false-positive rate and ROC AUC (issue 6's goals).
public struct ZooSummary: Codable, Sendable, Equatable {
    public var detector: String
    public var trojaned: Int
    public var detected: Int
    public var benign: Int
    public var falseAlarms: Int
    /// Area under the ROC curve of `score`, trojaned against benign (Mann-Whitney, ties count half); nil
    /// without both kinds.
    public var rocAUC: Double?
    public var meanSeconds: Double
    /// Models left out of the counts above because their training collapsed (`ZooResult.collapsed`).
    public var collapsed: Int?

    public static func of(_ rows: [ZooResult]) -> [ZooSummary] {
        var order: [String] = []
        for r in rows where !order.contains(r.detector) { order.append(r.detector) }
        return order.map { d in
            let all = rows.filter { $0.detector == d }
            let rs = all.filter { $0.collapsed != true }
            let left = all.count - rs.count
            let pos = rs.filter(\.trojaned).map(\.score), neg = rs.filter { !$0.trojaned }.map(\.score)
            var auc: Double?
            if !pos.isEmpty && !neg.isEmpty {
                var s = 0.0
                for p in pos { for n in neg { s += p > n ? 1 : (p == n ? 0.5 : 0) } }
                auc = s / Double(pos.count * neg.count)
            }
            return ZooSummary(detector: d, trojaned: pos.count, detected: rs.filter { $0.trojaned && $0.correct }.count,
                              benign: neg.count, falseAlarms: rs.filter { !$0.trojaned && !$0.correct }.count, rocAUC: auc,
                              meanSeconds: rs.isEmpty ? 0 : rs.map(\.seconds).reduce(0, +) / Double(rs.count),
                              collapsed: left == 0 ? nil : left)
        }
    }
}

/// The results table of a zoo: every `results/*.json` of one or more zoo folders, in plan order.
public struct ZooTable: Codable, Sendable, Equatable {
    public var plan: String
    public var rows: [ZooResult]
    public var summary: [ZooSummary]

    /// Collects the results of `plan` from `folders` (a zoo's own folder, or the folders of its shards).
    /// Missing results are listed in `missing` rather than failing, so a partial zoo can be inspected.
    public static func collect(plan: ZooPlan, from folders: [URL]) throws -> (table: ZooTable, missing: [String]) {
        var rows: [ZooResult] = [], missing: [String] = []
        for m in plan.models() {
            for d in plan.detectors {
                var found: ZooResult?
                for f in folders {
                    let url = ZooResult.url(in: f, model: m.name, detector: d)
                    guard let data = FileManager.default.contents(atPath: url.path) else { continue }
                    do { found = try JSONDecoder().decode(ZooResult.self, from: data) } catch {
                        throw ZooError.badResults(url.path, "unreadable result: \(error)")
                    }
                    break
                }
                if var r = found {
                    r.collapsed = plan.training.collapsed(cleanAccuracy: r.cleanAccuracy) ? true : nil
                    rows.append(r)
                } else { missing.append("\(m.name) / \(d)") }
            }
        }
        return (ZooTable(plan: plan.name, rows: rows, summary: ZooSummary.of(rows)), missing)
    }

    public var csv: String { ([ZooResult.csvHeader] + rows.map(\.csvLine)).joined(separator: "\n") + "\n" }

    public func json() throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return try e.encode(self)
    }

    /// A plain-text summary, one line per detector.
    public var summaryText: String {
        summary.map { s in
            "\(s.detector): target flagged alone on \(s.detected)/\(s.trojaned) trojaned models; nothing flagged on \(s.benign - s.falseAlarms)/\(s.benign) benign; ROC AUC \(s.rocAUC.map { String(format: "%.3f", $0) } ?? "-"); \(String(format: "%.2f", s.meanSeconds)) s per model\(s.collapsed.map { "; \($0) model(s) whose training collapsed left out" } ?? "")"
        }.joined(separator: "\n")
    }
}
