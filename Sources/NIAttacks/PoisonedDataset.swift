import NITensor
import NIDatasets

/// A BadNets-poisoned training set (Gu et al., as used by Huang et al., *NeuronInspect*, "Trojan Backdoor
/// Attack on DNNs" and Table 1): a fraction `injectRatio` of the training images carry the trigger and are
/// relabelled to the attack target, the rest are served unchanged.
///
/// The clean `ImageSet` is wrapped, not copied: `fill(batch:into:labels:)` copies the requested images and
/// stamps the poisoned ones on the fly, allocating nothing once the batch tensor and label array have grown.
/// A poisoned image *replaces* its clean version (the set keeps its size N).
///
/// Which images are poisoned: `round(injectRatio · N)` of them, N counting every training image (the
/// paper's inject ratio is a fraction of the training set, 0.01 in Table 1). They are taken in the order of
/// a Fisher-Yates shuffle of `0..<N` by `SeededGenerator(seed: seed ^ PoisonedDataset.seedSalt)` (the same
/// seed always poisons the same images), the k-th poisoned image getting trigger `k mod T`. With
/// `source == .nonTarget` (the default) an image whose true label already is that trigger's target is
/// skipped (relabelling it would teach nothing); with `.any` every image is a candidate.
///
/// Several triggers (the paper's "Multiple triggers detection", e.g. `square:3@all-corners`): with
/// `stamping == .onePositionPerImage` (the default) each position of the spec is a separate trigger and
/// each poisoned image carries exactly one of them, so every corner alone activates the backdoor; `targets`
/// holds one label for all of them (all-to-one, the paper's setting) or one label per position. With
/// `.allPositions` every poisoned image carries all patches at once and there is one target.
public struct PoisonedDataset: BatchSource, Sendable {
    /// Which images may be poisoned (the paper poisons a fraction of the training set, Table 1).
    public enum Source: String, Codable, Sendable {
        /// Only images whose true label differs from the target of the trigger they would receive.
        case nonTarget
        /// Any image.
        case any
    }

    /// How a multi-position trigger is applied (the paper's "Multiple triggers detection": the same trigger
    /// at several locations, each inducing the target).
    public enum Stamping: String, Codable, Sendable {
        /// Each position is a separate trigger; a poisoned image carries one (round-robin over positions).
        case onePositionPerImage
        /// A poisoned image carries every patch of the spec.
        case allPositions
    }

    /// Mixed into the seed so the poisoned indices do not follow the training shuffle of the same seed.
    public static let seedSalt: UInt64 = 0xBAD_BADBAD

    /// The clean training set (shared, never modified).
    public let clean: ImageSet
    /// The trigger as given.
    public let trigger: TriggerSpec
    /// The targets as given (one, or one per position).
    public let targets: [Int]
    /// Fraction of the training set poisoned.
    public let injectRatio: Double
    /// Seed of the choice of poisoned images.
    public let seed: UInt64
    /// Which images could be chosen.
    public let source: Source
    /// How multi-position triggers are applied.
    public let stamping: Stamping
    /// The separate triggers, prepared for the image size (one per position, or one).
    public let triggers: [CompiledTrigger]
    /// The target label of each trigger of `triggers`.
    public let triggerTargets: [Int]
    /// The poisoned training indices, ascending.
    public let poisonedIndices: [Int]
    /// Per training image: the index into `triggers` it carries, or -1 for a clean image.
    private let assignment: [Int32]

    /// Poisons `clean` with `trigger`, relabelling to `targets` (see the type's documentation).
    ///
    /// - Throws: `AttackError` for an invalid trigger or one that does not fit the images, an inject ratio
    ///   outside [0, 1], a target outside the classes, a wrong number of targets, or too few candidates.
    public init(clean: ImageSet, trigger: TriggerSpec, targets: [Int], injectRatio: Double, seed: UInt64,
                source: Source = .nonTarget, stamping: Stamping = .onePositionPerImage) throws(AttackError) {
        guard injectRatio.isFinite, injectRatio >= 0, injectRatio <= 1 else { throw .invalidInjectRatio(injectRatio) }
        let parts = stamping == .onePositionPerImage ? trigger.separated : [trigger]
        guard targets.count == 1 || targets.count == parts.count else {
            throw .targetCount(given: targets.count, triggers: parts.count, spec: trigger.description)
        }
        for t in targets where t < 0 || t >= clean.classCount {
            throw .targetOutOfRange(target: t, classCount: clean.classCount)
        }
        var compiled: [CompiledTrigger] = []
        for p in parts {
            compiled.append(try p.compiled(channels: clean.channels, height: clean.height, width: clean.width))
        }
        let groupTargets = targets.count == 1 ? [Int](repeating: targets[0], count: parts.count) : targets

        let n = clean.count
        let wanted = Int((injectRatio * Double(n)).rounded())
        var order = Array(0..<n)
        var rng = SeededGenerator(seed: seed ^ PoisonedDataset.seedSalt)
        rng.shuffle(&order)
        var assignment = [Int32](repeating: -1, count: n)
        var chosen: [Int] = []
        chosen.reserveCapacity(wanted)
        for i in order where chosen.count < wanted {
            let g = chosen.count % parts.count
            if source == .nonTarget && clean.labels[i] == groupTargets[g] { continue }
            assignment[i] = Int32(g)
            chosen.append(i)
        }
        if chosen.count < wanted {
            let available = source == .any ? n : clean.labels.filter { l in groupTargets.contains { $0 != l } }.count
            throw .notEnoughCandidates(requested: wanted, available: available, total: n,
                                       targets: Array(Set(groupTargets)).sorted())
        }
        self.clean = clean
        self.trigger = trigger
        self.targets = targets
        self.injectRatio = injectRatio
        self.seed = seed
        self.source = source
        self.stamping = stamping
        self.triggers = compiled
        self.triggerTargets = groupTargets
        self.poisonedIndices = chosen.sorted()
        self.assignment = assignment
    }

    /// Poisons `clean` with `trigger`, relabelling every poisoned image to `target` (all-to-one).
    public init(clean: ImageSet, trigger: TriggerSpec, target: Int, injectRatio: Double, seed: UInt64,
                source: Source = .nonTarget, stamping: Stamping = .onePositionPerImage) throws(AttackError) {
        try self.init(clean: clean, trigger: trigger, targets: [target], injectRatio: injectRatio, seed: seed,
                      source: source, stamping: stamping)
    }

    /// Number of training images N (poisoned ones included).
    public var count: Int { clean.count }
    /// `[C, H, W]`.
    public var sampleShape: [Int] { [clean.channels, clean.height, clean.width] }
    /// Number of classes of the task.
    public var classCount: Int { clean.classCount }
    /// Number of poisoned images.
    public var poisonedCount: Int { poisonedIndices.count }

    /// The trigger (index into `triggers`) that image `index` carries, or nil when it is clean.
    public func triggerIndex(of index: Int) -> Int? {
        let g = assignment[index]
        return g < 0 ? nil : Int(g)
    }

    /// The training label of image `index`: the target for a poisoned image, else the true label.
    public func label(at index: Int) -> Int {
        let g = assignment[index]
        return g < 0 ? clean.labels[index] : triggerTargets[Int(g)]
    }

    /// Every training label, poisoned ones replaced by their target.
    public var labels: [Int] { (0..<count).map(label(at:)) }

    /// Copies the images at `indices` into `x` (resized to `[b, C, H, W]`), stamping the poisoned ones, and
    /// their training labels into `labels`. Allocates nothing once `x` and `labels` have grown.
    public func fill(batch indices: ArraySlice<Int>, into x: Tensor, labels: inout [Int]) {
        clean.batch(indices, into: x, labels: &labels)
        let size = clean.imageSize
        assignment.withUnsafeBufferPointer { a in
            var k = 0
            for i in indices {
                let g = Int(a[i])
                if g >= 0 {
                    triggers[g].stampImage(x.data + k * size)
                    labels[k] = triggerTargets[g]
                }
                k += 1
            }
        }
    }
}
