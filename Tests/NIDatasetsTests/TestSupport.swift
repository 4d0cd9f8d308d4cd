import Foundation
import XCTest
import NIDatasets

/// Paths of the committed fixtures (see Fixtures/README.md) and scratch folders for bad-input tests.
enum Fixture {
    /// The Fixtures folder: the copy bundled with the tests, or the source folder next to this file.
    static let root: String = {
        if let url = Bundle.module.url(forResource: "Fixtures", withExtension: nil),
           FileManager.default.fileExists(atPath: url.appendingPathComponent("mnist").path) {
            return url.path
        }
        return URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
    }()

    static func path(_ relative: String) -> String { root + "/" + relative }

    static func bytes(_ relative: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(relative))))
    }

    /// A new empty folder under the system temporary folder, removed at the end of the test.
    static func tempDirectory(_ test: XCTestCase) throws -> String {
        let dir = FileManager.default.temporaryDirectory
            .appendingPathComponent("NIDatasetsTests-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        test.addTeardownBlock { try? FileManager.default.removeItem(atPath: dir) }
        return dir
    }

    static func write(_ bytes: [UInt8], to path: String) throws {
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Copies a fixture folder (recursively) into a new temp folder and returns the copy's path.
    static func copy(_ relative: String, _ test: XCTestCase) throws -> String {
        let dest = try tempDirectory(test) + "/" + URL(fileURLWithPath: relative).lastPathComponent
        try FileManager.default.copyItem(atPath: path(relative), toPath: dest)
        return dest
    }
}

/// Asserts that `body` throws a `DatasetError` whose description contains every string of `parts`, and
/// returns the error.
@discardableResult
func assertDatasetError<T>(_ parts: [String], file: StaticString = #filePath, line: UInt = #line,
                           _ body: () throws -> T) -> DatasetError? {
    do {
        _ = try body()
        XCTFail("expected a DatasetError containing \(parts), but nothing was thrown", file: file, line: line)
        return nil
    } catch let error as DatasetError {
        let text = error.description
        for part in parts where !text.contains(part) {
            XCTFail("error description does not contain '\(part)': \(text)", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("expected a DatasetError, got \(error)", file: file, line: line)
        return nil
    }
}
