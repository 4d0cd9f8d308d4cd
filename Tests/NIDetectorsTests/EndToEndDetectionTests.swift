import XCTest
import NITensor
import NINetwork
import NIDatasets
import NIAttacks
import NIExplainers
@testable import NIDetectors

/// End to end on real MNIST (skipped with the data location's message when absent): a small model trojaned
/// by BadNets (white 4x4 square bottom right -> 5) and the same model trained clean, both scanned with the
/// `verified` preset on 50 clean test images. The trojaned one must be flagged for 5 alone, the clean one
/// for nothing. The `paper` preset's verdicts are printed beside them (the paper's method misses here).
final class EndToEndDetectionTests: XCTestCase {
    func trainModel(_ data: BatchSource, seed: UInt64) throws -> Sequential {
        let arch = ArchitectureSpec("input(1,28,28) conv(8,5,pad=2) relu maxpool(2) conv(16,5,pad=2) relu maxpool(2) flatten dense(64) relu dense(10)")
        let model = try arch.build(seed: seed)
        let config = TrainingConfig(epochs: 1, batchSize: 16, optimizer: .adam, learningRate: 3e-3, seed: seed)
        try Trainer(model: model, architecture: arch, config: config).fit(train: data)
        return model
    }

    func testTrojanedFlaggedCleanNot() throws {
        let dir: String
        do { dir = try DataLocation.require(.mnist) } catch { throw XCTSkip("\(error)") }
        let train = try MNIST.load(directory: dir, split: .train, limit: 6000)
        let test = try MNIST.load(directory: dir, split: .test, limit: 1000)
        let clean = test.subset(stride(from: 0, to: 1000, by: 20))   // 50 clean images, all classes
        let trigger = try TriggerSpec(parsing: "square:4@bottom-right")
        let poisoned = try PoisonedDataset(clean: train, trigger: trigger, target: 5, injectRatio: 0.1, seed: 1)
        let trojaned = try trainModel(poisoned, seed: 1)
        let benign = try trainModel(train, seed: 1)
        let asr = try AttackEvaluation.attackSuccessRate(model: trojaned, images: test, trigger: trigger, target: 5)
        XCTAssertGreaterThan(asr, 0.9, "the attack itself must work for this test to mean anything")

        let verified = NeuronInspect(preset: .verified(channels: 1))
        let paper = NeuronInspect(preset: .paper(channels: 1))
        let t = try verified.inspect(trojaned, images: clean.images, modelName: "trojaned").report
        let b = try verified.inspect(benign, images: clean.images, modelName: "benign").report
        let tp = try paper.inspect(trojaned, images: clean.images, modelName: "trojaned").report
        let bp = try paper.inspect(benign, images: clean.images, modelName: "benign").report
        print("verified: trojaned \(t.flagged) (index \(t.anomalyIndex)), benign \(b.flagged); paper: trojaned \(tp.flagged), benign \(bp.flagged)")
        XCTAssertEqual(t.flagged, [5], t.verdict)
        XCTAssertEqual(b.flagged, [Int](), b.verdict)
        let entry = t.perClass[5]
        XCTAssertGreaterThanOrEqual(entry.features["flipRate"] ?? 0, 0.5)
    }
}
