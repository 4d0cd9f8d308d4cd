import NIExplainers
import NITensor

/// The paper's three heatmap features of one output class and their weighted combination (sections "Features
/// Extraction" and "Combined Feature"). For every feature, *smaller* is more suspicious (the paper: the attack
/// target's heatmaps are the least sparse, most smooth, most persistent, so it has the smallest combined feature
/// and the outlier test looks at the left tail).
public struct ClassFeatures: Codable, Equatable, Sendable {
    /// The output class (index into `HeatmapSet`'s first axis).
    public var label: Int
    /// `mean_i ||M_i||_1` of the normalised maps (paper: `f_sparse = ||M||_1`). Raw, before feature normalisation.
    public var sparseness: Double
    /// `mean_i ||M_i ⊛ f_s||_1`, `f_s = [[0,1,0],[1,-4,1],[0,1,0]]`, zero padding, output the size of the map
    /// (paper: `f_smooth = ||∇²M||_1`). Raw.
    public var smoothness: Double
    /// Persistence of the class's maps across images by `FeatureOptions.persistence` (paper:
    /// `f_persistent = ||T(M_1) ⊕ ... ⊕ T(M_k)||_1`, here divided by `H·W`). Raw.
    public var persistence: Double
    /// `λ_sp·f̂_sparse + λ_sm·f̂_smooth + λ_pe·f̂_persistent`, the `f̂` being the features after
    /// `FeatureOptions.featureNormalization` across classes (paper, "Combined Feature", Table 6 weights).
    public var combined: Double

    public init(label: Int, sparseness: Double, smoothness: Double, persistence: Double, combined: Double) {
        self.label = label
        self.sparseness = sparseness
        self.smoothness = smoothness
        self.persistence = persistence
        self.combined = combined
    }
}

/// Computes `ClassFeatures` for every class of a `HeatmapSet` (paper, sections "Features Extraction" and
/// "Combined Feature"), with every open choice taken from `FeatureOptions`: `Features.extract(heatmaps, options:)`.
///
/// * Normalisation, sparseness, Laplacian smoothness and thresholding are per map; persistence is over the
///   `images` maps of a class in image order (order matters only for SSIM).
/// * **Laplacian border**: zero padding, output the size of the map. Away from the border a constant map gives
///   0; on the border the missing neighbours count as 0, so a constant map `c` gives `|c|` at every edge pixel and
///   `2|c|` at every corner (an `H x W` constant map sums to `|c|·(2(H-2) + 2(W-2) + 8)`), and a unit impulse
///   away from the border gives `|-4| + 4·|1| = 8`.
/// * Classes run in parallel over `threads` workers (each with its own scratch buffers allocated once per call;
///   the per-pixel loops allocate nothing). Pass `threads: 1` when calling from inside another `Parallel` region.
/// * Errors: bad shapes, fewer than 2 images per class, non-finite heatmap values (naming class and image),
///   SSIM windows larger than the maps, out-of-range options.
public enum Features {
    /// The fewest images per class: persistence compares maps across images.
    public static let minimumImages = 2

    /// Features of every class of `heatmaps` (`[classes, images, H, W]`), label `c` for class `c`, with
    /// `combined` computed after `options.featureNormalization` with `options.weights`.
    public static func extract(_ heatmaps: HeatmapSet, options: FeatureOptions = FeatureOptions(),
                               threads: Int = Parallel.threadCount) throws(DetectorError) -> [ClassFeatures] {
        try options.validate()
        let shape = heatmaps.maps.shape
        let classes = heatmaps.classes, images = heatmaps.images, h = heatmaps.height, w = heatmaps.width
        guard classes >= 1, images >= 1, h >= 1, w >= 1 else { throw .invalidHeatmapShape(shape) }
        guard images >= minimumImages else { throw .tooFewImages(count: images, minimum: minimumImages) }
        if options.persistence == .ssim {
            let k = options.ssimWindow.size
            guard h >= k, w >= k else { throw .mapTooSmallForSSIM(height: h, width: w, window: k) }
        }

        let raw = UnsafeMutablePointer<Double>.allocate(capacity: 3 * classes)
        raw.initialize(repeating: 0, count: 3 * classes)
        let bad = UnsafeMutablePointer<Int>.allocate(capacity: classes)
        bad.initialize(repeating: -1, count: classes)
        defer { raw.deallocate(); bad.deallocate() }

        Parallel.forEachChunk(classes, chunks: Swift.max(1, Swift.min(threads, classes))) { _, range in
            let ws = FeatureWorkspace(height: h, width: w, options: options)
            for c in range {
                if let image = ws.classFeatures(heatmaps, label: c, into: raw + 3 * c) { bad[c] = image }
            }
        }
        for c in 0..<classes where bad[c] >= 0 { throw .nonFiniteHeatmap(label: c, image: bad[c]) }

        let features = (0..<classes).map {
            ClassFeatures(label: $0, sparseness: raw[3 * $0], smoothness: raw[3 * $0 + 1],
                          persistence: raw[3 * $0 + 2], combined: 0)
        }
        return combine(features, normalization: options.featureNormalization, weights: options.weights)
    }

    /// Recomputes `combined` from the raw features with another normalisation or weights (e.g. Table 5's
    /// single-feature ablations) without extracting again.
    public static func combine(_ features: [ClassFeatures], normalization: FeatureOptions.FeatureNormalization,
                               weights: FeatureOptions.Weights) -> [ClassFeatures] {
        let sp = normalize(features.map(\.sparseness), normalization)
        let sm = normalize(features.map(\.smoothness), normalization)
        let pe = normalize(features.map(\.persistence), normalization)
        return features.indices.map { i in
            var f = features[i]
            f.combined = weights.sparseness * sp[i] + weights.smoothness * sm[i] + weights.persistence * pe[i]
            return f
        }
    }

    /// One feature across classes, normalised (see `FeatureOptions.FeatureNormalization`). A z-score whose standard
    /// deviation is at most `1e-12 · max|f|` (a feature equal in every class up to rounding) gives 0 everywhere.
    public static func normalize(_ values: [Double], _ mode: FeatureOptions.FeatureNormalization) -> [Double] {
        guard !values.isEmpty else { return values }
        switch mode {
        case .none:
            return values
        case .zScore:
            let n = Double(values.count)
            let mean = values.reduce(0, +) / n
            let std = (values.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
            let scale = values.reduce(0) { Swift.max($0, abs($1)) }
            guard std > 1e-12 * scale else { return values.map { _ in 0 } }
            return values.map { ($0 - mean) / std }
        case .divideByMedian:
            let med = MADOutlierTest.median(values)
            guard med != 0 else { return values }
            return values.map { $0 / med }
        }
    }
}

// MARK: - Per-worker scratch and kernels

/// Scratch buffers of one worker, allocated once per `Features.extract` call and worker, reused for every class.
final class FeatureWorkspace {
    let h: Int, w: Int, n: Int
    let options: FeatureOptions
    /// The normalised map.
    let norm: UnsafeMutablePointer<Float>
    /// XOR parity per pixel (0/1).
    let parity: UnsafeMutablePointer<Int32>
    /// Quantile selection: bin of each pixel, histogram, gathered candidates.
    let bins: UnsafeMutablePointer<UInt8>
    let hist: UnsafeMutablePointer<Int32>
    let gather: UnsafeMutablePointer<Float>
    /// MSE: per-pixel sums of values and squares over images.
    let s1: UnsafeMutablePointer<Double>, s2: UnsafeMutablePointer<Double>
    /// SSIM: [0,1] maps (current, previous), their filtered means and filtered squares, product, temp.
    let k: Int, oh: Int, ow: Int
    let kernel: UnsafeMutablePointer<Float>
    var x01: UnsafeMutablePointer<Float>, x01Prev: UnsafeMutablePointer<Float>
    var mu: UnsafeMutablePointer<Float>, muPrev: UnsafeMutablePointer<Float>
    var mu2: UnsafeMutablePointer<Float>, mu2Prev: UnsafeMutablePointer<Float>
    let prod: UnsafeMutablePointer<Float>, tmp: UnsafeMutablePointer<Float>, muxy: UnsafeMutablePointer<Float>
    let covNorm: Float

    static let histogramBins = 256

    init(height: Int, width: Int, options: FeatureOptions) {
        h = height; w = width; n = height * width
        self.options = options
        func floats(_ c: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(c, 1))
            p.initialize(repeating: 0, count: Swift.max(c, 1))
            return p
        }
        norm = floats(n)
        gather = floats(n)
        parity = .allocate(capacity: n); parity.initialize(repeating: 0, count: n)
        bins = .allocate(capacity: n); bins.initialize(repeating: 0, count: n)
        hist = .allocate(capacity: Self.histogramBins); hist.initialize(repeating: 0, count: Self.histogramBins)
        let mse = options.persistence == .mse ? n : 1
        s1 = .allocate(capacity: mse); s1.initialize(repeating: 0, count: mse)
        s2 = .allocate(capacity: mse); s2.initialize(repeating: 0, count: mse)

        let ssim = options.persistence == .ssim
        k = options.ssimWindow.size
        oh = ssim ? height - k + 1 : 1
        ow = ssim ? width - k + 1 : 1
        let full = ssim ? n : 1, out = oh * ow
        kernel = floats(k)
        switch options.ssimWindow {
        case .uniform7:
            for t in 0..<k { kernel[t] = 1 / Float(k) }
            covNorm = Float(k * k) / Float(k * k - 1)
        case .gaussian11:
            let sigma = 1.5, r = k / 2
            var g = [Double](repeating: 0, count: k)
            for t in 0..<k { let x = Double(t - r); g[t] = _exp(-0.5 * x * x / (sigma * sigma)) }
            let s = g.reduce(0, +)
            for t in 0..<k { kernel[t] = Float(g[t] / s) }
            covNorm = 1
        }
        x01 = floats(full); x01Prev = floats(full)
        mu = floats(out); muPrev = floats(out); mu2 = floats(out); mu2Prev = floats(out)
        prod = floats(full); tmp = floats(ssim ? height * ow : 1); muxy = floats(out)
    }

    deinit {
        for p in [norm, gather, kernel, x01, x01Prev, mu, muPrev, mu2, mu2Prev, prod, tmp, muxy] { p.deallocate() }
        parity.deallocate(); bins.deallocate(); hist.deallocate(); s1.deallocate(); s2.deallocate()
    }

    /// Writes sparseness, smoothness, persistence of class `c` to `out[0...2]`; returns the index of the first
    /// image holding a non-finite value, or nil.
    func classFeatures(_ set: HeatmapSet, label c: Int, into out: UnsafeMutablePointer<Double>) -> Int? {
        let images = set.images
        var sparse = 0.0, smooth = 0.0, ssimSum = 0.0
        switch options.persistence {
        case .xor: parity.update(repeating: 0, count: n)
        case .mse: s1.update(repeating: 0, count: n); s2.update(repeating: 0, count: n)
        case .ssim: break
        }
        for i in 0..<images {
            guard let st = normalize(set.map(class: c, image: i)) else { return i }
            sparse += Double(st.l1)
            smooth += Double(laplacianL1(norm))
            switch options.persistence {
            case .xor:
                xorUpdate(threshold: threshold(st))
            case .mse:
                for j in 0..<n { let v = Double(norm[j]); s1[j] += v; s2[j] += v * v }
            case .ssim:
                ssimPrepare(lo: st.lo, hi: st.hi)
                if i > 0 { ssimSum += ssimWithPrevious() }
                swap(&x01, &x01Prev); swap(&mu, &muPrev); swap(&mu2, &mu2Prev)
            }
        }
        out[0] = sparse / Double(images)
        out[1] = smooth / Double(images)
        switch options.persistence {
        case .xor:
            out[2] = Double(countOnes()) / Double(n)
        case .mse:
            let nn = Double(images)
            var total = 0.0
            for j in 0..<n { total += Swift.max(0, nn * s2[j] - s1[j] * s1[j]) }
            out[2] = total / (Double(n) * nn * (nn - 1) / 2)
        case .ssim:
            out[2] = 1 - ssimSum / Double(images - 1)
        }
        return nil
    }

    /// Statistics of the normalised map: L1, signed sum, min, max.
    struct MapStats { var l1: Float; var sum: Float; var lo: Float; var hi: Float }

    /// Normalises `src` into `norm` by `options.mapNormalization`; nil when `src` holds NaN or infinity.
    func normalize(_ src: UnsafePointer<Float>) -> MapStats? {
        // Pass 1: min, max, sum |x| of the raw map.
        var vmin = SIMD8<Float>(repeating: .infinity), vmax = SIMD8<Float>(repeating: -.infinity)
        var vabs = SIMD8<Float>(repeating: 0)
        var j = 0
        while j + 8 <= n {
            let v = UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self)
            vmin = vMin(vmin, v); vmax = vMax(vmax, v); vabs += vAbs(v)
            j += 8
        }
        var mn = hMin(vmin), mx = hMax(vmax), sumAbs = vabs.sum()
        while j < n { let v = src[j]; mn = Swift.min(mn, v); mx = Swift.max(mx, v); sumAbs += abs(v); j += 1 }
        if !sumAbs.isFinite || !mn.isFinite || !mx.isFinite {
            // NaN or infinity propagates into the sum; a finite map whose |sum| overflows is still accepted.
            for t in 0..<n where !src[t].isFinite { return nil }
        }
        var scale: Float = 1, offset: Float = 0
        switch options.mapNormalization {
        case .none: break
        case .l1: scale = sumAbs > 0 ? 1 / sumAbs : 0
        case .max: let m = Swift.max(abs(mn), abs(mx)); scale = m > 0 ? 1 / m : 0
        case .minMax: offset = mn; scale = mx > mn ? 1 / (mx - mn) : 0
        }
        // Pass 2: write the normalised map, with its L1, sum, min, max.
        let vs = SIMD8<Float>(repeating: scale), vo = SIMD8<Float>(repeating: offset)
        vmin = SIMD8(repeating: .infinity); vmax = SIMD8(repeating: -.infinity); vabs = .zero
        var vsum = SIMD8<Float>.zero
        j = 0
        while j + 8 <= n {
            let v = (UnsafeRawPointer(src + j).loadUnaligned(as: SIMD8<Float>.self) - vo) * vs
            UnsafeMutableRawPointer(norm + j).storeBytes(of: v, as: SIMD8<Float>.self)
            vmin = vMin(vmin, v); vmax = vMax(vmax, v); vabs += vAbs(v); vsum += v
            j += 8
        }
        var st = MapStats(l1: vabs.sum(), sum: vsum.sum(), lo: hMin(vmin), hi: hMax(vmax))
        while j < n {
            let v = (src[j] - offset) * scale
            norm[j] = v
            st.lo = Swift.min(st.lo, v); st.hi = Swift.max(st.hi, v); st.l1 += abs(v); st.sum += v
            j += 1
        }
        return st
    }

    /// `||M ⊛ f_s||_1` of `p` (`h x w`), Laplacian `[[0,1,0],[1,-4,1],[0,1,0]]`, zero padding.
    func laplacianL1(_ p: UnsafePointer<Float>) -> Float {
        @inline(__always) func at(_ y: Int, _ x: Int) -> Float {
            var s = -4 * p[y * w + x]
            if y > 0 { s += p[(y - 1) * w + x] }
            if y + 1 < h { s += p[(y + 1) * w + x] }
            if x > 0 { s += p[y * w + x - 1] }
            if x + 1 < w { s += p[y * w + x + 1] }
            return abs(s)
        }
        if h < 3 || w < 3 {
            var s: Float = 0
            for y in 0..<h { for x in 0..<w { s += at(y, x) } }
            return s
        }
        var acc = SIMD8<Float>.zero
        var tail: Float = 0
        let four = SIMD8<Float>(repeating: 4)
        for y in 1..<(h - 1) {
            let row = p + y * w
            var x = 1
            while x + 8 <= w - 1 {
                let c = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD8<Float>.self)
                let l = UnsafeRawPointer(row + x - 1).loadUnaligned(as: SIMD8<Float>.self)
                let r = UnsafeRawPointer(row + x + 1).loadUnaligned(as: SIMD8<Float>.self)
                let u = UnsafeRawPointer(row + x - w).loadUnaligned(as: SIMD8<Float>.self)
                let d = UnsafeRawPointer(row + x + w).loadUnaligned(as: SIMD8<Float>.self)
                let s = (l + r) + (u + d) - four * c
                acc += vAbs(s)
                x += 8
            }
            while x < w - 1 {
                tail += abs(row[x - 1] + row[x + 1] + row[x - w] + row[x + w] - 4 * row[x])
                x += 1
            }
            tail += at(y, 0) + at(y, w - 1)
        }
        for x in 0..<w { tail += at(0, x) + at(h - 1, x) }
        return acc.sum() + tail
    }

    /// The threshold `t` of `T(M) = M > t` on the normalised map.
    func threshold(_ st: MapStats) -> Float {
        switch options.threshold {
        case .quantile(let q): return quantile(q, lo: st.lo, hi: st.hi)
        case .fractionOfMax(let f): return Float(f) * st.hi
        case .absolute(let v): return Float(v)
        case .mean: return st.sum / Float(n)
        }
    }

    /// The `q`-quantile of `norm` (linear interpolation between order statistics, numpy's default), found by a
    /// 256-bin histogram between `lo` and `hi`, then an exact selection among the pixels of the one or two bins
    /// that hold the order statistics.
    func quantile(_ q: Double, lo: Float, hi: Float) -> Float {
        if n == 1 || !(hi > lo) { return lo }
        let pos = q * Double(n - 1)
        let k = Swift.min(Int(pos.rounded(.down)), n - 1)
        let frac = pos - Double(k)
        let needNext = frac > 0 && k + 1 < n
        if k == n - 1 { return hi }
        if k == 0 && !needNext { return lo }

        let nb = Self.histogramBins
        var scale = Float(nb) / (hi - lo)
        if !scale.isFinite { scale = 0 }  // range too small to bin: one bin, select among all pixels
        let top = Float(nb - 1)
        hist.update(repeating: 0, count: nb)
        for j in 0..<n {
            let b = Int(Swift.min((norm[j] - lo) * scale, top))
            bins[j] = UInt8(truncatingIfNeeded: b)
            hist[b] &+= 1
        }
        var before = 0, first = 0
        while before + Int(hist[first]) <= k { before += Int(hist[first]); first += 1 }
        var last = first
        if needNext && k + 1 >= before + Int(hist[first]) {
            last = first + 1
            while hist[last] == 0 { last += 1 }
        }
        // Branch-free gather of the pixels whose bin is in first...last: with `d = bin - first`, `d | (span - d)`
        // is negative (shifted right to -1) exactly when the bin is outside.
        let span = last - first
        var m = 0
        for j in 0..<n {
            gather[m] = norm[j]
            let d = Int(bins[j]) &- first
            m &+= 1 &+ ((d | (span &- d)) >> 63)
        }
        let r = k - before
        let vk = Self.select(gather, count: m, rank: r)
        guard needNext else { return vk }
        var next = Float.infinity
        for j in (r + 1)..<m { next = Swift.min(next, gather[j]) }
        return Float(Double(vk) + frac * Double(next - vk))
    }

    /// Quickselect (median-of-three pivot, three-way partition): returns the element of rank `rank` and leaves
    /// `a[0..<rank] <= a[rank] <= a[rank+1..<count]`.
    static func select(_ a: UnsafeMutablePointer<Float>, count: Int, rank: Int) -> Float {
        var lo = 0, hi = count - 1
        while hi - lo > 16 {
            let mid = (lo + hi) / 2
            let x = a[lo], y = a[mid], z = a[hi]
            let pivot = Swift.max(Swift.min(x, y), Swift.min(Swift.max(x, y), z))
            var lt = lo, i = lo, gt = hi
            while i <= gt {
                let v = a[i]
                if v < pivot { a[i] = a[lt]; a[lt] = v; lt += 1; i += 1 }
                else if v > pivot { a[i] = a[gt]; a[gt] = v; gt -= 1 }
                else { i += 1 }
            }
            if rank < lt { hi = lt - 1 } else if rank > gt { lo = gt + 1 } else { return pivot }
        }
        if lo < hi {
            for i in (lo + 1)...hi {
                let v = a[i]
                var j = i - 1
                while j >= lo && a[j] > v { a[j + 1] = a[j]; j -= 1 }
                a[j + 1] = v
            }
        }
        return a[rank]
    }

    /// `parity ^= (norm > t)`.
    func xorUpdate(threshold t: Float) {
        let vt = SIMD8<Float>(repeating: t), one = SIMD8<Int32>(repeating: 1)
        var j = 0
        while j + 8 <= n {
            let v = UnsafeRawPointer(norm + j).loadUnaligned(as: SIMD8<Float>.self)
            let par = UnsafeRawPointer(parity + j).loadUnaligned(as: SIMD8<Int32>.self)
            let bit = SIMD8<Int32>.zero.replacing(with: one, where: v .> vt)
            UnsafeMutableRawPointer(parity + j).storeBytes(of: par ^ bit, as: SIMD8<Int32>.self)
            j += 8
        }
        while j < n { parity[j] ^= norm[j] > t ? 1 : 0; j += 1 }
    }

    func countOnes() -> Int {
        var acc = SIMD8<Int32>.zero, j = 0
        while j + 8 <= n { acc &+= UnsafeRawPointer(parity + j).loadUnaligned(as: SIMD8<Int32>.self); j += 8 }
        var total = Int(acc.wrappedSum())
        while j < n { total += Int(parity[j]); j += 1 }
        return total
    }

    // MARK: SSIM

    /// Rescales `norm` to [0,1] into `x01`, and filters `x01` and `x01²` into `mu` and `mu2`.
    func ssimPrepare(lo: Float, hi: Float) {
        let s: Float = hi > lo ? 1 / (hi - lo) : 0
        for j in 0..<n { x01[j] = (norm[j] - lo) * s }
        filterValid(x01, into: mu)
        for j in 0..<n { prod[j] = x01[j] * x01[j] }
        filterValid(prod, into: mu2)
    }

    /// Mean SSIM of `x01` against `x01Prev` over the valid window positions (scikit-image's algorithm).
    func ssimWithPrevious() -> Double {
        for j in 0..<n { prod[j] = x01[j] * x01Prev[j] }
        filterValid(prod, into: muxy)
        let c1: Float = 0.01 * 0.01, c2: Float = 0.03 * 0.03, cn = covNorm
        var total = 0.0
        for j in 0..<(oh * ow) {
            let ux = mu[j], uy = muPrev[j]
            let vx = cn * (mu2[j] - ux * ux), vy = cn * (mu2Prev[j] - uy * uy), vxy = cn * (muxy[j] - ux * uy)
            let num = (2 * ux * uy + c1) * (2 * vxy + c2)
            let den = (ux * ux + uy * uy + c1) * (vx + vy + c2)
            total += Double(num / den)
        }
        return total / Double(oh * ow)
    }

    /// Separable `k x k` filter of `src` (`h x w`) with `kernel`, valid positions only: `out` is `oh x ow`.
    /// Each output is accumulated in registers over the `k` taps (8 columns at a time), then stored once.
    func filterValid(_ src: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
        for y in 0..<h {
            rowPass(src + y * w, stride: 1, into: tmp + y * ow)
        }
        for y in 0..<oh {
            rowPass(tmp + y * ow, stride: ow, into: out + y * ow)
        }
    }

    /// `d[x] = Σ_t kernel[t] · s[x + t·stride]` for `x` in `0..<ow`.
    @inline(__always)
    private func rowPass(_ s: UnsafePointer<Float>, stride: Int, into d: UnsafeMutablePointer<Float>) {
        var x = 0
        while x + 8 <= ow {
            var acc = SIMD8<Float>.zero
            for t in 0..<k {
                acc += SIMD8(repeating: kernel[t]) * UnsafeRawPointer(s + x + t * stride).loadUnaligned(as: SIMD8<Float>.self)
            }
            UnsafeMutableRawPointer(d + x).storeBytes(of: acc, as: SIMD8<Float>.self)
            x += 8
        }
        while x < ow {
            var acc: Float = 0
            for t in 0..<k { acc += kernel[t] * s[x + t * stride] }
            d[x] = acc
            x += 1
        }
    }
}

// SIMD helpers that lower to single AVX instructions (the stdlib's `pointwiseMin/Max` and `.min()/.max()` on
// SIMD8<Float> compile to out-of-line scalar loops). Inputs are finite here (checked before use).
@inline(__always) private func vMin(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .< a) }
@inline(__always) private func vMax(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a.replacing(with: b, where: b .> a) }
@inline(__always) private func vAbs(_ a: SIMD8<Float>) -> SIMD8<Float> {
    unsafeBitCast(unsafeBitCast(a, to: SIMD8<UInt32>.self) & SIMD8<UInt32>(repeating: 0x7fff_ffff), to: SIMD8<Float>.self)
}
@inline(__always) private func hMin(_ a: SIMD8<Float>) -> Float {
    var m = a[0]; for i in 1..<8 where a[i] < m { m = a[i] }; return m
}
@inline(__always) private func hMax(_ a: SIMD8<Float>) -> Float {
    var m = a[0]; for i in 1..<8 where a[i] > m { m = a[i] }; return m
}

#if canImport(Glibc)
import Glibc
@inline(__always) private func _exp(_ x: Double) -> Double { Glibc.exp(x) }
#else
import Darwin
@inline(__always) private func _exp(_ x: Double) -> Double { Darwin.exp(x) }
#endif
