import NITensor

// Graph ops that move data without arithmetic (and the reductions): Transpose, Reshape and its relatives,
// Concat, Slice, Pad, ReduceMean / ReduceSum. All are linear: the rectified backward equals the exact one.

/// Normalises an axis against a rank (negative axes count from the end), or throws.
@inline(__always)
func normalizedAxis(_ a: Int, rank: Int, what: String = "axis") throws -> Int {
    let r = a < 0 ? a + rank : a
    guard r >= 0, r < rank else { throw GraphError.plan("\(what) \(a) is out of range for rank \(rank)") }
    return r
}

/// ONNX `Transpose`: `y[i_p(0), ..., i_p(r−1)] = x[i_0, ..., i_(r−1)]` with `y.shape[k] = x.shape[perm[k]]`
/// (default perm: reversed axes). backward: the inverse transpose of dy.
public final class TransposeOp: GraphOp {
    public let kind = "Transpose"
    public let perm: [Int]?
    private var outShape: [Int] = [], inShape: [Int] = [], srcStrides: [Int] = [], zero: [Int] = [], index: [Int] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(perm: [Int]?) { self.perm = perm }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("Transpose takes one runtime input") }
        let s = inputShapes[0]
        let p = perm ?? Array((0..<s.count).reversed())
        guard p.count == s.count, Set(p) == Set(0..<s.count) else {
            throw GraphError.plan("perm \(p) is not a permutation of the \(s.count) axes")
        }
        inShape = s
        outShape = p.map { s[$0] }
        let st = contiguousStrides(s)
        srcStrides = p.map { st[$0] }
        zero = [Int](repeating: 0, count: s.count)
        return outShape
    }

    /// Copies between the output layout (contiguous) and the input layout (strided): forward gathers, backward scatters.
    private func move(_ src: UnsafeMutablePointer<Float>, _ dst: UnsafeMutablePointer<Float>, gather: Bool) {
        let inner = outShape.last ?? 1, step = srcStrides.last ?? 1
        walkRows(outShape, srcStrides, zero, &index) { row, off, _ in
            let o = row * inner
            if gather { for i in 0..<inner { dst[o + i] = src[off + i * step] } }
            else { for i in 0..<inner { dst[off + i * step] = src[o + i] } }
        }
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        output.resize(outShape)
        move(inputs[0].data, output.data, gather: true)
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        dx.resize(inShape)
        move(dy.data, dx.data, gather: false)
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}

/// ONNX `Reshape`, `Flatten`, `Squeeze`, `Unsqueeze`: the same elements under another shape,
/// `y = x.reshape(shape')`, `dx = dy.reshape(x.shape)`.
///
/// `Reshape` reads its target from static input 0 (`0` copies the input extent unless `allowzero`, `-1` is
/// inferred). When the model declares a fixed batch `fixedBatch` (exporters that baked the batch size into
/// the target), a target whose first entry equals it is read as the batch axis of the input.
/// `Squeeze`/`Unsqueeze` read their axes from static input 0 (or the attribute, passed as `axes`).
public final class ReshapeOp: GraphOp {
    public enum Mode: Sendable, Equatable {
        case reshape(allowZero: Bool, fixedBatch: Int?)
        case flatten(axis: Int)
        case squeeze(axes: [Int]?)
        case unsqueeze(axes: [Int]?)
    }
    public let mode: Mode
    public let kind: String
    private var inShape: [Int] = [], outShape: [Int] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(_ mode: Mode) {
        self.mode = mode
        switch mode {
        case .reshape: kind = "Reshape"
        case .flatten: kind = "Flatten"
        case .squeeze: kind = "Squeeze"
        case .unsqueeze: kind = "Unsqueeze"
        }
    }

    /// The output shape for an input shape (and the static target or axes).
    public static func shape(_ mode: Mode, input s: [Int], target: StaticTensor?) throws -> [Int] {
        let count = s.reduce(1, *)
        switch mode {
        case let .reshape(allowZero, fixedBatch):
            guard let t = target else { throw GraphError.plan("Reshape needs a known target shape") }
            guard t.shape.count == 1, t.count <= 16 else { throw GraphError.plan("Reshape target \(t) is not a short 1-D shape") }
            var dims = t.ints
            if let fb = fixedBatch, dims.first == fb, s.first != fb, s.count >= 1, dims.count >= 1 { dims[0] = s[0] }
            var known = 1, infer: Int? = nil
            for (i, d) in dims.enumerated() {
                if d == 0 && !allowZero {
                    guard i < s.count else { throw GraphError.plan("Reshape target \(dims) copies axis \(i), absent from \(s)") }
                    dims[i] = s[i]
                } else if d == -1 {
                    guard infer == nil else { throw GraphError.plan("Reshape target \(dims) has two -1 entries") }
                    infer = i; continue
                } else if d < 0 {
                    throw GraphError.plan("Reshape target \(dims) has a negative extent")
                }
                let (m, o) = known.multipliedReportingOverflow(by: dims[i])
                guard !o else { throw GraphError.plan("Reshape target \(dims) overflows") }
                known = m
            }
            if let i = infer {
                guard known > 0, count % known == 0 else { throw GraphError.plan("cannot reshape \(s) to \(dims)") }
                dims[i] = count / known
            } else {
                guard known == count else { throw GraphError.plan("cannot reshape \(s) (\(count) elements) to \(dims)") }
            }
            return dims
        case .flatten(let axis):
            let a = axis < 0 ? axis + s.count : axis
            guard a >= 0, a <= s.count else { throw GraphError.plan("Flatten axis \(axis) is out of range for rank \(s.count)") }
            return [s[..<a].reduce(1, *), s[a...].reduce(1, *)]
        case .squeeze(let attr):
            let axesIn = target?.ints ?? attr
            guard let axes = axesIn else { return s.filter { $0 != 1 } }
            let norm = try Set(axes.map { try normalizedAxis($0, rank: s.count) })
            for a in norm where s[a] != 1 { throw GraphError.plan("cannot squeeze axis \(a) of \(s): extent is not 1") }
            return s.enumerated().filter { !norm.contains($0.offset) }.map(\.element)
        case .unsqueeze(let attr):
            guard let axes = target?.ints ?? attr else { throw GraphError.plan("Unsqueeze needs axes") }
            let r = s.count + axes.count
            let norm = try Set(axes.map { try normalizedAxis($0, rank: r) })
            guard norm.count == axes.count else { throw GraphError.plan("Unsqueeze axes \(axes) repeat") }
            var out: [Int] = [], k = 0
            for i in 0..<r { if norm.contains(i) { out.append(1) } else { out.append(s[k]); k += 1 } }
            return out
        }
    }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("\(kind) takes one runtime input") }
        inShape = inputShapes[0]
        outShape = try ReshapeOp.shape(mode, input: inShape, target: statics.first ?? nil)
        return outShape
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        output.resize(outShape)
        output.data.update(from: inputs[0].data, count: output.count)
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        dx.resize(inShape)
        dx.data.update(from: dy.data, count: dx.count)
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}

/// ONNX `Concat` along `axis` of runtime inputs: `y = [x_0, x_1, ...]` stacked on that axis; the gradient of
/// input k is the slice of dy it occupies.
public final class ConcatOp: GraphOp {
    public let kind = "Concat"
    public let axis: Int
    private var shapes: [[Int]] = [], outShape: [Int] = [], outer = 1, inner = 1, blocks: [Int] = []
    private let output = Tensor(shape: [0])
    private var grads: [Tensor] = []

    public init(axis: Int) { self.axis = axis }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard let first = inputShapes.first else { throw GraphError.plan("Concat needs inputs") }
        let a = try normalizedAxis(axis, rank: first.count)
        var total = 0
        for s in inputShapes {
            guard s.count == first.count, s.enumerated().allSatisfy({ $0.offset == a || $0.element == first[$0.offset] }) else {
                throw GraphError.plan("Concat inputs \(inputShapes) differ outside axis \(a)")
            }
            total += s[a]
        }
        shapes = inputShapes
        outShape = first; outShape[a] = total
        outer = first[..<a].reduce(1, *); inner = first[(a + 1)...].reduce(1, *)
        blocks = inputShapes.map { $0[a] * inner }
        while grads.count < inputShapes.count { grads.append(Tensor(shape: [0])) }
        return outShape
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        output.resize(outShape)
        let row = blocks.reduce(0, +), y = output.data
        var off = 0
        for (k, x) in inputs.enumerated() {
            let b = blocks[k], xp = x.data
            for o in 0..<outer { (y + o * row + off).update(from: xp + o * b, count: b) }
            off += b
        }
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        let g = grads[input]
        g.resize(shapes[input])
        let row = blocks.reduce(0, +), b = blocks[input], off = blocks[..<input].reduce(0, +), src = dy.data, d = g.data
        for o in 0..<outer { (d + o * b).update(from: src + o * row + off, count: b) }
        return g
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}

/// ONNX `Slice` on a runtime tensor: `y[i] = x[start + i·step]` per sliced axis, with `starts`, `ends`,
/// `axes`, `steps` from static inputs 0-3 (clamped as the ONNX spec says). backward scatters dy into zeros.
public final class SliceOp: GraphOp {
    public let kind = "Slice"
    private var inShape: [Int] = [], outShape: [Int] = [], strides: [Int] = [], zero: [Int] = [], index: [Int] = []
    private var base = 0
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])
    public init() {}

    /// Per-axis (start, step, count) of a slice of `shape`.
    public static func resolve(shape s: [Int], starts: [Int], ends: [Int], axes: [Int]?, steps: [Int]?) throws -> [(Int, Int, Int)] {
        var r = s.map { (0, 1, $0) }
        let ax = axes ?? Array(0..<starts.count)
        guard starts.count == ends.count, ax.count == starts.count, (steps?.count ?? starts.count) == starts.count else {
            throw GraphError.plan("Slice starts/ends/axes/steps lengths differ")
        }
        var seen = Set<Int>()
        for (k, a0) in ax.enumerated() {
            let a = try normalizedAxis(a0, rank: s.count)
            guard seen.insert(a).inserted else { throw GraphError.plan("Slice axis \(a0) repeats") }
            let dim = s[a], step = steps?[k] ?? 1
            guard step != 0 else { throw GraphError.plan("Slice step 0") }
            var st = starts[k], en = ends[k]
            if st < 0 { st += dim }
            if en < 0 { en += dim }
            let count: Int
            if step > 0 {
                st = Swift.min(Swift.max(st, 0), dim); en = Swift.min(Swift.max(en, 0), dim)
                count = en > st ? (en - st + step - 1) / step : 0
            } else {
                st = Swift.min(Swift.max(st, 0), dim - 1); en = Swift.min(Swift.max(en, -1), dim - 1)
                count = st > en ? (st - en + (-step) - 1) / (-step) : 0
            }
            r[a] = (st, count > 1 ? step : 1, count)
        }
        return r
    }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("Slice takes one runtime input") }
        guard statics.count >= 2, let starts = statics[0], let ends = statics[1] else { throw GraphError.plan("Slice needs known starts and ends") }
        let s = inputShapes[0]
        let axes = statics.count > 2 ? statics[2]?.ints : nil, steps = statics.count > 3 ? statics[3]?.ints : nil
        let r = try SliceOp.resolve(shape: s, starts: starts.ints, ends: ends.ints, axes: axes, steps: steps)
        inShape = s
        outShape = r.map(\.2)
        let st = contiguousStrides(s)
        strides = zip(r, st).map { $0.0.1 * $0.1 }
        base = zip(r, st).reduce(0) { $0 + $1.0.0 * $1.1 }
        zero = [Int](repeating: 0, count: s.count)
        return outShape
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        output.resize(outShape)
        let x = inputs[0].data + base, y = output.data, inner = outShape.last ?? 1, step = strides.last ?? 1
        walkRows(outShape, strides, zero, &index) { row, off, _ in
            for i in 0..<inner { y[row * inner + i] = x[off + i * step] }
        }
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        dx.resize(inShape); dx.zero()
        let d = dx.data + base, g = dy.data, inner = outShape.last ?? 1, step = strides.last ?? 1
        walkRows(outShape, strides, zero, &index) { row, off, _ in
            for i in 0..<inner { d[off + i * step] += g[row * inner + i] }
        }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}

/// ONNX `Pad` (modes `constant`, `edge`, `reflect`): each output element reads the input element its index
/// maps to (or the constant). Pads come from static input 0 (`[begin_0, ..., end_0, ...]`, negative = crop),
/// the constant from static input 1, the axes from static input 2 (opset 18). backward sums dy into the
/// input elements each output read.
public final class PadOp: GraphOp {
    public enum Mode: String, Sendable { case constant, edge, reflect }
    public let kind = "Pad"
    public let mode: Mode
    private var inShape: [Int] = [], outShape: [Int] = [], maps: [[Int]] = [], value: Float = 0, index: [Int] = []
    private var inStrides: [Int] = []
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(mode: Mode) { self.mode = mode }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("Pad takes one runtime input") }
        guard let p = statics.first ?? nil else { throw GraphError.plan("Pad needs known pads") }
        let s = inputShapes[0], r = s.count
        var axes = Array(0..<r)
        if statics.count > 2, let a = statics[2] { axes = try a.ints.map { try normalizedAxis($0, rank: r) } }
        let pads = p.ints
        guard pads.count == 2 * axes.count else { throw GraphError.plan("Pad has \(pads.count) pads for \(axes.count) axes") }
        var begin = [Int](repeating: 0, count: r), end = begin
        for (k, a) in axes.enumerated() { begin[a] = pads[k]; end[a] = pads[k + axes.count] }
        value = statics.count > 1 ? Float(statics[1]?.values.first ?? 0) : 0
        var out: [Int] = [], ms: [[Int]] = []
        for d in 0..<r {
            guard abs(begin[d]) <= graphMaxValueElements, abs(end[d]) <= graphMaxValueElements else { throw GraphError.plan("Pad \(pads) is absurd") }
            let n = s[d] + begin[d] + end[d]
            guard n >= 0 else { throw GraphError.plan("Pad \(pads) crops axis \(d) of \(s) below zero") }
            if mode == .reflect && (begin[d] > 0 || end[d] > 0) && (begin[d] >= s[d] || end[d] >= s[d]) {
                throw GraphError.plan("reflect Pad \(pads) needs pads smaller than the axis \(s[d])")
            }
            if mode == .edge && s[d] == 0 && n > 0 { throw GraphError.plan("edge Pad of an empty axis") }
            out.append(n)
            guard checkedElementCount(out) != nil else { throw GraphError.plan("Pad \(pads) of \(s) is too large") }
            ms.append((0..<n).map { i in
                let j = i - begin[d], dim = s[d]
                if j >= 0 && j < dim { return j }
                switch mode {
                case .constant: return -1
                case .edge: return j < 0 ? 0 : dim - 1
                case .reflect: return j < 0 ? -j : 2 * (dim - 1) - j
                }
            })
        }
        inShape = s; outShape = out; maps = ms; inStrides = contiguousStrides(s)
        index = [Int](repeating: 0, count: r)
        return out
    }

    /// Calls body(outputIndex, inputIndex or -1) for every output element.
    @inline(__always)
    private func forEach(_ body: (Int, Int) -> Void) {
        let r = outShape.count
        let total = outShape.reduce(1, *)
        if total == 0 { return }
        if r == 0 { body(0, 0); return }
        let st = inStrides
        for i in 0..<r { index[i] = 0 }
        for o in 0..<total {
            var src = 0
            for d in 0..<r {
                let m = maps[d][index[d]]
                if m < 0 { src = -1; break }
                src += m * st[d]
            }
            body(o, src)
            var ax = r - 1
            while ax >= 0 { index[ax] += 1; if index[ax] < outShape[ax] { break }; index[ax] = 0; ax -= 1 }
        }
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        output.resize(outShape)
        let x = inputs[0].data, y = output.data, v = value
        forEach { o, i in y[o] = i >= 0 ? x[i] : v }
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        dx.resize(inShape); dx.zero()
        let d = dx.data, g = dy.data
        forEach { o, i in if i >= 0 { d[i] += g[o] } }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}

/// ONNX `ReduceMean` / `ReduceSum` over `axes` (attribute or static input 0; none = all axes, unless
/// `noopWithEmptyAxes`), keeping reduced axes as 1 when `keepDims`:
///
///     y[j] = scale · Σ_{i ↦ j} x[i],  scale = 1 / (reduced count) for the mean, 1 for the sum
///
/// backward: `dx[i] = scale · dy[j(i)]`.
public final class ReduceOp: GraphOp {
    public let mean: Bool
    public let axes: [Int]?
    public let keepDims: Bool
    public let noopWithEmptyAxes: Bool
    public var kind: String { mean ? "ReduceMean" : "ReduceSum" }
    private var inShape: [Int] = [], outShape: [Int] = [], inStrides: [Int] = [], outStrides: [Int] = [], index: [Int] = []
    private var scale: Float = 1
    private let output = Tensor(shape: [0]), dx = Tensor(shape: [0])

    public init(mean: Bool, axes: [Int]?, keepDims: Bool, noopWithEmptyAxes: Bool = false) {
        self.mean = mean; self.axes = axes; self.keepDims = keepDims; self.noopWithEmptyAxes = noopWithEmptyAxes
    }

    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("\(kind) takes one runtime input") }
        let s = inputShapes[0]
        var ax = (statics.first ?? nil)?.ints ?? axes ?? []
        if ax.isEmpty && !noopWithEmptyAxes { ax = Array(0..<s.count) }
        let reduced = try Set(ax.map { try normalizedAxis($0, rank: s.count) })
        let kept = s.enumerated().map { reduced.contains($0.offset) ? 1 : $0.element }
        let own = contiguousStrides(kept)
        inShape = s
        inStrides = contiguousStrides(s)
        outStrides = (0..<s.count).map { reduced.contains($0) ? 0 : own[$0] }
        outShape = keepDims ? kept : s.enumerated().filter { !reduced.contains($0.offset) }.map(\.element)
        let n = reduced.reduce(1) { $0 * s[$1] }
        scale = mean ? 1 / Float(Swift.max(n, 1)) : 1
        index = [Int](repeating: 0, count: s.count)
        return outShape
    }

    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor {
        output.resize(outShape); output.zero()
        let x = inputs[0].data, y = output.data, inner = inShape.last ?? 1, step = outStrides.last ?? 0
        walkRows(inShape, inStrides, outStrides, &index) { row, xo, yo in
            for i in 0..<inner { y[yo + i * step] += x[row * inner + i] }
        }
        let sc = scale
        if sc != 1 { for i in 0..<output.count { y[i] *= sc } }
        return output
    }

    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        dx.resize(inShape)
        let d = dx.data, g = dy.data, inner = inShape.last ?? 1, step = outStrides.last ?? 0, sc = scale
        walkRows(inShape, inStrides, outStrides, &index) { row, _, yo in
            for i in 0..<inner { d[row * inner + i] = g[yo + i * step] * sc }
        }
        return dx
    }

    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { backward(dy, input: input, parameterGradients: false) }
}
