import Foundation

/// The zoo's HTML summary (self-contained, inline SVG): per detector the detection rate, false-positive rate
/// and ROC AUC; a plot of each detector's model score against trigger size (the paper's Figure 3 axis), benign
/// models at size 0; and the full results table.
public enum ZooPage {
    static func esc(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
    }

    public static func render(_ t: ZooTable) -> String {
        var h = "<!doctype html><html><head><meta charset=\"utf-8\"><title>zoo \(esc(t.plan))</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:2px 6px}.bad{background:#fdd}.collapsed{color:#999}</style></head><body>"
        h += "<h1>Zoo: \(esc(t.plan))</h1><h2>Summary</h2><table><tr><th>detector</th><th>target alone</th><th>benign clean</th><th>ROC AUC</th><th>s / model</th></tr>"
        for s in t.summary {
            h += "<tr><td>\(esc(s.detector))</td><td>\(s.detected)/\(s.trojaned)</td><td>\(s.benign - s.falseAlarms)/\(s.benign)</td><td>\(s.rocAUC.map { String(format: "%.3f", $0) } ?? "-")</td><td>\(String(format: "%.2f", s.meanSeconds))</td></tr>"
        }
        h += "</table>"
        if let n = t.summary.compactMap(\.collapsed).max() {
            h += "<p>\(n) model(s) whose training collapsed (clean accuracy below the plan's minCleanAccuracy after every retry) are left out of these counts and the plots; their rows are greyed below.</p>"
        }
        for s in t.summary { h += plot(t.rows.filter { $0.detector == s.detector && $0.collapsed != true }, title: s.detector) }
        h += "<h2>All results</h2><table><tr>" + ZooResult.csvHeader.split(separator: ",").map { "<th>\($0)</th>" }.joined() + "</tr>"
        for r in t.rows {
            h += "<tr class=\"\(r.collapsed == true ? "collapsed" : r.correct ? "" : "bad")\">" + r.csvLine.split(separator: ",", omittingEmptySubsequences: false).map { "<td>\(esc(String($0)))</td>" }.joined() + "</tr>"
        }
        return h + "</table></body></html>\n"
    }

    /// Score against trigger size: green = correct verdict, red = wrong; benign models at x = 0.
    static func plot(_ rows: [ZooResult], title: String) -> String {
        let w = 420.0, hgt = 220.0, left = 40.0, bottom = 24.0
        let maxSize = Double(rows.compactMap(\.size).max() ?? 1)
        let maxScore = max(rows.map(\.score).filter(\.isFinite).max() ?? 1, 1e-9)
        var s = "<figure><figcaption>\(esc(title)): model score against trigger size (0 = benign; named triggers at the right)</figcaption><svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(w + left + 10))\" height=\"\(Int(hgt + bottom + 10))\" font-size=\"10\">"
        s += "<line x1=\"\(left)\" y1=\"\(hgt)\" x2=\"\(left + w)\" y2=\"\(hgt)\" stroke=\"black\"/><line x1=\"\(left)\" y1=\"0\" x2=\"\(left)\" y2=\"\(hgt)\" stroke=\"black\"/>"
        s += "<text x=\"2\" y=\"10\">\(String(format: "%.2g", maxScore))</text><text x=\"2\" y=\"\(hgt)\">0</text>"
        for k in 0...Int(maxSize) + 1 {
            let x = left + Double(k) / (maxSize + 1) * w
            s += "<text x=\"\(x - 3)\" y=\"\(hgt + 14)\">\(k <= Int(maxSize) ? String(k) : "*")</text>"
        }
        for r in rows {
            let xs = r.trojaned ? Double(r.size ?? Int(maxSize) + 1) : 0
            let jitter = Double(stableHash(r.model) % 9) - 4
            let x = left + xs / (maxSize + 1) * w + jitter, y = hgt - min(r.score, maxScore) / maxScore * (hgt - 6)
            s += "<circle cx=\"\(String(format: "%.1f", x))\" cy=\"\(String(format: "%.1f", y))\" r=\"3\" fill=\"\(r.correct ? "#2a2" : "#d22")\"><title>\(esc(r.model)): \(String(format: "%.3f", r.score))</title></circle>"
        }
        return s + "</svg></figure>"
    }
}
