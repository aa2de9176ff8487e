/// An ordered list of event listeners for one event, as in Node's EventEmitter.
struct Listeners<Payload> {
    private var entries: [(Payload) -> Void] = []

    var isEmpty: Bool { entries.isEmpty }
    var count: Int { entries.count }

    mutating func append(_ listener: @escaping (Payload) -> Void) {
        entries.append(listener)
    }

    /// Adds a listener that runs at most once.
    mutating func appendOnce(_ listener: @escaping (Payload) -> Void) {
        var fired = false
        entries.append { payload in
            guard !fired else { return }
            fired = true
            listener(payload)
        }
    }

    mutating func removeAll() { entries.removeAll() }

    /// Calls every listener registered before the emit began, in order.
    func emit(_ payload: Payload) {
        for listener in entries { listener(payload) }
    }
}

/// Reports an `error` event nobody listens to. Node would crash the process; a toolkit for experiments
/// prints one line on stderr instead, so the error is never silently lost.
func reportUnhandled(_ error: SocketError, on what: String) {
    var line = "NetCore: unhandled 'error' event on \(what): \(error.code): \(error.message)\n"
    line.withUTF8 { bytes in
        _ = try? Posix.write(2, UnsafeRawBufferPointer(bytes))
    }
}
