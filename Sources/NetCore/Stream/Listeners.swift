/// An ordered list of event listeners (also used by NetCoreHTTP, hence `package`) for one event, as in Node's
/// EventEmitter. A single plain listener is stored inline, with no allocation of its own: most events of an idle
/// connection have exactly one, and it should cost as little memory as possible.
///
/// A listener added with `once` runs at most once and is then dropped, as Node removes it: the next `add` purges
/// every fired one, so a program that adds `once(.drain)` on each backpressure keeps one entry, not one per write.
package struct Listeners<Payload> {
    private typealias Listener = (Payload) -> Void

    /// Whether a once-listener has run.
    private final class Once {
        @exclusivity(unchecked) var fired = false
    }

    private struct Entry {
        let call: Listener
        let once: Once?
    }

    /// The entries when there is more than one plain listener, or any once-listener. Never changed after it is
    /// made (`add` builds a new one), so an emit walks exactly the listeners registered when it began, whatever
    /// its listeners add.
    private final class Entries {
        let list: [Entry]
        init(_ list: [Entry]) { self.list = list }
    }

    /// The only listener, when it is plain; nil whenever `entries` is set.
    private var single: Listener?
    private var entries: Entries?

    package init() {}

    package var isEmpty: Bool { single == nil && entries == nil }

    /// The listeners still wanted (fired once-listeners are not counted).
    package var count: Int {
        if single != nil { return 1 }
        return entries?.list.count { $0.once?.fired != true } ?? 0
    }

    package mutating func append(_ listener: @escaping (Payload) -> Void) {
        add(listener, once: false)
    }

    /// Adds a listener that runs at most once; it is dropped by a later `add` once it has run.
    package mutating func appendOnce(_ listener: @escaping (Payload) -> Void) {
        add(listener, once: true)
    }

    /// Adds `listener`, to run every time or at most `once` (how `on` and `once` register).
    package mutating func add(_ listener: @escaping (Payload) -> Void, once: Bool) {
        if !once && isEmpty {
            single = listener
            return
        }
        var list = entries?.list.filter { $0.once?.fired != true } ?? []
        if let single { list.append(Entry(call: single, once: nil)) }
        list.append(Entry(call: listener, once: once ? Once() : nil))
        if list.count == 1 && list[0].once == nil {
            single = list[0].call
            entries = nil
        } else {
            single = nil
            entries = Entries(list)
        }
    }

    package mutating func removeAll() {
        single = nil
        entries = nil
    }

    /// Calls every listener registered before the emit began, in order.
    @inline(__always)
    package func emit(_ payload: Payload) {
        if let single {
            single(payload)
            return
        }
        guard let entries else { return }
        for entry in entries.list {
            if let once = entry.once {
                if once.fired { continue }
                once.fired = true
            }
            entry.call(payload)
        }
    }
}

/// Reports an `error` event nobody listens to (NetCoreHTTP's client uses it too, hence `package`). Node would crash
/// the process; a toolkit for experiments prints one line on stderr instead, so the error is never silently lost.
package func reportUnhandled(_ error: SocketError, on what: String) {
    var line = "NetCore: unhandled 'error' event on \(what): \(error.code): \(error.message)\n"
    line.withUTF8 { bytes in
        _ = try? Posix.write(2, UnsafeRawBufferPointer(bytes))
    }
}
