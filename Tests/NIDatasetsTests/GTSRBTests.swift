import XCTest
import NIDatasets
import NITensor

final class GTSRBTests: XCTestCase {
    let root = Fixture.path("gtsrb")

    func testTrainSplitOrderLabelsAndShape() throws {
        let set = try GTSRB.load(root: root, split: .train)
        XCTAssertEqual(set.images.shape, [7, 3, 32, 32])
        XCTAssertEqual(set.labels, [0, 0, 1, 1, 1, 14, 14])   // class folders ascending, CSV rows in order
        XCTAssertEqual(set.classCount, 43)
        XCTAssertGreaterThanOrEqual(set.images.array.min()!, 0)
        XCTAssertLessThanOrEqual(set.images.array.max()!, 1)
    }

    /// `at(set, i, c, y, x)`: one element of image i.
    func at(_ set: ImageSet, _ i: Int, _ c: Int, _ y: Int, _ x: Int) -> Float {
        set.images[((i * 3 + c) * 32 + y) * 32 + x]
    }

    func mean(_ set: ImageSet, _ i: Int) -> Double {
        (0..<3072).reduce(0.0) { $0 + Double(set.images[i * 3072 + $1]) } / 3072
    }

    func testROICropAndResizeMatchNumpyReference() throws {
        let set = try GTSRB.load(root: root, split: .train)
        // Image 2 = 00001/00000_00000.ppm: stored 35x35, CSV declares 56x57 with ROI (6,5)-(51,52), so the
        // crop is x 4..<33, y 3..<33. Expected numbers from Fixtures/make_fixtures.py (numpy reference of
        // bilinear, align_corners=False, checked against OpenCV INTER_LINEAR).
        XCTAssertEqual(at(set, 2, 0, 0, 0), 0.5803922, accuracy: 2e-6)    // make_fixtures.py
        XCTAssertEqual(at(set, 2, 1, 15, 16), 0.5969688, accuracy: 2e-6)  // make_fixtures.py
        XCTAssertEqual(at(set, 2, 2, 31, 31), 0.5647059, accuracy: 2e-6)  // make_fixtures.py
        XCTAssertEqual(at(set, 2, 0, 7, 20), 0.7016104, accuracy: 2e-6)   // make_fixtures.py
        XCTAssertEqual(mean(set, 2), 0.6191130, accuracy: 2e-6)           // make_fixtures.py
        // Image 1 = 00000/00002_00011.ppm: stored at its declared 35x35, ROI (5,5)-(30,30) used as is.
        XCTAssertEqual(at(set, 1, 0, 0, 0), 0.5607843, accuracy: 2e-6)    // make_fixtures.py
        XCTAssertEqual(at(set, 1, 1, 15, 16), 0.2956533, accuracy: 2e-6)  // make_fixtures.py
        XCTAssertEqual(at(set, 1, 2, 31, 31), 0.6431373, accuracy: 2e-6)  // make_fixtures.py
        XCTAssertEqual(at(set, 1, 0, 7, 20), 0.5382774, accuracy: 2e-6)   // make_fixtures.py
        XCTAssertEqual(mean(set, 1), 0.4172149, accuracy: 2e-6)           // make_fixtures.py
    }

    func testTestSplit() throws {
        let set = try GTSRB.load(root: root + "/GTSRB", split: .test)      // GTSRB/ itself is accepted too
        XCTAssertEqual(set.labels, [16, 1, 27, 38])
        // Image 1 = Final_Test/Images/00001.ppm (42x45 declared, ROI (5,5)-(36,40)): crop x 4..<31, y 4..<32.
        XCTAssertEqual(at(set, 1, 0, 0, 0), 0.3450980, accuracy: 2e-6)    // make_fixtures.py
        XCTAssertEqual(at(set, 1, 1, 15, 16), 0.4333448, accuracy: 2e-6)  // make_fixtures.py
        XCTAssertEqual(at(set, 1, 2, 31, 31), 0.2235294, accuracy: 2e-6)  // make_fixtures.py
        XCTAssertEqual(mean(set, 1), 0.5872076, accuracy: 2e-6)           // make_fixtures.py
    }

    func testCropRectScaling() {
        let rect = GTSRB.cropRect(roi: PixelRect(x1: 6, y1: 5, x2: 51, y2: 52), declaredWidth: 56, declaredHeight: 57,
                                  width: 35, height: 35)
        XCTAssertEqual(rect, PixelRect(x: 4, y: 3, width: 29, height: 30))
        let same = PixelRect(x1: 5, y1: 5, x2: 30, y2: 30)
        XCTAssertEqual(GTSRB.cropRect(roi: same, declaredWidth: 35, declaredHeight: 35, width: 35, height: 35), same)
    }

    func testLimitTakesEvenlySpacedSamples() throws {
        let set = try GTSRB.load(root: root, split: .train, limit: 3, size: 16)
        XCTAssertEqual(set.images.shape, [3, 3, 16, 16])
        XCTAssertEqual(set.labels, [0, 1, 1])   // positions 0, 2, 4 of 7
    }

    // MARK: - Bad input

    /// Rewrites the class-1 CSV of a copy of the fixture tree and returns (root, csv path).
    func withCSV(_ edit: (String) -> String) throws -> (String, String) {
        let copy = try Fixture.copy("gtsrb", self)
        let csv = copy + "/GTSRB/Final_Training/Images/00001/GT-00001.csv"
        let text = try String(contentsOfFile: csv, encoding: .utf8)
        try edit(text).write(toFile: csv, atomically: true, encoding: .utf8)
        return (copy, csv)
    }

    func testCSVMissingColumn() throws {
        let (copy, csv) = try withCSV { $0.replacingOccurrences(of: "Roi.X2", with: "RoiX2") }
        assertDatasetError([csv, "no column named 'Roi.X2'"]) { try GTSRB.load(root: copy, split: .train) }
    }

    func testLabelOutOfRangeNamesFileAndLine() throws {
        let (copy, csv) = try withCSV { text in
            var lines = text.components(separatedBy: "\n")
            lines[2] = lines[2].replacingOccurrences(of: ";1", with: ";43")   // line 3: 00003_00009.ppm
            return lines.joined(separator: "\n")
        }
        assertDatasetError([csv, "line 3", "label 43", "0...42"]) { try GTSRB.load(root: copy, split: .train) }
    }

    func testNonIntegerAndBadROI() throws {
        let (copy, csv) = try withCSV { $0.replacingOccurrences(of: "00000_00000.ppm;56;57;6", with: "00000_00000.ppm;56;57;x") }
        assertDatasetError([csv, "line 2", "'Roi.X1'", "not an integer"]) { try GTSRB.load(root: copy, split: .train) }
        let (copy2, csv2) = try withCSV { $0.replacingOccurrences(of: "00000_00000.ppm;56;57;6;5;51", with: "00000_00000.ppm;56;57;6;5;56") }
        assertDatasetError([csv2, "line 2", "ROI"]) { try GTSRB.load(root: copy2, split: .train) }
    }

    func testPathEscapingFolder() throws {
        let (copy, csv) = try withCSV { $0.replacingOccurrences(of: "00000_00000.ppm", with: "../00000/00000_00009.ppm") }
        assertDatasetError([csv, "line 2", "'../00000/00000_00009.ppm'", "outside its folder"]) {
            try GTSRB.load(root: copy, split: .train)
        }
    }

    func testMissingAndTruncatedImage() throws {
        let copy = try Fixture.copy("gtsrb", self)
        let image = copy + "/GTSRB/Final_Test/Images/00018.ppm"
        let bytes = try Fixture.bytes("gtsrb/GTSRB/Final_Test/Images/00018.ppm")
        try Fixture.write(Array(bytes.prefix(1000)), to: image)
        assertDatasetError([image, "truncated", "1000"]) { try GTSRB.load(root: copy, split: .test) }
        try FileManager.default.removeItem(atPath: image)
        assertDatasetError([image, "not found", "line 4"]) { try GTSRB.load(root: copy, split: .test) }
    }

    func testNonexistentRoot() {
        assertDatasetError(["/nonexistent/data", "not found"]) { try GTSRB.load(root: "/nonexistent/data", split: .train) }
    }
}
