import Foundation
import NITensor

/// A training checkpoint: the architecture, all parameters and optimiser state, and how far training got,
/// in one binary file (`NICKPT1` magic, a JSON header, then little-endian Float32 data). Written atomically
/// (temporary file, then rename) so a killed run never leaves a half-written checkpoint.
public struct Checkpoint {
    public struct Header: Codable, Equatable {
        public var architecture: String
        public var epochsDone: Int
        public var optimizerSteps: Int
        public var configFingerprint: String
        public var tensors: [TensorInfo]
        public var history: [EpochRecord]
    }
    public struct TensorInfo: Codable, Equatable { public var name: String; public var shape: [Int] }

    static let magic = Array("NICKPT1\n".utf8)

    /// Saves `model` parameters and `optimizer` state.
    public static func save(to url: URL, architecture: ArchitectureSpec, model: Sequential, optimizer: Optimizer,
                            epochsDone: Int, fingerprint: String, history: [EpochRecord]) throws {
        let tensors: [(String, Tensor)] = model.parameters.map { ($0.name, $0.value) }
            + optimizer.state.enumerated().map { ("optimizer.\($0.offset)", $0.element) }
        let header = Header(architecture: architecture.text, epochsDone: epochsDone, optimizerSteps: optimizer.stepCount,
                            configFingerprint: fingerprint,
                            tensors: tensors.map { TensorInfo(name: $0.0, shape: $0.1.shape) }, history: history)
        var data = Data(magic)
        let json = try JSONEncoder().encode(header)
        var len = UInt32(json.count).littleEndian
        data.append(Data(bytes: &len, count: 4))
        data.append(json)
        for (_, t) in tensors { data.append(Data(bytes: t.data, count: t.count * 4)) }
        try AtomicFile.write(data, to: url)
    }

    /// Reads the header only.
    public static func header(at url: URL) throws -> Header {
        let data = try Data(contentsOf: url)
        return try parse(data, url: url).0
    }

    static func parse(_ data: Data, url: URL) throws -> (Header, Int) {
        guard data.count >= 12, Array(data.prefix(8)) == magic else { throw CheckpointError.notACheckpoint(url.path) }
        let len = Int(data[8]) | Int(data[9]) << 8 | Int(data[10]) << 16 | Int(data[11]) << 24
        guard 12 + len <= data.count else { throw CheckpointError.truncated(url.path) }
        let header = try JSONDecoder().decode(Header.self, from: data.subdata(in: 12..<(12 + len)))
        return (header, 12 + len)
    }

    /// Restores parameters and optimiser state into an already built model/optimiser of the same
    /// architecture. Returns the header.
    @discardableResult
    public static func load(from url: URL, into model: Sequential, optimizer: Optimizer?) throws -> Header {
        let data = try Data(contentsOf: url)
        let (header, start) = try parse(data, url: url)
        var targets: [Tensor] = model.parameters.map(\.value)
        if let o = optimizer { targets += o.state }
        let expected = header.tensors.count
        guard expected == targets.count || (optimizer == nil && expected >= targets.count) else {
            throw CheckpointError.mismatch(url.path, "holds \(expected) tensors, model needs \(targets.count)")
        }
        var offset = start
        for (info, t) in zip(header.tensors, targets) {
            guard info.shape == t.shape else {
                throw CheckpointError.mismatch(url.path, "tensor \(info.name) has shape \(info.shape), model has \(t.shape)")
            }
            let bytes = t.count * 4
            guard offset + bytes <= data.count else { throw CheckpointError.truncated(url.path) }
            data.withUnsafeBytes { raw in
                UnsafeMutableRawPointer(t.data).copyMemory(from: raw.baseAddress! + offset, byteCount: bytes)
            }
            offset += bytes
        }
        optimizer?.stepCount = header.optimizerSteps
        return header
    }
}

/// Checkpoint problems, naming the file.
public enum CheckpointError: Error, CustomStringConvertible {
    case notACheckpoint(String), truncated(String), mismatch(String, String)
    public var description: String {
        switch self {
        case .notACheckpoint(let p): return "\(p): not a NeuronInspect checkpoint (bad magic)"
        case .truncated(let p): return "\(p): checkpoint is truncated"
        case let .mismatch(p, why): return "\(p): checkpoint does not match this model: \(why)"
        }
    }
}

/// Write-then-rename, so readers never see a half-written file.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let dir = url.deletingLastPathComponent()
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let tmp = dir.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        try data.write(to: tmp)
        if rename(tmp.path, url.path) != 0 {
            try? FileManager.default.removeItem(at: tmp)
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: url.path])
        }
    }
}
