import NITensor
import NINetwork

/// An output-explanation method: heatmaps of the given classes for a batch of images (Captum's
/// `attribute(inputs, target)` shape). One type per method, each in its own file.
///
/// Models are read as logits (the paper replaces the final softmax by a linear layer: "maximizing an output
/// node can be done by minimizing other outputs"); pass `Sequential.removingSoftmax()` for models that end
/// in a softmax.
public protocol Explainer {
    /// Short identifier used in reports (`rectified-saliency`, `saliency`, ...).
    var name: String { get }
    /// Heatmaps `[targets.count, N, H, W]` for images `[N, C, H, W]`.
    func attribute(_ model: Model, inputs: Tensor, targets: [Int]) -> HeatmapSet
}

extension Explainer {
    /// Heatmaps of every output class.
    public func attributeAllClasses(_ model: Model, inputs: Tensor) -> HeatmapSet {
        attribute(model, inputs: inputs, targets: Array(0..<model.classCount))
    }
}

/// Which backward pass produces the gradient.
public enum GradientRule: String, Codable, Sendable {
    /// The exact gradient of the logit.
    case plain
    /// The paper's rectified saliency: negative gradients clipped at every ReLU (`Layer.rectifiedBackward`).
    case rectified
}

/// The shared machinery of gradient explainers: one forward per chunk of images, then one backward per
/// target class reusing it (the seed `∂logit_t/∂logits` is the one-hot of class t for every image), so the
/// heatmaps of all classes cost one forward and `classes` backwards, not a forward per class.
public enum GradientEngine {
    /// Images per forward pass.
    public static let chunk = 64

    /// Calls `body(targetIndex, firstImage, gradient)` with the input gradient `[b, C, H, W]` of logit
    /// `targets[targetIndex]` for images `firstImage ..< firstImage + b` of `inputs`.
    public static func forEachGradient(_ model: Model, inputs: Tensor, targets: [Int], rule: GradientRule,
                                       _ body: (_ target: Int, _ first: Int, _ gradient: Tensor) -> Void) {
        let n = inputs.shape[0], per = inputs.count / Swift.max(n, 1)
        let x = Tensor(shape: [0]), seed = Tensor(shape: [0])
        var start = 0
        while start < n {
            let b = Swift.min(chunk, n - start)
            x.resize([b] + Array(inputs.shape.dropFirst()))
            x.data.update(from: inputs.data + start * per, count: b * per)
            let logits = model.forward(x, mode: .inference)
            let classes = logits.shape[1]
            seed.resize([b, classes])
            for (ti, t) in targets.enumerated() {
                seed.zero()
                for i in 0..<b { seed[i * classes + t] = 1 }
                let g = rule == .rectified ? model.rectifiedBackward(seed)
                                           : model.backward(seed, parameterGradients: false, inputGradient: true)
                body(ti, start, g)
            }
            start += b
        }
    }

    /// The input gradients under `rule`, each collapsed over channels by `reduction`.
    public static func reducedMaps(_ model: Model, inputs: Tensor, targets: [Int], rule: GradientRule,
                                   reduction: ChannelReduction) -> HeatmapSet {
        let (n, c, h, w) = (inputs.shape[0], inputs.shape[1], inputs.shape[2], inputs.shape[3])
        let maps = makeMaps(targets: targets.count, images: n, height: h, width: w)
        forEachGradient(model, inputs: inputs, targets: targets, rule: rule) { t, first, g in
            for i in 0..<g.shape[0] {
                reduction.reduce(g.data + i * c * h * w, channels: c, count: h * w,
                                 into: maps.data + (t * n + first + i) * h * w)
            }
        }
        return HeatmapSet(maps: maps)
    }

    /// Output tensor for `targets.count` classes of `n` images of `H x W`.
    static func makeMaps(targets: Int, images: Int, height: Int, width: Int) -> Tensor {
        Tensor(shape: [targets, images, height, width])
    }
}
