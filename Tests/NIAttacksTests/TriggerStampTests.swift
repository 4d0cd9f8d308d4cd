import Foundation
import XCTest
import NITensor
import NIDatasets
@testable import NIAttacks

/// Mask, pattern and stamped values of every pattern and position kind on hand-checked 1x6x6 and 3x5x5
/// images. The image is a ramp, element i = (i + 1) / 128, so a stamped pixel (0, 1 or a colour) is never
/// confused with an untouched one. Grids are written row by row, top row first.
final class TriggerStampTests: XCTestCase {
    /// Stamps `spec` on the ramp and checks mask, pattern and the result `x' = (1 - m) x + m p`, where the
    /// expected mask is given as 0/1 (times the spec's opacity).
    func check(_ spec: TriggerSpec, channels: Int, side: Int, mask01: [Float], pattern: [Float],
               file: StaticString = #filePath, line: UInt = #line) throws {
        let m = try spec.mask(channels: channels, height: side, width: side)
        let p = try spec.pattern(channels: channels, height: side, width: side)
        XCTAssertEqual(m.shape, [1, side, side], file: file, line: line)
        XCTAssertEqual(p.shape, [channels, side, side], file: file, line: line)
        XCTAssertEqual(m.array, mask01.map { $0 * spec.opacity }, "mask", file: file, line: line)
        XCTAssertEqual(p.array, pattern, "pattern", file: file, line: line)
        let x = rampImage(channels: channels, height: side, width: side)
        let original = x.array
        try spec.stamp(x)
        let plane = side * side
        for i in 0..<x.count {
            let inside = mask01[i % plane] == 1
            let a = spec.opacity
            let want = inside ? (a == 1 ? pattern[i] : (1 - a) * original[i] + a * pattern[i]) : original[i]
            XCTAssertEqual(x[i], want, "stamped element \(i)", file: file, line: line)
        }
    }

    // MARK: 1x6x6

    func testWhiteSquareBottomRightDefaultMargin() throws {
        let mask: [Float] = [0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0,
                             0, 0, 0, 1, 1, 0,
                             0, 0, 0, 1, 1, 0,
                             0, 0, 0, 0, 0, 0]
        let spec = try TriggerSpec(parsing: "square:2@bottom-right")
        XCTAssertEqual(spec, TriggerSpec(size: 2, positions: [.corner(.bottomRight, margin: 1)]))
        try check(spec, channels: 1, side: 6, mask01: mask, pattern: mask)
        let x = rampImage(channels: 1, height: 6, width: 6)
        try spec.stamp(x)
        XCTAssertEqual(x[3 * 6 + 3], 1)
        XCTAssertEqual(x[3 * 6 + 2], 21.0 / 128)   // left of the patch: untouched
        XCTAssertEqual(x[5 * 6 + 5], 36.0 / 128)   // the margin: untouched
    }

    func testCheckerboardTopLeftMargins() throws {
        let at0: [Float] = [1, 0, 1, 0, 0, 0,
                            0, 1, 0, 0, 0, 0,
                            1, 0, 1, 0, 0, 0,
                            0, 0, 0, 0, 0, 0,
                            0, 0, 0, 0, 0, 0,
                            0, 0, 0, 0, 0, 0]
        let mask0: [Float] = [1, 1, 1, 0, 0, 0,
                              1, 1, 1, 0, 0, 0,
                              1, 1, 1, 0, 0, 0,
                              0, 0, 0, 0, 0, 0,
                              0, 0, 0, 0, 0, 0,
                              0, 0, 0, 0, 0, 0]
        try check(TriggerSpec(parsing: "checkerboard:3@top-left+margin=0"), channels: 1, side: 6, mask01: mask0, pattern: at0)
        let at2: [Float] = [0, 0, 0, 0, 0, 0,
                            0, 0, 0, 0, 0, 0,
                            0, 0, 1, 0, 1, 0,
                            0, 0, 0, 1, 0, 0,
                            0, 0, 1, 0, 1, 0,
                            0, 0, 0, 0, 0, 0]
        let mask2: [Float] = [0, 0, 0, 0, 0, 0,
                              0, 0, 0, 0, 0, 0,
                              0, 0, 1, 1, 1, 0,
                              0, 0, 1, 1, 1, 0,
                              0, 0, 1, 1, 1, 0,
                              0, 0, 0, 0, 0, 0]
        try check(TriggerSpec(parsing: "checkerboard:3@top-left+margin=2"), channels: 1, side: 6, mask01: mask2, pattern: at2)
    }

    func testCheckerboardRectangleAtXY() throws {
        // 4 wide, 2 high, top-left pixel at column 2, row 1.
        let spec = TriggerSpec(pattern: .checkerboard, width: 4, height: 2, positions: [.at(x: 2, y: 1)])
        XCTAssertEqual(try TriggerSpec(parsing: "checkerboard:4x2@x=2,y=1"), spec)
        let pattern: [Float] = [0, 0, 0, 0, 0, 0,
                                0, 0, 1, 0, 1, 0,
                                0, 0, 0, 1, 0, 1,
                                0, 0, 0, 0, 0, 0,
                                0, 0, 0, 0, 0, 0,
                                0, 0, 0, 0, 0, 0]
        let mask: [Float] = [0, 0, 0, 0, 0, 0,
                             0, 0, 1, 1, 1, 1,
                             0, 0, 1, 1, 1, 1,
                             0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0]
        try check(spec, channels: 1, side: 6, mask01: mask, pattern: pattern)
    }

    func testFourCornerTrigger() throws {
        let spec = try TriggerSpec(parsing: "square:2@all-corners+margin=0")
        XCTAssertEqual(spec.positions, [.corner(.topLeft, margin: 0), .corner(.topRight, margin: 0),
                                        .corner(.bottomLeft, margin: 0), .corner(.bottomRight, margin: 0)])
        XCTAssertEqual(spec.triggerCount, 4)
        let mask: [Float] = [1, 1, 0, 0, 1, 1,
                             1, 1, 0, 0, 1, 1,
                             0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0,
                             1, 1, 0, 0, 1, 1,
                             1, 1, 0, 0, 1, 1]
        try check(spec, channels: 1, side: 6, mask01: mask, pattern: mask)
        // 1x1 in the corners of a 3x5x5 image: every channel.
        let corners: [Float] = [1, 0, 0, 0, 1,
                                0, 0, 0, 0, 0,
                                0, 0, 0, 0, 0,
                                0, 0, 0, 0, 0,
                                1, 0, 0, 0, 1]
        try check(TriggerSpec(parsing: "square:1@all-corners+margin=0"), channels: 3, side: 5, mask01: corners,
                  pattern: corners + corners + corners)
        // Each separate trigger is one corner.
        XCTAssertEqual(spec.separated.map(\.description),
                       ["square:2@top-left+margin=0", "square:2@top-right+margin=0",
                        "square:2@bottom-left+margin=0", "square:2@bottom-right+margin=0"])
    }

    func testHalfOpaquePatchAndOverlapKeepsOneMaskValue() throws {
        let spec = try TriggerSpec(parsing: "square:3:alpha=0.5@x=0,y=0,x=1,y=1")
        let mask: [Float] = [1, 1, 1, 0, 0, 0,
                             1, 1, 1, 1, 0, 0,
                             1, 1, 1, 1, 0, 0,
                             0, 1, 1, 1, 0, 0,
                             0, 0, 0, 0, 0, 0,
                             0, 0, 0, 0, 0, 0]
        try check(spec, channels: 1, side: 6, mask01: mask, pattern: mask)
        let x = rampImage(channels: 1, height: 6, width: 6)
        try spec.stamp(x)
        XCTAssertEqual(x[0], 0.5 * (1.0 / 128) + 0.5)   // x' = 0.5 x + 0.5 p, blended once even where patches overlap
        XCTAssertEqual(x[7], 0.5 * (8.0 / 128) + 0.5)
    }

    func testFullImageCheckerboardBlend() throws {
        let spec = try TriggerSpec(parsing: "blend:checkerboard:alpha=0.25")
        let board: [Float] = (0..<36).map { ($0 / 6 + $0 % 6) % 2 == 0 ? 1 : 0 }
        try check(spec, channels: 1, side: 6, mask01: [Float](repeating: 1, count: 36), pattern: board)
    }

    // MARK: 3x5x5

    func testRGBSquareTopRight() throws {
        let spec = try TriggerSpec(parsing: "square:2:color=1,0.5,0.25@top-right+margin=0")
        XCTAssertEqual(spec.pattern, .solid(.rgb(1, 0.5, 0.25)))
        let m: [Float] = [0, 0, 0, 1, 1,
                          0, 0, 0, 1, 1,
                          0, 0, 0, 0, 0,
                          0, 0, 0, 0, 0,
                          0, 0, 0, 0, 0]
        try check(spec, channels: 3, side: 5, mask01: m, pattern: m + m.map { $0 * 0.5 } + m.map { $0 * 0.25 })
        // On a gray image the colour becomes its BT.601 luma.
        let luma: Float = 0.299 * 1 + 0.587 * 0.5 + 0.114 * 0.25
        try check(spec, channels: 1, side: 5, mask01: m, pattern: m.map { $0 * luma })
        // A gray colour on RGB is repeated.
        let gray = try TriggerSpec(parsing: "square:2:color=0.5@top-right+margin=0")
        try check(gray, channels: 3, side: 5, mask01: m, pattern: (0..<3).flatMap { _ in m.map { $0 * 0.5 } })
        assertAttackError(["2-channel", "RGB colour"]) { try spec.mask(channels: 2, height: 5, width: 5) }
    }

    func testRandomPatternPerChannelBits() throws {
        let spec = try TriggerSpec(parsing: "random:2:seed=7@bottom-left")
        // 2x2 patch at column 1, row 5 - 1 - 2 = 2. Bits drawn channel, row, column over the patch.
        var rng = SeededGenerator(seed: 7)
        let bits: [Float] = (0..<12).map { _ in rng.next() >> 63 == 1 ? 1 : 0 }
        let m: [Float] = [0, 0, 0, 0, 0,
                          0, 0, 0, 0, 0,
                          0, 1, 1, 0, 0,
                          0, 1, 1, 0, 0,
                          0, 0, 0, 0, 0]
        var pattern = [Float](repeating: 0, count: 75)
        for c in 0..<3 { for y in 0..<2 { for x in 0..<2 { pattern[c * 25 + (2 + y) * 5 + 1 + x] = bits[c * 4 + y * 2 + x] } } }
        try check(spec, channels: 3, side: 5, mask01: m, pattern: pattern)
        XCTAssertTrue(bits.contains(0) && bits.contains(1), "a binary pattern: \(bits)")
        XCTAssertNotEqual(Array(bits[0..<4]), Array(bits[4..<8]), "each channel draws its own bits")
        // Every patch of a multi-position random trigger carries the same pattern.
        let two = try TriggerSpec(parsing: "random:2:seed=7@top-left,bottom-right+margin=0").pattern(channels: 3, height: 5, width: 5)
        for c in 0..<3 { for y in 0..<2 { for x in 0..<2 {
            XCTAssertEqual(two[c * 25 + y * 5 + x], bits[c * 4 + y * 2 + x])
            XCTAssertEqual(two[c * 25 + (3 + y) * 5 + 3 + x], bits[c * 4 + y * 2 + x])
        } } }
    }

    func testTenPercentTranslucentBlendIsExact() throws {
        let spec = try TriggerSpec(parsing: "blend:random:seed=1:alpha=0.1")
        XCTAssertEqual(spec, .blend(.random(seed: 1), opacity: 0.1))
        let m = try spec.mask(channels: 3, height: 5, width: 5)
        XCTAssertEqual(m.array, [Float](repeating: 0.1, count: 25))
        let p = try spec.pattern(channels: 3, height: 5, width: 5)
        var rng = SeededGenerator(seed: 1)
        XCTAssertEqual(p.array, (0..<75).map { _ in rng.next() >> 63 == 1 ? 1 : 0 })
        let x = rampImage(channels: 3, height: 5, width: 5)
        let x0 = x.array
        try spec.stamp(x)
        for i in 0..<75 { XCTAssertEqual(x[i], 0.9 * x0[i] + 0.1 * p[i], "element \(i)") }
        XCTAssertEqual(x[0], 0.9 * (1.0 / 128) + 0.1 * p[0])
    }

    func testImagePatternsResizedAndExact() throws {
        let dir = try temporaryDirectory(self)
        // 2x2 gray PNG, left column 0, right column 255, resized to 4x4: each row 0, 0.25, 0.75, 1.
        let png = dir.appendingPathComponent("p.png").path
        try ImageFile.write(DecodedImage(width: 2, height: 2, channels: 1, pixels: [0, 255, 0, 255]), to: png)
        let spec = try TriggerSpec(parsing: "image:\(png):4@top-left")
        XCTAssertEqual(spec.pattern, .image(path: png))
        let m: [Float] = [0, 0, 0, 0, 0, 0,
                          0, 1, 1, 1, 1, 0,
                          0, 1, 1, 1, 1, 0,
                          0, 1, 1, 1, 1, 0,
                          0, 1, 1, 1, 1, 0,
                          0, 0, 0, 0, 0, 0]
        let row: [Float] = [0, 0, 0.25, 0.75, 1, 0]
        let zero = [Float](repeating: 0, count: 6)
        try check(spec, channels: 1, side: 6, mask01: m, pattern: zero + row + row + row + row + zero)
        // Gray file on an RGB image: repeated on each channel.
        let rgb = try spec.pattern(channels: 3, height: 6, width: 6)
        XCTAssertEqual(Array(rgb.array[0..<36]), Array(rgb.array[36..<72]))
        XCTAssertEqual(Array(rgb.array[0..<36]), Array(rgb.array[72..<108]))

        // 3x3 RGB PPM at its own size on 3x5x5, bottom-right margin 1: columns and rows 1...3, byte / 255.
        let bytes: [UInt8] = (0..<27).map { UInt8($0 * 9) }
        let ppm = dir.appendingPathComponent("p.ppm").path
        try ImageFile.write(DecodedImage(width: 3, height: 3, channels: 3, pixels: bytes), to: ppm)
        let spec3 = try TriggerSpec(parsing: "image:\(ppm):3@bottom-right")
        let m3: [Float] = [0, 0, 0, 0, 0,
                           0, 1, 1, 1, 0,
                           0, 1, 1, 1, 0,
                           0, 1, 1, 1, 0,
                           0, 0, 0, 0, 0]
        var p3 = [Float](repeating: 0, count: 75)
        for c in 0..<3 { for y in 0..<3 { for x in 0..<3 {
            p3[c * 25 + (1 + y) * 5 + 1 + x] = Float(bytes[(y * 3 + x) * 3 + c]) / 255
        } } }
        try check(spec3, channels: 3, side: 5, mask01: m3, pattern: p3)

        let missing = dir.appendingPathComponent("nope.png").path
        assertAttackError([missing, "pattern image"]) { try TriggerSpec(parsing: "image:\(missing):3@top-left").mask(channels: 1, height: 6, width: 6) }
        assertAttackError(["2-channel", "gray (1) or RGB (3)"]) { try spec.pattern(channels: 2, height: 6, width: 6) }
    }

    // MARK: Errors and batches

    func testPatchTooBigNamesSpecAndSizes() throws {
        let e = assertAttackError(["square:6@bottom-right", "6x6 patch", "bottom-right (margin 1)", "columns -1..<5",
                                   "6x6 (width x height) image"]) {
            try TriggerSpec(parsing: "square:6@bottom-right").mask(channels: 1, height: 6, width: 6)
        }
        XCTAssertEqual(e, .patchDoesNotFit(spec: "square:6@bottom-right", position: "bottom-right (margin 1)", patchWidth: 6,
                                           patchHeight: 6, x: -1, y: -1, imageWidth: 6, imageHeight: 6))
        assertAttackError(["x=3,y=3", "columns 3..<7", "5x5"]) {
            try TriggerSpec(parsing: "square:4@x=3,y=3").stamp(rampImage(channels: 3, height: 5, width: 5))
        }
        assertAttackError(["28x28"]) {
            try TriggerSpec(parsing: "square:5@all-corners+margin=24").compiled(channels: 1, height: 28, width: 28)
        }
    }

    func testStampOnlyChosenIndicesOfABatch() throws {
        let batch = Tensor(shape: [3, 1, 6, 6])
        for i in 0..<batch.count { batch[i] = 0.5 }
        let spec = try TriggerSpec(parsing: "square:1@top-left+margin=0")
        try spec.stamp(batch, indices: [2, 0])
        XCTAssertEqual(batch[0], 1)
        XCTAssertEqual(batch[36], 0.5)
        XCTAssertEqual(batch[72], 1)
        XCTAssertEqual(batch.array.filter { $0 == 1 }.count, 2, "only the masked pixel of each chosen image changes")
        assertAttackError(["index 3", "0..<3"]) { try spec.stamp(batch, indices: [3]) }
        let compiled = try spec.compiled(channels: 1, height: 6, width: 6)
        XCTAssertEqual(compiled.maskedPixelCount, 1)
        assertAttackError(["expected shape", "[3, 1, 6, 6]", "[3, 1, 5, 5]"]) {
            try compiled.stamp(Tensor(shape: [3, 1, 5, 5]))
        }
    }

    func testInvalidValuesAreRejected() throws {
        assertAttackError(["opacity", "(0, 1]"]) { try TriggerSpec(size: 2, positions: [.corner(.topLeft)], opacity: 0).validate() }
        assertAttackError(["at least 1x1"]) { try TriggerSpec(size: 0, positions: [.corner(.topLeft)]).validate() }
        assertAttackError(["at least one position"]) { try TriggerSpec(size: 2, positions: []).validate() }
        assertAttackError(["margin", ">= 0"]) { try TriggerSpec(size: 2, positions: [.corner(.topLeft, margin: -1)]).validate() }
        assertAttackError(["[0, 1]"]) { try TriggerSpec(pattern: .solid(2), size: 2, positions: [.corner(.topLeft)]).validate() }
        assertAttackError(["listed twice"]) { try TriggerSpec(size: 2, positions: [.at(x: 1, y: 1), .at(x: 1, y: 1)]).validate() }
    }
}
