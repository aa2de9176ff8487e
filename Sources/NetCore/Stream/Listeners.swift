/// An ordered list of event listeners (also used by NetCoreHTTP, hence `package`) for one event, as in Node's
/// EventEmitter. The first listener is stored inline: most events have at most one, and an idle connection should
/// not pay for an array per event.
///
/// A listener added with `once` runs at most once and is then dropped, as Node removes it: the next `add` purges
/// every fired one, so a program that adds `once(.drain)` on each backpressure keeps one entry, not one per write.
/// (`emit` cannot drop them itself: it runs on a copy, so listeners may add listeners while it runs.)
package struct Listeners<Payload> {
    /// Each entry is called with the payload to run it, or with nil to ask whether it is still wanted (a fired
    /// once-listener answers false). One closure per entry keeps an entry as small as a plain listener.
    private typealias Entry = (Payload?) -> Bool

    private var first: Entry?
    private var rest: [Entry] = []

    package init() {}

    package var isEmpty: Bool { first == nil }
    /// The listeners still wanted (fired once-listeners are not counted).
    package var count: Int {
        guard let first else { return 0 }
        return (first(nil) ? 1 : 0) + rest.count { $0(nil) }
    }

    package mutating func append(_ listener: @escaping (Payload) -> Void) {
        add { payload in
            if let payload { listener(payload) }
            return true
        }
    }

    /// Adds a listener that runs at most once; it is dropped by a later `add` once it has run.
    package mutating func appendOnce(_ listener: @escaping (Payload) -> Void) {
        let state = OnceState()
        add { payload in
            guard !state.fired else { return false }
            guard let payload else { return true }
            state.fired = true
            listener(payload)
            return false
        }
    }

    /// Adds `listener`, to run every time or at most `once` (how `on` and `once` register).
    package mutating func add(_ listener: @escaping (Payload) -> Void, once: Bool) {
        if once { appendOnce(listener) } else { append(listener) }
    }

    private mutating func add(_ entry: @escaping Entry) {
        dropFired()
        if first == nil {
            first = entry
        } else {
            rest.append(entry)
        }
    }

    /// Removes fired once-listeners, keeping the order of the others.
    private mutating func dropFired() {
        guard let current = first else { return }
        if !rest.isEmpty { rest.removeAll { !$0(nil) } }
        if !current(nil) { first = rest.isEmpty ? nil : rest.removeFirst() }
    }

    package mutating func removeAll() {
        first = nil
        rest.removeAll()
    }

    /// Calls every listener registered before the emit began, in order.
    @inline(__always)
    package func emit(_ payload: Payload) {
        guard let first else { return }
        _ = first(payload)
        if !rest.isEmpty {
            for listener in rest { _ = listener(payload) }
        }
    }
}

/// Whether a once-listener has run. A class with an unchecked flag rather than a captured `var`: the captured
/// variable's box would be checked for exclusive access at run time on every call.
private final class OnceState {
    @exclusivity(unchecked) var fired = false
}

/// Reports an `error` event nobody listens to. Node would crash the process; a toolkit for experiments
/// prints one line on stderr instead, so the error is never silently lost.
func reportUnhandled(_ error: SocketError, on what: String) {
    var line = "NetCore: unhandled 'error' event on \(what): \(error.code): \(error.message)\n"
    line.withUTF8 { bytes in
        _ = try? Posix.write(2, UnsafeRawBufferPointer(bytes))
    }
}
