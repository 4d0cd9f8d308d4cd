import XCTest
import Foundation
import SwiftProtobuf
import NITensor
import NINetwork
@testable import NIONNX

/// A model file is untrusted: each defect is refused with a message naming the file and the problem.
/// The models are the PyTorch fixtures (scripts/make_onnx_fixtures.py) with one defect each.
final class ONNXSecurityTests: XCTestCase {
    var dir: URL!
    override func setUpWithError() throws { dir = try makeTempDir() }
    override func tearDownWithError() throws { try? FileManager.default.removeItem(at: dir) }

    func fixture(_ name: String) throws -> Onnx_ModelProto {
        try Onnx_ModelProto(serializedBytes: Data(contentsOf: fixtures.appendingPathComponent(name)))
    }

    /// Writes `proto` as `name` in the temp folder and asserts loading fails with all of `mentions`.
    func assertRefused(_ proto: Onnx_ModelProto, _ name: String, _ mentions: [String], options: ONNXModel.LoadOptions = .init(),
                       file: StaticString = #filePath, line: UInt = #line) throws {
        let url = dir.appendingPathComponent(name)
        try proto.serializedData().write(to: url)
        XCTAssertThrowsError(try ONNXModel.load(url, options: options), file: file, line: line) { e in
            let m = "\(e)"
            XCTAssertTrue(m.contains(name), "message names the file: \(m)", file: file, line: line)
            for s in mentions { XCTAssertTrue(m.contains(s), "message mentions '\(s)': \(m)", file: file, line: line) }
        }
        // info reads the same file without crashing and reports it as not runnable (under the default bound).
        if options.maxTotalBytes == ONNXModel.maxTotalBytes, let i = try? ONNXInfo.read(url) {
            XCTAssertFalse(i.runnable, file: file, line: line)
        }
    }

    func testCycleIsRefused() throws {
        var p = try fixture("torch_cnn_ts.onnx")
        let last = p.graph.node.count - 1
        // The first node now reads the last node's output, which depends on the first node.
        p.graph.node[0].input[0] = p.graph.node[last].output[0]
        try assertRefused(p, "cycle.onnx", ["graph has a cycle through"])
    }

    func testMissingInputIsRefused() throws {
        var p = try fixture("torch_resnet.onnx")
        p.graph.node[3].input[0] = "nowhere"
        try assertRefused(p, "missing.onnx", ["reads 'nowhere', which no node, initializer or graph input provides"])
    }

    func testUnknownOpIsRefused() throws {
        var p = try fixture("torch_resnet.onnx")
        p.graph.node[2].opType = "Mish"
        try assertRefused(p, "mish.onnx", ["unsupported ONNX operator 'Mish'"])
        var q = try fixture("torch_resnet.onnx")
        q.graph.node[2].domain = "com.example"
        try assertRefused(q, "domain.onnx", ["unsupported ONNX operator 'com.example.Conv'"])
    }

    func testTensorDataNotMatchingShapeIsRefused() throws {
        var p = try fixture("torch_cnn_ts.onnx")
        p.graph.initializer[0].rawData = p.graph.initializer[0].rawData.prefix(10)
        try assertRefused(p, "short.onnx", ["needs", "raw_data has 10"])
        var q = try fixture("torch_cnn_ts.onnx")
        q.graph.initializer[0].dims[0] += 1
        try assertRefused(q, "dims.onnx", ["bytes, raw_data has"])
        var r = try fixture("torch_cnn_ts.onnx")
        let w = r.graph.initializer[0]
        var typed = Onnx_TensorProto(); typed.name = w.name; typed.dims = w.dims; typed.dataType = 1
        typed.floatData = [1, 2, 3]
        r.graph.initializer[0] = typed
        try assertRefused(r, "typed.onnx", ["float_data has 3"])
        var s = try fixture("torch_cnn_ts.onnx")
        s.graph.initializer[0].dims = [1 << 20, 1 << 20]
        try assertRefused(s, "huge.onnx", ["exceeds"])
        var t = try fixture("torch_cnn_ts.onnx")
        t.graph.initializer[0].dataType = 8   // string
        try assertRefused(t, "string.onnx", ["data type string is not supported"])
    }

    func testMemoryBoundIsCheckedBeforeAllocating() throws {
        let p = try fixture("torch_resnet.onnx")
        try assertRefused(p, "bound.onnx", ["memory bound"], options: .init(maxTotalBytes: 4096))
    }

    func testDuplicateValueOpsetAndComputedWeightsAreRefused() throws {
        var p = try fixture("torch_resnet.onnx")
        p.graph.node[1].output[0] = p.graph.node[0].output[0]
        try assertRefused(p, "dup.onnx", ["is produced more than once"])
        var q = try fixture("torch_resnet.onnx")
        for i in 0..<q.opsetImport.count where q.opsetImport[i].domain.isEmpty { q.opsetImport[i].version = 23 }
        try assertRefused(q, "opset.onnx", ["opset 23", "9 to 21"])
        var r = try fixture("torch_resnet.onnx")
        // A convolution whose weights are the output of the previous node.
        r.graph.node[2].input[1] = r.graph.node[1].output[0]
        try assertRefused(r, "computed.onnx", ["must be a constant weight"])
        var s = try fixture("torch_cnn_ts.onnx")
        s.graph.initializer[1].rawData = Data(repeating: 0xFF, count: s.graph.initializer[1].rawData.count)
        try assertRefused(s, "nan.onnx", ["NaN or infinite"])
    }

    func testBadAttributesAreRefused() throws {
        var p = try fixture("torch_cnn_ts.onnx")
        let conv = p.graph.node.firstIndex { $0.opType == "Conv" }!
        let k = p.graph.node[conv].attribute.firstIndex { $0.name == "strides" }!
        p.graph.node[conv].attribute[k].ints = [0, 1]
        try assertRefused(p, "stride.onnx", ["(Conv)", "strides [0, 1]"])
        var q = try fixture("torch_cnn_ts.onnx")
        let pool = q.graph.node.firstIndex { $0.opType == "MaxPool" }!
        let kk = q.graph.node[pool].attribute.firstIndex { $0.name == "kernel_shape" }!
        q.graph.node[pool].attribute[kk].ints = [400, 400]
        try assertRefused(q, "pool.onnx", ["(MaxPool)", "400x400 expects input"])
    }

    // MARK: external data

    /// The external-data fixture copied into the temp folder, with its location rewritten.
    func externalModel(location: String, offset: String? = nil, length: String? = nil) throws -> Onnx_ModelProto {
        let src = fixtures.appendingPathComponent("external")
        try FileManager.default.copyItem(at: src.appendingPathComponent("torch_cnn_ext.weights"), to: dir.appendingPathComponent("torch_cnn_ext.weights"))
        var p = try Onnx_ModelProto(serializedBytes: Data(contentsOf: src.appendingPathComponent("torch_cnn_ext.onnx")))
        for k in 0..<p.graph.initializer[0].externalData.count {
            let key = p.graph.initializer[0].externalData[k].key
            if key == "location" { p.graph.initializer[0].externalData[k].value = location }
            if key == "offset", let offset { p.graph.initializer[0].externalData[k].value = offset }
            if key == "length", let length { p.graph.initializer[0].externalData[k].value = length }
        }
        return p
    }

    func testExternalDataInsideTheFolderLoads() throws {
        let p = try externalModel(location: "torch_cnn_ext.weights")
        let url = dir.appendingPathComponent("ok.onnx")
        try p.serializedData().write(to: url)
        XCTAssertNoThrow(try ONNXModel.load(url))
    }

    func testExternalDataWithDotDotIsRefused() throws {
        try assertRefused(try externalModel(location: "../torch_cnn_ext.weights"), "dotdot.onnx", ["contains '..'"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("torch_cnn_ext.weights"))
        try assertRefused(try externalModel(location: "sub/../../x.weights"), "dotdot2.onnx", ["contains '..'"])
    }

    func testExternalDataWithAbsolutePathIsRefused() throws {
        try assertRefused(try externalModel(location: "/etc/passwd"), "absolute.onnx", ["absolute"])
    }

    func testExternalDataThroughSymlinkOutsideIsRefused() throws {
        let outside = try makeTempDir()
        defer { try? FileManager.default.removeItem(at: outside) }
        try Data(count: 4096).write(to: outside.appendingPathComponent("w.bin"))
        try FileManager.default.createSymbolicLink(at: dir.appendingPathComponent("link.bin"), withDestinationURL: outside.appendingPathComponent("w.bin"))
        try assertRefused(try externalModel(location: "link.bin"), "symlink.onnx", ["outside the model's folder"])
    }

    func testExternalDataRangeAndLengthAreChecked() throws {
        try assertRefused(try externalModel(location: "torch_cnn_ext.weights", offset: "999999999"), "range.onnx", ["lies outside"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("torch_cnn_ext.weights"))
        try assertRefused(try externalModel(location: "torch_cnn_ext.weights", length: "4"), "length.onnx", ["length 4 differs"])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("torch_cnn_ext.weights"))
        try assertRefused(try externalModel(location: "absent.weights"), "absent.onnx", ["does not exist"])
    }

    /// The same weights written as typed fields (float_data, double_data, float16 in int32_data) load to the
    /// same logits as raw_data.
    func testTypedFieldsMatchRawData() throws {
        let base = try fixture("torch_cnn_ts.onnx")
        let g = try Golden.load("torch_cnn_ts")
        let x = Tensor(shape: g.inputShape, values: g.input)
        for kind in ["float_data", "double_data", "float16"] {
            var p = base
            for (i, t) in p.graph.initializer.enumerated() where t.dataType == 1 {
                let values: [Float] = t.rawData.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
                var n = Onnx_TensorProto(); n.name = t.name; n.dims = t.dims
                switch kind {
                case "float_data": n.dataType = 1; n.floatData = values
                case "double_data": n.dataType = 11; n.doubleData = values.map(Double.init)
                default:
                    // float16 weights feeding float ops: kept exact by choosing values representable in half.
                    n.dataType = 10; n.int32Data = values.map { Int32(Float16Bits.bits(of: $0)) }
                }
                p.graph.initializer[i] = n
            }
            let m = try ONNXModel.load(data: try p.serializedData(), path: "\(kind).onnx", folder: nil)
            let y = m.model.forward(x, mode: .inference).array
            let e = relativeError(y, g.output)
            XCTAssertLessThan(e, kind == "float16" ? 2e-2 : 1e-4, "\(kind): \(e)")
        }
    }
}

/// Float to IEEE half bits (round to nearest) for building float16 test tensors.
enum Float16Bits {
    static func bits(of f: Float) -> UInt16 {
        let b = f.bitPattern
        let sign = UInt16((b >> 16) & 0x8000)
        var exp = Int((b >> 23) & 0xFF) - 127 + 15
        var man = b & 0x7F_FFFF
        if exp <= 0 { return sign }
        if exp >= 31 { return sign | 0x7C00 }
        man += 0x1000
        if man & 0x80_0000 != 0 { man = 0; exp += 1 }
        return sign | UInt16(exp << 10) | UInt16(man >> 13)
    }
}
