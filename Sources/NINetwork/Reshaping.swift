import NITensor

/// Flattens `[N, d1, d2, ...]` to `[N, d1·d2·...]` (ONNX `Flatten` with axis 1). Backward reshapes back;
/// rectified backward is the same.
public final class Flatten: Layer {
    public let kind = "Flatten"
    private var inputShape: [Int] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])
    public init() {}

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 1 else { throw ShapeError.mismatch(layer: "Flatten", expected: "[N, ...]", got: s) }
        return [s[0], s.dropFirst().reduce(1, *)]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        inputShape = x.shape
        output.resize([x.shape[0], x.count / Swift.max(x.shape[0], 1)])
        output.data.update(from: x.data, count: x.count)
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient else { return dy }
        dx.resize(inputShape)
        dx.data.update(from: dy.data, count: dy.count)
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { backward(dy, parameterGradients: false, inputGradient: true) }
}

/// Dropout with drop probability `p` (inverted: kept units are scaled by `1/(1-p)` during training; identity
/// at inference). The mask comes from a seeded generator, so training is reproducible. Backward and rectified
/// backward multiply by the same mask.
public final class Dropout: Layer {
    public let kind = "Dropout"
    public let p: Float
    private var rng: SeededGenerator
    private var mask: [Float] = []
    private var active = false
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(_ p: Float, seed: UInt64 = 0) { self.p = p; rng = SeededGenerator(seed: seed ^ 0xD0D0) }

    /// Reseeds the mask generator (the trainer does this from its own seed).
    public func reseed(_ seed: UInt64) { rng = SeededGenerator(seed: seed) }

    public func outputShape(for s: [Int]) throws -> [Int] { s }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        output.resize(x.shape)
        active = mode == .training && p > 0
        if !active { output.data.update(from: x.data, count: x.count); return output }
        if mask.count != x.count { mask = [Float](repeating: 0, count: x.count) }
        let scale = 1 / (1 - p), p = self.p, n = x.count, src = x.data, dst = output.data
        var g = rng   // a local copy: the loop keeps the state in registers (same sequence as before)
        mask.withUnsafeMutableBufferPointer { m in
            for i in 0..<n { let k: Float = g.nextUnit() < p ? 0 : scale; m[i] = k; dst[i] = src[i] * k }
        }
        rng = g
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard inputGradient else { return dy }
        dx.resize(dy.shape)
        if !active { dx.data.update(from: dy.data, count: dy.count); return dx }
        let n = dy.count, src = dy.data, dst = dx.data
        mask.withUnsafeBufferPointer { m in for i in 0..<n { dst[i] = src[i] * m[i] } }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { backward(dy, parameterGradients: false, inputGradient: true) }
}
