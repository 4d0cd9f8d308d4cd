import NITensor
import NINetwork

/// SmoothGrad (Smilkov et al. 2017): the mean of a base explainer's heatmaps over `samples` noisy copies of
/// each image, `x + N(0, σ²)` with σ = `sigma` in raw pixel units (inputs in [0, 1]; divided by `channelStd`
/// per channel for normalised inputs), from a fixed seed. Noise opens the ReLU
/// gates that hide a trigger on clean images (see shared notes, item 3).
public struct SmoothGrad: Explainer {
    public var name: String { "smoothgrad(\(base.name))" }
    public var base: Explainer
    public var samples: Int
    public var sigma: Float
    public var seed: UInt64
    /// Per-channel standard deviation the inputs were normalised with (empty: not normalised).
    public var channelStd: [Float] = []

    public init(base: Explainer = RectifiedSaliency(), samples: Int = 8, sigma: Float = 0.3, seed: UInt64 = 0) {
        self.base = base; self.samples = samples; self.sigma = sigma; self.seed = seed
    }

    public func attribute(_ model: Model, inputs: Tensor, targets: [Int]) -> HeatmapSet {
        var rng = SeededGenerator(seed: seed)
        let noisy = Tensor(shape: inputs.shape)
        var total: Tensor?
        for _ in 0..<Swift.max(samples, 1) {
            if channelStd.isEmpty || inputs.shape.count != 4 {
                for j in 0..<inputs.count { noisy[j] = inputs[j] + sigma * rng.nextNormal() }
            } else {
                let plane = inputs.shape[2] * inputs.shape[3], c = inputs.shape[1]
                for j in 0..<inputs.count {
                    let ch = (j / plane) % c
                    noisy[j] = inputs[j] + sigma / (ch < channelStd.count ? channelStd[ch] : 1) * rng.nextNormal()
                }
            }
            let maps = base.attribute(model, inputs: noisy, targets: targets).maps
            if let t = total { for j in 0..<t.count { t[j] += maps[j] } } else { total = maps }
        }
        let t = total!
        let inv = 1 / Float(Swift.max(samples, 1))
        for j in 0..<t.count { t[j] *= inv }
        return HeatmapSet(maps: t)
    }
}
