import Foundation
import XCTest
import NIDatasets

final class DataLocationTests: XCTestCase {
    /// Sets NEURONINSPECT_DATA for the rest of the test, restoring the previous value afterwards.
    func setDataRoot(_ value: String) {
        let previous = ProcessInfo.processInfo.environment[DataLocation.environmentVariable]
        setenv(DataLocation.environmentVariable, value, 1)
        addTeardownBlock {
            if let previous { setenv(DataLocation.environmentVariable, previous, 1) }
            else { unsetenv(DataLocation.environmentVariable) }
        }
    }

    func testMissingDataGivesActionableMessage() throws {
        let dir = try Fixture.tempDirectory(self)
        setDataRoot(dir)
        XCTAssertEqual(DataLocation.root, dir)
        XCTAssertEqual(DataLocation.mnist, dir + "/mnist")
        assertDatasetError(["MNIST not found at \(dir)/mnist", "set NEURONINSPECT_DATA to the folder holding mnist/ and gtsrb/"]) {
            try DataLocation.require(.mnist)
        }
        assertDatasetError(["GTSRB archive not found at \(dir)/gtsrb/GTSRB-subset.tar.xz"]) {
            try DataLocation.require(.gtsrbArchive)
        }
    }

    func testPackageRootIsFound() throws {
        let dir = try Fixture.tempDirectory(self)
        try FileManager.default.createDirectory(atPath: dir + "/a/b", withIntermediateDirectories: true)
        try Fixture.write(Array("// swift-tools-version:6.0\n".utf8), to: dir + "/Package.swift")
        XCTAssertEqual(DataLocation.packageRoot(from: dir + "/a/b").map { URL(fileURLWithPath: $0).standardizedFileURL.path },
                       URL(fileURLWithPath: dir).standardizedFileURL.path)
    }

    func testGTSRBArchiveIsUnpackedOnceIntoCache() throws {
        // A small archive in the official layout, made from the fixture tree.
        let data = try Fixture.tempDirectory(self)
        try FileManager.default.createDirectory(atPath: data + "/gtsrb", withIntermediateDirectories: true)
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/usr/bin/tar")
        tar.arguments = ["-cJf", data + "/gtsrb/GTSRB-subset.tar.xz", "-C", Fixture.path("gtsrb"), "GTSRB"]
        try tar.run()
        tar.waitUntilExit()
        XCTAssertEqual(tar.terminationStatus, 0)
        setDataRoot(data)

        let cache = data + "/cache/gtsrb"
        let root = try DataLocation.gtsrbRoot(cache: cache)
        XCTAssertEqual(root, cache)
        XCTAssertTrue(FileManager.default.fileExists(atPath: cache + "/GTSRB/Final_Test/Images/GT-final_test.csv"))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: data + "/cache")
        XCTAssertEqual(leftovers, ["gtsrb"])   // no temporary folder left behind
        XCTAssertEqual(try DataLocation.gtsrbRoot(cache: cache), cache)   // second call: already there
        XCTAssertEqual(try GTSRB.load(root: root, split: .test).labels, [16, 1, 27, 38])
    }
}
