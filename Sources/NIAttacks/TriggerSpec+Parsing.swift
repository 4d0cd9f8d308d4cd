import Foundation

extension TriggerSpec {
    /// Reads the compact syntax documented on `TriggerSpec` (e.g. `square:4@bottom-right`,
    /// `random:4:seed=7@all-corners`, `blend:random:seed=1:alpha=0.1`) and validates the result.
    ///
    /// - Throws: `AttackError.syntax` naming the offending part of `text` and what was expected there, or
    ///   `AttackError.invalidTrigger` for a readable but impossible value (alpha 0, a 0x0 patch, ...).
    public init(parsing text: String) throws(AttackError) {
        var parser = TriggerParser(spec: text.trimmingCharacters(in: .whitespacesAndNewlines))
        self = try parser.parse()
        try validate()
    }
}

/// The parser behind `TriggerSpec(parsing:)`.
struct TriggerParser {
    let spec: String

    func fail(_ part: some StringProtocol, _ problem: String) -> AttackError {
        .syntax(spec: spec, part: String(part), problem: problem)
    }

    /// Options read from the pattern part.
    struct Options {
        var seed: UInt64?
        var color: TriggerSpec.Color?
        var alpha: Float?
    }

    mutating func parse() throws(AttackError) -> TriggerSpec {
        guard !spec.isEmpty else { throw fail("", "the trigger is empty") }
        if spec.lowercased().hasPrefix("blend:") { return try parseBlend(String(spec.dropFirst("blend:".count))) }
        if spec.lowercased() == "blend" { throw fail(spec, "blend needs a pattern, e.g. blend:random:seed=1:alpha=0.1") }
        guard let at = spec.lastIndex(of: "@") else {
            throw fail(spec, "no '@' before the position: a patch trigger needs one, e.g. square:4@bottom-right "
                       + "(a full-image translucent trigger starts with blend:)")
        }
        let head = spec[..<at], tail = spec[spec.index(after: at)...]
        var tokens = head.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let kind = tokens.removeFirst().lowercased()
        var path: String?
        var sizeToken: String?
        var optionTokens: [String] = []
        if kind == "image" {
            // The path runs from "image:" to the size: options are taken from the end first.
            while let last = tokens.last, last.contains("=") { optionTokens.insert(tokens.removeLast(), at: 0) }
            guard tokens.count >= 2 else {
                throw fail(head, "an image trigger is image:PATH:SIZE, e.g. image:trigger.png:6@bottom-right")
            }
            sizeToken = tokens.removeLast()
            path = tokens.joined(separator: ":")
        } else {
            for t in tokens {
                if t.contains("=") { optionTokens.append(t); continue }
                guard sizeToken == nil else {
                    throw fail(t, "a second size (the size is already '\(sizeToken!)'); options are NAME=VALUE")
                }
                sizeToken = t
            }
        }
        let pattern0 = try patternKind(kind, path: path, part: head)
        guard let sizeToken, !sizeToken.isEmpty else {
            throw fail(head, "no patch size: write the side in pixels (square:4@...) or WxH (square:6x4@...)")
        }
        let (w, h) = try size(sizeToken)
        let options = try parseOptions(optionTokens, pattern: pattern0)
        let positions = try parsePositions(tail)
        return TriggerSpec(pattern: applying(options, to: pattern0),
                           placement: .patches(width: w, height: h, positions: positions),
                           opacity: options.alpha ?? 1)
    }

    mutating func parseBlend(_ rest: String) throws(AttackError) -> TriggerSpec {
        var tokens = rest.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let kind = tokens.removeFirst().lowercased()
        var optionTokens: [String] = []
        var path: String?
        if kind == "image" {
            while let last = tokens.last, last.contains("=") { optionTokens.insert(tokens.removeLast(), at: 0) }
            guard !tokens.isEmpty else {
                throw fail(rest, "a full-image image trigger is blend:image:PATH[:alpha=A]")
            }
            path = tokens.joined(separator: ":")
        } else {
            if spec.contains("@") {
                throw fail(spec[spec.lastIndex(of: "@")!...],
                           "a blend trigger covers the whole image and takes no position: remove the '@...' part")
            }
            for t in tokens {
                guard t.contains("=") else {
                    if Int(t) != nil || t.lowercased().contains("x") && t.first?.isNumber == true {
                        throw fail(t, "a blend trigger covers the whole image and takes no size")
                    }
                    throw fail(t, "expected an option NAME=VALUE (seed=, color=, alpha=)")
                }
                optionTokens.append(t)
            }
        }
        let pattern0 = try patternKind(kind, path: path, part: "blend:" + rest)
        let options = try parseOptions(optionTokens, pattern: pattern0)
        return TriggerSpec(pattern: applying(options, to: pattern0), placement: .fullImage,
                           opacity: options.alpha ?? TriggerSpec.defaultBlendOpacity)
    }

    func patternKind(_ kind: String, path: String?, part: some StringProtocol) throws(AttackError) -> TriggerSpec.Pattern {
        switch kind {
        case "square", "solid": return .solid(.white)
        case "checkerboard": return .checkerboard
        case "random": return .random(seed: 0)
        case "image":
            guard let path, !path.isEmpty else { throw fail(part, "the image path is empty") }
            return .image(path: path)
        case "":
            throw fail(part, "no pattern name before ':'; use square, solid, checkerboard, random or image:PATH")
        default:
            throw fail(kind, "unknown pattern; use square, solid, checkerboard, random or image:PATH")
        }
    }

    func size(_ token: String) throws(AttackError) -> (Int, Int) {
        let lower = token.lowercased()
        let parts = lower.split(separator: "x", omittingEmptySubsequences: false)
        func side(_ s: Substring) -> Int? { Int(s).flatMap { $0 >= 1 ? $0 : nil } }
        if parts.count == 1, let n = side(parts[0]) { return (n, n) }
        if parts.count == 2, let w = side(parts[0]), let h = side(parts[1]) { return (w, h) }
        throw fail(token, "the size must be a positive number of pixels N (N x N) or WxH, e.g. 4 or 6x4")
    }

    func parseOptions(_ tokens: [String], pattern: TriggerSpec.Pattern) throws(AttackError) -> Options {
        var o = Options()
        var seen: Set<String> = []
        for t in tokens {
            let eq = t.firstIndex(of: "=")!
            let key = t[..<eq].lowercased(), value = String(t[t.index(after: eq)...])
            guard seen.insert(key == "opacity" ? "alpha" : key).inserted else { throw fail(t, "'\(key)' is given twice") }
            switch key {
            case "seed":
                guard case .random = pattern else { throw fail(t, "seed= applies only to random patterns") }
                guard let s = UInt64(value) else { throw fail(t, "the seed must be a non-negative integer") }
                o.seed = s
            case "color", "colour":
                guard case .solid = pattern else { throw fail(t, "color= applies only to square/solid patterns") }
                let values = value.split(separator: ",", omittingEmptySubsequences: false).map { Float($0) }
                guard values.count == 1 || values.count == 3, values.allSatisfy({ $0 != nil && $0!.isFinite }) else {
                    throw fail(t, "a colour is one gray value or three RGB values in [0, 1], e.g. color=0.5 or color=1,0,0")
                }
                o.color = TriggerSpec.Color(components: values.map { $0! })
            case "alpha", "opacity":
                guard let a = Float(value), a.isFinite else { throw fail(t, "alpha must be a number in (0, 1], e.g. alpha=0.1") }
                o.alpha = a
            case "margin":
                throw fail(t, "margin goes after the positions, e.g. square:4@top-left+margin=2")
            default:
                throw fail(t, "unknown option '\(key)'; options are seed= (random), color= (square/solid) and alpha=")
            }
        }
        return o
    }

    func applying(_ o: Options, to pattern: TriggerSpec.Pattern) -> TriggerSpec.Pattern {
        switch pattern {
        case .random: return .random(seed: o.seed ?? 0)
        case .solid: return .solid(o.color ?? .white)
        default: return pattern
        }
    }

    func parsePositions(_ tail: Substring) throws(AttackError) -> [TriggerSpec.Position] {
        let pieces = tail.split(separator: "+", omittingEmptySubsequences: false)
        let list = pieces[0]
        var margin = TriggerSpec.defaultMargin
        var marginSet = false
        for option in pieces.dropFirst() {
            let lower = option.lowercased()
            guard lower.hasPrefix("margin=") else {
                if lower.hasPrefix("alpha=") || lower.hasPrefix("seed=") || lower.hasPrefix("color=") {
                    throw fail(option, "this option goes before the '@', e.g. square:4:alpha=0.5@bottom-right")
                }
                throw fail(option, "after '+' only margin=M is allowed")
            }
            guard !marginSet else { throw fail(option, "margin is given twice") }
            guard let m = Int(lower.dropFirst("margin=".count)), m >= 0 else {
                throw fail(option, "the margin must be a non-negative integer number of pixels")
            }
            margin = m
            marginSet = true
        }
        guard !list.isEmpty else {
            throw fail("@" + tail, "no position after '@'; use bottom-right, bottom-left, top-right, top-left, "
                       + "all-corners or x=X,y=Y")
        }
        enum Item { case corner(TriggerSpec.Corner, Int?), all, at(Int, Int) }
        var items: [Item] = []
        let tokens = list.split(separator: ",", omittingEmptySubsequences: false)
        var i = 0
        while i < tokens.count {
            let t = tokens[i], lower = t.lowercased()
            if t.isEmpty { throw fail(list, "an empty position (two commas in a row, or a trailing comma)") }
            if lower == "all-corners" {
                items.append(.all)
            } else if lower.hasPrefix("x=") {
                guard let x = Int(lower.dropFirst(2)) else { throw fail(t, "x must be an integer column") }
                guard i + 1 < tokens.count, tokens[i + 1].lowercased().hasPrefix("y=") else {
                    throw fail(t, "x=X must be followed by y=Y, e.g. x=20,y=20")
                }
                guard let y = Int(tokens[i + 1].dropFirst(2)) else { throw fail(tokens[i + 1], "y must be an integer row") }
                items.append(.at(x, y))
                i += 1
            } else if lower.hasPrefix("y=") {
                throw fail(t, "y=Y must follow x=X, e.g. x=20,y=20")
            } else {
                let parts = lower.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                guard let corner = TriggerSpec.Corner(rawValue: String(parts[0])) else {
                    throw fail(t, "unknown position; use bottom-right, bottom-left, top-right, top-left, all-corners "
                               + "or x=X,y=Y")
                }
                var own: Int?
                if parts.count == 2 {
                    guard parts[1].hasPrefix("margin="), let m = Int(parts[1].dropFirst("margin=".count)), m >= 0 else {
                        throw fail(t, "a corner's own margin is written \(corner.rawValue):margin=M with M >= 0")
                    }
                    own = m
                }
                items.append(.corner(corner, own))
            }
            i += 1
        }
        var positions: [TriggerSpec.Position] = []
        for item in items {
            switch item {
            case .all: positions += TriggerSpec.Position.allCorners(margin: margin)
            case let .corner(c, own): positions.append(.corner(c, margin: own ?? margin))
            case let .at(x, y): positions.append(.at(x: x, y: y))
            }
        }
        return positions
    }
}
