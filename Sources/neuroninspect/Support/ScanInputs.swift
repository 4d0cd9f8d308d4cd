import ArgumentParser
import Foundation
import NITensor
import NINetwork
import NIDatasets
import NIONNX

/// A model to inspect and the clean images to inspect it with (`--model`, `--images`, `--count`,
/// normalisation); shared by `scan` and the later `cleanse`.
struct ScanInputs: ParsableArguments {
    @Option(help: "ONNX model file (logits or a trailing Softmax, which is bypassed).") var model: String
    @Option(help: "Folder of clean PNG/PPM/PGM images (sorted by name; the first --count are used). Gray images are replicated to RGB for 3-channel models, RGB images reduced to luma for 1-channel models.") var images: String
    @Option(help: "Number of clean images to use. With fewer in the folder, all are used and the report says so.") var count: Int = 50
    @Flag(help: "Resize images to the model's input size (bilinear). Without it, a size mismatch is an error.") var resize = false
    @Option(help: "Per-channel mean subtracted after scaling to [0,1], e.g. 0.485,0.456,0.406.") var mean: String?
    @Option(help: "Per-channel standard deviation divided after the mean, e.g. 0.229,0.224,0.225.") var std: String?

    struct Loaded {
        var model: any Model
        var images: Tensor
        var notes: [String]
        var name: String
        /// The per-channel `--mean` / `--std` applied to the images (both empty when none was given).
        var mean: [Float] = []
        var std: [Float] = []
    }

    func load() throws -> Loaded {
        guard count >= 2 else { throw ValidationError("--count must be at least 2 (persistence compares images), got \(count)") }
        let onnx = try ONNXModel.load(URL(fileURLWithPath: model))
        var notes: [String] = onnx.notes
        var m = onnx.model
        if let head = onnx.trailingSoftmax {
            m = try onnx.logitsModel()
            notes.append("trailing \(head) bypassed: heatmaps read the logits")
        }
        let shape = m.inputShape
        guard shape.count == 3 else { throw ValidationError("\(model): input shape \(shape) is not [C, H, W]") }
        let folder = try ImageFolder.load(directory: images, channels: shape[0], height: resize ? shape[1] : nil,
                                          width: resize ? shape[2] : nil, limit: count)
        let x = folder.images
        guard x.shape[2] == shape[1], x.shape[3] == shape[2] else {
            throw ValidationError("\(folder.files[0]): image is \(x.shape[3])x\(x.shape[2]) but \(model) expects \(shape[2])x\(shape[1]); pass --resize to resize")
        }
        if folder.count < count { notes.append("asked for \(count) images, the folder holds \(folder.count): all are used") }
        if folder.count < 2 { throw ValidationError("\(images): at least 2 images are needed, found \(folder.count)") }
        let (mu, sd) = try normalise(x, channels: shape[0])
        return Loaded(model: m, images: x, notes: notes, name: URL(fileURLWithPath: model).lastPathComponent, mean: mu, std: sd)
    }

    /// Applies `--mean` / `--std` to `x` and returns the per-channel values (empty when neither was given).
    func normalise(_ x: Tensor, channels: Int) throws -> (mean: [Float], std: [Float]) {
        func parse(_ s: String?, _ what: String, _ def: Float) throws -> [Float] {
            guard let s else { return Array(repeating: def, count: channels) }
            let v = s.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
            guard v.count == channels || v.count == 1 else {
                throw ValidationError("--\(what) needs \(channels) comma-separated values (or one), got '\(s)'")
            }
            return v.count == 1 ? Array(repeating: v[0], count: channels) : v
        }
        let mu = try parse(mean, "mean", 0), sd = try parse(std, "std", 1)
        guard sd.allSatisfy({ $0 > 0 }) else { throw ValidationError("--std values must be positive") }
        if mean == nil && std == nil { return ([], []) }
        let hw = x.shape[2] * x.shape[3]
        for i in 0..<x.shape[0] { for c in 0..<channels {
            let p = x.data + (i * channels + c) * hw
            for j in 0..<hw { p[j] = (p[j] - mu[c]) / sd[c] }
        } }
        return (mu, sd)
    }
}
