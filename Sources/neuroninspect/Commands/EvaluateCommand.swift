import ArgumentParser
import Foundation
import NINetwork
import NIDatasets
import NIONNX
import NIAttacks

/// `neuroninspect evaluate`: clean accuracy of an ONNX model on a dataset's test split.
struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "Report a model's accuracy on a test set.")

    @Option(help: "ONNX model file.") var model: String
    @OptionGroup var data: DatasetOptions
    @Option(help: "Write the result as JSON to this file.") var json: String?
    @Option(help: "Also measure the attack success rate of this trigger (see train --trigger).") var trigger: String?
    @Option(help: "Target label of --trigger.") var target: Int?

    func run() throws {
        let loaded = try ONNXModel.load(URL(fileURLWithPath: model))
        let test = try data.load("test")
        guard test.sampleShape == loaded.model.inputShape else {
            throw ValidationError("\(model) expects input \(loaded.model.inputShape) but the \(data.dataset.rawValue) images are \(test.sampleShape)")
        }
        let acc = Trainer.accuracy(of: loaded.model, on: test)
        print("\(model): accuracy \(String(format: "%.2f%%", acc * 100)) on \(test.count) \(data.dataset.rawValue) test images")
        var asr: Float?
        if let t = trigger {
            guard let tg = target else { throw ValidationError("--trigger needs --target") }
            let spec = try TriggerSpec(parsing: t)
            asr = try AttackEvaluation.attackSuccessRate(model: loaded.model, images: test, trigger: spec, target: tg)
            print("attack success rate \(String(format: "%.2f%%", asr! * 100)) (\(spec) -> \(tg), test images not labelled \(tg))")
        }
        if let j = json {
            struct Result: Codable { var model: String; var dataset: String; var images: Int; var cleanAccuracy: Float; var attackSuccessRate: Float? }
            try writeJSON(Result(model: model, dataset: data.dataset.rawValue, images: test.count, cleanAccuracy: acc,
                                 attackSuccessRate: asr), to: URL(fileURLWithPath: j))
        }
    }
}
