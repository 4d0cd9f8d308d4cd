import XCTest
import NIDatasets
import NITensor

final class BilinearTests: XCTestCase {
    func testUpsampleMatchesPyTorch() {
        // F.interpolate(torch.tensor([[[[1., 2.], [3., 4.]]]]), size=(4, 4), mode="bilinear", align_corners=False)
        let out = Bilinear.resize(Tensor(shape: [1, 1, 2, 2], values: [1, 2, 3, 4]), height: 4, width: 4)
        XCTAssertEqual(out.shape, [1, 1, 4, 4])
        XCTAssertEqual(out.array, [1.0, 1.25, 1.75, 2.0,
                                   1.5, 1.75, 2.25, 2.5,
                                   2.5, 2.75, 3.25, 3.5,
                                   3.0, 3.25, 3.75, 4.0])
    }

    func testDownsampleSamplesWithoutAntialiasing() {
        // 4 -> 2 along x: source coordinates 0.5 and 2.5, so outputs are means of pairs (0,1) and (2,3).
        let out = Bilinear.resize(Tensor(shape: [1, 4], values: [0, 10, 20, 40]), height: 1, width: 2)
        XCTAssertEqual(out.array, [5, 30])
        // 6 -> 2: coordinates 1.0 and 4.0, exact samples (no averaging of neighbours).
        let six = Bilinear.resize(Tensor(shape: [1, 6], values: [0, 1, 2, 3, 4, 5]), height: 1, width: 2)
        XCTAssertEqual(six.array, [1, 4])
    }

    func testSameSizeIsIdentity() {
        let values = (0..<24).map { Float($0) * 0.37 }
        let input = Tensor(shape: [2, 1, 3, 4], values: values)
        XCTAssertEqual(Bilinear.resize(input, height: 3, width: 4).array, values)
    }

    func testDecodedImageResizeAndCrop() {
        let image = DecodedImage(width: 2, height: 2, channels: 1, pixels: [0, 100, 200, 255])
        // Rounded values of the numpy reference `bilinear` in Fixtures/make_fixtures.py.
        XCTAssertEqual(image.resized(width: 4, height: 4).pixels,
                       [0, 25, 75, 100, 50, 72, 117, 139, 150, 167, 200, 216, 200, 214, 241, 255])
        let crop = image.cropped(to: PixelRect(x1: 1, y1: 0, x2: 1, y2: 1))
        XCTAssertEqual([crop.width, crop.height], [1, 2])
        XCTAssertEqual(crop.pixels, [100, 255])
    }
}
