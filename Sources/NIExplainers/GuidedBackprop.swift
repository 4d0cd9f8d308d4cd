import NITensor
import NINetwork

/// Guided backpropagation (Springenberg et al. 2014): the same backward rule as rectified saliency (at a
/// ReLU, `[x > 0] · max(g, 0)`), visualised as the *positive* evidence: the map is `max(0, max_c g_c)`
/// (negative input gradients, which the first linear layers can still produce, are dropped), where rectified
/// saliency keeps their magnitude.
public struct GuidedBackprop: Explainer {
    public let name = "guided-backprop"
    public init() {}

    public func attribute(_ model: Model, inputs: Tensor, targets: [Int]) -> HeatmapSet {
        let (n, c, h, w) = (inputs.shape[0], inputs.shape[1], inputs.shape[2], inputs.shape[3])
        let maps = GradientEngine.makeMaps(targets: targets.count, images: n, height: h, width: w)
        GradientEngine.forEachGradient(model, inputs: inputs, targets: targets, rule: .rectified) { t, first, g in
            for i in 0..<g.shape[0] {
                let dst = maps.data + (t * n + first + i) * h * w
                ChannelReduction.max.reduce(g.data + i * c * h * w, channels: c, count: h * w, into: dst)
                for j in 0..<(h * w) { dst[j] = Swift.max(dst[j], 0) }
            }
        }
        return HeatmapSet(maps: maps)
    }
}
