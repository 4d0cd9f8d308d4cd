import XCTest
import Foundation
import NITensor
import NINetwork
@testable import NIONNX

/// Golden tests of the graph executor: models exported by PyTorch (both exporters), tf2onnx from Keras and
/// onnxruntime's optimiser, with the expected outputs (onnxruntime), logits, input gradients and rectified
/// input gradients (PyTorch autograd / TensorFlow GradientTape) written by scripts/make_onnx_fixtures.py.
/// Our values must agree within 1e-4 relative error (max |ours - theirs| / max |theirs| per tensor).
final class GraphGoldenTests: XCTestCase {
    static let tolerance = 1e-4

    /// Loads the fixture, checks output, logits, gradient and rectified gradient; returns the loaded model.
    @discardableResult
    func check(_ name: String, executor: String, layout: ONNXModel.InputLayout = .nchw, softmax: String? = nil,
               file: StaticString = #filePath, line: UInt = #line) throws -> ONNXModel {
        let g = try Golden.load(name)
        let m = try ONNXModel.load(fixtures.appendingPathComponent(g.model))
        XCTAssertEqual(m.sequential != nil ? "sequential" : "graph", executor, "\(name) executor", file: file, line: line)
        XCTAssertEqual(m.inputLayout, layout, name, file: file, line: line)
        XCTAssertEqual(m.trailingSoftmax, softmax, name, file: file, line: line)
        XCTAssertEqual(m.model.inputShape, Array(g.inputShape.dropFirst()), name, file: file, line: line)
        let x = Tensor(shape: g.inputShape, values: g.input)
        let y = m.model.forward(x, mode: .inference).array
        let eOut = relativeError(y, g.output)
        XCTAssertLessThan(eOut, Self.tolerance, "\(name): output vs onnxruntime", file: file, line: line)
        let logitsModel = try m.logitsModel()
        let z = logitsModel.forward(x, mode: .inference)
        let eLogits = relativeError(z.array, g.logits)
        XCTAssertLessThan(eLogits, Self.tolerance, "\(name): logits", file: file, line: line)
        var report = "\(name): output \(String(format: "%.1e", eOut)), logits \(String(format: "%.1e", eLogits))"
        if let seed = g.seed, let grad = g.gradient {
            let dy = Tensor(shape: z.shape, values: seed)
            // Twice: the executor must give the same gradient on repeated backward passes after one forward.
            for pass in 0..<2 {
                let gx = logitsModel.backward(dy, parameterGradients: false, inputGradient: true)
                XCTAssertEqual(gx.shape, g.inputShape, file: file, line: line)
                let e = relativeError(gx.array, grad)
                XCTAssertLessThan(e, Self.tolerance, "\(name): input gradient (pass \(pass))", file: file, line: line)
                if pass == 0 { report += ", gradient \(String(format: "%.1e", e))" }
                if let rect = g.rectifiedGradient {
                    let r = logitsModel.rectifiedBackward(dy)
                    let er = relativeError(r.array, rect)
                    XCTAssertLessThan(er, Self.tolerance, "\(name): rectified gradient (pass \(pass))", file: file, line: line)
                    if pass == 0 { report += ", rectified \(String(format: "%.1e", er))" }
                }
            }
        }
        print("golden " + report + " [\(g.exporter)]")
        return m
    }

    func testTorchCNNTorchScriptExporter() throws { try check("torch_cnn_ts", executor: "graph") }
    func testTorchCNNDynamoExporter() throws { try check("torch_cnn_dynamo", executor: "graph") }
    func testTorchResNetWithBatchNorm() throws { try check("torch_resnet", executor: "graph") }
    func testTorchDeepIDTwoHeadsSoftmax() throws { try check("torch_deepid_softmax", executor: "graph", softmax: "Softmax") }
    func testTorchOpsLogSoftmax() throws { try check("torch_ops", executor: "graph", softmax: "LogSoftmax") }
    func testFloat16Weights() throws { try check("torch_cnn_fp16w", executor: "graph") }
    func testFloat64Weights() throws { try check("torch_cnn_fp64w", executor: "graph") }
    func testExternalData() throws { try check("torch_cnn_ext", executor: "graph") }
    func testOnnxruntimeExtendedOptimisedResNet() throws { try check("ort_resnet_extended", executor: "graph") }
    func testKerasCNNViaTf2onnx() throws { try check("keras_cnn", executor: "graph", layout: .nhwc, softmax: "Softmax") }
    func testKerasGAPViaTf2onnx() throws { try check("keras_gap", executor: "graph", layout: .nhwc) }

    /// Chains of layers (the layout `train` writes) still load as a `Sequential`, the existing fast path.
    func testChainsStaySequential() throws {
        let m = try ONNXModel.load(fixtures.appendingPathComponent("golden_small.onnx"))
        XCTAssertNotNil(m.sequential)
        XCTAssertNil(m.graph)
    }

    /// `info` on the fixtures: every operator supported, the executor and head named, before anything runs.
    func testInfoListsOpsOfGraphModels() throws {
        for (name, executor, head) in [("torch_resnet", "graph", nil), ("ort_resnet_extended", "graph", nil),
                                       ("keras_cnn", "graph", "Softmax"), ("torch_ops", "graph", "LogSoftmax"),
                                       ("golden_small", "sequential", nil)] as [(String, String, String?)] {
            let i = try ONNXInfo.read(fixtures.appendingPathComponent(name + ".onnx"))
            XCTAssertTrue(i.runnable, "\(name): \(i.problem ?? "")")
            XCTAssertTrue(i.ops.allSatisfy(\.supported), "\(name): \(i.ops.filter { !$0.supported })")
            XCTAssertEqual(i.executor, executor, name)
            XCTAssertEqual(i.trailingSoftmax, head, name)
        }
        let ort = try ONNXInfo.read(fixtures.appendingPathComponent("ort_resnet_extended.onnx"))
        XCTAssertEqual(ort.ops.first { $0.op == "com.microsoft.FusedConv" }?.count, 3)
        XCTAssertEqual(try ONNXInfo.read(fixtures.appendingPathComponent("keras_cnn.onnx")).inputLayout, "NHWC")
    }

    /// Batches of other sizes than the traced one, and one image at a time, give the same logits.
    func testBatchSizesAgree() throws {
        for name in ["torch_resnet", "torch_ops", "keras_cnn", "torch_cnn_dynamo"] {
            let g = try Golden.load(name)
            let m = try ONNXModel.load(fixtures.appendingPathComponent(g.model))
            let per = g.input.count / g.inputShape[0], k = g.output.count / g.inputShape[0]
            // 5 images: the two fixture images repeated.
            var big: [Float] = []
            for i in 0..<5 { big += g.input[(i % 2) * per ..< (i % 2 + 1) * per] }
            let y = m.model.forward(Tensor(shape: [5] + Array(g.inputShape.dropFirst()), values: big), mode: .inference).array
            for i in 0..<5 {
                XCTAssertLessThan(relativeError(Array(y[i * k ..< (i + 1) * k]), Array(g.output[(i % 2) * k ..< (i % 2 + 1) * k])), Self.tolerance, name)
            }
            let one = m.model.forward(Tensor(shape: [1] + Array(g.inputShape.dropFirst()), values: Array(g.input[per...])), mode: .inference).array
            XCTAssertLessThan(relativeError(one, Array(g.output[k...])), Self.tolerance, name)
        }
    }
}
