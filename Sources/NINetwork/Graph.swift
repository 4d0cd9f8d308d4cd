import NITensor

/// A small tensor known while planning, before any image is seen: shapes, axes, reshape targets, slice bounds,
/// clip limits. Values are stored as `Double` (exact for integers up to 2^53); `isInteger` keeps the ONNX
/// element kind (int64/int32/bool versus float) for the operators whose result depends on it (`Div`, `Cast`).
public struct StaticTensor: Equatable, Sendable, CustomStringConvertible {
    public var shape: [Int]
    public var values: [Double]
    public var isInteger: Bool

    public init(shape: [Int], values: [Double], isInteger: Bool) {
        self.shape = shape; self.values = values; self.isInteger = isInteger
    }
    /// A 1-D integer tensor.
    public init(ints: [Int]) { self.init(shape: [ints.count], values: ints.map(Double.init), isInteger: true) }
    /// A scalar (shape `[]`).
    public init(scalar: Double, isInteger: Bool) { self.init(shape: [], values: [scalar], isInteger: isInteger) }

    public var count: Int { values.count }
    /// The values as integers, saturated to ±2^62 (ONNX uses INT64_MAX as "to the end" in `Slice`).
    public var ints: [Int] { values.map(StaticTensor.saturatedInt) }

    @inline(__always) public static func saturatedInt(_ v: Double) -> Int {
        if v.isNaN { return 0 }
        if v >= 4.6e18 { return 1 << 62 }
        if v <= -4.6e18 { return -(1 << 62) }
        return Int(v.rounded(.towardZero))
    }

    public var description: String {
        let head = values.prefix(8).map { isInteger ? String(StaticTensor.saturatedInt($0)) : String($0) }.joined(separator: ", ")
        return "\(shape)[\(head)\(count > 8 ? ", ..." : "")]"
    }
}

/// What the planner knows about one input of a static node: the shape of a runtime tensor (for `Shape`), or
/// a static value.
public enum GraphPlanValue {
    case dynamic(shape: [Int])
    case value(StaticTensor)
}

/// A node evaluated while planning (the `Shape -> Gather -> Concat -> Reshape` patterns exporters emit for a
/// flatten): its result depends on input shapes only, so it is recomputed once per input shape, never per image.
public protocol GraphStaticNode: AnyObject {
    /// Operator name, for messages.
    var kind: String { get }
    func evaluate(_ inputs: [GraphPlanValue]) throws -> StaticTensor
}

/// One runtime node of a `GraphModel`: a function of one or more float tensors, with its three passes side by
/// side like `Layer`:
/// - `configure`: checks the input shapes (batch axis first) and the node's static inputs (per plan), returns
///   the output shape. Called once per input shape, before `forward`.
/// - `forward`: computes the output and caches what the backward passes need;
/// - `backward(dy, input: i)`: the exact gradient with respect to runtime input `i` (parameter gradients
///   accumulated once, on input 0, when asked);
/// - `rectifiedBackward(dy, input: i)`: the rectified-saliency pass (see `Layer.rectifiedBackward`).
///
/// Returned tensors are owned by the node; the gradient returned for different inputs live in different tensors.
public protocol GraphOp: AnyObject {
    var kind: String { get }
    func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int]
    func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor
    func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor
    func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor
    var parameters: [Parameter] { get }
}

extension GraphOp {
    public var parameters: [Parameter] { [] }
}

/// Runs a single-input `Layer` as a graph node, so graph models reuse the layers' fast paths.
public final class LayerOp: GraphOp {
    public let layer: Layer
    public init(_ layer: Layer) { self.layer = layer }
    public var kind: String { layer.kind }
    public func configure(inputShapes: [[Int]], statics: [StaticTensor?]) throws -> [Int] {
        guard inputShapes.count == 1 else { throw GraphError.plan("\(kind) takes one runtime input, got \(inputShapes.count)") }
        return try layer.outputShape(for: inputShapes[0])
    }
    public func forward(_ inputs: [Tensor], mode: ForwardMode) -> Tensor { layer.forward(inputs[0], mode: mode) }
    public func backward(_ dy: Tensor, input: Int, parameterGradients: Bool) -> Tensor {
        layer.backward(dy, parameterGradients: parameterGradients, inputGradient: true)
    }
    public func rectifiedBackward(_ dy: Tensor, input: Int) -> Tensor { layer.rectifiedBackward(dy) }
    public var parameters: [Parameter] { layer.parameters }
}

/// Why a graph could not be planned for an input shape.
public enum GraphError: Error, CustomStringConvertible, Equatable {
    case plan(String)
    public var description: String {
        switch self { case .plan(let s): return s }
    }
}

/// Largest number of elements one runtime value may hold (a guard against graphs that declare absurd sizes).
/// Tests lower it to keep mutated models cheap.
nonisolated(unsafe) public var graphMaxValueElements = 1 << 28
/// Largest rank of a runtime value.
public let graphMaxRank = 8

/// Element count of `shape`, or nil on a negative extent, overflow or a count above `limit`.
public func checkedElementCount(_ shape: [Int], limit: Int = graphMaxValueElements) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (m, o) = n.multipliedReportingOverflow(by: d)
        guard !o, m <= limit else { return nil }
        n = m
    }
    return n
}

/// A general dataflow graph of `GraphOp`s (residual `Add`, `Concat`, two-head layouts, NHWC transposes):
///
/// - values are numbered; each runtime value is produced by exactly one step, and may feed several steps;
/// - steps are kept in topological order; steps that do not lead to the output are dropped;
/// - per input shape the graph is *planned* once: static nodes are evaluated, every op is configured and its
///   output shape checked; buffers are then sized by the ops on the first forward and reused;
/// - `forward` runs the steps in order; `backward` / `rectifiedBackward` run them in reverse, summing the
///   gradient contributions of values with several consumers into one buffer per value (allocated once).
///
/// After one forward, the backward passes may run any number of times (once per output class).
public final class GraphModel: Model {
    /// One step of the graph.
    public enum Step {
        /// A runtime node: `inputs` are runtime values, `statics` static values (nil for an absent input).
        case op(GraphOp, inputs: [Int], statics: [Int?], output: Int, name: String)
        /// A node evaluated while planning.
        case compute(GraphStaticNode, inputs: [Int], output: Int, name: String)
    }

    public let inputShape: [Int]
    public private(set) var classCount: Int = 0
    /// Value names (for messages), indexed by value number.
    public let valueNames: [String]
    public let input: Int
    public let output: Int
    public let steps: [Step]
    /// Static values known when the graph is built (weights are bound into the ops, not kept here).
    public let constants: [Int: StaticTensor]

    private struct OpStep {
        let op: GraphOp
        let inputs: [Int]
        let output: Int
        var buffer: [Tensor]
    }
    private var opSteps: [OpStep] = []
    private var values: [Tensor?]
    private var grads: [Tensor?]
    private var contributions: [Int]
    private var consumerEdges: [Int]
    private var accumulators: [Int: Tensor] = [:]
    private var plannedShape: [Int]?
    private var shapes: [[Int]?]
    private let zeroGradient = Tensor(shape: [0])

    /// Builds the graph and plans it for a batch of one. Throws when a step reads a value no earlier step,
    /// constant or the input provides, when a value is produced twice, or when planning fails.
    public init(inputShape: [Int], valueNames: [String], input: Int, output: Int, steps: [Step],
                constants: [Int: StaticTensor]) throws {
        let n = valueNames.count
        guard input >= 0, input < n, output >= 0, output < n else { throw GraphError.plan("graph input or output out of range") }
        // Keep only what the output needs.
        var needed = [Bool](repeating: false, count: n)
        needed[output] = true
        var kept: [Step] = []
        for s in steps.reversed() {
            let (ins, statics, out): ([Int], [Int?], Int)
            switch s {
            case let .op(_, i, st, o, _): (ins, statics, out) = (i, st, o)
            case let .compute(_, i, o, _): (ins, statics, out) = (i, [], o)
            }
            guard out >= 0, out < n else { throw GraphError.plan("step output out of range") }
            guard needed[out] else { continue }
            for v in ins + statics.compactMap({ $0 }) {
                guard v >= 0, v < n else { throw GraphError.plan("step input out of range") }
                needed[v] = true
            }
            kept.append(s)
        }
        kept.reverse()
        // Every input is defined before it is read; every value produced once.
        var defined = [Bool](repeating: false, count: n)
        defined[input] = true
        for k in constants.keys where k >= 0 && k < n { defined[k] = true }
        for s in kept {
            let (ins, statics, out, name): ([Int], [Int?], Int, String)
            switch s {
            case let .op(_, i, st, o, nm): (ins, statics, out, name) = (i, st, o, nm)
            case let .compute(_, i, o, nm): (ins, statics, out, name) = (i, [], o, nm)
            }
            for v in ins + statics.compactMap({ $0 }) where !defined[v] {
                throw GraphError.plan("node '\(name)' reads '\(valueNames[v])' before it is computed")
            }
            guard !defined[out] else { throw GraphError.plan("value '\(valueNames[out])' is produced twice") }
            defined[out] = true
        }
        guard defined[output] else { throw GraphError.plan("nothing computes the output '\(valueNames[output])'") }
        self.inputShape = inputShape
        self.valueNames = valueNames
        self.input = input
        self.output = output
        self.steps = kept
        self.constants = constants
        values = Array(repeating: nil, count: n)
        grads = Array(repeating: nil, count: n)
        contributions = Array(repeating: 0, count: n)
        consumerEdges = Array(repeating: 0, count: n)
        shapes = Array(repeating: nil, count: n)
        for s in kept {
            guard case let .op(op, ins, _, out, _) = s else { continue }
            for v in ins { consumerEdges[v] += 1 }
            opSteps.append(OpStep(op: op, inputs: ins, output: out, buffer: []))
        }
        let outShape = try plan([1] + inputShape)
        guard outShape.count == 2, outShape[0] == 1 else {
            throw GraphError.plan("the output '\(valueNames[output])' has shape \(outShape) for one image; [1, classes] is expected")
        }
        classCount = outShape[1]
    }

    /// All ops' parameters, in step order, each once.
    public var parameters: [Parameter] {
        var seen = Set<ObjectIdentifier>()
        var out: [Parameter] = []
        for s in opSteps { for p in s.op.parameters where seen.insert(ObjectIdentifier(p)).inserted { out.append(p) } }
        return out
    }

    /// The runtime ops in step order (for summaries and tests).
    public var ops: [GraphOp] { opSteps.map(\.op) }

    /// Plans the graph for a batch shape (`[N] + inputShape`) and returns the output shape. Called by
    /// `forward` when the shape changes; call it directly to see planning errors as thrown errors.
    @discardableResult
    public func plan(_ shape: [Int]) throws -> [Int] {
        guard shape.count == inputShape.count + 1, Array(shape.dropFirst()) == inputShape, shape[0] >= 1 else {
            throw GraphError.plan("input shape \(shape) does not match the model's [N] + \(inputShape)")
        }
        guard checkedElementCount(shape) != nil else { throw GraphError.plan("input shape \(shape) is too large") }
        var statics = [StaticTensor?](repeating: nil, count: valueNames.count)
        for (k, v) in constants { statics[k] = v }
        var sh = [[Int]?](repeating: nil, count: valueNames.count)
        sh[input] = shape
        for s in steps {
            switch s {
            case let .compute(node, ins, out, name):
                var args: [GraphPlanValue] = []
                for v in ins {
                    if let st = statics[v] { args.append(.value(st)) } else if let d = sh[v] { args.append(.dynamic(shape: d)) } else {
                        throw GraphError.plan("node '\(name)' (\(node.kind)) reads '\(valueNames[v])', which is not known")
                    }
                }
                do { statics[out] = try node.evaluate(args) } catch let e as GraphError { throw e } catch {
                    throw GraphError.plan("node '\(name)' (\(node.kind)): \(error)")
                }
            case let .op(op, ins, stIns, out, name):
                var shapesIn: [[Int]] = []
                for v in ins {
                    guard let d = sh[v] else {
                        throw GraphError.plan("node '\(name)' (\(op.kind)) reads '\(valueNames[v])' as image data, but it is a constant")
                    }
                    shapesIn.append(d)
                }
                let st: [StaticTensor?] = stIns.map { $0.flatMap { statics[$0] } }
                let o: [Int]
                do { o = try op.configure(inputShapes: shapesIn, statics: st) } catch {
                    throw GraphError.plan("node '\(name)' (\(op.kind)) on input \(shapesIn.count == 1 ? "\(shapesIn[0])" : "\(shapesIn)"): \(error)")
                }
                guard o.count <= graphMaxRank, checkedElementCount(o) != nil else {
                    throw GraphError.plan("node '\(name)' (\(op.kind)) would produce \(o): rank above \(graphMaxRank) or more than \(graphMaxValueElements) elements")
                }
                sh[out] = o
            }
        }
        guard let o = sh[output] else { throw GraphError.plan("the output '\(valueNames[output])' is a constant") }
        plannedElements = sh.reduce(0) { $0 + ($1.map { $0.reduce(1, *) } ?? 0) }
        shapes = sh
        plannedShape = shape
        return o
    }

    /// Elements of all runtime values under the current plan (a measure of the memory and work of one forward).
    public private(set) var plannedElements = 0

    /// The planned shape of a value (after a forward or `plan`), by name.
    public func plannedShape(of name: String) -> [Int]? {
        valueNames.firstIndex(of: name).flatMap { shapes[$0] }
    }

    public func forward(_ x: Tensor, mode: ForwardMode) -> Tensor {
        if plannedShape != x.shape {
            do { try plan(x.shape) } catch { preconditionFailure("GraphModel: \(error)") }
        }
        values[input] = x
        for k in 0..<opSteps.count {
            let ins = opSteps[k].inputs
            if opSteps[k].buffer.count != ins.count {
                opSteps[k].buffer = ins.map { values[$0]! }
            } else {
                for j in 0..<ins.count { opSteps[k].buffer[j] = values[ins[j]]! }
            }
            values[opSteps[k].output] = opSteps[k].op.forward(opSteps[k].buffer, mode: mode)
        }
        return values[output]!
    }

    public func backward(_ dy: Tensor, parameterGradients: Bool, inputGradient: Bool) -> Tensor {
        run(dy, rectified: false, parameterGradients: parameterGradients)
    }

    public func rectifiedBackward(_ dy: Tensor) -> Tensor { run(dy, rectified: true, parameterGradients: false) }

    private func run(_ dy: Tensor, rectified: Bool, parameterGradients: Bool) -> Tensor {
        for i in 0..<grads.count { grads[i] = nil; contributions[i] = 0 }
        grads[output] = dy
        for k in stride(from: opSteps.count - 1, through: 0, by: -1) {
            let s = opSteps[k]
            guard let g = grads[s.output] else { continue }
            for (j, v) in s.inputs.enumerated() {
                let gi = rectified ? s.op.rectifiedBackward(g, input: j)
                                   : s.op.backward(g, input: j, parameterGradients: parameterGradients && j == 0)
                accumulate(v, gi)
            }
        }
        if let g = grads[input] { return g }
        zeroGradient.resize(plannedShape ?? [1] + inputShape)
        zeroGradient.zero()
        return zeroGradient
    }

    @inline(__always)
    private func accumulate(_ v: Int, _ g: Tensor) {
        if consumerEdges[v] <= 1 { grads[v] = g; return }
        let acc: Tensor
        if let a = accumulators[v] { acc = a } else { acc = Tensor(shape: [0]); accumulators[v] = acc }
        if contributions[v] == 0 {
            acc.assign(g)
        } else {
            let a = acc.data, b = g.data
            elementwise(acc.count) { r in for i in r { a[i] += b[i] } }
        }
        contributions[v] += 1
        grads[v] = acc
    }

    /// The op computing the output, skipping identity steps, and its input value.
    private func lastRealStep() -> (op: GraphOp, input: Int)? {
        var v = output
        while true {
            guard let s = opSteps.first(where: { $0.output == v }), s.inputs.count == 1 else { return nil }
            if s.op.kind == "Identity" || (s.op as? LayerOp)?.layer is Dropout { v = s.inputs[0]; continue }
            return (s.op, s.inputs[0])
        }
    }

    /// The kind (`Softmax` or `LogSoftmax`) of a trailing softmax over the classes, or nil.
    public var trailingSoftmax: String? {
        guard let (op, _) = lastRealStep() else { return nil }
        if let l = op as? LayerOp, l.layer is Softmax { return "Softmax" }
        if let s = op as? SoftmaxOp, s.isOverLastAxis(of: 2) { return s.kind }
        return nil
    }

    /// True when the output is a Softmax or LogSoftmax over the classes (detection reads logits).
    public var endsWithSoftmax: Bool { trailingSoftmax != nil }

    /// The same graph with its output moved before a trailing Softmax/LogSoftmax (shares the ops).
    public func removingSoftmax() throws -> GraphModel {
        guard endsWithSoftmax, let (_, v) = lastRealStep() else { return self }
        return try GraphModel(inputShape: inputShape, valueNames: valueNames, input: input, output: v, steps: steps,
                              constants: constants)
    }

    /// A one-line-per-op summary with planned output shapes.
    public var summary: String {
        var lines: [String] = []
        for s in opSteps {
            let shape = shapes[s.output].map { $0.dropFirst().map(String.init).joined(separator: "x") } ?? "?"
            let n = s.op.parameters.filter(\.trainable).reduce(0) { $0 + $1.value.count }
            lines.append("\(s.op.kind.padding(toLength: 20, withPad: " ", startingAt: 0)) \(valueNames[s.output]) -> \(shape)\(n > 0 ? "  (\(n) params)" : "")")
        }
        return lines.joined(separator: "\n")
    }
}

import Foundation

/// Fast loops used while loading untrusted weights (this module is always built optimised, so the checks cost
/// little even in a debug build of the loader).
public enum TensorConversion {
    /// Number of NaN or infinite values among `count` floats.
    public static func nonFiniteCount(_ p: UnsafePointer<Float>, count: Int) -> Int {
        var bad = 0
        for i in 0..<count where !p[i].isFinite { bad += 1 }
        return bad
    }

    /// IEEE half-precision bits to float (subnormals, infinities and NaN included).
    @inline(__always)
    public static func halfToFloat(_ h: UInt16) -> Float {
        let sign = UInt32(h & 0x8000) << 16
        let exp = Int((h >> 10) & 0x1F), man = UInt32(h & 0x3FF)
        if exp == 0 {
            if man == 0 { return Float(bitPattern: sign) }
            let v = Float(man) * (1.0 / 16_777_216.0)   // man · 2^-24
            return sign != 0 ? -v : v
        }
        if exp == 31 { return Float(bitPattern: sign | 0x7F80_0000 | (man << 13)) }
        return Float(bitPattern: sign | UInt32(exp - 15 + 127) << 23 | (man << 13))
    }

    /// Converts `count` little-endian elements at `src` (unaligned bytes) of the given kind to float.
    public static func convert(_ src: UnsafeRawPointer, count: Int, kind: SourceKind, into dst: UnsafeMutablePointer<Float>) {
        switch kind {
        case .float32: UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4)
        case .float16: for i in 0..<count { dst[i] = halfToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
        case .bfloat16: for i in 0..<count { dst[i] = Float(bitPattern: UInt32(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        case .float64: for i in 0..<count { dst[i] = Float(Double(bitPattern: UInt64(littleEndian: src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))) }
        }
    }

    /// Float element encodings found in model files.
    public enum SourceKind: Sendable { case float32, float16, bfloat16, float64 }
}
