/// A one-shot or repeating timer (Node's `Timeout`) made by `EventLoop.setTimeout` or `setInterval`.
public final class Timeout: TimerHeapElement {
    unowned let loop: EventLoop
    let delay: UInt64
    let repeats: Bool
    let callback: () -> Void
    var sequence: UInt64 = 0
    var heapIndex = -1
    private(set) var isActive = false
    private var isCountedAlive = false
    private var isReferenced = true

    init(loop: EventLoop, delay: UInt64, repeats: Bool, callback: @escaping () -> Void) {
        self.loop = loop
        self.delay = delay
        self.repeats = repeats
        self.callback = callback
    }

    func setActive(_ active: Bool) {
        isActive = active
        loop.setAlive(&isCountedAlive, isActive && isReferenced)
    }

    /// Stops the timer; its callback will not run again. Safe to call more than once.
    public func cancel() {
        loop.assertInLoop()
        loop.unschedule(self)
        setActive(false)
    }

    /// Restarts the countdown from now with the original delay (Node's `timeout.refresh()`).
    public func refresh() {
        loop.assertInLoop()
        loop.schedule(self)
    }

    /// Lets `run()` return while this timer is still pending (Node's `timeout.unref()`).
    @discardableResult
    public func unref() -> Timeout {
        isReferenced = false
        loop.setAlive(&isCountedAlive, false)
        return self
    }

    /// Makes this timer keep the loop running again.
    @discardableResult
    public func ref() -> Timeout {
        isReferenced = true
        loop.setAlive(&isCountedAlive, isActive)
        return self
    }

    /// Whether the timer keeps the loop alive.
    public var hasRef: Bool { isReferenced }
}

@available(*, unavailable)
extension Timeout: Sendable {}
