import Foundation
import NITensor
import NINetwork
import NIDetectors

/// One benchmark row: what was measured, our figure, PyTorch's figure from the same run (when available),
/// and the target ratio.
public struct BenchmarkRow: Codable, Sendable {
    public var name: String
    public var unit: String
    public var ours: Double
    public var pytorch: Double?
    /// Required `ours / pytorch` (higher is better for every unit used here).
    public var targetRatio: Double?
    public init(name: String, unit: String, ours: Double, pytorch: Double?, targetRatio: Double?) {
        self.name = name; self.unit = unit; self.ours = ours; self.pytorch = pytorch; self.targetRatio = targetRatio
    }
    public var ratio: Double? { pytorch.map { $0 > 0 ? ours / $0 : 0 } }
    public var meetsTarget: Bool? {
        guard let r = ratio, let t = targetRatio else { return nil }
        return r >= t
    }
}

/// Times `body` after a warm-up: repeats until `seconds` have passed (at least 3 runs), returns the median.
public func medianSeconds(budget seconds: Double, _ body: () -> Void) -> Double {
    body()
    var times: [Double] = []
    let start = monotonicSeconds()
    while times.count < 3 || (monotonicSeconds() - start < seconds && times.count < 1000) {
        let t0 = monotonicSeconds()
        body()
        times.append(monotonicSeconds() - t0)
    }
    times.sort()
    return times[times.count / 2]
}

/// The engine benchmarks of issue 2: GEMM on the nets' convolution shapes and 1024³, training throughput,
/// and one forward + input-gradient backward (the saliency cost) for both of the paper's networks.
public enum EngineBenchmarks {
    /// GEMM shapes `(M, N, K)` for `C[M,N] = A[M,K]·B[K,N]`: each convolution of both nets as our engine runs
    /// it (per image: `W[Cout, C·k·k] · col[C·k·k, OH·OW]`), the dense layers at batch 64, the 4096x288x64 shape
    /// measured in the issue, and 1024³.
    public static let gemmShapes: [(String, Int, Int, Int)] = [
        ("mnist conv1", 16, 784, 25), ("mnist conv2", 32, 196, 400), ("mnist dense1 b64", 64, 512, 1568),
        ("gtsrb conv1", 32, 1024, 27), ("gtsrb conv2", 32, 1024, 288), ("gtsrb conv3", 64, 256, 288),
        ("gtsrb conv4", 64, 256, 576), ("gtsrb conv5", 128, 64, 576), ("gtsrb conv6", 128, 64, 1152),
        ("gtsrb dense1 b64", 64, 512, 2048), ("4096x288x64", 4096, 64, 288), ("1024^3", 1024, 1024, 1024),
    ]

    public static func gemm(m: Int, n: Int, k: Int, seconds: Double) -> Double {
        var rng = SeededGenerator(seed: 1)
        let a = Tensor(shape: [m, k]), b = Tensor(shape: [k, n]), c = Tensor(shape: [m, n])
        for i in 0..<a.count { a[i] = rng.nextUnit() - 0.5 }
        for i in 0..<b.count { b[i] = rng.nextUnit() - 0.5 }
        let t = medianSeconds(budget: seconds) {
            GEMM.sgemm(m: m, n: n, k: k, a: a.data, lda: k, b: b.data, ldb: n, c: c.data, ldc: n)
        }
        return 2.0 * Double(m * n * k) / t / 1e9
    }

    static func randomBatch(_ model: Sequential, batch: Int, seed: UInt64) -> (Tensor, [Int]) {
        var rng = SeededGenerator(seed: seed)
        let x = Tensor(shape: [batch] + model.inputShape)
        for i in 0..<x.count { x[i] = rng.nextUnit() }
        let labels = (0..<batch).map { _ in Int(rng.next() % UInt64(model.classCount)) }
        return (x, labels)
    }

    /// Images per second of full training steps (forward, loss, backward, optimiser step).
    public static func trainingThroughput(_ arch: ArchitectureSpec, optimizer: OptimizerKind, batch: Int, seconds: Double) throws -> Double {
        let model = try arch.build(seed: 1)
        let opt = optimizer.make(parameters: model.parameters, learningRate: 1e-4)
        let (x, labels) = randomBatch(model, batch: batch, seed: 2)
        let loss = CrossEntropyLoss()
        let t = medianSeconds(budget: seconds) {
            let logits = model.forward(x, mode: .training)
            loss(logits, labels: labels)
            model.zeroGradients()
            _ = model.backward(loss.gradient, parameterGradients: true, inputGradient: false)
            opt.step()
        }
        return Double(batch) / t
    }

    /// Milliseconds for one forward and one backward of a logit column to the input (no parameter gradients).
    public static func saliencyMilliseconds(_ arch: ArchitectureSpec, batch: Int, seconds: Double) throws -> Double {
        let model = try arch.build(seed: 1)
        let (x, _) = randomBatch(model, batch: batch, seed: 3)
        let dy = Tensor(shape: [batch, model.classCount])
        for i in 0..<batch { dy[i * model.classCount] = 1 }
        let t = medianSeconds(budget: seconds) {
            _ = model.forward(x, mode: .inference)
            _ = model.backward(dy, parameterGradients: false, inputGradient: true)
        }
        return t * 1000
    }

    /// Seconds for NeuronInspect's `paper` pipeline on `images` random images: rectified-saliency heatmaps of
    /// every class (one forward, a backward per class), the three features and the MAD test.
    public static func scanSeconds(_ arch: ArchitectureSpec, images: Int, seconds: Double) throws -> Double {
        let model = try arch.build(seed: 1)
        let (x, _) = randomBatch(model, batch: images, seed: 4)
        let detector = NeuronInspect(preset: .paper(channels: model.inputShape[0]))
        var failure: Error?
        let t = medianSeconds(budget: seconds) {
            do { _ = try detector.inspect(model, images: x, modelName: "bench") } catch { failure = error }
        }
        if let failure { throw failure }
        return t
    }

    /// Milliseconds for one Neural Cleanse optimisation step (issue 5): stamp the mask and pattern on a batch of
    /// random images, forward, cross-entropy towards a target plus λ·|m|₁, backward to the input, the chain rule
    /// to the mask and pattern (tanh-space) parameters, and an Adam update of both.
    public static func cleanseStepMilliseconds(_ arch: ArchitectureSpec, batch: Int, seconds: Double) throws -> Double {
        let model = try arch.build(seed: 1)
        let (x, _) = randomBatch(model, batch: batch, seed: 5)
        let o = NeuralCleanseOptions.original
        let engine = TriggerReverseEngineering(model: model, tanhEpsilon: o.tanhEpsilon)
        var rng = SeededGenerator(seed: 6)
        let hw = model.inputShape[1] * model.inputShape[2]
        engine.setState(mask: (0..<hw).map { _ in rng.nextUnit() },
                        pattern: (0..<(model.inputShape[0] * hw)).map { _ in rng.nextUnit() })
        let adam = engine.makeOptimizer(o)
        let indices = Array(0..<batch)[...]
        return medianSeconds(budget: seconds) {
            engine.loadBatch(from: x, indices: indices)
            _ = engine.evaluate(target: 0, cost: o.initialCost, gradients: true)
            adam.step()
        } * 1000
    }

    /// Milliseconds for one inference forward of a batch.
    public static func forwardMilliseconds(_ arch: ArchitectureSpec, batch: Int, seconds: Double) throws -> Double {
        let model = try arch.build(seed: 1)
        let (x, _) = randomBatch(model, batch: batch, seed: 3)
        return medianSeconds(budget: seconds) { _ = model.forward(x, mode: .inference) } * 1000
    }
}

/// Per-layer timing of one training step, to see where the time goes (`neuroninspect bench --layers`).
public enum LayerProfile {
    public struct Entry: Sendable { public var layer: String; public var forwardMs: Double; public var backwardMs: Double }

    public static func run(_ arch: ArchitectureSpec, batch: Int, repeats: Int = 10, training: Bool = true) throws -> [Entry] {
        let model = try arch.build(seed: 1)
        let (x, labels) = EngineBenchmarks.randomBatch(model, batch: batch, seed: 2)
        let loss = CrossEntropyLoss()
        var fwd = [Double](repeating: 0, count: model.layers.count), bwd = fwd
        for rep in 0...repeats {
            var h = x
            for (i, l) in model.layers.enumerated() {
                let t0 = monotonicSeconds(); h = l.forward(h, mode: training ? .training : .inference)
                if rep > 0 { fwd[i] += monotonicSeconds() - t0 }
            }
            loss(h, labels: labels)
            var g = loss.gradient
            for (i, l) in model.layers.enumerated().reversed() {
                let t0 = monotonicSeconds(); g = l.backward(g, parameterGradients: training, inputGradient: training ? i > 0 : true)
                if rep > 0 { bwd[i] += monotonicSeconds() - t0 }
            }
        }
        return model.layers.enumerated().map { i, l in
            Entry(layer: "\(i) \(l.kind)", forwardMs: fwd[i] * 1000 / Double(repeats), backwardMs: bwd[i] * 1000 / Double(repeats))
        }
    }
}
