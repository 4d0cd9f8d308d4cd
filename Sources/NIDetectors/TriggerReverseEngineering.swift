import Foundation
import NITensor
import NINetwork

/// The settings of Neural Cleanse (Wang et al., *Neural Cleanse: Identifying and Mitigating Backdoor Attacks in
/// Neural Networks*, IEEE S&P 2019; the NeuronInspect paper's baseline, Tables 2-4). Every default is the
/// authors' own, read from their code (github.com/bolunwang/backdoor): the runnable example
/// `gtsrb_visualize_example.py` where it sets a value, else the class defaults of `visualizer.py`. The other
/// published values (the class defaults that the example overrides, the ART port) are noted beside each.
/// docs/NEURAL-CLEANSE.md lists them all.
public struct NeuralCleanseOptions: Codable, Sendable, Equatable {
    /// Adam learning rate on the mask and pattern (tanh-space) parameters: 0.1 (example `LR`; ART 0.1).
    public var learningRate: Double = 0.1
    /// Adam β1 = 0.5 and β2 = 0.9 (`visualizer.py`: `Adam(lr, beta_1=0.5, beta_2=0.9)`).
    public var beta1: Double = 0.5
    public var beta2: Double = 0.9
    /// Adam ε = 1e-7 (Keras' `K.epsilon()`, the default of the Keras 2 Adam the original uses).
    public var adamEpsilon: Double = 1e-7
    /// Images per mini-batch: 32 (example `BATCH_SIZE`; class default 32; ART 32).
    public var batchSize: Int = 32
    /// Mini-batches per optimisation step: 31 (example `MINI_BATCH = NB_SAMPLE / BATCH_SIZE` = 1000 / 32). The
    /// original's "step" is this many mini-batches; attack success and the regulariser are averaged over them
    /// and the λ schedule, best-mask bookkeeping and early stop run once per step. The clean images are cycled
    /// (reshuffled on every pass, the last mini-batch of a pass partial, as Keras' `ImageDataGenerator.flow`).
    public var miniBatchesPerStep: Int = 31
    /// The step budget per label: 1000 (example `STEPS`; ART 1000).
    public var steps: Int = 1000
    /// λ once the schedule starts: 1e-3 (example `INIT_COST`; ART 1e-3).
    public var initialCost: Double = 1e-3
    /// λ is 0 until the reversed trigger's success has reached the threshold for `patience` steps in a row
    /// (`RESET_COST_TO_ZERO = True`, the class default "for full optimization").
    public var startCostAtZero: Bool = true
    /// Attack success that counts as a working trigger: 0.99 (example and class `ATTACK_SUCC_THRESHOLD`; ART 0.99).
    public var attackSuccessThreshold: Double = 0.99
    /// Steps in a row above (below) the threshold before λ is raised (lowered): 5 (example `PATIENCE`; the class
    /// default is 10; ART 5).
    public var patience: Int = 5
    /// λ is multiplied by this when raised: 2 (example `COST_MULTIPLIER`; the class default reads `1.5,`, a
    /// one-element tuple, so only the example's 2 ever ran; ART 1.5).
    public var costMultiplierUp: Double = 2
    /// λ is divided by this when lowered: `costMultiplierUp ^ 1.5` (the original's rule) = 2.83.
    public var costMultiplierDown: Double = 2.8284271247461903
    /// Stop a label early (example and class `EARLY_STOP = True`).
    public var earlyStop: Bool = true
    /// A step "improves" when the best regulariser falls below this fraction of the best so far: 1.0 (example
    /// `EARLY_STOP_THRESHOLD`: any decrease; class default and ART 0.99).
    public var earlyStopThreshold: Double = 1.0
    /// Stop after this many steps without improvement, once λ has been both raised and lowered: 25 (example
    /// `EARLY_STOP_PATIENCE = 5 * PATIENCE`; class default 2 x 10 = 20; ART 10).
    public var earlyStopPatience: Int = 25
    /// The ε of the tanh parametrisation `m = tanh(a) / (2 - ε) + 0.5`: 1e-7 (`K.epsilon()`).
    public var tanhEpsilon: Double = 1e-7
    /// Seed of the random initial mask and pattern (uniform in [0, 1), as the example's `np.random.random`) and
    /// of the mini-batch shuffles. Each label draws from its own stream (`seed`, label), so a label's result
    /// does not depend on which other labels run, nor in which order: a resumed run equals an uninterrupted one.
    public var seed: UInt64 = 123
    /// The MAD outlier test on the mask norms: consistency 1.4826, left tail (norms below the median), threshold
    /// 2 (`mad_outlier_detection.py`).
    public var mad: MADOutlierTest = MADOutlierTest()
    /// Per-channel mean and standard deviation the model's inputs were normalised with (`x = (raw - mean) / std`,
    /// raw in [0, 1]); empty for none. Mask and pattern act on raw pixels ("MASK OPERATION IN RAW DOMAIN" in
    /// `visualizer.py`), so the pattern stays a valid image in [0, 1].
    public var mean: [Float] = []
    public var std: [Float] = []

    public init() {}

    /// The authors' settings (the defaults above).
    public static var original: NeuralCleanseOptions { NeuralCleanseOptions() }

    /// Checks every value is usable; the message names the option.
    public func validate(channels: Int) throws(NeuralCleanseError) {
        func check(_ ok: Bool, _ message: @autoclosure () -> String) throws(NeuralCleanseError) {
            if !ok { throw .invalidOption(message()) }
        }
        try check(learningRate.isFinite && learningRate > 0, "learning rate \(learningRate) must be > 0")
        try check(beta1 >= 0 && beta1 < 1 && beta2 >= 0 && beta2 < 1, "Adam betas \(beta1), \(beta2) must lie in [0, 1)")
        try check(adamEpsilon.isFinite && adamEpsilon > 0, "Adam epsilon \(adamEpsilon) must be > 0")
        try check(batchSize >= 1, "batch size \(batchSize) must be >= 1")
        try check(miniBatchesPerStep >= 1, "mini-batches per step \(miniBatchesPerStep) must be >= 1")
        try check(steps >= 1, "steps \(steps) must be >= 1")
        try check(initialCost.isFinite && initialCost >= 0, "initial cost \(initialCost) must be >= 0")
        try check(attackSuccessThreshold > 0 && attackSuccessThreshold <= 1, "attack success threshold \(attackSuccessThreshold) must lie in (0, 1]")
        try check(patience >= 1, "patience \(patience) must be >= 1")
        try check(costMultiplierUp.isFinite && costMultiplierUp > 1, "cost multiplier up \(costMultiplierUp) must be > 1")
        try check(costMultiplierDown.isFinite && costMultiplierDown > 1, "cost multiplier down \(costMultiplierDown) must be > 1")
        try check(earlyStopThreshold.isFinite && earlyStopThreshold > 0, "early-stop threshold \(earlyStopThreshold) must be > 0")
        try check(earlyStopPatience >= 1, "early-stop patience \(earlyStopPatience) must be >= 1")
        try check(tanhEpsilon >= 0 && tanhEpsilon < 1, "tanh epsilon \(tanhEpsilon) must lie in [0, 1)")
        try check(mean.isEmpty || mean.count == channels, "\(mean.count) mean values for a \(channels)-channel model")
        try check(std.isEmpty || std.count == channels, "\(std.count) std values for a \(channels)-channel model")
        try check(std.allSatisfy { $0.isFinite && $0 > 0 }, "std values must be > 0")
        try check(mean.allSatisfy { $0.isFinite }, "mean values must be finite")
        do { try mad.validate() } catch { throw .invalidOption("\(error)") }
    }
}

/// Errors of Neural Cleanse (bad input, bad options, a broken work directory, a diverging optimisation). Each
/// message says what was wrong and what to do.
public enum NeuralCleanseError: Error, Equatable, Sendable, CustomStringConvertible {
    case invalidOption(String)
    /// The images do not have the model's input shape.
    case imageShape(images: [Int], model: [Int])
    case noImages
    /// A requested label is not an output of the model.
    case labelOutOfRange(label: Int, classes: Int)
    /// The work directory holds results of another model, other images or other settings.
    case workDirectoryMismatch(path: String, file: String)
    /// A state file in the work directory cannot be read.
    case unreadableState(path: String, reason: String)
    /// The objective became NaN or infinite.
    case nonFinite(label: Int, step: Int)

    public var description: String {
        switch self {
        case .invalidOption(let m): return "neural cleanse: invalid option: \(m)"
        case let .imageShape(images, model):
            return "neural cleanse: images of shape \(images) do not fit the model's input [N] + \(model)"
        case .noImages: return "neural cleanse: no clean images"
        case let .labelOutOfRange(label, classes):
            return "neural cleanse: label \(label) is not an output of the model (labels 0..<\(classes))"
        case let .workDirectoryMismatch(path, file):
            return "neural cleanse: the work directory \(path) holds \(file), a result for another model, other images or other settings; delete it, pass --fresh, or choose another --work-dir"
        case let .unreadableState(path, reason):
            return "neural cleanse: cannot read the state file \(path) (\(reason)); delete it or pass --fresh"
        case let .nonFinite(label, step):
            return "neural cleanse: the objective of label \(label) became NaN or infinite at step \(step); check the input range (--mean/--std) and the model"
        }
    }
}

/// The inner optimisation of Neural Cleanse for one target label `t` (Wang et al. 2019, section IV-B, "reverse
/// engineering triggers"; `visualizer.py` of the authors' code): a mask `m` (H x W) and a pattern `p` (C x H x W)
/// in tanh space, `m = tanh(a) / (2 - ε) + 0.5`, `p = tanh(b) / (2 - ε) + 0.5`, applied to raw images
/// `x' = (1 - m) ⊙ x + m ⊙ p`, minimising over mini-batches `B`
///
///     J(a, b) = Σ_{i ∈ B} CE(f(x'_i), t) + |B| · λ · Σ_hw m_hw
///
/// which is the gradient Keras takes of the original's per-sample loss vector (`loss_ce + cost · loss_reg`,
/// summed by `K.gradients`); |m|₁ equals the original's `sum |mask_upsample| / img_color`. Holds the model and
/// every buffer for one input shape: each mini-batch reuses them (no allocation in the loop).
public final class TriggerReverseEngineering {
    public let model: Model
    public let channels: Int, height: Int, width: Int, classes: Int
    /// The mask's pre-activation `a` `[H, W]` and its gradient.
    public let maskParameter: Parameter
    /// The pattern's pre-activation `b` `[C, H, W]` and its gradient.
    public let patternParameter: Parameter
    let scale: Float
    let tanhEpsilon: Double
    let mean: [Float], invStd: [Float], std: [Float]
    /// m, p in [0, 1] and their slopes dm/da, dp/db, from the last `refresh`.
    let mask: Tensor, pattern: Tensor, maskSlope: Tensor, patternSlope: Tensor
    /// The current mini-batch in the raw domain `[B, C, H, W]`, the stamped input in the model's domain, and the
    /// gradient on the logits.
    let raw = Tensor(shape: [0]), input = Tensor(shape: [0]), logitGradient = Tensor(shape: [0])
    /// Per-pixel scratch: Σ_b,c g ⊙ x (for the mask gradient).
    let pixelScratch: Tensor

    /// The outcome of one mini-batch.
    public struct BatchResult: Sendable {
        /// Σ_i CE(f(x'_i), t) over the batch.
        public var crossEntropySum: Double
        /// |m|₁ = Σ_hw m.
        public var maskL1: Double
        /// J = crossEntropySum + count · λ · maskL1.
        public var objective: Double
        /// Images classified as `t`.
        public var hits: Int
        public var count: Int
    }

    /// `mean`/`std` (per channel, or empty) describe the model's input normalisation; mask and pattern act on
    /// raw pixels in [0, 1].
    public init(model: Model, mean: [Float] = [], std: [Float] = [], tanhEpsilon: Double = 1e-7) {
        self.model = model
        let s = model.inputShape
        precondition(s.count == 3, "Neural Cleanse needs a [C, H, W] input, got \(s)")
        channels = s[0]; height = s[1]; width = s[2]; classes = model.classCount
        self.tanhEpsilon = tanhEpsilon
        scale = Float(1 / (2 - tanhEpsilon))
        self.mean = mean.isEmpty ? Array(repeating: 0, count: channels) : mean
        self.std = std.isEmpty ? Array(repeating: 1, count: channels) : std
        invStd = self.std.map { 1 / $0 }
        maskParameter = Parameter(name: "nc.mask", shape: [height, width])
        patternParameter = Parameter(name: "nc.pattern", shape: [channels, height, width])
        mask = Tensor(shape: [height * width]); maskSlope = Tensor(shape: [height * width])
        pattern = Tensor(shape: [channels * height * width]); patternSlope = Tensor(shape: [channels * height * width])
        pixelScratch = Tensor(shape: [height * width])
    }

    /// Sets the parameters so that mask and pattern take the given values in [0, 1] (`a = artanh((m - 0.5)(2 - ε))`,
    /// as the original's `reset_state`; values are clipped to [0, 1] first).
    public func setState(mask m: [Float], pattern p: [Float]) {
        precondition(m.count == height * width && p.count == channels * height * width, "state of the wrong size")
        let f = 2 - tanhEpsilon, limit = 1 - 1e-7
        func inverse(_ v: Float) -> Float {
            let u = Swift.min(Swift.max((Double(Swift.min(Swift.max(v, 0), 1)) - 0.5) * f, -limit), limit)
            return Float(0.5 * log((1 + u) / (1 - u)))
        }
        for i in 0..<m.count { maskParameter.value[i] = inverse(m[i]) }
        for i in 0..<p.count { patternParameter.value[i] = inverse(p[i]) }
        refresh()
    }

    /// Recomputes m, p and their slopes from the parameters.
    public func refresh() {
        let s = scale
        func apply(_ a: Tensor, _ out: Tensor, _ slope: Tensor) {
            let ap = a.data, o = out.data, sl = slope.data
            for i in 0..<a.count {
                let t = tanhf(ap[i])
                o[i] = t * s + 0.5
                sl[i] = (1 - t * t) * s
            }
        }
        apply(maskParameter.value, mask, maskSlope)
        apply(patternParameter.value, pattern, patternSlope)
    }

    /// The current mask `[H * W]` in [0, 1] (after `refresh`).
    public var currentMask: [Float] { mask.array }
    /// The current pattern `[C * H * W]` in [0, 1] (after `refresh`).
    public var currentPattern: [Float] { pattern.array }

    /// Copies `indices` of `images` (the model's domain, `[N, C, H, W]`) into the mini-batch, in the raw domain.
    public func loadBatch(from images: Tensor, indices: ArraySlice<Int>) {
        let chw = channels * height * width, hw = height * width
        raw.resize([indices.count, channels, height, width])
        for (j, i) in indices.enumerated() {
            let src = images.data + i * chw, dst = raw.data + j * chw
            for c in 0..<channels {
                let sd = std[c], mu = mean[c]
                let s = src + c * hw, d = dst + c * hw
                if sd == 1 && mu == 0 { d.update(from: s, count: hw) } else { for k in 0..<hw { d[k] = s[k] * sd + mu } }
            }
        }
    }

    /// Stamps the current mask and pattern on the loaded mini-batch: `input = ((1 - m) x + m p - mean) / std`.
    func stamp() {
        let b = raw.shape[0], c = channels, hw = height * width
        input.resize(raw.shape)
        let x = raw.data, y = input.data, m = mask.data, p = pattern.data
        let mean = self.mean, invStd = self.invStd
        Parallel.forEachChunk(hw, chunks: Swift.min(Parallel.threadCount, Swift.max(1, hw / 64))) { _, r in
            for n in 0..<b {
                for ch in 0..<c {
                    let base = (n * c + ch) * hw, pb = ch * hw
                    let mu = mean[ch], inv = invStd[ch]
                    for k in r {
                        let mk = m[k]
                        y[base + k] = ((1 - mk) * x[base + k] + mk * p[pb + k] - mu) * inv
                    }
                }
            }
        }
    }

    /// Evaluates J on the loaded mini-batch for target `target` and weight `cost` (λ) at the current
    /// parameters; with `gradients`, writes dJ/da into `maskParameter.grad` and dJ/db into `patternParameter.grad`.
    public func evaluate(target: Int, cost: Double, gradients: Bool) -> BatchResult {
        refresh()
        stamp()
        let b = raw.shape[0], k = classes
        let logits = model.forward(input, mode: .inference)
        logitGradient.resize([b, k])
        var ce = 0.0, hits = 0
        let z = logits.data, g = logitGradient.data
        for i in 0..<b {
            let row = z + i * k, grow = g + i * k
            var mx = -Float.infinity, arg = 0
            for j in 0..<k where row[j] > mx { mx = row[j]; arg = j }
            var s: Float = 0
            for j in 0..<k { let e = expf(row[j] - mx); grow[j] = e; s += e }
            ce += Double(logf(s) + mx - row[target])
            let inv = 1 / s
            for j in 0..<k { grow[j] *= inv }
            grow[target] -= 1
            if arg == target { hits += 1 }
        }
        let hw = height * width
        var l1 = 0.0
        for i in 0..<hw { l1 += Double(mask[i]) }
        let result = BatchResult(crossEntropySum: ce, maskL1: l1, objective: ce + Double(b) * cost * l1, hits: hits, count: b)
        guard gradients else { return result }

        let dx = model.backward(logitGradient, parameterGradients: false, inputGradient: true)
        let c = channels
        let gd = dx.data, x = raw.data, m = mask.data, p = pattern.data
        let ms = maskSlope.data, ps = patternSlope.data
        let gm = maskParameter.grad.data, gp = patternParameter.grad.data, t = pixelScratch.data
        let invStd = self.invStd
        let reg = Float(Double(b) * cost)
        Parallel.forEachChunk(hw, chunks: Swift.min(Parallel.threadCount, Swift.max(1, hw / 64))) { _, r in
            // S[c, k] = Σ_n g[n, c, k] / std_c (into gp), T[k] = Σ_n,c g[n, c, k] x[n, c, k] / std_c.
            for k in r { t[k] = 0 }
            for ch in 0..<c { for k in r { gp[ch * hw + k] = 0 } }
            for n in 0..<b {
                for ch in 0..<c {
                    let base = (n * c + ch) * hw, pb = ch * hw
                    let inv = invStd[ch]
                    for k in r {
                        let gi = gd[base + k] * inv
                        gp[pb + k] += gi
                        t[k] += gi * x[base + k]
                    }
                }
            }
            // dJ/dm_k = Σ_c p[c,k] S[c,k] - T[k] + |B| λ;  dJ/dp[c,k] = m_k S[c,k]; then the tanh slopes.
            for k in r {
                var s: Float = 0
                for ch in 0..<c { s += p[ch * hw + k] * gp[ch * hw + k] }
                gm[k] = (s - t[k] + reg) * ms[k]
            }
            for ch in 0..<c {
                let pb = ch * hw
                for k in r { gp[pb + k] = gp[pb + k] * m[k] * ps[pb + k] }
            }
        }
        return result
    }

    /// A fresh Adam over the mask and pattern parameters with the options' constants.
    public func makeOptimizer(_ o: NeuralCleanseOptions) -> Adam {
        Adam(parameters: [maskParameter, patternParameter], learningRate: Float(o.learningRate),
             beta1: Float(o.beta1), beta2: Float(o.beta2), epsilon: Float(o.adamEpsilon))
    }

    /// The fraction of `images` (model domain) that the model assigns to `target` once `mask` and `pattern`
    /// (values in [0, 1]) are stamped on them: the reversed trigger's attack success. Leaves the parameters as
    /// they were.
    public func attackSuccess(mask m: [Float], pattern p: [Float], images: Tensor, target: Int, batchSize: Int = 32) -> Double {
        let n = images.shape[0]
        let savedMask = maskParameter.value.copy(), savedPattern = patternParameter.value.copy()
        defer {
            maskParameter.value.assign(savedMask); patternParameter.value.assign(savedPattern)
            refresh()
        }
        mask.buffer.baseAddress!.update(from: m, count: m.count)
        pattern.buffer.baseAddress!.update(from: p, count: p.count)
        var hits = 0
        let all = Array(0..<n)
        var start = 0
        while start < n {
            let end = Swift.min(n, start + batchSize)
            loadBatch(from: images, indices: all[start..<end])
            stamp()
            hits += argmaxRows(model.forward(input, mode: .inference)).filter { $0 == target }.count
            start = end
        }
        return Double(hits) / Double(Swift.max(n, 1))
    }
}
