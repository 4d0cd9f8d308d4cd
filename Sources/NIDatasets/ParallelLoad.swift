import Dispatch
import Foundation

/// Runs per-item decoding work on all cores, in contiguous chunks, and reports the failure of the lowest
/// item index (so the error a user sees does not depend on thread timing).
enum ParallelLoad {
    /// Splits `0..<count` into chunks and runs `body` on each chunk concurrently. `body` processes its range
    /// in order and returns the index and error of its first failure, or nil.
    static func run(count: Int, _ body: (Range<Int>) -> (index: Int, error: DatasetError)?) throws(DatasetError) {
        if count == 0 { return }
        let workers = Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
        let chunks = Swift.min(count, workers == 1 ? 1 : workers * 8)
        let failures = UnsafeMutableBufferPointer<(index: Int, error: DatasetError)?>.allocate(capacity: chunks)
        failures.initialize(repeating: nil)
        defer {
            failures.deinitialize()
            failures.deallocate()
        }
        if chunks == 1 {
            failures[0] = body(0 ..< count)
        } else {
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                failures[chunk] = body((chunk * count / chunks) ..< ((chunk + 1) * count / chunks))
            }
        }
        if let first = failures.compactMap({ $0 }).min(by: { $0.index < $1.index }) { throw first.error }
    }
}
