#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation

/// `read(2)`, named apart from `FileIO.read`.
@inline(__always) private func posixRead(_ fd: Int32, _ buf: UnsafeMutableRawPointer, _ n: Int) -> Int {
    read(fd, buf, n)
}

/// Small file-system helpers shared by the loaders, all mapping failures to `DatasetError`.
enum FileIO {
    /// Joins two path components with exactly one "/".
    static func join(_ a: String, _ b: String) -> String {
        if a.isEmpty { return b }
        return a.hasSuffix("/") ? a + b : a + "/" + b
    }

    /// Whether something exists at `path`.
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Whether `path` is an existing folder (following symbolic links).
    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// Whether `path` is an existing regular file (following symbolic links).
    static func isFile(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// The names in a folder (no "." / ".."), sorted by byte order of their UTF-8 names.
    static func listDirectory(_ path: String, what: String) throws(DatasetError) -> [String] {
        guard exists(path) else { throw .fileNotFound(path: path, what: what) }
        guard isDirectory(path) else { throw .unreadable(path: path, reason: "not a folder") }
        guard let dir = opendir(path) else { throw .unreadable(path: path, reason: errnoText()) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) { ptr in
                ptr.withMemoryRebound(to: CChar.self, capacity: MemoryLayout.size(ofValue: entry.pointee.d_name)) {
                    String(cString: $0)
                }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
    }

    /// Reads a whole file.
    static func read(_ path: String, what: String) throws(DatasetError) -> [UInt8] {
        var buffer: [UInt8] = []
        let n = try read(path, what: what, into: &buffer)
        if buffer.count != n { buffer.removeSubrange(n...) }
        return buffer
    }

    /// Reads a whole file into `buffer`, growing it if needed, and returns the number of bytes read.
    /// Bytes of `buffer` past that count are left as they were. Reusing one buffer across many files avoids
    /// an allocation per file.
    static func read(_ path: String, what: String, into buffer: inout [UInt8]) throws(DatasetError) -> Int {
        let fd = open(path, O_RDONLY)
        if fd < 0 {
            let code = errno
            if code == ENOENT || code == ENOTDIR { throw .fileNotFound(path: path, what: what) }
            throw .unreadable(path: path, reason: String(cString: strerror(code)))
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw .unreadable(path: path, reason: errnoText()) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw .unreadable(path: path, reason: "it is a folder, not a file") }
        var capacityNeeded = Int(st.st_size) + 1   // +1 lets us see EOF in one pass for regular files
        if buffer.count < capacityNeeded { buffer = [UInt8](repeating: 0, count: capacityNeeded) }
        var total = 0
        while true {
            if total == buffer.count {
                capacityNeeded = Swift.max(buffer.count * 2, 4096)
                buffer.append(contentsOf: repeatElement(0, count: capacityNeeded - buffer.count))
            }
            let got = buffer.withUnsafeMutableBytes { raw in
                posixRead(fd, raw.baseAddress! + total, raw.count - total)
            }
            if got < 0 {
                if errno == EINTR { continue }
                throw .unreadable(path: path, reason: errnoText())
            }
            if got == 0 { break }
            total += got
        }
        return total
    }

    /// Writes `bytes` to `path`, replacing it atomically (write to a temporary file, then rename).
    static func write(_ bytes: [UInt8], to path: String) throws(DatasetError) {
        do {
            try Data(bytes).write(to: URL(fileURLWithPath: path), options: .atomic)
        } catch {
            throw .writeFailed(path: path, reason: "\(error.localizedDescription)")
        }
    }

    static func errnoText() -> String { String(cString: strerror(errno)) }
}
