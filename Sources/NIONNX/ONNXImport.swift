import Foundation
import SwiftProtobuf
import NITensor
import NINetwork

/// Reads an ONNX image classifier (opsets 9 to 21: `torch.onnx.export` with either exporter, tf2onnx from
/// Keras/TensorFlow, onnxruntime's optimised form, our own `train`) into a runnable model.
///
/// The graph is checked (every value produced once, no cycle, no missing input, supported operators and
/// attributes, weights whose data matches their shape, external data only inside the model's folder, sizes
/// within a memory bound), folded and traced on one image, then run by a `GraphModel`. A graph that is a plain
/// chain of layers becomes a `Sequential` (the layout `train` writes), so those models keep their fast paths.
/// Files are untrusted: nothing is allocated before its declared size is checked against the bytes present.
public struct ONNXModel {
    /// The runnable model: a `Sequential` for chains, else a `GraphModel`.
    public let model: any Model
    /// The same model when it is a chain of layers.
    public let sequential: Sequential?
    /// The same model when it needs the graph executor.
    public let graph: GraphModel?
    public let proto: Onnx_ModelProto
    public let path: String
    /// The ai.onnx opset of the file.
    public let opset: Int
    /// Layout of the file's image input; NHWC models (Keras via tf2onnx) take NCHW images here and
    /// transpose them internally.
    public let inputLayout: InputLayout
    /// Remarks on how the file was read (layout conversion, fixed batch).
    public let notes: [String]

    /// Image layouts of a rank-4 input.
    public enum InputLayout: String, Sendable, Codable { case nchw = "NCHW", nhwc = "NHWC" }

    /// Limits and choices for `load`.
    public struct LoadOptions: Sendable {
        /// Bytes of decoded weights allowed (the memory bound checked before allocating).
        public var maxTotalBytes: Int = ONNXModel.maxTotalBytes
        /// Force the input layout instead of guessing it.
        public var layout: InputLayout? = nil
        public init(maxTotalBytes: Int = ONNXModel.maxTotalBytes, layout: InputLayout? = nil) {
            self.maxTotalBytes = maxTotalBytes; self.layout = layout
        }
    }

    /// `metadata_props` of the file.
    public var metadata: [String: String] {
        Dictionary(proto.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }

    /// `Softmax` or `LogSoftmax` when the model ends in one over the classes, else nil.
    public var trailingSoftmax: String? {
        if let s = sequential { return s.endsWithSoftmax ? "Softmax" : nil }
        return graph?.trailingSoftmax
    }
    /// True when the file ends in Softmax/LogSoftmax (detection reads logits: use `logitsModel()`).
    public var endsWithSoftmax: Bool { trailingSoftmax != nil }

    /// The model read up to its logits: a trailing Softmax/LogSoftmax is bypassed (shares the layers/ops).
    public func logitsModel() throws -> any Model {
        if let s = sequential { return try s.removingSoftmax() }
        if let g = graph {
            do { return try g.removingSoftmax() } catch { throw ONNXError.shape(path, detail: "\(error)") }
        }
        return model
    }

    /// Largest tensor accepted (elements), a guard against absurd declared sizes.
    public static let maxTensorElements = 1 << 28
    /// Default bound on decoded weights (bytes).
    public static let maxTotalBytes = 1 << 32
    /// Largest model file read (protobuf messages cannot exceed 2 GiB).
    public static let maxFileBytes = Int(Int32.max)

    public static func load(_ url: URL, options: LoadOptions = LoadOptions()) throws -> ONNXModel {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw ONNXError.missingFile(path) }
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        guard size <= maxFileBytes else { throw ONNXError.tooLarge(path, detail: "file of \(size) bytes is above the 2 GiB protobuf limit") }
        let data: Data
        do { data = try Data(contentsOf: url, options: [.alwaysMapped]) } catch { throw ONNXError.notONNX(path, reason: "cannot read: \(error)") }
        return try load(data: data, path: path, folder: url.deletingLastPathComponent(), options: options)
    }

    /// Reads a model from bytes; `path` names it in messages, `folder` resolves external data (nil: refused).
    public static func load(data: Data, path: String, folder: URL?, options: LoadOptions = LoadOptions()) throws -> ONNXModel {
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw ONNXError.notONNX(path, reason: "protobuf parse failed: \(error)")
        }
        guard proto.hasGraph, !proto.graph.node.isEmpty else {
            if proto.irVersion == 0 && proto.opsetImport.isEmpty { throw ONNXError.notONNX(path, reason: "no graph, IR version or opset") }
            throw ONNXError.emptyGraph(path)
        }
        var opset: Int64 = -1
        for o in proto.opsetImport where o.domain.isEmpty || o.domain == "ai.onnx" { opset = o.version }
        if opset == -1 && proto.opsetImport.isEmpty { opset = 9 }
        guard (9...21).contains(opset) else { throw ONNXError.unsupportedOpset(path, domain: "ai.onnx", version: opset) }
        return try build(proto, path: path, opset: Int(opset), folder: folder, options: options)
    }

    /// Checks the graph's structure and returns the nodes in topological order.
    static func sortedNodes(_ g: Onnx_GraphProto, path: String, provided: Set<String>) throws -> [Onnx_NodeProto] {
        guard g.node.count <= 1 << 20 else { throw ONNXError.tooLarge(path, detail: "graph of \(g.node.count) nodes") }
        var producer: [String: Int] = [:]
        for (i, n) in g.node.enumerated() {
            for o in n.output where !o.isEmpty {
                if provided.contains(o) || producer[o] != nil { throw ONNXError.duplicateValue(path, name: o) }
                producer[o] = i
            }
        }
        var pending = [Int](repeating: 0, count: g.node.count)
        var consumers = [[Int]](repeating: [], count: g.node.count)
        for (i, n) in g.node.enumerated() {
            for v in n.input where !v.isEmpty {
                if let p = producer[v] {
                    pending[i] += 1
                    consumers[p].append(i)
                } else if !provided.contains(v) {
                    throw ONNXError.missingValue(path, node: ONNXGraphBuilder.describe(n), name: v)
                }
            }
        }
        var ready = (0..<g.node.count).filter { pending[$0] == 0 }
        var order: [Int] = []
        order.reserveCapacity(g.node.count)
        var head = 0
        while head < ready.count {
            let i = ready[head]; head += 1
            order.append(i)
            for c in consumers[i] { pending[c] -= 1; if pending[c] == 0 { ready.append(c) } }
        }
        if order.count < g.node.count {
            let stuck = (0..<g.node.count).first { pending[$0] > 0 }!
            let value = g.node[stuck].input.first { !$0.isEmpty && producer[$0] != nil && pending[producer[$0]!] > 0 }
                ?? g.node[stuck].input.first { !$0.isEmpty } ?? g.node[stuck].name
            throw ONNXError.cycle(path, value: value)
        }
        return order.map { g.node[$0] }
    }

    static func build(_ proto: Onnx_ModelProto, path: String, opset: Int, folder: URL?, options: LoadOptions) throws -> ONNXModel {
        let g = proto.graph
        let decoder = TensorDecoder(path: path, folder: folder, budget: options.maxTotalBytes)
        // Initializers.
        var initNames = Set<String>()
        for t in g.initializer {
            guard !t.name.isEmpty else { throw ONNXError.badTensor(path, name: "(unnamed)", detail: "initializer without a name") }
            guard initNames.insert(t.name).inserted else { throw ONNXError.duplicateValue(path, name: t.name) }
        }
        let realInputs = g.input.filter { !initNames.contains($0.name) }
        guard realInputs.count == 1, let input = realInputs.first, !input.name.isEmpty else {
            throw ONNXError.notSequential(path, detail: "expected exactly one image input, found \(realInputs.map(\.name))")
        }
        let nodes = try sortedNodes(g, path: path, provided: initNames.union([input.name]))
        // The image input: rank 4, NCHW or NHWC.
        let dims = input.type.tensorType.shape.dim
        guard dims.count == 4 else {
            throw ONNXError.shape(path, detail: "input '\(input.name)' has rank \(dims.count); an image input of rank 4 (NCHW or NHWC) is expected")
        }
        let declared = dims.map { $0.dimValue }
        let spatial = declared.dropFirst().map(Int.init)
        guard spatial.allSatisfy({ $0 > 0 && $0 <= 4096 }) else {
            throw ONNXError.shape(path, detail: "input '\(input.name)' has unknown or absurd dimensions \(Array(declared.dropFirst()))")
        }
        let fixedBatch: Int? = declared[0] > 0 && declared[0] <= 1 << 20 ? Int(declared[0]) : nil
        let consumers = nodes.filter { $0.input.contains(input.name) }
        let feedsNCHWTranspose = !consumers.isEmpty && consumers.allSatisfy { $0.opType == "Transpose" && ONNXAttributes($0).ints("perm") == [0, 3, 1, 2] }
        let layout: InputLayout = options.layout
            ?? (feedsNCHWTranspose || (spatial[2] <= 4 && spatial[0] > 4) ? .nhwc : .nchw)
        let chw = layout == .nhwc ? [spatial[2], spatial[0], spatial[1]] : spatial
        var notes: [String] = []
        if layout == .nhwc { notes.append("input '\(input.name)' is NHWC \(spatial): images are given as NCHW \(chw) and transposed") }
        if let b = fixedBatch, b != 1 { notes.append("the file declares a fixed batch of \(b); other batch sizes are run") }

        var b = ONNXGraphBuilder(path: path, opset: opset, fixedBatch: fixedBatch, decoder: decoder)
        for t in g.initializer {
            switch try b.decoder.decode(t, name: t.name) {
            case .float(let w): b.known[t.name] = .weight(w)
            case .integer(let s): b.known[t.name] = .fixed(s)
            }
        }
        let image = b.newValue(layout == .nhwc ? "\(input.name) (NCHW)" : input.name)
        b.shapes[image] = [1] + chw
        if layout == .nhwc {
            let t = TransposeOp(perm: [0, 2, 3, 1])
            var n = Onnx_NodeProto(); n.name = "nchw_to_nhwc"; n.opType = "Transpose"
            let id = try b.add(t, n, inputs: [image], output: input.name)
            b.known[input.name] = .dynamic(id)
        } else {
            b.known[input.name] = .dynamic(image)
        }
        // Outputs other than the first of multi-output nodes must be unused.
        var used = Set(nodes.flatMap { $0.input })
        if let first = g.output.first { used.insert(first.name) }
        for n in nodes {
            for (k, o) in n.output.enumerated() where k > 0 && !o.isEmpty && used.contains(o) {
                throw ONNXError.unsupportedAttribute(path, node: ONNXGraphBuilder.describe(n), detail: "output \(k) ('\(o)') is used, but only the first output of \(n.opType) is supported")
            }
        }
        for n in nodes { try b.translate(n) }
        guard let outName = g.output.first?.name, let outKnown = b.known[outName] else {
            throw ONNXError.shape(path, detail: "the graph declares no output computed by its nodes")
        }
        guard case .dynamic(var out) = outKnown else {
            throw ONNXError.shape(path, detail: "the output '\(outName)' does not depend on the image")
        }
        let outShape = b.shape(out)
        if outShape.count != 2 {
            guard outShape.count > 2, outShape[0] == 1, outShape.dropFirst(2).allSatisfy({ $0 == 1 }) else {
                throw ONNXError.shape(path, detail: "the output '\(outName)' has shape \(outShape) for one image; [N, classes] is expected")
            }
            var n = Onnx_NodeProto(); n.name = "flatten_output"; n.opType = "Flatten"
            out = try b.add(ReshapeOp(.flatten(axis: 1)), n, inputs: [out], output: outName + " (flattened)")
        }
        // A chain of layers from the image to the output becomes a Sequential.
        var layers: [Layer] = []
        var current = image, chain = b.constants.isEmpty
        for s in b.steps where chain {
            guard case let .op(op, ins, _, o, _) = s, let l = op as? LayerOp, ins == [current] else { chain = false; break }
            layers.append(l.layer); current = o
        }
        if chain && current == out && !layers.isEmpty, let seq = try? Sequential(inputShape: chw, layers: layers) {
            return ONNXModel(model: seq, sequential: seq, graph: nil, proto: proto, path: path, opset: opset, inputLayout: layout, notes: notes)
        }
        let graph: GraphModel
        do {
            graph = try GraphModel(inputShape: chw, valueNames: b.names, input: image, output: out, steps: b.steps, constants: b.constants)
            try graph.plan([2] + chw)
            try graph.plan([1] + chw)
        } catch {
            throw ONNXError.shape(path, detail: "\(error)")
        }
        return ONNXModel(model: graph, sequential: nil, graph: graph, proto: proto, path: path, opset: opset, inputLayout: layout, notes: notes)
    }
}

/// Runs an arbitrary ONNX graph once on given inputs (any number, any shapes; integer inputs are read as static
/// values), without the classifier conventions of `ONNXModel`: used to check single operators against the
/// onnx package's node tests. Outputs are float tensors, or static values for shape computations.
enum ONNXGraphRunner {
    enum Output { case tensor(Tensor), value(StaticTensor) }

    static func run(model data: Data, inputs: [Onnx_TensorProto], path: String = "model.onnx") throws -> [Output] {
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch { throw ONNXError.notONNX(path, reason: "\(error)") }
        var opset: Int64 = 9
        for o in proto.opsetImport where o.domain.isEmpty || o.domain == "ai.onnx" { opset = o.version }
        guard (9...21).contains(opset) else { throw ONNXError.unsupportedOpset(path, domain: "ai.onnx", version: opset) }
        let g = proto.graph
        var b = ONNXGraphBuilder(path: path, opset: Int(opset), fixedBatch: nil,
                                 decoder: TensorDecoder(path: path, folder: nil, budget: ONNXModel.maxTotalBytes))
        let initNames = Set(g.initializer.map(\.name))
        for t in g.initializer {
            switch try b.decoder.decode(t, name: t.name) {
            case .float(let w): b.known[t.name] = .weight(w)
            case .integer(let s): b.known[t.name] = .fixed(s)
            }
        }
        let real = g.input.filter { !initNames.contains($0.name) }
        guard real.count == inputs.count else { throw ONNXError.shape(path, detail: "\(real.count) inputs declared, \(inputs.count) given") }
        var values: [Int: Tensor] = [:]
        // Input 0 is the data (integers converted to float); later float inputs are runtime values only for the
        // operators that combine runtime values, else they are weights; integer inputs are static values.
        let combining: Set<String> = ["Add", "Sub", "Mul", "Div", "MatMul", "Concat"]
        let runtimeOperands = g.node.count == 1 && combining.contains(g.node[0].opType)
        for (k, (v, t)) in zip(real, inputs).enumerated() {
            let decoded = try b.decoder.decode(t, name: v.name)
            var x: Tensor? = nil
            switch decoded {
            case .float(let f): x = f
            case .integer(let s) where k == 0:
                let f = Tensor(shape: s.shape)
                for i in 0..<s.count { f[i] = Float(s.values[i]) }
                x = f
            case .integer(let s): b.known[v.name] = .fixed(s)
            }
            guard let x else { continue }
            if k == 0 || runtimeOperands {
                let id = b.newValue(v.name)
                b.shapes[id] = x.shape
                values[id] = x
                b.known[v.name] = .dynamic(id)
            } else {
                b.known[v.name] = .weight(x)
            }
        }
        let nodes = try ONNXModel.sortedNodes(g, path: path, provided: initNames.union(real.map(\.name)))
        for n in nodes { try b.translate(n) }
        for s in b.steps {
            guard case let .op(op, ins, _, out, _) = s else { continue }
            values[out] = op.forward(ins.map { values[$0]! }, mode: .inference)
        }
        return try g.output.map { o in
            switch b.known[o.name] {
            case .dynamic(let id)?: return .tensor(values[id]!)
            case .shaped(let id)?: return .value(b.traceStatics[id]!)
            case .fixed(let s)?: return .value(s)
            case .weight(let w)?: return .tensor(w)
            case nil: throw ONNXError.shape(path, detail: "output '\(o.name)' is not computed")
            }
        }
    }
}
