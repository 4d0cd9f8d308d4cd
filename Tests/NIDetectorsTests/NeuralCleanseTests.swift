import XCTest
import Foundation
import NITensor
import NINetwork
import NIDatasets
import NIAttacks
@testable import NIDetectors

/// Neural Cleanse (Wang et al. 2019), the paper's baseline: the optimisation's gradient against finite
/// differences, determinism and resuming, bad input, and on a small trojaned MNIST model (real data, skipped
/// when absent) that the target's reversed mask is the smallest and lies on the true trigger.
final class NeuralCleanseTests: XCTestCase {
    /// A small random model and random images in [0, 1].
    func tinySetup(spec: String = "input(2,6,6) conv(4,3,pad=1) leakyrelu(0.2) flatten dense(5)", images n: Int = 6,
                   seed: UInt64 = 3) throws -> (Sequential, Tensor) {
        let model = try ArchitectureSpec(spec).build(seed: seed)
        var rng = SeededGenerator(seed: seed &+ 100)
        let x = Tensor(shape: [n] + model.inputShape)
        for i in 0..<x.count { x[i] = rng.nextUnit() }
        return (model, x)
    }

    /// dJ/da and dJ/db of `TriggerReverseEngineering.evaluate` match central differences of J itself, for every
    /// mask and pattern parameter, with an input normalisation (mask applied in the raw domain) and λ > 0.
    func testGradientMatchesFiniteDifferences() throws {
        let (model, raw) = try tinySetup(images: 4)
        let mean: [Float] = [0.3, 0.6], std: [Float] = [0.5, 0.25]
        let x = raw.copy()   // the model's domain
        let hw = 36
        for n in 0..<4 { for c in 0..<2 { for k in 0..<hw { let i = (n * 2 + c) * hw + k; x[i] = (raw[i] - mean[c]) / std[c] } } }
        let engine = TriggerReverseEngineering(model: model, mean: mean, std: std)
        var rng = SeededGenerator(seed: 9)
        engine.setState(mask: (0..<hw).map { _ in 0.1 + 0.8 * rng.nextUnit() }, pattern: (0..<(2 * hw)).map { _ in 0.1 + 0.8 * rng.nextUnit() })
        engine.loadBatch(from: x, indices: [0, 1, 2, 3][...])
        let target = 2, cost = 0.05
        let base = engine.evaluate(target: target, cost: cost, gradients: true)
        XCTAssertTrue(base.objective.isFinite)
        let gm = engine.maskParameter.grad.array, gp = engine.patternParameter.grad.array

        func objective() -> Double { engine.evaluate(target: target, cost: cost, gradients: false).objective }
        let h: Float = 2e-3
        var worst = 0.0, checked = 0, sumAbs = 0.0
        for (param, analytic) in [(engine.maskParameter, gm), (engine.patternParameter, gp)] {
            for i in 0..<param.value.count {
                let v = param.value[i]
                param.value[i] = v + h; let up = objective()
                param.value[i] = v - h; let down = objective()
                param.value[i] = v
                let numeric = (up - down) / Double(2 * h)
                // Float rounding of J (about 1e-6) over 2h gives about 3e-4 of absolute noise.
                let err = abs(numeric - Double(analytic[i])) / (5e-4 + 1e-2 * abs(numeric))
                worst = max(worst, err); checked += 1; sumAbs += abs(numeric)
            }
        }
        print("gradient check: largest error \(worst) (1 = 5e-4 + 1% of the value) over \(checked) parameters, mean |dJ| \(sumAbs / Double(checked))")
        XCTAssertEqual(checked, hw + 2 * hw)
        XCTAssertGreaterThan(sumAbs / Double(checked), 0.02, "gradients too small for the check to mean anything")
        XCTAssertLessThan(worst, 1, "largest gradient error \(worst) (in units of 5e-4 + 1% of the value)")
        // The regulariser's share: with λ = 0 every mask gradient drops by |B| · slope exactly.
        _ = engine.evaluate(target: target, cost: 0, gradients: true)
        let gm0 = engine.maskParameter.grad.array
        for k in 0..<hw {
            let t = tanhf(engine.maskParameter.value[k])
            let slope = (1 - t * t) / Float(2 - 1e-7)
            XCTAssertEqual(gm[k] - gm0[k], 4 * Float(cost) * slope, accuracy: 1e-5)
        }
    }

    func smallOptions(steps: Int = 6, miniBatches: Int = 2) -> NeuralCleanseOptions {
        var o = NeuralCleanseOptions.original
        o.steps = steps; o.miniBatchesPerStep = miniBatches; o.batchSize = 4; o.patience = 2; o.earlyStopPatience = 3
        return o
    }

    /// Same seed, same result; a run that finds finished labels in its work directory reuses them and gives the
    /// same report; a work directory of another run is refused (unless `fresh`).
    func testDeterministicAndResumable() throws {
        let (model, x) = try tinySetup(images: 10)
        let nc = NeuralCleanse(options: smallOptions())
        let a = try nc.run(model, images: x, modelName: "tiny", labels: [0, 1, 2, 3])
        let b = try nc.run(model, images: x, modelName: "tiny", labels: [0, 1, 2, 3])
        XCTAssertEqual(a.results, b.results.map { var r = $0; r.seconds = a.results.first { $0.label == r.label }!.seconds; return r })
        XCTAssertEqual(a.results.map(\.label), [0, 1, 2, 3])
        XCTAssertEqual(a.report.detector, "neural-cleanse")
        XCTAssertEqual(a.report.perClass.map(\.combined), a.results.map(\.maskNorm))
        for r in a.results {
            XCTAssertEqual(r.mask.count, 36); XCTAssertEqual(r.pattern.count, 72)
            XCTAssertTrue(r.mask.allSatisfy { $0 > 0 && $0 < 1 })
            XCTAssertEqual(r.maskNorm, r.mask.reduce(0) { $0 + Double($1) }, accuracy: 1e-9)
            XCTAssertEqual(r.miniBatches, r.stepsRun * 2)
        }

        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("nc-work-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        // A partial run (labels 1 and 3 among others), then the full one: those labels are read back.
        _ = try nc.run(model, images: x, modelName: "tiny", labels: [1, 3, 4], workDirectory: dir)
        var resumed: [Int] = []
        let full = try nc.run(model, images: x, modelName: "tiny", labels: [0, 1, 2, 3], workDirectory: dir) { event in
            if case let .finished(r, true) = event { resumed.append(r.label) }
        }
        XCTAssertEqual(resumed, [1, 3])
        XCTAssertEqual(full.results.map(\.maskNorm), a.results.map(\.maskNorm), "a resumed run equals an uninterrupted one")
        XCTAssertEqual(full.report.flagged, a.report.flagged)
        XCTAssertTrue(full.report.notes.contains { $0.contains("2 of 4 labels were read from the work directory") }, "\(full.report.notes)")

        // Other settings: the directory is refused, with advice; `fresh` clears it.
        var other = smallOptions(); other.seed = 7
        XCTAssertThrowsError(try NeuralCleanse(options: other).run(model, images: x, modelName: "tiny", labels: [0, 1, 2], workDirectory: dir)) { e in
            XCTAssertTrue("\(e)".contains("--fresh"), "\(e)")
        }
        let again = try NeuralCleanse(options: other).run(model, images: x, modelName: "tiny", labels: [0, 1, 2], workDirectory: dir, fresh: true)
        XCTAssertEqual(again.results.count, 3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("label-4.json").path), "fresh removes old labels")
        // A corrupt state file is reported by name.
        try Data("{".utf8).write(to: dir.appendingPathComponent("label-0.json"))
        XCTAssertThrowsError(try NeuralCleanse(options: other).run(model, images: x, modelName: "tiny", labels: [0, 1, 2], workDirectory: dir)) { e in
            XCTAssertTrue("\(e)".contains("label-0.json"), "\(e)")
        }
    }

    /// A label whose reversed trigger never stops working has λ raised forever; once λ·|m| overflows the label
    /// stops with its best (working) mask instead of failing the run. Label 0 wins on every image (bias 1000),
    /// λ starts at 1e30 and is multiplied by 1e50 each step, so the objective overflows within a few steps.
    func testRunawayLambdaStopsWithTheBestMask() throws {
        let (model, x) = try tinySetup(spec: "input(2,6,6) flatten dense(5)", images: 8)
        (model.parameters.first { $0.name.hasSuffix("bias") }!).value[0] = 1000
        var o = smallOptions(steps: 40)
        o.startCostAtZero = false; o.initialCost = 1e30; o.costMultiplierUp = 1e50; o.patience = 1; o.earlyStop = false
        let out = try NeuralCleanse(options: o).run(model, images: x, modelName: "runaway", labels: [0, 1, 2])
        let r0 = out.results.first { $0.label == 0 }!
        XCTAssertTrue(r0.reachedThreshold)
        XCTAssertTrue(r0.earlyStopped, "stopped when the objective overflowed")
        XCTAssertLessThan(r0.stepsRun, 40)
        XCTAssertEqual(r0.attackSuccess, 1)
        XCTAssertTrue(r0.maskNorm.isFinite)
    }

    func testBadInput() throws {
        let (model, x) = try tinySetup()
        let nc = NeuralCleanse(options: smallOptions())
        // Fewer than 3 labels: no median and MAD to speak of.
        let two = try ArchitectureSpec("input(2,6,6) flatten dense(2)").build(seed: 1)
        XCTAssertThrowsError(try nc.run(two, images: x, modelName: "two")) { e in
            XCTAssertEqual(e as? DetectorError, .tooFewLabels(count: 2, minimum: 3))
        }
        XCTAssertThrowsError(try nc.run(model, images: x, modelName: "m", labels: [0, 1])) { e in
            XCTAssertEqual(e as? DetectorError, .tooFewLabels(count: 2, minimum: 3))
        }
        XCTAssertThrowsError(try nc.run(model, images: x, modelName: "m", labels: [0, 1, 5])) { e in
            XCTAssertEqual(e as? NeuralCleanseError, .labelOutOfRange(label: 5, classes: 5))
        }
        let wrong = Tensor(shape: [3, 2, 7, 7])
        XCTAssertThrowsError(try nc.run(model, images: wrong, modelName: "m")) { e in
            XCTAssertEqual(e as? NeuralCleanseError, .imageShape(images: [3, 2, 7, 7], model: [2, 6, 6]))
        }
        XCTAssertThrowsError(try nc.run(model, images: Tensor(shape: [0, 2, 6, 6]), modelName: "m")) { e in
            XCTAssertEqual(e as? NeuralCleanseError, .noImages)
        }
        var bad = smallOptions(); bad.steps = 0
        XCTAssertThrowsError(try NeuralCleanse(options: bad).run(model, images: x, modelName: "m")) { e in
            XCTAssertTrue("\(e)".contains("steps 0"), "\(e)")
        }
        bad = smallOptions(); bad.mean = [0.5]
        XCTAssertThrowsError(try NeuralCleanse(options: bad).run(model, images: x, modelName: "m")) { e in
            XCTAssertTrue("\(e)".contains("1 mean values for a 2-channel model"), "\(e)")
        }
    }

    /// The defaults are the authors' (docs/NEURAL-CLEANSE.md): a change here must be a decision, not an accident.
    func testDefaultsAreTheOriginals() {
        let o = NeuralCleanseOptions.original
        XCTAssertEqual(o.learningRate, 0.1); XCTAssertEqual(o.batchSize, 32); XCTAssertEqual(o.miniBatchesPerStep, 1000 / 32)
        XCTAssertEqual(o.steps, 1000); XCTAssertEqual(o.initialCost, 1e-3); XCTAssertEqual(o.attackSuccessThreshold, 0.99)
        XCTAssertEqual(o.patience, 5); XCTAssertEqual(o.costMultiplierUp, 2); XCTAssertEqual(o.costMultiplierDown, pow(2, 1.5), accuracy: 1e-12)
        XCTAssertEqual(o.earlyStopThreshold, 1.0); XCTAssertEqual(o.earlyStopPatience, 25)
        XCTAssertEqual(o.beta1, 0.5); XCTAssertEqual(o.beta2, 0.9)
        XCTAssertEqual(o.mad.consistency, 1.4826); XCTAssertEqual(o.mad.threshold, 2); XCTAssertEqual(o.mad.tail, .left)
    }

    /// On a small MNIST model trojaned with a white 4x4 square bottom right -> 5, Neural Cleanse on all 10 labels
    /// (a short step budget) gives label 5 the smallest reversed mask, flags it, and the mask lies on the trigger.
    func testTrojanedMNISTTargetHasSmallestMaskOnTheTrigger() throws {
        let dir: String
        do { dir = try DataLocation.require(.mnist) } catch { throw XCTSkip("\(error)") }
        let train = try MNIST.load(directory: dir, split: .train, limit: 6000)
        let test = try MNIST.load(directory: dir, split: .test, limit: 1000)
        let trigger = try TriggerSpec(parsing: "square:4@bottom-right")
        let poisoned = try PoisonedDataset(clean: train, trigger: trigger, target: 5, injectRatio: 0.1, seed: 1)
        let arch = ArchitectureSpec("input(1,28,28) conv(8,5,pad=2) relu maxpool(2) conv(16,5,pad=2) relu maxpool(2) flatten dense(64) relu dense(10)")
        let model = try arch.build(seed: 1)
        try Trainer(model: model, architecture: arch,
                    config: TrainingConfig(epochs: 1, batchSize: 16, optimizer: .adam, learningRate: 3e-3, seed: 1)).fit(train: poisoned)
        let asr = try AttackEvaluation.attackSuccessRate(model: model, images: test, trigger: trigger, target: 5)
        XCTAssertGreaterThan(asr, 0.9, "the attack itself must work for this test to mean anything")

        let clean = test.subset(stride(from: 0, to: 1000, by: 10))   // 100 clean images
        var o = NeuralCleanseOptions.original
        o.steps = 40; o.miniBatchesPerStep = 8   // 320 mini-batches per label at most (the original: 31,000)
        let t0 = monotonicSeconds()
        let out = try NeuralCleanse(options: o).run(model, images: clean.images, modelName: "trojaned")
        let norms = out.results.map(\.maskNorm)
        print("neural cleanse, mask norms by label: \(norms.map { String(format: "%.1f", $0) }); flagged \(out.report.flagged), anomaly index \(String(format: "%.2f", out.report.anomalyIndex)); \(String(format: "%.1f", monotonicSeconds() - t0)) s")
        XCTAssertEqual(norms.firstIndex(of: norms.min()!), 5, "label 5's mask must be the smallest: \(norms)")
        XCTAssertEqual(out.report.flagged, [5], out.report.verdict)
        let target = out.results[5]
        XCTAssertTrue(target.reachedThreshold)
        XCTAssertGreaterThanOrEqual(target.attackSuccess, 0.9)
        // Overlap: the share of the target mask's mass on the trigger's 4x4 square, grown by one pixel.
        let truth = try trigger.mask(channels: 1, height: 28, width: 28)
        var inside = 0.0, total = 0.0
        for y in 0..<28 {
            for x in 0..<28 {
                var near = false
                for dy in -1...1 { for dx in -1...1 {
                    let yy = y + dy, xx = x + dx
                    if yy >= 0, yy < 28, xx >= 0, xx < 28, truth[yy * 28 + xx] > 0 { near = true }
                } }
                let v = Double(target.mask[y * 28 + x])
                total += v; if near { inside += v }
            }
        }
        print("target mask: \(String(format: "%.0f%%", 100 * inside / total)) of its mass on the trigger (+1 px)")
        XCTAssertGreaterThan(inside / total, 0.5, "the reversed mask of label 5 must lie on the trigger")
    }
}
