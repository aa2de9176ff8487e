import NetCore

/// What feeds an `IncomingMessage`: the connection it arrives on. A message whose buffered body passes its
/// high-water mark asks the source to stop reading the socket, and to start again once it has been consumed.
protocol IncomingMessageSource: AnyObject {
    /// The message's buffer is full (`true`) or has room again (`false`).
    func message(_ message: IncomingMessage, wantsReadingPaused paused: Bool)
}

/// A request as the server receives it, or a response as the client receives it: Node's `http.IncomingMessage`, a
/// **readable stream** of the body.
///
/// The body is not buffered up front. Add a `data` listener (or call `resume()`) to read it; `pause()` stops the
/// flow, and once 16 KiB are held unread the connection stops reading from the socket, so a slow consumer makes the
/// peer wait instead of the process grow. As in Node, `end` fires only once the body has been consumed: a message
/// nobody reads never ends (the server discards a request body nobody read when its response finishes).
///
/// Events: `data` (a `Buffer`; decoded whole characters after `setEncoding`), `end`, `aborted` (the peer went away
/// before the body was complete), `close` (after `end`, or after `aborted`). Loop-confined.
public final class IncomingMessage {
    // `@exclusivity(unchecked)` on the state below, as in NetCore's Socket: the object is confined to its loop's
    // thread and no access is held open across a call into user code, so the runtime's dynamic exclusivity checks
    // (swift_beginAccess, about a sixth of a hello-server request's instructions) can never fire.
    /// The request method, e.g. `GET` (requests only; empty for responses).
    public let method: String
    /// The request target as sent, e.g. `/users?page=2` (requests only; empty for responses).
    public let url: String
    /// The response status (responses only; 0 for requests).
    public let statusCode: Int
    /// The response reason phrase (responses only).
    public let statusMessage: String
    /// The protocol version: `"1.1"` or `"1.0"`.
    public let httpVersion: String
    /// Major and minor version as numbers.
    public let version: HTTPVersion
    /// The header fields exactly as received, in order.
    public let fields: HTTPHeaders
    /// The connection the message arrived on.
    public let socket: Socket
    /// How many header fields `headers` and `rawHeaders` present (Node's `maxHeadersCount`; the rest are dropped;
    /// 0 for all, as in Node).
    let maxHeadersCount: Int

    /// True once the whole body has arrived (Node's `message.complete`).
    @exclusivity(unchecked) public private(set) var complete = false
    /// True when the peer went away before the body was complete (Node's `message.aborted`).
    @exclusivity(unchecked) public private(set) var aborted = false
    /// True once `end` has been emitted.
    @exclusivity(unchecked) public private(set) var readableEnded = false
    /// Body bytes received so far.
    @exclusivity(unchecked) public private(set) var bodyByteCount = 0
    /// True for a request handed to the server's `upgrade` listeners (Node's `message.upgrade`).
    @exclusivity(unchecked) public internal(set) var upgrade = false

    /// Node's `readableHighWaterMark`: unread body bytes held before the socket stops being read.
    public static let readableHighWaterMark = 16 * 1024

    /// The connection the message arrives on, held strongly until `close` (Node's `req.socket` is strong too):
    /// a weak reference gave every connection a side table, which put all of its retains and releases on the
    /// runtime's slow path. The connection lets go of its messages when it closes, so no cycle outlives it.
    @exclusivity(unchecked) var source: IncomingMessageSource?
    @exclusivity(unchecked) private var buffered: [Buffer] = []
    @exclusivity(unchecked) private var bufferedBytes = 0
    /// nil until data is wanted (Node's `readableFlowing`): true after `resume()` or a data listener, false after
    /// `pause()`.
    @exclusivity(unchecked) private var flowing: Bool?
    @exclusivity(unchecked) private var isFlushScheduled = false
    @exclusivity(unchecked) private var askedToPause = false
    /// Body bytes are dropped (nobody will read them: the response finished first).
    @exclusivity(unchecked) private var isDumping = false
    @exclusivity(unchecked) private var closeEmitted = false
    @exclusivity(unchecked) private var decoder: UTF8StreamDecoder?
    @exclusivity(unchecked) private var dataListeners = Listeners<Buffer>()
    @exclusivity(unchecked) private var endListeners = Listeners<Void>()
    @exclusivity(unchecked) private var closeListeners = Listeners<Void>()
    @exclusivity(unchecked) private var abortedListeners = Listeners<Void>()
    @exclusivity(unchecked) private var errorListeners = Listeners<SocketError>()
    @exclusivity(unchecked) private var cachedHeaders: IncomingHeaders?

    init(request head: HTTPRequestHead, socket: Socket, maxHeadersCount: Int) {
        method = head.method
        url = head.target
        statusCode = 0
        statusMessage = ""
        version = head.version
        httpVersion = head.version == .http1_1 ? "1.1" : "\(head.version.major).\(head.version.minor)"
        fields = head.headers
        self.socket = socket
        self.maxHeadersCount = maxHeadersCount > 0 ? maxHeadersCount : .max
        if case .none = head.framing { complete = true }
    }

    init(response head: HTTPResponseParser.Head, socket: Socket, maxHeadersCount: Int) {
        method = ""
        url = ""
        statusCode = head.status
        statusMessage = head.reason
        version = head.version
        httpVersion = head.version == .http1_1 ? "1.1" : "\(head.version.major).\(head.version.minor)"
        fields = head.headers
        self.socket = socket
        self.maxHeadersCount = maxHeadersCount > 0 ? maxHeadersCount : .max
    }

    /// The header fields with Node's rules: lower-case names; a repeated `set-cookie` kept as a list; repeated
    /// `cookie` joined with `; `; repeats of fields that cannot repeat (`content-type`, `host`, …) dropped; other
    /// repeats joined with `, `.
    public var headers: IncomingHeaders {
        if let cachedHeaders { return cachedHeaders }
        let made = IncomingHeaders(fields, limit: maxHeadersCount)
        cachedHeaders = made
        return made
    }

    /// Names and values alternating, as received (Node's `rawHeaders`).
    public var rawHeaders: [String] {
        var result: [String] = []
        for (index, field) in fields.enumerated() where index < maxHeadersCount {
            result.append(field.name)
            result.append(field.value)
        }
        return result
    }

    // MARK: - Events

    /// A message event and the type of its payload: `request.on(.data) { chunk in … }`.
    public struct Event<Payload> {
        let add: (IncomingMessage, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> IncomingMessage {
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> IncomingMessage {
        event.add(self, listener, true)
        return self
    }

    // MARK: - Flow

    /// Stops `data` events; what arrives meanwhile is held (up to the high-water mark, then the socket is paused).
    @discardableResult
    public func pause() -> IncomingMessage {
        flowing = false
        return self
    }

    /// Starts or restarts `data` events, first delivering what was held (on the next tick, as Node does).
    @discardableResult
    public func resume() -> IncomingMessage {
        flowing = true
        scheduleFlush()
        return self
    }

    /// Whether `pause()` is in force.
    public var isPaused: Bool { flowing == false }

    /// Decodes the body as UTF-8 text: `data` chunks then hold only whole characters.
    @discardableResult
    public func setEncoding(_ encoding: Socket.Encoding = .utf8) -> IncomingMessage {
        if decoder == nil { decoder = UTF8StreamDecoder() }
        return self
    }

    fileprivate func didAddDataListener() {
        guard flowing != false else { return }
        flowing = true
        scheduleFlush()
    }

    private func scheduleFlush() {
        guard !isFlushScheduled else { return }
        isFlushScheduled = true
        socket.loop.nextTick { [self] in
            isFlushScheduled = false
            flush()
        }
    }

    /// Delivers held chunks while flowing, then `end` once the body is complete and consumed.
    private func flush() {
        while flowing == true, !buffered.isEmpty {
            let chunk = buffered.removeFirst()
            bufferedBytes -= chunk.count
            emitData(chunk)
        }
        updateBackpressure()
        if flowing == true, buffered.isEmpty, complete, !readableEnded { emitEnd() }
    }

    private func emitData(_ chunk: Buffer) {
        if decoder != nil {
            let text = chunk.bytes.withUnsafeBytes { decoder!.write($0) }
            if !text.isEmpty { dataListeners.emit(Buffer(text)) }
        } else {
            dataListeners.emit(chunk)
        }
    }

    private func emitEnd() {
        if let tail = decoder?.end(), !tail.isEmpty { dataListeners.emit(Buffer(tail)) }
        readableEnded = true
        endListeners.emit(())
        emitClose()
    }

    private func emitClose() {
        guard !closeEmitted else { return }
        closeEmitted = true
        source = nil
        closeListeners.emit(())
        dataListeners.removeAll()
        endListeners.removeAll()
        closeListeners.removeAll()
        abortedListeners.removeAll()
        errorListeners.removeAll()
    }

    private func updateBackpressure() {
        let full = bufferedBytes >= Self.readableHighWaterMark && !isDumping
        if full != askedToPause {
            askedToPause = full
            source?.message(self, wantsReadingPaused: full)
        }
    }

    // MARK: - Fed by the connection

    /// Body bytes arrived.
    func push(_ bytes: [UInt8]) {
        bodyByteCount += bytes.count
        guard !isDumping, !bytes.isEmpty else { return }
        let chunk = Buffer(bytes)
        if flowing == true && buffered.isEmpty && !isFlushScheduled {
            emitData(chunk)
            return
        }
        buffered.append(chunk)
        bufferedBytes += chunk.count
        updateBackpressure()
    }

    /// The body is complete.
    func pushEnd() {
        complete = true
        if isDumping {
            if !readableEnded { emitEnd() }
            return
        }
        if flowing == true && buffered.isEmpty && !isFlushScheduled {
            emitEnd()
        } else if flowing == true {
            scheduleFlush()
        }
    }

    /// The connection closed before the body was complete (`aborted`, then `close`), or after (only `close`).
    /// `error` (the client's `ECONNRESET` "aborted") is emitted after `aborted`, to `error` listeners only: Node
    /// emits it only when someone listens.
    func connectionClosed(error: SocketError? = nil) {
        if !complete && !aborted {
            aborted = true
            abortedListeners.emit(())
            if let error { errorListeners.emit(error) }
        }
        buffered.removeAll()
        bufferedBytes = 0
        emitClose()
    }

    /// Nobody will read the rest of the body: drop it as it arrives (Node's `_dump`), so the connection can go on
    /// to the next request.
    func dump() {
        guard !isDumping else { return }
        isDumping = true
        flowing = true
        buffered.removeAll()
        bufferedBytes = 0
        if askedToPause {
            askedToPause = false
            source?.message(self, wantsReadingPaused: false)
        }
        if complete && !readableEnded { emitEnd() }
    }
}

extension IncomingMessage.Event where Payload == Buffer {
    /// Body bytes arrived. Adding the first listener starts the flow, unless `pause()` was called.
    public static var data: Self {
        Self { message, listener, once in
            message.dataListeners.add(listener, once: once)
            message.didAddDataListener()
        }
    }
}

extension IncomingMessage.Event where Payload == Void {
    /// The whole body has been delivered.
    public static var end: Self { Self { $0.endListeners.add($1, once: $2) } }
    /// The message is done with: after `end`, or after `aborted`.
    public static var close: Self { Self { $0.closeListeners.add($1, once: $2) } }
    /// The peer went away before the body was complete.
    public static var aborted: Self { Self { $0.abortedListeners.add($1, once: $2) } }
}

extension IncomingMessage.Event where Payload == SocketError {
    /// A response (client side) was cut before its body was complete: `ECONNRESET` "aborted", after `aborted`.
    public static var error: Self { Self { $0.errorListeners.add($1, once: $2) } }
}

@available(*, unavailable)
extension IncomingMessage: Sendable {}

/// Received header fields as Node presents `message.headers`: names lower-cased, duplicates merged by Node's rules.
public struct IncomingHeaders: Sendable, Sequence, CustomStringConvertible {
    private var order: [String] = []
    private var values: [String: String] = [:]
    private var cookies: [String] = []

    /// Fields whose repeats Node drops (keeping the first), from `_http_incoming.js`'s `matchKnownFields`.
    static let singleValued: Set<String> = [
        "age", "authorization", "content-length", "content-type", "etag", "expires", "from", "host",
        "if-modified-since", "if-unmodified-since", "last-modified", "location", "max-forwards",
        "proxy-authorization", "referer", "retry-after", "server", "user-agent",
    ]

    init(_ fields: HTTPHeaders, limit: Int) {
        for (index, field) in fields.enumerated() where index < limit {
            let name = field.name.asciiLowercased
            if name == "set-cookie" {
                if cookies.isEmpty { order.append(name) }
                cookies.append(field.value)
                continue
            }
            if let existing = values[name] {
                if Self.singleValued.contains(name) { continue }
                values[name] = existing + (name == "cookie" ? "; " : ", ") + field.value
            } else {
                order.append(name)
                values[name] = field.value
            }
        }
    }

    /// The value of `name` (any case). For `set-cookie`, the values joined with `, ` — use `setCookie` for the list.
    public subscript(name: String) -> String? {
        let key = name.asciiLowercased
        if key == "set-cookie" { return cookies.isEmpty ? nil : cookies.joined(separator: ", ") }
        return values[key]
    }

    /// Every `Set-Cookie` value, in order (Node gives `set-cookie` as an array).
    public var setCookie: [String] { cookies }

    /// The lower-cased names, in the order first received.
    public var names: [String] { order }

    /// Number of distinct names.
    public var count: Int { order.count }

    /// (name, value) pairs in order; `set-cookie` appears once per value.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> {
        var pairs: [(name: String, value: String)] = []
        for name in order {
            if name == "set-cookie" {
                for cookie in cookies { pairs.append((name, cookie)) }
            } else if let value = values[name] {
                pairs.append((name, value))
            }
        }
        return pairs.makeIterator()
    }

    /// As `JSON.stringify(message.headers)` prints it.
    public var description: String {
        var object = JSONObject()
        for name in order {
            object[name] = name == "set-cookie" ? .array(cookies.map { .string($0) }) : .string(values[name] ?? "")
        }
        return JSONValue.object(object).serialized
    }
}
