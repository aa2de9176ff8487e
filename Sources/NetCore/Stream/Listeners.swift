/// An ordered list of event listeners (also used by NetCoreHTTP, hence `package`) for one event, as in Node's EventEmitter. The first listener is stored
/// inline: most events have at most one, and an idle connection should not pay for an array per event.
package struct Listeners<Payload> {
    private var first: ((Payload) -> Void)?
    private var rest: [(Payload) -> Void] = []

    package init() {}

    package var isEmpty: Bool { first == nil }
    package var count: Int { first == nil ? 0 : 1 + rest.count }

    package mutating func append(_ listener: @escaping (Payload) -> Void) {
        if first == nil {
            first = listener
        } else {
            rest.append(listener)
        }
    }

    /// Adds a listener that runs at most once.
    package mutating func appendOnce(_ listener: @escaping (Payload) -> Void) {
        var fired = false
        append { payload in
            guard !fired else { return }
            fired = true
            listener(payload)
        }
    }

    /// Adds `listener`, to run every time or at most `once` (how `on` and `once` register).
    package mutating func add(_ listener: @escaping (Payload) -> Void, once: Bool) {
        if once { appendOnce(listener) } else { append(listener) }
    }

    package mutating func removeAll() {
        first = nil
        rest.removeAll()
    }

    /// Calls every listener registered before the emit began, in order.
    @inline(__always)
    package func emit(_ payload: Payload) {
        guard let first else { return }
        first(payload)
        if !rest.isEmpty {
            for listener in rest { listener(payload) }
        }
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
