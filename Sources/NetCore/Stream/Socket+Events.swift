extension Socket {
    /// A socket event and the type of its payload: `socket.on(.data) { chunk in … }`.
    public struct Event<Payload> {
        let add: (Socket, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`, called every time it fires.
    @discardableResult
    public final func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> Socket {
        loop.assertInLoop()
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public final func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> Socket {
        loop.assertInLoop()
        event.add(self, listener, true)
        return self
    }
}


extension Socket.Event where Payload == Void {
    /// The connection is established (client sockets).
    public static var connect: Self { Self { $0.rareListeners.connect.add($1, once: $2) } }
    /// The socket is ready to use; right after `connect`.
    public static var ready: Self { Self { $0.rareListeners.ready.add($1, once: $2) } }
    /// The peer ended its side (FIN received, all data delivered).
    public static var end: Self { Self { $0.endListeners.add($1, once: $2) } }
    /// Our side has ended: every queued byte was handed to the kernel and FIN was sent.
    public static var finish: Self { Self { $0.rareListeners.finish.add($1, once: $2) } }
    /// The write queue emptied after `write()` returned false.
    public static var drain: Self { Self { $0.rareListeners.drain.add($1, once: $2) } }
    /// The socket was idle for the time given to `setTimeout`; it stays open.
    public static var timeout: Self { Self { $0.rareListeners.timeout.add($1, once: $2) } }
}

extension Socket.Event where Payload == Buffer {
    /// Bytes arrived (decoded text after `setEncoding`). Adding the first listener starts the flow of data.
    public static var data: Self {
        Self { socket, listener, once in
            socket.dataListeners.add(listener, once: once)
            socket.didAddDataListener()
        }
    }
}

extension Socket.Event where Payload == Bool {
    /// The socket is fully closed; the payload says whether it closed because of an error.
    public static var close: Self { Self { $0.closeListeners.add($1, once: $2) } }
}

extension Socket.Event where Payload == SocketError {
    /// Something failed; `close(true)` follows.
    public static var error: Self { Self { $0.errorListeners.add($1, once: $2) } }
}
