import XCTest
import Foundation
import NITensor
@testable import NIONNX

/// The fixtures folder (Tests/NIONNXTests/Fixtures, copied as a resource).
let fixtures = Bundle.module.url(forResource: "Fixtures", withExtension: nil)!

/// A golden file written by scripts/make_onnx_fixtures.py.
struct Golden: Decodable {
    var model: String
    var exporter: String
    var layout: String
    var endsWith: String?
    var inputShape: [Int]
    var input: [Float]
    var outputShape: [Int]
    var output: [Float]
    var logits: [Float]
    var seed: [Float]?
    var gradient: [Float]?
    var rectifiedGradient: [Float]?
    var script: String

    static func load(_ name: String) throws -> Golden {
        try JSONDecoder().decode(Golden.self, from: Data(contentsOf: fixtures.appendingPathComponent(name + ".json")))
    }
}

/// `max |a - b| / max |b|`: the relative error of a whole tensor.
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
    var d = 0.0, m = 0.0
    for i in 0..<a.count { d = max(d, Double(abs(a[i] - b[i]))); m = max(m, Double(abs(b[i]))) }
    return m == 0 ? d : d / m
}

func makeTempDir() throws -> URL {
    let d = FileManager.default.temporaryDirectory.appendingPathComponent("ni-onnx-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
    return d
}
