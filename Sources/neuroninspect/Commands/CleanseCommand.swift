import ArgumentParser
import Foundation
import NITensor
import NINetwork
import NIDetectors
import NIReports

/// `neuroninspect cleanse`: the Neural Cleanse baseline (Wang et al., S&P 2019) on a model with clean images:
/// reverse-engineers a trigger per label, flags labels whose mask norm is an outlier below the median, and
/// writes the same report as `scan` (terminal, `--json`, `--html` with the reversed masks and patterns).
struct CleanseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cleanse",
        abstract: "Detect backdoor target labels by reverse-engineering triggers (Neural Cleanse baseline).",
        discussion: """
        Finished labels are kept in a work directory (--work-dir; default: FILE.work next to --json FILE, else \
        ./neuroninspect-cleanse.work), so a killed run resumes from them. The directory is tied to the model, \
        the images and the settings; --fresh starts over. Constants follow the authors' code: see \
        docs/NEURAL-CLEANSE.md.
        """)

    @OptionGroup var inputs: ScanInputs
    @Option(help: "Step budget per label (a step is --mini-batches mini-batches of 32; the original: 1000).") var steps: Int = NeuralCleanseOptions.original.steps
    @Option(help: "Mini-batches per step (the original: 1000 samples / 32 = 31).") var miniBatches: Int = NeuralCleanseOptions.original.miniBatchesPerStep
    @Option(help: "Only these labels, comma-separated (at least 3; default: all).") var labels: String?
    @Option(help: "Seed of the random initial masks and patterns and of the shuffles.") var seed: UInt64 = NeuralCleanseOptions.original.seed
    @Option(help: "Folder that keeps finished labels (resume).") var workDir: String?
    @Flag(help: "Discard the finished labels in the work directory and start over.") var fresh = false
    @Option(help: "Write the report as JSON to this file.") var json: String?
    @Option(help: "Write an HTML report (index.html with the reversed masks and patterns) into this folder.") var html: String?
    @Flag(help: "Exit with status 3 when a label is flagged (to gate a model in CI).") var failOnDetection = false
    @Flag(help: "No per-label progress on stderr.") var quiet = false

    func validate() throws {
        guard steps >= 1 else { throw ValidationError("--steps must be at least 1, got \(steps)") }
        guard miniBatches >= 1 else { throw ValidationError("--mini-batches must be at least 1, got \(miniBatches)") }
    }

    func parseLabels() throws -> [Int]? {
        guard let labels else { return nil }
        let parts = labels.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let values = parts.compactMap { Int($0) }
        guard values.count == parts.count, !values.isEmpty else {
            throw ValidationError("--labels needs comma-separated label numbers, got '\(labels)'")
        }
        return values
    }

    var workDirectory: URL {
        if let w = workDir { return URL(fileURLWithPath: w) }
        if let j = json { return URL(fileURLWithPath: j + ".work") }
        return URL(fileURLWithPath: "neuroninspect-cleanse.work")
    }

    func run() throws {
        let wanted = try parseLabels()
        let loaded = try inputs.load()
        var options = NeuralCleanseOptions.original
        options.steps = steps
        options.miniBatchesPerStep = miniBatches
        options.seed = seed
        (options.mean, options.std) = (loaded.mean, loaded.std)
        let detector = NeuralCleanse(options: options)
        let work = workDirectory
        let quiet = self.quiet
        var lastPrint = 0.0
        var started = monotonicSeconds()
        if !quiet { printErr("neural cleanse: \(loaded.images.shape[0]) clean images, up to \(steps) steps of \(miniBatches) mini-batches per label; finished labels kept in \(work.path)") }
        let outcome = try detector.run(loaded.model, images: loaded.images, modelName: loaded.name, labels: wanted,
                                       workDirectory: work, fresh: fresh, notes: loaded.notes) { event in
            guard !quiet else { return }
            switch event {
            case let .started(label, position, total):
                started = monotonicSeconds(); lastPrint = started
                printErr("label \(label) (\(position)/\(total)) ...")
            case let .step(label, step, cost, success, bestNorm):
                let now = monotonicSeconds()
                if now - lastPrint >= 5 {
                    lastPrint = now
                    let best = bestNorm.map { String(format: "%.2f", $0) } ?? "-"
                    printErr("  label \(label): step \(step), lambda " + String(format: "%.2e, success %.3f", cost, success)
                             + ", best norm \(best) (" + String(format: "%.0f s)", now - started))
                }
            case let .finished(r, resumed):
                printErr("label \(r.label): " + String(format: "mask norm %.2f, reversed-trigger success %.3f, ", r.maskNorm, r.attackSuccess)
                         + "\(r.stepsRun) steps\(r.earlyStopped ? " (early stop)" : "")" + String(format: ", %.1f s", r.seconds)
                         + (resumed ? " (resumed from the work directory)" : ""))
            }
        }
        let report = outcome.report
        print(TerminalReport.render(report), terminator: "")
        if let j = json { try JSONReport.write(report, to: URL(fileURLWithPath: j)) }
        if let h = html {
            try HTMLReport.write(report, visuals: Self.visuals(outcome), to: URL(fileURLWithPath: h))
            print("HTML report: \(h)/index.html")
        }
        if failOnDetection && !report.flagged.isEmpty { throw ExitCode(3) }
    }

    /// The reversed masks, patterns and their product (the stamped trigger) as pictures, one per tested label.
    static func visuals(_ o: NeuralCleanse.Outcome) -> ReportVisuals {
        let hw = o.height * o.width
        func picture(_ values: [Float], channels: Int) -> Tensor { Tensor(shape: [channels, o.height, o.width], values: values) }
        let masks = o.results.map { picture($0.mask, channels: 1) }
        let patterns = o.results.map { picture($0.pattern, channels: o.channels) }
        let fused = o.results.map { r in
            picture((0..<(o.channels * hw)).map { r.pattern[$0] * r.mask[$0 % hw] }, channels: o.channels)
        }
        return ReportVisuals(meanMaps: [], exampleMaps: [], exampleImages: nil, height: o.height, width: o.width,
                             extraPictures: [("Reversed masks (white = 1)", masks), ("Reversed patterns", patterns),
                                             ("Reversed triggers (mask x pattern)", fused)],
                             extraPictureLabels: o.results.map(\.label))
    }
}
