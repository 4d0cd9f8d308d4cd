import ArgumentParser
import Foundation
import NIDetectors
import NIReports
import NIAttacks

/// `neuroninspect demo`: scans the bundled trojaned MNIST model with the bundled clean images, prints the
/// result beside the attack's ground truth, and writes the HTML report.
struct DemoCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "demo",
        abstract: "Scan the bundled trojaned MNIST model (the main job on an example).")

    @Option(help: "Settings preset: default, paper or smoothgrad.") var preset: String = "default"
    @Option(help: "Folder for the HTML report.") var html: String = "neuroninspect-demo"

    func run() throws {
        guard let demo = Bundle.module.url(forResource: "Demo", withExtension: nil) else {
            throw ValidationError("the demo resources are missing from this build (Sources/neuroninspect/Resources/Demo)")
        }
        let model = demo.appendingPathComponent("trojaned-mnist.onnx")
        let truth = try AttackSidecar.read(from: demo.appendingPathComponent("trojaned-mnist.attack.json"))
        print("Bundled model: \(model.lastPathComponent), trojaned by BadNets with \(truth.trigger) -> label \(truth.targets.map(String.init).joined(separator: ",")) (clean accuracy \(String(format: "%.2f%%", truth.cleanAccuracy * 100)), attack success \(String(format: "%.2f%%", truth.attackSuccessRate * 100))). The detector does not see this.\n")
        let scan = try ScanCommand.parse(["--model", model.path, "--images", demo.appendingPathComponent("images").path,
                                          "--count", "40", "--preset", preset, "--html", html])
        try scan.run()
        print("\nGround truth: attack target \(truth.targets.map(String.init).joined(separator: ","))")
    }
}
