import XCTest
import Foundation
@testable import NITensor

/// The worker pool behind `Parallel`: every index is visited exactly once, nested regions and regions
/// started from two threads at once run (inline) instead of deadlocking.
final class ParallelTests: XCTestCase {
    func testEveryIndexOnceAcrossManyRegions() {
        for n in [1, 2, 3, 17, 1000] {
            for _ in 0..<200 {
                let counts = UnsafeMutablePointer<Int>.allocate(capacity: n)
                counts.initialize(repeating: 0, count: n)
                Parallel.forEachChunk(n, chunks: 2) { _, r in for i in r { counts[i] += 1 } }
                for i in 0..<n { XCTAssertEqual(counts[i], 1) }
                counts.deallocate()
            }
        }
    }

    func testNestedRegionRunsInline() {
        let total = UnsafeMutablePointer<Int>.allocate(capacity: 4)
        total.initialize(repeating: 0, count: 4)
        Parallel.forEachChunk(4, chunks: 2) { c, r in
            Parallel.forEachChunk(r.count, chunks: 2) { _, inner in for i in inner { total[r.lowerBound + i] += 1 } }
        }
        XCTAssertEqual(Array(UnsafeBufferPointer(start: total, count: 4)), [1, 1, 1, 1])
        total.deallocate()
    }

    func testConcurrentCallersDoNotDeadlock() {
        let done = DispatchGroup()
        let sums = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        sums.initialize(repeating: 0, count: 2)
        for t in 0..<2 {
            DispatchQueue.global().async(group: done) {
                for _ in 0..<500 {
                    let parts = UnsafeMutablePointer<Int>.allocate(capacity: 2)
                    parts.initialize(repeating: 0, count: 2)
                    Parallel.forEachChunk(100, chunks: 2) { c, r in parts[c] = r.reduce(0, +) }
                    sums[t] += parts[0] + parts[1]
                    parts.deallocate()
                }
            }
        }
        XCTAssertEqual(done.wait(timeout: .now() + 30), .success)
        XCTAssertEqual(sums[0], 500 * 4950)
        XCTAssertEqual(sums[1], 500 * 4950)
        sums.deallocate()
    }
}
