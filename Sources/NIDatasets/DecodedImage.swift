import NITensor

/// An 8-bit image in memory, as the decoders produce it: `channels` is 1 (gray) or 3 (RGB), and `pixels`
/// holds `height * width * channels` bytes, row-major and channel-interleaved (HWC), top row first.
public struct DecodedImage: Sendable, Equatable {
    /// Width in pixels.
    public let width: Int
    /// Height in pixels.
    public let height: Int
    /// 1 for gray, 3 for RGB.
    public let channels: Int
    /// The samples, HWC, `height * width * channels` of them.
    public var pixels: [UInt8]

    /// Wraps existing samples (HWC). Precondition: `pixels.count == width * height * channels`, channels 1 or 3.
    public init(width: Int, height: Int, channels: Int, pixels: [UInt8]) {
        precondition(channels == 1 || channels == 3, "DecodedImage channels must be 1 or 3, got \(channels)")
        precondition(width >= 0 && height >= 0 && pixels.count == width * height * channels,
                     "DecodedImage: \(pixels.count) samples for \(width)x\(height)x\(channels)")
        self.width = width
        self.height = height
        self.channels = channels
        self.pixels = pixels
    }

    /// A black image.
    public init(width: Int, height: Int, channels: Int) {
        self.init(width: width, height: height, channels: channels,
                  pixels: [UInt8](repeating: 0, count: width * height * channels))
    }

    /// Converts the image at `index` of an `[N, C, H, W]` tensor (or a `[C, H, W]` tensor, `index` 0) with
    /// C = 1 or 3 and values in [0, 1] to 8 bits: values are clamped to [0, 1], times 255, rounded.
    public init(tensor: Tensor, index: Int = 0) {
        let s = tensor.shape
        precondition(s.count == 3 || s.count == 4, "DecodedImage(tensor:) needs [C,H,W] or [N,C,H,W], got \(s)")
        let (c, h, w) = s.count == 4 ? (s[1], s[2], s[3]) : (s[0], s[1], s[2])
        let n = s.count == 4 ? s[0] : 1
        precondition(index >= 0 && index < n, "image index \(index) out of range 0..<\(n)")
        let src = tensor.data + index * c * h * w
        let plane = h * w
        var px = [UInt8](repeating: 0, count: plane * c)
        for ch in 0..<c {
            for i in 0..<plane {
                let v = Swift.min(Swift.max(src[ch * plane + i], 0), 1)
                px[i * c + ch] = UInt8((v * 255).rounded())
            }
        }
        self.init(width: w, height: h, channels: c, pixels: px)
    }

    /// The sample at column `x`, row `y`, channel `c`.
    @inlinable public subscript(x: Int, y: Int, c: Int) -> UInt8 {
        get { pixels[(y * width + x) * channels + c] }
        set { pixels[(y * width + x) * channels + c] = newValue }
    }

    /// This image with `channels` channels: gray is repeated into R, G and B; RGB becomes gray with the
    /// ITU-R BT.601 luma weights 0.299 R + 0.587 G + 0.114 B, rounded (the rule PIL's `convert("L")` uses).
    public func converted(toChannels target: Int) -> DecodedImage {
        precondition(target == 1 || target == 3, "channels must be 1 or 3, got \(target)")
        if target == channels { return self }
        let n = width * height
        var out = [UInt8](repeating: 0, count: n * target)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                if target == 3 {
                    for i in 0..<n { let v = src[i]; dst[3 * i] = v; dst[3 * i + 1] = v; dst[3 * i + 2] = v }
                } else {
                    for i in 0..<n {
                        let y = Float(src[3 * i]) * 0.299 + Float(src[3 * i + 1]) * 0.587 + Float(src[3 * i + 2]) * 0.114
                        dst[i] = UInt8(Swift.min(y.rounded(), 255))
                    }
                }
            }
        }
        return DecodedImage(width: width, height: height, channels: target, pixels: out)
    }

    /// The image as a new `[1, C, H, W]` tensor with values `byte / 255`.
    public func tensor() -> Tensor {
        let t = Tensor(shape: [1, channels, height, width])
        writePlanar(into: t.data, channels: channels, height: height, width: width)
        return t
    }

    /// Writes the image (or the `crop` rectangle of it) into planar `[channels, height, width]` floats at
    /// `dst`, converting gray <-> RGB (BT.601 luma for RGB -> gray), resizing bilinearly when the size differs
    /// (`Bilinear` semantics: align_corners = false, no antialiasing), and dividing by 255. Allocates nothing.
    public func writePlanar(into dst: UnsafeMutablePointer<Float>, channels outChannels: Int,
                            height outHeight: Int, width outWidth: Int, crop: PixelRect? = nil) {
        let rect = crop ?? PixelRect(x: 0, y: 0, width: width, height: height)
        precondition(rect.x >= 0 && rect.y >= 0 && rect.width > 0 && rect.height > 0
                     && rect.x + rect.width <= width && rect.y + rect.height <= height,
                     "crop \(rect) outside the \(width)x\(height) image")
        pixels.withUnsafeBufferPointer { src in
            Bilinear.resampleBytes(src: src.baseAddress!, rowStride: width * channels, channels: channels,
                                   rect: rect, divisor: 255, dst: dst, outChannels: outChannels,
                                   outHeight: outHeight, outWidth: outWidth)
        }
    }
}
