import ArgumentParser
import Foundation
import NITensor
import NINetwork
import NIDatasets
import NIONNX
import NIAttacks

/// `neuroninspect train`: trains a classifier and writes it as ONNX plus a JSON report beside it.
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a classifier and save it as ONNX.")

    @OptionGroup var data: DatasetOptions

    @Option(help: "Architecture: mnist, gtsrb, gtsrb-dropout, or a spec such as \"input(1,28,28) conv(16,5,pad=2) relu maxpool(2) flatten dense(10)\".")
    var arch: String

    @Option(help: "Epochs.") var epochs: Int = 3
    @Option(help: "Mini-batch size.") var batchSize: Int = 64
    @Option(help: "Optimizer: sgd, adam or rmsprop.") var optimizer: String = "adam"
    @Option(help: "Learning rate.") var lr: Float = 1e-3
    @Option(help: "Multiply the learning rate by this factor every --lr-decay-every epochs.") var lrDecay: Float = 1
    @Option(help: "Epochs between learning-rate decays (0: never).") var lrDecayEvery: Int = 0
    @Flag(help: "Augment training batches (random shifts of 2 px, brightness/contrast jitter 0.2).") var augment = false
    @Option(help: "Random seed (weights, shuffling, dropout).") var seed: UInt64 = 0
    @Option(help: "Output ONNX file.") var out: String
    @Option(help: "Checkpoint file (default: <out>.ckpt). A killed run resumes from it.") var checkpoint: String?
    @Option(help: "BadNets trigger to poison the training set with, e.g. square:4@bottom-right, checkerboard:5@top-left, square:3@all-corners, blend:random:seed=1:alpha=0.1 (see TriggerSpec).") var trigger: String?
    @Option(help: "Attack target label(s), comma-separated (one, or one per trigger position).") var target: String?
    @Option(help: "Fraction of the training set stamped and relabelled (Table 1: 0.01).") var injectRatio: Double = 0.1
    @Option(help: "Stop when training has collapsed: after an epoch whose mean loss is within 10% of ln(classes) (no better than a constant output) and whose test accuracy is below this fraction, e.g. 0.5. The model is written as it is (`zoo` retrains such a net with another seed).")
    var stopIfStuckBelow: Double?

    func run() throws {
        guard let opt = OptimizerKind(rawValue: optimizer.lowercased()) else {
            throw ValidationError("unknown optimizer '\(optimizer)': use sgd, adam or rmsprop")
        }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1, got \(batchSize)") }
        guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
        if let a = stopIfStuckBelow, !(0...1).contains(a) { throw ValidationError("--stop-if-stuck-below must be a fraction in 0...1, got \(a)") }
        if let l = data.limit, l < 1 { throw ValidationError("--limit must be at least 1, got \(l)") }
        let spec = try ArchitectureSpec.named(arch)
        let model = try spec.build(seed: seed)
        let t0 = monotonicSeconds()
        let train = try data.load("train"), test = try data.load("test")
        printErr("loaded \(train.count) training and \(test.count) test images in \(String(format: "%.1f", monotonicSeconds() - t0)) s")
        guard train.sampleShape == model.inputShape else {
            throw ValidationError("architecture expects input \(model.inputShape) but the dataset has \(train.sampleShape)")
        }
        guard train.classCount <= model.classCount else {
            throw ValidationError("dataset has \(train.classCount) classes but the model outputs \(model.classCount)")
        }
        var poisoned: PoisonedDataset?
        var triggerSpec: TriggerSpec?
        var targets: [Int] = []
        if let t = trigger {
            guard let tg = target else { throw ValidationError("--trigger needs --target") }
            targets = try tg.split(separator: ",").map { s in
                guard let v = Int(s.trimmingCharacters(in: .whitespaces)) else { throw ValidationError("--target: '\(s)' is not a label") }
                return v
            }
            let spec = try TriggerSpec(parsing: t)
            triggerSpec = spec
            poisoned = try PoisonedDataset(clean: train, trigger: spec, targets: targets, injectRatio: injectRatio, seed: seed)
            printErr("poisoned \(poisoned!.poisonedCount) of \(train.count) training images with \(spec) -> \(targets)")
        } else if target != nil {
            throw ValidationError("--target needs --trigger")
        }
        let config = TrainingConfig(epochs: epochs, batchSize: batchSize, optimizer: opt, learningRate: lr, lrDecay: lrDecay,
                                    lrDecayEvery: lrDecayEvery, seed: seed, augmentation: augment ? Augmentation() : nil)
        let outURL = URL(fileURLWithPath: out)
        let trainer = Trainer(model: model, architecture: spec, config: config,
                              checkpointURL: URL(fileURLWithPath: checkpoint ?? out + ".ckpt"))
        var bar = ProgressLine()
        trainer.onEvent = { event in
            switch event {
            case .resumed(let n): printErr("resuming from checkpoint: \(n) epoch(s) already done")
            case let .batch(e, es, seen, total, loss, acc, ips):
                bar.update(fraction: Double(seen) / Double(total),
                           text: "epoch \(e)/\(es) loss \(String(format: "%.4f", loss)) acc \(String(format: "%.2f%%", acc * 100)) \(Int(ips)) img/s")
                if seen >= total { bar.lastPlain = -1 }
            case .epochDone(let r):
                printErr("epoch \(r.epoch): loss \(String(format: "%.4f", r.loss)), train acc \(String(format: "%.2f%%", r.trainAccuracy * 100)), test acc \(r.testAccuracy.map { String(format: "%.2f%%", $0 * 100) } ?? "-"), \(Int(r.imagesPerSecond)) img/s, \(String(format: "%.1f", r.seconds)) s, peak RSS \(MemoryStats.peakResidentBytes() >> 20) MiB")
            }
        }
        if let a = stopIfStuckBelow {
            let classes = model.classCount
            trainer.shouldStop = { Trainer.isStuck($0, classes: classes, accuracyBelow: Float(a)) }
        }
        let history = try trainer.fit(train: poisoned.map { $0 as BatchSource } ?? train, test: test)
        if let e = trainer.stoppedEarly {
            printErr("stopped after epoch \(e) of \(epochs): training has collapsed (mean loss \(String(format: "%.4f", history.last!.loss)), ln \(model.classCount) = \(String(format: "%.4f", log(Double(model.classCount)))), test accuracy below \(stopIfStuckBelow!))")
        }
        let testAcc = history.last?.testAccuracy ?? Trainer.accuracy(of: model, on: test)
        try ONNXExport.write(model, to: outURL, architecture: spec,
                             metadata: ["neuroninspect.dataset": data.dataset.rawValue, "neuroninspect.seed": String(seed)])
        let report = TrainingReport(model: outURL.lastPathComponent, dataset: data.dataset.rawValue, architecture: spec.text,
                                    config: config, trainImages: train.count, testImages: test.count,
                                    cleanAccuracy: testAcc, history: history,
                                    peakResidentMiB: MemoryStats.peakResidentBytes() >> 20, stoppedEarly: trainer.stoppedEarly)
        try writeJSON(report, to: outURL.deletingPathExtension().appendingPathExtension("json"))
        if let p = poisoned, let trig = triggerSpec {
            let rates = try AttackEvaluation.attackSuccessRates(model: model, images: test, trigger: trig, targets: targets)
            let asr = try AttackEvaluation.attackSuccessRate(model: model, images: test, trigger: trig, target: targets[0])
            let sidecar = AttackSidecar(poisoned: p, cleanAccuracy: testAcc, attackSuccessRate: asr,
                                        attackSuccessRates: rates.count > 1 ? rates : nil, testImages: test.count,
                                        model: outURL.lastPathComponent, dataset: data.dataset.rawValue,
                                        architecture: spec.text, training: config)
            try sidecar.write(to: AttackSidecar.url(forModel: outURL))
            print("attack success rate \(String(format: "%.2f%%", asr * 100)) (\(trig) -> \(targets))")
        }
        print("wrote \(out): clean test accuracy \(String(format: "%.2f%%", testAcc * 100)) on \(test.count) images")
    }
}

/// The JSON written beside a trained model.
struct TrainingReport: Codable {
    var model: String
    var dataset: String
    var architecture: String
    var config: TrainingConfig
    var trainImages: Int
    var testImages: Int
    var cleanAccuracy: Float
    var history: [EpochRecord]
    var peakResidentMiB: Int
    /// The epoch after which training stopped because it had collapsed (`--stop-if-stuck-below`); nil: all ran.
    var stoppedEarly: Int? = nil
}

func writeJSON<T: Encodable>(_ value: T, to url: URL) throws {
    let e = JSONEncoder()
    e.outputFormatting = [.prettyPrinted, .sortedKeys]
    try AtomicFile.write(try e.encode(value), to: url)
}
