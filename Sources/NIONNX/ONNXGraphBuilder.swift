import Foundation
import NITensor
import NINetwork

/// Translates a checked ONNX graph into `GraphModel` steps: nodes in topological order, values by name, constant
/// subgraphs folded, the shape subgraph kept as static steps, every other node mapped onto a runtime op. While
/// building, the graph is traced on a batch of one so each op is configured with its real input shapes (and
/// `auto_pad`, pooling windows and weights are checked against them).
struct ONNXGraphBuilder {
    /// What is known about a named ONNX value.
    enum Known {
        /// Image data, computed at run time: value number.
        case dynamic(Int)
        /// A float constant (initializer or folded), bound into the ops that read it.
        case weight(Tensor)
        /// A small constant known now.
        case fixed(StaticTensor)
        /// A small static value that depends on input shapes (value number); recomputed per plan.
        case shaped(Int)
    }

    /// Operators mapped onto runtime ops (besides the static ones of `ONNXStatic.ops`).
    static let runtimeOps: Set<String> = ["Conv", "Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Sigmoid",
                                          "Tanh", "Clip", "Neg", "MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool",
                                          "BatchNormalization", "Flatten", "Reshape", "Transpose", "Concat", "Squeeze",
                                          "Unsqueeze", "Identity", "Dropout", "Pad", "Softmax", "LogSoftmax", "Constant",
                                          "Slice", "ReduceMean", "ReduceSum", "Cast", "Shape", "Size", "Gather"]
    /// Operators of the `com.microsoft` domain that onnxruntime's optimiser writes and this build runs.
    static let microsoftOps: Set<String> = ["FusedConv"]
    /// Every operator name `info` reports as supported.
    static var supportedOps: Set<String> { runtimeOps.union(ONNXStatic.ops).union(microsoftOps) }

    let path: String
    let opset: Int
    let fixedBatch: Int?
    var decoder: TensorDecoder
    var known: [String: Known] = [:]
    var names: [String] = []
    var shapes: [Int: [Int]] = [:]
    var traceStatics: [Int: StaticTensor] = [:]
    var constants: [Int: StaticTensor] = [:]
    var constantIDs: [String: Int] = [:]
    var steps: [GraphModel.Step] = []
    var counter = 0

    init(path: String, opset: Int, fixedBatch: Int?, decoder: TensorDecoder) {
        self.path = path; self.opset = opset; self.fixedBatch = fixedBatch; self.decoder = decoder
    }

    mutating func newValue(_ name: String) -> Int { names.append(name); return names.count - 1 }

    static func describe(_ n: Onnx_NodeProto) -> String { "'\(n.name.isEmpty ? n.opType : n.name)' (\(n.opType))" }

    // MARK: - Reading inputs

    func shape(_ id: Int) -> [Int] { shapes[id] ?? [] }

    func input(_ n: Onnx_NodeProto, _ i: Int) -> Known? {
        guard i < n.input.count, !n.input[i].isEmpty else { return nil }
        return known[n.input[i]]
    }

    func dynamic(_ n: Onnx_NodeProto, _ i: Int) throws -> Int {
        guard case .dynamic(let id)? = input(n, i) else {
            throw ONNXError.unsupportedAttribute(path, node: Self.describe(n), detail: "input \(i) must be computed from the image, but it is \(i < n.input.count ? "a constant" : "absent")")
        }
        return id
    }

    func weight(_ n: Onnx_NodeProto, _ i: Int) throws -> Tensor {
        switch input(n, i) {
        case .weight(let t)?: return t
        case .fixed(let s)?:
            let t = Tensor(shape: s.shape)
            for k in 0..<s.count { t[k] = Float(s.values[k]) }
            guard TensorConversion.nonFiniteCount(t.data, count: t.count) == 0 else {
                throw ONNXError.nonFinite(path, name: n.input[i], count: TensorConversion.nonFiniteCount(t.data, count: t.count))
            }
            return t
        case nil:
            throw ONNXError.missingInitializer(path, node: Self.describe(n), name: i < n.input.count ? n.input[i] : "input \(i)")
        default:
            throw ONNXError.unsupportedAttribute(path, node: Self.describe(n), detail: "input \(i) ('\(n.input[i])') must be a constant weight; weights computed from the image are not supported")
        }
    }

    func optionalWeight(_ n: Onnx_NodeProto, _ i: Int) throws -> Tensor? {
        input(n, i) == nil ? nil : try weight(n, i)
    }

    /// A static value as a number in the graph (constants registered once).
    mutating func staticID(_ n: Onnx_NodeProto, _ i: Int) throws -> Int? {
        guard let k = input(n, i) else { return nil }
        switch k {
        case .shaped(let id): return id
        case .dynamic:
            throw ONNXError.unsupportedAttribute(path, node: Self.describe(n), detail: "input \(i) ('\(n.input[i])') must be known before the image is seen, but it is computed from the image")
        case .fixed(let s): return constantID(n.input[i], s)
        case .weight(let t):
            guard t.count <= ONNXStatic.maxElements else {
                throw ONNXError.unsupportedAttribute(path, node: Self.describe(n), detail: "input \(i) is a large float tensor where a small static value is expected")
            }
            return constantID(n.input[i], StaticTensor(shape: t.shape, values: t.array.map(Double.init), isInteger: false))
        }
    }

    mutating func constantID(_ name: String, _ s: StaticTensor) -> Int {
        if let id = constantIDs[name] { return id }
        let id = newValue(name)
        constants[id] = s; traceStatics[id] = s; constantIDs[name] = id
        return id
    }

    mutating func constantID(synthetic s: StaticTensor) -> Int {
        counter += 1
        return constantID("__const_\(counter)", s)
    }

    func staticValue(_ id: Int?) -> StaticTensor? { id.flatMap { traceStatics[$0] } }

    // MARK: - Adding steps

    /// Configures `op` on the traced shapes, appends it and returns its output value.
    mutating func add(_ op: GraphOp, _ n: Onnx_NodeProto, inputs: [Int], statics: [Int?] = [], output: String) throws -> Int {
        let ins = inputs.map { shape($0) }
        let st = statics.map { staticValue($0) }
        let o: [Int]
        do { o = try op.configure(inputShapes: ins, statics: st) } catch {
            throw ONNXError.shape(path, detail: "node \(Self.describe(n)) on input \(ins.count == 1 ? "\(ins[0])" : "\(ins)"): \(error)")
        }
        guard o.count <= graphMaxRank, checkedElementCount(o) != nil else {
            throw ONNXError.tooLarge(path, detail: "node \(Self.describe(n)) would produce \(o): rank above \(graphMaxRank) or more than \(graphMaxValueElements) elements per image")
        }
        let id = newValue(output)
        shapes[id] = o
        steps.append(.op(op, inputs: inputs, statics: statics, output: id, name: n.name.isEmpty ? n.opType : n.name))
        return id
    }

    mutating func add(_ layer: Layer, _ n: Onnx_NodeProto, input: Int, output: String) throws -> Int {
        try add(LayerOp(layer), n, inputs: [input], output: output)
    }

    mutating func synthetic(_ base: String) -> String { counter += 1; return "\(base)__\(counter)" }

    // MARK: - Nodes

    mutating func translate(_ n: Onnx_NodeProto) throws {
        let a = ONNXAttributes(n)
        let node = Self.describe(n)
        let out = n.output.first ?? ""
        guard !out.isEmpty else { throw ONNXError.unsupportedAttribute(path, node: node, detail: "has no output") }
        func unsupported(_ d: String) -> ONNXError { .unsupportedAttribute(path, node: node, detail: d) }

        if n.domain == "com.microsoft" {
            guard n.opType == "FusedConv" else { throw ONNXError.unsupportedOp(path, op: "\(n.domain).\(n.opType)", node: n.name) }
        } else if !(n.domain.isEmpty || n.domain == "ai.onnx") {
            throw ONNXError.unsupportedOp(path, op: "\(n.domain).\(n.opType)", node: n.name)
        }
        guard Self.supportedOps.contains(n.opType) else { throw ONNXError.unsupportedOp(path, op: n.opType, node: n.name) }

        if n.opType == "Constant" {
            known[out] = try constant(n, a)
            return
        }
        let ins = (0..<n.input.count).map { input(n, $0) }
        let anyDynamic = ins.contains { if case .dynamic? = $0 { return true } else { return false } }
        let anyShaped = ins.contains { if case .shaped? = $0 { return true } else { return false } }
        let isShapeOf = n.opType == "Shape" || n.opType == "Size"

        if !anyDynamic && !anyShaped {
            known[out] = try fold(n, a)
            return
        }
        if isShapeOf || !anyDynamic {
            guard ONNXStatic.ops.contains(n.opType) else {
                throw unsupported("\(n.opType) on shape-dependent values is not supported")
            }
            var ids: [Int] = [], args: [GraphPlanValue?] = [], present: [Bool] = []
            for i in 0..<n.input.count {
                guard let k = ins[i] else { present.append(false); args.append(nil); continue }
                present.append(true)
                let id: Int
                switch k {
                case .dynamic(let d): id = d; args.append(.dynamic(shape: shape(d)))
                default: id = try staticID(n, i)!; args.append(.value(traceStatics[id]!))
                }
                ids.append(id)
            }
            let st: StaticTensor
            do { st = try ONNXStatic.evaluateChecked(n.opType, attrs: a, opset: opset, inputs: args) } catch {
                throw ONNXError.shape(path, detail: "node \(node): \(error)")
            }
            let id = newValue(out)
            traceStatics[id] = st
            steps.append(.compute(ONNXStaticNode(kind: n.opType, attrs: a, opset: opset, present: present), inputs: ids, output: id,
                                  name: n.name.isEmpty ? n.opType : n.name))
            known[out] = .shaped(id)
            return
        }
        known[out] = .dynamic(try runtime(n, a))
    }

    /// `Constant`: the tensor or number in its attribute.
    mutating func constant(_ n: Onnx_NodeProto, _ a: ONNXAttributes) throws -> Known {
        if let t = a.attr("value"), t.hasT {
            switch try decoder.decode(t.t, name: n.output[0]) {
            case .float(let w): return .weight(w)
            case .integer(let s): return .fixed(s)
            }
        }
        if let f = a.attr("value_float") { return .fixed(StaticTensor(scalar: Double(f.f), isInteger: false)) }
        if let f = a.attr("value_floats") {
            guard f.floats.count <= ONNXStatic.maxElements else { throw ONNXError.badTensor(path, name: n.output[0], detail: "too many values") }
            return .fixed(StaticTensor(shape: [f.floats.count], values: f.floats.map(Double.init), isInteger: false))
        }
        if let i = a.attr("value_int") { return .fixed(StaticTensor(scalar: Double(i.i), isInteger: true)) }
        if let i = a.attr("value_ints") {
            guard i.ints.count <= ONNXStatic.maxElements else { throw ONNXError.badTensor(path, name: n.output[0], detail: "too many values") }
            return .fixed(StaticTensor(shape: [i.ints.count], values: i.ints.map(Double.init), isInteger: true))
        }
        throw ONNXError.unsupportedAttribute(path, node: Self.describe(n), detail: "Constant without a numeric value (sparse and string constants are not supported)")
    }

    /// A node all of whose inputs are constants, evaluated now.
    mutating func fold(_ n: Onnx_NodeProto, _ a: ONNXAttributes) throws -> Known {
        let node = Self.describe(n)
        // Float weights pass through the shape-only operators without a trip through Double.
        if case .weight(let t)? = input(n, 0), ["Identity", "Dropout", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose"].contains(n.opType) {
            if n.opType == "Identity" || n.opType == "Dropout" { return .weight(t) }
            if n.opType == "Transpose" {
                let op = TransposeOp(perm: a.ints("perm"))
                do { _ = try op.configure(inputShapes: [t.shape], statics: []) } catch { throw ONNXError.shape(path, detail: "node \(node): \(error)") }
                return .weight(op.forward([t], mode: .inference).copy())
            }
            var target: StaticTensor? = nil
            var mode: ReshapeOp.Mode
            switch n.opType {
            case "Reshape": mode = .reshape(allowZero: (a.int("allowzero") ?? 0) != 0, fixedBatch: nil); target = try staticID(n, 1).flatMap { traceStatics[$0] }
            case "Flatten": mode = .flatten(axis: a.int("axis") ?? 1)
            case "Squeeze": mode = .squeeze(axes: opset < 13 ? a.ints("axes") : nil); if opset >= 13 { target = try staticID(n, 1).flatMap { traceStatics[$0] } }
            default: mode = .unsqueeze(axes: opset < 13 ? a.ints("axes") : nil); if opset >= 13 { target = try staticID(n, 1).flatMap { traceStatics[$0] } }
            }
            let s: [Int]
            do { s = try ReshapeOp.shape(mode, input: t.shape, target: target) } catch { throw ONNXError.shape(path, detail: "node \(node): \(error)") }
            let c = t.copy()
            c.reshape(s)
            return .weight(c)
        }
        guard ONNXStatic.ops.contains(n.opType) else {
            throw ONNXError.unsupportedAttribute(path, node: node, detail: "\(n.opType) on constants only is not supported")
        }
        var args: [GraphPlanValue?] = []
        for i in 0..<n.input.count {
            guard let id = try staticID(n, i) else { args.append(nil); continue }
            args.append(.value(traceStatics[id]!))
        }
        do {
            return .fixed(try ONNXStatic.evaluateChecked(n.opType, attrs: a, opset: opset, inputs: args))
        } catch {
            throw ONNXError.shape(path, detail: "node \(node): \(error)")
        }
    }

    /// Checked integer attribute lists: `count` entries in `range`.
    func ints(_ n: Onnx_NodeProto, _ a: ONNXAttributes, _ name: String, count: Int, default def: [Int], range: ClosedRange<Int>) throws -> [Int] {
        let v = a.ints(name) ?? def
        guard v.count == count, v.allSatisfy({ range.contains($0) }) else {
            throw ONNXError.unsupportedAttribute(path, node: Self.describe(n), detail: "uses \(name) \(v): \(count) values in \(range.lowerBound)...\(range.upperBound) are supported")
        }
        return v
    }

    /// Pads (top, left, bottom, right) of a 2-D window op from `pads` or `auto_pad`.
    func windowPads(_ n: Onnx_NodeProto, _ a: ONNXAttributes, input s: [Int], kernel: [Int], strides: [Int], dilations: [Int]) throws -> [Int] {
        let auto = a.string("auto_pad") ?? "NOTSET"
        switch auto {
        case "NOTSET", "":
            return try ints(n, a, "pads", count: 4, default: [0, 0, 0, 0], range: 0...4096)
        case "VALID": return [0, 0, 0, 0]
        case "SAME_UPPER", "SAME_LOWER":
            var begin = [0, 0], end = [0, 0]
            for d in 0..<2 {
                let size = s[2 + d], outSize = (size + strides[d] - 1) / strides[d]
                let total = Swift.max(0, (outSize - 1) * strides[d] + (kernel[d] - 1) * dilations[d] + 1 - size)
                let small = total / 2
                if auto == "SAME_UPPER" { begin[d] = small; end[d] = total - small } else { end[d] = small; begin[d] = total - small }
            }
            return [begin[0], begin[1], end[0], end[1]]
        default:
            throw ONNXError.unsupportedAttribute(path, node: Self.describe(n), detail: "auto_pad '\(auto)' is not an ONNX value")
        }
    }

    /// Maps a node with image-data inputs onto runtime ops; returns the output value.
    mutating func runtime(_ n: Onnx_NodeProto, _ a: ONNXAttributes) throws -> Int {
        let node = Self.describe(n)
        let out = n.output[0]
        let name = n.name.isEmpty ? out : n.name
        func unsupported(_ d: String) -> ONNXError { .unsupportedAttribute(path, node: node, detail: d) }
        switch n.opType {
        case "Conv", "FusedConv":
            let x = try dynamic(n, 0), s = shape(x)
            guard s.count == 4 else { throw unsupported("only 2-D convolutions are supported; the input is \(s)") }
            let w = try weight(n, 1)
            guard w.shape.count == 4 else { throw ONNXError.badTensor(path, name: n.input[1], detail: "conv weight must be rank 4, is \(w.shape)") }
            let group = a.int("group") ?? 1
            guard group >= 1, group <= s[1], s[1] % group == 0, w.shape[0] % group == 0, w.shape[1] * group == s[1] else {
                throw unsupported("group \(group) with weight \(w.shape) does not fit the input \(s)")
            }
            let kernel = try ints(n, a, "kernel_shape", count: 2, default: [w.shape[2], w.shape[3]], range: 1...4096)
            guard kernel == [w.shape[2], w.shape[3]] else { throw unsupported("kernel_shape \(kernel) differs from the weight \(w.shape)") }
            let strides = try ints(n, a, "strides", count: 2, default: [1, 1], range: 1...4096)
            let dil = try ints(n, a, "dilations", count: 2, default: [1, 1], range: 1...4096)
            let p = try windowPads(n, a, input: s, kernel: kernel, strides: strides, dilations: dil)
            let b = try optionalWeight(n, 2)
            if let b, b.count != w.shape[0] { throw ONNXError.badTensor(path, name: n.input[2], detail: "bias has \(b.count) values, expected \(w.shape[0])") }
            if n.domain == "com.microsoft" && input(n, 3) != nil { throw unsupported("FusedConv with a summed input Z is not supported") }
            // Buffers the convolution will need, per image.
            let ph = s[2] + p[0] + p[2], pw = s[3] + p[1] + p[3]
            guard let _ = checkedElementCount([s[1], ph, pw]),
                  let _ = checkedElementCount([w.shape[1] * kernel[0] * kernel[1], ph, pw]) else {
                throw ONNXError.tooLarge(path, detail: "node \(node): padded input \(ph)x\(pw) with kernel \(kernel) is too large")
            }
            let layer: Layer
            if group == 1 && dil == [1, 1] {
                let c = Conv2D(inChannels: s[1], outChannels: w.shape[0], kernel: (kernel[0], kernel[1]), stride: (strides[0], strides[1]),
                               padding: (p[0], p[1], p[2], p[3]), name: name)
                c.weight.value.assign(w)
                if let b { c.bias.value.assign(b); c.bias.value.reshape([w.shape[0]]) }
                layer = c
            } else {
                let c = GroupedConv2D(inChannels: s[1], outChannels: w.shape[0], groups: group, kernel: (kernel[0], kernel[1]),
                                      stride: (strides[0], strides[1]), dilation: (dil[0], dil[1]), padding: (p[0], p[1], p[2], p[3]), name: name)
                c.weight.value.assign(w)
                if let b { c.bias.value.assign(b); c.bias.value.reshape([w.shape[0]]) }
                layer = c
            }
            if n.opType == "FusedConv" {
                let conv = try add(layer, n, input: x, output: synthetic(out))
                let act = a.string("activation") ?? ""
                let params = a.floats("activation_params") ?? []
                switch act {
                case "Relu": return try add(ReLU(), n, input: conv, output: out)
                case "LeakyRelu": return try add(LeakyReLU(alpha: params.first ?? 0.01), n, input: conv, output: out)
                case "Sigmoid": return try add(UnaryOp(.sigmoid), n, inputs: [conv], output: out)
                case "Tanh": return try add(UnaryOp(.tanh), n, inputs: [conv], output: out)
                case "Clip" where params.count == 2: return try add(UnaryOp(.clip, low: params[0], high: params[1]), n, inputs: [conv], output: out)
                default: throw unsupported("FusedConv activation '\(act)' is not supported")
                }
            }
            return try add(layer, n, input: x, output: out)
        case "Gemm":
            let x = try dynamic(n, 0), s = shape(x)
            guard s.count == 2 else { throw unsupported("Gemm needs a rank-2 input, got \(s)") }
            var b = try weight(n, 1)
            guard b.shape.count == 2 else { throw ONNXError.badTensor(path, name: n.input[1], detail: "Gemm weight must be rank 2, is \(b.shape)") }
            let transA = (a.int("transA") ?? 0) != 0, transB = (a.int("transB") ?? 0) != 0
            let alpha = a.float("alpha") ?? 1, beta = a.float("beta") ?? 1
            // bt: [N, K] (Dense layout)
            let bt: Tensor
            if transB { bt = b } else {
                let t = TransposeOp(perm: [1, 0]); _ = try t.configure(inputShapes: [b.shape], statics: [])
                bt = t.forward([b], mode: .inference).copy()
            }
            let nOut = bt.shape[0], k = bt.shape[1]
            guard (transA ? s[0] : s[1]) == k else { throw ONNXError.shape(path, detail: "node \(node): input \(s) does not multiply weight \(b.shape)") }
            let c = try optionalWeight(n, 2)
            if !transA, c == nil || c!.count == 1 || c!.shape == [nOut] || c!.shape == [1, nOut] {
                let d = Dense(k, nOut, name: name)
                d.weight.value.assign(bt)
                if alpha != 1 { for i in 0..<d.weight.value.count { d.weight.value[i] *= alpha } }
                if let c { for o in 0..<nOut { d.bias.value[o] = beta * c[c.count == 1 ? 0 : o] } }
                return try add(d, n, input: x, output: out)
            }
            var h = x
            if transA { h = try add(TransposeOp(perm: [1, 0]), n, inputs: [x], output: synthetic(out)) }
            // MatMul weight [K, N] = alpha · op(B)
            let t = TransposeOp(perm: [1, 0]); _ = try t.configure(inputShapes: [bt.shape], statics: [])
            b = t.forward([bt], mode: .inference).copy()
            if alpha != 1 { for i in 0..<b.count { b[i] *= alpha } }
            if let c {
                let mm = try add(MatMulOp(constant: b), n, inputs: [h], output: synthetic(out))
                let cc = c.copy()
                if beta != 1 { for i in 0..<cc.count { cc[i] *= beta } }
                return try add(BinaryOp(.add, constant: cc, constantPosition: 1), n, inputs: [mm], output: out)
            }
            return try add(MatMulOp(constant: b), n, inputs: [h], output: out)
        case "MatMul":
            let x = try dynamic(n, 0)
            if case .dynamic(let y)? = input(n, 1) { return try add(MatMulOp(constant: nil), n, inputs: [x, y], output: out) }
            let w = try weight(n, 1)
            guard w.shape.count == 2 else { throw unsupported("MatMul by a constant of shape \(w.shape): only rank-2 constants are supported") }
            return try add(MatMulOp(constant: w), n, inputs: [x], output: out)
        case "Add", "Sub", "Mul", "Div":
            let op = BinaryOp.Operation(rawValue: n.opType)!
            switch (input(n, 0), input(n, 1)) {
            case let (.dynamic(x)?, .dynamic(y)?): return try add(BinaryOp(op), n, inputs: [x, y], output: out)
            case (.dynamic(let x)?, _): return try add(BinaryOp(op, constant: try weight(n, 1), constantPosition: 1), n, inputs: [x], output: out)
            case (_, .dynamic(let y)?): return try add(BinaryOp(op, constant: try weight(n, 0), constantPosition: 0), n, inputs: [y], output: out)
            default: throw unsupported("needs two inputs")
            }
        case "Relu": return try add(ReLU(), n, input: try dynamic(n, 0), output: out)
        case "LeakyRelu": return try add(LeakyReLU(alpha: a.float("alpha") ?? 0.01), n, input: try dynamic(n, 0), output: out)
        case "Sigmoid": return try add(UnaryOp(.sigmoid), n, inputs: [try dynamic(n, 0)], output: out)
        case "Tanh": return try add(UnaryOp(.tanh), n, inputs: [try dynamic(n, 0)], output: out)
        case "Neg": return try add(UnaryOp(.neg), n, inputs: [try dynamic(n, 0)], output: out)
        case "Clip":
            let x = try dynamic(n, 0)
            if opset < 11 {
                return try add(UnaryOp(.clip, low: a.float("min") ?? -Float.greatestFiniteMagnitude, high: a.float("max") ?? Float.greatestFiniteMagnitude),
                               n, inputs: [x], output: out)
            }
            return try add(UnaryOp(.clip), n, inputs: [x], statics: [try staticID(n, 1), try staticID(n, 2)], output: out)
        case "MaxPool", "AveragePool":
            let x = try dynamic(n, 0), s = shape(x)
            guard s.count == 4 else { throw unsupported("only 2-D pooling is supported; the input is \(s)") }
            let isMax = n.opType == "MaxPool"
            guard a.ints("kernel_shape") != nil else { throw unsupported("has no kernel_shape") }
            let k = try ints(n, a, "kernel_shape", count: 2, default: [], range: 1...4096)
            let st = try ints(n, a, "strides", count: 2, default: [1, 1], range: 1...4096)
            let dil = try ints(n, a, "dilations", count: 2, default: [1, 1], range: 1...4096)
            let p = try windowPads(n, a, input: s, kernel: k, strides: st, dilations: dil)
            let ceil = (a.int("ceil_mode") ?? 0) != 0, include = (a.int("count_include_pad") ?? 0) != 0
            if (a.int("storage_order") ?? 0) != 0 { throw unsupported("storage_order 1 is not supported") }
            let layer: Layer
            if isMax && k[0] == k[1] && st[0] == st[1] && p.allSatisfy({ $0 == 0 }) && dil == [1, 1] && !ceil {
                layer = MaxPool2D(kernel: k[0], stride: st[0])
            } else if !isMax && k[0] == k[1] && st[0] == st[1] && Set(p).count == 1 && dil == [1, 1] && !ceil {
                layer = AvgPool2D(kernel: k[0], stride: st[0], padding: p[0], countIncludePad: include)
            } else {
                layer = Pool2D(max: isMax, kernel: (k[0], k[1]), stride: (st[0], st[1]), dilation: (dil[0], dil[1]),
                               padding: (p[0], p[1], p[2], p[3]), ceilMode: ceil, countIncludePad: include)
            }
            return try add(layer, n, input: x, output: out)
        case "GlobalAveragePool": return try add(GlobalAveragePool(), n, input: try dynamic(n, 0), output: out)
        case "GlobalMaxPool": return try add(Pool2D(max: true, global: true), n, input: try dynamic(n, 0), output: out)
        case "BatchNormalization":
            let x = try dynamic(n, 0), s = shape(x)
            guard s.count >= 2 else { throw unsupported("input \(s) has no channel axis") }
            if (a.int("training_mode") ?? 0) != 0 { throw unsupported("training_mode=1 is not supported (inference graphs only)") }
            let bn = BatchNorm(s[1], epsilon: a.float("epsilon") ?? 1e-5, name: name)
            for (i, p) in [bn.gamma, bn.beta, bn.runningMean, bn.runningVar].enumerated() {
                let t = try weight(n, i + 1)
                guard t.count == s[1] else { throw ONNXError.badTensor(path, name: n.input[i + 1], detail: "has \(t.count) values, expected \(s[1]) (one per channel)") }
                p.value.assign(t); p.value.reshape([s[1]])
            }
            for i in 0..<bn.channels where bn.runningVar.value[i] + bn.epsilon <= 0 {
                throw ONNXError.badTensor(path, name: n.input[4], detail: "variance + epsilon is not positive for channel \(i)")
            }
            return try add(bn, n, input: x, output: out)
        case "Flatten":
            let x = try dynamic(n, 0), axis = a.int("axis") ?? 1
            if axis == 1 && shape(x).count >= 2 { return try add(Flatten(), n, input: x, output: out) }
            return try add(ReshapeOp(.flatten(axis: axis)), n, inputs: [x], output: out)
        case "Reshape":
            let x = try dynamic(n, 0)
            guard let t = try staticID(n, 1) else { throw unsupported("has no target shape") }
            return try add(ReshapeOp(.reshape(allowZero: (a.int("allowzero") ?? 0) != 0, fixedBatch: fixedBatch)), n, inputs: [x], statics: [t], output: out)
        case "Squeeze", "Unsqueeze":
            let x = try dynamic(n, 0)
            let squeeze = n.opType == "Squeeze"
            if opset < 13 {
                return try add(ReshapeOp(squeeze ? .squeeze(axes: a.ints("axes")) : .unsqueeze(axes: a.ints("axes"))), n, inputs: [x], output: out)
            }
            return try add(ReshapeOp(squeeze ? .squeeze(axes: nil) : .unsqueeze(axes: nil)), n, inputs: [x], statics: [try staticID(n, 1)], output: out)
        case "Transpose":
            return try add(TransposeOp(perm: a.ints("perm")), n, inputs: [try dynamic(n, 0)], output: out)
        case "Concat":
            guard let axis = a.int("axis") else { throw unsupported("has no axis") }
            var ids: [Int] = []
            for i in 0..<n.input.count where !n.input[i].isEmpty {
                guard case .dynamic(let d)? = input(n, i) else { throw unsupported("concatenating image data with constants is not supported") }
                ids.append(d)
            }
            return try add(ConcatOp(axis: axis), n, inputs: ids, output: out)
        case "Identity", "Dropout":
            return try add(Dropout(0), n, input: try dynamic(n, 0), output: out)
        case "Cast":
            let to = a.int("to") ?? 1
            guard to == 1 || to == 10 || to == 11 || to == 16 else { throw unsupported("casting image data to \(TensorDecoder.typeName(Int32(truncatingIfNeeded: to))) is not supported") }
            return try add(IdentityOp(), n, inputs: [try dynamic(n, 0)], output: out)
        case "Pad":
            let x = try dynamic(n, 0)
            let modeName = a.string("mode") ?? "constant"
            guard let mode = PadOp.Mode(rawValue: modeName) else { throw unsupported("Pad mode '\(modeName)' is not supported") }
            if opset < 11 {
                guard let pads = a.ints("pads") else { throw unsupported("has no pads") }
                return try add(PadOp(mode: mode), n, inputs: [x], statics: [constantID(synthetic: StaticTensor(ints: pads)),
                                                                             constantID(synthetic: StaticTensor(scalar: Double(a.float("value") ?? 0), isInteger: false))], output: out)
            }
            guard let pads = try staticID(n, 1) else { throw unsupported("has no pads") }
            return try add(PadOp(mode: mode), n, inputs: [x], statics: [pads, try staticID(n, 2), try staticID(n, 3)], output: out)
        case "Softmax", "LogSoftmax":
            let x = try dynamic(n, 0), r = shape(x).count
            let coerced = opset < 13
            let axis = a.int("axis") ?? (coerced ? 1 : -1)
            let norm = axis < 0 ? axis + r : axis
            if n.opType == "Softmax" && norm == r - 1 && r >= 1 { return try add(Softmax(), n, input: x, output: out) }
            return try add(SoftmaxOp(logarithmic: n.opType == "LogSoftmax", axis: axis, coerced: coerced), n, inputs: [x], output: out)
        case "Slice":
            let x = try dynamic(n, 0)
            if opset < 10 {
                guard let st = a.ints("starts"), let en = a.ints("ends") else { throw unsupported("needs starts and ends") }
                let axes = a.ints("axes").map { constantID(synthetic: StaticTensor(ints: $0)) }
                return try add(SliceOp(), n, inputs: [x], statics: [constantID(synthetic: StaticTensor(ints: st)),
                                                                    constantID(synthetic: StaticTensor(ints: en)), axes, nil], output: out)
            }
            guard let st = try staticID(n, 1), let en = try staticID(n, 2) else { throw unsupported("needs starts and ends") }
            return try add(SliceOp(), n, inputs: [x], statics: [st, en, try staticID(n, 3), try staticID(n, 4)], output: out)
        case "ReduceMean", "ReduceSum":
            let x = try dynamic(n, 0)
            let mean = n.opType == "ReduceMean", since = mean ? 18 : 13
            let keep = (a.int("keepdims") ?? 1) != 0, noop = (a.int("noop_with_empty_axes") ?? 0) != 0
            if opset < since {
                return try add(ReduceOp(mean: mean, axes: a.ints("axes"), keepDims: keep, noopWithEmptyAxes: noop), n, inputs: [x], output: out)
            }
            return try add(ReduceOp(mean: mean, axes: nil, keepDims: keep, noopWithEmptyAxes: noop), n, inputs: [x], statics: [try staticID(n, 1)], output: out)
        case "Gather":
            throw unsupported("Gather on image data is not supported (only on shapes)")
        default:
            throw ONNXError.unsupportedOp(path, op: n.opType, node: n.name)
        }
    }
}
