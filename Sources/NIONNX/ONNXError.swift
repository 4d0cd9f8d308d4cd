/// Why an ONNX file could not be read or written. Every message names the file and says what is wrong.
public enum ONNXError: Error, CustomStringConvertible, Equatable {
    case missingFile(String)
    case notONNX(String, reason: String)
    case emptyGraph(String)
    case unsupportedOp(String, op: String, node: String)
    case unsupportedAttribute(String, node: String, detail: String)
    case missingInitializer(String, node: String, name: String)
    case badTensor(String, name: String, detail: String)
    case nonFinite(String, name: String, count: Int)
    case notSequential(String, detail: String)
    case shape(String, detail: String)
    case cannotExport(String)
    /// The graph's nodes depend on each other in a loop.
    case cycle(String, value: String)
    /// A node reads a value that no node, initializer or graph input provides.
    case missingValue(String, node: String, name: String)
    /// A value is produced twice (two nodes, or a node and an initializer/input).
    case duplicateValue(String, name: String)
    /// The model's opset is outside the range this build implements.
    case unsupportedOpset(String, domain: String, version: Int64)
    /// An external-data reference is unsafe or does not match the file it names.
    case externalData(String, name: String, detail: String)
    /// Declared sizes exceed the memory bound.
    case tooLarge(String, detail: String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): no such model file"
        case let .notONNX(p, r): return "\(p): not an ONNX model (\(r))"
        case .emptyGraph(let p): return "\(p): the ONNX graph has no nodes"
        case let .unsupportedOp(p, op, node):
            return "\(p): unsupported ONNX operator '\(op)' (node '\(node)'); run `neuroninspect info --model \(p)` to list the ops it uses"
        case let .unsupportedAttribute(p, node, d): return "\(p): node \(node): \(d)"
        case let .missingInitializer(p, node, n): return "\(p): node \(node) needs weights '\(n)', which the file does not contain"
        case let .badTensor(p, n, d): return "\(p): tensor '\(n)': \(d)"
        case let .nonFinite(p, n, c): return "\(p): tensor '\(n)' holds \(c) NaN or infinite values; the model is corrupt"
        case let .notSequential(p, d): return "\(p): \(d)"
        case let .shape(p, d): return "\(p): \(d)"
        case .cannotExport(let d): return "cannot export to ONNX: \(d)"
        case let .cycle(p, v): return "\(p): graph has a cycle through '\(v)'"
        case let .missingValue(p, node, n): return "\(p): node \(node) reads '\(n)', which no node, initializer or graph input provides"
        case let .duplicateValue(p, n): return "\(p): value '\(n)' is produced more than once"
        case let .unsupportedOpset(p, d, v): return "\(p): opset \(v) of domain '\(d)' is not supported (ai.onnx opsets 9 to 21 are)"
        case let .externalData(p, n, d): return "\(p): tensor '\(n)': external data \(d)"
        case let .tooLarge(p, d): return "\(p): \(d)"
        }
    }
}
