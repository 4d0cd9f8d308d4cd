/// Binary Netpbm images: P6 (RGB, `.ppm`) and P5 (gray, `.pgm`) with maxval 1...255, read and written.
///
/// The header is the magic, width, height and maxval as decimal numbers separated by whitespace, where a
/// `#` starts a comment that runs to the end of the line; one whitespace byte then precedes the samples.
/// Samples of files with maxval below 255 are rescaled to 0...255 by `decode`. Bytes after the image
/// (further images of a multi-image file) are ignored. ASCII (P2/P3), bitmap (P1/P4), PAM (P7) and 16-bit
/// (maxval > 255) files are rejected as unsupported.
public enum PPM {
    /// What the header of a P5/P6 file declares, and where the samples start.
    public struct Header: Equatable, Sendable {
        /// Width in pixels.
        public var width: Int
        /// Height in pixels.
        public var height: Int
        /// 1 (P5) or 3 (P6).
        public var channels: Int
        /// The largest sample value (1...255).
        public var maxValue: Int
        /// Byte offset of the first sample.
        public var dataOffset: Int
        /// Number of sample bytes, `width * height * channels`.
        public var dataCount: Int { width * height * channels }
    }

    /// Parses and checks the header of the first `count` bytes of `bytes` (a file read into a possibly
    /// larger buffer): the samples it declares must all be present.
    public static func parseHeader(_ bytes: [UInt8], count: Int? = nil, path: String) throws(DatasetError) -> Header {
        let n = Swift.min(count ?? bytes.count, bytes.count)
        guard n >= 2, bytes[0] == UInt8(ascii: "P") else {
            let found = n == 0 ? "an empty file" : bytes.prefix(Swift.min(n, 4)).map { hex2($0) }.joined(separator: " ")
            throw .badMagic(path: path, expected: "'P5' or 'P6' (binary PGM/PPM)", found: found)
        }
        let channels: Int
        switch bytes[1] {
        case UInt8(ascii: "6"): channels = 3
        case UInt8(ascii: "5"): channels = 1
        case UInt8(ascii: "1")...UInt8(ascii: "4"), UInt8(ascii: "7"):
            throw .unsupportedImageFormat(path: path, problem: "Netpbm variant P\(Character(UnicodeScalar(bytes[1]))) "
                                          + "is not supported; only binary P5 (gray) and P6 (RGB) are")
        default:
            throw .badMagic(path: path, expected: "'P5' or 'P6' (binary PGM/PPM)",
                            found: bytes.prefix(4).map { hex2($0) }.joined(separator: " "))
        }
        var pos = 2
        func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D || b == 0x0B || b == 0x0C }
        func number(_ field: String) throws(DatasetError) -> Int {
            // Skip whitespace and comments.
            while pos < n {
                if isSpace(bytes[pos]) { pos += 1 }
                else if bytes[pos] == UInt8(ascii: "#") {
                    while pos < n && bytes[pos] != 0x0A && bytes[pos] != 0x0D { pos += 1 }
                } else { break }
            }
            guard pos < n else { throw .badHeader(path: path, problem: "the file ends inside the header, before the \(field)") }
            var value = 0, digits = 0
            while pos < n, bytes[pos] >= UInt8(ascii: "0"), bytes[pos] <= UInt8(ascii: "9") {
                value = value * 10 + Int(bytes[pos] - UInt8(ascii: "0"))
                digits += 1
                pos += 1
                if digits > 9 { throw .absurdSize(path: path, problem: "the \(field) has more than 9 digits") }
            }
            guard digits > 0 else {
                throw .badHeader(path: path, problem: "expected the \(field) as a decimal number at byte \(pos), found "
                                 + "0x\(hex2(bytes[pos]))")
            }
            return value
        }
        let width = try number("width")
        let height = try number("height")
        let maxValue = try number("maxval")
        guard pos < n else { throw .truncated(path: path, expected: pos + 1, actual: n) }
        guard isSpace(bytes[pos]) else {
            throw .badHeader(path: path, problem: "expected one whitespace byte after the maxval, found 0x\(hex2(bytes[pos]))")
        }
        pos += 1
        guard width > 0, height > 0 else {
            throw .badHeader(path: path, problem: "image size \(width)x\(height) is empty")
        }
        guard maxValue > 0 else { throw .badHeader(path: path, problem: "maxval is 0") }
        guard maxValue <= 255 else {
            throw .unsupportedImageFormat(path: path, problem: "16-bit samples (maxval \(maxValue)) are not supported; "
                                          + "maxval must be at most 255")
        }
        let (pixels, over) = width.multipliedReportingOverflow(by: height)
        guard !over, pixels <= (1 << 31) / channels else {
            throw .absurdSize(path: path, problem: "\(width)x\(height) pixels exceed the 2^31-byte limit")
        }
        let header = Header(width: width, height: height, channels: channels, maxValue: maxValue, dataOffset: pos)
        guard n - pos >= header.dataCount else {
            throw .truncated(path: path, expected: pos + header.dataCount, actual: n)
        }
        return header
    }

    /// Decodes a P5/P6 file held in memory. `path` is named in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(DatasetError) -> DecodedImage {
        let h = try parseHeader(bytes, path: path)
        var px = Array(bytes[h.dataOffset ..< h.dataOffset + h.dataCount])
        if h.maxValue != 255 {
            let m = h.maxValue
            for i in px.indices { px[i] = UInt8((Swift.min(Int(px[i]), m) * 255 + m / 2) / m) }
        }
        return DecodedImage(width: h.width, height: h.height, channels: h.channels, pixels: px)
    }

    /// Reads and decodes a P5/P6 file.
    public static func read(path: String) throws(DatasetError) -> DecodedImage {
        try decode(FileIO.read(path, what: "PPM/PGM image"), path: path)
    }

    /// Encodes an image as binary P6 (RGB) or P5 (gray), maxval 255.
    public static func encode(_ image: DecodedImage) -> [UInt8] {
        var out = Array("P\(image.channels == 3 ? 6 : 5)\n\(image.width) \(image.height)\n255\n".utf8)
        out.append(contentsOf: image.pixels)
        return out
    }

    /// Writes an image as binary P6 (RGB) or P5 (gray), replacing `path` atomically.
    public static func write(_ image: DecodedImage, to path: String) throws(DatasetError) {
        try FileIO.write(encode(image), to: path)
    }
}
