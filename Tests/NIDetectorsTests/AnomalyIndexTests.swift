import XCTest
@testable import NIDetectors

/// The MAD outlier test (paper, "Outlier detection"). Expected numbers from `make_expected.py` (tags in brackets).
final class AnomalyIndexTests: XCTestCase {
    func assertClose(_ a: [Double], _ b: [Double], _ tol: Double = 1e-12, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.count, b.count, file: file, line: line)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: tol, file: file, line: line) }
    }

    func testOddCountMedianMADAndIndices() throws {
        let values: [Double] = [1, 2, 3, 4, 100]
        let left = try MADOutlierTest().run(values: values)
        XCTAssertEqual(left.median, 3)                     // [MAD-5]
        XCTAssertEqual(left.mad, 1.4826, accuracy: 1e-15)  // [MAD-5] 1.4826 * median(2,1,0,1,97) = 1.4826 * 1
        assertClose(left.indices, [1.3489815189531904, 0.6744907594765952, 0, 0.6744907594765952, 65.42560366922973])  // [MAD-5]
        XCTAssertEqual(left.flagged, [])                   // [MAD-5] tail=left: 100 is on the right
        XCTAssertEqual(left.maxIndex, 1.3489815189531904, accuracy: 1e-12)  // [MAD-5] tail=left
        XCTAssertEqual(left.mostAnomalous, 0)
        XCTAssertFalse(left.degenerate)

        let right = try MADOutlierTest(tail: .right).run(values: values)
        XCTAssertEqual(right.flagged, [4])                 // [MAD-5] tail=right
        XCTAssertEqual(right.maxIndex, 65.42560366922973, accuracy: 1e-10)
        XCTAssertEqual(try MADOutlierTest(tail: .both).run(values: values).flagged, [4])  // [MAD-5] tail=both
    }

    /// Even count: the median is the mean of the two middle values (4.5 here; the lower-middle convention of some
    /// libraries would give 4, MAD 2.9652 and index 8.09 for label 1, see [MAD-10]).
    func testEvenCountMedianConvention() throws {
        let values: [Double] = [5, -20, 9, 1, 8, 2, 7, 3, 6, 4]
        XCTAssertEqual(MADOutlierTest.median(values), 4.5)
        XCTAssertEqual(MADOutlierTest.median([4, 1, 3, 2]), 2.5)
        let r = try MADOutlierTest().run(values: values)
        XCTAssertEqual(r.median, 4.5)                                // [MAD-10]
        XCTAssertEqual(r.mad, 3.7064999999999997, accuracy: 1e-12)   // [MAD-10] 1.4826 * (2.5 + 2.5) / 2
        assertClose(r.indices, [0.13489815189531904, 6.610009442870633, 1.2140833670578715, 0.9442870632672333,
                                0.9442870632672333, 0.6744907594765952, 0.6744907594765952, 0.40469445568595713,
                                0.40469445568595713, 0.13489815189531904])  // [MAD-10]
        XCTAssertEqual(r.flagged, [1])                               // [MAD-10]
        XCTAssertEqual(r.maxIndex, 6.610009442870633, accuracy: 1e-12)
    }

    func testLeftVersusRightTail() throws {
        let values: [Double] = [0, 10, 11, 12, 13, 14, 30]
        let labels = [40, 41, 42, 43, 44, 45, 46]
        let left = try MADOutlierTest(tail: .left).run(values: values, labels: labels)
        XCTAssertEqual(left.mad, 2.9652, accuracy: 1e-12)               // [MAD-TAILS]
        XCTAssertEqual(left.flagged, [40])                              // [MAD-TAILS] tail=left
        XCTAssertEqual(left.maxIndex, 4.046944556859572, accuracy: 1e-12)
        XCTAssertEqual(left.index(of: 46)!, 6.070416835289357, accuracy: 1e-12)  // indices cover both sides
        let right = try MADOutlierTest(tail: .right).run(values: values, labels: labels)
        XCTAssertEqual(right.flagged, [46])                             // [MAD-TAILS] tail=right
        XCTAssertEqual(right.maxIndex, 6.070416835289357, accuracy: 1e-12)
        XCTAssertEqual(right.mostAnomalous, 46)
        XCTAssertEqual(try MADOutlierTest(tail: .both).run(values: values, labels: labels).flagged, [40, 46])
        // A higher threshold flags nothing.
        XCTAssertEqual(try MADOutlierTest(threshold: 10, tail: .both).run(values: values).flagged, [])
    }

    /// MAD == 0 ([MAD-ZERO]): indices are 0 at the median and +inf elsewhere, never NaN.
    func testZeroMAD() throws {
        let r = try MADOutlierTest().run(values: [5, 5, 5, 5, 9, 1])
        XCTAssertTrue(r.degenerate)
        XCTAssertEqual(r.median, 5)
        XCTAssertEqual(r.mad, 0)
        XCTAssertEqual(r.indices, [0, 0, 0, 0, .infinity, .infinity])
        XCTAssertFalse(r.indices.contains { $0.isNaN })
        XCTAssertEqual(r.flagged, [5])
        XCTAssertEqual(r.maxIndex, .infinity)

        let same = try MADOutlierTest(tail: .both).run(values: [2, 2, 2])
        XCTAssertTrue(same.degenerate)
        XCTAssertEqual(same.indices, [0, 0, 0])
        XCTAssertEqual(same.flagged, [])
        XCTAssertEqual(same.maxIndex, 0)
        XCTAssertNil(same.mostAnomalous)

        // All zero: floor 0, still no NaN.
        XCTAssertEqual(try MADOutlierTest().run(values: [0, 0, 0, 0]).indices, [0, 0, 0, 0])
        // Rounding-level spread counts as zero MAD (floor relative to the data's magnitude).
        let nearly = try MADOutlierTest().run(values: [1, 1 + 1e-15, 1 - 1e-15, 1, 0.5])
        XCTAssertTrue(nearly.degenerate)
        XCTAssertEqual(nearly.flagged, [4])
    }

    func testBadInput() {
        func error(_ body: () throws(DetectorError) -> OutlierResult) -> DetectorError? {
            do { _ = try body(); return nil } catch { return error }
        }
        XCTAssertEqual(error { () throws(DetectorError) in try MADOutlierTest().run(values: []) }, .emptyInput)
        XCTAssertEqual(error { () throws(DetectorError) in try MADOutlierTest().run(values: [1, 2]) },
                       .tooFewLabels(count: 2, minimum: 3))
        let nan = error { () throws(DetectorError) in try MADOutlierTest().run(values: [1, .nan, 3], labels: [7, 8, 9]) }
        XCTAssertEqual(nan.map { "\($0)" }, "outlier test: the value of label 8 is nan")
        if case .nonFiniteValue(let label, _)? = nan { XCTAssertEqual(label, 8) } else { XCTFail("\(String(describing: nan))") }
        XCTAssertEqual(error { () throws(DetectorError) in try MADOutlierTest().run(values: [1, 2, .infinity]) },
                       .nonFiniteValue(label: 2, value: .infinity))
        XCTAssertEqual(error { () throws(DetectorError) in try MADOutlierTest().run(values: [1, 2, 3], labels: [1]) },
                       .labelCountMismatch(values: 3, labels: 1))
        XCTAssertNotNil(error { () throws(DetectorError) in try MADOutlierTest(consistency: 0).run(values: [1, 2, 3]) })
        XCTAssertTrue(DetectorError.tooFewLabels(count: 2, minimum: 3).description.contains("2 labels"))
    }

    func testRunsOnClassFeaturesAndRoundTrips() throws {
        let features = [3.0, -4.0, 2.5, 3.1, 2.9].enumerated().map {
            ClassFeatures(label: $0.offset + 10, sparseness: 0, smoothness: 0, persistence: 0, combined: $0.element)
        }
        let r = try AnomalyIndex().run(features)
        XCTAssertEqual(r.labels, [10, 11, 12, 13, 14])
        XCTAssertEqual(r.flagged, [11])
        let test = MADOutlierTest(consistency: 1.5, threshold: 3, tail: .both)
        XCTAssertEqual(try JSONDecoder().decode(MADOutlierTest.self, from: JSONEncoder().encode(test)), test)
    }
}
