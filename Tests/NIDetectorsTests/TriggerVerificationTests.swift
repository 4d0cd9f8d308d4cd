import XCTest
import NITensor
import NINetwork
import NIExplainers
@testable import NIDetectors

/// Trigger localisation and verification on a hand-weighted linear model whose backdoor is known exactly.
///
/// Input 1x6x6 -> Dense(36, 3): class 0 = Σ left half (x < 3), class 1 = Σ right half, class 2 =
/// 10·Σ top-left 2x2 − 20 (the "backdoor": it wins only when those four pixels are near 1).
/// Clean images: 5 with the left half at 0.8 (class 0 wins by 14.4 - 12 = 2.4 over class 2), 5 with the right
/// half at 0.8 (class 1); other pixels 0.1. Stamping the top-left 2x2 with ones gives class 2 a score of 20,
/// above 15.2 (class 0) and 14.4 (class 1): every image flips to 2. No 2x2 patch can flip class 0 <-> 1
/// (a margin of about 14 against a gain of at most 4).
final class TriggerVerificationTests: XCTestCase {
    func model() throws -> Sequential {
        try halvesModel(backdoorWeight: { x, y in (x < 2 && y < 2) ? 10 : 0 }, backdoorBias: -20)
    }

    /// Dense(36, 3) on 1x6x6: class 0 = Σ left half, class 1 = Σ right half, class 2 = Σ w(x, y)·pixel + bias.
    func halvesModel(backdoorWeight: (Int, Int) -> Float, backdoorBias: Float) throws -> Sequential {
        let d = Dense(36, 3)
        for y in 0..<6 { for x in 0..<6 {
            let p = y * 6 + x
            d.weight.value[p] = x < 3 ? 1 : 0
            d.weight.value[36 + p] = x >= 3 ? 1 : 0
            d.weight.value[72 + p] = backdoorWeight(x, y)
        } }
        d.bias.value[2] = backdoorBias
        return try Sequential(inputShape: [1, 6, 6], layers: [Flatten(), d])
    }

    func images() -> Tensor {
        let t = Tensor(shape: [10, 1, 6, 6], repeating: 0.1)
        for i in 0..<10 { for y in 0..<6 { for x in 0..<6 where (i < 5) == (x < 3) { t[i * 36 + y * 6 + x] = 0.8 } } }
        return t
    }

    func testFindsTheBackdoorWindowAndOnlyItFlips() throws {
        let m = try model(), x = images()
        XCTAssertEqual(argmaxRows(m.forward(x, mode: .inference)), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        let signed = Saliency(reduction: .sum).attributeAllClasses(m, inputs: x)
        let v = TriggerVerification(windows: [2])
        let r = v.run(m, images: x, signed: signed)
        XCTAssertEqual(r[2].flipRate, 1.0)
        XCTAssertEqual(r[2].x, 0); XCTAssertEqual(r[2].y, 0); XCTAssertEqual(r[2].size, 2)
        XCTAssertEqual(r[0].flipRate, 0); XCTAssertEqual(r[1].flipRate, 0)
    }

    /// The hand model's trigger wins by 5.2 / 7.5 = 0.69 clean margins (see the margin test): without the
    /// specificity relief that is under the floor of 1, so it is reported but not flagged; its specificity (19 /
    /// 1.4826 = 12.8, see the specificity test) relieves the floor to 0.6, and it is flagged.
    func testDetectorFlagsOnlyTheBackdoorClass() throws {
        var v = TriggerVerification(windows: [2])
        v.specificityRelief = 1
        var preset = NeuronInspect.Preset(name: "test", explainer: Saliency(reduction: .sum), features: FeatureOptions(), verification: v)
        let strict = try NeuronInspect(preset: preset).inspect(try model(), images: images(), modelName: "hand").report
        XCTAssertEqual(strict.flagged, [], strict.verdict)
        XCTAssertTrue(strict.notes.contains { $0.hasPrefix("label 2:") && $0.contains("floor of 1.00") }, "\(strict.notes)")
        v.specificityRelief = TriggerVerification().specificityRelief
        preset.verification = v
        let report = try NeuronInspect(preset: preset).inspect(try model(), images: images(), modelName: "hand").report
        XCTAssertEqual(report.flagged, [2], report.verdict)
        // Flip rates (1, 0, 0 order by label 2, 0, 1): median 0, MAD floored at 0.05 -> index 1 / (0.05) = 20.
        XCTAssertEqual(report.anomalyIndex, 20, accuracy: 1e-9)
    }

    /// Refinement: heatmaps that point class 2 at the wrong place (the 2x2 square at (3, 3), the bottom-right
    /// corner) start its window there; the gradient on the stamped images moves it (2 pixels a step) to the
    /// real trigger at (0, 0). Without refinement (and without the probe) the misplaced window flips nothing;
    /// the probe of the small windows alone also finds the trigger (its all-ones 2x2 square at (0, 0)).
    func testRefinementMovesAMisplacedWindowOntoTheTrigger() throws {
        let m = try model(), x = images()
        let maps = Tensor(shape: [3, 10, 6, 6])
        for i in 0..<10 {
            for y in 3..<5 { for xx in 3..<5 { maps[((2 * 10 + i) * 6 + y) * 6 + xx] = 1 } }
            maps[((0 * 10 + i) * 6 + 3) * 6 + 0] = 1
            maps[((1 * 10 + i) * 6 + 3) * 6 + 5] = 1
        }
        var off = TriggerVerification(windows: [2]); off.refineSteps = 0; off.probeSmallWindows = false; off.probeCorners = false
        off.cornerPointSizes = []
        off.blendOpacities = []   // a 20% blend of the whole image flips half of them
        let before = off.run(m, images: x, signed: HeatmapSet(maps: maps))
        XCTAssertEqual(before[2].x, 3); XCTAssertEqual(before[2].y, 3); XCTAssertEqual(before[2].flipRate, 0)
        var refining = TriggerVerification(windows: [2]); refining.probeSmallWindows = false; refining.probeCorners = false
        refining.cornerPointSizes = []
        let after = refining.run(m, images: x, signed: HeatmapSet(maps: maps))
        XCTAssertEqual(after[2].flipRate, 1.0)
        XCTAssertEqual(after[2].x, 0); XCTAssertEqual(after[2].y, 0)
        XCTAssertEqual(after[0].flipRate, 0); XCTAssertEqual(after[1].flipRate, 0)
        off.probeSmallWindows = nil
        let probed = off.run(m, images: x, signed: HeatmapSet(maps: maps))
        XCTAssertEqual(probed[2].flipRate, 1.0)
        XCTAssertEqual(probed[2].x, 0); XCTAssertEqual(probed[2].y, 0)
        XCTAssertEqual(probed[0].flipRate, 0); XCTAssertEqual(probed[1].flipRate, 0)
    }

    /// The corner probe (`probeCorners`), for images where the small windows are not probed everywhere: with
    /// heatmaps pointing class 2 at (3, 3) and no refinement, the trigger at the top-left corner is found only
    /// by the all-ones 2x2 square the probe stamps at (0, 0). A trigger away from the corners (the 2x2 square at
    /// (2, 2)) is not reached by it: the probe covers the four corners, not the grid. (The point probe is off: its
    /// 2x2 squares two pixels in from the edges reach the middle of a 6x6 image.)
    func testCornerProbeFindsACornerTriggerThatSaliencyMissed() throws {
        let x = images()
        let maps = Tensor(shape: [3, 10, 6, 6])
        for i in 0..<10 { for y in 3..<5 { for xx in 3..<5 { maps[((2 * 10 + i) * 6 + y) * 6 + xx] = 1 } } }
        var v = TriggerVerification(windows: [2]); v.refineSteps = 0; v.probeSmallWindows = false
        v.probeCorners = false; v.blendOpacities = []; v.cornerPointSizes = []
        XCTAssertEqual(v.run(try model(), images: x, signed: HeatmapSet(maps: maps))[2].flipRate, 0)
        v.probeCorners = true
        let corner = v.run(try model(), images: x, signed: HeatmapSet(maps: maps))
        XCTAssertEqual(corner[2].flipRate, 1.0)
        XCTAssertEqual(corner[2].x, 0); XCTAssertEqual(corner[2].y, 0); XCTAssertEqual(corner[2].patch, [1, 1, 1, 1])
        XCTAssertEqual(corner[0].flipRate, 0); XCTAssertEqual(corner[1].flipRate, 0)
        let middle = try halvesModel(backdoorWeight: { px, py in (2...3).contains(px) && (2...3).contains(py) ? 10 : 0 },
                                     backdoorBias: -20)
        let away = v.run(middle, images: x, signed: HeatmapSet(maps: maps))
        XCTAssertEqual(away[2].flipRate, 0, "the corner probe stamps only the four corners")
        v.probeSmallWindows = true
        XCTAssertEqual(v.run(middle, images: x, signed: HeatmapSet(maps: maps))[2].flipRate, 1.0, "the grid reaches (2, 2)")
    }

    /// The point probe (`cornerPointSizes`, session 16). Images whose top three rows are dark (0.1; below, the
    /// halves as usual, so class 0 or 1 scores 9·0.8 + 9·0.1 = 8.1 against 1.8); class 2 = 60·pixel(1, 1) −
    /// 20·Σ its eight neighbours: a white pixel one in from the top-left corner on a dark neighbourhood, as a net
    /// trained hard on a 1x1 trigger learns it. Clean it scores 6 − 16 = −10; with the pixel stamped 60 − 16 = 44,
    /// above 9.0 (class 0 gains the stamped pixel's 0.9): every image flips. A uniform 3x3 square over it scores
    /// 60 − 160 or 0, a flush 2x2 of ones 60 − 60 − 10 = −10, the 3x3 checkerboards −20 and 0: the corner probe
    /// flips nothing (the 2x2 checkerboard at (0, 0) with ones on the diagonal scores 60 − 20 − 10 = 30 and flips
    /// every image too, by less: 30 − 8.3 against 44 − 9.0 on the left images).
    func testPointProbeFindsAnIsolatedPixelTriggerTheCornerSquaresMiss() throws {
        let m = try halvesModel(backdoorWeight: { x, y in (x, y) == (1, 1) ? 60 : (x <= 2 && y <= 2 ? -20 : 0) }, backdoorBias: 0)
        let x = Tensor(shape: [10, 1, 6, 6], repeating: 0.1)
        for i in 0..<10 { for y in 3..<6 { for xx in 0..<6 where (i < 5) == (xx < 3) { x[i * 36 + y * 6 + xx] = 0.8 } } }
        XCTAssertEqual(argmaxRows(m.forward(x, mode: .inference)), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        let zero = HeatmapSet(maps: Tensor(shape: [3, 10, 6, 6]))
        var v = TriggerVerification(windows: [3]); v.refineSteps = 0; v.probeSmallWindows = false; v.blendOpacities = []
        v.cornerPointSizes = []
        let none = v.run(m, images: x, signed: zero)[2]
        XCTAssertEqual(none.flipRate, 0, "the corner probe's 3x3 squares do not flip to 2")
        v.cornerPointSizes = [1, 2]
        let r = v.run(m, images: x, signed: zero)
        XCTAssertEqual(r[2].flipRate, 1.0)
        XCTAssertEqual(r[2].x, 1); XCTAssertEqual(r[2].y, 1); XCTAssertEqual(r[2].size, 1); XCTAssertEqual(r[2].patch, [1])
        // Classes 0 and 1 are flipped by the corner probe's white 3x3 squares on the dark top rows (9 · 0.9 = 8.1 > 6.3), not by a
        // point square (4 pixels move them at most 3.6).
        XCTAssertEqual(r[0].size, 3); XCTAssertEqual(r[1].size, 3)
        v.cornerPointOffsets = 0
        XCTAssertEqual(v.run(m, images: x, signed: zero)[2].size, 2, "flush with the edges only the 2x2 checkerboard reaches it")
    }

    /// A model that expects normalised inputs (`x = (raw - 0.5) / 0.25`): the halves model with its weights
    /// folded (`w' = 0.25·w`, `b' = b + 0.5·Σw`), so it scores normalised images exactly as the original scores
    /// raw ones. With `mean`/`std` set, the verification stamps raw white (normalised 2) and finds the trigger
    /// as before; read as raw values, its "ones" would be raw 0.75, which scores class 2 only 10 (< 14.4) and
    /// flips nothing.
    func testPatchesAreStampedInTheModelsNormalisation() throws {
        let m = try model()
        let d = m.layers[1] as! Dense
        for cl in 0..<3 {
            var sum: Float = 0
            for p in 0..<36 { sum += d.weight.value[cl * 36 + p]; d.weight.value[cl * 36 + p] *= 0.25 }
            d.bias.value[cl] += 0.5 * sum
        }
        let x = images()
        for i in 0..<x.count { x[i] = (x[i] - 0.5) / 0.25 }
        XCTAssertEqual(argmaxRows(m.forward(x, mode: .inference)), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        let signed = Saliency(reduction: .sum).attributeAllClasses(m, inputs: x)
        var aware = TriggerVerification(windows: [2]); aware.mean = [0.5]; aware.std = [0.25]
        let found = aware.run(m, images: x, signed: signed)
        XCTAssertEqual(found[2].flipRate, 1.0)
        XCTAssertEqual(found[2].x, 0); XCTAssertEqual(found[2].y, 0)
        XCTAssertEqual(found[2].patch, [1, 1, 1, 1], "patches are reported in raw pixel values")
        let naive = TriggerVerification(windows: [2]).run(m, images: x, signed: signed)
        XCTAssertEqual(naive[2].flipRate, 0)
        // The preset carries the normalisation into SmoothGrad's noise and the verification.
        let p = NeuronInspect.Preset.standard(channels: 1).normalised(mean: [0.5], std: [0.25])
        XCTAssertEqual(p.verification?.std, [0.25])
        XCTAssertEqual((p.explainer as? SmoothGrad)?.channelStd, [0.25])
    }

    /// The margin ratio by hand: clean margins are 2.4 (class-0 images: 14.4 against class 2's 12) and 12.6
    /// (class-1 images), median of the ten (2.4 + 12.6) / 2 = 7.5. With the top-left 2x2 stamped to ones, class 2
    /// scores 20 against 15.2 (class-0 images) and 14.4 (class-1 images): margins 4.8 and 5.6, median 5.2.
    func testMarginRatioIsTheStampedMarginInCleanMargins() throws {
        let r = TriggerVerification(windows: [2]).run(try model(), images: images(),
                                                       signed: Saliency(reduction: .sum).attributeAllClasses(try model(), inputs: images()))
        XCTAssertEqual(r[2].flipRate, 1.0)
        XCTAssertEqual(r[2].marginRatio, 5.2 / 7.5, accuracy: 1e-5)
    }

    /// Specificity by hand. Stamping the top-left 2x2 with ones changes, on a class-0 image (left half 0.8):
    /// class 2 by 20 - 12 = 8, class 0 by 4 x 0.2 = 0.8, class 1 by 0; on a class-1 image (left half 0.1): class 2
    /// by 20 + 16 = 36, class 0 by 3.6, class 1 by 0. The others' median and MAD are 0.4 and 0.4 (1.8 and 1.8), so
    /// both kinds of image give (8 - 0.4) / (1.4826 x 0.4) = (36 - 1.8) / (1.4826 x 1.8) = 19 / 1.4826.
    func testSpecificityByHand() throws {
        let r = TriggerVerification(windows: [2]).run(try model(), images: images(),
                                                       signed: Saliency(reduction: .sum).attributeAllClasses(try model(), inputs: images()))
        XCTAssertEqual(r[2].x, 0); XCTAssertEqual(r[2].y, 0); XCTAssertEqual(r[2].patch, [1, 1, 1, 1])
        XCTAssertEqual(r[2].specificity, 19 / 1.4826, accuracy: 1e-3)
    }

    /// The screening of MAD-flagged labels: the flip-rate floor, the margin floor (per window size), the
    /// specificity floor, then the share of the strongest label's margin, then the share of its margin x
    /// specificity; every dropped label gets a note naming it and the rule.
    func testScreeningDropsWeakAndAdversarialLabels() {
        var v = TriggerVerification()
        v.minimumMarginRatio = 0.3
        func r(_ l: Int, _ flip: Double, _ margin: Double, specificity: Double = 4.5, size: Int = 3) -> TriggerVerification.ClassResult {
            var c = TriggerVerification.ClassResult(label: l, windowScore: 0, flipRate: flip, x: 0, y: 0, size: size)
            c.marginRatio = margin
            c.specificity = specificity
            return c
        }
        // 1: a backdoor (100%, 2.0 margins); 2: an adversarial patch (85%, 0.6 < 0.5 x 2.0);
        // 3: below the flip floor; 4: below the margin floor; 5: a second target as strong (95%, 1.85 x 4.5 =
        // 8.3 >= 0.9 x 2.0 x 4.5); 6: a strong patch that raises other labels too (specificity 3 < 4.5); 7: a
        // 15x15 patch with 0.4 margins, under that size's floor 0.3 x 15 / 10 = 0.45; 8: passes every floor but
        // its evidence 1.2 x 4.5 = 5.4 is under 90% of label 1's 9.0: named, not flagged.
        let results = [r(0, 0.1, -1), r(1, 1.0, 2.0), r(2, 0.85, 0.6), r(3, 0.5, 0.4), r(4, 0.8, 0.2), r(5, 0.95, 1.85),
                       r(6, 1.0, 1.9, specificity: 3), r(7, 0.9, 0.4, size: 15), r(8, 0.95, 1.2)]
        let indices: [Double] = [0, 9, 8, 4, 7, 8.5, 9, 6, 8]
        let s = v.screen([1, 2, 3, 4, 5, 6, 7, 8], results: results, indices: indices)
        XCTAssertEqual(s.flagged, [1, 5])
        XCTAssertEqual(s.notes.count, 6)
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 8:") && $0.contains("a weaker candidate") }, "\(s.notes)")
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 2:") && $0.contains("adversarial patch") }, "\(s.notes)")
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 3:") && $0.contains("65% floor") }, "\(s.notes)")
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 4:") && $0.contains("floor of 0.30") }, "\(s.notes)")
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 6:") && $0.contains("specificity 3.00") }, "\(s.notes)")
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 7:") && $0.contains("15x15") && $0.contains("floor of 0.45") }, "\(s.notes)")
        // One label alone is never compared with others.
        XCTAssertEqual(v.screen([2], results: results, indices: indices).flagged, [2])
        // A label passes through any window size whose best patch clears both floors.
        var big = r(8, 1.0, 0.4, size: 15)
        big.bySize = [15: .init(flipRate: 1.0, marginRatio: 0.4), 5: .init(flipRate: 0.9, marginRatio: 0.35)]
        XCTAssertEqual(v.screen([8], results: results + [big], indices: indices + [9]).flagged, [8])
        XCTAssertEqual(v.marginFloor(size: 7), 0.3, accuracy: 1e-12)
        XCTAssertEqual(v.marginFloor(size: 13), 0.39, accuracy: 1e-12)
    }

    /// The specificity relief of the margin floor (defaults: floor 1 up to 10 px, 1.3 at 13x13; specificity
    /// floor 4.5; relief down to 0.6 of the floor): floor x min(1, max(0.6, 4.5 / specificity)).
    func testVerySpecificPatchesNeedLessMargin() {
        let v = TriggerVerification()
        XCTAssertEqual(v.effectiveMarginFloor(size: 13, specificity: 4.5), 1.3, accuracy: 1e-12)
        XCTAssertEqual(v.effectiveMarginFloor(size: 13, specificity: 6.5), 0.9, accuracy: 1e-12, "1.3 x 4.5 / 6.5")
        XCTAssertEqual(v.effectiveMarginFloor(size: 13, specificity: 20), 0.78, accuracy: 1e-12, "at most relieved to 0.6 x 1.3")
        XCTAssertEqual(v.effectiveMarginFloor(size: 5, specificity: 3), 1, accuracy: 1e-12, "never raised above the floor")
        XCTAssertEqual(v.effectiveMarginFloor(size: 5, specificity: -2), 1, accuracy: 1e-12)
        func r(_ l: Int, margin: Double, specificity: Double) -> TriggerVerification.ClassResult {
            var c = TriggerVerification.ClassResult(label: l, windowScore: 0, flipRate: 1, x: 0, y: 0, size: 13)
            c.marginRatio = margin; c.specificity = specificity
            return c
        }
        // 0: 0.95 margins at specificity 9 (floor 0.78): flagged. 1: the same margins at 5 (floor 1.17): not.
        // 2: 0.7 margins at specificity 30 (floor 0.78): not.
        let results = [r(0, margin: 0.95, specificity: 9), r(1, margin: 0.95, specificity: 5), r(2, margin: 0.7, specificity: 30)]
        let s = v.screen([0, 1, 2], results: results, indices: [5, 5, 5])
        XCTAssertEqual(s.flagged, [0])
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 1:") && $0.contains("floor of 1.17 at specificity 5.00") }, "\(s.notes)")
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 2:") && $0.contains("floor of 0.78") }, "\(s.notes)")
        XCTAssertEqual(v.evidence(anomalyIndex: 5, flipRate: 1, marginRatio: 0.9, specificity: 6.5, windowSize: 13), 1, accuracy: 1e-12,
                       "0.9 clean margins against the relieved floor 0.9")
    }

    /// The converse relief (session 15): a square winning by more than its margin floor may be less specific, down to
    /// 0.9 x 4.5 = 4.05, while margin x specificity reaches floor x 4.5. Label 20's numbers are the fifth seed's
    /// `square8-top-left` report (`neuroninspect zoo --plan plans/table3-gtsrb-seed5.json`, session 14 build: its
    /// 10x10 corner square flipped 96% of the images by 2.13 clean margins at specificity 4.22, anomaly index 4.64).
    func testPatchesWinningByWideMarginsNeedLessSpecificity() throws {
        let v = TriggerVerification()
        XCTAssertEqual(v.effectiveSpecificityFloor(size: 10, marginRatio: 1), 4.5, accuracy: 1e-12)
        XCTAssertEqual(v.effectiveSpecificityFloor(size: 10, marginRatio: 2.13), 4.05, accuracy: 1e-12, "at most relieved to 0.9 x 4.5")
        XCTAssertEqual(v.effectiveSpecificityFloor(size: 15, marginRatio: 1.6), 4.5 * 1.5 / 1.6, accuracy: 1e-12)
        XCTAssertEqual(v.effectiveSpecificityFloor(size: 10, marginRatio: 0.5), 4.5, accuracy: 1e-12, "never raised above the floor")
        XCTAssertEqual(v.effectiveSpecificityFloor(size: 10, marginRatio: -1), 4.5, accuracy: 1e-12)
        XCTAssertEqual(v.effectiveSpecificityFloor(size: TriggerVerification.fullImage, marginRatio: 3), 0)
        func results(_ passing: [(label: Int, margin: Double, spec: Double)]) -> [TriggerVerification.ClassResult] {
            (0..<43).map { l in
                var r = TriggerVerification.ClassResult(label: l, windowScore: 0, flipRate: 0.1, x: 0, y: 0, size: 10)
                for e in passing where e.label == l { r.flipRate = 0.96; r.marginRatio = e.margin; r.specificity = e.spec }
                return r
            }
        }
        let indices = [Double](repeating: 4.64, count: 43)
        // 20: 2.13 x 4.22 = 8.99 (floor 4.05): flagged. 5: 10 margins at 4.0, under 4.05. 7: 1.05 at 4.22, under 4.5 / 1.05.
        let s = v.screen([5, 7, 20], results: results([(20, 2.13, 4.22), (5, 10, 4.0), (7, 1.05, 4.22)]), indices: indices)
        XCTAssertEqual(s.flagged, [20])
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 5:") && $0.contains("specificity 4.00, below 4.05") }, "\(s.notes)")
        XCTAssertTrue(s.notes.contains { $0.hasPrefix("label 7:") && $0.contains("below 4.29") }, "\(s.notes)")
        XCTAssertEqual(v.evidence(anomalyIndex: 4.64, flipRate: 0.96, marginRatio: 2.13, specificity: 4.22, windowSize: 10), 4.22 / 4.05, accuracy: 1e-12)
        // Reports written before the key existed keep their rules: no relief, the label's evidence under 1.
        var stored = try JSONSerialization.jsonObject(with: JSONEncoder().encode(v)) as! [String: Any]
        stored["marginRelief"] = nil
        let old = try XCTUnwrap(TriggerVerification.fromSettings(String(decoding: try JSONSerialization.data(withJSONObject: stored), as: UTF8.self)))
        XCTAssertEqual(old.marginRelief, 1)
        XCTAssertEqual(old.evidence(anomalyIndex: 4.64, flipRate: 0.96, marginRatio: 2.13, specificity: 4.22, windowSize: 10), 4.22 / 4.5, accuracy: 1e-12)
        XCTAssertEqual(old.screen([20], results: results([(20, 2.13, 4.22)]), indices: indices).flagged, [])
    }

    /// The outlier test when flips and margins saturate alike and only the specificity tells: 10 labels at 100%
    /// flips and 1 clean margin, specificities 1, 1.5, 2 three times each and 6 for label 9. Specificities: median
    /// 1.5, median |deviation| 0.5, MAD 1.4826 x 0.5 (above the 0.5 floor), label 9's index 4.5 / 0.7413.
    func testSpecificityIndexFlagsTheTargetWhenFlipsAndMarginsSaturate() throws {
        let v = TriggerVerification()
        let spec: [Double] = [1, 1.5, 2, 1, 1.5, 2, 1, 1.5, 2, 6]
        let results = spec.enumerated().map { l, s in
            var c = TriggerVerification.ClassResult(label: l, windowScore: 0, flipRate: 1, x: 0, y: 0, size: 13)
            c.marginRatio = 1; c.specificity = s
            return c
        }
        let t = try v.test(results)
        XCTAssertEqual(t.flagged, [9])
        XCTAssertEqual(t.maxIndex, 4.5 / (1.4826 * 0.5), accuracy: 1e-9)
        XCTAssertEqual(t.indices[2], 0.5 / (1.4826 * 0.5), accuracy: 1e-9, "above the median: its index counts")
        XCTAssertEqual(t.indices[0], 0, "below every median")
    }

    /// The outlier test when patches saturate: 30 of 43 labels flip every image (margin ratio 3), the target
    /// too but by 30 clean margins, 12 labels flip nothing (margin -1). Flip rates: median 1, so no label is an
    /// outlier by them. Margins: median 3, median |deviation| 0 so the MAD is floored at 0.5, and the target's
    /// index is (30 - 3) / 0.5 = 54: flagged, alone.
    func testMarginIndexFlagsTheTargetWhenFlipRatesSaturate() throws {
        let v = TriggerVerification()
        func r(_ l: Int, _ flip: Double, _ margin: Double) -> TriggerVerification.ClassResult {
            var c = TriggerVerification.ClassResult(label: l, windowScore: 0, flipRate: flip, x: 0, y: 0, size: 3)
            c.marginRatio = margin
            return c
        }
        let results = (0..<43).map { l in l == 20 ? r(l, 1, 30) : l < 31 ? r(l, 1, 3) : r(l, 0, -1) }
        XCTAssertEqual(try v.mad.run(values: results.map(\.flipRate)).flagged, [], "flip rates alone find nothing")
        let t = try v.test(results)
        XCTAssertEqual(t.flagged, [20])
        XCTAssertEqual(t.maxIndex, 54, accuracy: 1e-9)
        XCTAssertEqual(t.mostAnomalous, 20)
        XCTAssertEqual(t.indices[32], 0, "below both medians: no right-tail index")
    }

    /// Large windows are fractions of the image side, merged with the fixed ones without duplicates.
    func testWindowSizesScaleWithTheImage() {
        var v = TriggerVerification(windows: [3, 5, 7])
        XCTAssertEqual(v.windowSizes(height: 32, width: 32), [3, 5, 7, 10, 15], "the default adds 0.3 and 0.45 of the side")
        XCTAssertEqual(v.windowSizes(height: 28, width: 28), [3, 5, 7, 13], "but not below 10 pixels")
        v.largeWindowMinimum = 1
        v.largeWindowFractions = []
        XCTAssertEqual(v.windowSizes(height: 32, width: 32), [3, 5, 7])
        v.largeWindowFractions = [0.3, 0.45]
        XCTAssertEqual(v.windowSizes(height: 32, width: 32), [3, 5, 7, 10, 15])
        XCTAssertEqual(v.windowSizes(height: 28, width: 28), [3, 5, 7, 9, 13])
        XCTAssertEqual(v.windowSizes(height: 6, width: 6), [2, 3, 5, 6])
    }

    /// The probe of large windows: class 2 = 20·Σ bottom-right 3x3 − 160 fires only when all nine pixels are
    /// near 1 (stamped: 20 against 14.4 or 16.2), so no 2x2 window can find it and the (zero) heatmaps point
    /// nowhere; the all-ones 3x3 square of the probe grid at (3, 3) flips every image.
    func testProbeFindsALargeTriggerTheSmallWindowsMiss() throws {
        let m = try halvesModel(backdoorWeight: { x, y in (x >= 3 && y >= 3) ? 20 : 0 }, backdoorBias: -160), x = images()
        XCTAssertEqual(argmaxRows(m.forward(x, mode: .inference)), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        let zero = HeatmapSet(maps: Tensor(shape: [3, 10, 6, 6]))
        var v = TriggerVerification(windows: [2]); v.refineSteps = 0; v.largeWindowFractions = []
        XCTAssertEqual(v.run(m, images: x, signed: zero)[2].flipRate, 0)
        v.largeWindowFractions = [0.5]; v.largeWindowMinimum = 3
        let r = v.run(m, images: x, signed: zero)
        XCTAssertEqual(r[2].flipRate, 1.0)
        XCTAssertEqual(r[2].x, 3); XCTAssertEqual(r[2].y, 3); XCTAssertEqual(r[2].size, 3)
        XCTAssertEqual(r[0].flipRate, 0); XCTAssertEqual(r[1].flipRate, 0)
    }

    /// The probe's checkerboards: class 2 = 20·(Σ of the bottom-right 3x3's pixels with x + y even − Σ of
    /// those with x + y odd) − 70 wins only when the even ones are near 1 and the odd ones near 0. The
    /// checkerboard square at (3, 3) gives it 20·5 − 70 = 30, above 14.4 (class 0) and 12.2 (class 1); an
    /// all-ones square gives 20·(5 − 4) − 70 = −50 and the inverse checkerboard −150: without the checkerboard
    /// patterns the probe (and the small windows, with zero heatmaps) flips nothing.
    func testProbeFindsACheckerboardTriggerAUniformSquareMisses() throws {
        let m = try halvesModel(backdoorWeight: { x, y in (x >= 3 && y >= 3) ? ((x + y) % 2 == 0 ? 20 : -20) : 0 },
                                backdoorBias: -70), x = images()
        XCTAssertEqual(argmaxRows(m.forward(x, mode: .inference)), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        let zero = HeatmapSet(maps: Tensor(shape: [3, 10, 6, 6]))
        var v = TriggerVerification(windows: [2]); v.refineSteps = 0
        v.largeWindowFractions = [0.5]; v.largeWindowMinimum = 3
        v.probePatterns = [.ones, .zeros, .checkerboardInverse]
        XCTAssertEqual(v.run(m, images: x, signed: zero)[2].flipRate, 0)
        v.probePatterns = TriggerVerification.ProbePattern.allCases
        let r = v.run(m, images: x, signed: zero)
        XCTAssertEqual(r[2].flipRate, 1.0)
        XCTAssertEqual(r[2].x, 3); XCTAssertEqual(r[2].y, 3); XCTAssertEqual(r[2].size, 3)
        XCTAssertEqual(r[0].flipRate, 0); XCTAssertEqual(r[1].flipRate, 0)
    }

    /// The full-image translucent probe (`blendOpacities`). Class 2 = 20·(Σ of the pixels with x + y even − Σ of
    /// those with x + y odd) − 40: on a clean image both halves hold 9 even and 9 odd pixels of one value, so it
    /// scores −40. Blended 20% with the pattern p = 1 on even pixels, 0 on odd ones, the image gives class 2
    /// 20·0.2·18 − 40 = 32 against 0.8·14.4 + 0.2·9 = 13.32 (its own class) and 3.24: every image flips, by
    /// 18.68 / 12.6 clean margins (clean margins 14.4 − 1.8). No 2x2 square can: it covers two even and two odd
    /// pixels, and ones on the even, zeros on the odd raise class 2 by 20·(2·(1 − x) + 2·x) = 40, to 0. From grey the first sign step reaches p exactly (the gradient towards 2 is
    /// −w₂ plus terms of size 1 against 20), and later steps keep it at the clip bounds. Specificity: Δ₂ = 72,
    /// the others' changes −1.08 and 1.44 (median 0.18, MAD 1.26), so (72 − 0.18) / (1.4826·1.26); the margin
    /// floor of a full-image pattern (1.5) is relieved to 0.6 of it, and label 2 is flagged.
    func testBlendProbeFindsAFullImageTranslucentTrigger() throws {
        let m = try halvesModel(backdoorWeight: { x, y in (x + y) % 2 == 0 ? 20 : -20 }, backdoorBias: -40), x = images()
        XCTAssertEqual(argmaxRows(m.forward(x, mode: .inference)), [0, 0, 0, 0, 0, 1, 1, 1, 1, 1])
        let signed = Saliency(reduction: .sum).attributeAllClasses(m, inputs: x)
        var v = TriggerVerification(windows: [2]); v.blendOpacities = []
        let squares = v.run(m, images: x, signed: signed)
        XCTAssertEqual(squares[2].flipRate, 0, "no square flips the model")
        v.blendOpacities = [0.2]
        let r = v.run(m, images: x, signed: signed)
        XCTAssertEqual(r[2].flipRate, 1.0)
        XCTAssertEqual(r[2].size, TriggerVerification.fullImage)
        XCTAssertEqual(r[2].opacity ?? 0, 0.2, accuracy: 1e-7)
        XCTAssertEqual(r[2].patch, (0..<36).map { Float(($0 / 6 + $0 % 6) % 2 == 0 ? 1 : 0) })
        XCTAssertEqual(r[2].marginRatio, 18.68 / 12.6, accuracy: 1e-4)
        XCTAssertEqual(r[2].specificity, (72 - 0.18) / (1.4826 * 1.26), accuracy: 1e-3)
        XCTAssertEqual(r[0].flipRate, 0); XCTAssertEqual(r[1].flipRate, 0)
        XCTAssertEqual(v.effectiveMarginFloor(size: TriggerVerification.fullImage, specificity: r[2].specificity), 0.9, accuracy: 1e-12)
        let preset = NeuronInspect.Preset(name: "test", explainer: Saliency(reduction: .sum), features: FeatureOptions(), verification: v)
        let report = try NeuronInspect(preset: preset).inspect(m, images: x, modelName: "hand").report
        XCTAssertEqual(report.flagged, [2], report.verdict)
        XCTAssertEqual(report.triggers?[2].opacity ?? 0, 0.2, accuracy: 1e-7)
        XCTAssertEqual(report.triggers?[2].summary, "a full-image pattern blended at 20%")
        XCTAssertEqual(report.perClass[2].features["windowSize"], 0)
    }

    /// Which candidate a class reports (`preferred`), each kind judged by its own floors (squares: specificity
    /// 4.5; full-image patterns: margin 1.5, no specificity floor). Numbers from session 9's `blend10-p2`: its
    /// 15x15 square wins by 4.76 clean margins at specificity 4.01, its pattern by 3.53 at 4.44.
    func testEachCandidateKindIsJudgedByItsOwnFloors() {
        let v = TriggerVerification()
        func square(_ flip: Double, _ margin: Double, _ spec: Double) -> TriggerVerification.ClassResult {
            var r = TriggerVerification.ClassResult(label: 20, windowScore: 0, flipRate: flip, x: 0, y: 0, size: 15)
            r.marginRatio = margin; r.specificity = spec; r.bySize = [15: .init(flipRate: flip, marginRatio: margin)]
            return r
        }
        func blend(_ flip: Double, _ margin: Double, _ spec: Double) -> TriggerVerification.ClassResult {
            var r = TriggerVerification.ClassResult(label: 20, windowScore: 0, flipRate: flip, x: 0, y: 0, size: TriggerVerification.fullImage)
            r.marginRatio = margin; r.specificity = spec; r.opacity = 0.2
            r.bySize = [TriggerVerification.fullImage: .init(flipRate: flip, marginRatio: margin)]
            return r
        }
        // The square fails its specificity floor, the pattern passes: the pattern, and the label is flagged.
        let p = v.preferred(square: square(1, 4.76, 4.01), blend: blend(1, 3.53, 4.44))
        XCTAssertEqual(p.opacity, 0.2); XCTAssertEqual(p.marginRatio, 3.53)
        XCTAssertEqual(p.alternatives.map(\.size), [15])
        // The report carries both kinds: the pattern as reported, the square that lost beside it.
        XCTAssertEqual(NeuronInspect.blendFeatures(p), ["blendFlipRate": 1, "blendMarginRatio": 3.53, "blendSpecificity": 4.44])
        XCTAssertEqual(NeuronInspect.squareFeatures(p),
                       ["squareFlipRate": 1, "squareMarginRatio": 4.76, "squareSpecificity": 4.01, "squareWindowSize": 15])
        XCTAssertEqual(v.screen([20], results: Array(repeating: p, count: 21), indices: Array(repeating: 9, count: 21)).flagged, [20])
        // Both pass: the one that wins by more.
        XCTAssertEqual(v.preferred(square: square(1, 4.76, 5), blend: blend(1, 3.53, 4.44)).size, 15)
        // Only the square passes, though the pattern wins by more: both floors are 1.5 (15x15 and full image),
        // relieved to 1.5 x 4.5 / 5 = 1.35 at specificity 5; the square's 1.4 clears it, the pattern's 1.3 not.
        XCTAssertEqual(v.preferred(square: square(0.9, 1.4, 5), blend: blend(1, 1.3, 5)).size, 15)
        // Neither passes: the one that flips more images.
        let none = v.preferred(square: square(0.9, 0.5, 2), blend: blend(1, 0.2, 2))
        XCTAssertEqual(none.size, TriggerVerification.fullImage)
        XCTAssertFalse(v.passes(none))
        // The ROC score of a full-image candidate: no specificity term, the margin against 1.5 (not relieved
        // at specificity 3.3): min(9 / 2, 1 / 0.65, 2.29 / 1.5).
        XCTAssertEqual(v.evidence(anomalyIndex: 9, flipRate: 1, marginRatio: 2.29, specificity: 3.3, windowSize: TriggerVerification.fullImage),
                       2.29 / 1.5, accuracy: 1e-12)
        XCTAssertEqual(v.evidence(anomalyIndex: 9, flipRate: 1, marginRatio: 2.29, specificity: 3.3, windowSize: 15),
                       3.3 / 4.05, accuracy: 1e-12, "a square's specificity counts (its floor relieved to 0.9 x 4.5 at 2.29 clean margins)")
    }

    /// Which window size a class reports (`preferredSquare`), each size's best square judged by its own floors with
    /// its own specificity. Numbers from `square8-top-left` of `plans/table3-gtsrb-seed3.json` (`neuroninspect
    /// scan`, sessions 12 and 13): the 10x10 square flipped 92% of the images by 1.55 clean margins at specificity
    /// 3.57, the 7x7 one 85% by 3.40 at 5.37. Ranked by flip rate first the 10x10 was reported and the label missed.
    func testEachWindowSizeIsJudgedByItsOwnFloors() {
        let v = TriggerVerification()
        func square(_ size: Int, _ flip: Double, _ margin: Double, _ spec: Double) -> TriggerVerification.ClassResult {
            var r = TriggerVerification.ClassResult(label: 20, windowScore: 0, flipRate: flip, x: 0, y: 0, size: size)
            r.marginRatio = margin; r.specificity = spec
            return r
        }
        let ten = square(10, 0.92, 1.55, 3.57), seven = square(7, 0.85, 3.40, 5.37), three = square(3, 0.40, 0.2, 2)
        let pick = v.preferredSquare([three, seven, ten])
        XCTAssertEqual(pick.size, 7); XCTAssertEqual(pick.marginRatio, 3.40); XCTAssertEqual(pick.specificity, 5.37)
        XCTAssertEqual(pick.bySize[10], .init(flipRate: 0.92, marginRatio: 1.55, specificity: 3.57))
        XCTAssertTrue(v.passes(pick))
        XCTAssertEqual(v.passingMargin(pick), 3.40, "the 10x10 square's margin does not count: its own specificity fails")
        // A label whose only size clearing the margin floor fails the specificity floor is named for that floor.
        var adversarial = ten; adversarial.bySize = [10: .init(flipRate: 1, marginRatio: 9.40, specificity: 2.56)]
        adversarial.flipRate = 1; adversarial.marginRatio = 9.40; adversarial.specificity = 2.56
        let note = v.screen([20], results: Array(repeating: adversarial, count: 21), indices: Array(repeating: 6, count: 21)).notes
        XCTAssertTrue(note.count == 1 && note[0].contains("raises the other labels too (specificity 2.56 with the patch that wins by 9.40"), "\(note)")
        XCTAssertEqual(v.screen([20], results: Array(repeating: pick, count: 21), indices: Array(repeating: 6, count: 21)).flagged, [20])
        // Before session 13 the class's one specificity (the 10x10's) judged every size: nothing passed.
        var old = ten; old.bySize = [10: .init(flipRate: 0.92, marginRatio: 1.55), 7: .init(flipRate: 0.85, marginRatio: 3.40)]
        XCTAssertFalse(v.passes(old))
        // Two passing sizes: the one that wins by more, whatever it flips.
        XCTAssertEqual(v.preferredSquare([square(7, 0.85, 3.4, 5.4), square(10, 1, 2.9, 6)]).size, 7)
        // None passing: the one that flips most, then wins by more (the pre-session-13 choice).
        XCTAssertEqual(v.preferredSquare([three, ten, square(15, 0.92, 1.2, 3)]).size, 10)
    }

    /// Within a window size, the most flipping square and the most confident one clearing the flip floor are both
    /// kept (`SquareShortlist`) and judged by their own floors. Numbers from the 7x7 squares of label 20 on
    /// `square8-top-left` of `plans/table3-gtsrb-seed4.json` (`neuroninspect scan` with a diagnostic build printing
    /// every square measured, session 14; margins in clean margins, the clean margin 1 here): (4, 8) flipped 86%
    /// by 0.65 at specificity 2.16, the white corner square (0, 0) 84% by 2.84 at 5.45, (2, 1) 73% by 0.82.
    func testWithinAWindowSizeTheFloorsJudgeToo() {
        typealias V = TriggerVerification
        func patch(_ x: Int, _ y: Int) -> V.Patch { V.Patch(x: x, y: y, size: 7, values: [Float](repeating: 1, count: 3 * 49)) }
        var list = V.SquareShortlist(minimumFlipRate: V().minimumFlipRate)
        list.keep(V.Effect(flipRate: 0.755, probability: 0, margin: 0.55), patch(3, 4))
        list.keep(V.Effect(flipRate: 0.857, probability: 0, margin: 0.65), patch(4, 8))
        list.keep(V.Effect(flipRate: 0.837, probability: 0, margin: 2.84), patch(0, 0))
        list.keep(V.Effect(flipRate: 0.735, probability: 0, margin: 0.82), patch(2, 1))
        list.keep(V.Effect(flipRate: 0.60, probability: 0, margin: 5.0), patch(9, 9))   // under the flip floor: not kept
        XCTAssertEqual(list.sizes, [7])
        XCTAssertEqual(list.candidates(size: 7).map { [$0.patch.x, $0.patch.y] }, [[4, 8], [0, 0]])
        func result(_ flip: Double, _ margin: Double, _ spec: Double, at x: Int) -> V.ClassResult {
            var r = V.ClassResult(label: 20, windowScore: 0, flipRate: flip, x: x, y: 0, size: 7)
            r.marginRatio = margin; r.specificity = spec
            return r
        }
        let pick = V().preferredSquare([result(0.857, 0.65, 2.16, at: 4), result(0.837, 2.84, 5.45, at: 0)])
        XCTAssertEqual(pick.x, 0); XCTAssertTrue(V().passes(pick))
        XCTAssertEqual(V().preferredSquare([result(0.857, 0.65, 2.16, at: 4), result(0.837, 0.9, 3, at: 0)]).x, 4,
                       "neither passing: the most flipping, as before session 14")
        // One square both most flipping and most confident is one candidate.
        var one = V.SquareShortlist(minimumFlipRate: 0.65)
        one.keep(V.Effect(flipRate: 0.9, probability: 0, margin: 3), patch(0, 0))
        one.keep(V.Effect(flipRate: 0.8, probability: 0, margin: 1), patch(1, 1))
        XCTAssertEqual(one.candidates(size: 7).count, 1)
    }

    /// When several labels pass every floor, those whose margin x specificity is under 90% of the strongest one's
    /// are named in a note, not flagged. Numbers from `neuroninspect scan` reports: `checkerboard8-top-left` of
    /// `plans/table3-gtsrb-seed3.json` (session 12: target 20 by 16.63 clean margins at specificity 6.54, label 25's
    /// checkerboard elsewhere by 9.31 at 7.60) and session 7's `checkerboard12-top-left` (docs/DETECTION.md: 20 by
    /// 12.5 at 6.0, 13 by 11.9 at 6.6, a near tie).
    func testWeakerCandidatesBesideAStrongerOneAreNamedNotFlagged() {
        let v = TriggerVerification()
        func results(_ a: (label: Int, margin: Double, spec: Double), _ b: (label: Int, margin: Double, spec: Double)) -> [TriggerVerification.ClassResult] {
            (0..<43).map { l in
                var r = TriggerVerification.ClassResult(label: l, windowScore: 0, flipRate: 0.1, x: 0, y: 0, size: 10)
                for e in [a, b] where e.label == l { r.flipRate = 1; r.marginRatio = e.margin; r.specificity = e.spec }
                return r
            }
        }
        let indices = [Double](repeating: 10, count: 43)
        let eight = v.screen([20, 25], results: results((20, 16.63, 6.54), (25, 9.31, 7.60)), indices: indices)
        XCTAssertEqual(eight.flagged, [20], "9.31 x 7.60 = 70.8 is 65% of 16.63 x 6.54 = 108.8")
        XCTAssertTrue(eight.notes.contains { $0.hasPrefix("label 25: its patch passes every floor") && $0.contains("label 20's 108.76") }, "\(eight.notes)")
        XCTAssertEqual(v.screen([13, 20], results: results((20, 12.5, 6.0), (13, 11.9, 6.6)), indices: indices).flagged, [13, 20],
                       "78.5 against 75.0: a near tie keeps both")
        var off = v; off.secondaryEvidenceShare = 0
        XCTAssertEqual(off.screen([20, 25], results: results((20, 16.63, 6.54), (25, 9.31, 7.60)), indices: indices).flagged, [20, 25],
                       "without the share (reports before session 13) the margin share alone keeps 25 (9.31 > 0.5 x 16.63)")
    }

    /// A blended patch is stamped in the model's normalisation: raw (1 − α)·r + α·p, i.e. normalised
    /// (1 − α)·x + α·(p − mean) / std. With mean 0.5, std 0.25, α = 0.2: a pixel x = 2 (raw 1) blended with p = 0
    /// becomes 0.8·2 + 0.2·(−2) = 1.2 (raw 0.8).
    func testBlendIsStampedInTheModelsNormalisation() {
        var v = TriggerVerification(windows: [2]); v.mean = [0.5]; v.std = [0.25]
        let x = Tensor(shape: [1, 1, 2, 2], repeating: 2)
        let stamped = Tensor(shape: [0])
        let patch = TriggerVerification.Patch(x: 0, y: 0, size: TriggerVerification.fullImage, values: [0, 1, 0.5, 0], opacity: 0.2)
        v.stamp(x, others: [0], patch: patch, into: stamped)
        XCTAssertEqual((0..<4).map { stamped[$0] }, [1.2, 2, 1.6, 1.2].map { Float($0) })
    }

    /// The probe's batched `effects` (one stamped batch for every class) equals the per-class `effect`.
    func testBatchedEffectsEqualThePerClassEffect() throws {
        let m = try model(), x = images()
        let predictions = argmaxRows(m.forward(x, mode: .inference))
        let v = TriggerVerification(windows: [2])
        for (px, py, value) in [(0, 0, Float(1)), (3, 2, 1), (1, 4, 0)] {
            let patch = TriggerVerification.Patch(x: px, y: py, size: 2, values: [Float](repeating: value, count: 4))
            let all = v.effects(m, images: x, predictions: predictions, patch: patch, stamped: Tensor(shape: [0]))
            for cl in 0..<3 {
                let one = v.effect(m, images: x, predictions: predictions, label: cl, patch: patch, stamped: Tensor(shape: [0]))
                XCTAssertEqual(all[cl].flipRate, one.flipRate, "class \(cl) at (\(px), \(py))")
                XCTAssertEqual(all[cl].probability, one.probability, accuracy: 1e-12)
                XCTAssertEqual(all[cl].margin, one.margin, accuracy: 1e-6)
            }
        }
    }
}
