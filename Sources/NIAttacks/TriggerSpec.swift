import NITensor

/// A trojan trigger: a pattern, where it goes, and how opaque it is — the attacker's "location mask `m_L`
/// and trigger pattern `p`" of Huang et al., *NeuronInspect* (section "Algorithm Design"), covering the
/// paper's experiments: BadNets square patches of varying size and corner (Tables 2 and 3), several triggers
/// of the same shape at the four corners ("Multiple triggers detection"), and the translucent trigger that
/// covers the whole image at 10% opacity ("Translucent trigger detection").
///
/// Stamping an image `x` gives `x' = (1 - m) ⊙ x + m ⊙ p`, where the mask `m` is the opacity α inside each
/// patch (everywhere for `.fullImage`) and 0 elsewhere, the same for every channel, and `p` is the pattern.
/// With α = 1 the patch replaces the pixels (the BadNets replacement attack); with α < 1 it is blended in.
///
/// Patterns (`Pattern`), drawn inside each patch, relative to the patch's top-left pixel:
/// * `.solid(color)`: one gray value, or one RGB colour, in [0, 1] (white by default);
/// * `.checkerboard`: 1 at the patch's top-left pixel, alternating 1/0 along rows and columns
///   (`p(y, x) = (x + y) even ? 1 : 0`), the same on every channel;
/// * `.random(seed:)`: every pixel of every channel is 0 or 1 with probability 1/2 (a binary pattern, not
///   uniform in [0, 1]), drawn from `SeededGenerator(seed:)` in channel, row, column order over the patch, so
///   each patch of a multi-position trigger carries the same pattern;
/// * `.image(path:)`: a PNG, PPM or PGM file, converted to the image's channels (gray ↔ RGB) and resized
///   bilinearly to the patch (NIDatasets' decoders and `Bilinear`), values `byte / 255`.
///
/// Placement (`Placement`): `.patches(width:height:positions:)` puts a `width` x `height` patch at each
/// position (`.corner(_, margin:)`, `margin` pixels from both edges of that corner, or `.at(x:y:)`, the
/// patch's top-left pixel); where patches overlap, the later position's pattern wins. `.fullImage` covers the
/// whole image (the translucent trigger), with the pattern drawn over the whole image.
///
/// ## Compact syntax (`TriggerSpec(parsing:)`, printed back by `description`)
///
///     patch   := PATTERN ":" SIZE (":" OPTION)* "@" POSITIONS ("+margin=" M)?
///     blend   := "blend:" PATTERN (":" OPTION)*
///     PATTERN := "square" | "solid" | "checkerboard" | "random" | "image:" PATH
///     SIZE    := N | W "x" H                    (pixels; N means N x N)
///     OPTION  := "seed=" S                      (random patterns; default 0)
///              | "color=" V | "color=" R,G,B    (solid patterns, values in [0, 1]; default white, 1)
///              | "alpha=" A                     (opacity in (0, 1]; default 1 for patches, 0.1 for blend)
///     POSITIONS := POSITION ("," POSITION)*
///     POSITION  := CORNER (":margin=" M)? | "all-corners" | "x=" X ",y=" Y
///     CORNER    := "bottom-right" | "bottom-left" | "top-right" | "top-left"
///
/// `+margin=M` sets the margin of every corner that has no `:margin=` of its own (default 1);
/// `all-corners` stands for `top-left,top-right,bottom-left,bottom-right` (four triggers). Examples:
/// `square:4@bottom-right` (white 4x4, 1 pixel from the bottom and right edges), `checkerboard:5@top-left+margin=2`,
/// `random:4:seed=7@bottom-right`, `square:3@all-corners`, `square:3@bottom-right,top-left`,
/// `square:4@x=20,y=20`, `image:path/to/p.png:6@bottom-right`, `square:6x4:color=1,0,0:alpha=0.5@top-left`,
/// `blend:random:seed=1:alpha=0.1` (the paper's 10% translucent trigger). The image path runs from `image:`
/// to the size; the position list starts after the last `@`.
public struct TriggerSpec: Codable, Equatable, Sendable, CustomStringConvertible {
    /// What is drawn inside each patch (or over the whole image for `.fullImage`).
    public var pattern: Pattern
    /// Where the trigger goes: patches at positions, or the whole image.
    public var placement: Placement
    /// The mask value α inside the trigger, in (0, 1]: 1 replaces the pixels (BadNets), less blends.
    public var opacity: Float

    /// The margin of a corner position when none is given.
    public static let defaultMargin = 1
    /// The opacity of a `blend:` trigger when none is given: the paper's 10% translucent trigger.
    public static let defaultBlendOpacity: Float = 0.1

    /// A trigger from its parts (not validated here; `validate()`, the renderers and `stamp` check it).
    public init(pattern: Pattern, placement: Placement, opacity: Float = 1) {
        self.pattern = pattern
        self.placement = placement
        self.opacity = opacity
    }

    /// `size` x `size` patches of `pattern` at `positions`.
    public init(pattern: Pattern = .solid(.white), size: Int, positions: [Position], opacity: Float = 1) {
        self.init(pattern: pattern, placement: .patches(width: size, height: size, positions: positions),
                  opacity: opacity)
    }

    /// `width` x `height` patches of `pattern` at `positions`.
    public init(pattern: Pattern = .solid(.white), width: Int, height: Int, positions: [Position], opacity: Float = 1) {
        self.init(pattern: pattern, placement: .patches(width: width, height: height, positions: positions),
                  opacity: opacity)
    }

    /// A translucent trigger covering the whole image (the paper's "Translucent trigger detection": the
    /// pattern is as large as the image and blended at 10%).
    public static func blend(_ pattern: Pattern, opacity: Float = defaultBlendOpacity) -> TriggerSpec {
        TriggerSpec(pattern: pattern, placement: .fullImage, opacity: opacity)
    }

    /// A colour of a solid pattern: one gray value or three RGB values, each in [0, 1] (the paper's MNIST
    /// and GTSRB triggers are white squares, Tables 2 and 3).
    ///
    /// On gray images an RGB colour becomes its BT.601 luma `0.299 R + 0.587 G + 0.114 B` (the rule
    /// NIDatasets uses to convert images); on RGB images a gray value is repeated on every channel. A gray
    /// colour works with any number of channels, an RGB colour with 1 or 3.
    public struct Color: Codable, Equatable, Sendable, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral {
        /// One value (gray) or three (red, green, blue).
        public var components: [Float]

        /// A colour from one (gray) or three (RGB) components.
        public init(components: [Float]) { self.components = components }
        /// A gray value.
        public static func gray(_ value: Float) -> Color { Color(components: [value]) }
        /// An RGB colour.
        public static func rgb(_ red: Float, _ green: Float, _ blue: Float) -> Color {
            Color(components: [red, green, blue])
        }
        /// White, 1: the usual BadNets square.
        public static let white = Color.gray(1)
        /// Black, 0.
        public static let black = Color.gray(0)

        public init(floatLiteral value: Float) { self.init(components: [value]) }
        public init(integerLiteral value: Int) { self.init(components: [Float(value)]) }

        public init(from decoder: Decoder) throws {
            components = try decoder.singleValueContainer().decode([Float].self)
        }
        public func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(components)
        }

        /// The value on channel `c` of a `channels`-channel image, or nil when it cannot be drawn there.
        func value(channel c: Int, of channels: Int) -> Float? {
            if components.count == 1 { return components[0] }
            if channels == 3 { return components[c] }
            if channels == 1 { return 0.299 * components[0] + 0.587 * components[1] + 0.114 * components[2] }
            return nil
        }
    }

    /// What a trigger looks like, the pattern `p` of the paper's attack model (Table 3 varies it between a
    /// white square and a patterned patch; see the type's documentation for the exact values).
    public enum Pattern: Codable, Equatable, Sendable {
        /// One gray value or RGB colour, in [0, 1].
        case solid(Color)
        /// Alternating 1/0, 1 at the top-left pixel of the patch (of the image for `.fullImage`).
        case checkerboard
        /// Per pixel and per channel 0 or 1 with probability 1/2, from `SeededGenerator(seed:)`.
        case random(seed: UInt64)
        /// A PNG/PPM/PGM file, resized bilinearly to the patch (relative paths: from the current directory).
        case image(path: String)

        private enum Key: String, CodingKey { case kind, color, seed, path }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            let kind = try c.decode(String.self, forKey: .kind)
            switch kind {
            case "solid": self = .solid(try c.decode(Color.self, forKey: .color))
            case "checkerboard": self = .checkerboard
            case "random": self = .random(seed: try c.decode(UInt64.self, forKey: .seed))
            case "image": self = .image(path: try c.decode(String.self, forKey: .path))
            default:
                throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription:
                    "unknown trigger pattern kind '\(kind)' (expected solid, checkerboard, random or image)")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            switch self {
            case .solid(let color): try c.encode("solid", forKey: .kind); try c.encode(color, forKey: .color)
            case .checkerboard: try c.encode("checkerboard", forKey: .kind)
            case .random(let seed): try c.encode("random", forKey: .kind); try c.encode(seed, forKey: .seed)
            case .image(let path): try c.encode("image", forKey: .kind); try c.encode(path, forKey: .path)
            }
        }
    }

    /// A corner of the image (Table 3 of the paper places triggers at the bottom right and upper left;
    /// "Multiple triggers detection" uses all four).
    public enum Corner: String, Codable, Sendable, CaseIterable {
        case topLeft = "top-left"
        case topRight = "top-right"
        case bottomLeft = "bottom-left"
        case bottomRight = "bottom-right"
    }

    /// Where one patch goes: one trigger location of the paper's location mask `m_L`.
    public enum Position: Codable, Equatable, Sendable, CustomStringConvertible {
        /// In a corner, `margin` pixels from both edges that meet there.
        case corner(Corner, margin: Int = TriggerSpec.defaultMargin)
        /// With its top-left pixel at column `x`, row `y`.
        case at(x: Int, y: Int)

        /// The four corners in the order `all-corners` stands for: top-left, top-right, bottom-left, bottom-right.
        public static func allCorners(margin: Int = TriggerSpec.defaultMargin) -> [Position] {
            Corner.allCases.map { .corner($0, margin: margin) }
        }

        /// The column and row of the patch's top-left pixel in a `imageWidth` x `imageHeight` image.
        public func origin(patchWidth w: Int, patchHeight h: Int, imageWidth W: Int, imageHeight H: Int) -> (x: Int, y: Int) {
            switch self {
            case let .at(x, y): return (x, y)
            case let .corner(corner, m):
                switch corner {
                case .topLeft: return (m, m)
                case .topRight: return (W - m - w, m)
                case .bottomLeft: return (m, H - m - h)
                case .bottomRight: return (W - m - w, H - m - h)
                }
            }
        }

        /// `bottom-right (margin 1)` or `x=20,y=20`, for messages.
        public var description: String {
            switch self {
            case let .corner(c, m): return "\(c.rawValue) (margin \(m))"
            case let .at(x, y): return "x=\(x),y=\(y)"
            }
        }

        private enum Key: String, CodingKey { case corner, margin, x, y }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            if let corner = try c.decodeIfPresent(Corner.self, forKey: .corner) {
                self = .corner(corner, margin: try c.decodeIfPresent(Int.self, forKey: .margin) ?? TriggerSpec.defaultMargin)
            } else {
                self = .at(x: try c.decode(Int.self, forKey: .x), y: try c.decode(Int.self, forKey: .y))
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            switch self {
            case let .corner(corner, m): try c.encode(corner, forKey: .corner); try c.encode(m, forKey: .margin)
            case let .at(x, y): try c.encode(x, forKey: .x); try c.encode(y, forKey: .y)
            }
        }
    }

    /// Where the trigger is drawn: patches (the replacement attack of Tables 2 and 3) or the whole image
    /// (the paper's translucent, additive-style trigger).
    public enum Placement: Codable, Equatable, Sendable {
        /// A `width` x `height` patch at each position (one trigger per position).
        case patches(width: Int, height: Int, positions: [Position])
        /// The whole image (the translucent trigger).
        case fullImage

        private enum Key: String, CodingKey { case kind, width, height, positions }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: Key.self)
            let kind = try c.decode(String.self, forKey: .kind)
            switch kind {
            case "patches":
                self = .patches(width: try c.decode(Int.self, forKey: .width), height: try c.decode(Int.self, forKey: .height),
                                positions: try c.decode([Position].self, forKey: .positions))
            case "fullImage": self = .fullImage
            default:
                throw DecodingError.dataCorruptedError(forKey: .kind, in: c, debugDescription:
                    "unknown trigger placement '\(kind)' (expected patches or fullImage)")
            }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: Key.self)
            switch self {
            case let .patches(w, h, positions):
                try c.encode("patches", forKey: .kind)
                try c.encode(w, forKey: .width); try c.encode(h, forKey: .height)
                try c.encode(positions, forKey: .positions)
            case .fullImage: try c.encode("fullImage", forKey: .kind)
            }
        }
    }

    /// The positions of a patch trigger (empty for `.fullImage`).
    public var positions: [Position] {
        if case let .patches(_, _, p) = placement { return p }
        return []
    }

    /// Whether the trigger covers the whole image.
    public var isFullImage: Bool { placement == .fullImage }

    /// Number of separate triggers: one per position, or 1 for a full-image trigger.
    public var triggerCount: Int { isFullImage ? 1 : positions.count }

    /// One trigger per position (the trigger itself for `.fullImage`): the "multiple triggers" of the paper
    /// are the positions of one spec, and poisoning gives each poisoned image one of them.
    public var separated: [TriggerSpec] {
        guard case let .patches(w, h, positions) = placement, positions.count > 1 else { return [self] }
        return positions.map { TriggerSpec(pattern: pattern, placement: .patches(width: w, height: h, positions: [$0]),
                                           opacity: opacity) }
    }

    /// Checks the values that do not depend on the image: opacity in (0, 1], positive patch size, at least
    /// one position and no position twice, non-negative margins and coordinates, colour values in [0, 1]
    /// (1 or 3 of them), a non-empty image path.
    public func validate() throws(AttackError) {
        func bad(_ problem: String) -> AttackError { .invalidTrigger(spec: description, problem: problem) }
        guard opacity.isFinite, opacity > 0, opacity <= 1 else {
            throw bad("opacity (alpha) must lie in (0, 1], got \(opacity); 1 replaces the pixels, 0.1 is the paper's "
                      + "10% translucent trigger")
        }
        switch pattern {
        case .solid(let color):
            guard color.components.count == 1 || color.components.count == 3 else {
                throw bad("a colour has 1 (gray) or 3 (RGB) values, got \(color.components.count)")
            }
            guard color.components.allSatisfy({ $0.isFinite && $0 >= 0 && $0 <= 1 }) else {
                throw bad("colour values must lie in [0, 1], got \(color.components)")
            }
        case .image(let path):
            guard !path.isEmpty else { throw bad("the pattern image path is empty") }
        case .checkerboard, .random: break
        }
        if case let .patches(w, h, positions) = placement {
            guard w >= 1, h >= 1 else { throw bad("the patch size must be at least 1x1, got \(w)x\(h)") }
            guard !positions.isEmpty else { throw bad("a patch trigger needs at least one position") }
            for (i, p) in positions.enumerated() {
                switch p {
                case let .corner(c, m):
                    guard m >= 0 else { throw bad("the margin of \(c.rawValue) must be >= 0, got \(m)") }
                case let .at(x, y):
                    guard x >= 0, y >= 0 else { throw bad("position x=\(x),y=\(y) must not be negative") }
                }
                if positions[..<i].contains(p) { throw bad("position \(p) is listed twice") }
            }
        }
    }

    // MARK: - Compact string

    /// The compact string (see the type's documentation); `TriggerSpec(parsing: s.description) == s`.
    public var description: String {
        var parts: [String] = []
        switch pattern {
        case .solid: parts.append(isFullImage ? "solid" : "square")
        case .checkerboard: parts.append("checkerboard")
        case .random: parts.append("random")
        case .image(let path): parts.append("image:" + path)
        }
        if case let .patches(w, h, _) = placement { parts.append(w == h ? "\(w)" : "\(w)x\(h)") }
        switch pattern {
        case .random(let seed): parts.append("seed=\(seed)")
        case .solid(let color) where color != .white:
            parts.append("color=" + color.components.map(TriggerSpec.format).joined(separator: ","))
        default: break
        }
        switch placement {
        case .fullImage:
            parts.append("alpha=\(TriggerSpec.format(opacity))")
            return "blend:" + parts.joined(separator: ":")
        case let .patches(_, _, positions):
            if opacity != 1 { parts.append("alpha=\(TriggerSpec.format(opacity))") }
            return parts.joined(separator: ":") + "@" + TriggerSpec.positionsText(positions)
        }
    }

    /// A number as short as round-trips: `1`, `0.1`, `0.25`.
    static func format(_ v: Float) -> String {
        if v.isFinite, v == v.rounded(), abs(v) < 1e7 { return String(Int(v)) }
        return "\(v)"
    }

    static func positionsText(_ positions: [Position]) -> String {
        let margins = positions.compactMap { p -> Int? in if case let .corner(_, m) = p { return m }; return nil }
        let common: Int? = margins.isEmpty ? nil : (margins.allSatisfy { $0 == margins[0] } ? margins[0] : nil)
        var items: [String]
        if let m = common, positions == Position.allCorners(margin: m) {
            items = ["all-corners"]
        } else {
            items = positions.map { p in
                switch p {
                case let .corner(c, m): return common == nil ? "\(c.rawValue):margin=\(m)" : c.rawValue
                case let .at(x, y): return "x=\(x),y=\(y)"
                }
            }
        }
        var text = items.joined(separator: ",")
        if let m = common, m != defaultMargin { text += "+margin=\(m)" }
        return text
    }
}
