import Foundation
import NIDetectors

/// The terminal summary of a detection: a table per class (features, combined score, anomaly index), the
/// flagged labels and the verdict.
public enum TerminalReport {
    public static func render(_ r: DetectionReport) -> String {
        let featureNames = Array(Set(r.perClass.flatMap { $0.features.keys })).sorted()
        func fmt(_ v: Double) -> String {
            if !v.isFinite { return v > 0 ? "inf" : "-inf" }
            return abs(v) >= 1000 || (abs(v) < 0.001 && v != 0) ? String(format: "%.3e", v) : String(format: "%.4f", v)
        }
        let header = ["label"] + featureNames + ["combined", "anomaly", ""]
        var rows: [[String]] = [header]
        for e in r.perClass {
            rows.append([String(e.label)] + featureNames.map { fmt(e.features[$0] ?? .nan) }
                        + [fmt(e.combined), String(format: "%.2f", e.anomalyIndex), e.flagged ? "<- FLAGGED" : ""])
        }
        let widths = (0..<header.count).map { c in rows.map { $0[c].count }.max() ?? 0 }
        var out = "\(r.detector) (\(r.preset)) on \(r.model): \(r.classes) classes, \(r.images) clean images, \(String(format: "%.2f", r.seconds)) s\n"
        for (i, row) in rows.enumerated() {
            out += row.enumerated().map { c, s in c == 0 ? s.padding(toLength: widths[c], withPad: " ", startingAt: 0)
                : String(repeating: " ", count: widths[c] - s.count) + s }.joined(separator: "  ") + "\n"
            if i == 0 { out += String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1)) + "\n" }
        }
        for n in r.notes { out += "note: \(n)\n" }
        out += "flagged: \(r.flagged.isEmpty ? "none" : r.flagged.map(String.init).joined(separator: ", "))\n"
        for l in r.flagged {
            guard let t = r.triggers?.first(where: { $0.label == l }), t.size > 0 || t.opacity != nil else { continue }
            let flips = r.perClass.first { $0.label == l }?.features["flipRate"]
            out += "label \(l): candidate trigger \(t.summary)\(flips.map { String(format: ", flips %.0f%% of the clean images", $0 * 100) } ?? "")\n"
        }
        out += "verdict: \(r.verdict)\n"
        return out
    }
}
