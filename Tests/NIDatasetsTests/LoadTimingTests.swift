import Foundation
import XCTest
import NIDatasets

/// Times loading the full data sets. Skipped unless NEURONINSPECT_TIMING=1 (it unpacks GTSRB into the cache
/// on first use and reads 85,000 images); run e.g.
/// `NEURONINSPECT_TIMING=1 swift test -c release --scratch-path .build-data --filter LoadTimingTests`.
final class LoadTimingTests: XCTestCase {
    func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    func testTimeFullLoads() throws {
        guard ProcessInfo.processInfo.environment["NEURONINSPECT_TIMING"] == "1" else {
            throw XCTSkip("set NEURONINSPECT_TIMING=1 to time loading full MNIST and GTSRB")
        }
        let mnist = try DataLocation.require(.mnist)
        var train: ImageSet? = nil
        let tMNIST = try seconds { train = try MNIST.load(directory: mnist, split: .train) }
        XCTAssertEqual(train?.labelCounts, [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949])
        var root = ""
        let tUnpack = try seconds { root = try DataLocation.gtsrbRoot() }
        var gtsrb: ImageSet? = nil
        let tGTSRB = try seconds { gtsrb = try GTSRB.load(root: root, split: .train) }
        XCTAssertEqual(gtsrb?.count, 25087)
        let tTest = try seconds { gtsrb = try GTSRB.load(root: root, split: .test) }
        XCTAssertEqual(gtsrb?.count, 7949)
        print(String(format: "TIMING MNIST train %.3f s; GTSRB unpack/cache check %.3f s; GTSRB train %.3f s; GTSRB test %.3f s",
                     tMNIST, tUnpack, tGTSRB, tTest))
    }
}
