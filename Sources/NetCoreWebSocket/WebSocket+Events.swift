import NetCore

extension WebSocket {
    /// A connection event and the type of its payload: `webSocket.on(.message) { message in … }`.
    public struct Event<Payload> {
        let add: (WebSocket, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> WebSocket {
        loop.assertInLoop()
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> WebSocket {
        loop.assertInLoop()
        event.add(self, listener, true)
        return self
    }
}

extension WebSocket.Event where Payload == Void {
    /// The client's handshake succeeded: messages may be sent.
    public static var open: Self { Self { $0.openListeners.add($1, once: $2) } }
    /// The socket's buffer emptied after `send` returned false.
    public static var drain: Self { Self { $0.drainListeners.add($1, once: $2) } }
}

extension WebSocket.Event where Payload == WebSocket.Message {
    /// A whole message arrived: `.text(String)` or `.binary(Buffer)` (`isBinary` says which).
    public static var message: Self { Self { $0.messageListeners.add($1, once: $2) } }
}

extension WebSocket.Event where Payload == Buffer {
    /// A ping arrived (already answered with a pong when `autoPong` is on).
    public static var ping: Self { Self { $0.pingListeners.add($1, once: $2) } }
    /// A pong arrived.
    public static var pong: Self { Self { $0.pongListeners.add($1, once: $2) } }
}

extension WebSocket.Event where Payload == (code: UInt16, reason: String) {
    /// The connection closed: the peer's close code and reason, 1005 for a close frame without a code, the error's
    /// code after a protocol error, or 1006 when no close frame arrived.
    public static var close: Self { Self { $0.closeListeners.add($1, once: $2) } }
}

extension WebSocket.Event where Payload == WebSocketError {
    /// The peer broke the protocol or a limit (the connection is being failed with `closeCode`), or a client could
    /// not connect or complete its handshake. `close` follows.
    public static var error: Self { Self { $0.errorListeners.add($1, once: $2) } }
}
