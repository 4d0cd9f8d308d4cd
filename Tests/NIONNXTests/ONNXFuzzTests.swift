import XCTest
import Foundation
import SwiftProtobuf
import NITensor
import NINetwork
@testable import NIONNX

/// A seeded mutation loop over the fixture models: byte-level mutations (bit flips, byte overwrites,
/// insertions, deletions, duplicated ranges, truncation, splices of two files) and structure-aware ones
/// (operator types, attribute values, value names, initializer dims/types/bytes, input dims, opsets, node
/// order). Every mutant goes through `ONNXModel.load`; mutants that load also run forward, backward and
/// rectified backward on two random images. A crash ends the test process, so a finished run means zero
/// crashes for the executions it reports.
///
/// Default: `NEURONINSPECT_FUZZ_ITERATIONS` mutants (3000 when unset, a few seconds in a debug build); set it
/// for long runs (e.g. `NEURONINSPECT_FUZZ_ITERATIONS=1000000 swift test -c release -Xswiftc -enable-testing
/// --filter ONNXFuzzTests`). `NEURONINSPECT_FUZZ_SEED` changes the seed.
final class ONNXFuzzTests: XCTestCase {
    static let corpusNames = ["torch_cnn_ts.onnx", "torch_cnn_dynamo.onnx", "torch_resnet.onnx", "torch_deepid_softmax.onnx",
                              "torch_ops.onnx", "keras_cnn.onnx", "keras_gap.onnx", "ort_resnet_extended.onnx",
                              "torch_cnn_fp16w.onnx", "golden_small.onnx"]

    struct Stats { var executions = 0, loaded = 0, ran = 0, refused = 0; var errors: [String: Int] = [:] }

    func testMutatedModelsNeverCrash() throws {
        let env = ProcessInfo.processInfo.environment
        let iterations = env["NEURONINSPECT_FUZZ_ITERATIONS"].flatMap(Int.init) ?? 3000
        let seed = env["NEURONINSPECT_FUZZ_SEED"].flatMap(UInt64.init) ?? 2024
        let corpus = try Self.corpusNames.map { try Data(contentsOf: fixtures.appendingPathComponent($0)) }
        let protos = try corpus.map { try Onnx_ModelProto(serializedBytes: $0) }
        // Keep mutants cheap: small weight budget, small runtime values.
        let savedLimit = graphMaxValueElements
        graphMaxValueElements = 1 << 20
        defer { graphMaxValueElements = savedLimit }
        var rng = SeededGenerator(seed: seed)
        var stats = Stats()
        let start = Date()
        for it in 0..<iterations {
            let k = Int(rng.next() % UInt64(corpus.count))
            let bytes = rng.next() % 3 == 0 ? mutateBytes(corpus[k], other: corpus[Int(rng.next() % UInt64(corpus.count))], &rng)
                                             : mutateProto(protos[k], &rng)
            run(bytes, &stats, &rng)
            if it % 50_000 == 49_999 { print("fuzz: \(it + 1) executions, \(stats.loaded) loaded, \(String(format: "%.0f", Date().timeIntervalSince(start))) s") }
        }
        let secs = Date().timeIntervalSince(start)
        print("fuzz: \(stats.executions) executions (seed \(seed)) in \(String(format: "%.1f", secs)) s, \(stats.loaded) loaded, \(stats.ran) ran forward/backward/rectified, \(stats.refused) refused with an ONNXError, 0 crashes")
        for (e, n) in stats.errors.sorted(by: { $0.value > $1.value }).prefix(12) { print("  refused \(n)x: \(e)") }
        XCTAssertEqual(stats.executions, iterations)
        XCTAssertGreaterThan(stats.loaded, 0, "some mutants stay loadable (the loop exercises the executor too)")
        XCTAssertGreaterThan(stats.refused, 0)
    }

    func run(_ data: Data, _ stats: inout Stats, _ rng: inout SeededGenerator) {
        stats.executions += 1
        do {
            let m = try ONNXModel.load(data: data, path: "mutant.onnx", folder: nil, options: .init(maxTotalBytes: 1 << 22))
            stats.loaded += 1
            let shape = [2] + m.model.inputShape
            guard let n = checkedElementCount(shape), n <= 1 << 16 else { return }
            if let g = m.graph { try g.plan(shape); guard g.plannedElements <= 1 << 20 else { return } }
            let x = Tensor(shape: shape)
            for i in 0..<x.count { x[i] = rng.nextNormal() }
            let model = try m.logitsModel()
            let y = model.forward(x, mode: .inference)
            let dy = Tensor(shape: y.shape)
            for i in 0..<dy.count { dy[i] = rng.nextNormal() }
            _ = model.backward(dy, parameterGradients: false, inputGradient: true)
            _ = model.rectifiedBackward(dy)
            stats.ran += 1
        } catch let e as ONNXError {
            stats.refused += 1
            let key = Self.kind(e)
            stats.errors[key, default: 0] += 1
        } catch {
            XCTFail("non-ONNXError thrown: \(error)")
        }
    }

    static func kind(_ e: ONNXError) -> String {
        let s = "\(e)"
        guard let colon = s.firstIndex(of: ":") else { return s }
        return String(s[s.index(after: colon)...].prefix(60))
    }

    // MARK: mutations

    func pick<T>(_ a: [T], _ rng: inout SeededGenerator) -> T { a[Int(rng.next() % UInt64(a.count))] }
    func int(_ n: Int, _ rng: inout SeededGenerator) -> Int { n <= 0 ? 0 : Int(rng.next() % UInt64(n)) }

    func interestingInt(_ rng: inout SeededGenerator) -> Int64 {
        pick([0, 1, -1, 2, 3, -2, 7, 64, 255, 4096, 65536, 1 << 31, -(1 << 31), Int64.max, Int64.min, 1 << 40, Int64(int(100, &rng))], &rng)
    }

    func mutateBytes(_ d: Data, other: Data, _ rng: inout SeededGenerator) -> Data {
        var b = [UInt8](d)
        let rounds = 1 + int(4, &rng)
        for _ in 0..<rounds where !b.isEmpty {
            switch int(7, &rng) {
            case 0: let i = int(b.count, &rng); b[i] ^= UInt8(1 << int(8, &rng))
            case 1: let i = int(b.count, &rng); b[i] = pick([0, 0xFF, 0x7F, 0x80, 0x01, UInt8(truncatingIfNeeded: rng.next())], &rng)
            case 2: let i = int(b.count + 1, &rng); b.insert(contentsOf: (0..<(1 + int(8, &rng))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: i)
            case 3: let i = int(b.count, &rng); b.removeSubrange(i..<min(b.count, i + 1 + int(16, &rng)))
            case 4: let i = int(b.count, &rng), n = 1 + int(64, &rng); b.insert(contentsOf: b[i..<min(b.count, i + n)], at: int(b.count, &rng))
            case 5: b = Array(b.prefix(int(b.count, &rng)))
            default:
                let o = [UInt8](other), cut = int(b.count, &rng), from = int(o.count, &rng)
                b = Array(b.prefix(cut)) + o[from...]
            }
        }
        return Data(b)
    }

    func mutateProto(_ base: Onnx_ModelProto, _ rng: inout SeededGenerator) -> Data {
        var p = base
        let ops = Array(ONNXGraphBuilder.supportedOps).sorted() + ["Mish", "Loop", "If"]
        let rounds = 1 + int(3, &rng)
        for _ in 0..<rounds {
            let nodes = p.graph.node.count, inits = p.graph.initializer.count
            let names = p.graph.node.flatMap { $0.output } + p.graph.initializer.map(\.name) + p.graph.input.map(\.name) + ["", "ghost"]
            switch int(14, &rng) {
            case 0 where nodes > 0: p.graph.node[int(nodes, &rng)].opType = pick(ops, &rng)
            case 1 where nodes > 0:
                let n = int(nodes, &rng)
                if !p.graph.node[n].attribute.isEmpty {
                    let a = int(p.graph.node[n].attribute.count, &rng)
                    if !p.graph.node[n].attribute[a].ints.isEmpty {
                        let j = int(p.graph.node[n].attribute[a].ints.count, &rng)
                        p.graph.node[n].attribute[a].ints[j] = interestingInt(&rng)
                    } else {
                        p.graph.node[n].attribute[a].i = interestingInt(&rng)
                        p.graph.node[n].attribute[a].f = pick([0, -1, 1e30, .nan, .infinity, 0.5], &rng)
                    }
                }
            case 2 where nodes > 0:
                let n = int(nodes, &rng)
                if !p.graph.node[n].input.isEmpty { p.graph.node[n].input[int(p.graph.node[n].input.count, &rng)] = pick(names, &rng) }
            case 3 where nodes > 0:
                let n = int(nodes, &rng)
                if !p.graph.node[n].output.isEmpty { p.graph.node[n].output[0] = pick(names, &rng) }
            case 4 where inits > 0:
                let t = int(inits, &rng)
                if !p.graph.initializer[t].dims.isEmpty {
                    p.graph.initializer[t].dims[int(p.graph.initializer[t].dims.count, &rng)] = interestingInt(&rng)
                } else { p.graph.initializer[t].dims = [interestingInt(&rng)] }
            case 5 where inits > 0: p.graph.initializer[int(inits, &rng)].dataType = Int32(int(20, &rng))
            case 6 where inits > 0:
                let t = int(inits, &rng)
                var raw = p.graph.initializer[t].rawData
                if !raw.isEmpty { raw[raw.startIndex + int(raw.count, &rng)] = UInt8(truncatingIfNeeded: rng.next()) }
                if rng.next() % 2 == 0 { raw = raw.prefix(int(raw.count + 1, &rng)) }
                p.graph.initializer[t].rawData = raw
            case 7 where !p.graph.input.isEmpty && !p.graph.input[0].type.tensorType.shape.dim.isEmpty:
                let d = int(p.graph.input[0].type.tensorType.shape.dim.count, &rng)
                p.graph.input[0].type.tensorType.shape.dim[d].dimValue = pick([0, 1, 2, 3, 5, 9, 28, 4097, -1], &rng)
            case 8 where !p.opsetImport.isEmpty: p.opsetImport[int(p.opsetImport.count, &rng)].version = Int64(int(26, &rng))
            case 9 where nodes > 1: p.graph.node.swapAt(int(nodes, &rng), int(nodes, &rng))
            case 10 where nodes > 0: p.graph.node.remove(at: int(nodes, &rng))
            case 11 where nodes > 0: p.graph.node.insert(p.graph.node[int(nodes, &rng)], at: int(nodes, &rng))
            case 12 where inits > 0:
                let t = int(inits, &rng)
                var e = Onnx_StringStringEntryProto(); e.key = "location"; e.value = pick(["../x", "/etc/passwd", "w.bin", ""], &rng)
                p.graph.initializer[t].externalData = [e]
                p.graph.initializer[t].dataLocation = .external
            case 13 where nodes > 0:
                let n = int(nodes, &rng)
                var a = Onnx_AttributeProto(); a.name = pick(["axis", "perm", "pads", "group", "auto_pad", "axes", "to", "mode"], &rng)
                a.i = interestingInt(&rng); a.ints = (0..<int(5, &rng)).map { _ in interestingInt(&rng) }
                a.s = Data(pick(["SAME_UPPER", "VALID", "reflect", "wrap"], &rng).utf8)
                p.graph.node[n].attribute.append(a)
            default: break
            }
        }
        return (try? p.serializedData()) ?? Data()
    }
}
