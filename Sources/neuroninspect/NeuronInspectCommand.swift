import ArgumentParser

/// The `neuroninspect` command: a thin shell over the library modules.
@main
struct NeuronInspectCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "neuroninspect",
        abstract: "Detect trojan backdoors in image classifiers from clean images (NeuronInspect), on a Swift CPU engine.",
        subcommands: [DemoCommand.self, ScanCommand.self, CleanseCommand.self, InfoCommand.self, TrainCommand.self, ExportImagesCommand.self, EvaluateCommand.self, BenchCommand.self, ZooCommand.self, MergeCommand.self])
}
