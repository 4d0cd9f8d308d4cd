import Foundation
import NINetwork
import NIDetectors

/// Writes a `DetectionReport` as JSON (atomically), with the verdict beside the report's own fields.
public enum JSONReport {
    public static func data(_ r: DetectionReport) throws -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        var obj = try JSONSerialization.jsonObject(with: try e.encode(r)) as! [String: Any]
        obj["verdict"] = r.verdict
        return try JSONSerialization.data(withJSONObject: obj, options: [.prettyPrinted, .sortedKeys])
    }

    public static func write(_ r: DetectionReport, to url: URL) throws {
        try AtomicFile.write(try data(r), to: url)
    }
}
