import XCTest
import NITensor
import NIExplainers
@testable import NIDetectors

/// Heatmap features (paper, "Features Extraction", "Combined Feature", Table 5/6). Expected numbers from
/// `make_expected.py` (tags in brackets) or worked out in the comment beside them.
final class FeatureTests: XCTestCase {
    /// A `HeatmapSet` of `classes` classes, each holding `maps` (row-major `h x w`).
    func set(_ perClass: [[[Float]]], h: Int, w: Int) -> HeatmapSet {
        let images = perClass[0].count
        return HeatmapSet(maps: Tensor(shape: [perClass.count, images, h, w], values: perClass.flatMap { $0.flatMap { $0 } }))
    }

    func features(_ perClass: [[[Float]]], h: Int, w: Int, _ options: FeatureOptions) throws -> [ClassFeatures] {
        try Features.extract(set(perClass, h: h, w: w), options: options)
    }

    var raw: FeatureOptions { FeatureOptions(mapNormalization: .none, featureNormalization: .none) }

    // MARK: Persistence

    /// Three hand-made binary-ish 4x4 maps ("on" pixels 0.7-1.0, "off" 0.05-0.3):
    /// T(M1) = top-left 2x2, T(M2) = 2x2 at rows 0-1 cols 1-2, T(M3) = 2x2 at rows 1-2 cols 1-2.
    /// M1 ⊕ M2 ⊕ M3 = 1 0 1 0 / 1 1 0 0 / 0 1 1 0 / 0 0 0 0: 6 ones of 16 = 0.375 ([XOR]).
    static let m1: [Float] = [0.9, 0.8, 0.1, 0.1,  0.85, 0.95, 0.1, 0.1,  0.1, 0.1, 0.1, 0.1,  0.1, 0.1, 0.1, 0.3]
    static let m2: [Float] = [0.2, 0.9, 0.95, 0.2,  0.2, 0.8, 0.85, 0.2,  0.2, 0.2, 0.2, 0.2,  0.25, 0.2, 0.2, 0.2]
    static let m3: [Float] = [0.15, 0.15, 0.15, 0.05,  0.15, 0.7, 0.9, 0.15,  0.15, 0.8, 1.0, 0.15,  0.15, 0.15, 0.15, 0.15]

    func testXORPersistenceOfThreeMaps() throws {
        var o = raw
        o.threshold = .absolute(0.5)
        XCTAssertEqual(try features([[Self.m1, Self.m2, Self.m3]], h: 4, w: 4, o)[0].persistence, 0.375)  // [XOR] absolute 0.5
        // The 0.75-quantile (numpy 'linear': 0.425, 0.3875, 0.2875) keeps the same 4 pixels per map.
        o.threshold = .quantile(0.75)
        XCTAssertEqual(try features([[Self.m1, Self.m2, Self.m3]], h: 4, w: 4, o)[0].persistence, 0.375)  // [XOR] quantile 0.75
        // Same with the default map normalisation (divide by max) and fraction-of-max 0.5.
        o = FeatureOptions(threshold: .fractionOfMax(0.5), featureNormalization: .none)
        XCTAssertEqual(try features([[Self.m1, Self.m2, Self.m3]], h: 4, w: 4, o)[0].persistence, 0.375)
        // The XOR chain is a parity: 2 identical maps give 0, 3 give the thresholded fraction 4/16 ([XOR] parity).
        o.threshold = .absolute(0.5)
        XCTAssertEqual(try features([[Self.m1, Self.m1]], h: 4, w: 4, o)[0].persistence, 0)
        XCTAssertEqual(try features([[Self.m1, Self.m1, Self.m1]], h: 4, w: 4, o)[0].persistence, 0.25)
    }

    /// Quantile convention: ramp 0, 1/15, ..., 1; the 0.9-quantile is 0.9 (between 13/15 and 14/15), keeping 2
    /// pixels; ties at the threshold are not kept (a map of 4 ones and 12 zeros keeps nothing at q = 0.9).
    func testQuantileThreshold() throws {
        let ramp = (0..<16).map { Float($0) / 15 }
        let o = FeatureOptions(featureNormalization: .none)  // default .quantile(0.9), .max
        XCTAssertEqual(try features([[ramp, ramp, ramp]], h: 4, w: 4, o)[0].persistence, 2.0 / 16)  // [XOR] ramp
        let blocky: [Float] = [1, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        XCTAssertEqual(try features([[blocky, blocky, blocky]], h: 4, w: 4, o)[0].persistence, 0)
        // Larger maps exercise the histogram selection against a sort, with ties and a heavy zero mass.
        var rng = SeededGenerator(seed: 11)
        for trial in 0..<40 {
            let n = 37 * 29
            let zeros = trial % 3 == 0
            let map = (0..<n).map { _ -> Float in
                let u = rng.nextUnit()
                return zeros && u < 0.8 ? 0 : (trial % 2 == 0 ? u : Float(Int(u * 8)) / 8)
            }
            for q in [0.0, 0.1, 0.5, 0.9, 0.99, 1.0] {
                let sorted = map.sorted(), pos = q * Double(n - 1), k = Int(pos)
                let t = k + 1 < n ? Double(sorted[k]) + (pos - Double(k)) * Double(sorted[k + 1] - sorted[k]) : Double(sorted[k])
                let kept = map.filter { Double($0) > Double(Float(t)) }.count
                var opts = FeatureOptions(mapNormalization: .none, threshold: .quantile(q), featureNormalization: .none)
                opts.persistence = .xor
                let got = try features([[map, [Float](repeating: 0, count: n)]], h: 37, w: 29, opts)[0].persistence
                XCTAssertEqual(got * Double(n), Double(kept), accuracy: 0.5, "trial \(trial) q \(q)")
            }
        }
    }

    /// Mean pairwise MSE of three 2x2 maps (raw): pairs (1,2) 1.5, (1,3) 1.5, (2,3) 2 → 5/3 ([MSE]).
    func testMSEPersistence() throws {
        var o = raw
        o.persistence = .mse
        let p = try features([[[0, 1, 2, 3], [1, 1, 0, 3], [0, 2, 2, 1]]], h: 2, w: 2, o)[0].persistence
        XCTAssertEqual(p, 1.6666666666666667, accuracy: 1e-6)  // [MSE]
        XCTAssertEqual(try features([[[0, 1, 2, 3], [0, 1, 2, 3]]], h: 2, w: 2, o)[0].persistence, 0)
    }

    func pattern(_ h: Int, _ w: Int, _ a: Int, _ b: Int, _ m: Int) -> [Float] {
        var out = [Float]()
        for y in 0..<h { for x in 0..<w { out.append(Float((x * a + y * b + x * y) % m) / Float(m - 1)) } }
        return out
    }

    func testSSIMPersistence() throws {
        var rng = SeededGenerator(seed: 3)
        let map = (0..<(9 * 10)).map { _ in rng.nextUnit() }
        for window in FeatureOptions.SSIMWindow.allCases {
            let o = FeatureOptions(persistence: .ssim, ssimWindow: window, featureNormalization: .none)
            // Identical maps: SSIM 1, persistence 0 (11x11 window needs an 11x11 map: use a 12x12 one there).
            let same = window == .uniform7 ? try features([[map, map, map]], h: 9, w: 10, o)
                                           : try features([[pattern(12, 12, 7, 13, 17), pattern(12, 12, 7, 13, 17)]], h: 12, w: 12, o)
            XCTAssertEqual(same[0].persistence, 0, accuracy: 1e-6)
            // Against a scikit-image-equivalent reference ([SSIM]).
            let s1 = pattern(12, 12, 7, 13, 17), s2 = pattern(12, 12, 5, 3, 11)
            let p3 = pattern(12, 12, 2, 9, 13), s3 = zip(s1, p3).map { 0.5 * $0 + 0.5 * $1 }
            let got = try features([[s1, s2, s3]], h: 12, w: 12, o)[0].persistence
            let expected = window == .uniform7 ? 1.0431281769797884 : 1.218876959421409  // [SSIM] uniform7 / gaussian11
            XCTAssertEqual(got, expected, accuracy: 1e-4, "\(window)")
        }
        XCTAssertThrowsError(try features([[map, map]], h: 9, w: 10,
                                          FeatureOptions(persistence: .ssim, ssimWindow: .gaussian11))) {
            XCTAssertEqual($0 as? DetectorError, .mapTooSmallForSSIM(height: 9, width: 10, window: 11))
        }
    }

    // MARK: Smoothness and sparseness

    /// Unit impulse away from the border: |-4| + 4·|1| = 8 ([LAP]). Constant map: 0 away from the border;
    /// zero padding makes each edge pixel |c| and each corner 2|c|: 5x5 of ones gives 2·3 + 2·3 + 8 = 20 ([LAP]).
    func testLaplacianSmoothness() throws {
        var impulse = [Float](repeating: 0, count: 25); impulse[12] = 1
        XCTAssertEqual(try features([[impulse, impulse]], h: 5, w: 5, raw)[0].smoothness, 8)  // [LAP] impulse
        var corner = [Float](repeating: 0, count: 25); corner[0] = 1
        XCTAssertEqual(try features([[corner, corner]], h: 5, w: 5, raw)[0].smoothness, 6)  // [LAP] corner: 4 + 1 + 1
        let ones = [Float](repeating: 1, count: 25)
        XCTAssertEqual(try features([[ones, ones]], h: 5, w: 5, raw)[0].smoothness, 20)  // [LAP] constant
        // Wider maps go through the vector path: a 20x21 constant map gives 2·18 + 2·19 + 8 = 82; an impulse 8.
        let wide = [Float](repeating: 2, count: 20 * 21)
        XCTAssertEqual(try features([[wide, wide]], h: 20, w: 21, raw)[0].smoothness, 2 * 82)
        var imp = [Float](repeating: 0, count: 20 * 21); imp[10 * 21 + 9] = 1
        XCTAssertEqual(try features([[imp, imp]], h: 20, w: 21, raw)[0].smoothness, 8)
        // Thin maps (H or W < 3) use the scalar path: 1x4 ones: ends 3 + 3, middle 2 + 2 = 10.
        XCTAssertEqual(try features([[[1, 1, 1, 1], [1, 1, 1, 1]]], h: 1, w: 4, raw)[0].smoothness, 10)
    }

    /// A = [0,1,2,3,4,0,0,0,2], B = [-1,1,3,1,1,1,1,1,1] ([SPARSE]).
    func testSparsenessPerNormalisation() throws {
        let a: [Float] = [0, 1, 2, 3, 4, 0, 0, 0, 2], b: [Float] = [-1, 1, 3, 1, 1, 1, 1, 1, 1]
        let expected: [(FeatureOptions.MapNormalization, Double)] = [
            (.none, 11.5),              // [SPARSE] none: (12 + 11) / 2
            (.l1, 1),                   // [SPARSE] l1: every map has L1 norm 1
            (.max, 3.333333333333333),  // [SPARSE] max: (12/4 + 11/3) / 2
            (.minMax, 3.75),            // [SPARSE] minMax: (12/4 + 18/4) / 2
        ]
        for (norm, value) in expected {
            let o = FeatureOptions(mapNormalization: norm, featureNormalization: .none)
            XCTAssertEqual(try features([[a, b]], h: 3, w: 3, o)[0].sparseness, value, accuracy: 1e-6, "\(norm)")
        }
        // All-zero maps stay zero under every normalisation (no NaN).
        let zero = [Float](repeating: 0, count: 9)
        for norm in FeatureOptions.MapNormalization.allCases {
            let f = try features([[zero, zero]], h: 3, w: 3, FeatureOptions(mapNormalization: norm, featureNormalization: .none))[0]
            XCTAssertEqual([f.sparseness, f.smoothness, f.persistence], [0, 0, 0], "\(norm)")
        }
    }

    // MARK: Combination and the outlier test

    /// 3 classes x 20 images x 16x16; class `blob` holds a persistent compact Gaussian blob (light jitter), the
    /// others scattered uniform noise.
    static func toy(blob: Int?, seed: UInt64) -> HeatmapSet {
        let (classes, images, h, w) = (3, 20, 16, 16)
        var rng = SeededGenerator(seed: seed)
        let t = Tensor(shape: [classes, images, h, w])
        for c in 0..<classes {
            for i in 0..<images {
                let p = t.data + (c * images + i) * h * w
                for y in 0..<h {
                    for x in 0..<w {
                        if c == blob {
                            let d2 = Float((y - 11) * (y - 11) + (x - 4) * (x - 4))
                            p[y * w + x] = (1 + 0.1 * rng.nextUnit()) * _expf(-d2 / 4.5) + 0.02 * rng.nextUnit()
                        } else {
                            p[y * w + x] = rng.nextUnit()
                        }
                    }
                }
            }
        }
        return HeatmapSet(maps: t)
    }

    func testCombinedFeatureFlagsThePersistentBlob() throws {
        for preset in [FeatureOptions.paperGTSRB, .paperMNIST] {
            let f = try Features.extract(Self.toy(blob: 1, seed: 5), options: preset)
            // The blob is least sparse, smoothest, most persistent: smallest on every raw feature.
            for k in [\ClassFeatures.sparseness, \.smoothness, \.persistence, \.combined] {
                XCTAssertLessThan(f[1][keyPath: k], min(f[0][keyPath: k], f[2][keyPath: k]))
            }
            let r = try preset.mad.run(f)
            XCTAssertEqual(r.flagged, [1], "\(preset.weights)")
            XCTAssertEqual(r.mostAnomalous, 1)
            XCTAssertGreaterThan(r.maxIndex, 2)
        }
    }

    /// All noise: nothing flagged (seed 1).
    ///
    /// Caveat, measured: with 3 labels the index of the lowest of three values a < b < c is
    /// (b - a) / (1.4826 · min(b - a, c - b)), which exceeds 2 whenever the lower gap is > 2.97x the upper one,
    /// whatever the features. Over 200 seeds of 3 i.i.d. noise classes (20 images, 16x16) the left-tail test
    /// flagged a label on 17% (MNIST weights) / 23% (GTSRB weights) of them; seed 5 is one that flags. So this
    /// checks the pipeline on one seed, and the false-alarm *rate* over 40 seeds only loosely (<= 40%).
    func testNothingFlaggedOnNoise() throws {
        for preset in [FeatureOptions.paperGTSRB, .paperMNIST] {
            let f = try Features.extract(Self.toy(blob: nil, seed: 1), options: preset)
            let r = try preset.mad.run(f)
            XCTAssertEqual(r.flagged, [], "\(preset.weights): \(f)")
            XCTAssertLessThan(r.maxIndex, 2)
            var alarms = 0
            for seed in 100..<140 as Range<UInt64> {
                if try !preset.mad.run(Features.extract(Self.toy(blob: nil, seed: seed), options: preset)).flagged.isEmpty { alarms += 1 }
            }
            XCTAssertLessThanOrEqual(alarms, 16, "\(preset.weights): \(alarms) of 40 noise-only sets flagged")
        }
    }

    func testCombineZScoreAndWeights() {
        let f = [(10.0, 1.0, 0.1), (20.0, 3.0, 0.3), (30.0, 5.0, 0.2)].enumerated().map {
            ClassFeatures(label: $0.offset, sparseness: $0.element.0, smoothness: $0.element.1, persistence: $0.element.2, combined: 0)
        }
        // z-scores over classes (population std): sparseness and smoothness both (-1.2247, 0, 1.2247);
        // persistence (-1.2247, 1.2247, 0). GTSRB weights 1/1/10: -2.4495 - 12.247 = -14.697, ...
        let z = 1.5.squareRoot()
        let c = Features.combine(f, normalization: .zScore, weights: .gtsrb).map(\.combined)
        for (got, want) in zip(c, [-2 * z - 10 * z, 10 * z, 2 * z]) { XCTAssertEqual(got, want, accuracy: 1e-9) }
        let raw = Features.combine(f, normalization: .none, weights: .mnist).map(\.combined)
        for (got, want) in zip(raw, [2.1, 5.3, 8.2]) { XCTAssertEqual(got, want, accuracy: 1e-9) }  // 0.1·sp + sm + pe
        let med = Features.combine(f, normalization: .divideByMedian, weights: .equal).map(\.combined)
        let third: Double = 1.0 / 3
        let wantMed: [Double] = [1 + third, 3.5, 2.5 + 5 * third]  // sp/20 + sm/3 + pe/0.2
        for (got, want) in zip(med, wantMed) { XCTAssertEqual(got, want, accuracy: 1e-9) }
        // A feature equal in every class z-scores to 0.
        XCTAssertEqual(Features.normalize([2, 2, 2], .zScore), [0, 0, 0])
    }

    // MARK: Errors and options

    func testBadHeatmapsAndOptions() throws {
        var maps = [[Self.m1, Self.m2], [Self.m2, Self.m3]]
        maps[1][1][5] = .nan
        XCTAssertThrowsError(try features(maps, h: 4, w: 4, FeatureOptions())) {
            XCTAssertEqual($0 as? DetectorError, .nonFiniteHeatmap(label: 1, image: 1))
            XCTAssertEqual("\($0)", "the heatmap of label 1, image 1 holds NaN or infinity")
        }
        maps[1][1][5] = .infinity
        XCTAssertThrowsError(try features(maps, h: 4, w: 4, FeatureOptions())) {
            XCTAssertEqual($0 as? DetectorError, .nonFiniteHeatmap(label: 1, image: 1))
        }
        XCTAssertThrowsError(try features([[Self.m1]], h: 4, w: 4, FeatureOptions())) {
            XCTAssertEqual($0 as? DetectorError, .tooFewImages(count: 1, minimum: 2))
        }
        XCTAssertThrowsError(try Features.extract(HeatmapSet(maps: Tensor(shape: [0, 2, 4, 4])))) {
            XCTAssertEqual($0 as? DetectorError, .invalidHeatmapShape([0, 2, 4, 4]))
        }
        XCTAssertThrowsError(try features([[Self.m1, Self.m2]], h: 4, w: 4, FeatureOptions(threshold: .quantile(1.5)))) {
            guard case .invalidOption? = $0 as? DetectorError else { return XCTFail("\($0)") }
        }
        let w = FeatureOptions.Weights(sparseness: .nan, smoothness: 1, persistence: 1)
        XCTAssertThrowsError(try features([[Self.m1, Self.m2]], h: 4, w: 4, FeatureOptions(weights: w)))
    }

    func testOptionsDefaultsPresetsAndCodable() throws {
        let d = FeatureOptions()
        XCTAssertEqual(d.mapNormalization, .max)
        XCTAssertEqual(d.threshold, .quantile(0.9))
        XCTAssertEqual(d.persistence, .xor)
        XCTAssertEqual(d.featureNormalization, .zScore)
        XCTAssertEqual(d.mad, MADOutlierTest(consistency: 1.4826, threshold: 2, tail: .left))
        XCTAssertEqual(FeatureOptions.paperMNIST.weights, .init(sparseness: 0.1, smoothness: 1, persistence: 1))  // Table 6
        XCTAssertEqual(FeatureOptions.paperGTSRB.weights, .init(sparseness: 1, smoothness: 1, persistence: 10))   // Table 6
        for o in [d, .paperGTSRB, FeatureOptions(threshold: .fractionOfMax(0.3), persistence: .ssim),
                  FeatureOptions(threshold: .absolute(0.2)), FeatureOptions(threshold: .mean)] {
            XCTAssertEqual(try JSONDecoder().decode(FeatureOptions.self, from: JSONEncoder().encode(o)), o)
        }
    }

    /// Serial and parallel extraction agree exactly (classes are independent).
    func testThreadsAgree() throws {
        let s = Self.toy(blob: 2, seed: 9)
        for p in FeatureOptions.PersistenceMethod.allCases {
            let o = FeatureOptions(persistence: p)
            XCTAssertEqual(try Features.extract(s, options: o, threads: 1), try Features.extract(s, options: o, threads: 2))
        }
    }
}

#if canImport(Glibc)
import Glibc
private func _expf(_ x: Float) -> Float { Glibc.expf(x) }
#else
import Darwin
private func _expf(_ x: Float) -> Float { Darwin.expf(x) }
#endif
