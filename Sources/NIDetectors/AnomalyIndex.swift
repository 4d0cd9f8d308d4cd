/// Errors of the detectors' feature extraction (paper, "Features Extraction") and MAD outlier test ("Outlier
/// detection"): bad input or bad options. Each names what was wrong, and which label or image, so a caller can
/// report it as is.
public enum DetectorError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The outlier test got no values.
    case emptyInput
    /// The outlier test needs at least `minimum` labels (a median and a MAD of fewer values mean nothing).
    case tooFewLabels(count: Int, minimum: Int)
    /// A value is NaN or infinite.
    case nonFiniteValue(label: Int, value: Double)
    /// `labels` and `values` differ in length.
    case labelCountMismatch(values: Int, labels: Int)
    /// A heatmap set whose shape cannot be used (zero classes, zero-sized maps).
    case invalidHeatmapShape([Int])
    /// Persistence compares maps across images: it needs at least `minimum` images per class.
    case tooFewImages(count: Int, minimum: Int)
    /// A heatmap holds NaN or an infinity.
    case nonFiniteHeatmap(label: Int, image: Int)
    /// The maps are smaller than the SSIM window.
    case mapTooSmallForSSIM(height: Int, width: Int, window: Int)
    /// An option out of range (message says which).
    case invalidOption(String)

    public var description: String {
        switch self {
        case .emptyInput:
            return "outlier test: no values"
        case .tooFewLabels(let n, let minimum):
            return "outlier test: \(n) label\(n == 1 ? "" : "s"), at least \(minimum) needed for a median and a MAD"
        case .nonFiniteValue(let label, let value):
            return "outlier test: the value of label \(label) is \(value)"
        case .labelCountMismatch(let v, let l):
            return "outlier test: \(v) values but \(l) labels"
        case .invalidHeatmapShape(let shape):
            return "heatmaps of shape \(shape): need [classes >= 1, images >= 1, H >= 1, W >= 1]"
        case .tooFewImages(let n, let minimum):
            return "persistence needs at least \(minimum) images per class, got \(n)"
        case .nonFiniteHeatmap(let label, let image):
            return "the heatmap of label \(label), image \(image) holds NaN or infinity"
        case .mapTooSmallForSSIM(let h, let w, let window):
            return "SSIM persistence: \(h)x\(w) maps are smaller than the \(window)x\(window) window"
        case .invalidOption(let message):
            return "invalid option: \(message)"
        }
    }
}

/// Which side of the median an outlier may lie on (paper, "Outlier detection": "we only take the left tail
/// of the distribution into consideration").
public enum OutlierTail: String, Codable, Sendable, CaseIterable {
    /// Values below the median (the paper: the attack target has the *smallest* combined feature).
    case left
    /// Values above the median.
    case right
    /// Either side.
    case both

    /// Whether a value with deviation `x - median` lies on this tail (values equal to the median lie on none).
    @inlinable public func contains(deviation d: Double) -> Bool {
        switch self {
        case .left: return d < 0
        case .right: return d > 0
        case .both: return d != 0
        }
    }
}

/// The MAD outlier test of the paper's section "Outlier detection" (after Leys et al. 2013, as in Neural
/// Cleanse's `mad_outlier_detection.py`):
///
/// * `median = median_i x_i`;
/// * `MAD = consistency · median_i |x_i - median|`, `consistency = 1.4826` (makes MAD estimate the standard
///   deviation of normal data);
/// * anomaly index of label `i` = `|x_i - median| / MAD`;
/// * flagged = the labels on `tail` (default `.left`, values below the median) whose index exceeds `threshold`
///   (default 2).
///
/// **False alarms**: the threshold applies to each label separately, with no correction for the number of labels.
/// On i.i.d. normal values a label lies below `median - 2σ` with probability ≈ 2.3%, so the chance that *some*
/// label is flagged grows with the label count. Measured on heatmaps of pure i.i.d. noise (default options,
/// Table 6 weights, 200 seeds each): 17-23% of 3-class sets, 30-36% of 10-class sets and 63-65% of 43-class
/// sets flagged a label. With 3 labels the index of the lowest value `a < b < c` is
/// `(b - a) / (1.4826 · min(b - a, c - b))`: a gap ratio, whatever the features.
///
/// **Median convention**: the median of an even count is the mean of the two middle values (numpy / R / Neural
/// Cleanse via numpy), not the lower middle value (some libraries). It matters for MNIST's 10 labels.
///
/// **MAD == 0** (more than half the values equal, up to rounding): the test is *degenerate*. When
/// `MAD <= relativeEpsilon · max_i |x_i|` (the floor is relative to the magnitude of the data rather than the
/// median alone, because z-scored features have a median near 0), indices are `0` for values within that floor
/// of the median and `+infinity` for the others, and `OutlierResult.degenerate` is set. No index is ever NaN;
/// those with index `+infinity` on the chosen tail are flagged. (Encode such a result to JSON with a
/// non-conforming-float strategy.)
public struct MADOutlierTest: Codable, Equatable, Sendable {
    /// The normal-consistency constant of the MAD (1.4826).
    public var consistency: Double
    /// A label is flagged when its anomaly index is strictly greater than this (the paper: 2).
    public var threshold: Double
    /// The side of the median that may hold outliers (the paper: `.left`).
    public var tail: OutlierTail
    /// The degenerate-MAD floor, relative to `max_i |x_i|` (default `1e-9`).
    public var relativeEpsilon: Double
    /// An absolute lower bound on the MAD (default 0: none), for scores with a natural unit, such as flip
    /// rates, where "all but one are zero" should give finite indices.
    public var minimumMAD: Double

    public init(consistency: Double = 1.4826, threshold: Double = 2, tail: OutlierTail = .left,
                relativeEpsilon: Double = 1e-9, minimumMAD: Double = 0) {
        self.minimumMAD = minimumMAD
        self.consistency = consistency
        self.threshold = threshold
        self.tail = tail
        self.relativeEpsilon = relativeEpsilon
    }

    /// The fewest labels the test accepts.
    public static let minimumLabels = 3

    /// Checks the constants: consistency > 0, threshold and epsilon finite and >= 0.
    public func validate() throws(DetectorError) {
        guard consistency.isFinite, consistency > 0 else { throw .invalidOption("MAD consistency \(consistency) must be > 0") }
        guard threshold.isFinite, threshold >= 0 else { throw .invalidOption("MAD threshold \(threshold) must be >= 0") }
        guard relativeEpsilon.isFinite, relativeEpsilon >= 0 else {
            throw .invalidOption("MAD relative epsilon \(relativeEpsilon) must be >= 0")
        }
    }

    /// The median, with an even count's median the mean of the two middle values. `values` must not be empty
    /// or hold NaN.
    public static func median(_ values: [Double]) -> Double {
        precondition(!values.isEmpty, "median of no values")
        let s = values.sorted()
        let n = s.count
        return n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
    }

    /// Runs the test on `values[i]`, the value of label `labels[i]` (default: label `i`).
    public func run(values: [Double], labels: [Int]? = nil) throws(DetectorError) -> OutlierResult {
        try validate()
        let labels = labels ?? Array(values.indices)
        guard labels.count == values.count else { throw .labelCountMismatch(values: values.count, labels: labels.count) }
        guard !values.isEmpty else { throw .emptyInput }
        guard values.count >= Self.minimumLabels else { throw .tooFewLabels(count: values.count, minimum: Self.minimumLabels) }
        for (i, v) in values.enumerated() where !v.isFinite { throw .nonFiniteValue(label: labels[i], value: v) }

        let med = Self.median(values)
        let deviations = values.map { $0 - med }
        let mad = Swift.max(consistency * Self.median(deviations.map { abs($0) }), minimumMAD)
        let scale = values.reduce(0) { Swift.max($0, abs($1)) }
        let floor = relativeEpsilon * scale
        let degenerate = mad <= floor
        let indices: [Double] = deviations.map { d in
            if !degenerate { return abs(d) / mad }
            return abs(d) <= floor ? 0 : .infinity
        }
        var flagged: [Int] = [], maxIndex = 0.0, worst: Int? = nil
        for i in values.indices where tail.contains(deviation: deviations[i]) {
            if worst == nil || indices[i] > maxIndex { maxIndex = indices[i]; worst = labels[i] }
            if indices[i] > threshold { flagged.append(labels[i]) }
        }
        return OutlierResult(labels: labels, values: values, median: med, mad: mad, indices: indices,
                             flagged: flagged, maxIndex: maxIndex, mostAnomalous: worst, tail: tail,
                             threshold: threshold, degenerate: degenerate)
    }

    /// Runs the test on the combined feature of each class (`ClassFeatures.combined`, labels from `label`).
    public func run(_ features: [ClassFeatures]) throws(DetectorError) -> OutlierResult {
        try run(values: features.map(\.combined), labels: features.map(\.label))
    }
}

/// The paper's "anomaly index" test under its other name: the same type as `MADOutlierTest`.
public typealias AnomalyIndex = MADOutlierTest

/// The outcome of `MADOutlierTest.run` (paper, "Outlier detection"; the anomaly indices of Tables 2, 3, 5).
public struct OutlierResult: Codable, Equatable, Sendable {
    /// The labels, in input order.
    public var labels: [Int]
    /// The tested values, in input order.
    public var values: [Double]
    /// Median of the values (even count: mean of the two middle values).
    public var median: Double
    /// `consistency · median |x - median|` as computed (0 when degenerate; see `degenerate`).
    public var mad: Double
    /// Anomaly index `|x - median| / MAD` of each label, in input order (never NaN; `+inf` only when degenerate).
    public var indices: [Double]
    /// Labels on the chosen tail whose index exceeds the threshold, in input order.
    public var flagged: [Int]
    /// The largest index among labels on the chosen tail (0 when no label lies on it): the number the paper
    /// reports as "Anomaly Index".
    public var maxIndex: Double
    /// The label with `maxIndex` (first on ties), `nil` when no label lies on the chosen tail.
    public var mostAnomalous: Int?
    /// The tail and threshold used.
    public var tail: OutlierTail
    public var threshold: Double
    /// `true` when MAD was at or below the floor (see `MADOutlierTest`): indices are then 0 or `+inf`.
    public var degenerate: Bool

    /// The anomaly index of `label`, `nil` when absent.
    public func index(of label: Int) -> Double? {
        labels.firstIndex(of: label).map { indices[$0] }
    }
}
