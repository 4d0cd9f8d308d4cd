import Foundation

/// A declarative grid of benign and trojaned models to train and scan (issue 6: the paper's Tables 2-5 and
/// Figures 3-4 are each one plan under `plans/`). Read from JSON; `models()` expands it into a deterministic,
/// named list, and `shard(_:of:)` picks one process's share of that list.
///
/// ```json
/// {"name": "table2-mnist", "dataset": "mnist", "architecture": "mnist", "images": 50,
///  "training": {"epochs": 2, "injectRatio": 0.05},
///  "detectors": ["neuroninspect:default", "neuroninspect:paper"],
///  "benign": 3, "seeds": 2,
///  "attacks": [{"target": 5, "patterns": ["square"], "sizes": [1, 2, 3, 4], "positions": ["bottom-right"]}],
///  "triggers": [{"name": "blend10", "trigger": "blend:random:seed=1:alpha=0.1", "target": 5}]}
/// ```
public struct ZooPlan: Codable, Sendable, Equatable {
    /// Training settings shared by every model of the plan (the `train` command's options).
    public struct Training: Codable, Sendable, Equatable {
        public var epochs: Int = 2
        public var batchSize: Int = 64
        public var optimizer: String = "adam"
        public var learningRate: Double = 1e-3
        public var injectRatio: Double = 0.05
        public var augment: Bool = false
        /// Use only the first N training images (quick plans and tests).
        public var limit: Int?
        /// Use only the first N test images for clean accuracy and attack success.
        public var testLimit: Int?
        /// A model whose clean test accuracy ends below this has collapsed in training (Adam at lr 0.01, Table
        /// 1's MNIST recipe, sometimes sticks at chance from the first epoch): it is retrained up to `retries`
        /// times with `ZooModel.seed(attempt:)`, and if it still collapses its rows stay in the table, marked,
        /// but out of the summary's counts. Nil: no check.
        public var minCleanAccuracy: Double?
        /// Retrainings of a collapsed model (each with the next attempt's seed; 0: none).
        public var retries: Int = 0

        public init() {}
        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            epochs = try c.decodeIfPresent(Int.self, forKey: .epochs) ?? 2
            batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? 64
            optimizer = try c.decodeIfPresent(String.self, forKey: .optimizer) ?? "adam"
            learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? 1e-3
            injectRatio = try c.decodeIfPresent(Double.self, forKey: .injectRatio) ?? 0.05
            augment = try c.decodeIfPresent(Bool.self, forKey: .augment) ?? false
            limit = try c.decodeIfPresent(Int.self, forKey: .limit)
            testLimit = try c.decodeIfPresent(Int.self, forKey: .testLimit)
            minCleanAccuracy = try c.decodeIfPresent(Double.self, forKey: .minCleanAccuracy)
            retries = try c.decodeIfPresent(Int.self, forKey: .retries) ?? 0
        }

        /// Whether a model with this clean accuracy collapsed in training.
        public func collapsed(cleanAccuracy: Double) -> Bool { minCleanAccuracy.map { cleanAccuracy < $0 } ?? false }
    }

    /// A grid of BadNets triggers: every pattern x size x position, all to `target`.
    public struct AttackGrid: Codable, Sendable, Equatable {
        public var target: Int
        /// `square` (white), `checkerboard`, `random` (seeded pattern, `random:S:seed=7`).
        public var patterns: [String]
        public var sizes: [Int]
        /// Position lists of the trigger syntax: `bottom-right`, `top-left`, `top-left,bottom-right`, `all-corners`.
        public var positions: [String]
    }

    /// One trigger written in the `TriggerSpec` syntax, with a short name.
    public struct NamedTrigger: Codable, Sendable, Equatable {
        public var name: String
        public var trigger: String
        public var target: Int
    }

    public var name: String
    public var dataset: String
    public var architecture: String
    /// Clean test images per scan.
    public var images: Int
    public var training: Training
    /// `neuroninspect:PRESET` (default, paper, smoothgrad, verified) or `neural-cleanse`, each optionally
    /// with `@N`: that detector with the first N clean images instead of `images` (the image-count study:
    /// `neuroninspect:default@5`, `neuroninspect:default@200`, ... are separate rows of the table).
    public var detectors: [String]
    /// Benign models (one seed each).
    public var benign: Int
    /// Seeds per trojaned cell.
    public var seeds: Int
    public var attacks: [AttackGrid]
    public var triggers: [NamedTrigger]
    /// Added to every model's seed: the same plan with another offset is a fresh zoo.
    public var seedOffset: UInt64
    /// Neural Cleanse's step budget per label (nil: the original's).
    public var cleanseSteps: Int?
    /// Neural Cleanse's mini-batches per step (nil: the original's 31). Fewer make a step cheaper while
    /// keeping the λ schedule and early stop, which count steps.
    public var cleanseMiniBatches: Int?

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        dataset = try c.decode(String.self, forKey: .dataset)
        architecture = try c.decodeIfPresent(String.self, forKey: .architecture) ?? dataset
        images = try c.decodeIfPresent(Int.self, forKey: .images) ?? 50
        training = try c.decodeIfPresent(Training.self, forKey: .training) ?? Training()
        detectors = try c.decodeIfPresent([String].self, forKey: .detectors) ?? ["neuroninspect:default", "neuroninspect:paper"]
        benign = try c.decodeIfPresent(Int.self, forKey: .benign) ?? 0
        seeds = try c.decodeIfPresent(Int.self, forKey: .seeds) ?? 1
        attacks = try c.decodeIfPresent([AttackGrid].self, forKey: .attacks) ?? []
        triggers = try c.decodeIfPresent([NamedTrigger].self, forKey: .triggers) ?? []
        seedOffset = try c.decodeIfPresent(UInt64.self, forKey: .seedOffset) ?? 0
        cleanseSteps = try c.decodeIfPresent(Int.self, forKey: .cleanseSteps)
        cleanseMiniBatches = try c.decodeIfPresent(Int.self, forKey: .cleanseMiniBatches)
    }

    /// Reads and validates a plan file.
    public static func load(_ url: URL) throws -> ZooPlan {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ZooError.missingFile(url.path) }
        let plan: ZooPlan
        do { plan = try JSONDecoder().decode(ZooPlan.self, from: data) } catch {
            throw ZooError.badPlan(url.path, "\(error)")
        }
        try plan.validate(path: url.path)
        return plan
    }

    func validate(path: String) throws {
        func bad(_ s: String) -> ZooError { .badPlan(path, s) }
        guard ["mnist", "gtsrb"].contains(dataset) else { throw bad("dataset '\(dataset)' is not mnist or gtsrb") }
        guard images >= 2 else { throw bad("images must be at least 2, got \(images)") }
        guard training.epochs >= 1 else { throw bad("training.epochs must be at least 1") }
        if let m = training.minCleanAccuracy, !(0...1).contains(m) { throw bad("training.minCleanAccuracy must be in 0...1, got \(m)") }
        guard (0...10).contains(training.retries) else { throw bad("training.retries must be 0...10, got \(training.retries)") }
        guard training.retries == 0 || training.minCleanAccuracy != nil else { throw bad("training.retries needs training.minCleanAccuracy (what counts as collapsed)") }
        guard benign >= 0, seeds >= 1 else { throw bad("benign must be >= 0 and seeds >= 1") }
        guard !detectors.isEmpty else { throw bad("no detectors") }
        for d in detectors {
            guard let spec = ZooPlan.detectorSpec(d), spec.name.hasPrefix("neuroninspect:") || spec.name == "neural-cleanse" else {
                throw bad("unknown detector '\(d)': use neuroninspect:PRESET or neural-cleanse, optionally with @N (N clean images, N >= 2)")
            }
            if let n = spec.images, n > 100_000 { throw bad("detector '\(d)': \(n) images is absurd (at most 100000)") }
        }
        guard Set(detectors).count == detectors.count else { throw bad("a detector is listed twice") }
        for a in attacks {
            for p in a.patterns where !["square", "checkerboard", "random"].contains(p) {
                throw bad("unknown pattern '\(p)': use square, checkerboard or random")
            }
            guard a.sizes.allSatisfy({ $0 >= 1 && $0 <= 64 }) else { throw bad("sizes must be 1...64") }
        }
        let names = models().map(\.name)
        guard Set(names).count == names.count else { throw bad("two models have the same name") }
        guard !names.isEmpty else { throw bad("the plan has no models") }
    }

    /// A detector entry split into its name and its image count (`neuroninspect:default@20` -> 20; nil: the
    /// plan's `images`). Nil when the `@N` part is not an integer of at least 2.
    public static func detectorSpec(_ entry: String) -> (name: String, images: Int?)? {
        guard let at = entry.lastIndex(of: "@") else { return (entry, nil) }
        guard let n = Int(entry[entry.index(after: at)...]), n >= 2 else { return nil }
        return (String(entry[..<at]), n)
    }

    /// Clean images a detector entry uses.
    public func imageCount(for entry: String) -> Int { ZooPlan.detectorSpec(entry)?.images ?? images }

    /// Clean images the zoo exports: enough for every detector entry.
    public var exportCount: Int { detectors.map(imageCount(for:)).max().map { Swift.max($0, images) } ?? images }

    /// The plan's models in a fixed order: trojaned cells (grid order, then named triggers), each seed, then
    /// the benign models.
    public func models() -> [ZooModel] {
        var out: [ZooModel] = []
        func seed(_ name: String) -> UInt64 { UInt64(stableHash(name) % 100_000) + seedOffset }
        for a in attacks {
            for pattern in a.patterns { for size in a.sizes { for position in a.positions { for s in 1...seeds {
                let trig: String
                switch pattern {
                case "random": trig = "random:\(size):seed=7@\(position)"
                default: trig = "\(pattern):\(size)@\(position)"
                }
                let pos = position.replacingOccurrences(of: ",", with: "+")
                let name = "\(pattern)\(size)-\(pos)-t\(a.target)-s\(s)"
                out.append(ZooModel(name: name, trigger: trig, target: a.target, seed: seed(name), pattern: pattern,
                                    size: size, position: position, triggerCount: position == "all-corners" ? 4 : position.split(separator: ",").count))
            } } } }
        }
        for t in triggers { for s in 1...seeds {
            let name = "\(t.name)-t\(t.target)-s\(s)"
            out.append(ZooModel(name: name, trigger: t.trigger, target: t.target, seed: seed(name), pattern: t.name,
                                size: nil, position: nil, triggerCount: 1))
        } }
        for b in 0..<benign {
            let name = "benign-s\(b + 1)"
            out.append(ZooModel(name: name, trigger: nil, target: nil, seed: seed(name), pattern: nil, size: nil, position: nil, triggerCount: 0))
        }
        return out
    }

    /// The models of shard `k` (1-based) of `n`: every n-th model starting at the k-th, so shards are balanced
    /// across the grid and their union is the whole plan.
    public func shard(_ k: Int, of n: Int) -> [ZooModel] {
        models().enumerated().filter { $0.offset % n == k - 1 }.map(\.element)
    }
}

/// One model of a zoo: its name (also its file name), trigger and target (nil for benign), seed and the grid
/// coordinates the result table groups by.
public struct ZooModel: Codable, Sendable, Equatable {
    public var name: String
    public var trigger: String?
    public var target: Int?
    public var seed: UInt64
    public var pattern: String?
    public var size: Int?
    public var position: String?
    public var triggerCount: Int
    public var trojaned: Bool { trigger != nil }

    /// The training seed of attempt `k` (0: the plan's seed; k >= 1: the k-th retraining after a collapse),
    /// a million apart so no retry meets another model's seed (plan seeds are below 100000 + offset).
    public func seed(attempt k: Int) -> UInt64 { seed &+ UInt64(k) &* 1_000_000 }
}

/// FNV-1a over the UTF-8 bytes: a seed from a name that does not change between runs or machines.
func stableHash(_ s: String) -> UInt64 {
    var h: UInt64 = 0xcbf29ce484222325
    for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
    return h
}

/// Errors of zoo plans, runs and merges, naming the file and the problem.
public enum ZooError: Error, CustomStringConvertible {
    case missingFile(String)
    case badPlan(String, String)
    case badShard(String)
    case badResults(String, String)

    public var description: String {
        switch self {
        case .missingFile(let p): return "\(p): no such file"
        case let .badPlan(p, why): return "\(p): invalid zoo plan: \(why)"
        case .badShard(let s): return "--shard '\(s)': expected K/N with 1 <= K <= N, e.g. 2/4"
        case let .badResults(p, why): return "\(p): \(why)"
        }
    }
}
