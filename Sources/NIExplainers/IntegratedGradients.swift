import NITensor
import NINetwork

/// Integrated gradients (Sundararajan et al. 2017) from a black baseline:
/// `(x - x₀) ⊙ (1/m) Σ_{k=1..m} ∂f_y(x₀ + (k/m)(x - x₀))/∂x` (right Riemann sum, `steps` = m), collapsed
/// over channels by `reduction` (default `Σ_c |·|`).
public struct IntegratedGradients: Explainer {
    public let name = "integrated-gradients"
    public var steps: Int
    public var reduction: ChannelReduction
    public init(steps: Int = 16, reduction: ChannelReduction = .sumAbs) { self.steps = steps; self.reduction = reduction }

    public func attribute(_ model: Model, inputs: Tensor, targets: [Int]) -> HeatmapSet {
        let (n, c, h, w) = (inputs.shape[0], inputs.shape[1], inputs.shape[2], inputs.shape[3])
        let per = c * h * w
        let sum = Tensor(shape: [targets.count, n, c, h, w])
        let scaled = Tensor(shape: inputs.shape)
        let m = Swift.max(steps, 1)
        for k in 1...m {
            let a = Float(k) / Float(m)
            for j in 0..<inputs.count { scaled[j] = a * inputs[j] }
            GradientEngine.forEachGradient(model, inputs: scaled, targets: targets, rule: .plain) { t, first, g in
                let dst = sum.data + (t * n + first) * per
                for j in 0..<(g.shape[0] * per) { dst[j] += g[j] }
            }
        }
        let maps = GradientEngine.makeMaps(targets: targets.count, images: n, height: h, width: w)
        let tmp = Tensor(shape: [per])
        for t in 0..<targets.count {
            for i in 0..<n {
                let s = sum.data + (t * n + i) * per, x = inputs.data + i * per
                for j in 0..<per { tmp[j] = s[j] * x[j] / Float(m) }
                reduction.reduce(tmp.data, channels: c, count: h * w, into: maps.data + (t * n + i) * h * w)
            }
        }
        return HeatmapSet(maps: maps)
    }
}
