import XCTest
import NIDatasets
import NITensor

final class MNISTTests: XCTestCase {
    /// Labels of the first 20 official MNIST test images.
    let firstLabels = [7, 2, 1, 0, 4, 1, 4, 9, 5, 9, 0, 6, 9, 0, 1, 5, 9, 7, 3, 4]

    func checkFirstTwenty(_ set: ImageSet) {
        XCTAssertEqual(set.images.shape, [20, 1, 28, 28])
        XCTAssertEqual(set.labels, firstLabels)
        XCTAssertEqual(set.classCount, 10)
        // Image 0 (a "7"): row 7, columns 6...11 hold bytes 84 185 159 151 60 36; the pixel sum is 18454
        // (printed by Fixtures/make_fixtures.py from the official t10k file).
        let row7 = (6...11).map { set.images[7 * 28 + $0] }
        XCTAssertEqual(row7, [84, 185, 159, 151, 60, 36].map { Float($0) / 255 })
        XCTAssertEqual(set.images[0], 0)
        let sum = (0..<784).reduce(Float(0)) { $0 + set.images[$1] }
        XCTAssertEqual(sum * 255, 18454, accuracy: 0.05)
        XCTAssertEqual(set.images.array.max(), 1)
    }

    func testLoadsPlainIDX() throws {
        checkFirstTwenty(try MNIST.load(directory: Fixture.path("mnist/plain"), split: .test))
    }

    func testLoadsGzippedIDX() throws {
        checkFirstTwenty(try MNIST.load(directory: Fixture.path("mnist/gz"), split: .test))
    }

    func testLimitKeepsFirstImages() throws {
        let set = try MNIST.load(directory: Fixture.path("mnist/gz"), split: .test, limit: 3)
        XCTAssertEqual(set.images.shape, [3, 1, 28, 28])
        XCTAssertEqual(set.labels, [7, 2, 1])
    }

    func testGunzipMatchesPlainFile() throws {
        let gz = try Fixture.bytes("mnist/gz/t10k-images-idx3-ubyte.gz")
        XCTAssertTrue(Gunzip.isGzip(gz))
        XCTAssertEqual(try Gunzip.decompress(gz, path: "x.gz"), try Fixture.bytes("mnist/plain/t10k-images-idx3-ubyte"))
    }

    func testIDXParserReadsHeader() throws {
        let idx = try IDXFile(path: Fixture.path("mnist/plain/t10k-labels-idx1-ubyte"))
        XCTAssertEqual(idx.dataType, IDXFile.unsignedByte)
        XCTAssertEqual(idx.dimensions, [20])
        XCTAssertEqual(Array(idx.payload.prefix(3)), [7, 2, 1])
    }

    // MARK: - Bad input

    func testTruncatedIDXNamesFileAndByteCounts() throws {
        let dir = try Fixture.copy("mnist/plain", self)
        let images = dir + "/t10k-images-idx3-ubyte"
        let bytes = try Fixture.bytes("mnist/plain/t10k-images-idx3-ubyte")
        try Fixture.write(Array(bytes.dropLast(100)), to: images)
        // 16-byte header + 20 * 28 * 28 = 15696 bytes declared, 15596 present.
        assertDatasetError([images, "truncated", "15696", "15596"]) { try MNIST.load(directory: dir, split: .test) }
    }

    func testTruncatedGzipNamesFile() throws {
        let dir = try Fixture.copy("mnist/gz", self)
        let images = dir + "/t10k-images-idx3-ubyte.gz"
        let bytes = try Fixture.bytes("mnist/gz/t10k-images-idx3-ubyte.gz")
        try Fixture.write(Array(bytes.prefix(bytes.count / 2)), to: images)
        assertDatasetError([images, "gzip", "truncated"]) { try MNIST.load(directory: dir, split: .test) }
    }

    func testCorruptGzipNamesFile() throws {
        var bytes = try Fixture.bytes("mnist/gz/t10k-labels-idx1-ubyte.gz")
        for i in 12..<20 { bytes[i] ^= 0xFF }
        assertDatasetError(["labels.gz", "corrupt gzip"]) { try Gunzip.decompress(bytes, path: "labels.gz") }
    }

    func testBadMagic() throws {
        let dir = try Fixture.copy("mnist/plain", self)
        let labels = dir + "/t10k-labels-idx1-ubyte"
        var bytes = try Fixture.bytes("mnist/plain/t10k-labels-idx1-ubyte")
        bytes[0] = 0x1F
        bytes[2] = 0x42
        try Fixture.write(bytes, to: labels)
        assertDatasetError([labels, "bad magic number", "1f 00 42 01"]) { try MNIST.load(directory: dir, split: .test) }
    }

    func testAbsurdDimensionsAreRejectedBeforeAllocating() throws {
        // Declares 60000 x 60000 x 60000 bytes (2.16e14) in a 40-byte file.
        var bytes: [UInt8] = [0, 0, 8, 3]
        for _ in 0..<3 { bytes += [0x00, 0x00, 0xEA, 0x60] }
        bytes += [UInt8](repeating: 0, count: 24)
        assertDatasetError(["huge.idx", "not plausible", "60000x60000x60000"]) {
            try IDXFile(bytes: bytes, path: "huge.idx")
        }
    }

    func testDimensionsBeyondBytesPresentAreTruncation() throws {
        var bytes: [UInt8] = [0, 0, 8, 1, 0x00, 0x01, 0x00, 0x00]   // 65536 labels declared
        bytes += [1, 2, 3]
        assertDatasetError(["small.idx", "truncated", "65544", "11"]) { try IDXFile(bytes: bytes, path: "small.idx") }
    }

    func testCountMismatchBetweenFiles() throws {
        let dir = try Fixture.copy("mnist/plain", self)
        let labels = dir + "/t10k-labels-idx1-ubyte"
        var bytes = try Fixture.bytes("mnist/plain/t10k-labels-idx1-ubyte")
        bytes[7] = 19
        bytes.removeLast()
        try Fixture.write(bytes, to: labels)
        assertDatasetError(["t10k-images-idx3-ubyte holds 20 images", labels, "19 labels"]) {
            try MNIST.load(directory: dir, split: .test)
        }
    }

    func testLabelOutOfRange() throws {
        let dir = try Fixture.copy("mnist/plain", self)
        let labels = dir + "/t10k-labels-idx1-ubyte"
        var bytes = try Fixture.bytes("mnist/plain/t10k-labels-idx1-ubyte")
        bytes[8 + 3] = 12
        try Fixture.write(bytes, to: labels)
        assertDatasetError([labels, "record 3", "label 12", "0...9"]) { try MNIST.load(directory: dir, split: .test) }
    }

    func testMissingFolderAndMissingFile() throws {
        assertDatasetError(["/nonexistent/mnist", "not found"]) {
            try MNIST.load(directory: "/nonexistent/mnist", split: .test)
        }
        // The fixture folders hold only the test split.
        assertDatasetError(["train-labels-idx1-ubyte.gz", "MNIST label file (plain or .gz) not found"]) {
            try MNIST.load(directory: Fixture.path("mnist/gz"), split: .train)
        }
    }

    // MARK: - Real data

    func testFullTestSetLabelCounts() throws {
        let dir: String
        do {
            dir = try DataLocation.require(.mnist)
        } catch {
            throw XCTSkip("full MNIST not available, skipping: \(error)")
        }
        let set = try MNIST.load(directory: dir, split: .test)
        XCTAssertEqual(set.images.shape, [10000, 1, 28, 28])
        XCTAssertEqual(set.labelCounts, [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009])
        XCTAssertEqual(set.images[7 * 28 + 6], Float(84) / 255)
    }
}
