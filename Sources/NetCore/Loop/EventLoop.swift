@preconcurrency import Glibc
import Synchronization

/// Something registered with the loop's poller that reacts to readiness.
protocol IOHandler: AnyObject {
    func handleIO(_ events: ReadyEvents)
}

/// A single-threaded event loop: timers, immediates, a next-tick queue, I/O readiness and signals.
///
/// Loop phases follow libuv's `uv_run`: update time → due timers → immediates → poll for I/O
/// (blocking only when nothing else is pending) → I/O callbacks. After every callback the
/// next-tick queue is drained, as Node does. `run()` returns when nothing referenced is left:
/// no ref'd handle (listening server, open socket, active timer, reading stream), no pending
/// immediate or tick, and no in-flight request such as a name lookup.
///
/// Everything except `execute(_:)` must be called on the loop's thread.
public final class EventLoop: @unchecked Sendable {
    // @unchecked: only `execute` (a Mutex inbox plus the poller's thread-safe wakeup) is touched
    // from other threads; every other member is confined to the loop thread and asserts so.
    // The confined state is `@exclusivity(unchecked)`: no access to it stays open across a callback (callbacks are
    // taken out of the queues before they run), so the runtime's dynamic checks could never fire, and they cost a
    // thread-local lookup per access, on every turn.

    private enum Tick {
        case closure(() -> Void)
        case handler(any TickHandler, Int)
    }

    private struct Registration {
        var generation: UInt32
        var handler: any IOHandler
    }

    let poller: PlatformPoller
    @exclusivity(unchecked) private var registrations: [Registration?] = []
    @exclusivity(unchecked) private var nextGeneration: UInt32 = 1
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    @exclusivity(unchecked) private var timers = TimerHeap<Timeout>()
    @exclusivity(unchecked) private var timerSequence: UInt64 = 0
    @exclusivity(unchecked) private var immediates: [() -> Void] = []
    @exclusivity(unchecked) private var ticks: [Tick] = []
    @exclusivity(unchecked) private var tickHead = 0
    @exclusivity(unchecked) private var aliveHandles = 0
    @exclusivity(unchecked) private var pendingRequests = 0
    @exclusivity(unchecked) private var isStopping = false
    private var ownerThread: pthread_t
    private var signalRouter: SignalRouter?

    /// Milliseconds on the monotonic clock, cached once per loop turn (libuv's `uv_now`).
    public var now: UInt64 { currentTime }
    // Stored apart from `now`: other modules read a public stored property with a dynamic exclusivity check
    // (swift_beginAccess, ~75 instructions; `@exclusivity(unchecked)` does not reach them), a getter call without.
    @exclusivity(unchecked) private var currentTime: UInt64

    /// The buffer every socket reads into; its bytes are copied out right-sized before user code sees them.
    let readBuffer: UnsafeMutableRawBufferPointer

    /// Creates a loop owned by the calling thread. Fails only if the kernel refuses epoll or eventfd.
    ///
    /// The first loop of a process sets SIGPIPE to ignored unless the program chose a disposition for it (Node does
    /// the same): a peer that goes away must give EPIPE on the write, never kill the process.
    public init() throws(SystemError) {
        Posix.ignoreSIGPIPE
        poller = try PlatformPoller()
        ownerThread = pthread_self()
        currentTime = Posix.monotonicNanoseconds() / 1_000_000
        readBuffer = .allocate(byteCount: 64 * 1024, alignment: 16)
    }

    deinit {
        signalRouter?.close()
        poller.close()
        readBuffer.deallocate()
    }

    // MARK: - The calling thread's loop

    private static let threadKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key) { pointer in
            guard let pointer else { return }
            Unmanaged<EventLoop>.fromOpaque(pointer).release()
        }
        return key
    }()

    /// The calling thread's default loop, created on first use. In `main.swift` this is the main thread's loop.
    public static var current: EventLoop {
        if let pointer = pthread_getspecific(threadKey) {
            return Unmanaged<EventLoop>.fromOpaque(pointer).takeUnretainedValue()
        }
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            fatalError("NetCore: cannot create an event loop: \(error)")
        }
        pthread_setspecific(threadKey, Unmanaged.passRetained(loop).toOpaque())
        return loop
    }

    /// The default loop of the calling thread (the main thread's, when called from `main.swift`).
    public static var main: EventLoop { current }

    // MARK: - Thread confinement

    /// Whether the caller is on the loop's thread.
    public var inLoop: Bool { pthread_equal(ownerThread, pthread_self()) != 0 }

    /// Debug-only check that the caller is on the loop's thread (NIO's `assertInEventLoop`).
    @inline(__always)
    public func assertInLoop(file: StaticString = #fileID, line: UInt = #line) {
        assert(inLoop, "NetCore: loop-confined API used off the loop thread", file: file, line: line)
    }

    // MARK: - Running

    /// Runs until nothing referenced is left or `stop()` is called.
    public func run() {
        ownerThread = pthread_self()
        isStopping = false
        // Ticks queued by the code that set the loop up run first, as Node drains them after the main script.
        drainTicks()
        while !isStopping {
            updateTime()
            runDueTimers()
            runImmediates()
            drainTicks()
            if isStopping || !isAlive { break }
            let timeout: Int32 = immediates.isEmpty ? pollTimeout() : 0
            do {
                var isTimeFresh = false
                try poller.wait(timeoutMilliseconds: timeout) { token, events in
                    // The wait may have slept a long time: callbacks must see the time they run at (libuv updates
                    // its clock right after epoll_wait), or deadlines computed from `now` start in the past.
                    if !isTimeFresh {
                        updateTime()
                        isTimeFresh = true
                    }
                    dispatch(token: token, events: events)
                }
                if !isTimeFresh { updateTime() }
            } catch {
                fatalError("NetCore: epoll_wait failed: \(error)")
            }
            drainInbox()
        }
        isStopping = false
    }

    /// Makes `run()` return after the current callback. Call `execute { loop.stop() }` from other threads.
    public func stop() {
        assertInLoop()
        isStopping = true
    }

    private var isAlive: Bool {
        aliveHandles > 0 || pendingRequests > 0 || !immediates.isEmpty || tickHead < ticks.count
    }

    private func updateTime() {
        currentTime = Posix.monotonicNanoseconds() / 1_000_000
    }

    private func pollTimeout() -> Int32 {
        guard let first = timers.first else { return -1 }
        updateTime()
        if first.deadline <= now { return 0 }
        return Int32(clamping: first.deadline - now)
    }

    private func dispatch(token: UInt64, events: ReadyEvents) {
        let fd = Int(token & 0xFFFF_FFFF)
        let generation = UInt32(truncatingIfNeeded: token >> 32)
        // A callback earlier in this batch may have closed the descriptor (and another may reuse its number).
        guard fd < registrations.count, let registration = registrations[fd], registration.generation == generation
        else { return }
        registration.handler.handleIO(events)
        drainTicks()
    }

    // MARK: - Registrations

    func register(fd: Int32, interest: Interest, handler: any IOHandler) throws(SystemError) {
        let index = Int(fd)
        if index >= registrations.count {
            registrations.append(
                contentsOf: repeatElement(nil, count: max(index + 1 - registrations.count, registrations.count))
            )
        }
        let generation = nextGeneration
        nextGeneration &+= 1
        try poller.register(fd: fd, token: UInt64(generation) << 32 | UInt64(UInt32(fd)), interest: interest)
        registrations[index] = Registration(generation: generation, handler: handler)
    }

    func modify(fd: Int32, interest: Interest) throws(SystemError) {
        guard let registration = registrations[Int(fd)] else { return }
        try poller.modify(fd: fd, token: UInt64(registration.generation) << 32 | UInt64(UInt32(fd)), interest: interest)
    }

    func unregister(fd: Int32) {
        let index = Int(fd)
        guard index < registrations.count, registrations[index] != nil else { return }
        poller.unregister(fd: fd)
        registrations[index] = nil
    }

    // MARK: - Liveness

    /// Moves a handle in or out of the set that keeps `run()` going. `counted` is the handle's own flag.
    func setAlive(_ counted: inout Bool, _ alive: Bool) {
        guard counted != alive else { return }
        counted = alive
        aliveHandles += alive ? 1 : -1
    }

    func beginRequest() { pendingRequests += 1 }
    func endRequest() { pendingRequests -= 1 }

    // MARK: - Queues

    /// Runs `body` after the current callback, before any I/O or timer (Node's `process.nextTick`).
    public func nextTick(_ body: @escaping () -> Void) {
        assertInLoop()
        ticks.append(.closure(body))
    }

    /// Calls `handler.handleTick(code)` after the current callback, in the same queue and order as `nextTick`'s
    /// closures, without allocating one: for objects that defer work on every request or message (a closure
    /// capturing `self` is a heap allocation, and a hello-server response made three).
    public func nextTick(_ handler: some TickHandler, code: Int) {
        assertInLoop()
        ticks.append(.handler(handler, code))
    }

    /// Runs `body` on the next loop turn, after due timers (Node's `setImmediate`).
    public func setImmediate(_ body: @escaping () -> Void) {
        assertInLoop()
        immediates.append(body)
    }

    /// Runs `body` on the loop thread. The only member that is safe to call from any thread.
    /// Work posted to a loop that is not running waits for the next `run()`.
    public func execute(_ body: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(body) }
        poller.wakeup()
    }

    private func drainTicks() {
        // Called after every callback, mostly with nothing queued: skip the (unspecialised) removeAll then.
        if ticks.isEmpty { return }
        while tickHead < ticks.count {
            let tick = ticks[tickHead]
            tickHead += 1
            switch tick {
            case .closure(let body): body()
            case .handler(let handler, let code): handler.handleTick(code)
            }
        }
        ticks.removeAll(keepingCapacity: true)
        tickHead = 0
    }

    private func runImmediates() {
        guard !immediates.isEmpty else { return }
        let batch = immediates
        immediates.removeAll(keepingCapacity: true)
        for immediate in batch {
            immediate()
            drainTicks()
        }
    }

    private func drainInbox() {
        let batch = inbox.withLock { inbox -> [@Sendable () -> Void] in
            let batch = inbox
            inbox.removeAll()
            return batch
        }
        for work in batch {
            work()
            drainTicks()
        }
    }

    // MARK: - Timers

    /// Calls `body` once after `milliseconds` (Node's `setTimeout`). The timer keeps the loop alive unless unref'd.
    @discardableResult
    public func setTimeout(_ milliseconds: Int, _ body: @escaping () -> Void) -> Timeout {
        assertInLoop()
        let timer = Timeout(loop: self, delay: UInt64(max(1, milliseconds)), repeats: false, callback: body)
        schedule(timer)
        return timer
    }

    /// Calls `body` every `milliseconds` until cancelled (Node's `setInterval`).
    @discardableResult
    public func setInterval(_ milliseconds: Int, _ body: @escaping () -> Void) -> Timeout {
        assertInLoop()
        let timer = Timeout(loop: self, delay: UInt64(max(1, milliseconds)), repeats: true, callback: body)
        schedule(timer)
        return timer
    }

    func schedule(_ timer: Timeout) {
        timers.remove(timer)  // a refresh moves the timer rather than leaving a stale entry behind
        timerSequence += 1
        timer.sequence = timerSequence
        timers.insert(.init(deadline: now + timer.delay, sequence: timerSequence, element: timer))
        timer.setActive(true)
    }

    /// Timers scheduled and not yet fired or cancelled (for tests).
    var pendingTimerCount: Int { timers.count }

    /// Takes a cancelled timer out of the heap at once, releasing what its callback captured.
    func unschedule(_ timer: Timeout) {
        timers.remove(timer)
    }

    private func runDueTimers() {
        while let first = timers.first, first.deadline <= now {
            _ = timers.popFirst()
            let timer = first.element
            // Cancelled and rescheduled timers are removed from the heap; this guard is a second line of defence.
            guard timer.isActive, timer.sequence == first.sequence else { continue }
            if timer.repeats {
                schedule(timer)
            } else {
                timer.setActive(false)
            }
            timer.callback()
            drainTicks()
        }
    }

    // MARK: - Signals

    /// Calls `handler` on the loop each time `signal` (e.g. `SIGINT`) arrives. The watcher does not keep the
    /// loop alive unless you call `ref()` on it, as with Node's `process.on('SIGINT')`.
    @discardableResult
    public func onSignal(_ signal: Int32, _ handler: @escaping () -> Void) -> SignalWatcher {
        assertInLoop()
        let router: SignalRouter
        if let existing = signalRouter {
            router = existing
        } else {
            do {
                router = try SignalRouter(loop: self)
            } catch {
                fatalError("NetCore: cannot create the signal pipe: \(error)")
            }
            signalRouter = router
        }
        let watcher = SignalWatcher(loop: self, router: router, signal: signal, handler: handler)
        router.add(watcher)
        return watcher
    }
}

/// An object that `EventLoop.nextTick(_:code:)` calls back; `code` says which of its deferred jobs is due.
public protocol TickHandler: AnyObject {
    /// Runs the deferred job named by `code` (the value given to `nextTick`).
    func handleTick(_ code: Int)
}
