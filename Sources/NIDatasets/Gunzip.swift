import CZlib

/// Decompresses gzip data (also zlib-wrapped data; concatenated gzip members are joined) with the system zlib.
public enum Gunzip {
    /// The largest output `decompress` produces by default (2 GiB); beyond it the data is rejected as absurd.
    public static let defaultMaxOutput = 1 << 31

    /// Whether `bytes` start with the gzip signature 0x1f 0x8b.
    public static func isGzip(_ bytes: [UInt8]) -> Bool {
        bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
    }

    /// Decompresses a whole gzip (or zlib) stream held in memory.
    ///
    /// - Parameters:
    ///   - input: the compressed bytes.
    ///   - path: the file the bytes came from, named in errors.
    ///   - maxOutput: refuse to produce more than this many bytes (guards against decompression bombs).
    /// - Throws: `DatasetError.corruptGzip` for damaged or truncated data, `.absurdSize` past `maxOutput`.
    public static func decompress(_ input: [UInt8], path: String,
                                  maxOutput: Int = defaultMaxOutput) throws(DatasetError) -> [UInt8] {
        guard !input.isEmpty else { throw .corruptGzip(path: path, problem: "the file is empty") }
        guard input.count <= Int(UInt32.max) else {
            throw .absurdSize(path: path, problem: "compressed input of \(input.count) bytes is larger than 4 GiB")
        }
        // The gzip trailer holds the uncompressed size modulo 2^32: a good first guess for the output buffer,
        // trusted only up to deflate's maximal ratio (1032:1) and 64 MiB (a truncated or damaged file has
        // arbitrary bytes there); beyond that the buffer grows by doubling.
        var guess = input.count * 4
        if isGzip(input) && input.count >= 18 {
            let n = input.count
            let isize = Int(input[n - 4]) | Int(input[n - 3]) << 8 | Int(input[n - 2]) << 16 | Int(input[n - 1]) << 24
            if isize > 0 && isize <= input.count * 1032 { guess = Swift.min(isize + 1, 64 << 20) }
        }
        var output = [UInt8](repeating: 0, count: Swift.max(64, Swift.min(guess, maxOutput + 1)))
        var produced = 0

        var stream = z_stream()
        let initStatus = inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size))
        guard initStatus == Z_OK else {
            throw .corruptGzip(path: path, problem: "zlib could not start (inflateInit2 returned \(initStatus))")
        }
        defer { inflateEnd(&stream) }

        let failure: DatasetError? = input.withUnsafeBufferPointer { inBuf -> DatasetError? in
            stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress!)
            stream.avail_in = UInt32(inBuf.count)
            while true {
                if produced == output.count {
                    if output.count > maxOutput {
                        return .absurdSize(path: path, problem: "decompresses to more than \(maxOutput) bytes")
                    }
                    let grown = Swift.min(Swift.max(output.count * 2, 4096), maxOutput + 1)
                    output.append(contentsOf: repeatElement(0, count: grown - output.count))
                }
                let room = Swift.min(output.count - produced, Int(UInt32.max))
                let status: Int32 = output.withUnsafeMutableBufferPointer { outBuf in
                    stream.next_out = outBuf.baseAddress! + produced
                    stream.avail_out = UInt32(room)
                    return inflate(&stream, Z_NO_FLUSH)
                }
                produced += room - Int(stream.avail_out)
                switch status {
                case Z_STREAM_END:
                    // Another gzip member may follow (as `cat a.gz b.gz` makes); anything else is ignored.
                    let rest = Int(stream.avail_in)
                    if rest >= 2 && stream.next_in[0] == 0x1f && stream.next_in[1] == 0x8b {
                        if inflateReset(&stream) != Z_OK {
                            return .corruptGzip(path: path, problem: "cannot restart zlib for the next member")
                        }
                        continue
                    }
                    return nil
                case Z_OK, Z_BUF_ERROR:
                    if stream.avail_in == 0 && stream.avail_out > 0 {
                        return .corruptGzip(path: path, problem: "the compressed stream ends early (truncated file; "
                                            + "\(produced) bytes decompressed before the end)")
                    }
                case Z_NEED_DICT:
                    return .corruptGzip(path: path, problem: "the stream needs a preset dictionary")
                case Z_MEM_ERROR:
                    return .corruptGzip(path: path, problem: "zlib ran out of memory")
                default:
                    let message = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
                    return .corruptGzip(path: path, problem: message)
                }
            }
        }
        if let failure { throw failure }
        output.removeSubrange(produced...)
        return output
    }

    /// Reads a file and, if it starts with the gzip signature, decompresses it; other files are returned as
    /// they are. `what` names the file's role in a not-found error (e.g. "MNIST label file").
    public static func readMaybeCompressed(_ path: String, what: String = "file",
                                           maxOutput: Int = defaultMaxOutput) throws(DatasetError) -> [UInt8] {
        let bytes = try FileIO.read(path, what: what)
        return isGzip(bytes) ? try decompress(bytes, path: path, maxOutput: maxOutput) : bytes
    }
}
