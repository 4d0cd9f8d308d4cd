import NITensor
import NINetwork

/// Plain saliency (Simonyan et al. 2013): the exact gradient of the class logit with respect to the input,
/// collapsed over channels by `reduction` (default `max_c |∂f_y/∂x_c|`).
public struct Saliency: Explainer {
    public let name = "saliency"
    public var reduction: ChannelReduction
    public init(reduction: ChannelReduction = .maxAbs) { self.reduction = reduction }

    public func attribute(_ model: Model, inputs: Tensor, targets: [Int]) -> HeatmapSet {
        GradientEngine.reducedMaps(model, inputs: inputs, targets: targets, rule: .plain, reduction: reduction)
    }
}
