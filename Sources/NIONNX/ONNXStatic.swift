import Foundation
import NITensor
import NINetwork

/// A node's attributes by name, read defensively (absent or mistyped attributes fall back to defaults).
struct ONNXAttributes {
    let list: [Onnx_AttributeProto]
    init(_ n: Onnx_NodeProto) { list = n.attribute }
    init(_ l: [Onnx_AttributeProto]) { list = l }
    func has(_ name: String) -> Bool { list.contains { $0.name == name } }
    func attr(_ name: String) -> Onnx_AttributeProto? { list.first { $0.name == name } }
    func int(_ name: String) -> Int? { attr(name).map { clampInt($0.i) } }
    func ints(_ name: String) -> [Int]? { attr(name).map { $0.ints.map(clampInt) } }
    func float(_ name: String) -> Float? { attr(name).map { $0.f } }
    func floats(_ name: String) -> [Float]? { attr(name).map { $0.floats } }
    func string(_ name: String) -> String? { attr(name).map { String(decoding: $0.s, as: UTF8.self) } }
}

/// Int64 from a file, saturated into ±2^62 so later arithmetic cannot overflow.
@inline(__always) func clampInt(_ v: Int64) -> Int { Int(Swift.max(Swift.min(v, 1 << 62), -(1 << 62))) }

/// ONNX semantics of the operators evaluated on small static tensors: the shape computations exporters emit
/// (`Shape -> Gather -> Unsqueeze -> Concat -> Reshape` for a flatten), constant folding of small tensors.
enum ONNXStatic {
    /// Largest static result (elements).
    static let maxElements = 1 << 20

    static let ops: Set<String> = ["Shape", "Size", "Identity", "Cast", "CastLike", "Gather", "Unsqueeze", "Squeeze", "Reshape",
                                   "Flatten", "Concat", "Slice", "Transpose", "Add", "Sub", "Mul", "Div", "Pow", "Min", "Max",
                                   "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or", "Not", "Neg", "Abs",
                                   "Floor", "Ceil", "Sqrt", "Where", "ConstantOfShape", "Range", "Expand", "Tile",
                                   "ReduceProd", "ReduceSum", "ReduceMin", "ReduceMax", "ReduceMean", "Dropout"]

    private static func fail(_ s: String) -> GraphError { .plan(s) }

    private static func value(_ v: GraphPlanValue?, _ what: String) throws -> StaticTensor {
        guard let v else { throw fail("missing input \(what)") }
        guard case .value(let s) = v else { throw fail("input \(what) depends on the image data") }
        return s
    }

    private static func checked(_ shape: [Int]) throws -> Int {
        guard let n = checkedElementCount(shape, limit: maxElements) else {
            throw fail("static result of shape \(shape) is larger than \(maxElements) elements")
        }
        return n
    }

    /// Values of `t` read at the positions of a broadcast `shape`.
    private static func expand(_ t: StaticTensor, to shape: [Int]) -> [Double] {
        if t.shape == shape { return t.values }
        let n = shape.reduce(1, *)
        let r = shape.count, st = broadcastStridesOf(t.shape, rank: r, out: shape)
        var out = [Double](repeating: 0, count: n)
        var idx = [Int](repeating: 0, count: r)
        for i in 0..<n {
            var off = 0
            for d in 0..<r { off += idx[d] * st[d] }
            out[i] = t.values[off]
            var ax = r - 1
            while ax >= 0 { idx[ax] += 1; if idx[ax] < shape[ax] { break }; idx[ax] = 0; ax -= 1 }
        }
        return out
    }

    private static func broadcastStridesOf(_ s: [Int], rank: Int, out: [Int]) -> [Int] {
        var own = [Int](repeating: 1, count: s.count)
        var acc = 1
        for i in stride(from: s.count - 1, through: 0, by: -1) { own[i] = acc; acc *= s[i] }
        var r = [Int](repeating: 0, count: rank)
        for i in 0..<s.count { let ax = rank - s.count + i; r[ax] = s[i] == 1 && out[ax] != 1 ? 0 : own[i] }
        return r
    }

    private static func broadcast(_ ts: [StaticTensor]) throws -> [Int] {
        var shape: [Int] = []
        for t in ts {
            guard let s = broadcastShapes(shape, t.shape) else { throw fail("shapes \(ts.map(\.shape)) do not broadcast") }
            shape = s
        }
        _ = try checked(shape)
        return shape
    }

    private static func binary(_ a: StaticTensor, _ b: StaticTensor, integer: Bool, _ f: (Double, Double) throws -> Double) throws -> StaticTensor {
        let shape = try broadcast([a, b])
        let x = expand(a, to: shape), y = expand(b, to: shape)
        var out = [Double](repeating: 0, count: x.count)
        for i in 0..<x.count { out[i] = try f(x[i], y[i]) }
        return StaticTensor(shape: shape, values: out, isInteger: integer)
    }

    private static func axes(_ attrs: ONNXAttributes, _ inputs: [GraphPlanValue?], index: Int, opset: Int, since: Int) throws -> [Int]? {
        if opset >= since {
            guard index < inputs.count, inputs[index] != nil else { return nil }
            return try value(inputs[index], "axes").ints
        }
        return attrs.ints("axes")
    }

    /// `evaluate`, with the result's rank and size checked.
    static func evaluateChecked(_ op: String, attrs: ONNXAttributes, opset: Int, inputs: [GraphPlanValue?]) throws -> StaticTensor {
        let r = try evaluate(op, attrs: attrs, opset: opset, inputs: inputs)
        guard r.shape.count <= 16, r.count <= maxElements, r.shape.reduce(1, *) == r.count else {
            throw fail("static result of shape \(r.shape) is too large or inconsistent")
        }
        return r
    }

    static func evaluate(_ op: String, attrs: ONNXAttributes, opset: Int, inputs: [GraphPlanValue?]) throws -> StaticTensor {
        func input(_ i: Int) throws -> StaticTensor { try value(i < inputs.count ? inputs[i] : nil, "\(i)") }
        func optional(_ i: Int) throws -> StaticTensor? { i < inputs.count && inputs[i] != nil ? try input(i) : nil }
        switch op {
        case "Shape", "Size":
            let s: [Int]
            switch inputs.first ?? nil {
            case .dynamic(let d)?: s = d
            case .value(let v)?: s = v.shape
            case nil: throw fail("missing input")
            }
            if op == "Size" { return StaticTensor(scalar: Double(s.reduce(1, *)), isInteger: true) }
            let r = s.count
            var start = attrs.int("start") ?? 0, end = attrs.int("end") ?? r
            if start < 0 { start += r }; if end < 0 { end += r }
            start = Swift.min(Swift.max(start, 0), r); end = Swift.min(Swift.max(end, 0), r)
            return StaticTensor(ints: end > start ? Array(s[start..<end]) : [])
        case "Identity", "Dropout":
            return try input(0)
        case "Cast", "CastLike":
            var t = try input(0)
            let to: Int32
            if op == "CastLike" { to = try input(1).isInteger ? 7 : 1 } else { to = Int32(truncatingIfNeeded: attrs.int("to") ?? 1) }
            switch Onnx_TensorProto.DataType(rawValue: Int(to)) {
            case .float?, .float16?, .double?, .bfloat16?:
                t.values = t.values.map { Double(Float($0)) }; t.isInteger = false
            case .bool?:
                t.values = t.values.map { $0 != 0 ? 1 : 0 }; t.isInteger = true
            case .int8?, .uint8?, .int16?, .uint16?, .int32?, .uint32?, .int64?, .uint64?:
                t.values = t.values.map { $0.isFinite ? $0.rounded(.towardZero) : 0 }; t.isInteger = true
            default: throw fail("Cast to \(TensorDecoder.typeName(to)) is not supported")
            }
            return t
        case "Gather":
            let data = try input(0), ind = try input(1)
            guard !data.shape.isEmpty else { throw fail("Gather from a scalar") }
            let r = data.shape.count
            var a = attrs.int("axis") ?? 0
            if a < 0 { a += r }
            guard a >= 0, a < r else { throw fail("Gather axis out of range") }
            let outer = data.shape[..<a].reduce(1, *), dim = data.shape[a], inner = data.shape[(a + 1)...].reduce(1, *)
            let shape = Array(data.shape[..<a]) + ind.shape + Array(data.shape[(a + 1)...])
            _ = try checked(shape)
            var out: [Double] = []
            out.reserveCapacity(shape.reduce(1, *))
            let idx = try ind.ints.map { i -> Int in
                let j = i < 0 ? i + dim : i
                guard j >= 0, j < dim else { throw fail("Gather index \(i) out of range for extent \(dim)") }
                return j
            }
            for o in 0..<outer { for j in idx { for k in 0..<inner { out.append(data.values[(o * dim + j) * inner + k]) } } }
            return StaticTensor(shape: shape, values: out, isInteger: data.isInteger)
        case "Unsqueeze", "Squeeze", "Reshape", "Flatten":
            var t = try input(0)
            let target: StaticTensor?
            let mode: ReshapeOp.Mode
            switch op {
            case "Unsqueeze":
                mode = .unsqueeze(axes: nil)
                target = try axes(attrs, inputs, index: 1, opset: opset, since: 13).map { StaticTensor(ints: $0) }
            case "Squeeze":
                mode = .squeeze(axes: nil)
                target = try axes(attrs, inputs, index: 1, opset: opset, since: 13).map { StaticTensor(ints: $0) }
            case "Reshape":
                mode = .reshape(allowZero: (attrs.int("allowzero") ?? 0) != 0, fixedBatch: nil); target = try input(1)
            default:
                mode = .flatten(axis: attrs.int("axis") ?? 1); target = nil
            }
            t.shape = try ReshapeOp.shape(mode, input: t.shape, target: target)
            return t
        case "Concat":
            let ts = try inputs.indices.compactMap { try optional($0) }
            guard let first = ts.first else { throw fail("Concat of nothing") }
            let r = first.shape.count
            var a = attrs.int("axis") ?? 0
            if a < 0 { a += r }
            guard a >= 0, a < r else { throw fail("Concat axis out of range") }
            var shape = first.shape
            shape[a] = 0
            for t in ts {
                guard t.shape.count == r, (0..<r).allSatisfy({ $0 == a || t.shape[$0] == first.shape[$0] }) else {
                    throw fail("Concat of shapes \(ts.map(\.shape))")
                }
                shape[a] += t.shape[a]
            }
            _ = try checked(shape)
            let outer = first.shape[..<a].reduce(1, *), inner = first.shape[(a + 1)...].reduce(1, *)
            var out: [Double] = []
            for o in 0..<outer { for t in ts { let b = t.shape[a] * inner; out += t.values[(o * b)..<((o + 1) * b)] } }
            return StaticTensor(shape: shape, values: out, isInteger: ts.allSatisfy(\.isInteger))
        case "Slice":
            let data = try input(0)
            let starts: [Int], ends: [Int], ax: [Int]?, steps: [Int]?
            if opset < 10 {
                guard let s = attrs.ints("starts"), let e = attrs.ints("ends") else { throw fail("Slice needs starts and ends") }
                starts = s; ends = e; ax = attrs.ints("axes"); steps = nil
            } else {
                starts = try input(1).ints; ends = try input(2).ints; ax = try optional(3)?.ints; steps = try optional(4)?.ints
            }
            let r = try SliceOp.resolve(shape: data.shape, starts: starts, ends: ends, axes: ax, steps: steps)
            let shape = r.map(\.2)
            let n = try checked(shape)
            var st = [Int](repeating: 1, count: data.shape.count), acc = 1
            for i in stride(from: data.shape.count - 1, through: 0, by: -1) { st[i] = acc; acc *= data.shape[i] }
            var out = [Double](repeating: 0, count: n), idx = [Int](repeating: 0, count: shape.count)
            for i in 0..<n {
                var off = 0
                for d in 0..<shape.count { off += (r[d].0 + idx[d] * r[d].1) * st[d] }
                out[i] = data.values[off]
                var a = shape.count - 1
                while a >= 0 { idx[a] += 1; if idx[a] < shape[a] { break }; idx[a] = 0; a -= 1 }
            }
            return StaticTensor(shape: shape, values: out, isInteger: data.isInteger)
        case "Transpose":
            let t = try input(0)
            let r = t.shape.count
            let perm = attrs.ints("perm") ?? Array((0..<r).reversed())
            guard perm.count == r, Set(perm) == Set(0..<r) else { throw fail("perm \(perm) is not a permutation of \(r) axes") }
            let shape = perm.map { t.shape[$0] }
            var st = [Int](repeating: 1, count: r), acc = 1
            for i in stride(from: r - 1, through: 0, by: -1) { st[i] = acc; acc *= t.shape[i] }
            var out = [Double](repeating: 0, count: t.count), idx = [Int](repeating: 0, count: r)
            for i in 0..<t.count {
                var off = 0
                for d in 0..<r { off += idx[d] * st[perm[d]] }
                out[i] = t.values[off]
                var a = r - 1
                while a >= 0 { idx[a] += 1; if idx[a] < shape[a] { break }; idx[a] = 0; a -= 1 }
            }
            return StaticTensor(shape: shape, values: out, isInteger: t.isInteger)
        case "Add", "Sub", "Mul", "Div", "Pow", "Equal", "Less", "Greater", "LessOrEqual", "GreaterOrEqual", "And", "Or":
            let a = try input(0), b = try input(1)
            let ints = a.isInteger && b.isInteger
            switch op {
            case "Add": return try binary(a, b, integer: ints) { $0 + $1 }
            case "Sub": return try binary(a, b, integer: ints) { $0 - $1 }
            case "Mul": return try binary(a, b, integer: ints) { $0 * $1 }
            case "Div":
                return try binary(a, b, integer: ints) { x, y in
                    if ints { guard y != 0 else { throw fail("integer division by zero") }; return (x / y).rounded(.towardZero) }
                    return x / y
                }
            case "Pow": return try binary(a, b, integer: a.isInteger) { Foundation.pow($0, $1) }
            case "Equal": return try binary(a, b, integer: true) { $0 == $1 ? 1 : 0 }
            case "Less": return try binary(a, b, integer: true) { $0 < $1 ? 1 : 0 }
            case "Greater": return try binary(a, b, integer: true) { $0 > $1 ? 1 : 0 }
            case "LessOrEqual": return try binary(a, b, integer: true) { $0 <= $1 ? 1 : 0 }
            case "GreaterOrEqual": return try binary(a, b, integer: true) { $0 >= $1 ? 1 : 0 }
            case "And": return try binary(a, b, integer: true) { $0 != 0 && $1 != 0 ? 1 : 0 }
            default: return try binary(a, b, integer: true) { $0 != 0 || $1 != 0 ? 1 : 0 }
            }
        case "Min", "Max":
            let ts = try inputs.indices.compactMap { try optional($0) }
            guard var acc = ts.first else { throw fail("\(op) of nothing") }
            for t in ts.dropFirst() {
                acc = try binary(acc, t, integer: acc.isInteger && t.isInteger) { op == "Min" ? Swift.min($0, $1) : Swift.max($0, $1) }
            }
            return acc
        case "Not", "Neg", "Abs", "Floor", "Ceil", "Sqrt":
            var t = try input(0)
            switch op {
            case "Not": t.values = t.values.map { $0 == 0 ? 1 : 0 }
            case "Neg": t.values = t.values.map { -$0 }
            case "Abs": t.values = t.values.map { Swift.abs($0) }
            case "Floor": t.values = t.values.map { $0.rounded(.down) }
            case "Ceil": t.values = t.values.map { $0.rounded(.up) }
            default: t.values = t.values.map { $0.squareRoot() }
            }
            return t
        case "Where":
            let c = try input(0), x = try input(1), y = try input(2)
            let shape = try broadcast([c, x, y])
            let cv = expand(c, to: shape), xv = expand(x, to: shape), yv = expand(y, to: shape)
            return StaticTensor(shape: shape, values: (0..<cv.count).map { cv[$0] != 0 ? xv[$0] : yv[$0] }, isInteger: x.isInteger && y.isInteger)
        case "ConstantOfShape":
            let shape = try input(0).ints
            let n = try checked(shape)
            var fill = 0.0, isInt = false
            if let t = attrs.attr("value"), t.hasT {
                var dec = TensorDecoder(path: "", folder: nil, budget: 1 << 10)
                switch try? dec.decode(t.t, name: "value") {
                case .float(let v)? where v.count == 1: fill = Double(v[0])
                case .integer(let v)? where v.count == 1: fill = v.values[0]; isInt = true
                default: throw fail("ConstantOfShape value must be one number")
                }
            }
            return StaticTensor(shape: shape, values: [Double](repeating: fill, count: n), isInteger: isInt)
        case "Range":
            let s = try input(0), l = try input(1), d = try input(2)
            guard s.count == 1, l.count == 1, d.count == 1, d.values[0] != 0 else { throw fail("Range needs three scalars and a non-zero delta") }
            let steps = ((l.values[0] - s.values[0]) / d.values[0]).rounded(.up)
            guard steps.isFinite, steps <= Double(maxElements) else { throw fail("Range of \(steps) values is too long") }
            let n = Swift.max(Int(steps), 0)
            return StaticTensor(shape: [n], values: (0..<n).map { s.values[0] + Double($0) * d.values[0] },
                                isInteger: s.isInteger && l.isInteger && d.isInteger)
        case "Expand":
            let t = try input(0), shape = try input(1).ints
            guard shape.allSatisfy({ $0 >= 0 }), let out = broadcastShapes(t.shape, shape) else { throw fail("cannot expand \(t.shape) to \(shape)") }
            _ = try checked(out)
            return StaticTensor(shape: out, values: expand(t, to: out), isInteger: t.isInteger)
        case "Tile":
            let t = try input(0), reps = try input(1).ints
            guard reps.count == t.shape.count, reps.allSatisfy({ $0 >= 0 }) else { throw fail("Tile repeats \(reps) for shape \(t.shape)") }
            var shape: [Int] = []
            for (d, r) in zip(t.shape, reps) {
                let (m, o) = d.multipliedReportingOverflow(by: r)
                guard !o else { throw fail("Tile overflows") }
                shape.append(m)
            }
            let n = try checked(shape)
            var out = [Double](repeating: 0, count: n), idx = [Int](repeating: 0, count: shape.count)
            var st = [Int](repeating: 1, count: t.shape.count), acc = 1
            for i in stride(from: t.shape.count - 1, through: 0, by: -1) { st[i] = acc; acc *= t.shape[i] }
            for i in 0..<n {
                var off = 0
                for d in 0..<shape.count { off += (idx[d] % t.shape[d]) * st[d] }
                out[i] = t.values[off]
                var a = shape.count - 1
                while a >= 0 { idx[a] += 1; if idx[a] < shape[a] { break }; idx[a] = 0; a -= 1 }
            }
            return StaticTensor(shape: shape, values: out, isInteger: t.isInteger)
        case "ReduceProd", "ReduceSum", "ReduceMin", "ReduceMax", "ReduceMean":
            let t = try input(0)
            let since = op == "ReduceSum" ? 13 : 18
            var ax = try axes(attrs, inputs, index: 1, opset: opset, since: since) ?? []
            let keep = (attrs.int("keepdims") ?? 1) != 0
            if ax.isEmpty {
                if (attrs.int("noop_with_empty_axes") ?? 0) != 0 { return t }
                ax = Array(0..<t.shape.count)
            }
            let r = t.shape.count
            let red = Set(try ax.map { a -> Int in
                let b = a < 0 ? a + r : a
                guard b >= 0, b < r else { throw fail("axis \(a) out of range") }
                return b
            })
            let kept = t.shape.enumerated().map { red.contains($0.offset) ? 1 : $0.element }
            let n = kept.reduce(1, *)
            var acc = [Double](repeating: op == "ReduceProd" ? 1 : op == "ReduceMin" ? .infinity : op == "ReduceMax" ? -.infinity : 0, count: n)
            var st = [Int](repeating: 1, count: r), a2 = 1
            for i in stride(from: r - 1, through: 0, by: -1) { st[i] = a2; a2 *= kept[i] }
            var idx = [Int](repeating: 0, count: r)
            for i in 0..<t.count {
                var o = 0
                for d in 0..<r where !red.contains(d) { o += idx[d] * st[d] }
                let v = t.values[i]
                switch op {
                case "ReduceProd": acc[o] *= v
                case "ReduceMin": acc[o] = Swift.min(acc[o], v)
                case "ReduceMax": acc[o] = Swift.max(acc[o], v)
                default: acc[o] += v
                }
                var a = r - 1
                while a >= 0 { idx[a] += 1; if idx[a] < t.shape[a] { break }; idx[a] = 0; a -= 1 }
            }
            if op == "ReduceMean" { let c = Double(Swift.max(t.count / Swift.max(n, 1), 1)); acc = acc.map { $0 / c } }
            let shape = keep ? kept : t.shape.enumerated().filter { !red.contains($0.offset) }.map(\.element)
            return StaticTensor(shape: shape, values: acc, isInteger: t.isInteger && op != "ReduceMean")
        default:
            throw fail("\(op) cannot be evaluated on constants")
        }
    }
}

/// A node of the shape subgraph, re-evaluated by `GraphModel` for each input shape.
final class ONNXStaticNode: GraphStaticNode {
    let kind: String
    let attrs: ONNXAttributes
    let opset: Int
    /// Which of the node's inputs are present (absent optional inputs are not passed by the graph).
    let present: [Bool]

    init(kind: String, attrs: ONNXAttributes, opset: Int, present: [Bool]) {
        self.kind = kind; self.attrs = attrs; self.opset = opset; self.present = present
    }

    func evaluate(_ inputs: [GraphPlanValue]) throws -> StaticTensor {
        var it = inputs.makeIterator()
        let full: [GraphPlanValue?] = present.map { $0 ? it.next() : nil }
        return try ONNXStatic.evaluateChecked(kind, attrs: attrs, opset: opset, inputs: full)
    }
}
