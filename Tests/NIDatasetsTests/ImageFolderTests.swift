import XCTest
import NIDatasets
import NITensor

final class ImageFolderTests: XCTestCase {
    func gray(_ x: Int, _ y: Int) -> Float { Float((x * 50 + y * 7) % 256) / 255 }
    func red(_ x: Int, _ y: Int) -> Float { Float(x * 50 % 256) / 255 }

    func testLoadsSortedFilesAsRGB() throws {
        let folder = try ImageFolder.load(directory: Fixture.path("folder"), channels: 3)
        XCTAssertEqual(folder.files.map { URL(fileURLWithPath: $0).lastPathComponent },
                       ["a_rgb.png", "b_gray.PGM", "c_rgb.ppm"])   // notes.txt skipped
        XCTAssertEqual(folder.images.shape, [3, 3, 3, 5])
        let t = folder.images, img = 45, plane = 15
        XCTAssertEqual(t[0 * img + 0 * plane + 1 * 5 + 4], red(4, 1))   // a_rgb red plane, (x 4, y 1)
        for c in 0..<3 { XCTAssertEqual(t[1 * img + c * plane + 2 * 5 + 3], gray(3, 2)) }   // gray repeated
        XCTAssertEqual(Array(t.array[0..<img]), Array(t.array[(2 * img)..<(3 * img)]))   // PNG == PPM
    }

    func testGrayConversionAndResize() throws {
        let folder = try ImageFolder.load(directory: Fixture.path("folder"), channels: 1, height: 6, width: 10, limit: 2)
        XCTAssertEqual(folder.images.shape, [2, 1, 6, 10])
        // rgb(0,0) = (0, 0, 0) -> 0; corner pixels of an exact 2x upscale are the source corners.
        XCTAssertEqual(folder.images[0], 0)
        XCTAssertEqual(folder.images[60 + 59], gray(4, 2), accuracy: 1e-6)
        // RGB -> gray: 0.299 R + 0.587 G + 0.114 B of rgb(4, 2) = (200, 160, 120).
        XCTAssertEqual(folder.images[59], (0.299 * 200 + 0.587 * 160 + 0.114 * 120) / 255, accuracy: 1e-5)
    }

    func testEmptyFolder() throws {
        let dir = try Fixture.tempDirectory(self)
        assertDatasetError([dir, "the folder holds no", ".png, .ppm or .pgm"]) { try ImageFolder.load(directory: dir, channels: 3) }
        try Fixture.write(Array("text".utf8), to: dir + "/readme.txt")
        assertDatasetError([dir, "the folder holds no"]) { try ImageFolder.load(directory: dir, channels: 3) }
    }

    func testCorruptFileIsNamed() throws {
        let dir = try Fixture.copy("folder", self)
        var bytes = try Fixture.bytes("png/rgb8.png")
        bytes.removeLast(30)
        try Fixture.write(bytes, to: dir + "/b_broken.png")
        assertDatasetError([dir + "/b_broken.png", "PNG"]) { try ImageFolder.load(directory: dir, channels: 3) }
    }

    func testMixedSizesNeedAnExplicitSize() throws {
        let dir = try Fixture.copy("folder", self)
        try PPM.write(DecodedImage(width: 2, height: 2, channels: 3), to: dir + "/d_small.ppm")
        assertDatasetError([dir + "/d_small.ppm", "2x2", "5x3"]) { try ImageFolder.load(directory: dir, channels: 3) }
        XCTAssertEqual(try ImageFolder.load(directory: dir, channels: 3, height: 4, width: 4).images.shape, [4, 3, 4, 4])
    }

    func testNonexistentFolder() {
        assertDatasetError(["/nonexistent/images", "not found"]) { try ImageFolder.load(directory: "/nonexistent/images", channels: 1) }
    }
}
