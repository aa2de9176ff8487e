import NetCore

/// Node's `http` module: `HTTP.createServer { req, res in … }`, `HTTP.request(…)`, `HTTP.get(…)`.
public enum HTTP {
    /// A server calling `handler` for every request as soon as its head has arrived (Node's `http.createServer`).
    /// Call `listen(port:host:)` or `listen(path:)` to start it.
    public static func createServer(
        loop: EventLoop = .current,
        configuration: HTTPServer.Configuration = HTTPServer.Configuration(),
        _ handler: ((IncomingMessage, ServerResponse) -> Void)? = nil
    ) -> HTTPServer {
        HTTPServer(loop: loop, configuration: configuration, handler: handler)
    }

    /// Node's `http.STATUS_CODES`: the standard reason phrase for `code`.
    public static func statusText(_ code: Int) -> String { HTTPStatus.reason(code) }
}

/// An HTTP/1.1 server on NetCore, over TCP or a Unix socket: Node's `http.Server`.
///
/// Keep-alive, pipelining (responses strictly in request order), `Expect: 100-continue` (`checkContinue`, or an
/// automatic `100 Continue`), and Node's timeouts: a head must arrive within `headersTimeout` (else `408`), a whole
/// request within `requestTimeout`, and idle keep-alive connections close after `keepAliveTimeout`. Malformed
/// requests get their 4xx with `Connection: close` after every earlier response has gone out (or go to
/// `clientError` listeners).
///
/// Events: `request`, `upgrade`, `connection`, `checkContinue`, `clientError`, `listening`, `close`, `error`.
public final class HTTPServer {
    // `@exclusivity(unchecked)` on the state below, as in NetCore's Socket: the object is confined to its loop's
    // thread and no access is held open across a call into user code, so the runtime's dynamic exclusivity checks
    // (swift_beginAccess, about a sixth of a hello-server request's instructions) can never fire.
    /// Limits and timeouts.
    public struct Configuration: Sendable {
        /// Time allowed for a request's head, from its first byte (or from the connection's start); 0 for no limit.
        /// Node: 60 s.
        public var headersTimeout = 60_000
        /// Time allowed for a whole request, head and body, from its first byte; a body still incomplete then gets
        /// `408` and the connection closes; 0 for no limit. Node: 300 s.
        public var requestTimeout = 300_000
        /// Idle time after a response before a keep-alive connection is closed; 0 for no limit (and no `Keep-Alive`
        /// field). Node: 5 s.
        public var keepAliveTimeout = 5_000
        /// Header fields presented per message (`headers`, `rawHeaders`); the rest are dropped; 0 for no limit.
        /// Node: 2000.
        public var maxHeadersCount = 2000
        /// Requests served per connection before it is closed; 0 for no limit. Node: 0.
        public var maxRequestsPerSocket = 0
        /// Parser limits (header section 16 KiB, target 8 KiB, body 1 MiB by default).
        public var limits = HTTPRequestParser.Limits()

        /// Node's defaults: 60 s headers timeout, 300 s request timeout, 5 s keep-alive, 16 KiB head, 8 KiB target,
        /// 1 MiB body.
        public init() {}
    }

    /// The underlying NetCore server (`address()`, `maxConnections`, `reusePort`, and its own events).
    public let server: Server
    /// The limits and timeouts in force. Changes apply to connections accepted afterwards.
    @exclusivity(unchecked) public var configuration: Configuration {
        didSet { keepAliveField = Self.keepAliveField(configuration) }
    }
    @exclusivity(unchecked) var date = HTTPDate()
    /// `Keep-Alive: timeout=N\r\n` (`timeout=N, max=M` with `maxRequestsPerSocket`), as Node adds to keep-alive
    /// responses.
    @exclusivity(unchecked) private(set) var keepAliveField: [UInt8]
    @exclusivity(unchecked) private var connections: [ObjectIdentifier: HTTPConnection] = [:]
    /// Connections accepted that have sent nothing yet, waiting out `headersTimeout` together.
    private(set) lazy var freshConnections = QuietConnections(loop: server.loop) { [unowned self] in
        configuration.headersTimeout
    }
    /// Keep-alive connections idle between requests, waiting out `keepAliveTimeout` together.
    private(set) lazy var idleConnections = QuietConnections(loop: server.loop) { [unowned self] in
        configuration.keepAliveTimeout
    }
    @exclusivity(unchecked) private var requestListeners = Listeners<(IncomingMessage, ServerResponse)>()
    @exclusivity(unchecked) private var checkContinueListeners = Listeners<(IncomingMessage, ServerResponse)>()
    @exclusivity(unchecked) private var clientErrorListeners = Listeners<(HTTPParseError, Socket)>()
    @exclusivity(unchecked) private var connectionListeners = Listeners<Socket>()
    @exclusivity(unchecked) private var upgradeListeners = Listeners<(IncomingMessage, Socket, Buffer)>()
    /// Whether an upgrade request ends HTTP on its connection (checked once per chunk read, by the parser).
    @exclusivity(unchecked) private(set) var hasUpgradeListeners = false
    /// Set while listening: Node keeps a listening server alive without the program holding it
    /// (`http.createServer(…).listen(8080)`), and so does this, until the server has closed and its last connection
    /// ended. (A server whose listen failed stays, too: programs exit then.)
    @exclusivity(unchecked) private var keepsItselfAlive: HTTPServer?

    /// Creates a server on `loop` calling `handler` for each request; `listen` starts it.
    public init(
        loop: EventLoop = .current,
        configuration: Configuration = Configuration(),
        handler: ((IncomingMessage, ServerResponse) -> Void)? = nil
    ) {
        self.configuration = configuration
        self.keepAliveField = Self.keepAliveField(configuration)
        // Half-open: a client may send its request and FIN at once; the response must still go out in full.
        self.server = Server(loop: loop, allowHalfOpen: true)
        if let handler { requestListeners.append(handler) }
        server.on(.connection) { [unowned self] socket in
            let connection = HTTPConnection(socket: socket, server: self)
            connections[ObjectIdentifier(connection)] = connection
            socket.on(.close) { [unowned self] _ in
                connections[ObjectIdentifier(connection)] = nil
                connection.socketClosed()
            }
            connectionListeners.emit(socket)
        }
        server.on(.close) { [unowned self] in keepsItselfAlive = nil }
    }

    private static func keepAliveField(_ configuration: Configuration) -> [UInt8] {
        // No timeout, no field (Node adds it only `if (this._keepAliveTimeout && …)`).
        guard configuration.keepAliveTimeout > 0 else { return [] }
        let timeout = max(1, configuration.keepAliveTimeout / 1000)
        let limit = configuration.maxRequestsPerSocket
        return Array("Keep-Alive: timeout=\(timeout)\(limit > 0 ? ", max=\(limit)" : "")\r\n".utf8)
    }

    // MARK: - Node's properties

    /// See `Configuration.headersTimeout`.
    public var headersTimeout: Int {
        get { configuration.headersTimeout }
        set { configuration.headersTimeout = newValue }
    }
    /// See `Configuration.requestTimeout`.
    public var requestTimeout: Int {
        get { configuration.requestTimeout }
        set { configuration.requestTimeout = newValue }
    }
    /// See `Configuration.keepAliveTimeout`.
    public var keepAliveTimeout: Int {
        get { configuration.keepAliveTimeout }
        set { configuration.keepAliveTimeout = newValue }
    }
    /// See `Configuration.maxHeadersCount`.
    public var maxHeadersCount: Int {
        get { configuration.maxHeadersCount }
        set { configuration.maxHeadersCount = newValue }
    }
    /// See `Configuration.maxRequestsPerSocket`.
    public var maxRequestsPerSocket: Int {
        get { configuration.maxRequestsPerSocket }
        set { configuration.maxRequestsPerSocket = newValue }
    }
    /// The largest request body accepted (`413` beyond); 1 MiB by default.
    public var maxBodyBytes: Int {
        get { configuration.limits.maxBodyBytes }
        set { configuration.limits.maxBodyBytes = newValue }
    }
    /// The largest request head accepted (`431` beyond); 16 KiB by default (Node's `maxHeaderSize`).
    public var maxHeaderSize: Int {
        get { configuration.limits.maxHeaderBytes }
        set { configuration.limits.maxHeaderBytes = newValue }
    }

    // MARK: - Listening

    /// Listens on a TCP port; see `Server.listen(port:host:)`.
    @discardableResult
    public func listen(port: Int, host: String? = nil, _ callback: (() -> Void)? = nil) -> HTTPServer {
        keepsItselfAlive = self
        server.listen(port: port, host: host, callback)
        return self
    }

    /// Listens on a Unix socket; see `Server.listen(path:mode:)`.
    @discardableResult
    public func listen(path: String, mode: UInt32? = nil, _ callback: (() -> Void)? = nil) -> HTTPServer {
        keepsItselfAlive = self
        server.listen(path: path, mode: mode, callback)
        return self
    }

    /// Whether the server is listening.
    public var listening: Bool { server.listening }

    /// The bound address, once listening.
    public func address() -> SocketAddress? { server.address() }

    /// Stops accepting; idle connections close now, busy ones after their current response (Node 19+ closes idle
    /// connections on `close()`). `callback` runs when the last connection has closed.
    public func close(_ callback: ((SocketError?) -> Void)? = nil) {
        server.close(callback)
        for connection in connections.values { connection.closeWhenIdle() }
    }

    /// Closes every connection that is not answering or holding a request (Node's `server.closeIdleConnections()`).
    public func closeIdleConnections() {
        for connection in connections.values where connection.isIdle { connection.closeWhenIdle() }
    }

    /// Destroys every open connection at once (Node's `server.closeAllConnections()`).
    public func closeAllConnections() {
        for connection in connections.values { connection.socket.destroy() }
    }

    /// Open connections.
    public var connectionCount: Int { connections.count }

    // MARK: - Events

    /// A server event and the type of its payload: `server.on(.request) { req, res in … }`.
    public struct Event<Payload> {
        let add: (HTTPServer, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> HTTPServer {
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> HTTPServer {
        event.add(self, listener, true)
        return self
    }

    var hasCheckContinueListeners: Bool { !checkContinueListeners.isEmpty }
    var hasClientErrorListeners: Bool { !clientErrorListeners.isEmpty }

    func emitRequest(_ request: IncomingMessage, _ response: ServerResponse) {
        if requestListeners.isEmpty {
            // Nobody answers: Node would leave the client hanging until a timeout; say so at once.
            response.statusCode = 500
            response.end("no request listener\n")
            return
        }
        requestListeners.emit((request, response))
    }

    /// The connection handed its socket over: it is no longer the server's to time out or close.
    func connectionUpgraded(_ connection: HTTPConnection, request: IncomingMessage, head: Buffer) {
        connections[ObjectIdentifier(connection)] = nil
        upgradeListeners.emit((request, connection.socket, head))
    }

    func emitCheckContinue(_ request: IncomingMessage, _ response: ServerResponse) {
        checkContinueListeners.emit((request, response))
    }

    func emitClientError(_ error: HTTPParseError, _ socket: Socket) {
        clientErrorListeners.emit((error, socket))
    }
}

extension HTTPServer.Event where Payload == (IncomingMessage, ServerResponse) {
    /// A request's head has arrived; its body streams through the `IncomingMessage`.
    public static var request: Self { Self { $0.requestListeners.add($1, once: $2) } }
    /// A request with `Expect: 100-continue` arrived: call `res.writeContinue()` to have the body sent, or answer
    /// at once (e.g. `417` or `413`). Without such a listener the server sends `100 Continue` itself.
    public static var checkContinue: Self { Self { $0.checkContinueListeners.add($1, once: $2) } }
}

extension HTTPServer.Event where Payload == (IncomingMessage, Socket, Buffer) {
    /// A request asked to switch protocols (`Connection: upgrade` with `Upgrade:`, Node's `upgrade` event): the
    /// payload is the request, the raw socket and the bytes already read past the request's head (the start of the
    /// new protocol). The HTTP connection has let go of the socket: the listener owns it, writes the `101` (or an
    /// error) itself and must end or destroy it. Attach the socket's `data` listener before returning, as in Node
    /// where the socket is read as soon as someone listens. Without `upgrade` listeners an upgrade request is an
    /// ordinary `request` (Node's behaviour).
    public static var upgrade: Self {
        Self { http, listener, once in
            http.upgradeListeners.add(listener, once: once)
            http.hasUpgradeListeners = true
        }
    }
}

extension HTTPServer.Event where Payload == Socket {
    /// A connection was accepted.
    public static var connection: Self { Self { $0.connectionListeners.add($1, once: $2) } }
}

extension HTTPServer.Event where Payload == (HTTPParseError, Socket) {
    /// A request was malformed or timed out. With a listener, the listener answers (write to the socket and end it);
    /// without one the server sends the error's status and closes.
    public static var clientError: Self { Self { $0.clientErrorListeners.add($1, once: $2) } }
}

extension HTTPServer.Event where Payload == Void {
    /// The server is listening.
    public static var listening: Self {
        Self { http, listener, once in
            if once { http.server.once(.listening, listener) } else { http.server.on(.listening, listener) }
        }
    }
    /// The server has closed and its last connection has ended.
    public static var close: Self {
        Self { http, listener, once in
            if once { http.server.once(.close, listener) } else { http.server.on(.close, listener) }
        }
    }
}

extension HTTPServer.Event where Payload == SocketError {
    /// Listening or accepting failed (e.g. `EADDRINUSE`).
    public static var error: Self {
        Self { http, listener, once in
            if once { http.server.once(.error, listener) } else { http.server.on(.error, listener) }
        }
    }
}

@available(*, unavailable)
extension HTTPServer: Sendable {}
