import Foundation
import XCTest
import NITensor
import NIDatasets
@testable import NIAttacks

/// BadNets poisoning: how many and which images, determinism, relabelling, and `fill` equal to stamping
/// the clean images.
final class PoisonedDatasetTests: XCTestCase {
    let clean = syntheticSet(count: 200)
    let trigger = TriggerSpec(size: 2, positions: [.corner(.bottomRight)])

    func testCountLabelsAndDeterminism() throws {
        let p = try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 0.1, seed: 42)
        XCTAssertEqual(p.poisonedCount, 20)
        XCTAssertEqual(p.count, 200)
        XCTAssertEqual(p.sampleShape, [1, 6, 6])
        XCTAssertEqual(p.poisonedIndices, p.poisonedIndices.sorted())
        XCTAssertEqual(Set(p.poisonedIndices).count, 20)
        for i in p.poisonedIndices {
            XCTAssertNotEqual(clean.labels[i], 5, "images already of the target class are not poisoned")
            XCTAssertEqual(p.label(at: i), 5)
            XCTAssertEqual(p.triggerIndex(of: i), 0)
        }
        let labels = p.labels
        for i in 0..<200 where !p.poisonedIndices.contains(i) {
            XCTAssertEqual(labels[i], clean.labels[i])
            XCTAssertNil(p.triggerIndex(of: i))
        }
        let again = try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 0.1, seed: 42)
        XCTAssertEqual(again.poisonedIndices, p.poisonedIndices, "same seed, same poisoned images")
        let other = try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 0.1, seed: 43)
        XCTAssertNotEqual(other.poisonedIndices, p.poisonedIndices)
        // round(ratio * N): 0.01 of 200 is 2; 0 poisons nothing.
        XCTAssertEqual(try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 0.01, seed: 0).poisonedCount, 2)
        XCTAssertEqual(try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 0, seed: 0).poisonedCount, 0)
    }

    func testFillEqualsStampingTheCleanImages() throws {
        let p = try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 0.25, seed: 1)
        var order = Array(0..<200)
        var rng = SeededGenerator(seed: 9)
        rng.shuffle(&order)
        let x = Tensor(shape: [0]), expected = Tensor(shape: [0])
        var labels: [Int] = [], cleanLabels: [Int] = []
        let compiled = try trigger.compiled(channels: 1, height: 6, width: 6)
        var buffer: UnsafeMutablePointer<Float>?
        for start in stride(from: 0, to: 200, by: 64) {
            let idx = order[start..<min(start + 64, 200)]
            p.fill(batch: idx, into: x, labels: &labels)
            if buffer == nil { buffer = x.data }
            XCTAssertEqual(x.data, buffer, "the batch tensor is reused, not reallocated")
            clean.batch(idx, into: expected, labels: &cleanLabels)
            let poisonedRows = idx.enumerated().filter { p.poisonedIndices.contains($0.element) }.map(\.offset)
            try compiled.stamp(expected, indices: poisonedRows)
            XCTAssertEqual(x.shape, expected.shape)
            XCTAssertEqual(x.array, expected.array)
            XCTAssertEqual(labels, idx.map { p.poisonedIndices.contains($0) ? 5 : clean.labels[$0] })
        }
        // The clean set is untouched.
        XCTAssertEqual(clean.images.array, syntheticSet(count: 200).images.array)
    }

    func testMultipleTriggersOnePositionPerImage() throws {
        let corners = try TriggerSpec(parsing: "square:2@all-corners+margin=0")
        let p = try PoisonedDataset(clean: clean, trigger: corners, target: 3, injectRatio: 0.2, seed: 5)
        XCTAssertEqual(p.triggers.count, 4)
        XCTAssertEqual(p.triggerTargets, [3, 3, 3, 3])
        let groups = p.poisonedIndices.map { p.triggerIndex(of: $0)! }
        XCTAssertEqual((0..<4).map { g in groups.filter { $0 == g }.count }, [10, 10, 10, 10], "round-robin over the corners")
        let x = Tensor(shape: [0])
        var labels: [Int] = []
        p.fill(batch: p.poisonedIndices[...], into: x, labels: &labels)
        XCTAssertEqual(labels, [Int](repeating: 3, count: 40))
        for (k, i) in p.poisonedIndices.enumerated() {
            let img = Array(x.array[(k * 36)..<((k + 1) * 36)])
            XCTAssertEqual(img.filter { $0 == 1 }.count, 4, "exactly one 2x2 corner patch on image \(i)")
            let corner = [0, 4, 24, 28][p.triggerIndex(of: i)!]   // top-left pixel of that corner's patch
            XCTAssertEqual([img[corner], img[corner + 1], img[corner + 6], img[corner + 7]], [1, 1, 1, 1])
        }
        // One target per position.
        let multi = try PoisonedDataset(clean: clean, trigger: corners, targets: [1, 2, 3, 4], injectRatio: 0.2, seed: 5)
        for i in multi.poisonedIndices {
            let g = multi.triggerIndex(of: i)!
            XCTAssertEqual(multi.label(at: i), [1, 2, 3, 4][g])
            XCTAssertNotEqual(clean.labels[i], [1, 2, 3, 4][g])
        }
        // All patches at once.
        let all = try PoisonedDataset(clean: clean, trigger: corners, target: 3, injectRatio: 0.2, seed: 5, stamping: .allPositions)
        XCTAssertEqual(all.triggers.count, 1)
        all.fill(batch: all.poisonedIndices[...], into: x, labels: &labels)
        XCTAssertEqual(x.array.filter { $0 == 1 }.count, 16 * 40)
        assertAttackError(["2 targets", "4 trigger position(s)"]) {
            try PoisonedDataset(clean: clean, trigger: corners, targets: [1, 2], injectRatio: 0.1, seed: 0)
        }
    }

    func testFullImageBlendPoisoning() throws {
        let blend = TriggerSpec.blend(.random(seed: 1))
        let p = try PoisonedDataset(clean: clean, trigger: blend, target: 0, injectRatio: 0.05, seed: 2)
        XCTAssertEqual(p.poisonedCount, 10)
        let x = Tensor(shape: [0])
        var labels: [Int] = []
        p.fill(batch: p.poisonedIndices[...], into: x, labels: &labels)
        let pattern = try blend.pattern(channels: 1, height: 6, width: 6)
        for (k, i) in p.poisonedIndices.enumerated() {
            for j in 0..<36 {
                XCTAssertEqual(x[k * 36 + j], 0.9 * clean.images[i * 36 + j] + 0.1 * pattern[j])
            }
        }
    }

    func testErrors() throws {
        assertAttackError(["inject ratio 1.5", "[0, 1]"]) {
            try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 1.5, seed: 0)
        }
        assertAttackError(["target 10", "0..<10"]) {
            try PoisonedDataset(clean: clean, trigger: trigger, target: 10, injectRatio: 0.1, seed: 0)
        }
        assertAttackError(["200 poisoned images", "only 180 of the 200", "[5]", "lower the inject ratio"]) {
            try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 1, seed: 0)
        }
        XCTAssertEqual(try PoisonedDataset(clean: clean, trigger: trigger, target: 5, injectRatio: 1, seed: 0,
                                           source: .any).poisonedCount, 200)
        assertAttackError(["square:7@bottom-right", "6x6 (width x height)"]) {
            try PoisonedDataset(clean: clean, trigger: TriggerSpec(size: 7, positions: [.corner(.bottomRight)]),
                                target: 5, injectRatio: 0.1, seed: 0)
        }
    }
}
