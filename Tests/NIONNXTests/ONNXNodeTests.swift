import XCTest
import Foundation
import SwiftProtobuf
import NITensor
import NINetwork
@testable import NIONNX

/// Op-level forward goldens: the onnx package's node tests (inputs and outputs from the ONNX reference
/// implementation) for a selection of supported operators, copied into Fixtures/node by
/// scripts/make_onnx_fixtures.py. Each model runs through the same graph builder as full models.
final class ONNXNodeTests: XCTestCase {
    func testOnnxNodeTests() throws {
        let dir = fixtures.appendingPathComponent("node")
        let tests = try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { !$0.hasSuffix(".md") }.sorted()
        XCTAssertGreaterThanOrEqual(tests.count, 80, "node tests present")
        var passed = 0
        for t in tests {
            let d = dir.appendingPathComponent(t)
            func pbs(_ prefix: String) throws -> [Onnx_TensorProto] {
                var out: [Onnx_TensorProto] = []
                var i = 0
                while FileManager.default.fileExists(atPath: d.appendingPathComponent("\(prefix)_\(i).pb").path) {
                    out.append(try Onnx_TensorProto(serializedBytes: Data(contentsOf: d.appendingPathComponent("\(prefix)_\(i).pb"))))
                    i += 1
                }
                return out
            }
            let expected = try pbs("output")
            let outputs: [ONNXGraphRunner.Output]
            do {
                outputs = try ONNXGraphRunner.run(model: Data(contentsOf: d.appendingPathComponent("model.onnx")), inputs: try pbs("input"), path: t)
            } catch {
                XCTFail("\(t): \(error)"); continue
            }
            XCTAssertEqual(outputs.count, expected.count, t)
            var ok = true
            for (o, e) in zip(outputs, expected) {
                var dec = TensorDecoder(path: t, folder: nil, budget: 1 << 30)
                let want = try dec.decode(e, name: "expected")
                switch (o, want) {
                case let (.tensor(a), .float(b)):
                    XCTAssertEqual(a.shape, b.shape, "\(t) shape")
                    if a.shape == b.shape {
                        let err = relativeError(a.array, b.array)
                        if err >= 1e-4 { ok = false }
                        XCTAssertLessThan(err, 1e-4, t)
                    } else { ok = false }
                case let (.tensor(a), .integer(b)):
                    // Integer data run as float (input 0 of e.g. the Pad tests is int32).
                    XCTAssertEqual(a.shape, b.shape, t)
                    XCTAssertEqual(a.array.map(Double.init), b.values, t)
                    ok = ok && a.shape == b.shape && a.array.map(Double.init) == b.values
                case let (.value(a), .integer(b)):
                    XCTAssertEqual(a.shape, b.shape, t); XCTAssertEqual(a.values, b.values, t)
                    if a != b { ok = a.shape == b.shape && a.values == b.values }
                default:
                    ok = false
                    XCTFail("\(t): output kind \(o) does not match \(want)")
                }
            }
            if ok { passed += 1 }
        }
        print("onnx node tests: \(passed) of \(tests.count) passed")
    }
}
