import Foundation
import XCTest
@testable import NIAttacks

/// The compact trigger syntax: what each example means, round trips through `description` and JSON, and
/// errors that name the offending part.
final class TriggerParsingTests: XCTestCase {
    func testExamplesMeanWhatTheySay() throws {
        XCTAssertEqual(try TriggerSpec(parsing: "square:4@bottom-right"),
                       TriggerSpec(pattern: .solid(.white), size: 4, positions: [.corner(.bottomRight, margin: 1)], opacity: 1))
        XCTAssertEqual(try TriggerSpec(parsing: "checkerboard:5@top-left+margin=2"),
                       TriggerSpec(pattern: .checkerboard, size: 5, positions: [.corner(.topLeft, margin: 2)]))
        XCTAssertEqual(try TriggerSpec(parsing: "random:4:seed=7@bottom-right"),
                       TriggerSpec(pattern: .random(seed: 7), size: 4, positions: [.corner(.bottomRight)]))
        XCTAssertEqual(try TriggerSpec(parsing: "square:3@all-corners").positions, TriggerSpec.Position.allCorners())
        XCTAssertEqual(try TriggerSpec(parsing: "square:3@bottom-right,top-left").positions,
                       [.corner(.bottomRight), .corner(.topLeft)])
        XCTAssertEqual(try TriggerSpec(parsing: "square:4@x=20,y=20"),
                       TriggerSpec(size: 4, positions: [.at(x: 20, y: 20)]))
        XCTAssertEqual(try TriggerSpec(parsing: "image:path/to/p.png:6@bottom-right"),
                       TriggerSpec(pattern: .image(path: "path/to/p.png"), size: 6, positions: [.corner(.bottomRight)]))
        XCTAssertEqual(try TriggerSpec(parsing: "blend:random:seed=1:alpha=0.1"),
                       TriggerSpec(pattern: .random(seed: 1), placement: .fullImage, opacity: 0.1))
        // Defaults: blend alpha 0.1, random seed 0; case and surrounding blanks do not matter.
        XCTAssertEqual(try TriggerSpec(parsing: " blend:random ").description, "blend:random:seed=0:alpha=0.1")
        XCTAssertEqual(try TriggerSpec(parsing: "Square:4@Bottom-Right").description, "square:4@bottom-right")
        // A corner's own margin overrides the global one; the image path may hold ':' and '@'.
        XCTAssertEqual(try TriggerSpec(parsing: "square:2@top-left:margin=0,bottom-right+margin=3").positions,
                       [.corner(.topLeft, margin: 0), .corner(.bottomRight, margin: 3)])
        XCTAssertEqual(try TriggerSpec(parsing: "image:C:/a@b/p.png:6x4:alpha=0.5@top-right").pattern, .image(path: "C:/a@b/p.png"))
    }

    func testCanonicalStringsRoundTrip() throws {
        let texts = [
            "square:4@bottom-right", "checkerboard:5@top-left+margin=2", "random:4:seed=7@bottom-right",
            "square:3@all-corners", "square:3@bottom-right,top-left", "square:4@x=20,y=20",
            "image:path/to/p.png:6@bottom-right", "blend:random:seed=1:alpha=0.1", "square:6x4:color=1,0,0:alpha=0.5@top-left",
            "square:2:color=0.5@all-corners+margin=0", "square:2@top-left:margin=0,bottom-right:margin=3",
            "checkerboard:3@x=0,y=0,bottom-left", "blend:solid:color=0.25:alpha=0.2", "blend:checkerboard:alpha=1",
            "blend:image:dir/p.ppm:alpha=0.1", "random:1:seed=18446744073709551615@top-right",
        ]
        for t in texts {
            let spec = try TriggerSpec(parsing: t)
            XCTAssertEqual(spec.description, t)
            XCTAssertEqual(try TriggerSpec(parsing: spec.description), spec)
        }
    }

    func testStructuredSpecsRoundTripThroughStringAndJSON() throws {
        let specs: [TriggerSpec] = [
            TriggerSpec(size: 4, positions: [.corner(.bottomRight)]),
            TriggerSpec(pattern: .random(seed: 3), width: 2, height: 5, positions: [.at(x: 1, y: 2), .corner(.topRight, margin: 4)]),
            TriggerSpec(pattern: .solid(.rgb(0.1, 0.2, 0.3)), size: 3, positions: TriggerSpec.Position.allCorners(margin: 2), opacity: 0.3),
            TriggerSpec(pattern: .checkerboard, size: 2, positions: [.corner(.bottomLeft, margin: 0), .corner(.topLeft, margin: 5)]),
            TriggerSpec(pattern: .image(path: "x:y.png"), size: 3, positions: [.corner(.topLeft)], opacity: 0.75),
            .blend(.random(seed: 9)), .blend(.solid(0.5), opacity: 0.05),
        ]
        for s in specs {
            XCTAssertEqual(try TriggerSpec(parsing: s.description), s, s.description)
            let json = try JSONEncoder().encode(s)
            XCTAssertEqual(try JSONDecoder().decode(TriggerSpec.self, from: json), s)
        }
        let json = String(decoding: try JSONEncoder().encode(TriggerSpec(size: 4, positions: [.corner(.bottomRight)])), as: UTF8.self)
        XCTAssertTrue(json.contains("\"corner\":\"bottom-right\""), json)
        XCTAssertTrue(json.contains("\"kind\":\"solid\""), json)
    }

    func testBadSyntaxNamesTheOffendingPart() {
        let cases: [(String, String, String)] = [
            ("", "", "empty"),
            ("square:4", "square:4", "no '@'"),
            ("circle:4@bottom-right", "circle", "unknown pattern"),
            ("square:0@bottom-right", "0", "positive number of pixels"),
            ("square:4x@bottom-right", "4x", "WxH"),
            ("square@bottom-right", "square", "no patch size"),
            ("square:4:8@bottom-right", "8", "a second size"),
            ("square:4@middle", "middle", "unknown position"),
            ("square:4@x=3", "x=3", "followed by y=Y"),
            ("square:4@y=3,x=3", "y=3", "must follow x=X"),
            ("square:4@", "@", "no position"),
            ("square:4@bottom-right,", "bottom-right,", "empty position"),
            ("square:4@bottom-right:margin=-1", "bottom-right:margin=-1", "M >= 0"),
            ("square:4:seed=3@bottom-right", "seed=3", "only to random"),
            ("random:4:color=1@bottom-right", "color=1", "only to square/solid"),
            ("square:4:color=1,0@top-left", "color=1,0", "three RGB values"),
            ("square:4:size=3@top-left", "size=3", "unknown option"),
            ("square:4:alpha=x@top-left", "alpha=x", "a number in (0, 1]"),
            ("square:4:alpha=1:alpha=1@top-left", "alpha=1", "given twice"),
            ("square:4@bottom-right+alpha=0.5", "alpha=0.5", "goes before the '@'"),
            ("square:4@bottom-right+margin=a", "margin=a", "non-negative integer"),
            ("square:4:margin=2@bottom-right", "margin=2", "after the positions"),
            ("random:4:seed=-1@top-left", "seed=-1", "non-negative integer"),
            ("blend:random:4", "4", "no size"),
            ("blend:random@top-left", "@top-left", "no position"),
            ("blend", "blend", "needs a pattern"),
            ("blend:spiral", "spiral", "unknown pattern"),
            ("image:6@top-left", "image:6", "image:PATH:SIZE"),
        ]
        for (text, part, problem) in cases {
            do {
                let s = try TriggerSpec(parsing: text)
                XCTFail("'\(text)' parsed as \(s)")
            } catch {
                guard case let .syntax(spec, p, message) = error else { XCTFail("'\(text)': \(error)"); continue }
                XCTAssertEqual(spec, text.trimmingCharacters(in: .whitespaces))
                XCTAssertEqual(p, part, "offending part of '\(text)'")
                XCTAssertTrue(message.contains(problem), "'\(text)': '\(message)' lacks '\(problem)'")
                XCTAssertTrue(error.description.contains("square:4@bottom-right"), "the message shows an example")
            }
        }
    }

    func testReadableButImpossibleValuesAreRejected() {
        assertAttackError(["alpha", "(0, 1]"]) { try TriggerSpec(parsing: "square:4:alpha=0@bottom-right") }
        assertAttackError(["alpha", "(0, 1]"]) { try TriggerSpec(parsing: "blend:random:alpha=1.5") }
        assertAttackError(["[0, 1]"]) { try TriggerSpec(parsing: "square:4:color=2@bottom-right") }
        assertAttackError(["listed twice"]) { try TriggerSpec(parsing: "square:4@bottom-right,bottom-right") }
        assertAttackError(["negative"]) { try TriggerSpec(parsing: "square:4@x=-1,y=0") }
    }
}
