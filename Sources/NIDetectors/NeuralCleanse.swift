import Foundation
import NITensor
import NINetwork

/// Neural Cleanse (Wang et al., *Neural Cleanse: Identifying and Mitigating Backdoor Attacks in Neural
/// Networks*, IEEE S&P 2019), the baseline the NeuronInspect paper compares with (Tables 2-4): for every label,
/// reverse-engineer the smallest trigger (mask and pattern) that sends clean images to that label
/// (`TriggerReverseEngineering`, with the authors' λ schedule, best-mask rule and early stop), then run the MAD
/// outlier test on the L1 norms of the best masks: a label whose norm lies far *below* the median (anomaly index
/// > 2) is flagged as an attack target. Takes a model and clean images, returns a `DetectionReport`
/// (`detector` = `neural-cleanse`, `combined` = mask norm) with the reversed masks and patterns.
///
/// Long runs resume: with a work directory, each finished label is written there atomically
/// (`label-<t>.json`, with a fingerprint of the model, the images and the settings), and a later run with the
/// same inputs takes those labels as done. Each label draws its random start and shuffles from its own seeded
/// stream, so a resumed run gives the same report as an uninterrupted one.
public struct NeuralCleanse {
    public var options: NeuralCleanseOptions
    public init(options: NeuralCleanseOptions = .original) { self.options = options }

    /// The outcome of one label's optimisation.
    public struct LabelResult: Codable, Sendable, Equatable {
        public var label: Int
        /// The best mask `[H * W]` in [0, 1]: the smallest (by the step's mean regulariser) among those whose
        /// step reached the success threshold; the last mask when none did.
        public var mask: [Float]
        /// The pattern `[C * H * W]` in [0, 1] saved with that mask.
        public var pattern: [Float]
        /// The L1 norm of `mask`: the score of the outlier test.
        public var maskNorm: Double
        /// Fraction of all the clean images the model assigns to `label` with `mask` and `pattern` stamped.
        public var attackSuccess: Double
        /// Whether some step reached the success threshold (else `mask` is the last one, not a working trigger).
        public var reachedThreshold: Bool
        public var stepsRun: Int
        public var miniBatches: Int
        public var earlyStopped: Bool
        /// λ at the end.
        public var finalCost: Double
        /// Wall-clock seconds of this label's optimisation.
        public var seconds: Double
    }

    /// Progress reports, in order, from `run`.
    public enum Progress: Sendable {
        /// Label `label` starts (the `position`-th of `total`).
        case started(label: Int, position: Int, total: Int)
        /// After each step: λ, the step's mean attack success and the best mask norm so far (nil before any).
        case step(label: Int, step: Int, cost: Double, success: Double, bestNorm: Double?)
        /// A label is done (`resumed`: read from the work directory).
        case finished(LabelResult, resumed: Bool)
    }

    /// What `run` returns: the report and, for the HTML pictures and further use, each label's mask and pattern.
    public struct Outcome {
        public var report: DetectionReport
        /// One result per tested label, in label order.
        public var results: [LabelResult]
        public var channels: Int, height: Int, width: Int
    }

    /// Runs Neural Cleanse on `images` `[N, C, H, W]` (clean, in the model's input domain) for `labels` (default:
    /// all of the model's labels, at least 3 for the outlier test). `workDirectory` keeps finished labels and
    /// resumes from them; `fresh` discards what it holds first.
    public func run(_ model: Model, images: Tensor, modelName: String, labels requested: [Int]? = nil,
                    workDirectory: URL? = nil, fresh: Bool = false, notes initialNotes: [String] = [],
                    progress: ((Progress) -> Void)? = nil) throws -> Outcome {
        let shape = model.inputShape
        guard shape.count == 3 else { throw NeuralCleanseError.imageShape(images: images.shape, model: shape) }
        try options.validate(channels: shape[0])
        guard model.classCount >= MADOutlierTest.minimumLabels else {
            throw DetectorError.tooFewLabels(count: model.classCount, minimum: MADOutlierTest.minimumLabels)
        }
        guard images.shape.count == 4, Array(images.shape.dropFirst()) == shape else {
            throw NeuralCleanseError.imageShape(images: images.shape, model: shape)
        }
        guard images.shape[0] > 0 else { throw NeuralCleanseError.noImages }
        let labels = Array(Set(requested ?? Array(0..<model.classCount))).sorted()
        for l in labels where l < 0 || l >= model.classCount { throw NeuralCleanseError.labelOutOfRange(label: l, classes: model.classCount) }
        guard labels.count >= MADOutlierTest.minimumLabels else {
            throw DetectorError.tooFewLabels(count: labels.count, minimum: MADOutlierTest.minimumLabels)
        }

        let fingerprint = Self.fingerprint(model: model, images: images, options: options)
        if let dir = workDirectory, fresh { try Self.clear(dir) }
        let engine = TriggerReverseEngineering(model: model, mean: options.mean, std: options.std, tanhEpsilon: options.tanhEpsilon)
        var results: [LabelResult] = []
        var resumed = 0
        for (position, label) in labels.enumerated() {
            progress?(.started(label: label, position: position + 1, total: labels.count))
            if let dir = workDirectory, let done = try Self.load(label: label, from: dir, fingerprint: fingerprint) {
                results.append(done); resumed += 1
                progress?(.finished(done, resumed: true))
                continue
            }
            let r = try reverse(engine, images: images, label: label, progress: progress)
            if let dir = workDirectory { try Self.save(r, to: dir, fingerprint: fingerprint) }
            results.append(r)
            progress?(.finished(r, resumed: false))
        }

        let norms = results.map(\.maskNorm)
        let outcome = try options.mad.run(values: norms, labels: labels)
        var notes = initialNotes
        if labels.count < model.classCount {
            notes.append("only labels \(labels.map(String.init).joined(separator: ", ")) were reverse-engineered; the outlier test ran on those \(labels.count)")
        }
        for r in results where !r.reachedThreshold {
            notes.append("label \(r.label): no reversed trigger reached \(String(format: "%.0f%%", options.attackSuccessThreshold * 100)) success within \(r.stepsRun) steps; its norm is that of the last mask")
        }
        if resumed > 0, let dir = workDirectory {
            notes.append("\(resumed) of \(labels.count) labels were read from the work directory \(dir.path) (computed by an earlier run); seconds include their time")
        }
        let perClass = results.enumerated().map { i, r in
            DetectionReport.ClassEntry(label: r.label,
                                       features: ["maskNorm": r.maskNorm, "attackSuccess": r.attackSuccess,
                                                  "steps": Double(r.stepsRun)],
                                       combined: r.maskNorm, anomalyIndex: outcome.indices[i],
                                       flagged: outcome.flagged.contains(r.label))
        }
        var settings: [String: String] = ["labels": labels.map(String.init).joined(separator: ",")]
        if let data = try? JSONEncoder.sortedKeys.encode(options), let s = String(data: data, encoding: .utf8) {
            settings["options"] = s
        }
        if let dir = workDirectory { settings["workDirectory"] = dir.path }
        let report = DetectionReport(model: modelName, detector: "neural-cleanse", preset: "original",
                                     classes: model.classCount, images: images.shape[0], flagged: outcome.flagged,
                                     anomalyIndex: outcome.maxIndex, threshold: options.mad.threshold,
                                     perClass: perClass, seconds: results.map(\.seconds).reduce(0, +),
                                     notes: notes, settings: settings)
        return Outcome(report: report, results: results, channels: shape[0], height: shape[1], width: shape[2])
    }

    /// One label, as `Visualizer.visualize` of the original: random start, λ = 0 until the trigger works for
    /// `patience` steps, then λ raised / lowered by the success of each step, the smallest working mask kept,
    /// early stop once λ has moved both ways and the best norm stopped improving.
    public func reverse(_ engine: TriggerReverseEngineering, images: Tensor, label: Int,
                        progress: ((Progress) -> Void)? = nil) throws -> LabelResult {
        let o = options
        let t0 = monotonicSeconds()
        let n = images.shape[0], hw = engine.height * engine.width, chw = engine.channels * hw
        var rng = SeededGenerator(seed: o.seed &+ 0x9E37_79B9_7F4A_7C15 &* UInt64(label + 1))
        engine.setState(mask: (0..<hw).map { _ in rng.nextUnit() }, pattern: (0..<chw).map { _ in rng.nextUnit() })
        let adam = engine.makeOptimizer(o)

        var order = Array(0..<n)
        rng.shuffle(&order)
        var position = 0

        var cost = o.startCostAtZero ? 0 : o.initialCost
        var bestMask: [Float]? = nil, bestPattern: [Float] = []
        var regBest = Double.infinity
        var costSetCounter = 0, costUpCounter = 0, costDownCounter = 0
        var costUpFlag = false, costDownFlag = false
        var earlyStopCounter = 0, earlyStopRegBest = Double.infinity
        var stepsRun = 0, miniBatches = 0, earlyStopped = false

        // When the reversed trigger keeps working, λ is raised every `patience` steps and never lowered, so
        // early stop (which needs both) never fires and λ·|m| eventually overflows (seen on a 1x1 trigger
        // after ~670 steps). The original then runs on with a NaN loss and keeps its saved best mask; we stop
        // the label there with that mask. Without a working mask, a non-finite objective is an error.
        var diverged = false
        steps: for step in 0..<o.steps {
            var hits = 0, count = 0, regSum = 0.0
            for _ in 0..<o.miniBatchesPerStep {
                let size = Swift.min(o.batchSize, n - position)
                engine.loadBatch(from: images, indices: order[position..<(position + size)])
                position += size
                if position == n { rng.shuffle(&order); position = 0 }
                let r = engine.evaluate(target: label, cost: cost, gradients: true)
                guard r.objective.isFinite else {
                    if bestMask != nil { diverged = true; stepsRun = step; break steps }
                    throw NeuralCleanseError.nonFinite(label: label, step: step)
                }
                adam.step()
                hits += r.hits; count += r.count; regSum += r.maskL1
                miniBatches += 1
            }
            stepsRun = step + 1
            let success = Double(hits) / Double(count)
            let reg = regSum / Double(o.miniBatchesPerStep)

            // Keep the smallest working mask (the parameters after this step's updates, as the original).
            if success >= o.attackSuccessThreshold && reg < regBest {
                engine.refresh()
                bestMask = engine.currentMask; bestPattern = engine.currentPattern
                regBest = reg
            }
            progress?(.step(label: label, step: step + 1, cost: cost, success: success,
                            bestNorm: bestMask.map { $0.reduce(0) { $0 + Double($1) } }))

            if o.earlyStop {
                if regBest < .infinity {
                    if regBest >= o.earlyStopThreshold * earlyStopRegBest { earlyStopCounter += 1 } else { earlyStopCounter = 0 }
                }
                earlyStopRegBest = Swift.min(regBest, earlyStopRegBest)
                if costDownFlag && costUpFlag && earlyStopCounter >= o.earlyStopPatience { earlyStopped = true; break }
            }
            // λ = 0 until the trigger has worked for `patience` steps.
            if cost == 0 && success >= o.attackSuccessThreshold {
                costSetCounter += 1
                if costSetCounter >= o.patience {
                    cost = o.initialCost
                    costUpCounter = 0; costDownCounter = 0; costUpFlag = false; costDownFlag = false
                }
            } else {
                costSetCounter = 0
            }
            if success >= o.attackSuccessThreshold { costUpCounter += 1; costDownCounter = 0 } else { costUpCounter = 0; costDownCounter += 1 }
            if costUpCounter >= o.patience {
                costUpCounter = 0; cost *= o.costMultiplierUp; costUpFlag = true
            } else if costDownCounter >= o.patience {
                costDownCounter = 0; cost /= o.costMultiplierDown; costDownFlag = true
            }
        }
        let reached = bestMask != nil
        if bestMask == nil { engine.refresh(); bestMask = engine.currentMask; bestPattern = engine.currentPattern }
        let mask = bestMask!
        let norm = mask.reduce(0) { $0 + Double($1) }
        let success = engine.attackSuccess(mask: mask, pattern: bestPattern, images: images, target: label, batchSize: o.batchSize)
        return LabelResult(label: label, mask: mask, pattern: bestPattern, maskNorm: norm, attackSuccess: success,
                           reachedThreshold: reached, stepsRun: stepsRun, miniBatches: miniBatches,
                           earlyStopped: earlyStopped || diverged, finalCost: cost, seconds: monotonicSeconds() - t0)
    }

    // MARK: - Work directory

    struct State: Codable {
        var version: Int
        var fingerprint: String
        var result: LabelResult
    }

    static func stateFile(_ dir: URL, label: Int) -> URL { dir.appendingPathComponent("label-\(label).json") }

    static func save(_ r: LabelResult, to dir: URL, fingerprint: String) throws {
        let data = try JSONEncoder.sortedKeys.encode(State(version: 1, fingerprint: fingerprint, result: r))
        try AtomicFile.write(data, to: stateFile(dir, label: r.label))
    }

    static func load(label: Int, from dir: URL, fingerprint: String) throws -> LabelResult? {
        let url = stateFile(dir, label: label)
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        let state: State
        do { state = try JSONDecoder().decode(State.self, from: Data(contentsOf: url)) } catch {
            throw NeuralCleanseError.unreadableState(path: url.path, reason: "\(error)")
        }
        guard state.fingerprint == fingerprint, state.result.label == label else {
            throw NeuralCleanseError.workDirectoryMismatch(path: dir.path, file: url.lastPathComponent)
        }
        return state.result
    }

    /// Removes the label state files of `dir` (nothing else).
    static func clear(_ dir: URL) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
        for name in names where name.hasPrefix("label-") && name.hasSuffix(".json") {
            try FileManager.default.removeItem(at: dir.appendingPathComponent(name))
        }
    }

    /// A 64-bit FNV-1a hash (over 32-bit words) of the model's shapes and parameters, the images and the options
    /// that change a label's result (all of them but the outlier test's).
    static func fingerprint(model: Model, images: Tensor, options: NeuralCleanseOptions) -> String {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        func mix(_ w: UInt32) { h = (h ^ UInt64(w)) &* 0x0000_0100_0000_01B3 }
        func mix(_ t: Tensor) {
            mix(UInt32(t.count))
            let p = UnsafeRawPointer(t.data).assumingMemoryBound(to: UInt32.self)
            for i in 0..<t.count { mix(p[i]) }
        }
        for s in model.inputShape { mix(UInt32(s)) }
        mix(UInt32(model.classCount))
        for p in model.parameters { mix(p.value) }
        for s in images.shape { mix(UInt32(s)) }
        mix(images)
        var o = options
        o.mad = MADOutlierTest()
        if let data = try? JSONEncoder.sortedKeys.encode(o) { for b in data { mix(UInt32(b)) } }
        return String(h, radix: 16)
    }
}
