import NITensor

/// A first-order optimiser over a model's trainable parameters. `state` exposes its moment buffers so a
/// checkpoint can save and restore them (a resumed run continues bit-for-bit).
public protocol Optimizer: AnyObject {
    var name: String { get }
    var learningRate: Float { get set }
    /// Applies one update from the accumulated gradients (the caller zeroes them afterwards).
    func step()
    /// Moment buffers and step counter, in a stable order.
    var state: [Tensor] { get }
    var stepCount: Int { get set }
}

/// SGD with (optional) momentum and weight decay, PyTorch's formulation:
/// `v = μ·v + (g + λ·θ)`, `θ -= lr · v`.
public final class SGD: Optimizer {
    public let name = "sgd"
    public var learningRate: Float
    public let momentum, weightDecay: Float
    let params: [Parameter]
    let velocity: [Tensor]
    public var stepCount = 0

    public init(parameters: [Parameter], learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0) {
        params = parameters.filter(\.trainable)
        self.learningRate = learningRate; self.momentum = momentum; self.weightDecay = weightDecay
        velocity = params.map { Tensor(shape: $0.value.shape) }
    }

    public var state: [Tensor] { velocity }

    public func step() {
        stepCount += 1
        for (p, v) in zip(params, velocity) {
            let w = p.value.data, g = p.grad.data, vd = v.data
            let lr = learningRate, mu = momentum, wd = weightDecay
            elementwise(p.value.count) { r in
                for i in r {
                    let gi = g[i] + wd * w[i]
                    vd[i] = mu * vd[i] + gi
                    w[i] -= lr * vd[i]
                }
            }
        }
    }
}

/// Adam (Kingma & Ba): `m = β1·m + (1-β1)·g`, `v = β2·v + (1-β2)·g²`,
/// `θ -= lr · m̂ / (sqrt(v̂) + ε)` with bias-corrected `m̂, v̂`. Table 1 of the paper trains MNIST with Adam.
public final class Adam: Optimizer {
    public let name = "adam"
    public var learningRate: Float
    public let beta1, beta2, epsilon: Float
    let params: [Parameter]
    let m: [Tensor], v: [Tensor]
    public var stepCount = 0

    public init(parameters: [Parameter], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                epsilon: Float = 1e-8) {
        params = parameters.filter(\.trainable)
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        m = params.map { Tensor(shape: $0.value.shape) }
        v = params.map { Tensor(shape: $0.value.shape) }
    }

    public var state: [Tensor] { m + v }

    public func step() {
        stepCount += 1
        let t = Float(stepCount)
        let c1 = 1 - powf(beta1, t), c2 = 1 - powf(beta2, t)
        let lr = learningRate * c2.squareRoot() / c1
        let b1 = beta1, b2 = beta2, eps = epsilon * c2.squareRoot()
        for (k, p) in params.enumerated() {
            let w = p.value.data, g = p.grad.data, md = m[k].data, vd = v[k].data
            elementwise(p.value.count) { r in
                for i in r {
                    let gi = g[i]
                    md[i] = b1 * md[i] + (1 - b1) * gi
                    vd[i] = b2 * vd[i] + (1 - b2) * gi * gi
                    w[i] -= lr * md[i] / (vd[i].squareRoot() + eps)
                }
            }
        }
    }
}

/// RMSprop (PyTorch's form, no momentum): `v = α·v + (1-α)·g²`, `θ -= lr · g / (sqrt(v) + ε)`.
/// Table 1 of the paper trains GTSRB with RMSprop.
public final class RMSprop: Optimizer {
    public let name = "rmsprop"
    public var learningRate: Float
    public let alpha, epsilon: Float
    let params: [Parameter]
    let v: [Tensor]
    public var stepCount = 0

    public init(parameters: [Parameter], learningRate: Float = 1e-3, alpha: Float = 0.99, epsilon: Float = 1e-8) {
        params = parameters.filter(\.trainable)
        self.learningRate = learningRate; self.alpha = alpha; self.epsilon = epsilon
        v = params.map { Tensor(shape: $0.value.shape) }
    }

    public var state: [Tensor] { v }

    public func step() {
        stepCount += 1
        for (k, p) in params.enumerated() {
            let w = p.value.data, g = p.grad.data, vd = v[k].data
            let a = alpha, lr = learningRate, eps = epsilon
            elementwise(p.value.count) { r in
                for i in r {
                    let gi = g[i]
                    vd[i] = a * vd[i] + (1 - a) * gi * gi
                    w[i] -= lr * gi / (vd[i].squareRoot() + eps)
                }
            }
        }
    }
}

/// Optimiser names accepted on the command line.
public enum OptimizerKind: String, CaseIterable, Codable, Sendable {
    case sgd, adam, rmsprop

    public func make(parameters: [Parameter], learningRate: Float) -> Optimizer {
        switch self {
        case .sgd: return SGD(parameters: parameters, learningRate: learningRate)
        case .adam: return Adam(parameters: parameters, learningRate: learningRate)
        case .rmsprop: return RMSprop(parameters: parameters, learningRate: learningRate)
        }
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
