import ArgumentParser
import Foundation
import NINetwork
import NIDatasets
import NIONNX

/// `neuroninspect evaluate`: clean accuracy of an ONNX model on a dataset's test split.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "Report a model's accuracy on a test set.")

    @Option(help: "ONNX model file.") var model: String
    @OptionGroup var data: DatasetOptions
    @Option(help: "Write the result as JSON to this file.") var json: String?

    func run() throws {
        let loaded = try ONNXModel.load(URL(fileURLWithPath: model))
        let test = try data.load("test")
        guard test.sampleShape == loaded.model.inputShape else {
            throw ValidationError("\(model) expects input \(loaded.model.inputShape) but the \(data.dataset.rawValue) images are \(test.sampleShape)")
        }
        let acc = Trainer.accuracy(of: loaded.model, on: test)
        print("\(model): accuracy \(String(format: "%.2f%%", acc * 100)) on \(test.count) \(data.dataset.rawValue) test images")
        if let j = json {
            struct Result: Codable { var model: String; var dataset: String; var images: Int; var cleanAccuracy: Float }
            try writeJSON(Result(model: model, dataset: data.dataset.rawValue, images: test.count, cleanAccuracy: acc), to: URL(fileURLWithPath: j))
        }
    }
}
