import Foundation
import NITensor
import NINetwork

/// A decoded initializer or `Constant`: float weights as a `Tensor` (float16, bfloat16 and float64 converted
/// to float32), integer and boolean tensors as a `StaticTensor` (they are shapes, axes and indices).
enum ONNXConstant {
    case float(Tensor)
    case integer(StaticTensor)

    var shape: [Int] {
        switch self {
        case .float(let t): return t.shape
        case .integer(let s): return s.shape
        }
    }
}

/// Decodes `TensorProto`s of an untrusted file. Every declared size is checked (overflow-checked products)
/// against the bytes present and against the loader's memory bound before anything is allocated; external
/// data is read only from files inside the model's own folder.
struct TensorDecoder {
    let path: String
    /// The folder holding the model (external data must resolve inside it), or nil for in-memory models.
    let folder: URL?
    /// Bytes of decoded tensors still allowed.
    var budget: Int
    /// Largest integer tensor (elements) accepted: they are shapes and indices, never weights.
    static let maxIntegerElements = 1 << 20
    private var files: [String: Data] = [:]

    init(path: String, folder: URL?, budget: Int) {
        self.path = path; self.folder = folder; self.budget = budget
    }

    private func bad(_ name: String, _ detail: String) -> ONNXError { .badTensor(path, name: name, detail: detail) }

    /// Element size in bytes and kind of an ONNX data type, or nil when unsupported.
    private static func layout(_ t: Int32) -> (size: Int, float: TensorConversion.SourceKind?)? {
        switch Onnx_TensorProto.DataType(rawValue: Int(t)) {
        case .float?: return (4, .float32)
        case .float16?: return (2, .float16)
        case .bfloat16?: return (2, .bfloat16)
        case .double?: return (8, .float64)
        case .int8?, .uint8?, .bool?: return (1, nil)
        case .int16?, .uint16?: return (2, nil)
        case .int32?, .uint32?: return (4, nil)
        case .int64?, .uint64?: return (8, nil)
        default: return nil
        }
    }

    static func typeName(_ t: Int32) -> String {
        Onnx_TensorProto.DataType(rawValue: Int(t)).map { "\($0)" } ?? "type \(t)"
    }

    mutating func decode(_ p: Onnx_TensorProto, name: String) throws -> ONNXConstant {
        guard p.dims.count <= 8 else { throw bad(name, "rank \(p.dims.count) is above 8") }
        var shape: [Int] = []
        var count = 1
        for d in p.dims {
            guard d >= 0, d <= Int64(ONNXModel.maxTensorElements) else { throw bad(name, "declared dimension \(d) in \(p.dims) is negative or absurd") }
            let (m, o) = count.multipliedReportingOverflow(by: Int(d))
            guard !o, m <= ONNXModel.maxTensorElements else {
                throw bad(name, "declared shape \(p.dims) exceeds the \(ONNXModel.maxTensorElements)-element limit")
            }
            count = m; shape.append(Int(d))
        }
        guard let (size, kind) = TensorDecoder.layout(p.dataType) else {
            throw bad(name, "data type \(TensorDecoder.typeName(p.dataType)) is not supported (float32/16/64, bfloat16 or integers expected)")
        }
        guard !p.hasSegment else { throw bad(name, "segmented tensors are not supported") }
        if kind == nil && count > TensorDecoder.maxIntegerElements {
            throw bad(name, "integer tensor of \(count) elements; only small integer tensors (shapes, axes, indices) are supported")
        }
        let bytes = count * size   // count <= 2^28, size <= 8: no overflow
        let decodedBytes = kind != nil ? count * 4 : count * 8
        guard decodedBytes <= budget else {
            throw ONNXError.tooLarge(path, detail: "tensor '\(name)' (\(p.dims)) would pass the loader's memory bound of \(ONNXModel.maxTotalBytes) bytes of weights")
        }
        budget -= decodedBytes
        // Where the bytes are.
        var raw: Data? = nil
        if p.dataLocation == .external {
            raw = try external(p, name: name, bytes: bytes)
        } else if p.hasRawData {
            guard p.rawData.count == bytes else {
                throw bad(name, "shape \(shape) of \(TensorDecoder.typeName(p.dataType)) needs \(bytes) bytes, raw_data has \(p.rawData.count)")
            }
            raw = p.rawData
        }
        if let kind {
            let t = Tensor(shape: shape)
            if let raw {
                if count > 0 { raw.withUnsafeBytes { r in TensorConversion.convert(r.baseAddress!, count: count, kind: kind, into: t.data) } }
            } else {
                switch kind {
                case .float32:
                    guard p.floatData.count == count else { throw bad(name, "shape \(shape) needs \(count) values, float_data has \(p.floatData.count)") }
                    p.floatData.withUnsafeBufferPointer { b in if count > 0 { t.data.update(from: b.baseAddress!, count: count) } }
                case .float64:
                    guard p.doubleData.count == count else { throw bad(name, "shape \(shape) needs \(count) values, double_data has \(p.doubleData.count)") }
                    for i in 0..<count { t.data[i] = Float(p.doubleData[i]) }
                case .float16, .bfloat16:
                    guard p.int32Data.count == count else { throw bad(name, "shape \(shape) needs \(count) values, int32_data has \(p.int32Data.count)") }
                    for i in 0..<count {
                        let bits = UInt16(truncatingIfNeeded: p.int32Data[i])
                        t.data[i] = kind == .float16 ? TensorConversion.halfToFloat(bits) : Float(bitPattern: UInt32(bits) << 16)
                    }
                }
            }
            let nonFinite = TensorConversion.nonFiniteCount(t.data, count: count)
            if nonFinite > 0 { throw ONNXError.nonFinite(path, name: name, count: nonFinite) }
            return .float(t)
        }
        // Integers and booleans.
        var values = [Double](repeating: 0, count: count)
        let type = Onnx_TensorProto.DataType(rawValue: Int(p.dataType))
        if let raw {
            raw.withUnsafeBytes { r in
                for i in 0..<count {
                    let o = i * size
                    switch type {
                    case .int8?: values[i] = Double(r.load(fromByteOffset: o, as: Int8.self))
                    case .uint8?, .bool?: values[i] = Double(r.load(fromByteOffset: o, as: UInt8.self))
                    case .int16?: values[i] = Double(Int16(littleEndian: r.loadUnaligned(fromByteOffset: o, as: Int16.self)))
                    case .uint16?: values[i] = Double(UInt16(littleEndian: r.loadUnaligned(fromByteOffset: o, as: UInt16.self)))
                    case .int32?: values[i] = Double(Int32(littleEndian: r.loadUnaligned(fromByteOffset: o, as: Int32.self)))
                    case .uint32?: values[i] = Double(UInt32(littleEndian: r.loadUnaligned(fromByteOffset: o, as: UInt32.self)))
                    case .int64?: values[i] = Double(Int64(littleEndian: r.loadUnaligned(fromByteOffset: o, as: Int64.self)))
                    default: values[i] = Double(UInt64(littleEndian: r.loadUnaligned(fromByteOffset: o, as: UInt64.self)))
                    }
                }
            }
        } else {
            switch type {
            case .int64?:
                guard p.int64Data.count == count else { throw bad(name, "shape \(shape) needs \(count) values, int64_data has \(p.int64Data.count)") }
                for i in 0..<count { values[i] = Double(p.int64Data[i]) }
            case .uint32?, .uint64?:
                guard p.uint64Data.count == count else { throw bad(name, "shape \(shape) needs \(count) values, uint64_data has \(p.uint64Data.count)") }
                for i in 0..<count { values[i] = Double(p.uint64Data[i]) }
            default:
                guard p.int32Data.count == count else { throw bad(name, "shape \(shape) needs \(count) values, int32_data has \(p.int32Data.count)") }
                for i in 0..<count { values[i] = Double(p.int32Data[i]) }
            }
        }
        return .integer(StaticTensor(shape: shape, values: values, isInteger: true))
    }

    /// The bytes of an external-data tensor: `location` must be a relative path without `..` that resolves
    /// (symbolic links followed) inside the model's folder; `offset` + `length` must lie inside that file and
    /// `length` must equal the declared size.
    private mutating func external(_ p: Onnx_TensorProto, name: String, bytes: Int) throws -> Data {
        func fail(_ d: String) -> ONNXError { .externalData(path, name: name, detail: d) }
        var location: String?, offset = 0, length: Int?
        for e in p.externalData {
            switch e.key {
            case "location": location = e.value
            case "offset":
                guard let v = Int(e.value), v >= 0 else { throw fail("offset '\(e.value)' is not a non-negative integer") }
                offset = v
            case "length":
                guard let v = Int(e.value), v >= 0 else { throw fail("length '\(e.value)' is not a non-negative integer") }
                length = v
            default: break
            }
        }
        guard let loc = location, !loc.isEmpty else { throw fail("has no location") }
        guard let folder else { throw fail("'\(loc)' cannot be resolved for a model read from memory") }
        let parts = loc.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "/" || $0 == "\\" })
        if loc.hasPrefix("/") || loc.hasPrefix("\\") || loc.contains("\0") || loc.contains(":") || loc.hasPrefix("~") {
            throw fail("path '\(loc)' is absolute or not a plain relative path; it must name a file in the model's folder")
        }
        if parts.contains("..") { throw fail("path '\(loc)' contains '..'; it must name a file in the model's folder") }
        let base = folder.standardizedFileURL.resolvingSymlinksInPath().path
        let resolved = folder.appendingPathComponent(loc).standardizedFileURL.resolvingSymlinksInPath().path
        guard resolved.hasPrefix(base.hasSuffix("/") ? base : base + "/") else {
            throw fail("path '\(loc)' resolves to \(resolved), outside the model's folder \(base)")
        }
        let data: Data
        if let d = files[resolved] { data = d } else {
            var isDir: ObjCBool = false
            guard FileManager.default.fileExists(atPath: resolved, isDirectory: &isDir), !isDir.boolValue else {
                throw fail("file '\(loc)' does not exist beside the model")
            }
            do { data = try Data(contentsOf: URL(fileURLWithPath: resolved), options: [.alwaysMapped]) } catch {
                throw fail("file '\(loc)' cannot be read: \(error)")
            }
            files[resolved] = data
        }
        let len = length ?? (data.count - offset)
        guard len == bytes else { throw fail("length \(len) differs from the \(bytes) bytes its shape needs") }
        let (end, o) = offset.addingReportingOverflow(len)
        guard !o, offset <= data.count, end <= data.count else {
            throw fail("range \(offset)..<\(offset &+ len) lies outside '\(loc)' (\(data.count) bytes)")
        }
        return data.subdata(in: (data.startIndex + offset)..<(data.startIndex + end))
    }
}
