import XCTest
import NIDatasets
import NITensor

/// PNG and PPM decoding and encoding against the fixtures made by Fixtures/make_fixtures.py, whose pixel
/// formulas are repeated here.
final class ImageCodecTests: XCTestCase {
    let w = 5, h = 3
    func gray(_ x: Int, _ y: Int) -> UInt8 { UInt8((x * 50 + y * 7) % 256) }
    func rgb(_ x: Int, _ y: Int) -> [UInt8] { [UInt8(x * 50 % 256), UInt8(y * 80 % 256), UInt8((x + y) * 20 % 256)] }
    var grayPixels: [UInt8] { (0..<h).flatMap { y in (0..<w).map { x in gray(x, y) } } }
    var rgbPixels: [UInt8] { (0..<h).flatMap { y in (0..<w).flatMap { x in rgb(x, y) } } }

    func testPNGGrayscaleKinds() throws {
        for name in ["gray8", "gray16", "graya8", "graya16", "gray8_gamma1"] {
            let image = try PNG.read(path: Fixture.path("png/\(name).png"))
            XCTAssertEqual([image.width, image.height, image.channels], [w, h, 1], name)
            XCTAssertEqual(image.pixels, grayPixels, name)   // alpha dropped, 16 -> 8 bits, gAMA ignored
        }
        let bits = try PNG.read(path: Fixture.path("png/gray1.png"))
        XCTAssertEqual(bits.pixels, (0..<h).flatMap { y in (0..<w).map { x in (x + y) % 2 == 1 ? 255 : 0 } })
    }

    func testPNGColourKinds() throws {
        for name in ["rgb8", "rgba8", "rgb16", "rgba16"] {
            let image = try PNG.read(path: Fixture.path("png/\(name).png"))
            XCTAssertEqual([image.width, image.height, image.channels], [w, h, 3], name)
            XCTAssertEqual(image.pixels, rgbPixels, name)   // transparent pixels keep their colour
        }
        let palette: [[UInt8]] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [10, 20, 30]]
        let indexed = try PNG.read(path: Fixture.path("png/palette8.png"))
        XCTAssertEqual(indexed.channels, 3)
        XCTAssertEqual(indexed.pixels, (0..<h).flatMap { y in (0..<w).flatMap { x in palette[(x + y) % 4] } })
    }

    func testPNGWriterRoundTrips() throws {
        let dir = try Fixture.tempDirectory(self)
        for image in [DecodedImage(width: w, height: h, channels: 3, pixels: rgbPixels),
                      DecodedImage(width: w, height: h, channels: 1, pixels: grayPixels)] {
            let path = dir + "/out\(image.channels).png"
            try PNG.write(image, to: path)
            XCTAssertEqual(try PNG.read(path: path), image)
            XCTAssertEqual(try ImageFile.read(path: path), image)
        }
    }

    func testCorruptPNGNamesFile() throws {
        var bytes = try Fixture.bytes("png/rgb8.png")
        // Damage the compressed data inside IDAT (its CRC then fails too).
        let idat = (0..<bytes.count - 4).first { bytes[$0..<$0 + 4].elementsEqual(Array("IDAT".utf8)) }!
        for i in (idat + 6)..<(idat + 14) { bytes[i] ^= 0x5A }
        assertDatasetError(["broken.png", "corrupt or unreadable PNG"]) { try PNG.decode(bytes, path: "broken.png") }
        let cut = Array(try Fixture.bytes("png/rgb8.png").prefix(40))
        assertDatasetError(["cut.png", "PNG"]) { try PNG.decode(cut, path: "cut.png") }
        assertDatasetError(["notpng.png", "bad magic number"]) { try PNG.decode(Array("hello world".utf8), path: "notpng.png") }
    }

    func testPPMWithCommentsAndGrayMaxval() throws {
        let p6 = try PPM.read(path: Fixture.path("ppm/p6_comments.ppm"))
        XCTAssertEqual([p6.width, p6.height, p6.channels], [3, 2, 3])
        XCTAssertEqual(p6.pixels, (0..<2).flatMap { y in (0..<3).flatMap { x in rgb(x, y) } })
        let p5 = try PPM.read(path: Fixture.path("ppm/p5_maxval15.pgm"))
        XCTAssertEqual([p5.width, p5.height, p5.channels], [8, 2, 1])
        XCTAssertEqual(p5.pixels, (0..<16).map { UInt8($0 * 17) })   // 0...15 rescaled to 0...255
    }

    func testGTSRBPPMPixel() throws {
        // Final_Test/Images/00000.ppm is stored at 35x35; its first pixels are (116,139,175), (116,137,172) and
        // pixel (x 20, y 10) is (121,140,172) (read from the file with Python).
        let image = try PPM.read(path: Fixture.path("gtsrb/GTSRB/Final_Test/Images/00000.ppm"))
        XCTAssertEqual([image.width, image.height, image.channels], [35, 35, 3])
        XCTAssertEqual(Array(image.pixels.prefix(6)), [116, 139, 175, 116, 137, 172])
        XCTAssertEqual((0..<3).map { image[20, 10, $0] }, [121, 140, 172])
    }

    func testPPMWriterRoundTrips() throws {
        let dir = try Fixture.tempDirectory(self)
        let image = DecodedImage(width: w, height: h, channels: 3, pixels: rgbPixels)
        try ImageFile.write(image, to: dir + "/a.ppm")
        XCTAssertEqual(try PPM.read(path: dir + "/a.ppm"), image)
        try ImageFile.write(image.converted(toChannels: 1), to: dir + "/a.pgm")
        XCTAssertEqual(try ImageFile.read(path: dir + "/a.pgm").channels, 1)
    }

    func testTruncatedPPM() throws {
        let bytes = try Fixture.bytes("gtsrb/GTSRB/Final_Test/Images/00000.ppm")   // 13-byte header + 3675
        assertDatasetError(["cut.ppm", "truncated", "3688", "3000"]) {
            try PPM.decode(Array(bytes.prefix(3000)), path: "cut.ppm")
        }
        assertDatasetError(["head.ppm", "header"]) { try PPM.decode(Array("P6\n35 ".utf8), path: "head.ppm") }
    }

    func testPPMHeaderProblems() throws {
        assertDatasetError(["a.ppm", "P3", "not supported"]) { try PPM.decode(Array("P3\n1 1\n255\n0 0 0\n".utf8), path: "a.ppm") }
        assertDatasetError(["b.ppm", "16-bit"]) { try PPM.decode(Array("P6\n1 1\n65535\n".utf8) + [0, 0, 0, 0, 0, 0], path: "b.ppm") }
        assertDatasetError(["c.ppm", "not plausible"]) { try PPM.decode(Array("P6\n99999 99999\n255\n".utf8), path: "c.ppm") }
        assertDatasetError(["d.ppm", "bad magic number"]) { try PPM.decode([0xFF, 0xD8, 0xFF, 0xE0], path: "d.ppm") }
    }

    func testUnsupportedFormatIsNamed() throws {
        assertDatasetError(["photo.jpg", "JPEG", "unsupported image format"]) {
            try ImageFile.decode([0xFF, 0xD8, 0xFF, 0xE0, 0, 0], path: "photo.jpg")
        }
    }

    func testChannelConversion() {
        let image = DecodedImage(width: 2, height: 1, channels: 3, pixels: [255, 0, 0, 10, 200, 30])
        // BT.601: round(0.299 * 255) = 76; round(0.299*10 + 0.587*200 + 0.114*30) = round(123.81) = 124.
        XCTAssertEqual(image.converted(toChannels: 1).pixels, [76, 124])
        XCTAssertEqual(image.converted(toChannels: 1).converted(toChannels: 3).pixels, [76, 76, 76, 124, 124, 124])
    }

    func testTensorRoundTrip() {
        let image = DecodedImage(width: w, height: h, channels: 3, pixels: rgbPixels)
        let t = image.tensor()
        XCTAssertEqual(t.shape, [1, 3, h, w])
        XCTAssertEqual(t[0], Float(rgbPixels[0]) / 255)
        XCTAssertEqual(t[h * w], Float(rgbPixels[1]) / 255)   // green plane starts after the red one
        XCTAssertEqual(DecodedImage(tensor: t), image)
    }
}
