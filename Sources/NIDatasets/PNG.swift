import CPNG

/// PNG images through libpng's simplified API, read and written.
///
/// Reading accepts every PNG colour type and bit depth: gray (1/2/4/8/16-bit), gray + alpha, RGB, RGBA and
/// palette images. The result is 8-bit gray for gray files and 8-bit RGB for colour and palette files;
/// alpha (including palette/tRNS transparency) is dropped, not composited: each pixel keeps its stored
/// colour. 16-bit samples are scaled to 8 bits (`round(v * 255 / 65535)`). Gamma and colour-profile chunks
/// (gAMA, cHRM, sRGB, iCCP) are ignored, so the decoded values are the stored sample values, as PIL or
/// torchvision return them. Writing produces an 8-bit gray or RGB PNG.
public enum PNG {
    /// The eight-byte PNG signature.
    public static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    // PNG_FORMAT_* and PNG_IMAGE_FLAG_* of png.h (function-like macros are not imported into Swift).
    private static let formatFlagAlpha: UInt32 = 0x01
    private static let formatFlagColor: UInt32 = 0x02
    private static let formatFlagLinear: UInt32 = 0x04
    private static let imageFlag16BitSRGB: UInt32 = 0x04
    /// The largest decoded image accepted, in bytes.
    public static let maxDecodedBytes = 1 << 31

    /// Whether `bytes` start with the PNG signature.
    public static func hasSignature(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 8 && bytes.prefix(8).elementsEqual(signature)
    }

    /// Decodes a PNG held in memory into 8-bit gray or RGB. `path` is named in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(DatasetError) -> DecodedImage {
        guard hasSignature(bytes) else {
            throw .badMagic(path: path, expected: "the PNG signature 89 50 4e 47 0d 0a 1a 0a",
                            found: bytes.prefix(8).map { hex2($0) }.joined(separator: " "))
        }
        let input = strippingColorManagement(bytes)
        // libpng reads the memory lazily until png_image_finish_read returns: both calls stay inside one
        // withUnsafeBytes so the pointer is valid throughout.
        let decoded: Result<(buffer: [UInt8], width: Int, height: Int, channels: Int, alpha: Bool), DatasetError>
        decoded = input.withUnsafeBytes { raw in
            var image = png_image()
            image.version = UInt32(PNG_IMAGE_VERSION)
            defer { png_image_free(&image) }
            guard png_image_begin_read_from_memory(&image, raw.baseAddress, raw.count) != 0 else {
                return .failure(.corruptPNG(path: path, reason: message(of: &image)))
            }
            let width = Int(image.width), height = Int(image.height)
            let fileFormat = image.format
            let color = fileFormat & formatFlagColor != 0
            let alpha = fileFormat & formatFlagAlpha != 0
            let outChannels = color ? 3 : 1
            let readChannels = outChannels + (alpha ? 1 : 0)
            let (pixels, over) = width.multipliedReportingOverflow(by: height)
            guard width > 0, height > 0, !over, pixels <= maxDecodedBytes / readChannels else {
                return .failure(.absurdSize(path: path, problem: "PNG declares \(width)x\(height) pixels, more than "
                                            + "the \(maxDecodedBytes)-byte limit"))
            }
            // Ask for 8-bit samples in the file's own colour model (alpha kept, dropped below, so that libpng
            // does not composite). 16-bit files are declared sRGB-encoded so that the 16 -> 8-bit step is a
            // plain rescale rather than a linear-to-sRGB gamma conversion.
            image.format = (color ? formatFlagColor : 0) | (alpha ? formatFlagAlpha : 0)
            if fileFormat & formatFlagLinear != 0 { image.flags |= imageFlag16BitSRGB }
            var buffer = [UInt8](repeating: 0, count: pixels * readChannels)
            let stride = Int32(width * readChannels)
            let finished = buffer.withUnsafeMutableBytes { out in
                png_image_finish_read(&image, nil, out.baseAddress, stride, nil)
            }
            guard finished != 0 else { return .failure(.corruptPNG(path: path, reason: message(of: &image))) }
            return .success((buffer, width, height, outChannels, alpha))
        }
        let result = try decoded.get()
        var buffer = result.buffer
        let (width, height, outChannels, alpha) = (result.width, result.height, result.channels, result.alpha)
        let pixels = width * height
        let readChannels = outChannels + (alpha ? 1 : 0)
        if alpha {
            buffer.withUnsafeMutableBufferPointer { buf in
                let p = buf.baseAddress!
                for i in 0..<pixels {
                    for c in 0..<outChannels { p[i * outChannels + c] = p[i * readChannels + c] }
                }
            }
            buffer.removeSubrange((pixels * outChannels)...)
        }
        return DecodedImage(width: width, height: height, channels: outChannels, pixels: buffer)
    }

    /// Reads and decodes a PNG file.
    public static func read(path: String) throws(DatasetError) -> DecodedImage {
        try decode(FileIO.read(path, what: "PNG image"), path: path)
    }

    /// Encodes an image as an 8-bit gray (1 channel) or RGB (3 channels) PNG.
    public static func encode(_ image: DecodedImage) throws(DatasetError) -> [UInt8] {
        try encode(image, path: "<memory>")
    }

    /// Writes an image as an 8-bit gray or RGB PNG, replacing `path` atomically.
    public static func write(_ image: DecodedImage, to path: String) throws(DatasetError) {
        try FileIO.write(encode(image, path: path), to: path)
    }

    private static func encode(_ image: DecodedImage, path: String) throws(DatasetError) -> [UInt8] {
        guard image.width > 0, image.height > 0 else {
            throw .writeFailed(path: path, reason: "cannot encode an empty \(image.width)x\(image.height) image")
        }
        var png = png_image()
        png.version = UInt32(PNG_IMAGE_VERSION)
        png.width = UInt32(image.width)
        png.height = UInt32(image.height)
        png.format = image.channels == 3 ? formatFlagColor : 0
        defer { png_image_free(&png) }
        let stride = Int32(image.width * image.channels)
        var size = 0
        // First pass measures, second pass writes.
        let measured = image.pixels.withUnsafeBytes { px in
            png_image_write_to_memory(&png, nil, &size, 0, px.baseAddress, stride, nil)
        }
        guard measured != 0, size > 0 else { throw .writeFailed(path: path, reason: "libpng: \(message(of: &png))") }
        var out = [UInt8](repeating: 0, count: size)
        let written = out.withUnsafeMutableBytes { dst in
            image.pixels.withUnsafeBytes { px in
                png_image_write_to_memory(&png, dst.baseAddress, &size, 0, px.baseAddress, stride, nil)
            }
        }
        guard written != 0 else { throw .writeFailed(path: path, reason: "libpng: \(message(of: &png))") }
        out.removeSubrange(size...)
        return out
    }

    /// The libpng message stored in a png_image after a failure.
    private static func message(of image: inout png_image) -> String {
        let text = withUnsafeBytes(of: &image.message) { raw -> String in
            let bytes = raw.bindMemory(to: UInt8.self)
            let end = bytes.firstIndex(of: 0) ?? bytes.count
            return String(decoding: bytes[..<end], as: UTF8.self)
        }
        return text.isEmpty ? "libpng could not decode the data" : text
    }

    /// The PNG without its gAMA, cHRM, sRGB and iCCP chunks (the same array when it has none), so that
    /// libpng applies no colour conversion. A malformed chunk layout is left for libpng to report.
    static func strippingColorManagement(_ bytes: [UInt8]) -> [UInt8] {
        let dropped: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP"]
        var ranges: [Range<Int>] = []
        var pos = 8
        while pos + 12 <= bytes.count {
            let length = Int(bytes[pos]) << 24 | Int(bytes[pos + 1]) << 16 | Int(bytes[pos + 2]) << 8 | Int(bytes[pos + 3])
            let end = pos + 12 + length
            guard length >= 0, end <= bytes.count else { break }
            let type = String(decoding: bytes[(pos + 4)..<(pos + 8)], as: UTF8.self)
            if dropped.contains(type) { ranges.append(pos..<end) }
            if type == "IDAT" || type == "IEND" { break }   // colour chunks must precede IDAT
            pos = end
        }
        if ranges.isEmpty { return bytes }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var from = 0
        for r in ranges {
            out.append(contentsOf: bytes[from..<r.lowerBound])
            from = r.upperBound
        }
        out.append(contentsOf: bytes[from...])
        return out
    }
}
