import Foundation

/// The value every detector returns (NeuronInspect, Neural Cleanse, ...): per-class scores, the MAD outlier
/// test's anomaly indices, the flagged target labels and a verdict. `scan` and `cleanse` print it, write it
/// as JSON (`--json`) and as an HTML page (`--html`).
public struct DetectionReport: Codable, Sendable {
    /// One output class.
    public struct ClassEntry: Codable, Sendable {
        public var label: Int
        /// Named scores of the class (e.g. `sparseness`, `smoothness`, `persistence`; `maskNorm`).
        public var features: [String: Double]
        /// The score the outlier test ran on (NeuronInspect's combined feature; Neural Cleanse's mask norm).
        public var combined: Double
        public var anomalyIndex: Double
        public var flagged: Bool

        public init(label: Int, features: [String: Double], combined: Double, anomalyIndex: Double, flagged: Bool) {
            self.label = label; self.features = features; self.combined = combined
            self.anomalyIndex = anomalyIndex; self.flagged = flagged
        }

        struct Key: CodingKey {
            var stringValue: String
            init(_ s: String) { stringValue = s }
            init?(stringValue: String) { self.stringValue = stringValue }
            var intValue: Int? { nil }
            init?(intValue: Int) { nil }
        }
        static let fixed: Set<String> = ["label", "combined", "anomalyIndex", "flagged"]

        /// Features are written as top-level keys beside `label`, `combined`, `anomalyIndex`, `flagged`.
        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            try c.encode(label, forKey: Key("label"))
            for (k, v) in features.sorted(by: { $0.key < $1.key }) { try c.encode(v.isFinite ? v : 0, forKey: Key(k)) }
            try c.encode(combined.isFinite ? combined : 0, forKey: Key("combined"))
            try c.encode(anomalyIndex.isFinite ? anomalyIndex : 1e9, forKey: Key("anomalyIndex"))
            try c.encode(flagged, forKey: Key("flagged"))
        }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            label = try c.decode(Int.self, forKey: Key("label"))
            combined = try c.decode(Double.self, forKey: Key("combined"))
            anomalyIndex = try c.decode(Double.self, forKey: Key("anomalyIndex"))
            flagged = try c.decode(Bool.self, forKey: Key("flagged"))
            var f: [String: Double] = [:]
            for k in c.allKeys where !Self.fixed.contains(k.stringValue) { f[k.stringValue] = try c.decode(Double.self, forKey: k) }
            features = f
        }
    }

    /// A candidate trigger: the square patch a detector found for a label, at `(x, y)` (pixels, top left),
    /// `size` x `size`, one value per channel and pixel (`[C, size, size]`), in raw pixel units [0, 1]; or,
    /// with an `opacity` (and `size` 0), a full-image pattern `[C, H, W]` blended as `(1 − opacity)·x +
    /// opacity·pattern`. The `default` preset reports one per class (its best patch, the one the flip rate and
    /// margin measure).
    public struct CandidateTrigger: Codable, Sendable, Equatable {
        public var label: Int
        public var x: Int, y: Int, size: Int, channels: Int
        public var values: [Float]
        public var opacity: Double?
        public init(label: Int, x: Int, y: Int, size: Int, channels: Int, values: [Float], opacity: Double? = nil) {
            self.label = label; self.x = x; self.y = y; self.size = size; self.channels = channels; self.values = values
            self.opacity = opacity
        }

        /// "5x5 at x=3, y=20" or "a full-image pattern blended at 20%".
        public var summary: String {
            if let a = opacity { return String(format: "a full-image pattern blended at %.0f%%", a * 100) }
            return "\(size)x\(size) at x=\(x), y=\(y)"
        }
    }

    public var model: String
    /// `neuroninspect` or `neural-cleanse`.
    public var detector: String
    /// The settings preset (`default`, `paper`, ...).
    public var preset: String
    public var classes: Int
    public var images: Int
    /// Labels the outlier test flags as attack targets.
    public var flagged: [Int]
    /// The largest anomaly index on the tested tail.
    public var anomalyIndex: Double
    /// The outlier test's threshold (2 in the paper).
    public var threshold: Double
    public var perClass: [ClassEntry]
    /// Wall-clock seconds of the detection (heatmaps, features and the test; not model loading).
    public var seconds: Double
    /// Remarks a reader should see (e.g. "trailing Softmax bypassed: heatmaps read logits").
    public var notes: [String]
    /// Every option in force, as text, so a run can be reproduced.
    public var settings: [String: String]
    /// The candidate trigger of each label, when the detector localises one (absent otherwise).
    public var triggers: [CandidateTrigger]?

    public init(model: String, detector: String, preset: String, classes: Int, images: Int, flagged: [Int],
                anomalyIndex: Double, threshold: Double, perClass: [ClassEntry], seconds: Double, notes: [String] = [],
                settings: [String: String] = [:]) {
        self.model = model; self.detector = detector; self.preset = preset; self.classes = classes; self.images = images
        self.flagged = flagged; self.anomalyIndex = anomalyIndex; self.threshold = threshold; self.perClass = perClass
        self.seconds = seconds; self.notes = notes; self.settings = settings
    }

    /// One line a person can act on.
    public var verdict: String {
        flagged.isEmpty
            ? (anomalyIndex <= threshold
                ? "no backdoor target found (largest anomaly index \(String(format: "%.2f", anomalyIndex)) <= \(threshold))"
                : "no backdoor target found (largest anomaly index \(String(format: "%.2f", anomalyIndex)) > \(threshold), but that label failed the detector's second test: see the notes)")
            : "TROJANED: label\(flagged.count > 1 ? "s" : "") \(flagged.map(String.init).joined(separator: ", ")) flagged as attack target\(flagged.count > 1 ? "s" : "") (anomaly index \(String(format: "%.2f", anomalyIndex)) > \(threshold))"
    }
}
