import Foundation
import NITensor

// Element-wise graph ops: broadcasting arithmetic, unary activations, softmax over any axis, identity.

/// Row-major contiguous strides of `shape`.
@inline(__always)
func contiguousStrides(_ shape: [Int]) -> [Int] {
    var s = [Int](repeating: 1, count: shape.count)
    var acc = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) { s[i] = acc; acc *= shape[i] }
    return s
}

/// NumPy broadcasting of two shapes (aligned on the right; equal extents or one of them 1), or nil.
public func broadcastShapes(_ a: [Int], _ b: [Int]) -> [Int]? {
    let r = Swift.max(a.count, b.count)
    var out = [Int](repeating: 1, count: r)
    for i in 0..<r {
        let da = i < r - a.count ? 1 : a[i - (r - a.count)]
        let db = i < r - b.count ? 1 : b[i - (r - b.count)]
        if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
    }
    return out
}

/// Strides of an operand of shape `s` read at the positions of a broadcast output of rank `rank`
/// (0 on broadcast axes).
@inline(__always)
func broadcastStrides(_ s: [Int], outputShape out: [Int]) -> [Int] {
    let rank = out.count
    let own = contiguousStrides(s)
    var r = [Int](repeating: 0, count: rank)
    for i in 0..<s.count {
        let ax = rank - s.count + i
        r[ax] = s[i] == 1 && out[ax] != 1 ? 0 : own[i]
    }
    return r
}

/// Walks the rows of the last axis of `extents`: `body(row, aOffset, bOffset)` at the start of each row,
/// with operand offsets advanced by strides `sa` / `sb` on the outer axes. `index` is scratch of `extents.count`.
@inline(__always)
func walkRows(_ extents: [Int], _ sa: [Int], _ sb: [Int], _ index: inout [Int], _ body: (Int, Int, Int) -> Void) {
    let r = extents.count
    if r <= 1 { body(0, 0, 0); return }
    var rows = 1
    for i in 0..<(r - 1) { rows *= extents[i] }
    if rows == 0 || extents[r - 1] == 0 { return }
    if index.count < r { index = [Int](repeating: 0, count: r) }
    for i in 0..<r { index[i] = 0 }
    var oa = 0, ob = 0
    for row in 0..<rows {
        body(row, oa, ob)
        var ax = r - 2
        while ax >= 0 {
            index[ax] += 1; oa += sa[ax]; ob += sb[ax]
            if index[ax] < extents[ax] { break }
            oa -= sa[ax] * extents[ax]; ob -= sb[ax] * extents[ax]; index[ax] = 0
            ax -= 1
        }
    }
}

/// Broadcasting arithmetic, ONNX `Add`, `Sub`, `Mul`, `Div` (NumPy broadcasting), with two runtime operands or
/// one runtime operand and a constant:
///
///     y = a ∘ b,  ∘ ∈ {+, −, ×, ÷}
///
/// backward: `da = Σ_bcast dy · ∂y/∂a` with `∂y/∂a` = 1, 1, b, 1/b and `∂y/∂b` = 1, −1, a, −a/b²; the sums run
/// over the axes along which the operand was broadcast. No ReLU gate: the rectified backward is the exact one.
public final class BinaryOp: GraphOp {
    public enum Operation: String, Sendable { case add = "Add", sub = "Sub", mul = "Mul", div = "Div" }
    public let operation: Operation
    /// A constant operand, or nil when both operands are runtime values.
    public let constant: Tensor?
    /// Position of the constant operand: 0 (left) or 1 (right).
    public let constantPosition: Int
    public var kind: String { operation.rawValue }

    private var shapeA: [Int] = [], shapeB: [Int] = [], outShape: [Int] = []
    private var sa: [Int] = [], sb: [Int] = [], index: [Int] = []
    private var sameShape = false
    private var a: Tensor?, b: Tensor?
    private let output = Tensor(shape: [0])
    private let da = Tensor(shape: [0]), db = Tensor(shape: [0])

    public init(_ operation: Operation, constant: Tensor? = nil, constantPosition: Int = 1) {
        self.operation = operation; self.constant = constant; self.constantPosition = constantPosition
    }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        if let c = constant {
            guard inputShapes.count == 1 else { throw GraphError.plan("\(kind) with a constant takes one runtime input") }
            (shapeA, shapeB) = constantPosition == 0 ? (c.shape, inputShapes[0]) : (inputShapes[0], c.shape)
        } else {
            guard inputShapes.count == 2 else { throw GraphError.plan("\(kind) takes two inputs") }
            (shapeA, shapeB) = (inputShapes[0], inputShapes[1])
        }
        guard let o = broadcastShapes(shapeA, shapeB) else {
            throw GraphError.plan("shapes \(shapeA) and \(shapeB) do not broadcast")
        }
        outShape = o
        sa = broadcastStrides(shapeA, outputShape: o)
        sb = broadcastStrides(shapeB, outputShape: o)
        sameShape = shapeA == o && shapeB == o
        index = [Int](repeating: 0, count: o.count)
        return o
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        let (x, y): (Tensor, Tensor)
        if let c = constant { (x, y) = constantPosition == 0 ? (c, inputs[0]) : (inputs[0], c) } else { (x, y) = (inputs[0], inputs[1]) }
        a = x; b = y
        output.resize(outShape)
        let ap = x.data, bp = y.data, o = output.data, op = operation
        if sameShape {
            elementwise(output.count) { r in
                switch op {
                case .add: for i in r { o[i] = ap[i] + bp[i] }
                case .sub: for i in r { o[i] = ap[i] - bp[i] }
                case .mul: for i in r { o[i] = ap[i] * bp[i] }
                case .div: for i in r { o[i] = ap[i] / bp[i] }
                }
            }
            return output
        }
        let inner = outShape.last ?? 1, ia = sa.last ?? 0, ib = sb.last ?? 0
        walkRows(outShape, sa, sb, &index) { row, oa, ob in
            let dst = o + row * inner, pa = ap + oa, pb = bp + ob
            switch op {
            case .add: for i in 0..<inner { dst[i] = pa[i * ia] + pb[i * ib] }
            case .sub: for i in 0..<inner { dst[i] = pa[i * ia] - pb[i * ib] }
            case .mul: for i in 0..<inner { dst[i] = pa[i * ia] * pb[i * ib] }
            case .div: for i in 0..<inner { dst[i] = pa[i * ia] / pb[i * ib] }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        guard let x = a, let y = b else { preconditionFailure("\(kind).backward before forward") }
        // Which operand this runtime input is.
        let p = constant == nil ? input : 1 - constantPosition
        let dst = p == 0 ? da : db
        let shape = p == 0 ? shapeA : shapeB
        dst.resize(shape)
        let g = dy.data, d = dst.data, ap = x.data, bp = y.data, op = operation
        if sameShape {
            elementwise(dst.count) { r in
                switch (op, p) {
                case (.add, _), (.sub, 0): for i in r { d[i] = g[i] }
                case (.sub, _): for i in r { d[i] = -g[i] }
                case (.mul, 0): for i in r { d[i] = g[i] * bp[i] }
                case (.mul, _): for i in r { d[i] = g[i] * ap[i] }
                case (.div, 0): for i in r { d[i] = g[i] / bp[i] }
                case (.div, _): for i in r { d[i] = -g[i] * ap[i] / (bp[i] * bp[i]) }
                }
            }
            return dst
        }
        dst.zero()
        let inner = outShape.last ?? 1, ia = sa.last ?? 0, ib = sb.last ?? 0
        walkRows(outShape, sa, sb, &index) { row, oa, ob in
            let gr = g + row * inner, pa = ap + oa, pb = bp + ob
            let (base, step) = p == 0 ? (d + oa, ia) : (d + ob, ib)
            switch (op, p) {
            case (.add, _), (.sub, 0): for i in 0..<inner { base[i * step] += gr[i] }
            case (.sub, _): for i in 0..<inner { base[i * step] -= gr[i] }
            case (.mul, 0): for i in 0..<inner { base[i * step] += gr[i] * pb[i * ib] }
            case (.mul, _): for i in 0..<inner { base[i * step] += gr[i] * pa[i * ia] }
            case (.div, 0): for i in 0..<inner { base[i * step] += gr[i] / pb[i * ib] }
            case (.div, _):
                for i in 0..<inner { let v = pb[i * ib]; base[i * step] -= gr[i] * pa[i * ia] / (v * v) }
            }
        }
        return dst
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}

/// Element-wise activations without a layer of their own:
///
/// - `Sigmoid`: `y = 1 / (1 + e^(−x))`, `dx = dy · y(1 − y)`;
/// - `Tanh`: `y = tanh x`, `dx = dy · (1 − y²)`;
/// - `Clip`: `y = min(max(x, lo), hi)`, `dx = dy · [lo ≤ x ≤ hi]` (limits from the static inputs 1 and 2, or
///   ±∞ when absent);
/// - `Neg`: `y = −x`, `dx = −dy`.
///
/// Rectified backward: exact for `Sigmoid`, `Tanh`, `Neg`; a `Clip` whose lower limit is 0 (ReLU6 and other
/// bounded ReLUs) is a ReLU and is rectified like one: `dx = max(dy, 0) · [0 < x ≤ hi]`.
public final class UnaryOp: GraphOp {
    public enum Function: String, Sendable { case sigmoid = "Sigmoid", tanh = "Tanh", clip = "Clip", neg = "Neg" }
    public let function: Function
    public var kind: String { function.rawValue }
    /// Clip limits (from the attributes of opsets before 11; later opsets pass them as static inputs).
    public private(set) var low: Float, high: Float
    private let attributeLimits: Bool
    private var input: Tensor?
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0]), rdx = Tensor(shape: [0])

    public init(_ function: Function, low: Float? = nil, high: Float? = nil) {
        self.function = function
        self.low = low ?? -.infinity; self.high = high ?? .infinity
        attributeLimits = low != nil || high != nil
    }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("\(kind) takes one runtime input") }
        if function == .clip && !attributeLimits {
            func limit(_ i: Int, _ def: Float) throws -> Float {
                guard i < statics.count, let s = statics[i] else { return def }
                guard s.count == 1, !s.values[0].isNaN else { throw GraphError.plan("Clip limit must be one number, got \(s)") }
                return Float(s.values[0])
            }
            low = try limit(0, -.infinity); high = try limit(1, .infinity)
        }
        return inputShapes[0]
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        let x = inputs[0]
        input = x
        output.resize(x.shape)
        let xp = x.data, yp = output.data, lo = low, hi = high
        switch function {
        case .sigmoid: elementwise(x.count) { r in for i in r { yp[i] = 1 / (1 + expf(-xp[i])) } }
        case .tanh: elementwise(x.count) { r in for i in r { yp[i] = tanhf(xp[i]) } }
        case .clip: elementwise(x.count) { r in for i in r { yp[i] = Swift.min(Swift.max(xp[i], lo), hi) } }
        case .neg: elementwise(x.count) { r in for i in r { yp[i] = -xp[i] } }
        }
        return output
    }

    private func pass(_ dy: Tensor, into dx: Tensor, rectified: Bool) -> Tensor {
        guard let x = input else { preconditionFailure("\(kind).backward before forward") }
        dx.resize(x.shape)
        let xp = x.data, yp = output.data, g = dy.data, d = dx.data, lo = low, hi = high
        switch function {
        case .sigmoid: elementwise(x.count) { r in for i in r { d[i] = g[i] * yp[i] * (1 - yp[i]) } }
        case .tanh: elementwise(x.count) { r in for i in r { d[i] = g[i] * (1 - yp[i] * yp[i]) } }
        case .neg: elementwise(x.count) { r in for i in r { d[i] = -g[i] } }
        case .clip:
            if rectified && lo == 0 {
                elementwise(x.count) { r in for i in r { d[i] = xp[i] > 0 && xp[i] <= hi ? Swift.max(g[i], 0) : 0 } }
            } else {
                elementwise(x.count) { r in for i in r { d[i] = xp[i] >= lo && xp[i] <= hi ? g[i] : 0 } }
            }
        }
        return dx
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor { pass(dy, into: dx, rectified: false) }
    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { pass(dy, into: rdx, rectified: true) }
}

/// Softmax or LogSoftmax along one axis (opset 13+), or over the input flattened to 2-D at `axis` (opsets
/// before 13, `coerced`):
///
///     softmax: y_i = e^(x_i − m) / Σ_j e^(x_j − m);   log-softmax: y_i = x_i − m − log Σ_j e^(x_j − m)
///
/// backward: softmax `dx = y ⊙ (dy − Σ_j dy_j y_j)`; log-softmax `dx = dy − softmax(x) · Σ_j dy_j`.
/// Rectified backward: the same (no ReLU gate).
public final class SoftmaxOp: GraphOp {
    public let logarithmic: Bool
    public let axis: Int
    public let coerced: Bool
    public var kind: String { logarithmic ? "LogSoftmax" : "Softmax" }
    private var outer = 1, length = 1, inner = 1, rank = 0, normalizedAxis = 0
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(logarithmic: Bool, axis: Int, coerced: Bool) {
        self.logarithmic = logarithmic; self.axis = axis; self.coerced = coerced
    }

    /// True when, on an input of rank `rank`, the softmax runs over the classes of `[N, classes]`.
    public func isOverLastAxis(of rank: Int) -> Bool { self.rank == rank && normalizedAxis == rank - 1 }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("\(kind) takes one runtime input") }
        let s = inputShapes[0]
        let a = axis < 0 ? axis + s.count : axis
        guard a >= 0, a < Swift.max(s.count, 1) else { throw GraphError.plan("axis \(axis) is out of range for rank \(s.count)") }
        rank = s.count; normalizedAxis = a
        if coerced {
            outer = s[..<a].reduce(1, *); length = s[a...].reduce(1, *); inner = 1
            if a == s.count - 1 { normalizedAxis = a } else if a != 0 { normalizedAxis = -1 }
        } else {
            outer = s[..<a].reduce(1, *); length = s.isEmpty ? 1 : s[a]; inner = s.isEmpty ? 1 : s[(a + 1)...].reduce(1, *)
        }
        return s
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        let x = inputs[0]
        output.resize(x.shape)
        let xp = x.data, yp = output.data, len = length, inn = inner, log = logarithmic
        for o in 0..<outer {
            for j in 0..<inn {
                let base = o * len * inn + j
                var m = -Float.infinity
                for k in 0..<len { m = Swift.max(m, xp[base + k * inn]) }
                var s: Float = 0
                for k in 0..<len { s += expf(xp[base + k * inn] - m) }
                if log {
                    let ls = logf(s)
                    for k in 0..<len { yp[base + k * inn] = xp[base + k * inn] - m - ls }
                } else {
                    let inv = 1 / s
                    for k in 0..<len { yp[base + k * inn] = expf(xp[base + k * inn] - m) * inv }
                }
            }
        }
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        dx.resize(output.shape)
        let yp = output.data, g = dy.data, d = dx.data, len = length, inn = inner
        for o in 0..<outer {
            for j in 0..<inn {
                let base = o * len * inn + j
                if logarithmic {
                    var s: Float = 0
                    for k in 0..<len { s += g[base + k * inn] }
                    for k in 0..<len { let i = base + k * inn; d[i] = g[i] - expf(yp[i]) * s }
                } else {
                    var dot: Float = 0
                    for k in 0..<len { let i = base + k * inn; dot += g[i] * yp[i] }
                    for k in 0..<len { let i = base + k * inn; d[i] = yp[i] * (g[i] - dot) }
                }
            }
        }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}

/// ONNX `Identity` (and `Dropout` at inference): `y = x`, `dx = dy`.
public final class IdentityOp: GraphOp {
    public let kind = "Identity"
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])
    public init() {}
    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("Identity takes one runtime input") }
        return inputShapes[0]
    }
    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor { output.assign(inputs[0]); return output }
    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor { dx.assign(dy); return dx }
    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}
