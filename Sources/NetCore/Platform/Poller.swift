/// What a registration wants to hear about.
struct Interest: OptionSet, Sendable {
    let rawValue: UInt8
    static let read = Interest(rawValue: 1)
    static let write = Interest(rawValue: 2)
}

/// What the kernel reported for one registration, translated from backend bits at the boundary.
struct ReadyEvents: OptionSet, Sendable {
    let rawValue: UInt8
    static let read = ReadyEvents(rawValue: 1)
    static let write = ReadyEvents(rawValue: 2)
    /// The peer shut down its write side (EPOLLRDHUP); data may still be queued before the EOF.
    static let readEOF = ReadyEvents(rawValue: 4)
    /// Both directions are gone (EPOLLHUP).
    static let hangup = ReadyEvents(rawValue: 8)
    /// A pending socket error (EPOLLERR).
    static let error = ReadyEvents(rawValue: 16)
}

/// The readiness backend behind an `EventLoop`: epoll on Linux; a kqueue backend is one more file.
///
/// `token` identifies a registration in `wait`'s callback; the loop packs a generation into it so that
/// events for a descriptor number that was closed and reused are dropped (STYLE.md §2.7).
protocol Poller: AnyObject {
    init() throws(SystemError)
    func register(fd: Int32, token: UInt64, interest: Interest) throws(SystemError)
    func modify(fd: Int32, token: UInt64, interest: Interest) throws(SystemError)
    func unregister(fd: Int32)
    /// Waits up to `timeoutMilliseconds` (-1: forever, 0: poll) and reports each ready registration.
    /// The wake-up registration is consumed internally and not reported.
    func wait(timeoutMilliseconds: Int32, _ onReady: (UInt64, ReadyEvents) -> Void) throws(SystemError)
    /// Makes a concurrent or future `wait` return. The only method that may be called from any thread.
    func wakeup()
    func close()
}
