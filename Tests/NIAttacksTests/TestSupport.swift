import Foundation
import XCTest
import NITensor
import NIDatasets
@testable import NIAttacks

/// A `[1, C, H, W]` image whose element i is `(i + 1) / 128` (exact in Float32, all distinct, all < 1 for
/// up to 127 elements, none equal to a pattern value 0 or 1).
func rampImage(channels: Int, height: Int, width: Int) -> Tensor {
    let n = channels * height * width
    return Tensor(shape: [1, channels, height, width], values: (0..<n).map { Float($0 + 1) / 128 })
}

/// An ImageSet of `count` random 1x6x6 images with labels `i % classes`.
func syntheticSet(count: Int, classes: Int = 10, channels: Int = 1, side: Int = 6, seed: UInt64 = 3) -> ImageSet {
    var rng = SeededGenerator(seed: seed)
    let t = Tensor(shape: [count, channels, side, side])
    for i in 0..<t.count { t[i] = rng.nextUnit() }
    return ImageSet(images: t, labels: (0..<count).map { $0 % classes }, classCount: classes)
}

/// Asserts that `body` throws an `AttackError` whose description contains every string of `parts`.
@discardableResult
func assertAttackError<T>(_ parts: [String], file: StaticString = #filePath, line: UInt = #line,
                          _ body: () throws -> T) -> AttackError? {
    do {
        _ = try body()
        XCTFail("expected an AttackError containing \(parts), but nothing was thrown", file: file, line: line)
        return nil
    } catch let error as AttackError {
        for p in parts where !error.description.contains(p) {
            XCTFail("error '\(error.description)' does not contain '\(p)'", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected an AttackError, got \(error)", file: file, line: line)
        return nil
    }
}

/// A new empty folder under the system temporary folder, removed at the end of the test.
func temporaryDirectory(_ test: XCTestCase) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("NIAttacksTests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: dir) }
    return dir
}
