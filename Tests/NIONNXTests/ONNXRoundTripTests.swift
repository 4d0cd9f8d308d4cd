import XCTest
import Foundation
import SwiftProtobuf
import NITensor
import NINetwork
@testable import NIONNX

final class ONNXRoundTripTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("ni-onnx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func smallModel() throws -> (ArchitectureSpec, Sequential) {
        let spec = ArchitectureSpec("input(2,8,8) conv(4,3,pad=1) relu maxpool(2) bn conv(3,3,stride=2,pad=1) leakyrelu(0.1) avgpool(2) flatten dense(6) relu dropout(0.5) dense(5)")
        let m = try spec.build(seed: 11)
        var rng = SeededGenerator(seed: 3)
        for l in m.layers { if let b = l as? BatchNorm { for c in 0..<b.channels { b.runningMean.value[c] = rng.nextUnit(); b.runningVar.value[c] = 0.5 + rng.nextUnit(); b.gamma.value[c] = 0.5 + rng.nextUnit() } } }
        return (spec, m)
    }

    func testExportThenImportGivesIdenticalLogits() throws {
        let (spec, m) = try smallModel()
        let url = dir.appendingPathComponent("m.onnx")
        try ONNXExport.write(m, to: url, architecture: spec, metadata: ["k": "v"])
        let loaded = try ONNXModel.load(url)
        XCTAssertEqual(loaded.metadata["neuroninspect.architecture"], spec.text)
        XCTAssertEqual(loaded.metadata["k"], "v")
        XCTAssertEqual(loaded.model.inputShape, [2, 8, 8])
        XCTAssertEqual(loaded.model.classCount, 5)
        var rng = SeededGenerator(seed: 9)
        let x = Tensor(shape: [3, 2, 8, 8])
        for i in 0..<x.count { x[i] = rng.nextUnit() }
        let a = m.forward(x, mode: .inference).copy(), b = loaded.model.forward(x, mode: .inference)
        XCTAssertEqual(a.shape, b.shape)
        for i in 0..<a.count { XCTAssertEqual(a[i], b[i], accuracy: 1e-6) }
        // No temporary file is left behind.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["m.onnx"])
    }

    func testMissingFileIsNamed() {
        let p = dir.appendingPathComponent("nope.onnx")
        XCTAssertThrowsError(try ONNXModel.load(p)) { e in
            XCTAssertEqual(e as? ONNXError, .missingFile(p.path))
            XCTAssertTrue("\(e)".contains("nope.onnx"))
        }
    }

    func testNotONNXIsRefused() throws {
        let p = dir.appendingPathComponent("text.onnx")
        try Data("this is not a model\n".utf8).write(to: p)
        XCTAssertThrowsError(try ONNXModel.load(p)) { e in
            XCTAssertTrue("\(e)".contains("text.onnx"), "\(e)")
            XCTAssertTrue("\(e)".contains("not an ONNX model"), "\(e)")
        }
    }

    func testTruncatedFileIsRefused() throws {
        let (spec, m) = try smallModel()
        let url = dir.appendingPathComponent("t.onnx")
        try ONNXExport.write(m, to: url, architecture: spec)
        let data = try Data(contentsOf: url)
        try data.prefix(data.count / 2).write(to: url)
        XCTAssertThrowsError(try ONNXModel.load(url)) { e in XCTAssertTrue("\(e)".contains("t.onnx"), "\(e)") }
    }

    func testNaNWeightsAreRefused() throws {
        let (spec, m) = try smallModel()
        (m.layers[0] as! Conv2D).weight.value[3] = .nan
        let url = dir.appendingPathComponent("nan.onnx")
        try ONNXExport.write(m, to: url, architecture: spec)
        XCTAssertThrowsError(try ONNXModel.load(url)) { e in
            XCTAssertTrue("\(e)".contains("NaN"), "\(e)")
            XCTAssertTrue("\(e)".contains("nan.onnx"), "\(e)")
        }
    }

    func testUnsupportedOpAndSizeMismatchAreNamed() throws {
        let (spec, m) = try smallModel()
        var proto = try ONNXExport.model(m, architecture: spec)
        proto.graph.node[1].opType = "Mish"
        let url = dir.appendingPathComponent("op.onnx")
        try proto.serializedData().write(to: url)
        XCTAssertThrowsError(try ONNXModel.load(url)) { e in
            XCTAssertTrue("\(e)".contains("unsupported ONNX operator 'Mish'"), "\(e)")
        }
        var proto2 = try ONNXExport.model(m, architecture: spec)
        proto2.graph.initializer[0].rawData = proto2.graph.initializer[0].rawData.prefix(8)
        try proto2.serializedData().write(to: url)
        XCTAssertThrowsError(try ONNXModel.load(url)) { e in
            XCTAssertTrue("\(e)".contains("raw_data has 8"), "\(e)")
        }
        var proto3 = try ONNXExport.model(m, architecture: spec)
        proto3.graph.initializer[0].dims = [1 << 20, 1 << 20]
        try proto3.serializedData().write(to: url)
        XCTAssertThrowsError(try ONNXModel.load(url)) { e in
            XCTAssertTrue("\(e)".contains("exceeds"), "\(e)")
        }
    }

    /// Golden values from onnxruntime: `Fixtures/golden_small.onnx` was written by our exporter and
    /// `Fixtures/golden_small.json` holds onnxruntime's logits for the stored input
    /// (script: scripts/make_onnx_golden.py).
    func testOnnxruntimeGolden() throws {
        let base = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!
        let model = try ONNXModel.load(base.appendingPathComponent("golden_small.onnx"))
        struct Golden: Decodable { var input: [Float]; var inputShape: [Int]; var logits: [Float]; var onnxruntime: String }
        let g = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: base.appendingPathComponent("golden_small.json")))
        let y = model.model.forward(Tensor(shape: g.inputShape, values: g.input), mode: .inference)
        XCTAssertEqual(y.count, g.logits.count)
        for i in 0..<y.count { XCTAssertEqual(y[i], g.logits[i], accuracy: 1e-4 * max(1, abs(g.logits[i]))) }
    }
}
