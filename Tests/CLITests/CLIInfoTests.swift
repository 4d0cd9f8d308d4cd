import XCTest
import Foundation
import NINetwork
import NIONNX

/// `info` reads a model without running it and says whether this build can.
final class CLIInfoTests: XCTestCase {
    func testRunnableModel() throws {
        let tmp = try makeTempDir()
        let spec = ArchitectureSpec("input(1,8,8) conv(2,3,pad=1) relu flatten dense(4)")
        let url = tmp.appendingPathComponent("m.onnx")
        try ONNXExport.write(try spec.build(seed: 1), to: url, architecture: spec)
        let json = tmp.appendingPathComponent("i.json")
        let r = try runCLI(["info", "--model", url.path, "--json", json.path])
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertTrue(r.stdout.contains("input  input: float [batch, 1, 8, 8]"), r.stdout)
        XCTAssertTrue(r.stdout.contains("runnable: yes"), r.stdout)
        let obj = try JSONSerialization.jsonObject(with: Data(contentsOf: json)) as! [String: Any]
        XCTAssertEqual(obj["parameters"] as? Int, 2 * 9 + 2 + 4 * 128 + 4)
    }

    func testUnsupportedOperatorIsNamed() throws {
        let tmp = try makeTempDir()
        let spec = ArchitectureSpec("input(1,8,8) conv(2,3,pad=1) relu flatten dense(4)")
        var proto = try ONNXExport.model(try spec.build(seed: 1), architecture: spec)
        proto.graph.node[1].opType = "Mish"
        let url = tmp.appendingPathComponent("mish.onnx")
        try proto.serializedData().write(to: url)
        let r = try runCLI(["info", "--model", url.path])
        XCTAssertEqual(r.status, 2)
        XCTAssertTrue(r.stdout.contains("! Mish x1  (not supported)"), r.stdout)
        XCTAssertTrue(r.stdout.contains("runnable: NO (unsupported operators: Mish)"), r.stdout)
    }
}
