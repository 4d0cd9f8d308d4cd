import NITensor
import NINetwork

/// Gradient × input (Shrikumar et al.): `x ⊙ ∂f_y/∂x`, collapsed over channels by `reduction`
/// (default `Σ_c |x_c · g_c|`).
public struct GradientTimesInput: Explainer {
    public let name = "gradient-x-input"
    public var reduction: ChannelReduction
    public init(reduction: ChannelReduction = .sumAbs) { self.reduction = reduction }

    public func attribute(_ model: Model, inputs: Tensor, targets: [Int]) -> HeatmapSet {
        let (n, c, h, w) = (inputs.shape[0], inputs.shape[1], inputs.shape[2], inputs.shape[3])
        let maps = GradientEngine.makeMaps(targets: targets.count, images: n, height: h, width: w)
        let product = Tensor(shape: [c * h * w])
        GradientEngine.forEachGradient(model, inputs: inputs, targets: targets, rule: .plain) { t, first, g in
            for i in 0..<g.shape[0] {
                let gi = g.data + i * c * h * w, xi = inputs.data + (first + i) * c * h * w
                for j in 0..<(c * h * w) { product[j] = gi[j] * xi[j] }
                reduction.reduce(product.data, channels: c, count: h * w, into: maps.data + (t * n + first + i) * h * w)
            }
        }
        return HeatmapSet(maps: maps)
    }
}
