extension Server {
    /// A server event and the type of its payload: `server.on(.connection) { socket in … }`.
    public struct Event<Payload> {
        let add: (Server, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> Server {
        loop.assertInLoop()
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> Server {
        loop.assertInLoop()
        event.add(self, listener, true)
        return self
    }
}


extension Server.Event where Payload == Void {
    /// The server is bound and accepting.
    public static var listening: Self { Self { $0.listeningListeners.add($1, once: $2) } }
    /// The server stopped listening and its last connection closed.
    public static var close: Self { Self { $0.closeListeners.add($1, once: $2) } }
    /// A connection was accepted and closed at once because `maxConnections` was reached.
    public static var drop: Self { Self { $0.dropListeners.add($1, once: $2) } }
}

extension Server.Event where Payload == Socket {
    /// A client connected.
    public static var connection: Self { Self { $0.connectionListeners.add($1, once: $2) } }
}

extension Server.Event where Payload == SocketError {
    /// Listening failed (`EADDRINUSE`, `EACCES`, …) or accepting did (`EMFILE`).
    public static var error: Self { Self { $0.errorListeners.add($1, once: $2) } }
}

extension Net {
    /// Creates a server, as Node's `net.createServer(options, connectionListener)`.
    public static func createServer(
        allowHalfOpen: Bool = false,
        pauseOnConnect: Bool = false,
        loop: EventLoop = .current,
        _ connectionListener: ((Socket) -> Void)? = nil
    ) -> Server {
        Server(loop: loop, allowHalfOpen: allowHalfOpen, pauseOnConnect: pauseOnConnect, connectionListener)
    }
}
