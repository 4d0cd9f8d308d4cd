import NITensor

/// Batch normalisation over the channel axis of `[N, C, H, W]` (or `[N, C]`), as PyTorch's `BatchNorm2d`
/// and ONNX `BatchNormalization`:
///
///     y = γ · (x - μ) / sqrt(σ² + ε) + β
///
/// Training uses the batch mean and biased variance and updates the running statistics with `momentum`
/// (running = (1 - m)·running + m·batch, the unbiased variance for the running value); inference uses the
/// running statistics. Backward (training): `dx = γ/σ̂ · (dy - mean(dy) - x̂·mean(dy·x̂))`; at inference
/// the layer is affine, `dx = γ/σ̂ · dy`. Rectified backward: the same as backward (no ReLU gate).
public final class BatchNorm: Layer {
    public let kind = "BatchNormalization"
    public let channels: Int
    public let epsilon: Float
    public let momentum: Float
    public let gamma, beta, runningMean, runningVar: Parameter
    private var input: Tensor?
    private var usedBatchStats = false
    private var mean: [Float], invStd: [Float]
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(_ channels: Int, epsilon: Float = 1e-5, momentum: Float = 0.1, name: String = "bn") {
        self.channels = channels; self.epsilon = epsilon; self.momentum = momentum
        gamma = Parameter(name: "\(name).weight", shape: [channels]); gamma.value.fill(1)
        beta = Parameter(name: "\(name).bias", shape: [channels])
        runningMean = Parameter(name: "\(name).running_mean", shape: [channels], trainable: false)
        runningVar = Parameter(name: "\(name).running_var", shape: [channels], trainable: false)
        runningVar.value.fill(1)
        mean = [Float](repeating: 0, count: channels); invStd = mean
    }

    public var parameters: [Parameter] { [gamma, beta, runningMean, runningVar] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2, s[1] == channels else {
            throw ShapeError.mismatch(layer: "BatchNorm(\(channels))", expected: "[N, \(channels), ...]", got: s)
        }
        return s
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        input = x
        let n = x.shape[0], hw = x.count / Swift.max(n * channels, 1), m = Float(n * hw)
        usedBatchStats = mode == .training
        for c in 0..<channels {
            if usedBatchStats {
                var s = 0.0, ss = 0.0
                for i in 0..<n {
                    let p = x.data + (i * channels + c) * hw
                    for j in 0..<hw { let v = Double(p[j]); s += v; ss += v * v }
                }
                let mu = s / Double(m), variance = Swift.max(ss / Double(m) - mu * mu, 0)
                mean[c] = Float(mu); invStd[c] = 1 / (Float(variance) + epsilon).squareRoot()
                let unbiased = m > 1 ? Float(variance) * m / (m - 1) : Float(variance)
                runningMean.value[c] = (1 - momentum) * runningMean.value[c] + momentum * Float(mu)
                runningVar.value[c] = (1 - momentum) * runningVar.value[c] + momentum * unbiased
            } else {
                mean[c] = runningMean.value[c]; invStd[c] = 1 / (runningVar.value[c] + epsilon).squareRoot()
            }
        }
        output.resize(x.shape)
        for i in 0..<n {
            for c in 0..<channels {
                let scale = gamma.value[c] * invStd[c], shift = beta.value[c] - mean[c] * scale
                let src = x.data + (i * channels + c) * hw, dst = output.data + (i * channels + c) * hw
                for j in 0..<hw { dst[j] = src[j] * scale + shift }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard let x = input else { preconditionFailure("BatchNorm.backward before forward") }
        let n = x.shape[0], hw = x.count / Swift.max(n * channels, 1), m = Float(n * hw)
        if inputGradient { dx.resize(x.shape) }
        for c in 0..<channels {
            var sdy: Float = 0, sdyx: Float = 0
            for i in 0..<n {
                let xs = x.data + (i * channels + c) * hw, g = dy.data + (i * channels + c) * hw
                for j in 0..<hw { sdy += g[j]; sdyx += g[j] * (xs[j] - mean[c]) * invStd[c] }
            }
            if parameterGradients { gamma.grad[c] += sdyx; beta.grad[c] += sdy }
            guard inputGradient else { continue }
            let k = gamma.value[c] * invStd[c]
            for i in 0..<n {
                let xs = x.data + (i * channels + c) * hw, g = dy.data + (i * channels + c) * hw
                let d = dx.data + (i * channels + c) * hw
                if usedBatchStats {
                    for j in 0..<hw {
                        let xh = (xs[j] - mean[c]) * invStd[c]
                        d[j] = k * (g[j] - sdy / m - xh * sdyx / m)
                    }
                } else {
                    for j in 0..<hw { d[j] = k * g[j] }
                }
            }
        }
        return inputGradient ? dx : dy
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { backward(dy, parameterGradients: false, inputGradient: true) }
}
