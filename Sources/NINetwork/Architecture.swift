import NITensor

/// A textual network description, the way to describe any sequential architecture on the command line
/// and in checkpoints, e.g.
///
///     input(1,28,28) conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) flatten dense(512) relu dense(10)
///
/// Layers: `conv(out,k[,stride=s][,pad=p])`, `dense(out)`, `relu`, `leakyrelu(alpha)`, `maxpool(k[,stride=s])`,
/// `avgpool(k[,stride=s][,pad=p])`, `gap`, `bn`, `dropout(p)`, `flatten`, `softmax`. Channel and feature
/// counts of inputs are inferred. The paper's two networks (appendix Figures 8 and 9) are `named("mnist")`
/// and `named("gtsrb")`.
public struct ArchitectureSpec: Codable, Equatable, Sendable, CustomStringConvertible {
    public var text: String

    public init(_ text: String) { self.text = text }
    public var description: String { text }

    /// The paper's MNIST network (Figure 8): 2 conv 5x5 with 16/32 filters, each followed by ReLU and 2x2
    /// max-pool, dense 512, dense 10. "Same" padding keeps 28x28 -> 14x14 -> 7x7.
    public static let mnist = ArchitectureSpec(
        "input(1,28,28) conv(16,5,pad=2) relu maxpool(2) conv(32,5,pad=2) relu maxpool(2) flatten dense(512) relu dense(10)")

    /// The paper's GTSRB network (Figure 9): 6 conv 3x3 with 32,32,64,64,128,128 filters, 2x2 max-pool after
    /// each pair, dense 512, dense 43.
    public static let gtsrb = ArchitectureSpec(
        "input(3,32,32) conv(32,3,pad=1) relu conv(32,3,pad=1) relu maxpool(2) conv(64,3,pad=1) relu conv(64,3,pad=1) relu maxpool(2) conv(128,3,pad=1) relu conv(128,3,pad=1) relu maxpool(2) flatten dense(512) relu dense(43)")

    /// The GTSRB network with dropout after each block and the hidden dense layer (as in Neural Cleanse's
    /// GTSRB model); dropout is inactive at inference, so detection sees the same function class.
    public static let gtsrbDropout = ArchitectureSpec(
        "input(3,32,32) conv(32,3,pad=1) relu conv(32,3,pad=1) relu maxpool(2) dropout(0.2) conv(64,3,pad=1) relu conv(64,3,pad=1) relu maxpool(2) dropout(0.2) conv(128,3,pad=1) relu conv(128,3,pad=1) relu maxpool(2) dropout(0.2) flatten dense(512) relu dropout(0.5) dense(43)")

    /// Named architectures accepted by `--arch`.
    public static let catalog: [String: ArchitectureSpec] = [
        "mnist": .mnist, "gtsrb": .gtsrb, "gtsrb-dropout": .gtsrbDropout,
    ]

    /// Looks up a named architecture, or parses `name` itself as a spec when it contains a parenthesis.
    public static func named(_ name: String) throws -> ArchitectureSpec {
        if let s = catalog[name.lowercased()] { return s }
        if name.contains("(") { return ArchitectureSpec(name) }
        throw ArchitectureError.unknownName(name, known: catalog.keys.sorted())
    }

    struct Token { var name: String; var positional: [Double]; var named: [String: Double] }

    func tokens() throws -> [Token] {
        var out: [Token] = []
        var current = "", depth = 0
        var raw: [String] = []
        for ch in text {
            if ch == "(" { depth += 1 } else if ch == ")" { depth -= 1 }
            if depth == 0 && (ch == " " || ch == "\n" || ch == "\t" || ch == ";") {
                if !current.isEmpty { raw.append(current); current = "" }
            } else { current.append(ch) }
        }
        if !current.isEmpty { raw.append(current) }
        for r in raw {
            var name = r, args: [Double] = [], kw: [String: Double] = [:]
            if let open = r.firstIndex(of: "(") {
                guard r.hasSuffix(")") else { throw ArchitectureError.syntax(r) }
                name = String(r[..<open])
                let inner = r[r.index(after: open)..<r.index(before: r.endIndex)]
                for part in inner.split(separator: ",") {
                    let p = part.trimmingCharacters(in: .whitespaces)
                    if let eq = p.firstIndex(of: "=") {
                        guard let v = Double(p[p.index(after: eq)...]) else { throw ArchitectureError.syntax(r) }
                        kw[String(p[..<eq]).lowercased()] = v
                    } else {
                        guard let v = Double(p) else { throw ArchitectureError.syntax(r) }
                        args.append(v)
                    }
                }
            }
            out.append(Token(name: name.lowercased(), positional: args, named: kw))
        }
        return out
    }

    /// Builds the model with weights initialised deterministically from `seed` (He-uniform weights,
    /// `U(±sqrt(6/fan_in))`, zero biases).
    public func build(seed: UInt64 = 0) throws -> Sequential {
        let toks = try tokens()
        guard let first = toks.first, first.name == "input", first.positional.count == 3 else {
            throw ArchitectureError.missingInput(text)
        }
        let inputShape = first.positional.map { Int($0) }
        var shape = [1] + inputShape
        var layers: [Layer] = []
        var counts: [String: Int] = [:]
        func nextName(_ base: String) -> String { counts[base, default: 0] += 1; return "\(base)\(counts[base]!)" }
        for t in toks.dropFirst() {
            func arg(_ i: Int, _ key: String, _ def: Double?) throws -> Int {
                if let v = t.named[key] { return Int(v) }
                if i < t.positional.count { return Int(t.positional[i]) }
                if let d = def { return Int(d) }
                throw ArchitectureError.missingArgument(layer: t.name, argument: key)
            }
            let layer: Layer
            switch t.name {
            case "conv":
                guard shape.count == 4 else { throw ArchitectureError.badPlacement(t.name, shape) }
                let out = try arg(0, "out", nil), k = try arg(1, "k", 3)
                layer = Conv2D(shape[1], out, kernel: k, stride: try arg(2, "stride", 1), padding: try arg(3, "pad", 0),
                               name: nextName("conv"))
            case "dense", "fc", "linear":
                let out = try arg(0, "out", nil)
                layer = Dense(shape.dropFirst().reduce(1, *), out, name: nextName("dense"))
            case "relu": layer = ReLU()
            case "leakyrelu": layer = LeakyReLU(alpha: Float(t.positional.first ?? t.named["alpha"] ?? 0.01))
            case "maxpool":
                let k = try arg(0, "k", 2)
                layer = MaxPool2D(kernel: k, stride: try arg(1, "stride", Double(k)))
            case "avgpool":
                let k = try arg(0, "k", 2)
                layer = AvgPool2D(kernel: k, stride: try arg(1, "stride", Double(k)), padding: try arg(2, "pad", 0))
            case "gap": layer = GlobalAveragePool()
            case "bn", "batchnorm":
                guard shape.count >= 2 else { throw ArchitectureError.badPlacement(t.name, shape) }
                layer = BatchNorm(shape[1], name: nextName("bn"))
            case "dropout": layer = Dropout(Float(t.positional.first ?? t.named["p"] ?? 0.5), seed: seed &+ UInt64(layers.count))
            case "flatten": layer = Flatten()
            case "softmax": layer = Softmax()
            default: throw ArchitectureError.unknownLayer(t.name)
            }
            shape = try layer.outputShape(for: shape)
            layers.append(layer)
        }
        let model = try Sequential(inputShape: inputShape, layers: layers)
        initialize(model, seed: seed)
        return model
    }
}

/// He-uniform initialisation of conv and dense weights from a seed; biases zero.
public func initialize(_ model: Sequential, seed: UInt64) {
    var rng = SeededGenerator(seed: seed)
    for l in model.layers {
        let w: Parameter, fanIn: Int
        if let c = l as? Conv2D { w = c.weight; fanIn = c.inChannels * c.kernelH * c.kernelW; c.bias.value.zero() }
        else if let d = l as? Dense { w = d.weight; fanIn = d.inFeatures; d.bias.value.zero() }
        else { continue }
        let bound = (6 / Float(fanIn)).squareRoot()
        for i in 0..<w.value.count { w.value[i] = (rng.nextUnit() * 2 - 1) * bound }
    }
}

/// Problems in an architecture name or spec.
public enum ArchitectureError: Error, CustomStringConvertible, Equatable {
    case unknownName(String, known: [String])
    case syntax(String)
    case missingInput(String)
    case missingArgument(layer: String, argument: String)
    case unknownLayer(String)
    case badPlacement(String, [Int])

    public var description: String {
        switch self {
        case let .unknownName(n, known):
            return "unknown architecture '\(n)': use one of \(known.joined(separator: ", ")) or a spec such as \"input(1,28,28) conv(16,5,pad=2) relu maxpool(2) flatten dense(10)\""
        case let .syntax(t): return "cannot parse architecture token '\(t)' (expected name or name(arg, key=value))"
        case let .missingInput(t): return "architecture spec must start with input(C,H,W): '\(t)'"
        case let .missingArgument(l, a): return "layer '\(l)' needs argument '\(a)'"
        case let .unknownLayer(l): return "unknown layer '\(l)' (known: conv, dense, relu, leakyrelu, maxpool, avgpool, gap, bn, dropout, flatten, softmax)"
        case let .badPlacement(l, s): return "layer '\(l)' cannot follow a tensor of shape \(s)"
        }
    }
}

import Foundation
