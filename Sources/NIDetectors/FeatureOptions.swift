/// Every choice the paper leaves open in its feature extraction (section "Features Extraction"), feature
/// combination (section "Combined Feature", Table 6) and outlier test (section "Outlier detection"), each with
/// a documented default. `FeatureOptions()` is the default; `paperMNIST` / `paperGTSRB` are the defaults with
/// the weights of the paper's Table 6.
///
/// Pipeline, per class `c` with maps `M_1 ... M_k` (`HeatmapSet.maps[c, i]`):
///
/// 1. each map is normalised by `mapNormalization` (default `.max`);
/// 2. `f_sparse = mean_i ||M_i||_1` (paper: `f_sparse = ||M||_1`);
/// 3. `f_smooth = mean_i ||M_i ⊛ f_s||_1` with the 3x3 Laplacian `f_s` (paper: `||∇²M||_1 = ||M ⊛ f_s||_1`);
/// 4. `f_persistent` by `persistence` (default `.xor`, the paper's `||T(M_1) ⊕ ... ⊕ T(M_k)||_1`, with the
///    threshold `T` chosen by `threshold`, default the per-map 0.9-quantile), divided by `H·W`;
/// 5. each feature is normalised across classes by `featureNormalization` (default `.zScore`);
/// 6. `f_combine = λ_sp·f_sparse + λ_sm·f_smooth + λ_pe·f_persistent` with `weights` (paper, "Combined Feature");
/// 7. the MAD outlier test `mad` on `f_combine` (paper, "Outlier detection": left tail, threshold 2).
public struct FeatureOptions: Codable, Equatable, Sendable {
    /// How each heatmap `M` is scaled before any feature is computed (section "Features Extraction": the
    /// paper computes `||M||_1`, `||M ⊛ f_s||_1` and `T(M)` but does not say on what scale `M` is).
    public enum MapNormalization: String, Codable, Sendable, CaseIterable {
        /// The raw map.
        case none
        /// `M / Σ|M|`: the map's L1 norm becomes 1 (a non-negative map sums to 1). Sparseness is then the constant
        /// 1 for every non-zero map, so it carries no information under this choice.
        case l1
        /// `M / max|M|` (default): the largest magnitude becomes 1; a non-negative map lands in `[0, 1]`. Removes
        /// the per-class gradient scale (logits of different classes have different gains) but keeps the shape.
        case max
        /// `(M - min M) / (max M - min M)`: the map lands in `[0, 1]`.
        case minMax
    }

    /// The thresholding function `T` of the persistence feature (paper, "Persistence": "a thresholding function
    /// mapping a continuous matrix into a binary one with a given threshold"; the threshold is not given).
    /// It is applied to each *normalised* map separately and keeps the pixels strictly above the threshold
    /// (`T(M)(x, y) = M(x, y) > t`).
    public enum Threshold: Codable, Equatable, Sendable {
        /// `t` = the `q`-quantile of the map's pixels (default `q = 0.9`: keep the top 10%). Quantile convention:
        /// linear interpolation between order statistics (`numpy.quantile` default, R type 7):
        /// `pos = q·(n-1)`, `t = v[⌊pos⌋] + (pos - ⌊pos⌋)·(v[⌊pos⌋+1] - v[⌊pos⌋])` with `v` sorted ascending.
        /// Ties at the quantile are not kept (strict `>`), so a map that is 95% zeros keeps only its non-zeros.
        case quantile(Double)
        /// `t = f · max(M)`.
        case fractionOfMax(Double)
        /// `t = v`, on the normalised scale.
        case absolute(Double)
        /// `t = mean(M)`.
        case mean
    }

    /// How persistence across the `k` maps of a class is measured (section "Features Extraction", equation
    /// `f_persistent`; Table 5's ablation "Persistence → MSE / SSIM").
    /// Smaller is more persistent for every method.
    public enum PersistenceMethod: String, Codable, Sendable, CaseIterable {
        /// The paper's: `||T(M_1) ⊕ T(M_2) ⊕ ... ⊕ T(M_k)||_1 / (H·W)`, the fraction of pixels set in the XOR
        /// chain of the thresholded maps. Note the XOR chain is a *parity*: a pixel is set when an odd number of
        /// maps exceed the threshold there, so perfectly identical maps give 0 for even `k` but the fraction of
        /// thresholded pixels (about `1 - q`) for odd `k`; independent noise gives about 0.5.
        case xor
        /// The mean over all pairs `i < j` of `mean_pixels (M_i - M_j)²` of the normalised maps.
        case mse
        /// `1 - mean SSIM` over consecutive pairs `(M_1, M_2), (M_2, M_3), ...`, with each map first rescaled to
        /// `[0, 1]` by min-max (whatever `mapNormalization` is), `C1 = 0.01²`, `C2 = 0.03²`, the window of
        /// `ssimWindow`, and SSIM averaged over the positions where the window fits inside the map (exactly
        /// scikit-image's `structural_similarity(data_range=1)` mean). Order-dependent, unlike the other two.
        case ssim
    }

    /// The SSIM window of the `.ssim` persistence (Table 5's "Persistence → SSIM" ablation; the paper names no
    /// window: Wang et al. 2004 / scikit-image). Maps smaller than the window are rejected.
    public enum SSIMWindow: String, Codable, Sendable, CaseIterable {
        /// 7x7 uniform window with the sample-covariance correction `49/48` (scikit-image's default; default here).
        case uniform7
        /// 11x11 Gaussian window, σ = 1.5, population covariance (Wang et al.'s original;
        /// scikit-image `gaussian_weights=True, sigma=1.5, use_sample_covariance=False`).
        case gaussian11

        /// Side of the window in pixels.
        public var size: Int { self == .uniform7 ? 7 : 11 }
    }

    /// How each feature is rescaled across classes before the weighted sum of section "Combined Feature" (the
    /// paper does not say).
    public enum FeatureNormalization: String, Codable, Sendable, CaseIterable {
        /// Raw features. Their units differ: sparseness is a sum of pixel values (up to `H·W`), smoothness a sum of
        /// Laplacian magnitudes (up to `8·H·W` on a `[0, 1]` map), persistence a fraction in `[0, 1]`; the
        /// largest-valued feature then dominates the sum whatever the weights.
        case none
        /// Default. `(f - mean_c f) / std_c f` over classes (population standard deviation; a feature that is
        /// equal in every class becomes 0). The three features have different units and ranges, so Table 6's
        /// weights (e.g. 1/1/10 on GTSRB, "10x more persistence") only mean what they say on comparable,
        /// unit-free scales; the z-score gives each feature mean 0 and spread 1 across classes, and a class that
        /// is low on every feature is low in the sum.
        case zScore
        /// `f / median_c f` (a unit-free ratio, robust to the outlier itself; a feature whose median is 0 is left
        /// unchanged).
        case divideByMedian
    }

    /// The weighting coefficients `λ_sp, λ_sm, λ_pe` of the combined feature (paper, "Combined Feature", Table 6).
    public struct Weights: Codable, Equatable, Sendable {
        public var sparseness: Double
        public var smoothness: Double
        public var persistence: Double

        public init(sparseness: Double, smoothness: Double, persistence: Double) {
            self.sparseness = sparseness
            self.smoothness = smoothness
            self.persistence = persistence
        }

        /// Table 6, MNIST: `λ_sp = 0.1, λ_sm = 1, λ_pe = 1`.
        public static let mnist = Weights(sparseness: 0.1, smoothness: 1, persistence: 1)
        /// Table 6, GTSRB: `λ_sp = 1, λ_sm = 1, λ_pe = 10`.
        public static let gtsrb = Weights(sparseness: 1, smoothness: 1, persistence: 10)
        /// `1, 1, 1`: the default, because the paper gives weights only per dataset (Table 6).
        public static let equal = Weights(sparseness: 1, smoothness: 1, persistence: 1)
        /// One feature alone (Table 5's "Sparseness only" etc.).
        public static let sparsenessOnly = Weights(sparseness: 1, smoothness: 0, persistence: 0)
        public static let smoothnessOnly = Weights(sparseness: 0, smoothness: 1, persistence: 0)
        public static let persistenceOnly = Weights(sparseness: 0, smoothness: 0, persistence: 1)
    }

    /// Map normalisation before features. Default `.max`.
    public var mapNormalization: MapNormalization
    /// Persistence threshold `T`. Default `.quantile(0.9)`.
    public var threshold: Threshold
    /// Persistence method. Default `.xor` (the paper).
    public var persistence: PersistenceMethod
    /// SSIM window, used only by `persistence == .ssim`. Default `.uniform7`.
    public var ssimWindow: SSIMWindow
    /// Feature normalisation across classes before combining. Default `.zScore`.
    public var featureNormalization: FeatureNormalization
    /// `λ_sp, λ_sm, λ_pe`. Default `.equal` (1, 1, 1); use `paperMNIST` / `paperGTSRB` for Table 6.
    public var weights: Weights
    /// The outlier test (consistency 1.4826, threshold 2, left tail: the paper's "Outlier detection").
    public var mad: MADOutlierTest

    public init(mapNormalization: MapNormalization = .max,
                threshold: Threshold = .quantile(0.9),
                persistence: PersistenceMethod = .xor,
                ssimWindow: SSIMWindow = .uniform7,
                featureNormalization: FeatureNormalization = .zScore,
                weights: Weights = .equal,
                mad: MADOutlierTest = MADOutlierTest()) {
        self.mapNormalization = mapNormalization
        self.threshold = threshold
        self.persistence = persistence
        self.ssimWindow = ssimWindow
        self.featureNormalization = featureNormalization
        self.weights = weights
        self.mad = mad
    }

    /// The defaults with Table 6's MNIST weights (0.1, 1, 1).
    public static let paperMNIST = FeatureOptions(weights: .mnist)
    /// The defaults with Table 6's GTSRB weights (1, 1, 10).
    public static let paperGTSRB = FeatureOptions(weights: .gtsrb)

    /// Checks every number: quantile in `[0, 1]`, finite thresholds and weights, a valid MAD test.
    public func validate() throws(DetectorError) {
        switch threshold {
        case .quantile(let q):
            guard q.isFinite, q >= 0, q <= 1 else { throw .invalidOption("threshold quantile \(q) is not in [0, 1]") }
        case .fractionOfMax(let f):
            guard f.isFinite else { throw .invalidOption("threshold fraction of max \(f) is not finite") }
        case .absolute(let v):
            guard v.isFinite else { throw .invalidOption("absolute threshold \(v) is not finite") }
        case .mean:
            break
        }
        for (name, w) in [("sparseness", weights.sparseness), ("smoothness", weights.smoothness),
                          ("persistence", weights.persistence)] where !w.isFinite {
            throw .invalidOption("weight of \(name) \(w) is not finite")
        }
        try mad.validate()
    }
}
