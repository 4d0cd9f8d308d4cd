import NITensor
import NINetwork
import NIDatasets

/// How well a backdoor works and how well it hides: the attack success rate on triggered test images and
/// the clean accuracy on untouched ones, the two figures that make a trojaned model "behave normally on the
/// clean sample" yet "misbehave on backdoor samples" (Huang et al., *NeuronInspect*, introduction and
/// "Trojan Backdoor Attack on DNNs").
///
/// Both run the model in inference mode, in batches, reusing one batch tensor: nothing is allocated per
/// image.
public enum AttackEvaluation {
    /// The default number of images per forward pass.
    public static let defaultBatchSize = 256

    /// The fraction of the images of `images` whose true label is not `target` that `model` classifies as
    /// `target` once `trigger` is stamped on them (every position of the spec at once).
    ///
    /// - Throws: `AttackError` when the trigger does not fit or cannot be drawn, the model's input shape is
    ///   not the images' shape, `target` is not a class of the model, `batchSize < 1`, or no image has a label
    ///   other than `target`.
    public static func attackSuccessRate(model: Model, images: ImageSet, trigger: TriggerSpec, target: Int,
                                         batchSize: Int = defaultBatchSize) throws(AttackError) -> Float {
        let compiled = try trigger.compiled(channels: images.channels, height: images.height, width: images.width)
        return try attackSuccessRate(model: model, images: images, trigger: compiled, target: target, batchSize: batchSize)
    }

    /// `attackSuccessRate` with a trigger already prepared for the image size.
    public static func attackSuccessRate(model: Model, images: ImageSet, trigger: CompiledTrigger, target: Int,
                                         batchSize: Int = defaultBatchSize) throws(AttackError) -> Float {
        let shape = [images.channels, images.height, images.width]
        guard model.inputShape == shape else {
            throw .shapeMismatch(what: "model input for the attack success rate", expected: model.inputShape, got: shape)
        }
        guard trigger.sampleShape == shape else {
            throw .shapeMismatch(what: "trigger '\(trigger.spec)' prepared for another image size",
                                 expected: shape, got: trigger.sampleShape)
        }
        guard target >= 0, target < model.classCount else {
            throw .targetOutOfRange(target: target, classCount: model.classCount)
        }
        guard batchSize >= 1 else { throw .invalidArgument("batch size must be at least 1, got \(batchSize)") }
        let candidates = (0..<images.count).filter { images.labels[$0] != target }
        guard !candidates.isEmpty else { throw .noEvaluationImages(target: target, count: images.count) }

        let x = Tensor(shape: [0])
        var labels: [Int] = []
        labels.reserveCapacity(batchSize)
        var hits = 0, start = 0
        let size = images.imageSize
        while start < candidates.count {
            let end = Swift.min(start + batchSize, candidates.count)
            images.batch(candidates[start..<end], into: x, labels: &labels)
            for k in 0..<(end - start) { trigger.stampImage(x.data + k * size) }
            let logits = model.forward(x, mode: .inference)
            let classes = logits.shape[1]
            for k in 0..<(end - start) {
                let z = logits.data + k * classes
                var best = 0
                for j in 1..<classes where z[j] > z[best] { best = j }
                if best == target { hits += 1 }
            }
            start = end
        }
        return Float(hits) / Float(candidates.count)
    }

    /// The attack success rate of each separate trigger of `trigger` (one per position, see
    /// `TriggerSpec.separated`) against its target: `targets` holds one label for all or one per position.
    /// For the paper's multiple triggers, each corner alone should activate the backdoor.
    public static func attackSuccessRates(model: Model, images: ImageSet, trigger: TriggerSpec, targets: [Int],
                                          batchSize: Int = defaultBatchSize) throws(AttackError) -> [Float] {
        let parts = trigger.separated
        guard targets.count == 1 || targets.count == parts.count else {
            throw .targetCount(given: targets.count, triggers: parts.count, spec: trigger.description)
        }
        var rates: [Float] = []
        for (i, p) in parts.enumerated() {
            rates.append(try attackSuccessRate(model: model, images: images, trigger: p,
                                               target: targets.count == 1 ? targets[0] : targets[i], batchSize: batchSize))
        }
        return rates
    }

    /// Top-1 accuracy on the clean images (`Trainer.accuracy`, inference mode).
    public static func cleanAccuracy(model: Model, images: ImageSet, batchSize: Int = defaultBatchSize) -> Float {
        Trainer.accuracy(of: model, on: images, batchSize: batchSize)
    }
}
