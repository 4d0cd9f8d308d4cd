import ArgumentParser
import Foundation
import NIONNX

/// `neuroninspect info`: what an ONNX model declares and whether this build can run it, before anything runs.
struct InfoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info",
        abstract: "Show an ONNX model's inputs, outputs, opset, operators and parameter count, and whether it can run.")

    @Option(help: "ONNX model file.") var model: String
    @Option(help: "Write the information as JSON to this file.") var json: String?

    func run() throws {
        let i = try ONNXInfo.read(URL(fileURLWithPath: model))
        print("\(i.path): IR \(i.irVersion), producer \(i.producer.trimmingCharacters(in: .whitespaces)), opsets \(i.opsets.map { "\($0.key) \($0.value)" }.sorted().joined(separator: ", "))")
        for v in i.inputs { print("  input  \(v.name): \(v.elementType) [\(v.shape.joined(separator: ", "))]") }
        for v in i.outputs { print("  output \(v.name): \(v.elementType) [\(v.shape.joined(separator: ", "))]") }
        print("  \(i.nodes) nodes, \(i.initializers) initializers, \(i.parameters) parameters")
        for o in i.ops { print("  \(o.supported ? "  " : "! ")\(o.op) x\(o.count)\(o.supported ? "" : "  (not supported)")") }
        for (k, v) in i.metadata.sorted(by: { $0.key < $1.key }) { print("  metadata \(k): \(v.count > 100 ? String(v.prefix(100)) + "..." : v)") }
        if let e = i.executor { print("  executor: \(e)\(i.inputLayout == "NHWC" ? ", NHWC input (images transposed from NCHW)" : "")\(i.trailingSoftmax.map { ", trailing \($0) (bypassed by scan)" } ?? "")") }
        print(i.runnable ? "runnable: yes" : "runnable: NO (\(i.problem ?? "unknown"))")
        if let j = json { try writeJSON(i, to: URL(fileURLWithPath: j)) }
        if !i.runnable { throw ExitCode(2) }
    }
}
