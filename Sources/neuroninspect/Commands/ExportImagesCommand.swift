import ArgumentParser
import Foundation
import NIDatasets

/// `neuroninspect export-images`: writes clean test images of a dataset as PNG files, the input `scan` takes.
struct ExportImagesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "export-images",
        abstract: "Write clean images of a dataset's test split as PNG files (input for scan).")

    @OptionGroup var data: DatasetOptions
    @Option(help: "Number of images (spread evenly over the test split).") var count: Int = 50
    @Option(help: "Output folder.") var out: String

    func run() throws {
        guard count >= 1 else { throw ValidationError("--count must be at least 1, got \(count)") }
        let test = try data.load("test")
        let n = min(count, test.count)
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
        for k in 0..<n {
            let i = k * test.count / n
            let img = DecodedImage(tensor: test.images, index: i)
            try PNG.write(img, to: (out as NSString).appendingPathComponent(String(format: "%04d_label%02d.png", k, test.labels[i])))
        }
        print("wrote \(n) images to \(out)")
    }
}
