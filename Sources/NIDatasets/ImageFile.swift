/// Reads and writes image files of the formats this module supports, chosen by content (reading) or by
/// file extension (writing): PNG, binary PPM (P6) and binary PGM (P5).
public enum ImageFile {
    /// File extensions (lower case, without the dot) of the supported formats.
    public static let supportedExtensions: Set<String> = ["png", "ppm", "pgm"]

    /// Whether a file name ends in a supported extension (case-insensitive).
    public static func hasSupportedExtension(_ name: String) -> Bool {
        guard let dot = name.lastIndex(of: "."), dot != name.startIndex else { return false }
        return supportedExtensions.contains(name[name.index(after: dot)...].lowercased())
    }

    /// Decodes PNG, P5 or P6 bytes into 8-bit gray or RGB, choosing the decoder from the leading bytes.
    public static func decode(_ bytes: [UInt8], path: String) throws(DatasetError) -> DecodedImage {
        if PNG.hasSignature(bytes) { return try PNG.decode(bytes, path: path) }
        if bytes.count >= 2 && bytes[0] == UInt8(ascii: "P") { return try PPM.decode(bytes, path: path) }
        throw .unsupportedImageFormat(path: path, problem: "\(formatName(bytes)); only PNG, binary PPM (P6) and "
                                      + "binary PGM (P5) are supported")
    }

    /// Reads and decodes an image file.
    public static func read(path: String) throws(DatasetError) -> DecodedImage {
        try decode(FileIO.read(path, what: "image"), path: path)
    }

    /// Writes `image` as PNG (`.png`) or binary PPM/PGM (`.ppm`, `.pgm`; P6 for RGB, P5 for gray) by the
    /// extension of `path`.
    public static func write(_ image: DecodedImage, to path: String) throws(DatasetError) {
        let lower = path.lowercased()
        if lower.hasSuffix(".png") { return try PNG.write(image, to: path) }
        if lower.hasSuffix(".ppm") || lower.hasSuffix(".pgm") { return try PPM.write(image, to: path) }
        throw .writeFailed(path: path, reason: "unknown image extension; use .png, .ppm or .pgm")
    }

    /// A human name for the format of some bytes that no decoder here accepts.
    static func formatName(_ b: [UInt8]) -> String {
        if b.isEmpty { return "the file is empty" }
        if b.count >= 3 && b[0] == 0xFF && b[1] == 0xD8 && b[2] == 0xFF { return "the file is a JPEG" }
        if b.count >= 4 && b[0] == 0x47 && b[1] == 0x49 && b[2] == 0x46 && b[3] == 0x38 { return "the file is a GIF" }
        if b.count >= 2 && b[0] == 0x42 && b[1] == 0x4D { return "the file is a BMP" }
        if b.count >= 4 && ((b[0] == 0x49 && b[1] == 0x49) || (b[0] == 0x4D && b[1] == 0x4D)) && (b[2] == 42 || b[3] == 42) {
            return "the file is a TIFF"
        }
        if b.count >= 12 && b[0] == 0x52 && b[1] == 0x49 && b[8] == 0x57 && b[9] == 0x45 { return "the file is a WebP" }
        return "unrecognised leading bytes " + b.prefix(8).map { hex2($0) }.joined(separator: " ")
    }
}
