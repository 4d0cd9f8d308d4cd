import NITensor

/// Element-wise work over large tensors is split across cores above this many elements.
let parallelThreshold = 1 << 16

@inline(__always)
func elementwise(_ count: Int, _ body: (Range<Int>) -> Void) {
    if count < parallelThreshold { body(0..<count); return }
    Parallel.forEachChunk(count) { _, r in body(r) }
}

/// Rectified linear unit, `y = max(x, 0)`.
///
/// - backward: `dx = dy · [x > 0]`
/// - rectified backward (the paper's rectified saliency, as in guided backpropagation):
///   `dx = max(dy, 0) · [x > 0]`: only positive gradients flow, and only where the forward input was positive.
public final class ReLU: Layer {
    public let kind = "Relu"
    private var input: Tensor?
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0]), rdx = Tensor(shape: [0])
    public init() {}

    public func outputShape(for s: [Int]) throws -> [Int] { s }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        input = x
        output.resize(x.shape)
        let xp = x.data, yp = output.data
        elementwise(x.count) { r in for i in r { yp[i] = Swift.max(xp[i], 0) } }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient, let x = input else { return dy }
        dx.resize(x.shape)
        let xp = x.data, gp = dy.data, dp = dx.data
        elementwise(x.count) { r in for i in r { dp[i] = xp[i] > 0 ? gp[i] : 0 } }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("ReLU.rectifiedBackward before forward") }
        rdx.resize(x.shape)
        let xp = x.data, gp = dy.data, dp = rdx.data
        elementwise(x.count) { r in for i in r { dp[i] = xp[i] > 0 ? Swift.max(gp[i], 0) : 0 } }
        return rdx
    }
}

/// Leaky ReLU, `y = x` for `x > 0`, else `alpha · x`.
///
/// - backward: `dx = dy · (x > 0 ? 1 : alpha)`
/// - rectified backward: negative gradients are clipped before the local slope, `dx = max(dy, 0) · (x > 0 ? 1 : alpha)`.
public final class LeakyReLU: Layer {
    public let kind = "LeakyRelu"
    public let alpha: Float
    private var input: Tensor?
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0]), rdx = Tensor(shape: [0])
    public init(alpha: Float = 0.01) { self.alpha = alpha }

    public func outputShape(for s: [Int]) throws -> [Int] { s }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        input = x
        output.resize(x.shape)
        let xp = x.data, yp = output.data, a = alpha
        elementwise(x.count) { r in for i in r { yp[i] = xp[i] > 0 ? xp[i] : a * xp[i] } }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient, let x = input else { return dy }
        dx.resize(x.shape)
        let xp = x.data, gp = dy.data, dp = dx.data, a = alpha
        elementwise(x.count) { r in for i in r { dp[i] = xp[i] > 0 ? gp[i] : a * gp[i] } }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("LeakyReLU.rectifiedBackward before forward") }
        rdx.resize(x.shape)
        let xp = x.data, gp = dy.data, dp = rdx.data, a = alpha
        elementwise(x.count) { r in for i in r { let g = Swift.max(gp[i], 0); dp[i] = xp[i] > 0 ? g : a * g } }
        return rdx
    }
}

/// Softmax over the last axis, `y_i = exp(x_i - max x) / Σ_j exp(x_j - max x)`.
///
/// Detection reads raw logits, so models end without it or it is bypassed (see `Sequential.logitsModel`).
/// - backward: `dx = y ⊙ (dy - Σ_j dy_j y_j)`; rectified backward: the same (no ReLU gate).
public final class Softmax: Layer {
    public let kind = "Softmax"
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])
    public init() {}

    public func outputShape(for s: [Int]) throws -> [Int] { s }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        output.resize(x.shape)
        let c = x.shape.last ?? 1, rows = x.count / Swift.max(c, 1)
        for r in 0..<rows {
            let xi = x.data + r * c, yi = output.data + r * c
            var m = -Float.infinity
            for j in 0..<c { m = Swift.max(m, xi[j]) }
            var s: Float = 0
            for j in 0..<c { let e = expf(xi[j] - m); yi[j] = e; s += e }
            let inv = 1 / s
            for j in 0..<c { yi[j] *= inv }
        }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient else { return dy }
        dx.resize(output.shape)
        let c = output.shape.last ?? 1, rows = output.count / Swift.max(c, 1)
        for r in 0..<rows {
            let y = output.data + r * c, g = dy.data + r * c, d = dx.data + r * c
            var dot: Float = 0
            for j in 0..<c { dot += g[j] * y[j] }
            for j in 0..<c { d[j] = y[j] * (g[j] - dot) }
        }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor {
        backward(dy, parameterGradients: false, inputGradient: true)
    }
}

#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif
