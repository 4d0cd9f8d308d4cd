import ArgumentParser
import Foundation
import NIDetectors
import NIExperiments
import NINetwork

/// `neuroninspect zoo`: trains the benign and trojaned models of a plan (skipping those already trained), scans
/// each with every detector of the plan (skipping finished results), and writes the results table
/// (`results.csv`, `results.json`) and an HTML summary (`index.html`) into the output folder. With
/// `--shard K/N` only every N-th model from the K-th is done; `merge` then combines the shards' folders.
struct ZooCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "zoo",
        abstract: "Train and scan a grid of benign and trojaned models from a plan (resumable, shardable).",
        discussion: "Plans are JSON (see plans/ and docs/RESULTS.md). Each model's training resumes from its checkpoint; each finished (model, detector) result is kept in OUT/results/.")

    @Option(help: "Zoo plan (JSON).") var plan: String
    @Option(help: "Output folder (models/, results/, clean/, results.csv, results.json, index.html).") var out: String
    @Option(help: "Do only shard K of N (K/N, 1-based), e.g. 2/4.") var shard: String?
    @Option(help: "Dataset folder (default: $NEURONINSPECT_DATA/<dataset>).") var data: String?
    @Flag(help: "Train the models but run no detector.") var trainOnly = false
    @Option(help: "Run only these of the plan's detectors (comma-separated entries, e.g. 'neural-cleanse' or 'neuroninspect:default,neuroninspect:paper').") var detectors: String?
    @Option(help: "Do only the models whose names match one of these comma-separated globs (e.g. 'square14-*,blend10-*'): a slow detector on a few models, or one model again.") var models: String?

    func run() throws {
        let p = try ZooPlan.load(URL(fileURLWithPath: plan))
        var models = p.models()
        if let s = shard {
            let parts = s.split(separator: "/").compactMap { Int($0) }
            guard parts.count == 2, parts[1] >= 1, parts[0] >= 1, parts[0] <= parts[1] else { throw ZooError.badShard(s) }
            models = p.shard(parts[0], of: parts[1])
        }
        if let globs = self.models {
            let patterns = globs.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            models = models.filter { m in patterns.contains { fnmatch($0, m.name, 0) == 0 } }
            guard !models.isEmpty else {
                throw ZooError.badPlan(plan, "no model of the plan\(shard.map { " (shard \($0))" } ?? "") matches --models \(globs)")
            }
        }
        var chosen = p.detectors
        if let list = detectors {
            chosen = list.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) }
            for d in chosen where !p.detectors.contains(d) {
                throw ZooError.badPlan(plan, "--detectors names '\(d)', which is not among the plan's detectors (\(p.detectors.joined(separator: ", ")))")
            }
        }
        let dir = URL(fileURLWithPath: out)
        let fm = FileManager.default
        try fm.createDirectory(at: dir.appendingPathComponent("models"), withIntermediateDirectories: true)
        try fm.createDirectory(at: dir.appendingPathComponent("results"), withIntermediateDirectories: true)
        let clean = try ensureCleanImages(p, in: dir)
        printErr("zoo \(p.name): \(models.count) model(s)\(shard.map { " (shard \($0))" } ?? "")\(self.models.map { " matching \($0)" } ?? ""), detectors \(chosen.joined(separator: ", "))")
        var failures: [String] = []
        for (i, m) in models.enumerated() {
            let onnx = dir.appendingPathComponent("models/\(m.name).onnx")
            // Training attempts already set aside as collapsed (models/collapsed/<name>.attemptK.*).
            var attempt = collapsedAttempts(of: m.name, in: dir)
            var outcome: (acc: Double, asr: Double?)?
            while true {
                if !fm.fileExists(atPath: onnx.path) {
                    printErr("[\(i + 1)/\(models.count)] training \(m.name)\(m.trigger.map { " (\($0) -> \(m.target!))" } ?? " (benign)")\(attempt > 0 ? ", attempt \(attempt + 1) (seed \(m.seed(attempt: attempt)))" : "")")
                    try train(m, attempt: attempt, plan: p, to: onnx)
                }
                let o = try trainingOutcome(onnx)
                if p.training.collapsed(cleanAccuracy: o.0) {
                    if attempt < p.training.retries {
                        printErr("    \(m.name): training collapsed (clean accuracy \(String(format: "%.2f%%", 100 * o.0)) < \(String(format: "%.2f%%", 100 * p.training.minCleanAccuracy!))): set aside as models/collapsed/\(m.name).attempt\(attempt + 1).*, retraining")
                        try setAsideCollapsed(m.name, attempt: attempt, plan: p, in: dir)
                        attempt += 1
                        continue
                    }
                    printErr("    \(m.name): training collapsed (clean accuracy \(String(format: "%.2f%%", 100 * o.0))) on every attempt: its rows are kept but left out of the summary")
                }
                outcome = (o.0, o.1)
                break
            }
            if trainOnly { continue }
            let (acc, asr) = outcome!
            for d in chosen {
                let resultURL = ZooResult.url(in: dir, model: m.name, detector: d)
                if fm.fileExists(atPath: resultURL.path) { continue }
                let report: DetectionReport
                // A report kept from an earlier run (the row lost, or removed to be rescored) is reused.
                let keptURL = ZooResult.reportURL(in: dir, model: m.name, detector: d)
                if let data = try? Data(contentsOf: keptURL), let kept = try? JSONDecoder().decode(DetectionReport.self, from: data) {
                    printErr("[\(i + 1)/\(models.count)] \(d) on \(m.name): row rebuilt from the kept \(keptURL.lastPathComponent)")
                    report = kept
                } else {
                    printErr("[\(i + 1)/\(models.count)] \(d) on \(m.name)")
                    do { report = try detect(d, plan: p, model: onnx, images: clean, dir: dir) } catch {
                        // One detector failing on one model must not stop a long zoo: report it, keep going, and
                        // exit non-zero at the end (a rerun retries only what failed).
                        printErr("    failed: \(error)")
                        failures.append("\(m.name) / \(d): \(error)")
                        continue
                    }
                }
                let row = ZooResult(model: m, detector: d, cleanAccuracy: acc, attackSuccess: asr, report: report, trainingAttempt: attempt)
                try writeJSON(row, to: resultURL)
                printErr("    flagged \(row.flagged.isEmpty ? "-" : row.flagged.map(String.init).joined(separator: ",")) (\(row.correct ? "correct" : "wrong")), score \(String(format: "%.3f", row.score))")
            }
        }
        let (table, missing) = try ZooTable.collect(plan: p, from: [dir])
        try writeTable(table, to: dir)
        print(table.summaryText)
        if !missing.isEmpty { print("\(missing.count) result(s) not in \(out) (other shards, or --train-only); combine shards with `neuroninspect merge`") }
        print("wrote \(out)/results.csv, results.json, index.html")
        if !failures.isEmpty {
            printErr("\(failures.count) detector run(s) failed (rerun the same command to retry them):\n  " + failures.joined(separator: "\n  "))
            throw ExitCode(1)
        }
    }

    /// Exports the plan's clean test images once (to a temporary name, then renamed, so concurrent shards
    /// sharing the folder never see half a set).
    func ensureCleanImages(_ p: ZooPlan, in dir: URL) throws -> URL {
        let clean = dir.appendingPathComponent("clean")
        let fm = FileManager.default
        if fm.fileExists(atPath: clean.path) {
            let held = ((try? fm.contentsOfDirectory(atPath: clean.path)) ?? []).filter { !$0.hasPrefix(".") }.count
            guard held >= p.exportCount else { throw ZooError.badPlan(clean.path, "holds \(held) clean images but the plan's detectors need \(p.exportCount): use another --out folder (or delete \(clean.path) and the results made with it)") }
            return clean
        }
        let tmp = dir.appendingPathComponent("clean.tmp-\(ProcessInfo.processInfo.processIdentifier)")
        var args = ["--dataset", p.dataset, "--count", String(p.exportCount), "--out", tmp.path]
        if let d = data { args += ["--data", d] }
        let export = try ExportImagesCommand.parse(args)
        try export.run()
        do { try fm.moveItem(at: tmp, to: clean) } catch {
            try? fm.removeItem(at: tmp)
            guard fm.fileExists(atPath: clean.path) else { throw error }
        }
        return clean
    }

    /// Trains one model of the plan through the `train` command (the same code path a user runs).
    func train(_ m: ZooModel, attempt: Int, plan p: ZooPlan, to onnx: URL) throws {
        var args = ["--dataset", p.dataset, "--arch", p.architecture, "--epochs", String(p.training.epochs),
                    "--batch-size", String(p.training.batchSize), "--optimizer", p.training.optimizer,
                    "--lr", String(p.training.learningRate), "--seed", String(m.seed(attempt: attempt)), "--out", onnx.path]
        if let d = data { args += ["--data", d] }
        if let l = p.training.limit { args += ["--limit", String(l)] }
        if let l = p.training.testLimit { args += ["--test-limit", String(l)] }
        if p.training.augment { args.append("--augment") }
        // A net stuck at a constant output has collapsed for good: it stops early, and is retried.
        if let floor = p.training.minCleanAccuracy { args += ["--stop-if-stuck-below", String(floor)] }
        if let t = m.trigger, let target = m.target {
            args += ["--trigger", t, "--target", String(target), "--inject-ratio", String(p.training.injectRatio)]
        }
        try TrainCommand.parse(args).run()
    }

    /// How many training attempts of `model` were set aside as collapsed (`models/collapsed/<model>.attemptK.onnx`).
    func collapsedAttempts(of model: String, in dir: URL) -> Int {
        let folder = dir.appendingPathComponent("models/collapsed")
        var k = 0
        while FileManager.default.fileExists(atPath: folder.appendingPathComponent("\(model).attempt\(k + 1).onnx").path) { k += 1 }
        return k
    }

    /// Moves a collapsed model (its ONNX, training and attack sidecars, checkpoint), every detector result and
    /// report made with it, and its Neural Cleanse work folders into `models/collapsed/` as attempt `k + 1`,
    /// so the retrained model starts clean and the evidence is kept. The checkpoint and results move before
    /// the ONNX (whose move marks the attempt as set aside: a run killed before it redoes the move, and no
    /// retraining resumes from the old checkpoint or keeps the old results); the sidecars, which a retraining
    /// overwrites, move after it.
    func setAsideCollapsed(_ model: String, attempt k: Int, plan p: ZooPlan, in dir: URL) throws {
        let fm = FileManager.default
        let folder = dir.appendingPathComponent("models/collapsed")
        try fm.createDirectory(at: folder, withIntermediateDirectories: true)
        let tag = "\(model).attempt\(k + 1)"
        func move(_ from: URL, _ name: String) throws {
            guard fm.fileExists(atPath: from.path) else { return }
            let to = folder.appendingPathComponent(name)
            try? fm.removeItem(at: to)
            try fm.moveItem(at: from, to: to)
        }
        let models = dir.appendingPathComponent("models")
        try move(models.appendingPathComponent(model + ".onnx.ckpt"), tag + ".onnx.ckpt")
        for d in p.detectors {
            let safe = d.replacingOccurrences(of: ":", with: "-")
            try move(ZooResult.url(in: dir, model: model, detector: d), "\(tag).\(safe).json")
            try move(ZooResult.reportURL(in: dir, model: model, detector: d), "\(tag).\(safe).report.json")
            let work = dir.appendingPathComponent("cleanse-work/\(model)\(ZooPlan.detectorSpec(d)?.images.map { "@\($0)" } ?? "")")
            if d.hasPrefix("neural-cleanse") { try move(work, "\(tag).\(work.lastPathComponent).cleanse-work") }
        }
        try move(models.appendingPathComponent(model + ".onnx"), tag + ".onnx")
        for ext in [".json", ".attack.json"] { try move(models.appendingPathComponent(model + ext), tag + ext) }
    }

    /// Clean accuracy (from `M.json`) and attack success (from `M.attack.json`, trojaned models only).
    func trainingOutcome(_ onnx: URL) throws -> (Double, Double?) {
        struct Acc: Decodable { var cleanAccuracy: Double }
        struct Attack: Decodable { var attackSuccessRate: Double }
        let base = onnx.deletingPathExtension()
        guard let d = FileManager.default.contents(atPath: base.appendingPathExtension("json").path) else {
            throw ZooError.missingFile(base.appendingPathExtension("json").path)
        }
        let acc = try JSONDecoder().decode(Acc.self, from: d).cleanAccuracy
        let attackPath = base.path + ".attack.json"
        let asr = FileManager.default.contents(atPath: attackPath).flatMap { try? JSONDecoder().decode(Attack.self, from: $0).attackSuccessRate }
        return (acc, asr)
    }

    /// Runs one detector through its command (the same code path a user runs) and reads its JSON report.
    func detect(_ detector: String, plan p: ZooPlan, model: URL, images: URL, dir: URL) throws -> DetectionReport {
        let tmp = dir.appendingPathComponent("results/.\(model.deletingPathExtension().lastPathComponent).\(ProcessInfo.processInfo.processIdentifier).json")
        defer { try? FileManager.default.removeItem(at: tmp) }
        let common = ["--model", model.path, "--images", images.path, "--count", String(p.imageCount(for: detector)), "--json", tmp.path]
        let name = ZooPlan.detectorSpec(detector)?.name ?? detector
        if name == "neural-cleanse" {
            var args = common + ["--quiet", "--work-dir", dir.appendingPathComponent("cleanse-work/\(model.deletingPathExtension().lastPathComponent)\(ZooPlan.detectorSpec(detector)?.images.map { "@\($0)" } ?? "")").path]
            if let s = p.cleanseSteps { args += ["--steps", String(s)] }
            if let b = p.cleanseMiniBatches { args += ["--mini-batches", String(b)] }
            let c = try CleanseCommand.parse(args)
            try silencingStdout { try c.run() }
        } else {
            let preset = String(name.dropFirst("neuroninspect:".count))
            let s = try ScanCommand.parse(common + ["--preset", preset])
            try silencingStdout { try s.run() }
        }
        let report = try JSONDecoder().decode(DetectionReport.self, from: Data(contentsOf: tmp))
        // Keep the whole report (every label's scores) beside the row, for a closer look.
        let full = ZooResult.reportURL(in: dir, model: model.deletingPathExtension().lastPathComponent, detector: detector)
        try? FileManager.default.removeItem(at: full)
        try? FileManager.default.moveItem(at: tmp, to: full)
        return report
    }
}

/// Writes `results.csv`, `results.json` and `index.html` of a zoo table into `dir`, each atomically.
func writeTable(_ table: ZooTable, to dir: URL) throws {
    try AtomicFile.write(Data(table.csv.utf8), to: dir.appendingPathComponent("results.csv"))
    try AtomicFile.write(try table.json(), to: dir.appendingPathComponent("results.json"))
    try AtomicFile.write(Data(ZooPage.render(table).utf8), to: dir.appendingPathComponent("index.html"))
}

/// Runs `body` with standard output sent to /dev/null (the per-model terminal reports of a zoo run).
func silencingStdout(_ body: () throws -> Void) rethrows {
    fflush(stdout)
    let saved = dup(1)
    let null = open("/dev/null", O_WRONLY)
    dup2(null, 1)
    defer { fflush(stdout); dup2(saved, 1); close(saved); close(null) }
    try body()
}
