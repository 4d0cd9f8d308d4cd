/// A parsed IDX file, the binary container of the MNIST data set.
///
/// Layout (big-endian): two zero bytes, a data-type byte (0x08 unsigned byte, 0x09 signed byte, 0x0B int16,
/// 0x0C int32, 0x0D float32, 0x0E float64), a dimension count byte, one UInt32 per dimension, then the
/// elements in row-major order. The parser checks every declared size against the bytes present before it
/// trusts it, and refuses files with trailing bytes.
public struct IDXFile: Sendable {
    /// The element type byte of the header.
    public let dataType: UInt8
    /// The extent of every dimension, outermost first.
    public let dimensions: [Int]
    /// The whole file (header included); the elements start at `payloadOffset`.
    public let bytes: [UInt8]
    /// Byte offset of the first element.
    public let payloadOffset: Int

    /// The data-type byte for unsigned bytes, the only type MNIST uses.
    public static let unsignedByte: UInt8 = 0x08

    /// Size in bytes of one element of each IDX data type.
    public static func elementSize(of dataType: UInt8) -> Int? {
        switch dataType {
        case 0x08, 0x09: return 1
        case 0x0B: return 2
        case 0x0C, 0x0D: return 4
        case 0x0E: return 8
        default: return nil
        }
    }

    /// Number of elements (product of `dimensions`).
    public var elementCount: Int { dimensions.reduce(1, *) }

    /// The element bytes (for 0x08 files, one byte per element).
    public var payload: ArraySlice<UInt8> { bytes[payloadOffset...] }

    /// Parses IDX bytes that are already decompressed.
    ///
    /// - Parameters:
    ///   - bytes: the file contents.
    ///   - path: the file the bytes came from, named in errors.
    ///   - maxBytes: the largest payload accepted (default 2^31 bytes).
    public init(bytes: [UInt8], path: String, maxBytes: Int = 1 << 31) throws(DatasetError) {
        guard bytes.count >= 4 else { throw .truncated(path: path, expected: 4, actual: bytes.count) }
        guard bytes[0] == 0, bytes[1] == 0, let elementSize = IDXFile.elementSize(of: bytes[2]) else {
            let found = bytes.prefix(4).map { hex2($0) }.joined(separator: " ")
            throw .badMagic(path: path, expected: "IDX magic 00 00 <type 08/09/0B/0C/0D/0E> <dims>", found: found)
        }
        let rank = Int(bytes[3])
        guard rank >= 1 else { throw .badHeader(path: path, problem: "IDX header declares 0 dimensions") }
        let headerSize = 4 + 4 * rank
        guard bytes.count >= headerSize else {
            throw .truncated(path: path, expected: headerSize, actual: bytes.count)
        }
        var dims: [Int] = []
        dims.reserveCapacity(rank)
        var total = elementSize
        var overflow = false
        for d in 0..<rank {
            let o = 4 + 4 * d
            let extent = Int(bytes[o]) << 24 | Int(bytes[o + 1]) << 16 | Int(bytes[o + 2]) << 8 | Int(bytes[o + 3])
            dims.append(extent)
            let (product, over) = total.multipliedReportingOverflow(by: extent)
            if over { overflow = true } else { total = product }
        }
        let present = bytes.count - headerSize
        let dimText = dims.map(String.init).joined(separator: "x")
        if overflow || total > maxBytes {
            throw .absurdSize(path: path, problem: "IDX dimensions \(dimText) of \(elementSize)-byte elements "
                              + "exceed the \(maxBytes)-byte limit (the file holds \(present) data bytes)")
        }
        if total > present {
            throw .truncated(path: path, expected: headerSize + total, actual: bytes.count)
        }
        if total < present {
            throw .badHeader(path: path, problem: "IDX dimensions \(dimText) account for \(headerSize + total) "
                             + "bytes but the file has \(bytes.count) (\(present - total) trailing bytes)")
        }
        self.dataType = bytes[2]
        self.dimensions = dims
        self.bytes = bytes
        self.payloadOffset = headerSize
    }

    /// Reads and parses an IDX file, gunzipping it first if it is gzip-compressed.
    public init(path: String, what: String = "IDX file") throws(DatasetError) {
        try self.init(bytes: Gunzip.readMaybeCompressed(path, what: what), path: path)
    }
}

func hex2(_ b: UInt8) -> String {
    let digits = Array("0123456789abcdef")
    return String([digits[Int(b >> 4)], digits[Int(b & 15)]])
}
