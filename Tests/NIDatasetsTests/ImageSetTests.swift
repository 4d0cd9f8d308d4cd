import XCTest
import NIDatasets
import NITensor

final class ImageSetTests: XCTestCase {
    func makeSet() -> ImageSet {
        ImageSet(images: Tensor(shape: [4, 1, 2, 2], values: (0..<16).map(Float.init)), labels: [3, 1, 2, 0], classCount: 5)
    }

    func testSubset() {
        let sub = makeSet().subset([2, 0, 2])
        XCTAssertEqual(sub.count, 3)
        XCTAssertEqual(sub.labels, [2, 3, 2])
        XCTAssertEqual(sub.images.array, [8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11])
        XCTAssertEqual(makeSet().labelCounts, [1, 1, 1, 1, 0])
    }

    func testBatchReusesStorage() {
        let set = makeSet()
        let x = Tensor(shape: [3, 1, 2, 2])
        var labels: [Int] = []
        labels.reserveCapacity(3)
        let order = [3, 1, 0, 2]
        set.batch(order[0..<3], into: x, labels: &labels)
        let storage = x.data
        XCTAssertEqual(x.shape, [3, 1, 2, 2])
        XCTAssertEqual(labels, [0, 1, 3])
        XCTAssertEqual(x.array, [12, 13, 14, 15, 4, 5, 6, 7, 0, 1, 2, 3])
        set.batch(order[3..<4], into: x, labels: &labels)   // a smaller last batch
        XCTAssertEqual(x.shape, [1, 1, 2, 2])
        XCTAssertEqual(x.data, storage)
        XCTAssertEqual(labels, [2])
        XCTAssertEqual(x.array, [8, 9, 10, 11])
    }
}
