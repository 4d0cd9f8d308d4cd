import ArgumentParser
import Foundation
import NITensor
import NINetwork
import NIBenchmarks

/// `neuroninspect bench`: the engine benchmarks, side by side with PyTorch measured in the same run.
struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "bench", abstract: "Benchmark the engine against PyTorch (CPU) in the same run.")

    @Option(help: "Seconds per measurement.") var seconds: Double = 1.0
    @Option(help: "Worker threads for both engines.") var threads: Int = 2
    @Flag(help: "Skip the PyTorch reference even when it is installed.") var noPytorch = false
    @Option(help: "Write the table as Markdown to this file.") var markdown: String?
    @Option(help: "Write the rows as JSON to this file.") var json: String?
    @Option(help: "Only print a per-layer timing of one training step of this architecture.") var layers: String?
    @Option(help: "Run only one group: gemm, train, saliency, scan or cleanse.") var only: String?
    @Flag(help: "With --layers: time inference forward + input-gradient backward (the saliency pass) instead.") var saliency = false

    func run() throws {
        Parallel.threadCount = threads
        if let a = layers {
            let entries = try LayerProfile.run(try ArchitectureSpec.named(a), batch: 64, training: !saliency)
            for e in entries { print(e.layer.padding(toLength: 26, withPad: " ", startingAt: 0), String(format: "fwd %7.2f ms  bwd %7.2f ms", e.forwardMs, e.backwardMs)) }
            print(String(format: "total fwd %.1f ms, bwd %.1f ms", entries.map(\.forwardMs).reduce(0, +), entries.map(\.backwardMs).reduce(0, +)))
            return
        }
        let torch = noPytorch ? nil : PyTorchReference.locate(threads: threads)
        var versions = "PyTorch: not available"
        if let t = torch, let v = try? t.run(["versions"]) {
            versions = "PyTorch \(v["torch"] ?? "?") (\(threads) threads)"
        }
        printErr("reference: \(versions)")
        var rows: [BenchmarkRow] = []
        // GEMM
        let shapes = EngineBenchmarks.gemmShapes
        var torchGemm: [String: Double] = [:]
        if only == nil || only == "gemm", let t = torch, let r = try? t.run(["--seconds", String(seconds), "gemm", "--shapes",
                                                shapes.map { "\($0.1)x\($0.2)x\($0.3)" }.joined(separator: ",")]),
           let list = r["gemm"] as? [[String: Any]] {
            for e in list { if let m = e["m"] as? Int, let n = e["n"] as? Int, let k = e["k"] as? Int, let g = e["gflops"] as? Double { torchGemm["\(m)x\(n)x\(k)"] = g } }
        }
        for (name, m, n, k) in shapes where only == nil || only == "gemm" {
            let g = EngineBenchmarks.gemm(m: m, n: n, k: k, seconds: seconds)
            rows.append(BenchmarkRow(name: "GEMM \(name) (\(m)x\(n)x\(k))", unit: "GFLOP/s", ours: g,
                                     pytorch: torchGemm["\(m)x\(n)x\(k)"], targetRatio: 0.85))
            printErr(rows.last!.name + String(format: ": %.1f", g))
        }
        // Training throughput
        for (arch, spec, opt, target) in [("mnist", ArchitectureSpec.mnist, OptimizerKind.adam, 1.5),
                                          ("gtsrb", ArchitectureSpec.gtsrb, OptimizerKind.rmsprop, 1.0)] where only == nil || only == "train" {
            let ours = try EngineBenchmarks.trainingThroughput(spec, optimizer: opt, batch: 64, seconds: seconds * 2)
            var ref: Double?
            if let t = torch, let r = try? t.run(["--seconds", String(seconds * 2), "train", "--arch", arch, "--batch", "64",
                                                    "--optimizer", opt.rawValue, "--lr", "1e-4"]),
               let d = r["train"] as? [String: Any] { ref = d["img_per_s"] as? Double }
            rows.append(BenchmarkRow(name: "train \(arch) net, batch 64, \(opt.rawValue)", unit: "img/s", ours: ours, pytorch: ref, targetRatio: target))
            printErr(rows.last!.name + String(format: ": %.0f", ours))
        }
        // Forward + input-gradient backward (saliency), forward only
        for arch in ["mnist", "gtsrb"] where only == nil || only == "saliency" {
            let spec = try ArchitectureSpec.named(arch)
            let ms = try EngineBenchmarks.saliencyMilliseconds(spec, batch: 64, seconds: seconds)
            var ref: Double?
            if let t = torch, let r = try? t.run(["--seconds", String(seconds), "saliency", "--arch", arch, "--batch", "64"]),
               let d = r["saliency"] as? [String: Any], let v = d["ms"] as? Double { ref = 1000 / v }
            rows.append(BenchmarkRow(name: "forward + input-gradient backward, \(arch) net, batch 64", unit: "batches/s",
                                     ours: 1000 / ms, pytorch: ref, targetRatio: 1.0))
            let fms = try EngineBenchmarks.forwardMilliseconds(spec, batch: 64, seconds: seconds)
            var fref: Double?
            if let t = torch, let r = try? t.run(["--seconds", String(seconds), "forward", "--arch", arch, "--batch", "64"]),
               let d = r["forward"] as? [String: Any], let v = d["ms"] as? Double { fref = 1000 / v }
            rows.append(BenchmarkRow(name: "inference forward, \(arch) net, batch 64", unit: "batches/s", ours: 1000 / fms, pytorch: fref, targetRatio: nil))
        }
        // Detection: all-class heatmaps + features + MAD on 50 images (issue 3: <= 0.06 s MNIST, <= 1.2 s GTSRB).
        for arch in ["mnist", "gtsrb"] where only == nil || only == "scan" {
            let secs = try EngineBenchmarks.scanSeconds(try ArchitectureSpec.named(arch), images: 50, seconds: seconds)
            var ref: Double?
            if let t = torch, let r = try? t.run(["--seconds", String(seconds), "heatmaps", "--arch", arch, "--images", "50"]),
               let d = r["heatmaps"] as? [String: Any], let v = d["seconds"] as? Double { ref = 1 / v }
            rows.append(BenchmarkRow(name: "NeuronInspect paper pipeline, all classes, 50 images, \(arch) net (PyTorch: forward + backward per class only)",
                                     unit: "scans/s", ours: 1 / secs, pytorch: ref, targetRatio: nil))
            printErr(rows.last!.name + String(format: ": %.3f s", secs))
        }
        // Neural Cleanse: one optimisation step, batch 32 (issue 5: >= 1.0x PyTorch on both nets).
        for arch in ["mnist", "gtsrb"] where only == nil || only == "cleanse" {
            let ms = try EngineBenchmarks.cleanseStepMilliseconds(try ArchitectureSpec.named(arch), batch: 32, seconds: seconds)
            var ref: Double?
            if let t = torch, let r = try? t.run(["--seconds", String(seconds), "cleanse", "--arch", arch, "--batch", "32"]),
               let d = r["cleanse"] as? [String: Any], let v = d["ms"] as? Double { ref = 1000 / v }
            rows.append(BenchmarkRow(name: "Neural Cleanse step (stamp, forward, backward to mask + pattern, Adam), \(arch) net, batch 32",
                                     unit: "steps/s", ours: 1000 / ms, pytorch: ref, targetRatio: 1.0))
            printErr(rows.last!.name + String(format: ": %.2f ms", ms) + (ref.map { String(format: " (PyTorch %.2f ms)", 1000 / $0) } ?? ""))
        }
        let table = BenchmarkTable.markdown(rows, header: "\(versions); ours: \(threads) threads, kernel flags \(BuildInfo.kernelFlavour)")
        print(table)
        if let m = markdown { try AtomicFile.write(Data(table.utf8), to: URL(fileURLWithPath: m)) }
        if let j = json { try writeJSON(rows, to: URL(fileURLWithPath: j)) }
    }
}

enum BenchmarkTable {
    static func markdown(_ rows: [BenchmarkRow], header: String) -> String {
        var s = "\(header)\n\n| benchmark | unit | ours | PyTorch | ours/PyTorch | target | met |\n|---|---|---:|---:|---:|---:|:---:|\n"
        for r in rows {
            let fmt: (Double) -> String = { $0 >= 100 ? String(format: "%.0f", $0) : String(format: "%.1f", $0) }
            s += "| \(r.name) | \(r.unit) | \(fmt(r.ours)) | \(r.pytorch.map(fmt) ?? "-") | \(r.ratio.map { String(format: "%.2fx", $0) } ?? "-") | \(r.targetRatio.map { String(format: ">= %.2fx", $0) } ?? "-") | \(r.meetsTarget.map { $0 ? "yes" : "NO" } ?? "-") |\n"
        }
        return s
    }
}
