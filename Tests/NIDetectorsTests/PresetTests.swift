import XCTest
@testable import NIDetectors

/// Preset names: the ablation presets of Table 5 change exactly one setting of `paper`.
final class PresetTests: XCTestCase {
    func testAblationPresetsChangeOneSetting() throws {
        let paper = try NeuronInspect.Preset.named("paper", channels: 1)
        let sp = try NeuronInspect.Preset.named("paper-sparseness", channels: 1)
        XCTAssertEqual(sp.features.weights, .sparsenessOnly)
        XCTAssertEqual(sp.features.persistence, paper.features.persistence)
        XCTAssertEqual(try NeuronInspect.Preset.named("paper-persistence", channels: 3).features.weights, .persistenceOnly)
        let ssim = try NeuronInspect.Preset.named("paper-ssim", channels: 1)
        XCTAssertEqual(ssim.features.persistence, .ssim)
        XCTAssertEqual(ssim.features.weights, paper.features.weights)
        XCTAssertEqual(ssim.name, "paper-ssim")
        XCTAssertNil(ssim.verification)
        XCTAssertThrowsError(try NeuronInspect.Preset.named("paper-bogus", channels: 1)) {
            XCTAssertTrue("\($0)".contains("paper-ssim"), "\($0)")
        }
    }
}
