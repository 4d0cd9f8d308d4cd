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
/// 2. Refine: a partly present trigger opens the ReLU gates that hide it on clean images (shared notes,
///    item 2), so the gradient of the cross-entropy towards `c` on the *stamped* images points at the rest
///    of it. `refineSteps` first-order steps per window size move the window (at most `searchRadius` pixels a
///    step) to the square of largest linear gain and reset its values to 0/1 by the gradient's sign. Sizes
///    go from small to large, each larger one also starting centred on the best window so far.
/// 3. Verify: the flip rate, the fraction of clean images not predicted as `c` that the model assigns to
///    `c` with the best patch stamped. A backdoor target flips most images; a benign class's adversarial
///    patch far fewer (docs/DETECTION.md: on 64 MNIST models, targets 73-100%, benign classes at most 56%).
/// 4. Test: the MAD outlier test on the flip rates (right tail, MAD floored at 0.05 so that the many zero
///    rates of a clean model keep indices finite), and a label is flagged only if its flip rate also reaches
///    `minimumFlipRate` (65%, chosen on two MNIST zoos and checked on a third, docs/DETECTION.md).
public struct TriggerVerification: Codable, Sendable {
    /// Square window sizes tried per class; the one that flips most images counts.
    public var windows: [Int]
    public var minimumFlipRate: Double
    public var mad: MADOutlierTest
    /// First-order refinement steps per class, window size and start (0: off), moving the window up to
    /// `searchRadius` pixels a step. With more than `refineClasses` classes (nil: no limit), all classes get one
    /// screening step per size and the `refineClasses` with the highest flip rates get the full search.
    public var refineSteps: Int = 3
    public var refineClasses: Int? = 10
    /// Images (not predicted as the class) whose gradient drives a refinement step; flip rates use all.
    public var refineImages: Int = 16
    public var searchRadius: Int = 2

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
        var initial: [[Int: (x: Int, y: Int)]] = []
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
                let e = effect(model, images: images, predictions: predictions, label: cl,
                                    patch: signPatch(mean, label: cl, x: bx, y: by, size: k, channels: c, height: h, width: w),
                                    stamped: stamped)
                if e > Effect(flipRate: chosen.flipRate, probability: chosen.probability) {
                    chosen = ClassResult(label: cl, windowScore: best, flipRate: e.flipRate, probability: e.probability, x: bx, y: by, size: k)
                }
            }
            results.append(chosen)
            initial.append(starts)
        }
        // Refine: a partly stamped trigger opens the ReLU gates that hide it on clean images, so the gradient
        // on the stamped images points at the rest of it. A few first-order steps per class and window size
        // move the window (up to `searchRadius` pixels a step) and reset its pattern; the best flip rate wins.
        // With more classes than `refineClasses`, a screening step (one refinement step per class and size)
        // picks the classes that get the full search.
        func update(_ cl: Int, _ patch: Patch) {
            let e = effect(model, images: images, predictions: predictions, label: cl, patch: patch, stamped: stamped)
            if e > Effect(flipRate: results[cl].flipRate, probability: results[cl].probability) {
                results[cl].flipRate = e.flipRate; results[cl].probability = e.probability
                results[cl].x = patch.x; results[cl].y = patch.y; results[cl].size = patch.size
            }
        }
        let budget = Swift.min(refineClasses ?? classes, classes)
        if refineSteps > 0 && budget < classes {
            for cl in 0..<classes {
                for size in windows.sorted() {
                    let k = Swift.min(size, h, w)
                    let start = initial[cl][size] ?? (x: results[cl].x, y: results[cl].y)
                    update(cl, refine(model, images: images, predictions: predictions, label: cl, stamped: stamped,
                                      patch: signPatch(mean, label: cl, x: start.x, y: start.y, size: k, channels: c, height: h, width: w)))
                }
            }
        }
        if refineSteps > 0 {
            let order = results.indices.sorted { (results[$0].flipRate, results[$0].probability) > (results[$1].flipRate, results[$1].probability) }
            for cl in order.prefix(budget) {
                // Sizes in increasing order; each larger window starts both at its own contrast maximum and
                // centred on the best window so far (a trigger larger than the small window grows from it).
                for size in windows.sorted() {
                    let k = Swift.min(size, h, w)
                    var starts = [initial[cl][size] ?? (x: results[cl].x, y: results[cl].y)]
                    let grown = (x: Swift.max(0, Swift.min(w - k, results[cl].x + (results[cl].size - k) / 2)),
                                 y: Swift.max(0, Swift.min(h - k, results[cl].y + (results[cl].size - k) / 2)))
                    if grown != starts[0] { starts.append(grown) }
                    for start in starts {
                        var patch = signPatch(mean, label: cl, x: start.x, y: start.y, size: k, channels: c, height: h, width: w)
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
        return results
    }

    /// A square patch at `(x, y)` with per-channel values `[C, size, size]`.
    struct Patch: Equatable {
        var x: Int, y: Int, size: Int
        var values: [Float]
    }

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
    /// image). The new window is the size-k square with the largest gain within `searchRadius` of the old one,
    /// its values the maximising v.
    func refine(_ model: Model, images: Tensor, predictions: [Int], label cl: Int, stamped: Tensor, patch: Patch) -> Patch {
        let c = images.shape[1], h = images.shape[2], w = images.shape[3], hw = h * w
        let others = Array((0..<images.shape[0]).filter { predictions[$0] != cl }.prefix(refineImages))
        if others.isEmpty { return patch }
        stamp(images, others: others, patch: patch, into: stamped)
        let logits = model.forward(stamped, mode: .inference)
        let classes = logits.shape[1]
        let dy = Tensor(shape: [others.count, classes])
        for i in 0..<others.count {
            let row = logits.data + i * classes
            var mx = -Float.infinity
            for j in 0..<classes { mx = Swift.max(mx, row[j]) }
            var sum: Float = 0
            for j in 0..<classes { let e = expf(row[j] - mx); dy[i * classes + j] = e; sum += e }
            for j in 0..<classes { dy[i * classes + j] /= sum }
            dy[i * classes + cl] -= 1
        }
        let g = model.backward(dy, parameterGradients: false, inputGradient: true)
        // Gain of setting each (channel, pixel) to 1 and to 0, summed over images.
        var gainOne = [Double](repeating: 0, count: c * hw), gainZero = gainOne
        for (j, i) in others.enumerated() {
            let gi = g.data + j * c * hw, xi = images.data + i * c * hw
            for q in 0..<(c * hw) {
                let d = Double(-gi[q])
                gainOne[q] += d * Double(1 - xi[q])
                gainZero[q] += d * Double(-xi[q])
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

    /// Copies the images listed in `others` into `stamped` with `patch` pasted over them.
    func stamp(_ images: Tensor, others: [Int], patch: Patch, into stamped: Tensor) {
        let c = images.shape[1], h = images.shape[2], w = images.shape[3], hw = h * w, k = patch.size
        stamped.resize([others.count, c, h, w])
        for (j, i) in others.enumerated() {
            let dst = stamped.data + j * c * hw
            dst.update(from: images.data + i * c * hw, count: c * hw)
            for ch in 0..<c { for dy in 0..<k { for dx in 0..<k {
                dst[ch * hw + (patch.y + dy) * w + patch.x + dx] = patch.values[(ch * k + dy) * k + dx]
            } } }
        }
    }

    /// What a stamped patch does to the images not predicted as `label`: the fraction the model then assigns
    /// to `label` (flip rate) and the mean softmax probability of `label`.
    struct Effect: Comparable {
        var flipRate: Double, probability: Double
        static func < (a: Effect, b: Effect) -> Bool { (a.flipRate, a.probability) < (b.flipRate, b.probability) }
    }

    func effect(_ model: Model, images: Tensor, predictions: [Int], label cl: Int, patch: Patch, stamped: Tensor) -> Effect {
        let others = (0..<images.shape[0]).filter { predictions[$0] != cl }
        if others.isEmpty { return Effect(flipRate: 0, probability: 0) }
        stamp(images, others: others, patch: patch, into: stamped)
        let logits = model.forward(stamped, mode: .inference)
        let classes = logits.shape[1]
        var flips = 0, probability = 0.0
        for i in 0..<others.count {
            let row = logits.data + i * classes
            var mx = -Float.infinity, arg = 0
            for j in 0..<classes where row[j] > mx { mx = row[j]; arg = j }
            var sum = 0.0
            for j in 0..<classes { sum += Double(expf(row[j] - mx)) }
            probability += Double(expf(row[cl] - mx)) / sum
            if arg == cl { flips += 1 }
        }
        return Effect(flipRate: Double(flips) / Double(others.count), probability: probability / Double(others.count))
    }
}
