import NITensor

/// ONNX `MatMul` (NumPy `matmul` semantics on the last two axes), in two forms:
///
/// - with a constant right operand `B[K, N]`: `y[..., n] = Σ_k a[..., k] · B[k, n]` over all leading axes
///   (the `MatMul + Add` that tf2onnx emits for a Keras `Dense`); backward `da = dy · Bᵀ`;
/// - with two runtime operands `a[..., M, K]`, `b[..., K, N]` with equal leading axes (or a rank-2 `b`
///   shared by all): `y = a · b` per leading index; backward `da = dy · bᵀ`, `db = aᵀ · dy` (summed over the
///   leading axes when `b` is shared).
///
/// Linear in each operand: the rectified backward equals the exact one.
public final class MatMulOp: GraphOp {
    public let kind = "MatMul"
    /// The constant right operand `[K, N]`, or nil for two runtime operands.
    public let constant: Tensor?
    private var shapeA: [Int] = [], shapeB: [Int] = [], outShape: [Int] = []
    private var batches = 1, m = 0, k = 0, n = 0, sharedB = false
    private var a: Tensor?, b: Tensor?
    private let output = Tensor(shape: [0]), da = Tensor(shape: [0]), db = Tensor(shape: [0])

    public init(constant: Tensor?) { self.constant = constant }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        if let c = constant {
            guard inputShapes.count == 1, c.shape.count == 2 else {
                throw GraphError.plan("MatMul with a constant needs one runtime input and a rank-2 constant, got \(c.shape)")
            }
            let s = inputShapes[0]
            guard s.count >= 1, s.last == c.shape[0] else { throw GraphError.plan("MatMul of \(s) by \(c.shape): inner extents differ") }
            shapeA = s; shapeB = c.shape
            k = c.shape[0]; n = c.shape[1]; m = s.dropLast().reduce(1, *); batches = 1; sharedB = true
            outShape = Array(s.dropLast()) + [n]
            return outShape
        }
        guard inputShapes.count == 2 else { throw GraphError.plan("MatMul takes two inputs") }
        let sa = inputShapes[0], sb = inputShapes[1]
        guard sa.count >= 2, sb.count >= 2, sa.last == sb[sb.count - 2] else {
            throw GraphError.plan("MatMul of \(sa) by \(sb): shapes do not multiply")
        }
        sharedB = sb.count == 2
        guard sharedB || (sa.count == sb.count && Array(sa.dropLast(2)) == Array(sb.dropLast(2))) else {
            throw GraphError.plan("MatMul of \(sa) by \(sb): leading axes must be equal (general broadcasting is not supported)")
        }
        shapeA = sa; shapeB = sb
        m = sa[sa.count - 2]; k = sa[sa.count - 1]; n = sb[sb.count - 1]; batches = sa.dropLast(2).reduce(1, *)
        outShape = Array(sa.dropLast()) + [n]
        return outShape
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        let x = inputs[0], w = constant ?? inputs[1]
        a = x; b = w
        output.resize(outShape)
        for t in 0..<batches {
            GEMM.sgemm(m: m, n: n, k: k, a: x.data + t * m * k, lda: k, b: w.data + (sharedB ? 0 : t * k * n), ldb: n,
                       beta: 0, c: output.data + t * m * n, ldc: n)
        }
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        guard let x = a, let w = b else { preconditionFailure("MatMul.backward before forward") }
        if input == 0 {
            da.resize(shapeA)
            for t in 0..<batches {
                GEMM.sgemm(transB: true, m: m, n: k, k: n, a: dy.data + t * m * n, lda: n, b: w.data + (sharedB ? 0 : t * k * n),
                           ldb: n, beta: 0, c: da.data + t * m * k, ldc: k)
            }
            return da
        }
        db.resize(shapeB)
        if sharedB { db.zero() }
        for t in 0..<batches {
            GEMM.sgemm(transA: true, m: k, n: n, k: m, a: x.data + t * m * k, lda: k, b: dy.data + t * m * n, ldb: n,
                       beta: sharedB ? 1 : 0, c: db.data + (sharedB ? 0 : t * k * n), ldc: n)
        }
        return db
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}
