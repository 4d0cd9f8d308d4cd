import Foundation
import NITensor
import NINetwork
import NIExplainers

/// Our extension of NeuronInspect (not in the paper): each class's heatmaps point at a candidate trigger
/// region, and the model itself is asked whether a patch there flips clean images to that class.
///
/// 1. Localise: per class `c`, the mean share of heatmap mass at each pixel, minus the per-pixel median over
///    classes (what `c` looks at that other classes do not); for each window size, the square with the
///    largest sum, stamped with 1 where the class's mean signed gradient is positive and 0 elsewhere.
/// 2. Probe the large windows (`largeWindowFractions` of the image side: 10x10 and 15x15 on 32x32), and the small ones on
///    images too small for a large one (`probeSmallWindows`; elsewhere at the four corners, `probeCorners`, with
///    1- and 2-pixel squares up to 2 pixels in from each corner's edges, `cornerPointSizes`):
///    all-ones, all-zeros and 1-pixel checkerboard squares (`probePatterns`) at a grid of places, one stamped
///    batch answering for every class. A 10-14 pixel trigger's parts do not flip the model and saliency does
///    not point at it, but a square covering it does.
/// 3. Refine: a partly present trigger opens the ReLU gates that hide it on clean images (shared notes,
///    item 2), so the gradient of the cross-entropy towards `c` on the *stamped* images points at the rest
///    of it. `refineSteps` first-order steps per window size move the window (at most `searchRadius` pixels a
///    step) to the square of largest linear gain and reset its values to 0/1 by the gradient's sign. Sizes
///    go from small to large, each larger one also starting centred on the best window so far.
///    Last, a full-image translucent pattern per class (`blendOpacities`, `blendSearch`): projected sign-gradient
///    steps on a pattern blended over the whole image, for triggers that are not squares (the paper's 10% blend).
/// 4. Verify: the flip rate, the fraction of clean images not predicted as `c` that the model assigns to
///    `c` with the best patch stamped, and the margin ratio, how confidently the patch wins (median margin of
///    `c` on the stamped images over the median top-1 margin of the clean ones). A backdoor target flips most
///    images and wins by 1-4 clean margins; a benign class's adversarial patch flips fewer and wins narrowly.
/// 5. Test: the MAD outlier test (right tail) on the flip rates (MAD floored at 0.05 so that the many zero
///    rates of a clean model keep indices finite), on the margin ratios (floored at 0.5) and on the patch
///    specificities (floored at 0.5), a label's index the largest of its three (`test`): when a backdoor makes
///    the model open to patches, many labels flip every image and only the margin or the specificity still sets
///    the target apart. A flagged label must also reach `minimumFlipRate` (65%, chosen on two MNIST zoos and
///    checked on a third) with a window whose margin ratio reaches `effectiveMarginFloor` (1 clean margin, more
///    for windows over 10 pixels, less for very specific patches) and a patch `specificity` of
///    `minimumSpecificity` (less for patches winning by a wide margin, `effectiveSpecificityFloor`), and when
///    several pass, those whose margin ratio is under `secondaryMarginShare` of the strongest one's, or whose
///    margin x specificity is under `secondaryEvidenceShare` of the strongest one's, are dropped (`screen`;
///    docs/DETECTION.md).
public struct TriggerVerification: Codable, Sendable {
    /// Square window sizes tried per class; each size's shortlisted squares (`SquareShortlist`) are judged by their own
    /// floors, and the passing one that wins by most counts (`preferredSquare`).
    public var windows: [Int]
    public var minimumFlipRate: Double
    /// The outlier test on the flip rates.
    public var mad: MADOutlierTest
    /// The outlier test on the margin ratios (same threshold and tail as `mad`; the floor keeps a clean model's
    /// narrow spread of margins from making small differences outliers).
    public var marginMAD = MADOutlierTest(tail: .right, minimumMAD: 0.5)
    /// First-order refinement steps per class, window size and start (0: off), moving the window up to
    /// `searchRadius` pixels a step. With more than `refineClasses` classes (nil: no limit), all classes get one
    /// screening step per size and the `refineClasses` with the highest flip rates get the full search.
    public var refineSteps: Int = 3
    public var refineClasses: Int? = 10
    /// Images (not predicted as the class) whose gradient drives a refinement step; flip rates use all.
    public var refineImages: Int = 16
    public var searchRadius: Int = 2
    /// When several labels pass, a label whose `marginRatio` is below this share of the largest among them is
    /// not flagged. A trojaned model is often also open to adversarial patches for a few other classes (on
    /// GTSRB, 65-92% flips), but those flips are narrow wins: median margins 0.2-0.4x the real target's, whose
    /// patch wins by 1.5-4.5 clean margins (docs/DETECTION.md).
    public var secondaryMarginShare: Double = 0.5
    /// When several labels pass, a label whose evidence (its passing margin ratio x that patch's specificity, the
    /// product the relieved margin floor bounds) is below this share of the largest among them is not flagged but
    /// named in a note as a weaker candidate (session 13; 0: off). On a checkerboard-trojaned net the checkerboard
    /// stamped elsewhere also drives a few labels confidently and singly, and on Table 3's third seed the target's
    /// evidence was 1.2-1.8x theirs (and 1.6x a lone adversarial patch's beside a 6x6 square); a near tie keeps
    /// both (docs/DETECTION.md, "Session 13").
    public var secondaryEvidenceShare: Double = 0.9
    /// Larger windows added as fractions of the image side (a 14x14 trigger on a 32x32 image is not found
    /// by a 7x7 window: its parts do not flip the model, and a 10x10 one reached 8% of the images where a 15x15
    /// one reached 100%), when at least `largeWindowMinimum` pixels: 10x10 and 15x15 on 32x32 GTSRB, 13x13 on
    /// 28x28 MNIST (a 9x9 window there made benign patches flip up to 73% of the images in a session-3 trial;
    /// the 13x13 one flips up to 96% but wins by at most 0.51 clean margins, under `marginFloor`).
    public var largeWindowFractions: [Double] = [0.3, 0.45]
    public var largeWindowMinimum: Int = 10
    /// Labels are flagged only if a window's best patch flips `minimumFlipRate` of the images and wins by at
    /// least `marginFloor(size:)` clean margins: a backdoor's trigger wins at least as confidently as the model's
    /// ordinary predictions (every MNIST and GTSRB target of the session-5 zoos by 1.07 or more), the benign
    /// classes' adversarial patches narrowly (MNIST at most 0.51, GTSRB 10x10 patches at most 0.92).
    public var minimumMarginRatio: Double = 1
    /// Beyond this window side (pixels) the margin floor grows in proportion (`marginFloor(size:)`).
    public var marginFloorWindow: Int = 10
    /// Labels are flagged only if their patch's `specificity` reaches this: a backdoor raises its label alone
    /// (targets of the session-5 zoos 4.6-8.3), an adversarial patch of a trojaned or benign net lifts several
    /// labels at once (at most 4.2 beside a white-square target; docs/DETECTION.md).
    public var minimumSpecificity: Double = 4.5
    /// The outlier test on the specificities (right tail, MAD floored at 0.5), the third index of `test`: with
    /// 13x13 patches many MNIST labels flip every image and win by similar margins, and only the target's patch
    /// raises its label alone (session 6: a 4x4 target at 100% flips, specificity 5.3, anomaly index 1.42 by
    /// flips and margins; docs/DETECTION.md, "Session 7").
    public var specificityMAD = MADOutlierTest(tail: .right, minimumMAD: 0.5)
    /// A patch more specific than `minimumSpecificity` needs a proportionally lower margin, down to this share of
    /// its window's `marginFloor`: a label passes when margin ratio x specificity reaches floor x
    /// `minimumSpecificity` (`effectiveMarginFloor`). Session 6's MNIST targets missed by the floor alone had
    /// specificity 4.9-9.8 and 0.90-1.23 clean margins; benign MNIST patches win by at most 0.51.
    public var specificityRelief: Double = 0.6
    /// The converse relief (session 15): a square winning by more than its window's `marginFloor` may be
    /// proportionally less specific, down to this share of `minimumSpecificity`, under the same bound, margin ratio
    /// x specificity at least floor x `minimumSpecificity` (`effectiveSpecificityFloor`). Worked out on the fifth
    /// seed's `square8-top-left` (docs/DETECTION.md, "Session 15"): its white 10x10 corner square flipped 96% of the
    /// images by 2.13 clean margins at specificity 4.22 (anomaly index 4.64, next label 2.53). On trojaned GTSRB
    /// nets other labels' patches win by up to 50 clean margins at specificity 3-4.5, so the relief stops at 0.9.
    public var marginRelief: Double = 0.9
    /// The squares stamped by the probe (step 2). Uniform squares find uniform triggers; the two
    /// 1-pixel checkerboard phases find checkerboard ones, whose parts a uniform square does not match.
    public var probePatterns: [ProbePattern] = ProbePattern.allCases
    /// Probe the fixed (small) window sizes too, not only the large ones; nil (the default): only on images too
    /// small for a large window (under 32 px with the defaults). On 28x28 MNIST trained with Table 1's recipe,
    /// saliency does not point at the trigger and only the probe of the small windows finds it; on 32x32 GTSRB
    /// the 10x10 probe and saliency find Table 3's triggers, and probing the small windows as well made a
    /// speed-limit class (30 km/h) reachable by 7x7 patches 0.5-0.8x as confidently as the target on three
    /// models, flagged beside it (docs/DETECTION.md, "Session 4").
    public var probeSmallWindows: Bool? = nil
    /// Where the small windows are not probed everywhere (`probeSmallWindows`), probe them at the four corners
    /// of the image, flush with its edges: BadNets triggers sit in corners (Tables 2 and 3, Figure 4), and a
    /// small trigger at a corner that saliency does not point at is missed otherwise (session 7: four 6x6
    /// squares, one per corner, on GTSRB; no 10x10 or 15x15 square there flipped the model). Four places per
    /// size, not the whole grid whose 7x7 patches made a speed-limit class pass (docs/DETECTION.md, "Session 8").
    public var probeCorners: Bool = true
    /// Point probe (session 16): squares this small (pixels) stamped near each corner, `cornerPointOffsets` places
    /// from each edge or fewer, each measured on all images. A net trained hard on a tiny trigger (Table 1's own MNIST
    /// recipe: Adam at lr 0.01, 1% poisoning) can learn it as an isolated pixel on a dark background: a 3x3 square
    /// covering it paints the neighbourhood the net learnt must stay dark (13% flips where the exact pixel flips
    /// 100% and a 2x2 square 89%), and the gradient on those stamped images does not see the pixel (its ReLUs stay
    /// closed), so neither the corner probe nor the refinement reaches it (docs/DETECTION.md, "Session 16").
    public var cornerPointSizes: [Int] = [1, 2]
    /// How far from the edges the point probe goes: offsets 0 to this, on both axes, at each corner.
    public var cornerPointOffsets: Int = 2
    /// Images the probe's grid is screened on (the first ones); the best square per class is then measured on
    /// all images.
    public var probeImages = 16
    /// Full-image translucent probe (`blendSearch`): for each opacity α here, each class's pattern p over the
    /// whole image, blended as `(1 − α)·x + α·p`, is searched by projected sign-gradient steps and competes with
    /// the class's squares (empty: off). A translucent full-image trigger (the paper's 10% blend) is not a
    /// square: a 15x15 patch reproduces only part of it (session 7: 100% flips but 1.40 clean margins and
    /// specificity 2.9 on a blend-trojaned GTSRB net; docs/DETECTION.md, "Session 9"). 0.2, twice the paper's
    /// opacity: at 0.1 that net's target pattern won by 1.09 clean margins, at 0.2 by 2.29, while the other
    /// labels of five GTSRB nets (two benign) stayed at 0.71 or less and MNIST's at 0.12.
    public var blendOpacities: [Double] = [0.2]
    /// Sign-gradient steps per class and opacity (step sizes 0.5, 0.25, 0.25, then 0.125).
    public var blendSteps: Int = 6
    /// With more classes than `refineClasses`, the steps every class gets before the `refineClasses` strongest
    /// patterns get the rest.
    public var blendScreenSteps: Int = 2
    /// The clean-margin floor of a full-image pattern (window size `fullImage` in `bySize`), before the
    /// specificity relief: the 15x15 window's, about twice the best benign pattern's 0.71 (session 9 tuning).
    public var blendMarginFloor: Double = 1.5
    /// The `minimumSpecificity` of a full-image pattern: every logit moves when the whole image does, and on
    /// session 7's GTSRB nets benign classes' patterns reached specificity 3.8 and a weakly learnt blend's
    /// target 3.3, so only the margin separates them (benign at most 0.71 clean margins, the target 2.29).
    public var blendMinimumSpecificity: Double = 0
    /// Per-channel mean and standard deviation the model's inputs were normalised with (`x = (raw - mean) / std`,
    /// raw pixels in [0, 1]; empty: not normalised). Patches are chosen in raw pixel values (0 or 1, black or
    /// white) and stamped normalised, so a model that expects ImageNet-normalised inputs sees real black and
    /// white squares.
    public var mean: [Float] = []
    public var std: [Float] = []

    /// A raw pixel value `v` of channel `ch` as the model sees it.
    @inline(__always) func normalised(_ v: Float, channel ch: Int) -> Float {
        let m = ch < mean.count ? mean[ch] : 0, s = ch < std.count ? std[ch] : 1
        return (v - m) / s
    }

    /// A probe square's pattern: all ones, all zeros, or a 1-pixel checkerboard whose ones sit where the image
    /// coordinates' sum `x + y` is even (`checkerboard`) or odd (`checkerboardInverse`).
    public enum ProbePattern: String, Codable, Sendable, CaseIterable {
        case ones, zeros, checkerboard, checkerboardInverse
        func value(x: Int, y: Int) -> Float {
            switch self {
            case .ones: return 1
            case .zeros: return 0
            case .checkerboard: return (x + y) % 2 == 0 ? 1 : 0
            case .checkerboardInverse: return (x + y) % 2 == 1 ? 1 : 0
            }
        }
        /// The `size` x `size` square of this pattern at `(x, y)`, every channel alike.
        func patch(x: Int, y: Int, size k: Int, channels c: Int) -> Patch {
            var patch = Patch(x: x, y: y, size: k, values: [Float](repeating: 0, count: c * k * k))
            for ch in 0..<c { for dy in 0..<k { for dx in 0..<k {
                patch.values[(ch * k + dy) * k + dx] = value(x: x + dx, y: y + dy)
            } } }
            return patch
        }
    }

    /// The window sizes for `h` x `w` images: `windows`, then the large ones, in increasing order.
    public func windowSizes(height h: Int, width w: Int) -> [Int] {
        let side = Swift.min(h, w)
        let large = largeWindowFractions.map { Int(($0 * Double(side)).rounded(.up)) }.filter { $0 >= largeWindowMinimum }
        return Array(Set((windows + large).map { Swift.min($0, side) })).sorted()
    }

    public init(windows: [Int] = [3, 5, 7], minimumFlipRate: Double = 0.65,
                mad: MADOutlierTest = MADOutlierTest(tail: .right, minimumMAD: 0.05)) {
        self.windows = windows; self.minimumFlipRate = minimumFlipRate; self.mad = mad
    }

    public struct ClassResult: Sendable {
        public var label: Int
        public var windowScore: Double
        public var flipRate: Double
        /// Mean softmax probability of the class on the stamped images (a backdoor's is near 1).
        public var probability: Double = 0
        public var x: Int, y: Int, size: Int
        /// Median over the stamped images of the class's logit margin (its logit minus the largest other),
        /// divided by the median top-1 margin of the clean images: how confidently the patch wins, in units of
        /// the model's ordinary confidence (a backdoor's is about 1 or more; see `secondaryMarginShare`).
        public var marginRatio: Double = 0
        /// The best patch's values `[C, size, size]` (stamped at `x`, `y`): the candidate trigger; with an
        /// `opacity` (size `fullImage`), a pattern `[C, H, W]` blended over the whole image at that opacity.
        public var patch: [Float] = []
        public var opacity: Double? = nil
        /// The best flip rate and margin ratio reached with each window size tried (the squares' sizes, or
        /// `fullImage` for a full-image pattern), and the specificity of that size's best patch (`preferredSquare`).
        public var bySize: [Int: SizeBest] = [:]
        /// The class's best candidate of the other kind (its best full-image pattern when this is a square, and
        /// the reverse), which did not pass its floors or won by less (`run`); empty without `blendOpacities`.
        public var alternatives: [ClassResult] = []
        /// How singly the best patch raises this class and no other: on each stamped image, the class's logit
        /// change minus the median change of the other classes, in units of the others' spread (1.4826 MAD),
        /// median over the images. A backdoor is trained to raise one label; an adversarial patch, or a strong
        /// feature at a place the network never learned (a checkerboard on a checkerboard-trojaned net),
        /// moves many logits at once and its label only tops a broad shift (docs/DETECTION.md).
        public var specificity: Double = 0

        public init(label: Int, windowScore: Double, flipRate: Double, probability: Double = 0, x: Int, y: Int, size: Int,
                    marginRatio: Double = 0, patch: [Float] = []) {
            self.label = label; self.windowScore = windowScore; self.flipRate = flipRate; self.probability = probability
            self.x = x; self.y = y; self.size = size; self.marginRatio = marginRatio; self.patch = patch
        }
    }

    /// A class's best patch of one window size.
    /// `specificity` is that patch's own (nil until measured: then the class's reported one stands for it).
    public struct SizeBest: Sendable, Equatable {
        public var flipRate: Double, marginRatio: Double
        public var specificity: Double? = nil
        public init(flipRate: Double, marginRatio: Double, specificity: Double? = nil) {
            self.flipRate = flipRate; self.marginRatio = marginRatio; self.specificity = specificity
        }
    }

    /// `signed` holds signed heatmaps `[classes, N, H, W]` (e.g. SmoothGrad of rectified saliency summed over
    /// channels); `images` the clean images they explain.
    public func run(_ model: Model, images: Tensor, signed: HeatmapSet) -> [ClassResult] {
        let classes = signed.classes, n = signed.images, h = signed.height, w = signed.width, hw = h * w
        let c = images.shape[1]
        // Per-class mean mass share and mean signed gradient.
        var share = [Float](repeating: 0, count: classes * hw), mean = share
        for cl in 0..<classes {
            for i in 0..<n {
                let m = signed.map(class: cl, image: i)
                var total: Float = 0
                for p in 0..<hw { total += abs(m[p]) }
                let inv = total > 0 ? 1 / total : 0
                for p in 0..<hw { share[cl * hw + p] += abs(m[p]) * inv / Float(n); mean[cl * hw + p] += m[p] / Float(n) }
            }
        }
        var median = [Float](repeating: 0, count: hw)
        var column = [Float](repeating: 0, count: classes)
        for p in 0..<hw {
            for cl in 0..<classes { column[cl] = share[cl * hw + p] }
            column.sort()
            median[p] = classes % 2 == 1 ? column[classes / 2] : (column[classes / 2 - 1] + column[classes / 2]) / 2
        }
        let cleanLogits = model.forward(images, mode: .inference)
        let cleanRows = Array(UnsafeBufferPointer(start: cleanLogits.data, count: cleanLogits.count))
        let predictions = argmaxRows(cleanLogits)
        let cleanMargin = Swift.max(1e-6, Self.median((0..<n).map { Self.margin(cleanLogits.data + $0 * cleanLogits.shape[1], classes: cleanLogits.shape[1], label: nil) }))
        let stamped = Tensor(shape: [0])
        var results: [ClassResult] = []
        var initial: [[Int: (x: Int, y: Int)]] = []
        // Each class's shortlisted squares of each window size, judged by their own floors at the end: the patches
        // behind `ClassResult.bySize`'s numbers, which reports carry without them.
        var squares = [SquareShortlist](repeating: SquareShortlist(minimumFlipRate: minimumFlipRate), count: classes)
        let windows = windowSizes(height: h, width: w)
        for cl in 0..<classes {
            // Integral image of the contrast map (what this class looks at that the median class does not).
            var integral = [Double](repeating: 0, count: (h + 1) * (w + 1))
            for y in 0..<h {
                var row = 0.0
                for x in 0..<w {
                    row += Double(share[cl * hw + y * w + x] - median[y * w + x])
                    integral[(y + 1) * (w + 1) + x + 1] = integral[y * (w + 1) + x + 1] + row
                }
            }
            var chosen = ClassResult(label: cl, windowScore: 0, flipRate: -1, x: 0, y: 0, size: 0)
            var starts: [Int: (x: Int, y: Int)] = [:]
            for size in windows {
                let k = Swift.min(size, h, w)
                var best = -Double.infinity, bx = 0, by = 0
                for y in 0...(h - k) {
                    for x in 0...(w - k) {
                        let s = integral[(y + k) * (w + 1) + x + k] - integral[y * (w + 1) + x + k]
                            - integral[(y + k) * (w + 1) + x] + integral[y * (w + 1) + x]
                        if s > best { best = s; bx = x; by = y }
                    }
                }
                starts[size] = (bx, by)
                let sp = signPatch(mean, label: cl, x: bx, y: by, size: k, channels: c, height: h, width: w)
                let e = effect(model, images: images, predictions: predictions, label: cl,
                                    patch: sp,
                                    stamped: stamped)
                chosen.bySize[k] = SizeBest(flipRate: e.flipRate, marginRatio: e.margin / cleanMargin)
                squares[cl].keep(e, sp)
                if e > Effect(flipRate: chosen.flipRate, probability: chosen.probability, margin: chosen.marginRatio * cleanMargin) {
                    let sizes = chosen.bySize
                    chosen = ClassResult(label: cl, windowScore: best, flipRate: e.flipRate, probability: e.probability, x: bx, y: by, size: k,
                                         marginRatio: e.margin / cleanMargin, patch: sp.values)
                    chosen.bySize = sizes
                }
            }
            results.append(chosen)
            initial.append(starts)
        }
        // Refine: a partly stamped trigger opens the ReLU gates that hide it on clean images, so the gradient
        // on the stamped images points at the rest of it. A few first-order steps per class and window size
        // move the window (up to `searchRadius` pixels a step) and reset its pattern; the best flip rate wins (ties: the larger margin).
        // With more classes than `refineClasses`, a screening step (one refinement step per class and size)
        // picks the classes that get the full search.
        // Each class's best full-image pattern, kept apart from its squares (`blendOpacities`).
        var blends = (0..<classes).map { ClassResult(label: $0, windowScore: 0, flipRate: -1, x: 0, y: 0, size: Self.fullImage) }
        func record(_ e: Effect, _ patch: Patch, into r: inout ClassResult) {
            let m = e.margin / cleanMargin
            if let b = r.bySize[patch.size], (b.flipRate, b.marginRatio) >= (e.flipRate, m) {} else {
                r.bySize[patch.size] = SizeBest(flipRate: e.flipRate, marginRatio: m)
            }
            if patch.opacity == nil { squares[r.label].keep(e, patch) }
            if e > Effect(flipRate: r.flipRate, probability: r.probability, margin: r.marginRatio * cleanMargin) {
                r.flipRate = e.flipRate; r.probability = e.probability; r.marginRatio = m
                r.x = patch.x; r.y = patch.y; r.size = patch.size; r.patch = patch.values
                r.opacity = patch.opacity.map(Double.init)
            }
        }
        @discardableResult func update(_ cl: Int, _ patch: Patch) -> Effect {
            let e = effect(model, images: images, predictions: predictions, label: cl, patch: patch, stamped: stamped)
            if patch.opacity == nil { record(e, patch, into: &results[cl]) } else { record(e, patch, into: &blends[cl]) }
            return e
        }
        // Probe: every class's response to a uniform or checkerboard square at a grid of places, for every window
        // size. A trigger that saliency does not point at (a large one, whose parts do not flip the model, or one
        // the training recipe hid) is still flipped by a square covering it, and one stamped batch answers for
        // every class at once. The grid is screened on the first `probeImages` images; each class's best square
        // over all sizes is then measured on all of them.
        var probed: [[Int: Patch]] = Array(repeating: [:], count: classes)
        var cornerProbed: [[Int: Patch]] = Array(repeating: [:], count: classes)
        let largest = self.windows.max() ?? 0
        let subset = Array(0..<Swift.min(n, Swift.max(1, probeImages)))
        let probeBatch = Tensor(shape: [subset.count, c, h, w])
        for i in subset { (probeBatch.data + i * c * hw).update(from: images.data + i * c * hw, count: c * hw) }
        let probePredictions = Array(predictions[0..<subset.count])
        var bestProbe = [(effect: Effect, patch: Patch)?](repeating: nil, count: classes)
        let probeSmall = probeSmallWindows ?? ((windows.max() ?? 0) <= largest)
        for size in windows where probeSmall || size > largest || probeCorners {
            let k = Swift.min(size, h, w), step = Swift.max(1, (k + 1) / 2)
            let everywhere = probeSmall || size > largest
            /// Places along one side: a grid of half-window steps, or only the two ends (corners).
            func grid(_ side: Int) -> [Int] {
                if !everywhere { return side - k > 0 ? [0, side - k] : [0] }
                var g = Array(Swift.stride(from: 0, through: side - k, by: step))
                if g.last != side - k { g.append(side - k) }
                return g
            }
            var best = [(effect: Effect, patch: Patch)?](repeating: nil, count: classes)
            for pattern in probePatterns { for y in grid(h) { for x in grid(w) {
                let patch = pattern.patch(x: x, y: y, size: k, channels: c)
                for (cl, e) in effects(model, images: probeBatch, predictions: probePredictions, patch: patch, stamped: stamped).enumerated()
                where best[cl] == nil || e > best[cl]!.effect {
                    best[cl] = (e, patch)
                }
            } } }
            for cl in 0..<classes {
                guard let b = best[cl] else { continue }
                // A corner probe adds a start to the refinement; the search still starts at saliency's window too.
                if everywhere { probed[cl][k] = b.patch } else { cornerProbed[cl][k] = b.patch }
                if bestProbe[cl] == nil || b.effect > bestProbe[cl]!.effect { bestProbe[cl] = b }
            }
        }
        // Point probe: tiny squares near the corners (`cornerPointSizes`), screened like the grid, and each class's best
        // one measured on all images (one stamped batch per distinct patch answers for every class choosing it).
        var pointProbed: [[Int: Patch]] = Array(repeating: [:], count: classes)
        for k in Set(cornerPointSizes).sorted() where k >= 1 && k <= Swift.min(h, w) {
            var best = [(effect: Effect, patch: Patch)?](repeating: nil, count: classes)
            var places: [(x: Int, y: Int)] = []
            for dy in 0...Swift.max(0, cornerPointOffsets) { for dx in 0...Swift.max(0, cornerPointOffsets) {
                for y in [dy, h - k - dy] { for x in [dx, w - k - dx] where x >= 0 && y >= 0 && x <= w - k && y <= h - k {
                    if !places.contains(where: { $0 == (x: x, y: y) }) { places.append((x, y)) }
                } }
            } }
            for (x, y) in places {
                var tried: [[Float]] = []
                for pattern in probePatterns {
                    let patch = pattern.patch(x: x, y: y, size: k, channels: c)
                    if tried.contains(patch.values) { continue }   // a 1-pixel checkerboard is a uniform square
                    tried.append(patch.values)
                    for (cl, e) in effects(model, images: probeBatch, predictions: probePredictions, patch: patch, stamped: stamped).enumerated()
                    where best[cl] == nil || e > best[cl]!.effect {
                        best[cl] = (e, patch)
                    }
                }
            }
            for cl in 0..<classes { if let b = best[cl] { pointProbed[cl][k] = b.patch } }
        }
        var pointPatches: [Patch] = []
        // Sizes in order (a dictionary's order varies between runs; the order of equal effects decides which is kept).
        for cl in 0..<classes { for k in pointProbed[cl].keys.sorted() where !pointPatches.contains(pointProbed[cl][k]!) {
            pointPatches.append(pointProbed[cl][k]!)
        } }
        for p in pointPatches {
            let all = effects(model, images: images, predictions: predictions, patch: p, stamped: stamped)
            for cl in 0..<classes where pointProbed[cl].values.contains(p) { record(all[cl], p, into: &results[cl]) }
        }
        for cl in 0..<classes { if let b = bestProbe[cl] { update(cl, b.patch) } }
        /// Where class `cl`'s search at `size` starts: its contrast window (sign pattern), or the probe's square.
        func start(_ cl: Int, _ size: Int) -> Patch {
            let k = Swift.min(size, h, w)
            if let p = probed[cl][k] { return p }
            let at = initial[cl][size] ?? (x: results[cl].x, y: results[cl].y)
            return signPatch(mean, label: cl, x: at.x, y: at.y, size: k, channels: c, height: h, width: w)
        }
        let budget = Swift.min(refineClasses ?? classes, classes)
        if refineSteps > 0 && budget < classes {
            for cl in 0..<classes {
                for size in windows.sorted() {
                    update(cl, refine(model, images: images, predictions: predictions, label: cl, stamped: stamped, patch: start(cl, size)))
                }
            }
        }
        if refineSteps > 0 {
            let order = results.indices.sorted { (results[$0].flipRate, results[$0].marginRatio) > (results[$1].flipRate, results[$1].marginRatio) }
            for cl in order.prefix(budget) {
                // Sizes in increasing order; each larger window starts both at its own start and centred on the
                // best window so far (a trigger larger than the small window grows from it).
                for size in windows.sorted() {
                    let k = Swift.min(size, h, w)
                    var starts = [start(cl, size)]
                    let grown = (x: Swift.max(0, Swift.min(w - k, results[cl].x + (results[cl].size - k) / 2)),
                                 y: Swift.max(0, Swift.min(h - k, results[cl].y + (results[cl].size - k) / 2)))
                    if grown != (x: starts[0].x, y: starts[0].y) {
                        starts.append(signPatch(mean, label: cl, x: grown.x, y: grown.y, size: k, channels: c, height: h, width: w))
                    }
                    // The corner probe's square itself is measured on all images too (session 14: a white 7x7 square
                    // at the corner, the best 7x7 probe, passed every floor; the refinement moved away from it),
                    // unless it was the class's best probe, measured already.
                    if let corner = cornerProbed[cl][k] {
                        if corner != bestProbe[cl]?.patch { update(cl, corner) }
                        if !starts.contains(corner) { starts.append(corner) }
                    }
                    for first in starts {
                        var patch = first
                        for _ in 0..<refineSteps where results[cl].flipRate < 1 {
                            let next = refine(model, images: images, predictions: predictions, label: cl, stamped: stamped, patch: patch)
                            if next == patch { break }   // converged
                            patch = next
                            update(cl, patch)
                        }
                    }
                }
            }
        }
        // Full-image translucent patterns (`blendOpacities`), competing with each class's squares. With more
        // classes than `refineClasses`, every class gets `blendScreenSteps` steps and those whose pattern does
        // most (flip rate, then margin) the rest.
        for a in blendOpacities {
            var bests = [Effect?](repeating: nil, count: classes), last = [Patch?](repeating: nil, count: classes)
            let screened = budget < classes ? Swift.min(blendScreenSteps, blendSteps) : blendSteps
            for cl in 0..<classes {
                last[cl] = blendSearch(model, images: images, predictions: predictions, label: cl, opacity: Float(a), stamped: stamped,
                                       steps: 0..<screened) { p in
                    let e = update(cl, p)
                    if bests[cl] == nil || e > bests[cl]! { bests[cl] = e }
                }
            }
            if screened < blendSteps {
                let order = (0..<classes).filter { bests[$0] != nil }.sorted { bests[$0]! > bests[$1]! }
                for cl in order.prefix(budget) {
                    _ = blendSearch(model, images: images, predictions: predictions, label: cl, opacity: Float(a), stamped: stamped,
                                    from: last[cl], steps: screened..<blendSteps) { update(cl, $0) }
                }
            }
        }
        // Specificity of each class's best square and best full-image pattern (see `ClassResult.specificity`).
        func measureSpecificity(_ r: inout ClassResult) {
            guard !r.patch.isEmpty else { return }
            let patch = Patch(x: r.x, y: r.y, size: r.size, values: r.patch, opacity: r.opacity.map(Float.init))
            r.specificity = specificity(model, images: images, clean: cleanRows, predictions: predictions,
                                        label: r.label, patch: patch, stamped: stamped)
        }
        // Each window size's shortlisted squares are judged by their own floors, each specificity measured on its own
        // patch: a size's square, and the class's, is the passing one that wins by most (ties: the larger
        // specificity), else the one that flips most. Flip rate is a floor, not a ranking (session 13 across sizes,
        // session 14 within one): ranked first, a 10x10 square flipping 92% of the images by 1.55 clean margins at
        // specificity 3.6 hid the 7x7 one flipping 90% by 4.4 at 5.3 (`SquareShortlist` for the case within a size).
        for cl in 0..<classes {
            var candidates: [ClassResult] = []
            for k in squares[cl].sizes {
                var own: [ClassResult] = []
                for b in squares[cl].candidates(size: k) {
                    var r = results[cl]
                    r.flipRate = b.effect.flipRate; r.probability = b.effect.probability; r.marginRatio = b.effect.margin / cleanMargin
                    r.x = b.patch.x; r.y = b.patch.y; r.size = k; r.patch = b.patch.values; r.opacity = nil
                    measureSpecificity(&r)
                    own.append(r)
                }
                // Within a size too, the floors judge: the passing square that wins by most, else the most flipping.
                candidates.append(preferredSquare(own))
            }
            if candidates.isEmpty { measureSpecificity(&results[cl]) } else { results[cl] = preferredSquare(candidates) }
            measureSpecificity(&blends[cl])
            if !blends[cl].patch.isEmpty {
                blends[cl].bySize = [Self.fullImage: SizeBest(flipRate: blends[cl].flipRate, marginRatio: blends[cl].marginRatio,
                                                               specificity: blends[cl].specificity)]
            }
        }
        for cl in 0..<classes where !blends[cl].patch.isEmpty {
            results[cl] = preferred(square: results[cl], blend: blends[cl])
        }
        return results
    }

    /// Median over the images not predicted as `label` of how singly the patch raises `label`: with
    /// Δ = stamped logits − clean logits, `(Δ[label] − median of the other Δ) / (1.4826 · MAD of the other Δ)`.
    func specificity(_ model: Model, images: Tensor, clean: [Float], predictions: [Int], label cl: Int, patch: Patch,
                     stamped: Tensor) -> Double {
        let others = (0..<images.shape[0]).filter { predictions[$0] != cl }
        if others.isEmpty { return 0 }
        stamp(images, others: others, patch: patch, into: stamped)
        let logits = model.forward(stamped, mode: .inference)
        let classes = logits.shape[1]
        var rest = [Double](repeating: 0, count: classes - 1), scores: [Double] = []
        for (j, i) in others.enumerated() {
            let row = logits.data + j * classes, base = i * classes
            var t = 0
            for q in 0..<classes where q != cl { rest[t] = Double(row[q] - clean[base + q]); t += 1 }
            let med = Self.median(rest)
            let mad = 1.4826 * Self.median(rest.map { abs($0 - med) })
            scores.append((Double(row[cl] - clean[base + cl]) - med) / Swift.max(mad, 1e-6))
        }
        return Self.median(scores)
    }

    /// Step 5's outlier test: each label's anomaly index is the largest of its indices among the flip rates
    /// (`mad`), the margin ratios (`marginMAD`) and the specificities (`specificityMAD`); labels above
    /// `mad.threshold` are flagged (before `screen`). The result's `values` are the flip rates.
    public func test(_ results: [ClassResult]) throws(DetectorError) -> OutlierResult {
        let labels = results.map(\.label)
        var flips = try mad.run(values: results.map(\.flipRate), labels: labels)
        let margins = try marginMAD.run(values: results.map(\.marginRatio), labels: labels)
        let specific = try specificityMAD.run(values: results.map(\.specificity), labels: labels)
        // Right tail only: a label's index in a test counts when it lies above that test's median.
        flips.indices = labels.indices.map { i in
            Swift.max(results[i].flipRate > flips.median ? flips.indices[i] : 0,
                      results[i].marginRatio > margins.median ? margins.indices[i] : 0,
                      results[i].specificity > specific.median ? specific.indices[i] : 0)
        }
        flips.flagged = []; flips.maxIndex = 0; flips.mostAnomalous = nil
        for (i, l) in labels.enumerated() where flips.indices[i] > 0 {
            if flips.mostAnomalous == nil || flips.indices[i] > flips.maxIndex { flips.maxIndex = flips.indices[i]; flips.mostAnomalous = l }
            if flips.indices[i] > mad.threshold { flips.flagged.append(l) }
        }
        return flips
    }

    /// Step 5's second half: of the labels the MAD test flagged (`indices`: every label's anomaly index),
    /// keeps those whose patch flips at least `minimumFlipRate` of the images and wins by at least
    /// `minimumMarginRatio` clean margins, then, when several remain, those whose margin ratio reaches
    /// `secondaryMarginShare` of the largest among them. Returns the kept labels and a note per dropped one.
    public func screen(_ flagged: [Int], results: [ClassResult], indices: [Double]) -> (flagged: [Int], notes: [String]) {
        func pct(_ x: Double) -> String { String(format: "%.0f%%", x * 100) }
        func num(_ x: Double) -> String { String(format: "%.2f", x) }
        var kept: [Int] = [], notes: [String] = []
        var strength: [Int: Double] = [:], evidence: [Int: (size: Int, margin: Double, specificity: Double)] = [:]
        for l in flagged {
            let r = results[l]
            if r.flipRate < minimumFlipRate {
                notes.append("label \(l): anomaly index \(num(indices[l])) but its patch flips only \(pct(r.flipRate)) of the images, below the \(pct(minimumFlipRate)) floor: not flagged")
            } else if let m = passingMargin(r) {
                let floor = effectiveSpecificityFloor(size: r.size, marginRatio: r.marginRatio)
                if r.specificity < floor {
                    notes.append("label \(l): its patch flips \(pct(r.flipRate)) of the images but raises the other labels too (specificity \(num(r.specificity)), below \(num(floor))): an adversarial patch, not flagged")
                } else {
                    kept.append(l); strength[l] = m; evidence[l] = passingEvidence(r)
                }
            } else if let e = passingEvidence(r, specificityFloor: false) {
                // Some window size clears the flip and margin floors but not (with its own patch) the specificity one.
                notes.append("label \(l): its patch flips \(pct(r.flipRate)) of the images but raises the other labels too (specificity \(num(e.specificity)) with the patch that wins by \(num(e.margin)) clean margins, below its floor of \(num(effectiveSpecificityFloor(size: e.size, marginRatio: e.margin)))): an adversarial patch, not flagged")
            } else {
                notes.append("label \(l): its patch flips \(pct(r.flipRate)) of the images but wins by a median \(num(r.marginRatio)) clean margins with \(window(r)), below its floor of \(num(effectiveMarginFloor(size: r.size, specificity: r.specificity))) at specificity \(num(r.specificity)): not flagged")
            }
        }
        // Several labels passing: keep those whose patches win about as confidently as the strongest one's; the
        // others are adversarial patches of a model that a backdoor made patch-sensitive.
        if kept.count > 1, let top = kept.map({ strength[$0]! }).max() {
            let weak = kept.filter { strength[$0]! < secondaryMarginShare * top }
            kept.removeAll { weak.contains($0) }
            for l in weak {
                notes.append("label \(l): its patch flips \(pct(results[l].flipRate)) of the images but wins by a median \(num(strength[l]!)) clean margins, under \(pct(secondaryMarginShare)) of the strongest label's \(num(top)): an adversarial patch, not flagged")
            }
        }
        // Still several: keep the near ties of the strongest by margin x specificity; name the others.
        func product(_ l: Int) -> Double { evidence[l].map { $0.margin * $0.specificity } ?? 0 }
        if kept.count > 1, secondaryEvidenceShare > 0, let top = kept.max(by: { product($0) < product($1) }) {
            let weak = kept.filter { product($0) < secondaryEvidenceShare * product(top) }
            kept.removeAll { weak.contains($0) }
            for l in weak {
                let e = evidence[l]!, t = evidence[top]!
                notes.append("label \(l): its patch passes every floor (\(num(e.margin)) clean margins at specificity \(num(e.specificity))) but its evidence, \(num(product(l))), is under \(pct(secondaryEvidenceShare)) of label \(top)'s \(num(product(top))) (\(num(t.margin)) at \(num(t.specificity))): a weaker candidate, not flagged")
            }
        }
        return (kept, notes)
    }

    /// "a 7x7 window" or "a full-image pattern blended at 20%", for notes.
    func window(_ r: ClassResult) -> String {
        if let a = r.opacity { return String(format: "a full-image pattern blended at %.0f%%", a * 100) }
        return "a \(r.size)x\(r.size) window"
    }

    /// One label's distance from being flagged, on one scale: the smallest ratio of its statistics to their
    /// thresholds (anomaly index to `mad.threshold`, flip rate to `minimumFlipRate`, margin ratio to the
    /// window's `effectiveMarginFloor`, specificity to `minimumSpecificity`). A label can be flagged only when this is at
    /// least 1 (the share screening may still drop it beside a stronger one), so its largest value over the
    /// labels is the model-level score a ROC curve sweeps: the flip rate alone saturates at 100% on benign
    /// nets once 15x15 patches are probed.
    public func evidence(anomalyIndex: Double, flipRate: Double, marginRatio: Double, specificity: Double, windowSize: Int) -> Double {
        let ratios = [anomalyIndex / mad.threshold, flipRate / minimumFlipRate,
                      marginRatio / effectiveMarginFloor(size: windowSize, specificity: specificity),
                      specificityFloor(size: windowSize) > 0 ? specificity / effectiveSpecificityFloor(size: windowSize, marginRatio: marginRatio) : .infinity]
        return ratios.map { $0.isFinite ? $0 : ($0 > 0 ? 1e9 : -1e9) }.min()!
    }

    /// The settings a report stored (`DetectionReport.settings["verification"]`, this type as JSON), or nil when
    /// they do not parse. A key added after the report was written takes the value that reproduces the rules it
    /// was made with (`legacySettings`: no specificity relief before session 7), so an older zoo's rows are
    /// rescored by their own rules rather than failing to decode.
    public static func fromSettings(_ json: String) -> TriggerVerification? {
        guard var stored = (try? JSONSerialization.jsonObject(with: Data(json.utf8))) as? [String: Any] else { return nil }
        for (key, value) in legacySettings where stored[key] == nil { stored[key] = value }
        guard let data = try? JSONSerialization.data(withJSONObject: stored) else { return nil }
        return try? JSONDecoder().decode(TriggerVerification.self, from: data)
    }

    /// Values of keys that reports written before the key existed lack: the behaviour of those rules.
    static let legacySettings: [String: Any] = [
        "specificityRelief": 1.0, "marginRelief": 1.0,
        "secondaryEvidenceShare": 0.0,
        "probeCorners": false, "cornerPointSizes": [Int](), "cornerPointOffsets": 2,
        "blendOpacities": [Double](), "blendSteps": 6, "blendScreenSteps": 2, "blendMarginFloor": 1.5, "blendMinimumSpecificity": 0.0,
        "specificityMAD": ["consistency": 1.4826, "threshold": 2.0, "tail": "right", "relativeEpsilon": 1e-9, "minimumMAD": 0.5],
    ]

    /// The clean-margin floor for a `size` x `size` window: `minimumMarginRatio`, rising in proportion to the
    /// window beyond `marginFloorWindow` pixels (1.3 for 13x13, 1.5 for 15x15 with the defaults). A patch that
    /// overwrites more of the image must win more clearly: on benign GTSRB nets 15x15 patches reached 1.13
    /// clean margins, while every Table 3 target found with a 15x15 window won by 2.7 or more (docs/DETECTION.md).
    public func marginFloor(size: Int) -> Double {
        if size == Self.fullImage { return blendMarginFloor }
        return Swift.max(minimumMarginRatio, minimumMarginRatio * Double(size) / Double(marginFloorWindow))
    }

    /// The specificity a flagged label's best patch needs: `minimumSpecificity` for a square,
    /// `blendMinimumSpecificity` for a full-image pattern (`size` `fullImage`).
    public func specificityFloor(size: Int) -> Double {
        size == Self.fullImage ? blendMinimumSpecificity : minimumSpecificity
    }

    /// The specificity floor for a `size` x `size` patch winning by `marginRatio` clean margins:
    /// `specificityFloor(size:)` times `marginFloor(size:) / marginRatio`, at most 1 and at least `marginRelief`
    /// (the converse of `effectiveMarginFloor`: both bound margin ratio x specificity by floor x
    /// `minimumSpecificity`). With the defaults: a 10x10 square needs specificity 4.5 up to 1 clean margin, 4.05
    /// from 1.11 on; a full-image pattern's floor stays `blendMinimumSpecificity`.
    public func effectiveSpecificityFloor(size: Int, marginRatio: Double) -> Double {
        let relief = marginRatio > 0 ? Swift.min(1, marginFloor(size: size) / marginRatio) : 1
        return specificityFloor(size: size) * Swift.max(marginRelief, relief)
    }

    /// The margin floor for a `size` x `size` patch of the given specificity: `marginFloor(size:)` times
    /// `minimumSpecificity / specificity`, at most 1 and at least `specificityRelief` (a label passes when
    /// margin ratio x specificity reaches floor x minimumSpecificity). With the defaults: 13x13 patches need
    /// 1.3 clean margins at specificity 4.5 and 0.78 at 7.5 or more.
    public func effectiveMarginFloor(size: Int, specificity: Double) -> Double {
        let relief = specificity > 0 ? Swift.min(1, minimumSpecificity / specificity) : 1
        return marginFloor(size: size) * Swift.max(specificityRelief, relief)
    }

    /// The candidate a class reports, of its best square and its best full-image pattern, each judged by its own
    /// floors (`passes`): the passing one that wins by more clean margins; when neither passes, the one that flips
    /// more images (then: wins by more). The other is kept in `alternatives`. Judging each kind by its own floors
    /// matters (session 9's validation): on two blend-trojaned GTSRB nets the target's 15x15 square won by 4.1
    /// and 4.8 clean margins, more than its full-image pattern (3.3, 3.5), but lifted other labels too
    /// (specificity 3.7, 4.0, under the squares' 4.5), and picking the candidate by margin alone left the label
    /// unflagged although its pattern passed every floor of its kind (docs/DETECTION.md, "Session 10").
    public func preferred(square: ClassResult, blend: ClassResult) -> ClassResult {
        func margin(ifPassing r: ClassResult) -> Double? { passes(r) ? passingMargin(r) : nil }
        var pick: ClassResult
        switch (margin(ifPassing: square), margin(ifPassing: blend)) {
        case let (s?, b?): pick = b > s ? blend : square
        case (_?, nil): pick = square
        case (nil, _?): pick = blend
        case (nil, nil): pick = (blend.flipRate, blend.marginRatio) > (square.flipRate, square.marginRatio) ? blend : square
        }
        pick.alternatives = [pick.opacity == nil ? blend : square]
        return pick
    }

    /// The square a class reports, of its best square of each window size (`candidates`, each with its own
    /// specificity): the one passing every floor of its kind (`passesOwnFloors`) that wins by the most clean margins
    /// (ties: the larger specificity); when none passes, the one that flips the most images (then: wins by more).
    /// The pick's `bySize` holds every size's numbers, specificity included. Flip rate is a floor here, not a
    /// ranking (session 13, docs/DETECTION.md): on an 8x8 top-left trigger the 10x10 square flipped 92% of the
    /// images by 1.55 clean margins at specificity 3.57 and, ranked first, hid the 7x7 one (85%, 3.40, 5.37).
    public func preferredSquare(_ candidates: [ClassResult]) -> ClassResult {
        precondition(!candidates.isEmpty)
        var sized: [Int: SizeBest] = [:]
        for r in candidates { sized[r.size] = SizeBest(flipRate: r.flipRate, marginRatio: r.marginRatio, specificity: r.specificity) }
        var pick = candidates.filter { passesOwnFloors($0) }.max { ($0.marginRatio, $0.specificity) < ($1.marginRatio, $1.specificity) }
            ?? candidates.max { ($0.flipRate, $0.marginRatio) < ($1.flipRate, $1.marginRatio) }!
        pick.bySize = sized
        return pick
    }

    /// Whether a class's candidate would be kept by `screen` on its own: some window size's best patch passes the
    /// flip-rate and margin floors (`passingMargin`) and the candidate reaches its kind's specificity floor, relieved
    /// by its margin (`effectiveSpecificityFloor`).
    func passes(_ r: ClassResult) -> Bool {
        r.flipRate >= minimumFlipRate && passingMargin(r) != nil
            && r.specificity >= effectiveSpecificityFloor(size: r.size, marginRatio: r.marginRatio)
    }

    /// Whether a candidate passes every floor of its kind with its own numbers: flip rate, margin (the window's
    /// floor relieved by its specificity) and specificity.
    func passesOwnFloors(_ r: ClassResult) -> Bool {
        clears(size: r.size, SizeBest(flipRate: r.flipRate, marginRatio: r.marginRatio, specificity: r.specificity), specificity: r.specificity)
    }

    /// Whether one window size's best patch clears the flip-rate floor and the margin floor relieved by
    /// `specificity`, and (when `checked` and the size has its own specificity) the specificity floor.
    func clears(size: Int, _ b: SizeBest, specificity: Double, checked: Bool = true) -> Bool {
        b.flipRate >= minimumFlipRate && b.marginRatio >= effectiveMarginFloor(size: size, specificity: specificity)
            && (!checked || b.specificity == nil || specificity >= effectiveSpecificityFloor(size: size, marginRatio: b.marginRatio))
    }

    /// The largest margin ratio among the window sizes whose best patch passes both floors (flip rate and
    /// `effectiveMarginFloor` at the label's specificity), or nil when none does.
    func passingMargin(_ r: ClassResult) -> Double? { passingEvidence(r)?.margin }

    /// The passing window size with the largest margin ratio (as `passingMargin`): its margin ratio and its
    /// patch's specificity (the class's when the size has none of its own).
    /// With `specificityFloor` false, the sizes need not reach the specificity floor (for the screening's note
    /// saying which floor a label failed).
    func passingEvidence(_ r: ClassResult, specificityFloor checked: Bool = true) -> (size: Int, margin: Double, specificity: Double)? {
        let sizes = r.bySize.isEmpty ? [r.size: SizeBest(flipRate: r.flipRate, marginRatio: r.marginRatio)] : r.bySize
        return sizes.filter { clears(size: $0.key, $0.value, specificity: $0.value.specificity ?? r.specificity, checked: checked) }.map { (size: $0.key, margin: $0.value.marginRatio, specificity: $0.value.specificity ?? r.specificity) }
            .max { ($0.margin, $0.specificity) < ($1.margin, $1.specificity) }
    }

    /// A class's shortlist of squares per window size (session 14): the one that flips most (then wins by most)
    /// and, among those clearing `minimumFlipRate`, the one that wins by most (then flips most). Both are judged
    /// by their own floors at the end (`preferredSquare`): ranked by flip rate alone, a 7x7 square flipping 86% of
    /// the images by 0.65 clean margins hid a white one at the corner flipping 84% by 2.84 (specificity 5.45), the
    /// 8x8 trigger of `square8-top-left` in `plans/table3-gtsrb-seed4.json`.
    struct SquareShortlist {
        var minimumFlipRate: Double
        private(set) var mostFlipping: [Int: (effect: Effect, patch: Patch)] = [:]
        private(set) var mostConfident: [Int: (effect: Effect, patch: Patch)] = [:]

        init(minimumFlipRate: Double) { self.minimumFlipRate = minimumFlipRate }

        mutating func keep(_ e: Effect, _ patch: Patch) {
            if mostFlipping[patch.size].map({ e > $0.effect }) ?? true { mostFlipping[patch.size] = (e, patch) }
            if e.flipRate >= minimumFlipRate,
               mostConfident[patch.size].map({ (e.margin, e.flipRate) > ($0.effect.margin, $0.effect.flipRate) }) ?? true {
                mostConfident[patch.size] = (e, patch)
            }
        }

        /// The window sizes kept, in increasing order.
        var sizes: [Int] { mostFlipping.keys.sorted() }

        /// The most flipping square of `size`, then the most confident one when it is another.
        func candidates(size: Int) -> [(effect: Effect, patch: Patch)] {
            guard let most = mostFlipping[size] else { return [] }
            if let sure = mostConfident[size], sure.patch != most.patch { return [most, sure] }
            return [most]
        }
    }

    /// A square patch at `(x, y)` with per-channel values `[C, size, size]` that replaces the pixels, or (with an
    /// `opacity`, `size` `fullImage`) a pattern `[C, H, W]` blended over the whole image.
    struct Patch: Equatable {
        var x: Int, y: Int, size: Int
        var values: [Float]
        var opacity: Float? = nil
    }

    /// The window size that stands for a full-image translucent pattern in `ClassResult.size` and `bySize`.
    public static let fullImage = 0

    /// The square at `(x, y)` with value 1 where class `label`'s mean signed gradient is positive, else 0.
    func signPatch(_ mean: [Float], label cl: Int, x: Int, y: Int, size k: Int, channels c: Int, height h: Int, width w: Int) -> Patch {
        var patch = Patch(x: x, y: y, size: k, values: [Float](repeating: 0, count: c * k * k))
        for ch in 0..<c { for dy in 0..<k { for dx in 0..<k {
            patch.values[(ch * k + dy) * k + dx] = mean[cl * h * w + (y + dy) * w + x + dx] > 0 ? 1 : 0
        } } }
        return patch
    }

    /// One first-order step of the trigger search for class `cl`: stamp `patch` on the images not predicted
    /// as `cl`, take the gradient g of the cross-entropy towards `cl` there, and score every pixel by the
    /// linear gain of stamping it, Σ_i max over v ∈ {0, 1} of −g_i·(v − x_i) (summed over channels, x the clean
    /// image, v normalised as the model's inputs are). The new window is the size-k square with the largest gain within `searchRadius` of the old one,
    /// its values the maximising v.
    func refine(_ model: Model, images: Tensor, predictions: [Int], label cl: Int, stamped: Tensor, patch: Patch) -> Patch {
        let c = images.shape[1], h = images.shape[2], w = images.shape[3], hw = h * w
        let others = Array((0..<images.shape[0]).filter { predictions[$0] != cl }.prefix(refineImages))
        if others.isEmpty { return patch }
        stamp(images, others: others, patch: patch, into: stamped)
        let g = crossEntropyInputGradient(model, stamped, label: cl)
        // Gain of setting each (channel, pixel) to 1 and to 0, summed over images.
        var gainOne = [Double](repeating: 0, count: c * hw), gainZero = gainOne
        for (j, i) in others.enumerated() {
            let gi = g.data + j * c * hw, xi = images.data + i * c * hw
            for ch in 0..<c {
                let one = normalised(1, channel: ch), zero = normalised(0, channel: ch)
                for q in (ch * hw)..<((ch + 1) * hw) {
                    let d = Double(-gi[q])
                    gainOne[q] += d * Double(one - xi[q])
                    gainZero[q] += d * Double(zero - xi[q])
                }
            }
        }
        var gain = [Double](repeating: 0, count: hw)
        for ch in 0..<c { for p in 0..<hw { gain[p] += Swift.max(gainOne[ch * hw + p], gainZero[ch * hw + p]) } }
        let k = patch.size
        var best = -Double.infinity, bx = patch.x, by = patch.y
        for y in Swift.max(0, patch.y - searchRadius)...Swift.min(h - k, patch.y + searchRadius) {
            for x in Swift.max(0, patch.x - searchRadius)...Swift.min(w - k, patch.x + searchRadius) {
                var s = 0.0
                for dy in 0..<k { for dx in 0..<k { s += gain[(y + dy) * w + x + dx] } }
                if s > best { best = s; bx = x; by = y }
            }
        }
        var next = Patch(x: bx, y: by, size: k, values: patch.values)
        for ch in 0..<c { for dy in 0..<k { for dx in 0..<k {
            let q = ch * hw + (by + dy) * w + bx + dx
            next.values[(ch * k + dy) * k + dx] = gainOne[q] >= gainZero[q] ? 1 : 0
        } } }
        return next
    }

    /// The gradient, with respect to the model's inputs `[N, C, H, W]`, of the cross-entropy of `inputs`
    /// towards `label` (softmax − one-hot, backpropagated; no parameter gradients).
    func crossEntropyInputGradient(_ model: Model, _ inputs: Tensor, label cl: Int) -> Tensor {
        let logits = model.forward(inputs, mode: .inference)
        let n = logits.shape[0], classes = logits.shape[1]
        let dy = Tensor(shape: [n, classes])
        for i in 0..<n {
            let row = logits.data + i * classes
            var mx = -Float.infinity
            for j in 0..<classes { mx = Swift.max(mx, row[j]) }
            var sum: Float = 0
            for j in 0..<classes { let e = expf(row[j] - mx); dy[i * classes + j] = e; sum += e }
            for j in 0..<classes { dy[i * classes + j] /= sum }
            dy[i * classes + cl] -= 1
        }
        return model.backward(dy, parameterGradients: false, inputGradient: true)
    }

    /// Class `cl`'s full-image translucent pattern at opacity `α` (`blendOpacities`): p ∈ [0, 1]^{C×H×W} starts
    /// grey (0.5); each projected sign-gradient step blends p over the first `refineImages` images not predicted
    /// as `cl` (`(1 − α)·x + α·p` in raw pixels), takes the gradient of the cross-entropy towards `cl`, and moves
    /// every value against its gradient's sign summed over the images (∂x'/∂p = α/std > 0) by 0.5 (step 0),
    /// 0.25 (steps 1-2), then 0.125, clipped to [0, 1]. Runs steps `steps` from `from` (nil: grey) and returns
    /// the last pattern; each step's pattern is measured on all images through `update`, which keeps the best.
    func blendSearch(_ model: Model, images: Tensor, predictions: [Int], label cl: Int, opacity a: Float, stamped: Tensor,
                     from: Patch? = nil, steps: Range<Int>, update: (Patch) -> Void) -> Patch? {
        let c = images.shape[1], hw = images.shape[2] * images.shape[3]
        let others = Array((0..<images.shape[0]).filter { predictions[$0] != cl }.prefix(refineImages))
        if others.isEmpty { return nil }
        var patch = from ?? Patch(x: 0, y: 0, size: Self.fullImage, values: [Float](repeating: 0.5, count: c * hw), opacity: a)
        var direction = [Float](repeating: 0, count: c * hw)
        for step in steps {
            stamp(images, others: others, patch: patch, into: stamped)
            let g = crossEntropyInputGradient(model, stamped, label: cl)
            for q in 0..<(c * hw) { direction[q] = 0 }
            for j in 0..<others.count {
                let gj = g.data + j * c * hw
                for q in 0..<(c * hw) { direction[q] += gj[q] }
            }
            let eta: Float = step == 0 ? 0.5 : (step < 3 ? 0.25 : 0.125)
            for q in 0..<(c * hw) where direction[q] != 0 {
                patch.values[q] = Swift.min(1, Swift.max(0, patch.values[q] - (direction[q] > 0 ? eta : -eta)))
            }
            update(patch)
        }
        return patch
    }

    /// Copies the images listed in `others` into `stamped` with `patch` pasted over them.
    func stamp(_ images: Tensor, others: [Int], patch: Patch, into stamped: Tensor) {
        let c = images.shape[1], h = images.shape[2], w = images.shape[3], hw = h * w, k = patch.size
        stamped.resize([others.count, c, h, w])
        for (j, i) in others.enumerated() {
            let dst = stamped.data + j * c * hw
            if let a = patch.opacity {
                // Raw (1 − α)·r + α·p, normalised: (1 − α)·x + α·normalised(p).
                let src = images.data + i * c * hw
                for ch in 0..<c { for q in (ch * hw)..<((ch + 1) * hw) {
                    dst[q] = (1 - a) * src[q] + a * normalised(patch.values[q], channel: ch)
                } }
                continue
            }
            dst.update(from: images.data + i * c * hw, count: c * hw)
            for ch in 0..<c { for dy in 0..<k { for dx in 0..<k {
                dst[ch * hw + (patch.y + dy) * w + patch.x + dx] = normalised(patch.values[(ch * k + dy) * k + dx], channel: ch)
            } } }
        }
    }

    /// What a stamped patch does to the images not predicted as `label`: the fraction the model then assigns
    /// to `label` (flip rate) and the mean softmax probability of `label`.
    struct Effect: Comparable {
        var flipRate: Double, probability: Double
        /// Median logit margin of the label on the stamped images.
        var margin: Double = 0
        static func < (a: Effect, b: Effect) -> Bool { (a.flipRate, a.margin) < (b.flipRate, b.margin) }
    }

    /// A logits row's margin: `label`'s logit minus the largest other one, or (label nil) top-1 minus top-2.
    static func margin(_ row: UnsafeMutablePointer<Float>, classes: Int, label: Int?) -> Double {
        var a = -Float.infinity, b = -Float.infinity
        for j in 0..<classes where j != label { if row[j] > a { b = a; a = row[j] } else if row[j] > b { b = row[j] } }
        if let l = label { return Double(row[l] - a) }
        return Double(a - b)
    }

    static func median(_ v: [Double]) -> Double {
        let s = v.sorted()
        if s.isEmpty { return 0 }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }

    /// `effect` for every class from one stamped batch (the patch on all images; each class counts the images
    /// not predicted as it).
    func effects(_ model: Model, images: Tensor, predictions: [Int], patch: Patch, stamped: Tensor) -> [Effect] {
        let n = images.shape[0]
        stamp(images, others: Array(0..<n), patch: patch, into: stamped)
        let logits = model.forward(stamped, mode: .inference)
        let classes = logits.shape[1]
        var top = [Int](repeating: 0, count: n)
        var sums = [Double](repeating: 0, count: n), maxes = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let row = logits.data + i * classes
            var mx = -Float.infinity
            for j in 0..<classes where row[j] > mx { mx = row[j]; top[i] = j }
            maxes[i] = mx
            for j in 0..<classes { sums[i] += Double(expf(row[j] - mx)) }
        }
        var out: [Effect] = []
        out.reserveCapacity(classes)
        var margins: [Double] = []
        for cl in 0..<classes {
            var flips = 0, probability = 0.0, count = 0
            margins.removeAll(keepingCapacity: true)
            for i in 0..<n where predictions[i] != cl {
                let row = logits.data + i * classes
                count += 1
                if top[i] == cl { flips += 1 }
                probability += Double(expf(row[cl] - maxes[i])) / sums[i]
                margins.append(Self.margin(row, classes: classes, label: cl))
            }
            out.append(count == 0 ? Effect(flipRate: 0, probability: 0)
                       : Effect(flipRate: Double(flips) / Double(count), probability: probability / Double(count), margin: Self.median(margins)))
        }
        return out
    }

    func effect(_ model: Model, images: Tensor, predictions: [Int], label cl: Int, patch: Patch, stamped: Tensor) -> Effect {
        let others = (0..<images.shape[0]).filter { predictions[$0] != cl }
        if others.isEmpty { return Effect(flipRate: 0, probability: 0) }
        stamp(images, others: others, patch: patch, into: stamped)
        let logits = model.forward(stamped, mode: .inference)
        let classes = logits.shape[1]
        var flips = 0, probability = 0.0
        var margins = [Double](repeating: 0, count: others.count)
        for i in 0..<others.count {
            let row = logits.data + i * classes
            margins[i] = Self.margin(row, classes: classes, label: cl)
            var mx = -Float.infinity, arg = 0
            for j in 0..<classes where row[j] > mx { mx = row[j]; arg = j }
            var sum = 0.0
            for j in 0..<classes { sum += Double(expf(row[j] - mx)) }
            probability += Double(expf(row[cl] - mx)) / sum
            if arg == cl { flips += 1 }
        }
        return Effect(flipRate: Double(flips) / Double(others.count), probability: probability / Double(others.count),
                      margin: Self.median(margins))
    }
}
