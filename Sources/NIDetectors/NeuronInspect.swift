import Foundation
import NITensor
import NINetwork
import NIExplainers

/// The NeuronInspect detector (the paper's "Algorithm Design"): heatmaps of every output class on clean
/// images (rectified saliency on logits), the sparseness / smoothness / persistence features per class, their
/// weighted combination (Table 6 weights), and the MAD outlier test on the left tail (threshold 2). Takes a
/// model and clean images, returns a `DetectionReport`.
public struct NeuronInspect {
    /// A named set of settings.
    public struct Preset {
        public var name: String
        public var explainer: Explainer
        public var features: FeatureOptions
        /// Our extension: localise and verify a candidate trigger per class (see `TriggerVerification`);
        /// when set, the verdict comes from the flip rates instead of the combined feature.
        public var verification: TriggerVerification?
        public init(name: String, explainer: Explainer, features: FeatureOptions, verification: TriggerVerification? = nil) {
            self.name = name; self.explainer = explainer; self.features = features; self.verification = verification
        }

        /// The paper read literally: rectified saliency, Table 6 weights for the dataset (MNIST weights for
        /// single-channel inputs, GTSRB weights otherwise), the remaining open choices at their documented
        /// defaults.
        public static func paper(channels: Int) -> Preset {
            Preset(name: "paper", explainer: RectifiedSaliency(),
                   features: channels == 1 ? .paperMNIST : .paperGTSRB)
        }

        /// Our default: `verified` (SmoothGrad heatmaps, trigger localisation, gradient refinement, flip-rate
        /// verification). Chosen by measurement (scripts/detection_sweep.sh, docs/DETECTION.md): on three zoos of
        /// 16 trojaned and 5 benign MNIST models each it flagged the target alone on 48/48 and nothing on 15/15,
        /// where `paper` managed 0/48 and 10/15.
        public static func standard(channels: Int) -> Preset {
            var p = verified(channels: channels)
            p.name = "default"
            return p
        }

        /// Experimental: the paper's features on SmoothGrad-averaged rectified saliency (8 samples, σ = 0.3),
        /// which opens the ReLU gates that hide a trigger on clean images (shared notes, item 3).
        public static func smoothgrad(channels: Int) -> Preset {
            var p = paper(channels: channels)
            p.name = "smoothgrad"
            p.explainer = SmoothGrad(base: RectifiedSaliency(), samples: 8, sigma: 0.3, seed: 0)
            return p
        }

        /// SmoothGrad heatmaps (signed) plus trigger localisation, refinement and verification by flip rate
        /// (see `TriggerVerification`).
        public static func verified(channels: Int) -> Preset {
            var p = paper(channels: channels)
            p.name = "verified"
            p.explainer = SmoothGrad(base: RectifiedSaliency(reduction: .sum), samples: 8, sigma: 0.3, seed: 0)
            p.verification = TriggerVerification()
            return p
        }

        /// Table 5's ablation: the `paper` preset with one feature alone (`paper-sparseness`,
        /// `paper-smoothness`, `paper-persistence`) or persistence by MSE or SSIM instead of XOR (`paper-mse`,
        /// `paper-ssim`).
        public static func ablation(_ variant: String, channels: Int) -> Preset? {
            var p = paper(channels: channels)
            p.name = "paper-" + variant
            switch variant {
            case "sparseness": p.features.weights = .sparsenessOnly
            case "smoothness": p.features.weights = .smoothnessOnly
            case "persistence": p.features.weights = .persistenceOnly
            case "mse": p.features.persistence = .mse
            case "ssim": p.features.persistence = .ssim
            default: return nil
            }
            return p
        }

        /// The preset for a model whose inputs were normalised per channel (`x = (raw - mean) / std`; empty
        /// arrays: not normalised): SmoothGrad's noise and the verification's black and white patches are
        /// then expressed in the model's input units.
        public func normalised(mean: [Float], std: [Float]) -> Preset {
            var p = self
            if var s = p.explainer as? SmoothGrad { s.channelStd = std; p.explainer = s }
            p.verification?.mean = mean
            p.verification?.std = std
            return p
        }

        public static func named(_ name: String, channels: Int) throws -> Preset {
            switch name {
            case "verified": return verified(channels: channels)
            case "smoothgrad": return smoothgrad(channels: channels)
            case "paper": return paper(channels: channels)
            case "default": return standard(channels: channels)
            default:
                if name.hasPrefix("paper-"), let p = ablation(String(name.dropFirst(6)), channels: channels) { return p }
                throw DetectorError.invalidOption("unknown preset '\(name)': use default, paper, smoothgrad, verified, or an ablation of paper (paper-sparseness, paper-smoothness, paper-persistence, paper-mse, paper-ssim)")
            }
        }
    }

    public var preset: Preset
    public init(preset: Preset) { self.preset = preset }

    /// Runs the detector on `images` `[N, C, H, W]` (clean, scaled as the model expects). Also returns the
    /// heatmaps for reports.
    public func inspect(_ model: Model, images: Tensor, modelName: String, notes initialNotes: [String] = []) throws
        -> (report: DetectionReport, heatmaps: HeatmapSet) {
        guard model.classCount >= MADOutlierTest.minimumLabels else {
            throw DetectorError.tooFewLabels(count: model.classCount, minimum: MADOutlierTest.minimumLabels)
        }
        var notes = initialNotes
        let t0 = monotonicSeconds()
        let heatmaps = preset.explainer.attributeAllClasses(model, inputs: images)
        let features = try Features.extract(heatmaps, options: preset.features)
        var outcome = try preset.features.mad.run(features)
        var extra: [[String: Double]] = Array(repeating: [:], count: features.count)
        var scores = features.map(\.combined)
        var threshold = preset.features.mad.threshold
        var triggers: [DetectionReport.CandidateTrigger]?
        if let v = preset.verification {
            let results = v.run(model, images: images, signed: heatmaps)
            triggers = results.map { .init(label: $0.label, x: $0.x, y: $0.y, size: $0.size, channels: images.shape[1], values: $0.patch,
                                           opacity: $0.opacity) }
            scores = results.map(\.flipRate)
            extra = results.map { ["windowScore": $0.windowScore, "flipRate": $0.flipRate, "probability": $0.probability, "marginRatio": $0.marginRatio,
                                   "windowX": Double($0.x), "windowY": Double($0.y), "windowSize": Double($0.size), "specificity": $0.specificity]
                .merging($0.opacity.map { ["opacity": $0] } ?? [:]) { a, _ in a }
                .merging(Self.blendFeatures($0)) { a, _ in a }
                .merging(Self.squareFeatures($0)) { a, _ in a } }
            outcome = try v.test(results)
            let screened = v.screen(outcome.flagged, results: results, indices: outcome.indices)
            outcome.flagged = screened.flagged
            notes += screened.notes
            threshold = v.mad.threshold
        }
        let seconds = monotonicSeconds() - t0
        let perClass = features.enumerated().map { i, f in
            DetectionReport.ClassEntry(label: f.label,
                                       features: ["sparseness": f.sparseness, "smoothness": f.smoothness, "persistence": f.persistence]
                                           .merging(extra[i]) { a, _ in a },
                                       combined: scores[i], anomalyIndex: outcome.indices[i],
                                       flagged: outcome.flagged.contains(f.label))
        }
        var settings: [String: String] = ["explainer": preset.explainer.name]
        if let data = try? JSONEncoder.sortedKeys.encode(preset.features), let s = String(data: data, encoding: .utf8) {
            settings["features"] = s
        }
        if let v = preset.verification, let data = try? JSONEncoder.sortedKeys.encode(v), let s = String(data: data, encoding: .utf8) {
            settings["verification"] = s
        }
        var report = DetectionReport(model: modelName, detector: "neuroninspect", preset: preset.name,
                                     classes: model.classCount, images: images.shape[0], flagged: outcome.flagged,
                                     anomalyIndex: outcome.maxIndex, threshold: threshold,
                                     perClass: perClass, seconds: seconds, notes: notes, settings: settings)
        report.triggers = triggers
        return (report, heatmaps)
    }
}

extension NeuronInspect {
    /// A class's best full-image pattern (reported or kept as the alternative), as report features:
    /// `blendFlipRate`, `blendMarginRatio`, `blendSpecificity` (none without `blendOpacities`).
    static func blendFeatures(_ r: TriggerVerification.ClassResult) -> [String: Double] {
        guard let b = candidate(r, blend: true) else { return [:] }
        return ["blendFlipRate": b.flipRate, "blendMarginRatio": b.marginRatio, "blendSpecificity": b.specificity]
    }

    /// A class's best square window (reported or kept as the alternative), as report features:
    /// `squareFlipRate`, `squareMarginRatio`, `squareSpecificity`, `squareWindowSize`. When a class reports its
    /// full-image pattern, these say how its square did (e.g. a small corner trigger whose square lost).
    static func squareFeatures(_ r: TriggerVerification.ClassResult) -> [String: Double] {
        guard let q = candidate(r, blend: false) else { return [:] }
        return ["squareFlipRate": q.flipRate, "squareMarginRatio": q.marginRatio, "squareSpecificity": q.specificity,
                "squareWindowSize": Double(q.size)]
    }

    /// A class's candidate of one kind (full-image pattern or square): the reported one or its alternative.
    private static func candidate(_ r: TriggerVerification.ClassResult, blend: Bool) -> TriggerVerification.ClassResult? {
        (r.opacity != nil) == blend ? r : r.alternatives.first { ($0.opacity != nil) == blend }
    }
}

extension JSONEncoder {
    static var sortedKeys: JSONEncoder { let e = JSONEncoder(); e.outputFormatting = [.sortedKeys]; return e }
}
