import Foundation
import Synchronization

/// Work splitting across CPU cores. Parallel regions are flat: code running inside `Parallel.forEachChunk`
/// that starts another parallel region runs it inline on its own thread.
///
/// Regions run on a persistent pool (`WorkerPool`) whose workers spin briefly between regions before they
/// sleep, so the many short regions of a training step (one or two per layer and pass) do not pay a thread
/// wake-up each (Dispatch's `concurrentPerform` costs tens of microseconds per region).
public enum Parallel {
    /// Number of worker threads used by the engine. Defaults to the active core count, or
    /// `NEURONINSPECT_THREADS` when set.
    nonisolated(unsafe) public static var threadCount: Int = {
        if let s = ProcessInfo.processInfo.environment["NEURONINSPECT_THREADS"], let n = Int(s), n > 0 { return n }
        return Swift.max(1, ProcessInfo.processInfo.activeProcessorCount)
    }()

    /// Runs `body(chunk, range)` for `chunks` contiguous ranges covering `0..<count`, one per worker.
    /// With one chunk it runs inline on the calling thread.
    public static func forEachChunk(_ count: Int, chunks requested: Int = Parallel.threadCount,
                                    _ body: (_ chunk: Int, _ range: Range<Int>) -> Void) {
        let chunks = Swift.max(1, Swift.min(requested, count))
        if chunks == 1 { body(0, 0..<count); return }
        WorkerPool.shared.run(chunks) { c in
            let lo = count * c / chunks, hi = count * (c + 1) / chunks
            body(c, lo..<hi)
        }
    }
}

/// A persistent pool of worker threads for `Parallel`. The caller runs chunk 0 itself; workers take the rest.
/// Workers spin on a generation counter for a short while after each region, then sleep on a condition.
/// A region started while another is running (from a worker, or from a second thread) runs inline.
final class WorkerPool: @unchecked Sendable {
    static let shared = WorkerPool()

    private let generation = Atomic<Int>(0)
    private let remaining = Atomic<Int>(0)
    private let busy = Atomic<Bool>(false)
    private var job: ((Int) -> Void)?
    private var chunks = 0
    private var workers = 0
    private var mutex = pthread_mutex_t()
    private var cond = pthread_cond_t()
    private var sleeping = 0
    /// Spin iterations before a worker sleeps (a few hundred microseconds).
    private let spinLimit = 200_000

    init() {
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&cond, nil)
    }

    private func ensureWorkers(_ n: Int) {
        while workers < n {
            let index = workers + 1
            let t = Thread { [unowned self] in self.workerLoop(index) }
            t.stackSize = 1 << 22
            t.start()
            workers += 1
        }
    }

    func run(_ chunks: Int, _ body: (Int) -> Void) {
        // One region at a time; nested or concurrent regions run inline.
        guard busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
            for c in 0..<chunks { body(c) }
            return
        }
        ensureWorkers(chunks - 1)
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            self.chunks = chunks
            remaining.store(chunks - 1, ordering: .relaxed)
            generation.add(1, ordering: .releasing)
            pthread_mutex_lock(&mutex)
            if sleeping > 0 { pthread_cond_broadcast(&cond) }
            pthread_mutex_unlock(&mutex)
            escapable(0)
            while remaining.load(ordering: .acquiring) > 0 { }
            job = nil
        }
        busy.store(false, ordering: .releasing)
    }

    private func workerLoop(_ index: Int) {
        var seen = 0
        while true {
            var spins = 0
            var g = generation.load(ordering: .acquiring)
            while g == seen && spins < spinLimit { spins += 1; g = generation.load(ordering: .acquiring) }
            if g == seen {
                pthread_mutex_lock(&mutex)
                while generation.load(ordering: .acquiring) == seen {
                    sleeping += 1
                    pthread_cond_wait(&cond, &mutex)
                    sleeping -= 1
                }
                pthread_mutex_unlock(&mutex)
                g = generation.load(ordering: .acquiring)
            }
            seen = g
            if index < chunks {
                // The closure reference is dropped at the end of this scope, before the region is reported
                // done (the caller's `withoutActuallyEscaping` checks that nothing keeps it).
                do { if let j = job { j(index) } }
                remaining.subtract(1, ordering: .releasing)
            }
        }
    }
}
