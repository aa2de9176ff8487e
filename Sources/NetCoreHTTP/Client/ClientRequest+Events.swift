import NetCore

extension ClientRequest {
    /// A request event and the type of its payload: `req.on(.response) { res in … }`.
    public struct Event<Payload> {
        let add: (ClientRequest, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> ClientRequest {
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> ClientRequest {
        event.add(self, listener, true)
        return self
    }
}

extension ClientRequest.Event where Payload == IncomingMessage {
    /// The final response's head arrived; its body streams through the message. With no listener the body is
    /// discarded, so the connection can be reused.
    public static var response: Self { Self { $0.responseListeners.add($1, once: $2) } }
}

extension ClientRequest.Event where Payload == Socket {
    /// A connection was assigned (new, or reused from the agent's free list).
    public static var socket: Self { Self { $0.socketListeners.add($1, once: $2) } }
}

extension ClientRequest.Event where Payload == SocketError {
    /// The request failed: `ECONNREFUSED`, `ENOENT`, `ECONNRESET` "socket hang up", `HPE_…` parse errors, or the
    /// error given to `destroy(_:)`. Emitted at most once.
    public static var error: Self { Self { $0.errorListeners.add($1, once: $2) } }
}

extension ClientRequest.Event where Payload == InformationalResponse {
    /// An interim 1xx response other than 101 arrived (e.g. `100 Continue`, `103 Early Hints`).
    public static var information: Self { Self { $0.informationListeners.add($1, once: $2) } }
}

extension ClientRequest.Event where Payload == Void {
    /// The whole request has been handed to the socket.
    public static var finish: Self { Self { $0.finishListeners.add($1, once: $2) } }
    /// The request is done with: after the response's `end`, or after a failure. Always the last event.
    public static var close: Self { Self { $0.closeListeners.add($1, once: $2) } }
    /// The socket was idle for the `timeout` option's milliseconds. The request goes on: call `destroy()` to stop.
    public static var timeout: Self { Self { $0.timeoutListeners.add($1, once: $2) } }
    /// `abort()` was called.
    public static var abort: Self { Self { $0.abortListeners.add($1, once: $2) } }
    /// A `write` that returned false has been flushed: write more.
    public static var drain: Self { Self { $0.drainListeners.add($1, once: $2) } }
    /// The server sent `100 Continue` (for a request with `Expect: 100-continue`).
    public static var `continue`: Self { Self { $0.continueListeners.add($1, once: $2) } }
}

/// An interim (1xx) response as the `information` event gives it (Node's `{statusCode, statusMessage, httpVersion,
/// headers, rawHeaders}`).
public struct InformationalResponse: Sendable {
    /// 100, 102, 103, …
    public let statusCode: Int
    /// The reason phrase.
    public let statusMessage: String
    /// `"1.1"`.
    public let httpVersion: String
    /// The fields with Node's rules.
    public let headers: IncomingHeaders
    /// Names and values alternating, as received.
    public let rawHeaders: [String]
}
