import Foundation
import NITensor

/// Hyper-parameters of one training run (the paper's Table 1 gives the values for its experiments).
public struct TrainingConfig: Codable, Equatable, Sendable {
    public var epochs: Int
    public var batchSize: Int
    public var optimizer: OptimizerKind
    public var learningRate: Float
    /// Multiply the learning rate by `lrDecay` after every `lrDecayEvery` epochs (0 = never).
    public var lrDecay: Float
    public var lrDecayEvery: Int
    public var seed: UInt64
    public var augmentation: Augmentation?

    public init(epochs: Int = 3, batchSize: Int = 64, optimizer: OptimizerKind = .adam, learningRate: Float = 1e-3,
                lrDecay: Float = 1, lrDecayEvery: Int = 0, seed: UInt64 = 0, augmentation: Augmentation? = nil) {
        self.epochs = epochs; self.batchSize = batchSize; self.optimizer = optimizer; self.learningRate = learningRate
        self.lrDecay = lrDecay; self.lrDecayEvery = lrDecayEvery; self.seed = seed; self.augmentation = augmentation
    }

    /// Identifies the run for resuming: a checkpoint is reused only by a run with the same settings
    /// (the number of epochs may grow).
    public var fingerprint: String {
        var c = self; c.epochs = 0
        let data = (try? JSONEncoder.sorted.encode(c)) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder { let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; return e }
}

/// Cheap label-preserving augmentation applied to each training batch in place: a random translation of up
/// to `maxShift` pixels (edges replicated) and a brightness/contrast jitter, from the run's seed.
public struct Augmentation: Codable, Equatable, Sendable {
    public var maxShift: Int
    public var brightness: Float
    public var contrast: Float
    public init(maxShift: Int = 2, brightness: Float = 0.2, contrast: Float = 0.2) {
        self.maxShift = maxShift; self.brightness = brightness; self.contrast = contrast
    }

    public func apply(_ x: Tensor, rng: inout SeededGenerator, scratch: Tensor) {
        let n = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3]
        scratch.resize([c * h * w])
        for i in 0..<n {
            let img = x.data + i * c * h * w
            let dy = maxShift > 0 ? Int(rng.next() % UInt64(2 * maxShift + 1)) - maxShift : 0
            let dx = maxShift > 0 ? Int(rng.next() % UInt64(2 * maxShift + 1)) - maxShift : 0
            let b = (rng.nextUnit() * 2 - 1) * brightness, k = 1 + (rng.nextUnit() * 2 - 1) * contrast
            scratch.data.update(from: img, count: c * h * w)
            for ch in 0..<c {
                let src = scratch.data + ch * h * w, dst = img + ch * h * w
                var mean: Float = 0
                for j in 0..<(h * w) { mean += src[j] }
                mean /= Float(h * w)
                for y in 0..<h {
                    let sy = Swift.min(Swift.max(y - dy, 0), h - 1)
                    for xx in 0..<w {
                        let sx = Swift.min(Swift.max(xx - dx, 0), w - 1)
                        let v = (src[sy * w + sx] - mean) * k + mean + b
                        dst[y * w + xx] = Swift.min(Swift.max(v, 0), 1)
                    }
                }
            }
        }
    }
}

/// What happened in one epoch.
public struct EpochRecord: Codable, Equatable, Sendable {
    public var epoch: Int
    public var loss: Float
    public var trainAccuracy: Float
    public var testAccuracy: Float?
    public var imagesPerSecond: Double
    public var seconds: Double

    public init(epoch: Int, loss: Float, trainAccuracy: Float, testAccuracy: Float?, imagesPerSecond: Double, seconds: Double) {
        self.epoch = epoch; self.loss = loss; self.trainAccuracy = trainAccuracy; self.testAccuracy = testAccuracy
        self.imagesPerSecond = imagesPerSecond; self.seconds = seconds
    }
}

/// Progress events the trainer reports (the CLI draws a progress bar from them).
public enum TrainingEvent {
    case resumed(epochsDone: Int)
    case batch(epoch: Int, epochs: Int, seen: Int, total: Int, loss: Float, accuracy: Float, imagesPerSecond: Double)
    case epochDone(EpochRecord)
}

/// Mini-batch training with shuffling from a seed, per-epoch checkpoints and resume.
///
/// Determinism: epoch `e` shuffles with `SeededGenerator(seed: seed ⊕ e)`, so a resumed run sees the same
/// batches as an uninterrupted one.
public final class Trainer {
    public let model: Sequential
    public let architecture: ArchitectureSpec
    public let config: TrainingConfig
    public let optimizer: Optimizer
    public var checkpointURL: URL?
    public private(set) var history: [EpochRecord] = []
    public var onEvent: (TrainingEvent) -> Void = { _ in }
    /// Asked after each epoch (after its checkpoint): true ends training there (`stoppedEarly` says so).
    public var shouldStop: ((EpochRecord) -> Bool)?
    /// The epoch after which `shouldStop` ended training (nil: every epoch ran).
    public private(set) var stoppedEarly: Int?

    public init(model: Sequential, architecture: ArchitectureSpec, config: TrainingConfig, checkpointURL: URL? = nil) {
        self.model = model; self.architecture = architecture; self.config = config; self.checkpointURL = checkpointURL
        optimizer = config.optimizer.make(parameters: model.parameters, learningRate: config.learningRate)
    }

    /// Trains for `config.epochs` epochs (continuing from a matching checkpoint if one exists).
    @discardableResult
    public func fit(train: BatchSource, test: BatchSource? = nil) throws -> [EpochRecord] {
        var start = 0
        if let url = checkpointURL, FileManager.default.fileExists(atPath: url.path) {
            let h = try Checkpoint.header(at: url)
            if h.configFingerprint == config.fingerprint && h.architecture == architecture.text {
                guard h.epochsDone <= config.epochs else {
                    throw TrainingError.checkpointAhead(path: url.path, done: h.epochsDone, requested: config.epochs)
                }
                try Checkpoint.load(from: url, into: model, optimizer: optimizer)
                start = h.epochsDone; history = h.history
                onEvent(.resumed(epochsDone: start))
            }
        }
        guard train.count > 0 else { throw TrainingError.emptyTrainingSet }
        let x = Tensor(shape: [0]), scratch = Tensor(shape: [0])
        var labels: [Int] = []
        let loss = CrossEntropyLoss()
        let dropouts = model.layers.compactMap { $0 as? Dropout }
        for epoch in start..<config.epochs {
            optimizer.learningRate = config.learningRate
                * (config.lrDecayEvery > 0 ? powf(config.lrDecay, Float(epoch / config.lrDecayEvery)) : 1)
            var rng = SeededGenerator(seed: config.seed ^ (UInt64(epoch + 1) &* 0x9E37_79B9))
            for (i, d) in dropouts.enumerated() { d.reseed(config.seed &+ UInt64(epoch * 131 + i)) }
            var order = Array(0..<train.count)
            rng.shuffle(&order)
            let t0 = Date()
            var lossSum = 0.0, correct = 0, seen = 0, lastReport = t0
            var b = 0
            while b < order.count {
                let idx = order[b..<Swift.min(b + config.batchSize, order.count)]
                train.fill(batch: idx, into: x, labels: &labels)
                if let aug = config.augmentation { aug.apply(x, rng: &rng, scratch: scratch) }
                let logits = model.forward(x, mode: .training)
                let (l, c) = loss(logits, labels: labels)
                guard l.isFinite else { throw TrainingError.diverged(epoch: epoch + 1, step: seen / config.batchSize) }
                model.zeroGradients()
                _ = model.backward(loss.gradient, parameterGradients: true, inputGradient: false)
                optimizer.step()
                lossSum += Double(l) * Double(idx.count); correct += c; seen += idx.count
                b += config.batchSize
                let now = Date()
                if now.timeIntervalSince(lastReport) > 0.5 || b >= order.count {
                    lastReport = now
                    onEvent(.batch(epoch: epoch + 1, epochs: config.epochs, seen: seen, total: order.count,
                                   loss: Float(lossSum / Double(seen)), accuracy: Float(correct) / Float(seen),
                                   imagesPerSecond: Double(seen) / now.timeIntervalSince(t0)))
                }
            }
            let secs = Date().timeIntervalSince(t0)
            let testAcc = test.map { Trainer.accuracy(of: model, on: $0) }
            let rec = EpochRecord(epoch: epoch + 1, loss: Float(lossSum / Double(seen)),
                                  trainAccuracy: Float(correct) / Float(seen), testAccuracy: testAcc,
                                  imagesPerSecond: Double(seen) / secs, seconds: secs)
            history.append(rec)
            if let url = checkpointURL {
                try Checkpoint.save(to: url, architecture: architecture, model: model, optimizer: optimizer,
                                    epochsDone: epoch + 1, fingerprint: config.fingerprint, history: history)
            }
            onEvent(.epochDone(rec))
            if shouldStop?(rec) == true, epoch + 1 < config.epochs { stoppedEarly = epoch + 1; break }
        }
        return history
    }

    /// Whether an epoch shows a collapsed net: a mean training loss within 10% of ln(classes), the loss of a
    /// constant uniform output (a constant output that learned the label frequencies gets their entropy, a little
    /// less), and a test (else training) accuracy below `accuracy`. Adam at Table 1's lr 0.01 sometimes kills every
    /// ReLU in the first steps; such a net stays at 2.3024-2.3231 on MNIST (ln 10 = 2.3026) for all 10 epochs.
    /// Healthy nets end their first epoch far below: MNIST at most 0.41, GTSRB at most 2.42 (ln 43 = 3.76), over
    /// every zoo model on record (session 17).
    public static func isStuck(_ r: EpochRecord, classes: Int, accuracyBelow accuracy: Float) -> Bool {
        Double(r.loss) >= 0.9 * log(Double(classes)) && (r.testAccuracy ?? r.trainAccuracy) < accuracy
    }

    /// Top-1 accuracy of `model` (inference mode) on `data`.
    public static func accuracy(of model: Model, on data: BatchSource, batchSize: Int = 256) -> Float {
        let preds = predictions(of: model, on: data, batchSize: batchSize)
        var correct = 0
        for (p, y) in zip(preds.predicted, preds.labels) where p == y { correct += 1 }
        return data.count == 0 ? 0 : Float(correct) / Float(data.count)
    }

    /// Predicted and true labels for every sample of `data`.
    public static func predictions(of model: Model, on data: BatchSource, batchSize: Int = 256)
        -> (predicted: [Int], labels: [Int]) {
        let x = Tensor(shape: [0])
        var labels: [Int] = [], all: [Int] = [], truth: [Int] = []
        var b = 0
        let idx = Array(0..<data.count)
        while b < data.count {
            data.fill(batch: idx[b..<Swift.min(b + batchSize, data.count)], into: x, labels: &labels)
            all += argmaxRows(model.forward(x, mode: .inference))
            truth += labels.prefix(x.shape[0])
            b += batchSize
        }
        return (all, truth)
    }
}

/// Training failures a user can act on.
public enum TrainingError: Error, CustomStringConvertible {
    case diverged(epoch: Int, step: Int)
    case checkpointAhead(path: String, done: Int, requested: Int)
    case emptyTrainingSet
    public var description: String {
        switch self {
        case let .checkpointAhead(p, d, r):
            return "\(p): checkpoint already holds \(d) epoch(s) but --epochs is \(r): ask for at least \(d) epochs, or delete the checkpoint to start over"
        case .emptyTrainingSet: return "the training set is empty (check --limit and the data folder)"
        case let .diverged(e, s): return "training diverged (loss is NaN or infinite) at epoch \(e), step \(s): lower the learning rate"
        }
    }
}
