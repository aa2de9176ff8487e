import NetCore

/// An HTTP request in progress on the client: Node's `http.ClientRequest`, a **writable stream** of the body.
///
/// Made by `HTTP.request` (or `HTTP.get`, which ends it at once). Header fields can be changed until the head goes
/// out, with the first `write`, `end` or `flushHeaders()`. Framing follows Node: `end(body)` with no earlier write
/// sends `Content-Length`; writes before `end` send chunked coding; `GET`, `HEAD`, `DELETE`, `OPTIONS`, `TRACE` and
/// `CONNECT` with no body send no framing, other methods `Content-Length: 0`. (Node sends a write on a `GET` with no
/// framing at all, which only a closing connection can delimit; here such a body is chunked too.)
///
/// Events, in Node's order: `socket`, `finish` (the whole request was handed to the socket), `information` and
/// `continue` (interim 1xx responses), `response` (the head of the final response: read its body from the
/// `IncomingMessage`), `timeout`, `abort`, `error` (a `SocketError` with Node's code: `ECONNREFUSED`, `ENOENT`,
/// `ECONNRESET` "socket hang up", `HPE_…`), and `close` (after the response's `end`, before its `close`, as in Node).
/// A response cut mid-body emits `aborted` and `error` ("aborted") on the response instead, then the request's
/// `close`. Loop-confined.
public final class ClientRequest {
    /// The request method.
    public let method: String
    /// The request target.
    public let path: String
    /// The server's name (`localhost` for a Unix socket).
    public let host: String
    /// Node's `req.protocol`: `"http:"`, or `"https:"` for a request made by `HTTPS.request`.
    public var `protocol`: String { connector?.scheme ?? "http:" }
    /// The loop the request runs on.
    public let loop: EventLoop
    /// The agent providing the connection.
    public let agent: Agent
    /// The socket, once one is assigned (`socket` event).
    public private(set) var socket: Socket?
    /// Whether the head has been sent (Node's `headersSent`).
    public private(set) var headersSent = false
    /// Whether `end()` has been called.
    public private(set) var writableEnded = false
    /// Whether all of the request has been handed to the socket (`finish` was emitted).
    public private(set) var writableFinished = false
    /// Whether `destroy()` or `abort()` was called, or the request failed.
    public private(set) var destroyed = false
    /// Whether `abort()` was called.
    public private(set) var aborted = false
    /// Whether the connection had served an earlier request (Node's `reusedSocket`).
    public private(set) var reusedSocket = false
    /// The response, once its head has arrived.
    public private(set) var res: IncomingMessage?

    let port: Int
    let socketPath: String?
    let timeout: Int?
    /// How the connection is made when it is not plain (NetCoreHTTPS's TLS); nil for plain HTTP.
    let connector: ClientConnector?
    private var fields: HTTPHeaders
    private var connection: ClientConnection?
    /// Bytes produced before a socket was assigned.
    private var pending: [Buffer] = []
    private var pendingBytes = 0
    private var isChunked = false
    private var needsDrain = false
    private var errorEmitted = false
    private var closeEmitted = false
    private var isQueued = false

    var responseListeners = Listeners<IncomingMessage>()
    var socketListeners = Listeners<Socket>()
    var finishListeners = Listeners<Void>()
    var closeListeners = Listeners<Void>()
    var errorListeners = Listeners<SocketError>()
    var timeoutListeners = Listeners<Void>()
    var abortListeners = Listeners<Void>()
    var drainListeners = Listeners<Void>()
    var continueListeners = Listeners<Void>()
    var informationListeners = Listeners<InformationalResponse>()

    /// Methods whose requests carry no body by default (Node's `useChunkedEncodingByDefault` is false for them).
    static let bodylessMethods: Set<String> = ["GET", "HEAD", "DELETE", "OPTIONS", "TRACE", "CONNECT"]
    /// Bytes `write` accepts before a socket exists before it returns false (Node's `writableHighWaterMark`).
    static let writableHighWaterMark = 16 * 1024

    /// Starts a request; `HTTP.request` is the usual way. The connection is requested on the next tick, so
    /// listeners and header changes made right after this call are in time.
    public init(_ options: Options, _ callback: ((IncomingMessage) -> Void)? = nil) {
        let loop = options.loop ?? .current
        self.loop = loop
        method = options.method.isEmpty ? "GET" : options.method.uppercased()
        path = options.path.isEmpty ? "/" : options.path
        host = options.host.isEmpty ? "localhost" : options.host
        port = options.port
        socketPath = options.socketPath
        timeout = options.timeout
        connector = options.connector
        switch options.agent {
        case .global: agent = Agent.global(for: loop)
        case .none: agent = Agent(keepAlive: false, loop: loop)
        case .agent(let given): agent = given
        }
        fields = HTTPHeaders()
        for (name, value) in options.headers where Self.isValid(name, value) { fields.add(name: name, value: value) }
        if let callback { responseListeners.appendOnce(callback) }
        if let invalid = Self.validate(method: method, path: path) {
            // Node throws here; an `error` event keeps one way of reporting failures (and nothing is sent).
            destroyed = true
            loop.nextTick { [self] in
                fail(invalid)
                emitClose()
            }
            return
        }
        loop.nextTick { [self] in
            guard !destroyed else { return }
            isQueued = true
            agent.addRequest(self)
        }
    }

    /// Node's checks: the method must be a token (`ERR_INVALID_HTTP_TOKEN`), the path free of spaces and control
    /// characters (`ERR_UNESCAPED_CHARACTERS`), which would otherwise split the request line.
    private static func validate(method: String, path: String) -> SocketError? {
        if !method.utf8.allSatisfy({ HTTPSyntax.isToken($0) }) {
            return SocketError(code: "ERR_INVALID_HTTP_TOKEN", message: "Method must be a valid HTTP token [\"\(method)\"]")
        }
        if path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) {
            return SocketError(code: "ERR_UNESCAPED_CHARACTERS", message: "Request path contains unescaped characters")
        }
        return nil
    }

    /// The agent's pool key for this request (Node's `agent.getName(options)`).
    var agentKey: String {
        let name = Agent.name(host: host, port: port, socketPath: socketPath)
        guard let connector else { return name }
        return name + connector.keySuffix
    }

    /// Whether the connection is asked to stay open after the response.
    var shouldKeepAlive: Bool { agent.keepAlive && !fields.contains(token: "close", in: "Connection") }

    var isFinished: Bool { writableEnded }
    var hasResponse: Bool { res != nil }

    private static func isValid(_ name: String, _ value: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { HTTPSyntax.isToken($0) }
            && !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    // MARK: - Headers

    /// Sets a header field, replacing any of that name (any case). Ignored once the head is sent (Node throws
    /// `ERR_HTTP_HEADERS_SENT`; check `headersSent`), and for names or values that are not valid (CR, LF, NUL).
    @discardableResult
    public func setHeader(_ name: String, _ value: String) -> ClientRequest {
        guard !headersSent, Self.isValid(name, value) else { return self }
        fields.replaceOrAdd(name: name, value: value)
        return self
    }

    /// The value of `name` (any case), several joined with `, `.
    public func getHeader(_ name: String) -> String? {
        let values = fields.values(for: name)
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    /// Removes the field `name` (any case), before the head is sent.
    public func removeHeader(_ name: String) {
        guard !headersSent else { return }
        fields.remove(name: name)
    }

    /// Whether a field named `name` is set.
    public func hasHeader(_ name: String) -> Bool { !fields.values(for: name).isEmpty }

    /// Sends the head now, without waiting for a body write (Node's `flushHeaders()`). The body is then chunked
    /// unless a `Content-Length` was set, or the method is one that carries no body by default.
    public func flushHeaders() {
        guard !headersSent, !destroyed else { return }
        output(head(framing: Self.bodylessMethods.contains(method) ? .none : .chunked))
    }

    private enum Framing {
        case none
        case length(Int)
        case chunked
    }

    /// The head with `Host`, `Connection` and the framing added where the user did not set them.
    private func head(framing implied: Framing) -> [Buffer] {
        headersSent = true
        var fields = self.fields
        if fields["Host"] == nil {
            fields.add(name: "Host", value: socketPath != nil || port == (connector?.defaultPort ?? 80) ? hostForHeader : "\(hostForHeader):\(port)")
        }
        if fields["Connection"] == nil { fields.add(name: "Connection", value: shouldKeepAlive ? "keep-alive" : "close") }
        if fields["Content-Length"] == nil && fields["Transfer-Encoding"] == nil {
            switch implied {
            case .none: break
            case .length(let count): fields.add(name: "Content-Length", value: String(count))
            case .chunked: fields.add(name: "Transfer-Encoding", value: "chunked")
            }
        }
        isChunked =
            fields.values(for: "Transfer-Encoding").flatMap { $0.split(separator: ",") }.last?.trimmingSpaces
            .asciiLowercased == "chunked"
        var text = "\(method) \(path) HTTP/1.1\r\n"
        for (name, value) in fields { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        return [Buffer(text)]
    }

    /// An IPv6 literal goes in brackets in `Host`.
    private var hostForHeader: String { host.contains(":") ? "[\(host)]" : host }

    // MARK: - Body

    /// Sends body bytes (the first write sends the head, with chunked framing unless a `Content-Length` was set).
    /// Returns false when the data is queued above the high-water mark: wait for `drain` before writing more.
    @discardableResult
    public func write(_ data: Buffer) -> Bool {
        guard !writableEnded, !destroyed else {
            if writableEnded && !destroyed { fail(.writeAfterEnd) }
            return false
        }
        var parts = headersSent ? [] : head(framing: .chunked)
        parts += frame(data)
        return output(parts)
    }

    /// Sends the UTF-8 bytes of `text`; see `write(_:)`.
    @discardableResult
    public func write(_ text: String) -> Bool { write(Buffer(text)) }

    /// Finishes the request, sending `data` last. With no earlier write the body gets a `Content-Length`.
    public func end(_ data: Buffer? = nil, _ callback: (() -> Void)? = nil) {
        guard !writableEnded, !destroyed else { return }
        if let callback { finishListeners.appendOnce(callback) }
        var parts: [Buffer] = []
        if !headersSent {
            let count = data?.count ?? 0
            parts = head(framing: count > 0 || !Self.bodylessMethods.contains(method) ? .length(count) : .none)
        }
        if let data { parts += frame(data) }
        if isChunked { parts.append(Buffer(ChunkedEncoder.lastChunk)) }
        writableEnded = true
        output(parts)
        if connection != nil { scheduleFinish() }
    }

    /// Finishes the request with `text` as the last body bytes.
    public func end(_ text: String, _ callback: (() -> Void)? = nil) { end(Buffer(text), callback) }

    private func frame(_ data: Buffer) -> [Buffer] {
        guard !data.isEmpty else { return [] }
        return isChunked ? ChunkedEncoder.frame(data.bytes).map(Buffer.init) : [data]
    }

    /// Hands bytes to the socket, or holds them until one is assigned.
    @discardableResult
    private func output(_ parts: [Buffer]) -> Bool {
        guard !parts.isEmpty || connection == nil else { return belowHighWaterMark }
        if let socket, !socket.destroyed {
            let accepted = socket.write(contentsOf: parts)
            if !accepted { needsDrain = true }
            return accepted
        }
        pending += parts
        pendingBytes += parts.reduce(0) { $0 + $1.count }
        let accepted = pendingBytes < Self.writableHighWaterMark
        if !accepted { needsDrain = true }
        return accepted
    }

    private var belowHighWaterMark: Bool {
        if let socket { return socket.writableLength < socket.writableHighWaterMark }
        return pendingBytes < Self.writableHighWaterMark
    }

    private func scheduleFinish() {
        loop.nextTick { [self] in
            guard !writableFinished, !destroyed else { return }
            writableFinished = true
            finishListeners.emit(())
        }
    }

    // MARK: - Ending early

    /// Destroys the request: the connection is closed (never reused), `error` is emitted if `error` is given or,
    /// as in Node, `ECONNRESET` "socket hang up" if no response had arrived; then `close`. A response in progress
    /// gets `aborted` and `error` "aborted".
    public func destroy(_ error: SocketError? = nil) {
        guard !destroyed else { return }
        destroyed = true
        if let error { fail(error) }
        if let connection {
            connection.socket.destroy()
        } else {
            if isQueued { agent.removeQueued(self) }
            if !hasResponse && error == nil { fail(HTTPClientErrors.socketHangUp) }
            loop.nextTick { [self] in emitClose() }
        }
    }

    /// Aborts the request (Node's deprecated `abort()`): `abort`, then `close`, with no `error` before a response.
    public func abort() {
        guard !aborted, !destroyed else { return }
        aborted = true
        errorEmitted = true  // Node reports no error for an abort
        loop.nextTick { [self] in abortListeners.emit(()) }
        destroy()
    }

    /// Emits `timeout` after `milliseconds` of socket inactivity (0 disables), as the `timeout` option does.
    @discardableResult
    public func setTimeout(_ milliseconds: Int, _ callback: (() -> Void)? = nil) -> ClientRequest {
        if let callback { timeoutListeners.append(callback) }
        timeoutOverride = milliseconds
        socket?.setTimeout(milliseconds)
        return self
    }
    private var timeoutOverride: Int?

    // MARK: - Driven by the connection

    /// The agent assigned `connection`: flush what was written so far.
    func attach(_ connection: ClientConnection) {
        isQueued = false
        self.connection = connection
        socket = connection.socket
        reusedSocket = connection.requestCount > 1
        if let timeoutOverride { connection.socket.setTimeout(timeoutOverride) }
        // Node emits `socket` on the next tick; the bytes go out at once.
        let parts = pending
        pending = []
        pendingBytes = 0
        if !parts.isEmpty { connection.socket.write(contentsOf: parts) }
        let socket = connection.socket
        loop.nextTick { [self] in
            guard !closeEmitted else { return }
            socketListeners.emit(socket)
            if needsDrain && socket.writableLength < socket.writableHighWaterMark { socketDrained() }
        }
        if writableEnded { scheduleFinish() }
    }

    func socketDrained() {
        guard needsDrain else { return }
        needsDrain = false
        drainListeners.emit(())
    }

    func socketTimedOut() {
        timeoutListeners.emit(())
    }

    func receivedInformation(_ head: InterimResponseScanner.Head) {
        let info = InformationalResponse(
            statusCode: head.status,
            statusMessage: head.reason,
            httpVersion: "\(head.version.major).\(head.version.minor)",
            headers: IncomingHeaders(head.headers, limit: 2000),
            rawHeaders: head.headers.flatMap { [$0.name, $0.value] }
        )
        if head.status == 100 { continueListeners.emit(()) }
        if head.status != 101 { informationListeners.emit(info) }
    }

    func receivedResponse(_ message: IncomingMessage) {
        res = message
        message.once(.close) { [weak self] in self?.responseClosed() }
        if responseListeners.isEmpty {
            message.dump()  // nobody reads it: drop the body so the connection can be reused (Node's `_dump`)
        } else {
            responseListeners.emit(message)
        }
    }

    private func responseClosed() {
        emitClose()
    }

    /// Fails the request with `error` (emitted once; later failures are dropped, as Node reports one).
    func failed(_ error: SocketError) {
        destroyed = true
        fail(error)
    }

    private func fail(_ error: SocketError) {
        guard !errorEmitted else { return }
        errorEmitted = true
        if errorListeners.isEmpty {
            reportUnhandled(error, on: "http.ClientRequest")
        } else {
            errorListeners.emit(error)
        }
    }

    /// The connection is done with this request (its response ended, or the connection closed).
    func completed() {
        connection = nil
        if res == nil || res?.readableEnded == true || res?.aborted == true { emitClose() }
    }

    private func emitClose() {
        guard !closeEmitted else { return }
        closeEmitted = true
        closeListeners.emit(())
        responseListeners.removeAll()
        socketListeners.removeAll()
        finishListeners.removeAll()
        closeListeners.removeAll()
        errorListeners.removeAll()
        timeoutListeners.removeAll()
        abortListeners.removeAll()
        drainListeners.removeAll()
        continueListeners.removeAll()
        informationListeners.removeAll()
    }
}

@available(*, unavailable)
extension ClientRequest: Sendable {}
