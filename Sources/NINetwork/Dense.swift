import NITensor

/// Fully connected layer (ONNX `Gemm` with `transB = 1`, PyTorch `Linear`):
///
///     y[n, o] = b[o] + Σ_i x[n, i] · W[o, i]
///
/// Inputs with more than two axes are read as `[N, prod(rest)]`. Backward: `dx = dy · W`,
/// `dW += dyᵀ · x`, `db += Σ_n dy`. Linear in x, so the rectified backward is the exact input gradient.
public final class Dense: Layer {
    public let kind = "Gemm"
    public let inFeatures, outFeatures: Int
    /// `[out, in]`
    public let weight: Parameter
    /// `[out]`
    public let bias: Parameter
    private var input: Tensor?
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0]), rdx = Tensor(shape: [0]), transposed = Tensor(shape: [0])

    public init(_ inFeatures: Int, _ outFeatures: Int, name: String = "dense") {
        self.inFeatures = inFeatures; self.outFeatures = outFeatures
        weight = Parameter(name: "\(name).weight", shape: [outFeatures, inFeatures])
        bias = Parameter(name: "\(name).bias", shape: [outFeatures])
    }

    public var parameters: [Parameter] { [weight, bias] }

    public func outputShape(for s: [Int]) throws -> [Int] {
        guard s.count >= 2, s.dropFirst().reduce(1, *) == inFeatures else {
            throw ShapeError.mismatch(layer: "Dense(\(inFeatures)->\(outFeatures))", expected: "[N, \(inFeatures)]", got: s)
        }
        return [s[0], outFeatures]
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        input = x
        let n = x.shape[0]
        output.resize([n, outFeatures])
        // yᵀ = W · xᵀ: W is packed row-wise (contiguous) and only the small batch is transposed while packing.
        transposed.resize([outFeatures, n])
        GEMM.sgemm(transB: true, m: outFeatures, n: n, k: inFeatures, a: weight.value.data, lda: inFeatures,
                   b: x.data, ldb: inFeatures, beta: 0, c: transposed.data, ldc: n)
        let b = bias.value.data, t = transposed.data, y = output.data
        for i in 0..<n { for o in 0..<outFeatures { y[i * outFeatures + o] = t[o * n + i] + b[o] } }
        return output
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        guard let x = input else { preconditionFailure("Dense.backward before forward") }
        let n = x.shape[0]
        if parameterGradients {
            GEMM.sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dy.data, lda: outFeatures,
                       b: x.data, ldb: inFeatures, beta: 1, c: weight.grad.data, ldc: inFeatures)
            let gb = bias.grad.data
            for i in 0..<n {
                let row = dy.data + i * outFeatures
                for o in 0..<outFeatures { gb[o] += row[o] }
            }
        }
        guard inputGradient else { return dy }
        return inputGradientImpl(dy, into: dx, like: x)
    }

    /// Linear in x: the rectified pass is the exact input gradient.
    public func rectifiedBackward(_ dy: Tensor) -> Tensor {
        guard let x = input else { preconditionFailure("Dense.rectifiedBackward before forward") }
        return inputGradientImpl(dy, into: rdx, like: x)
    }

    private func inputGradientImpl(_ dy: Tensor, into dx: Tensor, like x: Tensor) -> Tensor {
        dx.resize(x.shape)
        GEMM.sgemm(m: x.shape[0], n: inFeatures, k: outFeatures, a: dy.data, lda: outFeatures,
                   b: weight.value.data, ldb: inFeatures, beta: 0, c: dx.data, ldc: inFeatures)
        return dx
    }
}
