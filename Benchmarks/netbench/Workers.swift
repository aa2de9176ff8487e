@preconcurrency import Glibc
import NetCore
import Synchronization

/// Lets every worker thread set up its connections first, then starts the measurement on all of them at once.
final class StartGate: Sendable {
    private let barrier: Barrier
    private let start = Atomic<UInt64>(0)

    init(workers: Int) { barrier = Barrier(parties: workers + 1) }

    /// Called by each worker when its connections are up; returns the common start time (monotonic ns).
    func workerReady() -> UInt64 {
        barrier.wait()
        barrier.wait()
        return start.load(ordering: .acquiring)
    }

    /// Called by the main thread: waits for every worker, then releases them all with one start time.
    func releaseWorkers() -> UInt64 {
        barrier.wait()
        let now = monotonicNanos()
        start.store(now, ordering: .releasing)
        barrier.wait()
        return now
    }
}

/// Runs `body(index)` on `threads` new threads (each builds its own EventLoop there) and returns their results in
/// order, with the start time the gate gave them.
func runWorkers<Result: Sendable>(
    threads: Int,
    _ body: @escaping @Sendable (_ index: Int, _ gate: StartGate) -> Result
) -> (results: [Result], start: UInt64) {
    let gate = StartGate(workers: threads)
    let results = Mutex<[Int: Result]>([:])
    var handles: [pthread_t] = []
    for index in 0..<threads {
        handles.append(
            startThread {
                let result = body(index, gate)
                results.withLock { $0[index] = result }
            }
        )
    }
    let start = gate.releaseWorkers()
    for handle in handles { joinThread(handle) }
    let collected = results.withLock { table in (0..<threads).map { table[$0]! } }
    return (collected, start)
}

/// How many of `total` connections worker `index` of `threads` gets (spread as evenly as possible).
func share(of total: Int, worker index: Int, threads: Int) -> Int {
    total / threads + (index < total % threads ? 1 : 0)
}

/// Opens a NetCore socket to `target` on `loop`.
func connectSocket(_ socket: Socket, to target: Target, _ done: @escaping () -> Void) {
    switch target {
    case .tcp(let host, let port): socket.connect(port: port, host: host, done)
    case .unix(let path): socket.connect(path: path, done)
    }
}

/// CPU time (user + system) of this process, in seconds.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
    return Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6 + Double(usage.ru_stime.tv_sec)
        + Double(usage.ru_stime.tv_usec) / 1e6
}

/// Opens `count` connections with at most `parallel` handshakes pending, and runs `loop` until all have settled
/// (or `timeout` passed). The caller's `open(i)` starts connection i and must call `settle()` exactly once when it
/// connects or fails.
final class ConnectPacer {
    let loop: EventLoop
    let count: Int
    let parallel: Int
    private let open: (Int) -> Void
    private var next = 0
    private var pending = 0
    private(set) var settled = 0
    private var running = false

    init(loop: EventLoop, count: Int, parallel: Int, open: @escaping (Int) -> Void) {
        self.loop = loop
        self.count = count
        self.parallel = max(1, parallel)
        self.open = open
    }

    /// Runs the loop until every connection settled; returns false on timeout.
    func run(timeout seconds: Double) -> Bool {
        guard count > 0 else { return true }
        running = true
        fill()
        var timedOut = false
        let timer = loop.setTimeout(Int(seconds * 1000)) { [self] in
            timedOut = true
            loop.stop()
        }
        if settled < count { loop.run() }
        timer.cancel()
        running = false
        return !timedOut && settled == count
    }

    func settle() {
        pending -= 1
        settled += 1
        if settled == count {
            if running { loop.stop() }
        } else {
            fill()
        }
    }

    private func fill() {
        while next < count && pending < parallel {
            pending += 1
            let index = next
            next += 1
            open(index)
        }
    }
}
