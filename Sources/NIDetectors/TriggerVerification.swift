import NITensor
import NINetwork
import NIExplainers

/// Our extension of NeuronInspect (not in the paper): each class's heatmaps point at a candidate trigger
/// region, and the model itself is asked whether a patch there flips clean images to that class.
///
/// 1. Localise: per class `c`, the mean share of heatmap mass at each pixel, minus the per-pixel median over
///    classes (what `c` looks at that other classes do not); for each window size, the square with the
///    largest sum.
/// 2. Verify: stamp that square onto the clean images not predicted as `c`, with the pattern 1 where the class's
///    mean signed gradient is positive and 0 elsewhere, and count how many the model then assigns to `c`.
///    A backdoor target flips most images; a benign class rarely does (shared notes, items 4-5).
/// 3. Test: the MAD outlier test on the flip rates (right tail), and a label is flagged only if its flip rate
///    also reaches `minimumFlipRate` (40%, chosen on the MNIST sweep of docs/DETECTION.md: benign classes
///    flipped at most 25%, the weakest detected targets 44-47%). The MAD is floored at 0.05 (5 percentage points): on a clean model most
///    flip rates are 0, and the floor keeps indices finite and meaningful.
public struct TriggerVerification: Codable, Sendable {
    /// Square window sizes tried per class; the one that flips most images counts.
    public var windows: [Int]
    public var minimumFlipRate: Double
    public var mad: MADOutlierTest
    /// How many classes (highest flip rate first) get the local window search, and its radius in pixels.
    public var refineTop: Int = 3
    public var searchRadius: Int = 2

    public init(windows: [Int] = [3, 5, 7], minimumFlipRate: Double = 0.4,
                mad: MADOutlierTest = MADOutlierTest(tail: .right, minimumMAD: 0.05)) {
        self.windows = windows; self.minimumFlipRate = minimumFlipRate; self.mad = mad
    }

    public struct ClassResult: Sendable {
        public var label: Int
        public var windowScore: Double
        public var flipRate: Double
        public var x: Int, y: Int, size: Int
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
        let predictions = argmaxRows(model.forward(images, mode: .inference))
        let stamped = Tensor(shape: [0])
        var results: [ClassResult] = []
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
                let rate = flipRate(model, images: images, predictions: predictions, label: cl, x: bx, y: by, size: k,
                                    pattern: mean, stamped: stamped)
                if rate > chosen.flipRate { chosen = ClassResult(label: cl, windowScore: best, flipRate: rate, x: bx, y: by, size: k) }
            }
            results.append(chosen)
        }
        // Refine the most promising classes: move each window up to `searchRadius` pixels and keep the
        // position that flips most (the contrast map can be off by a pixel or two from the trigger).
        let candidates = results.sorted { $0.flipRate > $1.flipRate }.prefix(refineTop).map(\.label)
        for cl in candidates where searchRadius > 0 {
            var r = results[cl]
            let k = r.size, x0 = r.x, y0 = r.y
            for dy in -searchRadius...searchRadius {
                for dx in -searchRadius...searchRadius where dx != 0 || dy != 0 {
                    let x = x0 + dx, y = y0 + dy
                    guard x >= 0, y >= 0, x + k <= w, y + k <= h else { continue }
                    let rate = flipRate(model, images: images, predictions: predictions, label: cl, x: x, y: y, size: k,
                                        pattern: mean, stamped: stamped)
                    if rate > r.flipRate { r.flipRate = rate; r.x = x; r.y = y }
                }
            }
            results[cl] = r
        }
        return results
    }

    /// Fraction of the images not predicted as `label` that the model assigns to `label` once the square
    /// `(x, y, size)` is stamped with 1 where the class's mean signed gradient `pattern` is positive, else 0.
    func flipRate(_ model: Model, images: Tensor, predictions: [Int], label cl: Int, x bx: Int, y by: Int, size k: Int,
                  pattern mean: [Float], stamped: Tensor) -> Double {
        let n = images.shape[0], c = images.shape[1], h = images.shape[2], w = images.shape[3], hw = h * w
        let others = (0..<n).filter { predictions[$0] != cl }
        if others.isEmpty { return 0 }
        stamped.resize([others.count, c, h, w])
        for (j, i) in others.enumerated() {
            let dst = stamped.data + j * c * hw
            dst.update(from: images.data + i * c * hw, count: c * hw)
            for ch in 0..<c {
                for y in by..<(by + k) {
                    for x in bx..<(bx + k) { dst[ch * hw + y * w + x] = mean[cl * hw + y * w + x] > 0 ? 1 : 0 }
                }
            }
        }
        let flips = argmaxRows(model.forward(stamped, mode: .inference)).filter { $0 == cl }.count
        return Double(flips) / Double(others.count)
    }
}
