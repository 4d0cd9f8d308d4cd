import Foundation
import NINetwork

/// The record of how a trojaned model was made, written beside its ONNX file by
/// `train --trigger ... --target ... --inject-ratio ...` (`M.onnx` → `M.attack.json`): the ground truth a
/// detector's verdict is checked against in the paper's experiments (Huang et al., *NeuronInspect*,
/// Table 1 settings; Tables 2 and 3 report the detected targets against it).
///
/// It holds the trigger twice — the compact string a person can read and paste back into `--trigger`, and
/// the structured `TriggerSpec` — the targets, inject ratio and seed, how many images were poisoned, the
/// clean accuracy and attack success rate measured after training, and the training settings passed in.
public struct AttackSidecar: Codable, Equatable, Sendable {
    /// Version of this file's layout.
    public var formatVersion: Int
    /// The trigger's compact string (`TriggerSpec.description`).
    public var trigger: String
    /// The trigger, structured.
    public var triggerSpec: TriggerSpec
    /// Attack target(s): one for all triggers, or one per trigger position.
    public var targets: [Int]
    /// Fraction of the training set poisoned.
    public var injectRatio: Double
    /// Seed of the choice of poisoned images.
    public var seed: UInt64
    /// Which images could be poisoned.
    public var source: PoisonedDataset.Source
    /// How multi-position triggers were applied.
    public var stamping: PoisonedDataset.Stamping
    /// Number of poisoned training images.
    public var poisonedCount: Int
    /// Number of training images (poisoned included).
    public var trainImages: Int
    /// Number of test images the two rates were measured on (nil if not given).
    public var testImages: Int?
    /// Top-1 accuracy on the clean test images.
    public var cleanAccuracy: Float
    /// Fraction of non-target test images classified as the target once triggered (all positions stamped).
    public var attackSuccessRate: Float
    /// The attack success rate of each separate trigger (one per position), when there are several.
    public var attackSuccessRates: [Float]?
    /// The model file this describes (file name), if given.
    public var model: String?
    /// The data set name (`mnist`, `gtsrb`), if given.
    public var dataset: String?
    /// The architecture spec text, if given.
    public var architecture: String?
    /// The training settings, if given.
    public var training: TrainingConfig?

    /// The current `formatVersion`.
    public static let currentFormatVersion = 1

    /// A sidecar from its parts.
    public init(trigger: TriggerSpec, targets: [Int], injectRatio: Double, seed: UInt64,
                source: PoisonedDataset.Source = .nonTarget, stamping: PoisonedDataset.Stamping = .onePositionPerImage,
                poisonedCount: Int, trainImages: Int, testImages: Int? = nil, cleanAccuracy: Float,
                attackSuccessRate: Float, attackSuccessRates: [Float]? = nil, model: String? = nil,
                dataset: String? = nil, architecture: String? = nil, training: TrainingConfig? = nil) {
        formatVersion = AttackSidecar.currentFormatVersion
        self.trigger = trigger.description
        triggerSpec = trigger
        self.targets = targets
        self.injectRatio = injectRatio
        self.seed = seed
        self.source = source
        self.stamping = stamping
        self.poisonedCount = poisonedCount
        self.trainImages = trainImages
        self.testImages = testImages
        self.cleanAccuracy = cleanAccuracy
        self.attackSuccessRate = attackSuccessRate
        self.attackSuccessRates = attackSuccessRates
        self.model = model
        self.dataset = dataset
        self.architecture = architecture
        self.training = training
    }

    /// A sidecar describing `poisoned` and the rates measured on the model trained with it.
    public init(poisoned: PoisonedDataset, cleanAccuracy: Float, attackSuccessRate: Float,
                attackSuccessRates: [Float]? = nil, testImages: Int? = nil, model: String? = nil,
                dataset: String? = nil, architecture: String? = nil, training: TrainingConfig? = nil) {
        self.init(trigger: poisoned.trigger, targets: poisoned.targets, injectRatio: poisoned.injectRatio,
                  seed: poisoned.seed, source: poisoned.source, stamping: poisoned.stamping,
                  poisonedCount: poisoned.poisonedCount, trainImages: poisoned.count, testImages: testImages,
                  cleanAccuracy: cleanAccuracy, attackSuccessRate: attackSuccessRate,
                  attackSuccessRates: attackSuccessRates, model: model, dataset: dataset,
                  architecture: architecture, training: training)
    }

    /// Where the sidecar of a model file goes: `M.onnx` → `M.attack.json` in the same folder.
    public static func url(forModel model: URL) -> URL {
        let base = model.pathExtension.isEmpty ? model : model.deletingPathExtension()
        return base.appendingPathExtension("attack.json")
    }

    /// The sidecar as pretty-printed JSON with sorted keys.
    public func jsonData() throws(AttackError) -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        do {
            return try encoder.encode(self)
        } catch {
            throw .invalidArgument("the attack sidecar cannot be encoded as JSON: \(error)")
        }
    }

    /// Writes the sidecar as JSON to `url` atomically (a temporary file in the same folder renamed over
    /// `url`, NINetwork's `AtomicFile`), creating the folder if needed.
    public func write(to url: URL) throws(AttackError) {
        let data = try jsonData()
        do {
            try AtomicFile.write(data, to: url)
        } catch {
            throw .fileFailed(path: url.path, reason: "cannot write the attack sidecar: \(error.localizedDescription); "
                              + "check that the folder exists and is writable")
        }
    }

    /// Reads a sidecar written by `write(to:)`.
    public static func read(from url: URL) throws(AttackError) -> AttackSidecar {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw .fileFailed(path: url.path, reason: "cannot read the attack sidecar: \(error.localizedDescription)")
        }
        do {
            return try JSONDecoder().decode(AttackSidecar.self, from: data)
        } catch {
            throw .fileFailed(path: url.path, reason: "not a valid attack sidecar (JSON written by `train --trigger`): \(error)")
        }
    }
}
