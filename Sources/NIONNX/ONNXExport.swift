import Foundation
import SwiftProtobuf
import NITensor
import NINetwork

/// Writes a `Sequential` model as an ONNX file (IR 8, opset 13, NCHW float32 input named `input` with a
/// symbolic batch axis, output `logits`), readable by onnxruntime and Netron. The architecture spec, when
/// known, is stored in `metadata_props["neuroninspect.architecture"]`; extra key/values go beside it.
public enum ONNXExport {
    public static let opset: Int64 = 13

    public static func model(_ model: Sequential, architecture: ArchitectureSpec? = nil,
                             metadata: [String: String] = [:]) throws -> Onnx_ModelProto {
        var graph = Onnx_GraphProto()
        graph.name = "neuroninspect"
        var current = "input"
        var counter = 0
        func fresh(_ base: String) -> String { counter += 1; return "\(base)_\(counter)" }
        func initializer(_ name: String, _ t: Tensor) {
            var p = Onnx_TensorProto()
            p.name = name
            p.dims = t.shape.map(Int64.init)
            p.dataType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            p.rawData = littleEndianData(t)
            graph.initializer.append(p)
        }
        func attr(_ name: String, ints: [Int]) -> Onnx_AttributeProto {
            var a = Onnx_AttributeProto(); a.name = name; a.type = .ints; a.ints = ints.map(Int64.init); return a
        }
        func attr(_ name: String, int: Int) -> Onnx_AttributeProto {
            var a = Onnx_AttributeProto(); a.name = name; a.type = .int; a.i = Int64(int); return a
        }
        func attr(_ name: String, float: Float) -> Onnx_AttributeProto {
            var a = Onnx_AttributeProto(); a.name = name; a.type = .float; a.f = float; return a
        }
        for (idx, layer) in model.layers.enumerated() {
            let isLast = idx == model.layers.count - 1
            let out = isLast ? "logits" : fresh(layer.kind.lowercased())
            var node = Onnx_NodeProto()
            node.name = "\(layer.kind)_\(idx)"
            node.opType = layer.kind
            node.input = [current]
            node.output = [out]
            switch layer {
            case let c as Conv2D:
                initializer(c.weight.name, c.weight.value); initializer(c.bias.name, c.bias.value)
                node.input += [c.weight.name, c.bias.name]
                node.attribute = [attr("kernel_shape", ints: [c.kernelH, c.kernelW]),
                                  attr("strides", ints: [c.strideH, c.strideW]),
                                  attr("pads", ints: [c.padTop, c.padLeft, c.padBottom, c.padRight]),
                                  attr("dilations", ints: [1, 1]), attr("group", int: 1)]
            case let d as Dense:
                initializer(d.weight.name, d.weight.value); initializer(d.bias.name, d.bias.value)
                node.input += [d.weight.name, d.bias.name]
                node.attribute = [attr("transB", int: 1), attr("alpha", float: 1), attr("beta", float: 1)]
            case is ReLU, is Softmax, is GlobalAveragePool: break
            case let l as LeakyReLU: node.attribute = [attr("alpha", float: l.alpha)]
            case let p as MaxPool2D:
                node.attribute = [attr("kernel_shape", ints: [p.kernel, p.kernel]), attr("strides", ints: [p.stride, p.stride]),
                                  attr("pads", ints: [0, 0, 0, 0])]
            case let p as AvgPool2D:
                node.attribute = [attr("kernel_shape", ints: [p.kernel, p.kernel]), attr("strides", ints: [p.stride, p.stride]),
                                  attr("pads", ints: Array(repeating: p.padding, count: 4)),
                                  attr("count_include_pad", int: p.countIncludePad ? 1 : 0)]
            case let b as BatchNorm:
                for p in [b.gamma, b.beta, b.runningMean, b.runningVar] { initializer(p.name, p.value) }
                node.input += [b.gamma.name, b.beta.name, b.runningMean.name, b.runningVar.name]
                node.attribute = [attr("epsilon", float: b.epsilon), attr("momentum", float: 1 - b.momentum)]
            case is Flatten: node.attribute = [attr("axis", int: 1)]
            case is Dropout: node.opType = "Identity"   // inference graph: dropout is the identity
            default: throw ONNXError.cannotExport("layer \(layer.kind) has no ONNX mapping")
            }
            if layer is Softmax { node.attribute = [attr("axis", int: -1)] }
            graph.node.append(node)
            current = out
        }
        func valueInfo(_ name: String, _ dims: [Int?]) -> Onnx_ValueInfoProto {
            var v = Onnx_ValueInfoProto()
            v.name = name
            var tt = Onnx_TypeProto.Tensor()
            tt.elemType = Int32(Onnx_TensorProto.DataType.float.rawValue)
            var shape = Onnx_TensorShapeProto()
            shape.dim = dims.map { d in
                var dim = Onnx_TensorShapeProto.Dimension()
                if let d { dim.dimValue = Int64(d) } else { dim.dimParam = "batch" }
                return dim
            }
            tt.shape = shape
            var type = Onnx_TypeProto()
            type.tensorType = tt
            v.type = type
            return v
        }
        graph.input = [valueInfo("input", [nil] + model.inputShape.map { $0 })]
        graph.output = [valueInfo("logits", [nil, model.classCount])]

        var m = Onnx_ModelProto()
        m.irVersion = 8
        m.producerName = "neuroninspect"
        m.producerVersion = "0.1"
        var op = Onnx_OperatorSetIdProto(); op.domain = ""; op.version = opset
        m.opsetImport = [op]
        m.graph = graph
        var meta = metadata
        if let a = architecture { meta["neuroninspect.architecture"] = a.text }
        m.metadataProps = meta.sorted { $0.key < $1.key }.map { kv in
            var e = Onnx_StringStringEntryProto(); e.key = kv.key; e.value = kv.value; return e
        }
        return m
    }

    /// Serialises and writes atomically (temporary file, then rename).
    public static func write(_ model: Sequential, to url: URL, architecture: ArchitectureSpec? = nil,
                             metadata: [String: String] = [:]) throws {
        let proto = try Self.model(model, architecture: architecture, metadata: metadata)
        let data: Data = try proto.serializedData()
        try AtomicFile.write(data, to: url)
    }

    static func littleEndianData(_ t: Tensor) -> Data {
        Data(bytes: t.data, count: t.count * 4)  // x86-64 and arm64 are little-endian
    }
}
