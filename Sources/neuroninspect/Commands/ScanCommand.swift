import ArgumentParser
import Foundation
import NITensor
import NIExplainers
import NIDetectors
import NIReports

/// `neuroninspect scan`: runs NeuronInspect on a model with clean images and reports the flagged targets.
struct ScanCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "scan",
        abstract: "Detect backdoor target labels of a model from clean images (NeuronInspect).")

    @OptionGroup var inputs: ScanInputs
    @Option(help: "Settings preset: default or paper (the paper read literally).") var preset: String = "default"
    @Option(help: "Write the report as JSON to this file.") var json: String?
    @Option(help: "Write an HTML report (index.html with heatmaps) into this folder.") var html: String?
    @Flag(help: "Exit with status 3 when a label is flagged (to gate a model in CI).") var failOnDetection = false

    func run() throws {
        let loaded = try inputs.load()
        let detector = NeuronInspect(preset: try NeuronInspect.Preset.named(preset, channels: loaded.model.inputShape[0])
            .normalised(mean: loaded.mean, std: loaded.std))
        let (report, heatmaps) = try detector.inspect(loaded.model, images: loaded.images, modelName: loaded.name, notes: loaded.notes)
        print(TerminalReport.render(report), terminator: "")
        if let j = json { try JSONReport.write(report, to: URL(fileURLWithPath: j)) }
        if let h = html {
            try HTMLReport.write(report, visuals: ReportVisuals.from(heatmaps, images: loaded.images, report: report), to: URL(fileURLWithPath: h))
            print("HTML report: \(h)/index.html")
        }
        if failOnDetection && !report.flagged.isEmpty { throw ExitCode(3) }
    }
}
