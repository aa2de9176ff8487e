import CNetCoreShims
@preconcurrency import Glibc

/// A subscription to a POSIX signal made by `EventLoop.onSignal`. Cancel it to restore the default action.
public final class SignalWatcher {
    unowned let loop: EventLoop
    private let router: SignalRouter
    /// The signal number watched, e.g. `SIGINT`.
    public let signal: Int32
    let handler: () -> Void
    private(set) var isActive = true
    private var isCountedAlive = false

    init(loop: EventLoop, router: SignalRouter, signal: Int32, handler: @escaping () -> Void) {
        self.loop = loop
        self.router = router
        self.signal = signal
        self.handler = handler
    }

    /// Stops watching. When no watcher is left for the signal, its default action comes back.
    public func cancel() {
        guard isActive else { return }
        isActive = false
        loop.setAlive(&isCountedAlive, false)
        router.remove(self)
    }

    /// Keeps the loop alive while this watcher is active.
    @discardableResult
    public func ref() -> SignalWatcher {
        loop.setAlive(&isCountedAlive, isActive)
        return self
    }

    /// Lets the loop end while this watcher is active (the default).
    @discardableResult
    public func unref() -> SignalWatcher {
        loop.setAlive(&isCountedAlive, false)
        return self
    }
}

@available(*, unavailable)
extension SignalWatcher: Sendable {}

/// The loop's end of the signal self-pipe: the C handler writes the signal number, the loop reads it here.
final class SignalRouter: IOHandler {
    unowned let loop: EventLoop
    private let readEnd: FileDescriptor
    private let writeEnd: FileDescriptor
    private var watchers: [SignalWatcher] = []

    init(loop: EventLoop) throws(SystemError) {
        self.loop = loop
        let (r, w) = try Posix.pipe()
        readEnd = FileDescriptor(r)
        writeEnd = FileDescriptor(w)
        do {
            try loop.register(fd: r, interest: .read, handler: self)
        } catch {
            readEnd.close()
            writeEnd.close()
            throw error
        }
    }

    func add(_ watcher: SignalWatcher) {
        if !watchers.contains(where: { $0.signal == watcher.signal }) {
            if netcore_signal_route(watcher.signal, writeEnd.rawValue) != 0 {
                fatalError(
                    "NetCore: cannot watch signal \(watcher.signal): \(SystemError(errno: errno, syscall: "sigaction"))"
                )
            }
        }
        watchers.append(watcher)
    }

    func remove(_ watcher: SignalWatcher) {
        watchers.removeAll { $0 === watcher }
        if !watchers.contains(where: { $0.signal == watcher.signal }) {
            _ = netcore_signal_reset(watcher.signal)
        }
    }

    func handleIO(_ events: ReadyEvents) {
        var bytes = [UInt8](repeating: 0, count: 64)
        let count: Int
        do {
            guard
                case .processed(let n) = try bytes.withUnsafeMutableBytes({ buffer throws(SystemError) in
                    try Posix.read(readEnd.rawValue, buffer)
                })
            else { return }
            count = n
        } catch {
            return
        }
        for byte in bytes.prefix(count) {
            for watcher in watchers where watcher.signal == Int32(byte) && watcher.isActive {
                watcher.handler()
            }
        }
    }

    /// Called from the loop's deinit, so it must not touch `loop`; closing the epoll set drops the registration.
    func close() {
        for signal in Set(watchers.map(\.signal)) { _ = netcore_signal_reset(signal) }
        watchers.removeAll()
        readEnd.close()
        writeEnd.close()
    }
}
