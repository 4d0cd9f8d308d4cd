import Foundation
import SwiftProtobuf
import NITensor
import NINetwork

/// Reads an ONNX classifier into a runnable model. This version maps a *chain* of nodes (each consuming the
/// previous node's output) onto a `Sequential`: the layout our `train` writes and that simple exporters
/// produce. Files are untrusted: sizes are checked against the bytes present before anything is allocated,
/// and weights must be finite.
public struct ONNXModel {
    public let model: Sequential
    public let proto: Onnx_ModelProto
    public let path: String
    /// `metadata_props` of the file.
    public var metadata: [String: String] {
        Dictionary(proto.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a })
    }
    /// True when the file ends in Softmax/LogSoftmax (callers that need logits use `model.removingSoftmax()`).
    public var endsWithSoftmax: Bool { model.endsWithSoftmax }

    /// Largest initializer accepted (elements), a guard against absurd declared sizes.
    public static let maxTensorElements = 1 << 28

    public static func load(_ url: URL) throws -> ONNXModel {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw ONNXError.missingFile(path) }
        let data = try Data(contentsOf: url)
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: data) } catch {
            throw ONNXError.notONNX(path, reason: "protobuf parse failed: \(error)")
        }
        guard proto.hasGraph, !proto.graph.node.isEmpty else {
            if proto.irVersion == 0 && proto.opsetImport.isEmpty { throw ONNXError.notONNX(path, reason: "no graph, IR version or opset") }
            throw ONNXError.emptyGraph(path)
        }
        return ONNXModel(model: try buildSequential(proto.graph, path: path), proto: proto, path: path)
    }

    static func tensor(_ p: Onnx_TensorProto, path: String) throws -> Tensor {
        let shape = p.dims.map { Int($0) }
        guard shape.allSatisfy({ $0 >= 0 }) else { throw ONNXError.badTensor(path, name: p.name, detail: "negative dimension in \(p.dims)") }
        var count = 1
        for d in shape {
            let (m, o) = count.multipliedReportingOverflow(by: d)
            guard !o, m <= maxTensorElements else {
                throw ONNXError.badTensor(path, name: p.name, detail: "declared shape \(p.dims) exceeds the \(maxTensorElements)-element limit")
            }
            count = m
        }
        let t: Tensor
        switch Onnx_TensorProto.DataType(rawValue: Int(p.dataType)) {
        case .float?:
            if !p.rawData.isEmpty {
                guard p.rawData.count == count * 4 else {
                    throw ONNXError.badTensor(path, name: p.name, detail: "shape \(shape) needs \(count * 4) bytes, raw_data has \(p.rawData.count)")
                }
                t = Tensor(shape: shape)
                p.rawData.withUnsafeBytes { raw in UnsafeMutableRawPointer(t.data).copyMemory(from: raw.baseAddress!, byteCount: count * 4) }
            } else {
                guard p.floatData.count == count else {
                    throw ONNXError.badTensor(path, name: p.name, detail: "shape \(shape) needs \(count) values, float_data has \(p.floatData.count)")
                }
                t = Tensor(shape: shape, values: p.floatData)
            }
        default:
            throw ONNXError.badTensor(path, name: p.name, detail: "data type \(p.dataType) is not supported (float32 expected)")
        }
        var bad = 0
        for i in 0..<t.count where !t[i].isFinite { bad += 1 }
        if bad > 0 { throw ONNXError.nonFinite(path, name: p.name, count: bad) }
        return t
    }

    static func buildSequential(_ g: Onnx_GraphProto, path: String) throws -> Sequential {
        var inits: [String: Onnx_TensorProto] = [:]
        for i in g.initializer { inits[i.name] = i }
        let realInputs = g.input.filter { inits[$0.name] == nil }
        guard realInputs.count == 1, let input = realInputs.first else {
            throw ONNXError.notSequential(path, detail: "expected exactly one image input, found \(realInputs.map(\.name))")
        }
        let dims = input.type.tensorType.shape.dim
        guard dims.count == 4 else {
            throw ONNXError.shape(path, detail: "input '\(input.name)' has rank \(dims.count); an NCHW image input of rank 4 is expected")
        }
        let inputShape = dims.dropFirst().map { Int($0.dimValue) }
        guard inputShape.allSatisfy({ $0 > 0 && $0 <= 4096 }) else {
            throw ONNXError.shape(path, detail: "input '\(input.name)' has unknown or absurd dimensions \(inputShape)")
        }
        var current = input.name
        var layers: [Layer] = []
        var shape = [1] + inputShape
        var remaining = g.node
        func ints(_ n: Onnx_NodeProto, _ name: String) -> [Int]? { n.attribute.first { $0.name == name }.map { $0.ints.map { Int($0) } } }
        func int(_ n: Onnx_NodeProto, _ name: String) -> Int? { n.attribute.first { $0.name == name }.map { Int($0.i) } }
        func float(_ n: Onnx_NodeProto, _ name: String) -> Float? { n.attribute.first { $0.name == name }.map { $0.f } }
        func weight(_ n: Onnx_NodeProto, _ i: Int) throws -> Tensor {
            guard i < n.input.count, let p = inits[n.input[i]] else {
                throw ONNXError.missingInitializer(path, node: n.name, name: i < n.input.count ? n.input[i] : "input \(i)")
            }
            return try tensor(p, path: path)
        }
        while !remaining.isEmpty {
            let consumers = remaining.enumerated().filter { $0.element.input.first == current }
            guard consumers.count == 1, let (pos, n) = consumers.first else {
                throw ONNXError.notSequential(path, detail: consumers.isEmpty
                    ? "no node consumes '\(current)' but \(remaining.count) nodes remain (graphs with branches need the graph executor)"
                    : "value '\(current)' feeds \(consumers.count) nodes: graphs with branches are not supported by the sequential loader")
            }
            remaining.remove(at: pos)
            let name = n.name.isEmpty ? n.opType : n.name
            let layer: Layer
            switch n.opType {
            case "Conv":
                let w = try weight(n, 1)
                guard w.shape.count == 4 else { throw ONNXError.badTensor(path, name: n.input[1], detail: "conv weight must be rank 4, is \(w.shape)") }
                if let gr = int(n, "group"), gr != 1 { throw ONNXError.unsupportedAttribute(path, node: name, detail: "group=\(gr) convolution is not supported yet") }
                if let d = ints(n, "dilations"), d.contains(where: { $0 != 1 }) { throw ONNXError.unsupportedAttribute(path, node: name, detail: "dilations \(d) are not supported") }
                let k = ints(n, "kernel_shape") ?? [w.shape[2], w.shape[3]]
                let s = ints(n, "strides") ?? [1, 1]
                let p = ints(n, "pads") ?? [0, 0, 0, 0]
                guard k.count == 2, s.count == 2, p.count == 4 else { throw ONNXError.unsupportedAttribute(path, node: name, detail: "only 2-D convolutions are supported") }
                let c = Conv2D(inChannels: w.shape[1], outChannels: w.shape[0], kernel: (k[0], k[1]), stride: (s[0], s[1]),
                               padding: (p[0], p[1], p[2], p[3]), name: "conv\(layers.count)")
                c.weight.value.assign(w)
                if n.input.count > 2 { c.bias.value.assign(try weight(n, 2)) }
                layer = c
            case "Gemm":
                var w = try weight(n, 1)
                if (int(n, "transA") ?? 0) != 0 { throw ONNXError.unsupportedAttribute(path, node: name, detail: "Gemm with transA=1 is not supported") }
                if (int(n, "transB") ?? 0) == 0 {
                    let t = Tensor(shape: [w.shape[1], w.shape[0]])
                    for i in 0..<w.shape[0] { for j in 0..<w.shape[1] { t[j * w.shape[0] + i] = w[i * w.shape[1] + j] } }
                    w = t
                }
                let alpha = float(n, "alpha") ?? 1, beta = float(n, "beta") ?? 1
                let d = Dense(w.shape[1], w.shape[0], name: "dense\(layers.count)")
                d.weight.value.assign(w)
                if alpha != 1 { for i in 0..<d.weight.value.count { d.weight.value[i] *= alpha } }
                if n.input.count > 2 {
                    let b = try weight(n, 2)
                    guard b.count == w.shape[0] else { throw ONNXError.badTensor(path, name: n.input[2], detail: "bias has \(b.count) values, expected \(w.shape[0])") }
                    for i in 0..<b.count { d.bias.value[i] = beta * b[i] }
                }
                layer = d
            case "Relu": layer = ReLU()
            case "LeakyRelu": layer = LeakyReLU(alpha: float(n, "alpha") ?? 0.01)
            case "MaxPool":
                let k = ints(n, "kernel_shape") ?? [2, 2], s = ints(n, "strides") ?? [1, 1], p = ints(n, "pads") ?? [0, 0, 0, 0]
                guard k.count == 2, k[0] == k[1], s.count == 2, s[0] == s[1], p.allSatisfy({ $0 == 0 }), (int(n, "ceil_mode") ?? 0) == 0 else {
                    throw ONNXError.unsupportedAttribute(path, node: name, detail: "MaxPool supports square kernels, equal strides, no padding, floor mode")
                }
                layer = MaxPool2D(kernel: k[0], stride: s[0])
            case "AveragePool":
                let k = ints(n, "kernel_shape") ?? [2, 2], s = ints(n, "strides") ?? [1, 1], p = ints(n, "pads") ?? [0, 0, 0, 0]
                guard k.count == 2, k[0] == k[1], s.count == 2, s[0] == s[1], Set(p).count <= 1 else {
                    throw ONNXError.unsupportedAttribute(path, node: name, detail: "AveragePool supports square kernels, equal strides, symmetric padding")
                }
                layer = AvgPool2D(kernel: k[0], stride: s[0], padding: p.first ?? 0, countIncludePad: (int(n, "count_include_pad") ?? 0) != 0)
            case "GlobalAveragePool": layer = GlobalAveragePool()
            case "BatchNormalization":
                let b = BatchNorm(try weight(n, 1).count, epsilon: float(n, "epsilon") ?? 1e-5, name: "bn\(layers.count)")
                for (i, p) in [b.gamma, b.beta, b.runningMean, b.runningVar].enumerated() {
                    let t = try weight(n, i + 1)
                    guard t.count == b.channels else { throw ONNXError.badTensor(path, name: n.input[i + 1], detail: "expected \(b.channels) values") }
                    p.value.assign(t); p.value.reshape([b.channels])
                }
                layer = b
            case "Flatten":
                guard (int(n, "axis") ?? 1) == 1 else { throw ONNXError.unsupportedAttribute(path, node: name, detail: "Flatten axis must be 1") }
                layer = Flatten()
            case "Dropout", "Identity":
                layer = Dropout(0)
            case "Softmax": layer = Softmax()
            default:
                throw ONNXError.unsupportedOp(path, op: n.opType, node: name)
            }
            do { shape = try layer.outputShape(for: shape) } catch {
                throw ONNXError.shape(path, detail: "node '\(name)' (\(n.opType)): \(error)")
            }
            layers.append(layer)
            guard let out = n.output.first else { throw ONNXError.notSequential(path, detail: "node '\(name)' has no output") }
            current = out
        }
        do { return try Sequential(inputShape: inputShape, layers: layers) } catch {
            throw ONNXError.shape(path, detail: "\(error)")
        }
    }
}
