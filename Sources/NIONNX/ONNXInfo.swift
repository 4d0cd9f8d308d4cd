import Foundation
import SwiftProtobuf

/// What an ONNX file declares, read without building the model (`neuroninspect info`): inputs, outputs,
/// opsets, the operators used and whether this build can run each, parameter count.
public struct ONNXInfo: Codable {
    public struct Value: Codable { public var name: String; public var elementType: String; public var shape: [String] }
    public struct OpUse: Codable { public var op: String; public var count: Int; public var supported: Bool }

    public var path: String
    public var irVersion: Int64
    public var producer: String
    public var opsets: [String: Int64]
    public var inputs: [Value]
    public var outputs: [Value]
    public var ops: [OpUse]
    public var nodes: Int
    public var initializers: Int
    public var parameters: Int
    public var metadata: [String: String]
    /// True when every operator is supported and the model loads (graph checked, weights read, shapes traced).
    public var runnable: Bool
    public var problem: String?
    /// How the model runs when it loads: `sequential` (a chain of layers) or `graph` (the graph executor).
    public var executor: String?
    /// `Softmax` / `LogSoftmax` when the model ends in one (detection bypasses it and reads logits).
    public var trailingSoftmax: String?
    /// `NCHW` or `NHWC` (Keras via tf2onnx; images are transposed on the way in).
    public var inputLayout: String?

    /// Operators the loader runs (ai.onnx names; `com.microsoft.FusedConv` from onnxruntime's optimiser).
    public static var supportedOps: Set<String> {
        ONNXGraphBuilder.supportedOps.subtracting(ONNXGraphBuilder.microsoftOps)
            .union(ONNXGraphBuilder.microsoftOps.map { "com.microsoft.\($0)" })
    }

    public static func read(_ url: URL) throws -> ONNXInfo {
        let path = url.path
        guard FileManager.default.fileExists(atPath: path) else { throw ONNXError.missingFile(path) }
        let proto: Onnx_ModelProto
        do { proto = try Onnx_ModelProto(serializedBytes: try Data(contentsOf: url)) } catch {
            throw ONNXError.notONNX(path, reason: "protobuf parse failed: \(error)")
        }
        let g = proto.graph
        let initNames = Set(g.initializer.map(\.name))
        func value(_ v: Onnx_ValueInfoProto) -> Value {
            let t = v.type.tensorType
            let type = Onnx_TensorProto.DataType(rawValue: Int(t.elemType)).map { "\($0)" } ?? "type \(t.elemType)"
            return Value(name: v.name, elementType: type,
                         shape: t.shape.dim.map { $0.dimParam.isEmpty ? String($0.dimValue) : $0.dimParam })
        }
        var counts: [String: Int] = [:]
        for n in g.node { counts[n.domain.isEmpty || n.domain == "ai.onnx" ? n.opType : "\(n.domain).\(n.opType)", default: 0] += 1 }
        let ops = counts.sorted { $0.key < $1.key }.map { OpUse(op: $0.key, count: $0.value, supported: supportedOps.contains($0.key)) }
        var params = 0
        for t in g.initializer {
            var n = 1
            for d in t.dims {
                let (m, o) = n.multipliedReportingOverflow(by: Int(Swift.max(Swift.min(d, 1 << 40), 0)))
                n = o ? Int.max / 2 : m
            }
            params = params.addingReportingOverflow(n).overflow ? Int.max / 2 : params + n
        }
        var info = ONNXInfo(path: path, irVersion: proto.irVersion, producer: "\(proto.producerName) \(proto.producerVersion)",
                            opsets: Dictionary(proto.opsetImport.map { ($0.domain.isEmpty ? "ai.onnx" : $0.domain, $0.version) },
                                               uniquingKeysWith: { a, _ in a }),
                            inputs: g.input.filter { !initNames.contains($0.name) }.map(value), outputs: g.output.map(value),
                            ops: ops, nodes: g.node.count, initializers: g.initializer.count, parameters: params,
                            metadata: Dictionary(proto.metadataProps.map { ($0.key, $0.value) }, uniquingKeysWith: { a, _ in a }),
                            runnable: false, problem: nil, executor: nil, trailingSoftmax: nil, inputLayout: nil)
        let unsupported = ops.filter { !$0.supported }.map(\.op)
        if !unsupported.isEmpty {
            info.problem = "unsupported operators: \(unsupported.joined(separator: ", "))"
        } else {
            do {
                let m = try ONNXModel.load(url)
                info.runnable = true
                info.executor = m.sequential != nil ? "sequential" : "graph"
                info.trailingSoftmax = m.trailingSoftmax
                info.inputLayout = m.inputLayout.rawValue
            } catch { info.problem = "\(error)" }
        }
        return info
    }
}
