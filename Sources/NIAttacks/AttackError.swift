/// Everything that can go wrong while describing, stamping or evaluating a trojan trigger (the attacks of
/// Huang et al., *NeuronInspect*, section "Algorithm Design": a trigger is a location mask `m` and a pattern
/// `p`, and a backdoor sample is `x' = (1 - m) ⊙ x + m ⊙ p`).
///
/// Every case names what was being done (the trigger's compact string, the sizes involved) and
/// `description` says in plain words what is wrong and what to change. The module throws only this type.
public enum AttackError: Error, CustomStringConvertible, Equatable, Sendable {
    /// A compact trigger string (`TriggerSpec(parsing:)`) could not be read: `part` is the offending piece.
    case syntax(spec: String, part: String, problem: String)
    /// A structurally valid trigger with an impossible value (opacity outside (0, 1], empty size, ...).
    case invalidTrigger(spec: String, problem: String)
    /// A patch does not lie inside the image: it would cover columns `x ..< x + patchWidth` and rows
    /// `y ..< y + patchHeight` of an `imageWidth` x `imageHeight` image.
    case patchDoesNotFit(spec: String, position: String, patchWidth: Int, patchHeight: Int, x: Int, y: Int,
                         imageWidth: Int, imageHeight: Int)
    /// The pattern cannot be drawn with this many channels (an RGB colour or an image on 2 channels, ...).
    case unsupportedChannels(spec: String, channels: Int, reason: String)
    /// The image file of an `.image(path:)` pattern could not be read or decoded.
    case patternImage(spec: String, path: String, reason: String)
    /// A tensor or model does not have the shape the operation needs.
    case shapeMismatch(what: String, expected: [Int], got: [Int])
    /// An image index lies outside the batch or data set.
    case indexOutOfRange(what: String, index: Int, count: Int)
    /// An attack target is not a class of the data set or model.
    case targetOutOfRange(target: Int, classCount: Int)
    /// The number of targets matches neither "one for all triggers" nor "one per trigger position".
    case targetCount(given: Int, triggers: Int, spec: String)
    /// The inject ratio is not a number in [0, 1].
    case invalidInjectRatio(Double)
    /// Fewer images than the inject ratio asks for can be poisoned (their label already is the target).
    case notEnoughCandidates(requested: Int, available: Int, total: Int, targets: [Int])
    /// Attack success rate is undefined: no evaluation image has a true label other than the target.
    case noEvaluationImages(target: Int, count: Int)
    /// A caller passed an argument that cannot work (e.g. a batch size of 0).
    case invalidArgument(String)
    /// Reading or writing a file failed.
    case fileFailed(path: String, reason: String)

    /// The grammar reminder appended to syntax errors.
    static let grammarHint = "write PATTERN:SIZE[:OPTION=VALUE...]@POSITION[,POSITION...][+margin=M] "
        + "(e.g. square:4@bottom-right, random:4:seed=7@all-corners, square:4@x=20,y=20) or "
        + "blend:PATTERN[:OPTION=VALUE...] (e.g. blend:random:seed=1:alpha=0.1)"

    public var description: String {
        switch self {
        case let .syntax(spec, part, problem):
            let what = part.isEmpty ? "" : " at '\(part)'"
            return "trigger '\(spec)'\(what): \(problem). \(AttackError.grammarHint)."
        case let .invalidTrigger(spec, problem):
            return "trigger '\(spec)': \(problem)."
        case let .patchDoesNotFit(spec, position, pw, ph, x, y, iw, ih):
            return "trigger '\(spec)': the \(pw)x\(ph) patch at \(position) would cover columns \(x)..<\(x + pw) "
                + "and rows \(y)..<\(y + ph), which do not fit the \(iw)x\(ih) (width x height) image; use a "
                + "smaller size or margin, or another position"
        case let .unsupportedChannels(spec, channels, reason):
            return "trigger '\(spec)' cannot be drawn on \(channels)-channel images: \(reason)."
        case let .patternImage(spec, path, reason):
            return "trigger '\(spec)': cannot use the pattern image \(path): \(reason)"
        case let .shapeMismatch(what, expected, got):
            return "\(what): expected shape \(expected), got \(got)."
        case let .indexOutOfRange(what, index, count):
            return "\(what): index \(index) is out of range 0..<\(count)."
        case let .targetOutOfRange(target, classCount):
            return "attack target \(target) is not a class: targets must lie in 0..<\(classCount) "
                + "(choose --target accordingly)."
        case let .targetCount(given, triggers, spec):
            return "\(given) targets given for trigger '\(spec)' with \(triggers) trigger position(s): give one "
                + "target (all triggers to one label) or exactly one target per position."
        case let .invalidInjectRatio(ratio):
            return "inject ratio \(ratio) is not in [0, 1]: it is the fraction of training images to poison "
                + "(the paper uses 0.01)."
        case let .notEnoughCandidates(requested, available, total, targets):
            return "the inject ratio asks for \(requested) poisoned images but only \(available) of the \(total) "
                + "training images have a label other than the target(s) \(targets): lower the inject ratio."
        case let .noEvaluationImages(target, count):
            return "attack success rate is undefined: none of the \(count) evaluation images has a true label other "
                + "than the target \(target); evaluate on more images."
        case let .invalidArgument(problem):
            return "invalid argument: \(problem)."
        case let .fileFailed(path, reason):
            return "\(path): \(reason)."
        }
    }
}
