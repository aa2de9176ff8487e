import NetCore

/// The server's connections that wait with nothing in flight (just accepted and silent, or idle between keep-alive
/// requests), in the order they became quiet. Every one of them waits the same time (the server's `headersTimeout`
/// or `keepAliveTimeout`), so the first is always the next to expire and one timer serves them all: a quiet
/// connection costs two links instead of a timer of its own (with its heap entry and closure, about an eighth of an
/// idle connection's memory). A connection leaves as soon as anything arrives, and goes back to its own timer.
final class QuietConnections {
    private let loop: EventLoop
    /// The wait, in milliseconds, read when arming (0: no timeout).
    private let timeout: () -> Int
    // The chain holds its connections strongly from the head; the server holds them too, until they close.
    @exclusivity(unchecked) private var head: HTTPConnection?
    @exclusivity(unchecked) private unowned(unsafe) var tail: HTTPConnection?
    @exclusivity(unchecked) private var timer: Timeout?
    @exclusivity(unchecked) private var armedDeadline = UInt64.max

    init(loop: EventLoop, timeout: @escaping () -> Int) {
        self.loop = loop
        self.timeout = timeout
    }

    /// Adds `connection`, quiet since `since` (a loop time in milliseconds, no earlier than any added before).
    func append(_ connection: HTTPConnection, since: UInt64) {
        connection.quietSince = since
        connection.quietQueue = self
        connection.quietNext = nil
        connection.quietPrevious = tail
        if let tail { tail.quietNext = connection } else { head = connection }
        tail = connection
        // An armed timer is due no later than this connection's deadline (connections join in time order): it fires,
        // finds who is due, and re-arms for the rest.
        if timer == nil { arm() }
    }

    /// Takes `connection` out (it is in this queue). Leaves the timer as it is, even when `connection` was the
    /// head: an early expiry only re-arms for the new head, where re-arming here would replace the timer on
    /// nearly every keep-alive request (the connection that sends next is usually the one quiet longest).
    func remove(_ connection: HTTPConnection) {
        let next = connection.quietNext
        if let previous = connection.quietPrevious { previous.quietNext = next } else { head = next }
        if let next { next.quietPrevious = connection.quietPrevious } else { tail = connection.quietPrevious }
        connection.quietNext = nil
        connection.quietPrevious = nil
        connection.quietQueue = nil
    }

    private func arm() {
        let wait = timeout()
        guard let head, wait > 0 else {
            timer?.cancel()
            timer = nil
            armedDeadline = .max
            return
        }
        let deadline = head.quietSince + UInt64(wait)
        guard deadline != armedDeadline else { return }
        timer?.cancel()
        armedDeadline = deadline
        let delay = deadline > loop.now ? Int(deadline - loop.now) : 0
        // unowned: the server cancels nothing here, but the queue lives as long as the server, which outlives its
        // connections and closes its listening socket before it goes.
        timer = loop.setTimeout(delay) { [unowned self] in expire() }.unref()
    }

    /// Ends the wait of every connection whose time is up, oldest first.
    private func expire() {
        timer = nil
        armedDeadline = .max
        let wait = UInt64(max(0, timeout()))
        let now = loop.now
        while let first = head, wait > 0, first.quietSince + wait <= now {
            remove(first)
            first.quietTimeExpired()
        }
        arm()
    }
}
