import NetCore

/// The response to one request: Node's `http.ServerResponse`.
///
/// Headers can be set with `setHeader` until the head is sent; `writeHead` sends it (merged with what was set, its
/// own fields winning); the first `write` sends it implicitly with `statusCode`. Framing is Node's: a response ended
/// with one body and no earlier write or `writeHead` gets `Content-Length`; otherwise chunked coding on HTTP/1.1
/// (unless the handler set `Content-Length`), and the end of the connection on HTTP/1.0. HEAD, 204, 304 and 1xx
/// responses carry no body bytes. `Date`, `Connection` and `Keep-Alive` are added as Node adds them.
///
/// Events: `drain` (after a `write` returned false), `finish` (the whole response was handed to the connection),
/// `close` (after `finish`, or when the connection closed first). Loop-confined.
public final class ServerResponse: TickHandler {
    // `@exclusivity(unchecked)` on the state below, as in NetCore's Socket: the object is confined to its loop's
    // thread and no access is held open across a call into user code, so the runtime's dynamic exclusivity checks
    // (swift_beginAccess, about a sixth of a hello-server request's instructions) can never fire.
    let connection: HTTPConnection
    /// The request this answers.
    public let req: IncomingMessage
    private let isHeadRequest: Bool
    private let requestVersion: HTTPVersion
    @exclusivity(unchecked) private var framing: HTTPBodyFraming = .none
    /// Output held back until the end of the current tick, so a handler's head, writes and end leave in one
    /// gathering system call (Node's http corks the same way). Large writes are held as they are (no copy);
    /// the head, chunk framing and small writes are copied into `corkedTail`, so a small response is one buffer
    /// and one plain `send` rather than a gather list of many tiny pieces, each a separate allocation.
    @exclusivity(unchecked) private var corked: [Buffer] = []
    @exclusivity(unchecked) private var corkedTail: [UInt8] = []
    @exclusivity(unchecked) private var corkedBytes = 0
    /// Writes up to this size are copied into `corkedTail`; larger ones are queued without copying.
    static let coalesceLimit = 4 * 1024
    @exclusivity(unchecked) private var isFlushScheduled = false
    /// Beyond this much held back, output goes out at once.
    static let corkLimit = 16 * 1024
    @exclusivity(unchecked) private var drainListeners = Listeners<Void>()
    @exclusivity(unchecked) private var closeListeners = Listeners<Void>()
    @exclusivity(unchecked) private var finishListeners = Listeners<Void>()
    /// Fields set with `setHeader`, in the order first set, names as given.
    @exclusivity(unchecked) private var pendingFields: [(name: String, value: String)] = []
    @exclusivity(unchecked) private var trailers: HTTPHeaders?
    @exclusivity(unchecked) private var isClosed = false
    /// The request asked for `100 Continue` (set by the connection).
    @exclusivity(unchecked) var expectsContinue = false

    /// The status to send (Node's `res.statusCode`; used by an implicit head). Default 200.
    @exclusivity(unchecked) public var statusCode = 200
    /// The reason phrase to send; nil for the standard one.
    @exclusivity(unchecked) public var statusMessage: String?
    /// Whether a `Date` field is added (Node's `res.sendDate`).
    @exclusivity(unchecked) public var sendDate = true
    /// Whether the head has been sent (queued for the connection).
    @exclusivity(unchecked) public private(set) var headersSent = false
    /// Whether `end` has been called (Node's `res.writableEnded`).
    @exclusivity(unchecked) public private(set) var writableEnded = false
    /// Whether the whole response has been handed to the connection (Node's `res.writableFinished`).
    @exclusivity(unchecked) public private(set) var writableFinished = false
    /// Body bytes written (excluding chunk framing).
    @exclusivity(unchecked) public private(set) var bodyBytesSent = 0
    /// Whether the connection stays open after this response (Node's `res.shouldKeepAlive`).
    @exclusivity(unchecked) public private(set) var shouldKeepAlive: Bool

    /// The status sent, or to be sent (the same as `statusCode`).
    public var status: Int { statusCode }
    /// Same as `writableEnded` (Node's deprecated `res.finished`).
    public var finished: Bool { writableEnded }
    /// The connection the response goes out on.
    public var socket: Socket { connection.socket }

    init(connection: HTTPConnection, request: IncomingMessage, keepAlive: Bool) {
        self.connection = connection
        self.req = request
        self.isHeadRequest = request.method == "HEAD"
        self.requestVersion = request.version
        self.shouldKeepAlive = keepAlive
    }

    private var isBodyless: Bool { isHeadRequest || statusCode == 204 || statusCode == 304 || statusCode < 200 }

    // MARK: - Headers

    /// Sets a header field for the implicit or explicit head, replacing any field of that name (any case). Ignored
    /// once the head is sent (Node throws `ERR_HTTP_HEADERS_SENT`; a toolkit for experiments reports nothing and
    /// keeps running, so check `headersSent`). Values with CR, LF or NUL are refused (response splitting).
    @discardableResult
    public func setHeader(_ name: String, _ value: String) -> ServerResponse {
        setHeader(name, [value])
    }

    /// Sets a header field sent once per value (e.g. several `Set-Cookie`s).
    @discardableResult
    public func setHeader(_ name: String, _ values: [String]) -> ServerResponse {
        guard !headersSent, Self.isValidFieldName(name), values.allSatisfy(Self.isValidFieldValue) else { return self }
        removeHeader(name)
        for value in values { pendingFields.append((name, value)) }
        return self
    }

    /// Appends a value to a header field, keeping earlier ones (Node's `res.appendHeader`).
    @discardableResult
    public func appendHeader(_ name: String, _ value: String) -> ServerResponse {
        guard !headersSent, Self.isValidFieldName(name), Self.isValidFieldValue(value) else { return self }
        pendingFields.append((name, value))
        return self
    }

    /// The value set for `name` (any case); several values are joined with `, `.
    public func getHeader(_ name: String) -> String? {
        let values = pendingFields.filter { HTTPHeaders.namesMatch($0.name, name) }.map(\.value)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Whether a field named `name` (any case) is set.
    public func hasHeader(_ name: String) -> Bool {
        pendingFields.contains { HTTPHeaders.namesMatch($0.name, name) }
    }

    /// Removes the field `name` (any case).
    public func removeHeader(_ name: String) {
        guard !headersSent else { return }
        pendingFields.removeAll { HTTPHeaders.namesMatch($0.name, name) }
    }

    /// The names set, lower-cased, in the order first set (Node's `res.getHeaderNames()`).
    public func getHeaderNames() -> [String] {
        var seen: Set<String> = []
        var names: [String] = []
        for field in pendingFields {
            let name = field.name.asciiLowercased
            if seen.insert(name).inserted { names.append(name) }
        }
        return names
    }

    /// The fields set, names lower-cased (Node's `res.getHeaders()`); repeated fields joined with `, `.
    public func getHeaders() -> [String: String] {
        var result: [String: String] = [:]
        for name in getHeaderNames() { result[name] = getHeader(name) }
        return result
    }

    /// Trailer fields sent after a chunked body (ignored for other framings, as in Node).
    public func addTrailers(_ fields: HTTPHeaders) {
        var all = trailers ?? HTTPHeaders()
        for (name, value) in fields where Self.isValidFieldName(name) && Self.isValidFieldValue(value) {
            all.add(name: name, value: value)
        }
        trailers = all
    }

    static func isValidFieldName(_ name: String) -> Bool { HTTPHeaders.isValidName(name) }

    static func isValidFieldValue(_ value: String) -> Bool { HTTPHeaders.isValidValue(value) }

    // MARK: - Head

    /// Sends the status line and headers (with the next body write, in one system call): the fields set with
    /// `setHeader`, then `headers` (which replace set fields of the same name).
    @discardableResult
    public func writeHead(_ status: Int, _ statusMessage: String? = nil, _ headers: HTTPHeaders = HTTPHeaders())
        -> ServerResponse
    {
        guard !headersSent else { return self }
        statusCode = status
        if let statusMessage { self.statusMessage = statusMessage }
        if !headers.fields.isEmpty {
            if pendingFields.isEmpty {
                if headers.isKnownValid {
                    // The usual case (a handler's constant fields): share the array instead of copying it.
                    pendingFields = headers.fields
                } else {
                    for (name, value) in headers where Self.isValidFieldName(name) && Self.isValidFieldValue(value) {
                        pendingFields.append((name, value))
                    }
                }
            } else {
                var replaced: Set<String> = []
                for (name, value) in headers where Self.isValidFieldName(name) && Self.isValidFieldValue(value) {
                    if replaced.insert(name.asciiLowercased).inserted { removeHeader(name) }
                    pendingFields.append((name, value))
                }
            }
        }
        sendHead(impliedLength: nil)
        return self
    }

    /// Sends the status line and headers; see `writeHead(_:_:_:)`.
    @discardableResult
    public func writeHead(_ status: Int, headers: HTTPHeaders) -> ServerResponse {
        writeHead(status, nil, headers)
    }

    /// Sends the head now, without body bytes (Node's `res.flushHeaders()`).
    public func flushHeaders() {
        if !headersSent { sendHead(impliedLength: nil) }
        flush()
    }

    /// Sends `100 Continue` (for a `checkContinue` listener that accepts the body).
    public func writeContinue() {
        connection.sendContinue()
    }

    /// Serialises the head into the cork. `impliedLength` is the body length when `end` knows the whole body.
    private func sendHead(impliedLength: Int?) {
        headersSent = true
        var hasLength = false
        var hasTransferEncoding = false
        var hasDate = false
        var hasConnection = false
        var hasKeepAlive = false
        var declaredLength: Int?
        var handlerChunked = false
        for field in pendingFields {
            let name = field.name
            switch name.utf8.count {
            case 4 where HTTPHeaders.namesMatch(name, "Date"): hasDate = true
            case 10 where HTTPHeaders.namesMatch(name, "Connection"):
                hasConnection = true
                if field.value.asciiLowercased.contains("close") { shouldKeepAlive = false }
            case 10 where HTTPHeaders.namesMatch(name, "Keep-Alive"): hasKeepAlive = true
            case 14 where HTTPHeaders.namesMatch(name, "Content-Length"):
                hasLength = true
                declaredLength = Int(field.value.trimmingCharacters(in: " \t"))
            case 17 where HTTPHeaders.namesMatch(name, "Transfer-Encoding"):
                hasTransferEncoding = true
                if field.value.asciiLowercased.contains("chunked") { handlerChunked = true }
            default: break
            }
        }
        if connection.isClosing { shouldKeepAlive = false }
        // A final status before `100 Continue`: the client may still send the body it announced, or not, so the
        // connection cannot be reused (Node's writeHead: "Don't keep alive connections where the client expects 100
        // Continue but we sent a final status; they may put extra bytes on the wire").
        if expectsContinue && !connection.continueSent { shouldKeepAlive = false }
        // The framing, as Node's `_storeHeader` decides it.
        var addLength: Int?
        var addChunked = false
        if statusCode == 204 || statusCode == 304 || statusCode < 200 {
            framing = .none
        } else if hasLength {
            framing = isBodyless ? .none : .contentLength(declaredLength ?? 0)
        } else if let impliedLength {
            addLength = impliedLength
            framing = isBodyless ? .none : .contentLength(impliedLength)
        } else if hasTransferEncoding {
            // The handler named the coding: chunked is framed here (as Node does); any other ends with the connection.
            framing = isBodyless ? .none : handlerChunked ? .chunked : .untilClose
            if !handlerChunked { shouldKeepAlive = false }
        } else if requestVersion.minor >= 1 {
            addChunked = true
            framing = isBodyless ? .none : .chunked
        } else {
            // HTTP/1.0 has no chunked coding: the body ends when the connection does.
            framing = isBodyless ? .none : .untilClose
            shouldKeepAlive = false
        }
        var bytes = corkedTail
        corkedTail = []
        let before = bytes.count
        bytes.reserveCapacity(before + Self.coalesceLimit)
        bytes.append(literal: "HTTP/1.1 ")
        Self.appendDecimal(statusCode, to: &bytes)
        bytes.append(0x20)
        bytes.append(utf8: statusMessage ?? HTTPStatus.reason(statusCode))
        bytes.append(literal: "\r\n")
        for field in pendingFields {
            bytes.append(utf8: field.name)
            bytes.append(literal: ": ")
            bytes.append(utf8: field.value)
            bytes.append(literal: "\r\n")
        }
        if sendDate && !hasDate {
            bytes.append(contentsOf: connection.server.date.fieldLine())
        }
        if !hasConnection {
            if shouldKeepAlive {
                bytes.append(literal: "Connection: keep-alive\r\n")
                if !hasKeepAlive { bytes.append(contentsOf: connection.server.keepAliveField) }
            } else {
                bytes.append(literal: "Connection: close\r\n")
            }
        }
        if let addLength {
            bytes.append(literal: "Content-Length: ")
            Self.appendDecimal(addLength, to: &bytes)
            bytes.append(literal: "\r\n")
        } else if addChunked {
            bytes.append(literal: "Transfer-Encoding: chunked\r\n")
        }
        bytes.append(literal: "\r\n")
        corkedBytes += bytes.count - before
        corkedTail = bytes
        pendingFields = []
        scheduleFlush()
    }

    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value >= 100 && value <= 999 {
            // Every real status: three digits, no string conversion.
            bytes.append(UInt8(0x30 + value / 100))
            bytes.append(UInt8(0x30 + value / 10 % 10))
            bytes.append(UInt8(0x30 + value % 10))
        } else {
            bytes.append(utf8: String(value))
        }
    }

    // MARK: - Body

    /// Sends body bytes (framed as one chunk when chunked). Returns false when the connection's write queue is above
    /// its high-water mark: wait for `drain` before writing more.
    @discardableResult
    public func write(_ data: Buffer) -> Bool {
        if !headersSent { sendHead(impliedLength: nil) }
        guard !writableEnded, !data.isEmpty else { return belowHighWaterMark }
        appendBody(data)
        let below = corkedBytes >= Self.corkLimit ? flush() : belowHighWaterMark
        if !below { connection.watchDrain() }
        return below
    }

    /// Sends the UTF-8 bytes of `text`; see `write(_:)`.
    @discardableResult
    public func write(_ text: String) -> Bool { write(Buffer(text)) }

    private var belowHighWaterMark: Bool {
        connection.socket.isBelowHighWaterMark(adding: corkedBytes)
    }

    private func appendBody(_ data: Buffer) {
        switch framing {
        case .none:
            break
        case .chunked:
            let before = corkedTail.count
            ChunkedEncoder.appendSizeLine(data.count, to: &corkedTail)
            corkedBytes += corkedTail.count - before
            cork(data)
            cork(ChunkedEncoder.chunkEnd)
            bodyBytesSent += data.count
        case .contentLength, .untilClose:
            cork(data)
            bodyBytesSent += data.count
        }
    }

    /// Sends `count` bytes of the open regular file `descriptor` from `offset` as body (one chunk when chunked) with
    /// sendfile(2): nothing is read into memory, so any size costs the same few bytes of queue, and a slow client
    /// only leaves the region queued longer. The response takes the descriptor and closes it once sent, or when
    /// the connection closes. Returns the same backpressure answer as `write(_:)`.
    ///
    /// The file must hold `count` bytes from `offset` until they are sent: if it turns out shorter, the connection
    /// is cut (the framing already promised those bytes).
    @discardableResult
    public func write(file descriptor: Int32, offset: Int = 0, count: Int) -> Bool {
        if !headersSent { sendHead(impliedLength: nil) }
        let socket = connection.socket
        guard !writableEnded, count > 0 else {
            FileSystem.close(descriptor)
            return belowHighWaterMark
        }
        switch framing {
        case .none:
            FileSystem.close(descriptor)
            return belowHighWaterMark
        case .chunked:
            let before = corkedTail.count
            ChunkedEncoder.appendSizeLine(count, to: &corkedTail)
            corkedBytes += corkedTail.count - before
        case .contentLength, .untilClose:
            break
        }
        bodyBytesSent += count
        // What is corked goes first (the head, the size line), then the region; the chunk's CRLF follows it.
        flush()
        let below = socket.write(file: descriptor, offset: offset, count: count, closesDescriptor: true)
        if case .chunked = framing { cork(ChunkedEncoder.chunkEnd) }
        if !below { connection.watchDrain() }
        return below
    }

    /// Finishes the response (the last chunk, and any trailers, for chunked framing); `callback` runs on `finish`.
    /// The connection then serves the next request or closes.
    public func end(_ data: Buffer? = nil, _ callback: (() -> Void)? = nil) {
        guard !writableEnded else { return }
        if let callback { finishListeners.appendOnce(callback) }
        if !headersSent {
            // One body and nothing written before: its length is known (Node sends Content-Length).
            sendHead(impliedLength: data?.count ?? 0)
        }
        if let data, !data.isEmpty { appendBody(data) }
        writableEnded = true
        if case .chunked = framing {
            if let trailers, !trailers.fields.isEmpty {
                cork(ChunkedEncoder.end(trailers: trailers))
            } else {
                cork(ChunkedEncoder.lastChunk)
            }
        }
        flush()
        if case .untilClose = framing { shouldKeepAlive = false }
        writableFinished = true
        connection.responseFinished(self)
        // Node emits `finish` and then `close` asynchronously, after `end` has returned.
        socket.loop.nextTick(self, code: Tick.finish)
    }

    /// Finishes the response with `text` as the last body bytes; see `end(_:_:)`.
    public func end(_ text: String, _ callback: (() -> Void)? = nil) {
        end(Buffer(text), callback)
    }

    private func cork(_ buffer: Buffer) {
        if buffer.count <= Self.coalesceLimit {
            cork(buffer.bytes)
            return
        }
        if !corkedTail.isEmpty {
            corked.append(Buffer(corkedTail))
            corkedTail = []
        }
        corked.append(buffer)
        corkedBytes += buffer.count
        scheduleFlush()
    }

    /// Copies small output into the coalescing tail.
    private func cork(_ bytes: [UInt8]) {
        if corkedTail.isEmpty { corkedTail.reserveCapacity(Self.coalesceLimit) }
        corkedTail.append(contentsOf: bytes)
        corkedBytes += bytes.count
        scheduleFlush()
    }

    private func scheduleFlush() {
        if !isFlushScheduled {
            isFlushScheduled = true
            connection.socket.loop.nextTick(self, code: Tick.flush)
        }
    }

    /// The response's deferred jobs (`EventLoop.nextTick(_:code:)` instead of a closure per job).
    private enum Tick {
        static let flush = 0
        static let finish = 1
    }

    /// Runs a job deferred with `nextTick(self, code:)`; public only because the loop calls it.
    public func handleTick(_ code: Int) {
        switch code {
        case Tick.flush:
            isFlushScheduled = false
            flush()
        default:
            // Node emits `finish` and then `close` asynchronously, after `end` has returned.
            finishListeners.emit(())
            emitClose()
        }
    }

    /// Hands everything held back to the socket; returns the socket's backpressure answer.
    @discardableResult
    private func flush() -> Bool {
        if !corkedTail.isEmpty {
            let tail = Buffer(corkedTail)
            corkedTail = []
            if corked.isEmpty {
                corkedBytes = 0
                return connection.socket.write(tail)
            }
            corked.append(tail)
        }
        guard !corked.isEmpty else { return true }
        let parts = corked
        corked.removeAll(keepingCapacity: true)
        corkedBytes = 0
        return connection.socket.write(contentsOf: parts)
    }

    /// Cuts the connection without finishing the response (the client sees a truncated body): for failures after
    /// the status line has gone out.
    public func destroy() {
        connection.socket.destroy()
    }

    /// Same as `destroy()`.
    public func abort() { destroy() }

    // MARK: - Events

    /// A response event and the type of its payload: `response.on(.finish) { … }`.
    public struct Event<Payload> {
        let add: (ServerResponse, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> ServerResponse {
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> ServerResponse {
        event.add(self, listener, true)
        return self
    }

    /// Calls `listener` when the connection can take more after `write` returned false.
    public func onDrain(_ listener: @escaping () -> Void) {
        drainListeners.append(listener)
        connection.watchDrain()
    }

    /// Calls `listener` when the response is done with: after `finish`, or when the connection closed first.
    public func onClose(_ listener: @escaping () -> Void) { closeListeners.append(listener) }

    /// Calls `listener` once the whole response has been handed to the connection.
    public func onFinish(_ listener: @escaping () -> Void) { finishListeners.append(listener) }

    func connectionDrained() { drainListeners.emit(()) }

    func connectionClosed() {
        guard !writableFinished else { return }
        writableEnded = true
        emitClose()
    }

    private func emitClose() {
        guard !isClosed else { return }
        isClosed = true
        closeListeners.emit(())
        releaseListeners()
    }

    /// Once closed no listener can run again; dropping them breaks the cycles that handlers make by capturing the
    /// response in its own listeners (a leak per connection that closed before its response finished, found by the
    /// fault suite's connection storm).
    private func releaseListeners() {
        drainListeners.removeAll()
        closeListeners.removeAll()
        finishListeners.removeAll()
    }
}

extension ServerResponse.Event where Payload == Void {
    /// The connection can take more after `write` returned false.
    public static var drain: Self {
        Self { response, listener, once in
            response.drainListeners.add(listener, once: once)
            response.connection.watchDrain()
        }
    }
    /// The whole response was handed to the connection.
    public static var finish: Self { Self { $0.finishListeners.add($1, once: $2) } }
    /// The response is done with: after `finish`, or when the connection closed first.
    public static var close: Self { Self { $0.closeListeners.add($1, once: $2) } }
}

@available(*, unavailable)
extension ServerResponse: Sendable {}

extension String {
    /// Without leading and trailing characters from `set` (ASCII only).
    func trimmingCharacters(in set: String) -> String {
        let bytes = Array(utf8)
        let drop = Set(set.utf8)
        var start = 0
        var end = bytes.count
        while start < end && drop.contains(bytes[start]) { start += 1 }
        while end > start && drop.contains(bytes[end - 1]) { end -= 1 }
        return String(decoding: bytes[start..<end], as: UTF8.self)
    }
}
