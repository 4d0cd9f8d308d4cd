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
///    also reaches `minimumFlipRate`. The MAD is floored at 0.05 (5 percentage points): on a clean model most
///    flip rates are 0, and the floor keeps indices finite and meaningful.
public struct TriggerVerification: Sendable {
    /// Square window sizes tried per class; the one that flips most images counts.
    public var windows: [Int]
    public var minimumFlipRate: Double
    public var mad: MADOutlierTest

    public init(windows: [Int] = [3, 5, 7], minimumFlipRate: Double = 0.5,
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
                // Verify on the images not already predicted as this class.
                let others = (0..<n).filter { predictions[$0] != cl }
                var flips = 0
                if !others.isEmpty {
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
                    flips = argmaxRows(model.forward(stamped, mode: .inference)).filter { $0 == cl }.count
                }
                let rate = others.isEmpty ? 0 : Double(flips) / Double(others.count)
                if rate > chosen.flipRate { chosen = ClassResult(label: cl, windowScore: best, flipRate: rate, x: bx, y: by, size: k) }
            }
            results.append(chosen)
        }
        return results
    }
}
