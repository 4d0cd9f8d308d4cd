import ArgumentParser
import Foundation
import NIDatasets

/// Which dataset and where it lives (`--dataset`, `--data`); shared by train and evaluate.
struct DatasetOptions: ParsableArguments {
    enum Name: String, ExpressibleByArgument, CaseIterable { case mnist, gtsrb }

    @Option(help: "Dataset: mnist or gtsrb.")
    var dataset: Name

    @Option(help: "Folder holding the dataset: for mnist the IDX files, for gtsrb the folder containing GTSRB/ or the .tar.xz (default: $NEURONINSPECT_DATA/<dataset>, $NEURONINSPECT_DATA defaulting to ../shared/data).")
    var data: String?

    @Option(help: "Use only the first N training images (deterministic subset).")
    var limit: Int?

    @Option(help: "Use only the first N test images.")
    var testLimit: Int?

    func load(_ split: String) throws -> ImageSet {
        let lim = split == "train" ? limit : testLimit
        switch dataset {
        case .mnist:
            let dir = try data ?? DataLocation.require(.mnist)
            return try MNIST.load(directory: dir, split: split == "train" ? .train : .test, limit: lim)
        case .gtsrb:
            var root: String
            if let d = data { root = d } else { root = try DataLocation.gtsrbRoot() }
            if root.hasSuffix(".tar.xz") { root = try DataLocation.gtsrbRoot() }
            return try GTSRB.load(root: root, split: split == "train" ? .train : .test, limit: lim)
        }
    }
}

/// A one-line progress bar on standard error (redrawn in place on a terminal, a line per update otherwise).
struct ProgressLine {
    let isTTY = isatty(2) == 1
    var lastPlain = -1.0

    mutating func update(fraction: Double, text: String) {
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "=", count: filled) + (filled < width ? ">" : "") + String(repeating: " ", count: max(0, width - filled - 1))
        let line = "[\(bar)] \(String(format: "%3.0f%%", fraction * 100)) \(text)"
        if isTTY {
            FileHandle.standardError.write(("\r\u{1B}[K" + line).data(using: .utf8)!)
            if fraction >= 1 { FileHandle.standardError.write("\n".data(using: .utf8)!) }
        } else if fraction - lastPlain >= 0.25 || fraction >= 1 {
            lastPlain = fraction
            FileHandle.standardError.write((line + "\n").data(using: .utf8)!)
        }
    }
}

func printErr(_ s: String) { FileHandle.standardError.write((s + "\n").data(using: .utf8)!) }
