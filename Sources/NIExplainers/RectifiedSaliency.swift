import NITensor
import NINetwork

/// The paper's explanation method ("Saliency Map Generation"): the gradient of a class's logit with respect
/// to the input, `ω = ∂f_y(X)/∂X`, back-propagated with negative gradients clipped at every ReLU
/// (`Layer.rectifiedBackward`), collapsed over channels by `reduction` (default `max_c |ω_c|`).
public struct RectifiedSaliency: Explainer {
    public let name = "rectified-saliency"
    public var reduction: ChannelReduction
    public init(reduction: ChannelReduction = .maxAbs) { self.reduction = reduction }

    public func attribute(_ model: Model, inputs: Tensor, targets: [Int]) -> HeatmapSet {
        GradientEngine.reducedMaps(model, inputs: inputs, targets: targets, rule: .rectified, reduction: reduction)
    }
}
