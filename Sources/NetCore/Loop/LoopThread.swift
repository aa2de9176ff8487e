@preconcurrency import Glibc

/// A thread running its own `EventLoop`: one loop per thread, as for `--workers N` servers that share a port through
/// `SO_REUSEPORT` (Node's cluster, without processes) or a load generator with one loop per core.
public final class LoopThread: @unchecked Sendable {
    // @unchecked: `thread` is written once in `init` before the handle is shared, then only read by `join`.
    private var thread = pthread_t()

    private final class Context {
        let body: @Sendable (EventLoop) -> Void
        init(_ body: @escaping @Sendable (EventLoop) -> Void) { self.body = body }
    }

    /// Starts a thread that creates a loop, calls `setup` with it on that thread, then runs the loop until it is done.
    public init(_ setup: @escaping @Sendable (EventLoop) -> Void) {
        let context = Unmanaged.passRetained(Context(setup)).toOpaque()
        let rc = pthread_create(
            &thread,
            nil,
            { raw in
                let context = Unmanaged<Context>.fromOpaque(raw!).takeRetainedValue()
                let loop = EventLoop.current
                context.body(loop)
                loop.run()
                return nil
            },
            context
        )
        precondition(rc == 0, "pthread_create failed: \(rc)")
    }

    /// Waits for the thread's loop to finish.
    public func join() {
        pthread_join(thread, nil)
    }
}
