import XCTest
import NITensor
import NIExplainers
import NIDetectors
@testable import NIReports

/// How reports show a candidate trigger: a square stamped over the first clean image, a full-image pattern
/// blended over it at its opacity, and the flagged label's line in the terminal summary.
final class CandidateTriggerRenderingTests: XCTestCase {
    /// A 1x2x2 clean image of 0.5 everywhere; label 0's trigger a 1x1 square of 1 at (1, 0), label 1's a pattern
    /// [0, 1, 1, 0] blended at 20%: 0.8·0.5 + 0.2·p = 0.4 or 0.6.
    func report(flagged: [Int]) -> DetectionReport {
        let entries = (0..<3).map { l in
            DetectionReport.ClassEntry(label: l, features: ["flipRate": l == 1 ? 1 : 0], combined: 0, anomalyIndex: 0,
                                       flagged: flagged.contains(l))
        }
        var r = DetectionReport(model: "m", detector: "neuroninspect", preset: "default", classes: 3, images: 1,
                                flagged: flagged, anomalyIndex: 9, threshold: 2, perClass: entries, seconds: 0)
        r.triggers = [.init(label: 0, x: 1, y: 0, size: 1, channels: 1, values: [1]),
                      .init(label: 1, x: 0, y: 0, size: 0, channels: 1, values: [0, 1, 1, 0], opacity: 0.2),
                      .init(label: 2, x: 0, y: 0, size: 0, channels: 1, values: [])]
        return r
    }

    func testPicturesStampSquaresAndBlendPatterns() throws {
        let images = Tensor(shape: [1, 1, 2, 2], repeating: 0.5)
        let maps = HeatmapSet(maps: Tensor(shape: [3, 1, 2, 2]))
        let v = ReportVisuals.from(maps, images: images, report: report(flagged: [1]))
        let pictures = try XCTUnwrap(v.extraPictures.first).perClass
        XCTAssertEqual(pictures.count, 3)
        XCTAssertEqual((0..<4).map { pictures[0][$0] }, [0.5, 1, 0.5, 0.5])
        XCTAssertEqual((0..<4).map { pictures[1][$0] }, [0.4, 0.6, 0.6, 0.4].map { Float($0) })
        XCTAssertEqual((0..<4).map { pictures[2][$0] }, [0.5, 0.5, 0.5, 0.5], "no trigger: the clean image")
    }

    func testTerminalNamesTheFlaggedLabelsTrigger() {
        let blend = TerminalReport.render(report(flagged: [1]))
        XCTAssertTrue(blend.contains("label 1: candidate trigger a full-image pattern blended at 20%, flips 100% of the clean images"), blend)
        let square = TerminalReport.render(report(flagged: [0]))
        XCTAssertTrue(square.contains("label 0: candidate trigger 1x1 at x=1, y=0, flips 0% of the clean images"), square)
    }
}
