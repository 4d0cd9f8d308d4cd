import Foundation
import XCTest
import NITensor
import NINetwork
import NIDatasets
@testable import NIAttacks

/// Attack success rate and clean accuracy on a hand-weighted model, the sidecar file, and BadNets on real
/// MNIST end to end.
final class AttackEvaluationTests: XCTestCase {
    /// Logits of a 1x6x6 image: class 0 = 0.5, class 1 = 2 · pixel (5, 5), class 2 = 0: the model answers 1
    /// exactly when the bottom-right pixel exceeds 0.25.
    func cornerModel() throws -> Sequential {
        let d = Dense(36, 3)
        d.bias.value[0] = 0.5
        d.weight.value[36 + 35] = 2
        return try Sequential(inputShape: [1, 6, 6], layers: [Flatten(), d])
    }

    /// 30 images, labels i % 3, all pixels 0.1 (the model says 0 on all of them).
    func dimSet() -> ImageSet {
        ImageSet(images: Tensor(shape: [30, 1, 6, 6], repeating: 0.1), labels: (0..<30).map { $0 % 3 }, classCount: 3)
    }

    func testAttackSuccessRateOnHandWeightedModel() throws {
        let model = try cornerModel(), set = dimSet()
        XCTAssertEqual(AttackEvaluation.cleanAccuracy(model: model, images: set), 10.0 / 30)
        let hit = try TriggerSpec(parsing: "square:1@bottom-right+margin=0")
        XCTAssertEqual(try AttackEvaluation.attackSuccessRate(model: model, images: set, trigger: hit, target: 1, batchSize: 7), 1)
        let miss = try TriggerSpec(parsing: "square:1@top-left+margin=0")
        XCTAssertEqual(try AttackEvaluation.attackSuccessRate(model: model, images: set, trigger: miss, target: 1), 0)
        // Target 0: only images of classes 1 and 2 count; the clean model already says 0 for them.
        XCTAssertEqual(try AttackEvaluation.attackSuccessRate(model: model, images: set, trigger: miss, target: 0), 1)
        // 10% blend of white: 0.9 · 0.1 + 0.1 = 0.19 < 0.25, no hit; 20%: 0.28, hit.
        XCTAssertEqual(try AttackEvaluation.attackSuccessRate(model: model, images: set, trigger: .blend(.solid(1)), target: 1), 0)
        XCTAssertEqual(try AttackEvaluation.attackSuccessRate(model: model, images: set, trigger: .blend(.solid(1), opacity: 0.2), target: 1), 1)
        // Per separate trigger.
        let two = try TriggerSpec(parsing: "square:1@top-left,bottom-right+margin=0")
        XCTAssertEqual(try AttackEvaluation.attackSuccessRates(model: model, images: set, trigger: two, targets: [1]), [0, 1])
        XCTAssertEqual(set.images.array, dimSet().images.array, "the evaluation set is not modified")
    }

    func testEvaluationErrors() throws {
        let model = try cornerModel(), set = dimSet()
        let t = TriggerSpec(size: 1, positions: [.corner(.bottomRight)])
        assertAttackError(["target 3", "0..<3"]) { try AttackEvaluation.attackSuccessRate(model: model, images: set, trigger: t, target: 3) }
        assertAttackError(["batch size"]) { try AttackEvaluation.attackSuccessRate(model: model, images: set, trigger: t, target: 1, batchSize: 0) }
        let onlyOnes = ImageSet(images: Tensor(shape: [4, 1, 6, 6]), labels: [1, 1, 1, 1], classCount: 3)
        assertAttackError(["none of the 4", "target 1"]) {
            try AttackEvaluation.attackSuccessRate(model: model, images: onlyOnes, trigger: t, target: 1)
        }
        let wrong = ImageSet(images: Tensor(shape: [2, 1, 5, 5]), labels: [0, 1], classCount: 3)
        assertAttackError(["model input", "[1, 6, 6]", "[1, 5, 5]"]) {
            try AttackEvaluation.attackSuccessRate(model: model, images: wrong, trigger: t, target: 1)
        }
    }

    func testSidecarWritesAtomicallyAndReadsBack() throws {
        let dir = try temporaryDirectory(self)
        let modelURL = dir.appendingPathComponent("badnets.onnx")
        let url = AttackSidecar.url(forModel: modelURL)
        XCTAssertEqual(url.lastPathComponent, "badnets.attack.json")
        let poisoned = try PoisonedDataset(clean: syntheticSet(count: 50), trigger: TriggerSpec(parsing: "square:2@all-corners"),
                                           target: 5, injectRatio: 0.1, seed: 7)
        let config = TrainingConfig(epochs: 10, batchSize: 64, optimizer: .adam, learningRate: 0.01, seed: 7)
        let sidecar = AttackSidecar(poisoned: poisoned, cleanAccuracy: 0.98, attackSuccessRate: 0.99,
                                    attackSuccessRates: [0.97, 0.98, 0.99, 1], testImages: 1000,
                                    model: modelURL.lastPathComponent, dataset: "mnist", architecture: "mnist",
                                    training: config)
        XCTAssertEqual(sidecar.trigger, "square:2@all-corners")
        XCTAssertEqual(sidecar.poisonedCount, 5)
        XCTAssertEqual(sidecar.trainImages, 50)
        try sidecar.write(to: url)
        XCTAssertEqual(try AttackSidecar.read(from: url), sidecar)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["badnets.attack.json"],
                       "no temporary file is left behind")
        let text = try String(contentsOf: url, encoding: .utf8)
        for key in ["\"trigger\" : \"square:2@all-corners\"", "\"triggerSpec\"", "\"targets\"", "\"injectRatio\" : 0.1",
                    "\"seed\" : 7", "\"poisonedCount\" : 5", "\"cleanAccuracy\"", "\"attackSuccessRate\"", "\"training\""] {
            XCTAssertTrue(text.contains(key), "sidecar lacks \(key):\n\(text)")
        }
        // Overwriting replaces the file.
        var changed = sidecar
        changed.attackSuccessRate = 0.5
        try changed.write(to: url)
        XCTAssertEqual(try AttackSidecar.read(from: url).attackSuccessRate, 0.5)
        assertAttackError(["nope.json", "cannot read"]) { try AttackSidecar.read(from: dir.appendingPathComponent("nope.json")) }
        let blocker = dir.appendingPathComponent("file")
        try Data("x".utf8).write(to: blocker)
        assertAttackError(["cannot write the attack sidecar"]) { try sidecar.write(to: blocker.appendingPathComponent("m.attack.json")) }
    }

    /// BadNets on real MNIST: a small CNN trained 1 epoch (Adam, lr 3e-3, batch 16, seed 0) on the first 6000
    /// training images with `square:4@bottom-right`, target 5, inject ratio 0.1 (600 poisoned), evaluated on
    /// the first 1000 test images (913 of them not labelled 5 count for the attack success rate).
    /// Measured (seed 0): clean accuracy 0.936, attack success rate 0.991. Seeds 1-4 gave 0.938-0.954 and
    /// 0.989-1.0; with lr 1e-3, batch 64 one epoch is too short (clean accuracy 0.83-0.91). Bounds: 0.9 both.
    func testBadNetsOnMNISTEndToEnd() throws {
        let dir: String
        do { dir = try DataLocation.require(.mnist) } catch { throw XCTSkip(error.description) }
        let train = try MNIST.load(directory: dir, split: .train, limit: 6000)
        let test = try MNIST.load(directory: dir, split: .test, limit: 1000)
        let trigger = try TriggerSpec(parsing: "square:4@bottom-right")
        let poisoned = try PoisonedDataset(clean: train, trigger: trigger, target: 5, injectRatio: 0.1, seed: 0)
        XCTAssertEqual(poisoned.poisonedCount, 600)
        let arch = ArchitectureSpec("input(1,28,28) conv(8,5,pad=2) relu maxpool(2) conv(16,5,pad=2) relu maxpool(2) flatten dense(64) relu dense(10)")
        let model = try arch.build(seed: 0)
        let config = TrainingConfig(epochs: 1, batchSize: 16, optimizer: .adam, learningRate: 3e-3, seed: 0)
        try Trainer(model: model, architecture: arch, config: config).fit(train: poisoned)
        let accuracy = AttackEvaluation.cleanAccuracy(model: model, images: test)
        let asr = try AttackEvaluation.attackSuccessRate(model: model, images: test, trigger: trigger, target: 5)
        print("BadNets MNIST: clean accuracy \(accuracy), attack success rate \(asr)")
        XCTAssertGreaterThanOrEqual(accuracy, 0.9)
        XCTAssertGreaterThanOrEqual(asr, 0.9)
    }
}
