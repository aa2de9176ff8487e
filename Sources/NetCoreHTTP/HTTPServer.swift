import NetCore

/// An HTTP/1.1 server on NetCore, over TCP or a Unix socket: keep-alive, pipelining (responses strictly in request
/// order), `100 Continue`, and Node's timeouts (headers must arrive within `headersTimeout`, else `408`; idle
/// keep-alive connections close after `keepAliveTimeout`). Malformed requests get their 4xx with `Connection: close`
/// after every earlier response has gone out.
public final class HTTPServer {
    /// Limits and timeouts.
    public struct Configuration: Sendable {
        /// Time allowed for a request's head, from its first byte (or from the connection's start). Node: 60 s.
        public var headersTimeout = 60_000
        /// Time allowed for a whole request, head and body, from its first byte; a body still incomplete then gets
        /// `408` and the connection closes. Node: 300 s.
        public var requestTimeout = 300_000
        /// Idle time after a response before a keep-alive connection is closed. Node: 5 s.
        public var keepAliveTimeout = 5_000
        /// Parser limits (header section 16 KiB, target 8 KiB, body 1 MiB by default).
        public var limits = HTTPRequestParser.Limits()
        /// Whether request bodies are kept for the handler (otherwise only counted).
        public var collectsBodies = false

        /// Node's defaults: 60 s headers timeout, 300 s request timeout, 5 s keep-alive, 16 KiB head, 8 KiB target, 1 MiB body.
        public init() {}
    }

    /// Called once per request, after its body has been read; must eventually call `response.end()`.
    public typealias Handler = (HTTPServerRequest, HTTPServerResponse) -> Void

    /// The underlying NetCore server (for `error`, `close` and `listening` events, `address()`, `maxConnections`).
    public let server: Server
    /// The limits and timeouts in force.
    public let configuration: Configuration
    let handler: Handler
    var date = HTTPDate()
    private var connections: [ObjectIdentifier: HTTPConnection] = [:]

    /// Creates a server on `loop`; `listen` starts it.
    public init(loop: EventLoop = .current, configuration: Configuration = Configuration(), handler: @escaping Handler)
    {
        self.configuration = configuration
        self.handler = handler
        // Half-open: a client may send its request and FIN at once; the response must still go out in full.
        self.server = Server(loop: loop, allowHalfOpen: true)
        server.on(.connection) { [unowned self] socket in
            let connection = HTTPConnection(socket: socket, server: self)
            connections[ObjectIdentifier(connection)] = connection
            socket.on(.close) { [unowned self] _ in
                connections[ObjectIdentifier(connection)] = nil
                connection.socketClosed()
            }
        }
    }

    /// Listens on a TCP port; see `Server.listen(port:host:)`.
    @discardableResult
    public func listen(port: Int, host: String? = nil, _ callback: (() -> Void)? = nil) -> HTTPServer {
        server.listen(port: port, host: host, callback)
        return self
    }

    /// Listens on a Unix socket; see `Server.listen(path:mode:)`.
    @discardableResult
    public func listen(path: String, mode: UInt32? = nil, _ callback: (() -> Void)? = nil) -> HTTPServer {
        server.listen(path: path, mode: mode, callback)
        return self
    }

    /// Stops accepting; idle connections close now, busy ones after their current response. `callback` runs when the
    /// last connection has closed.
    public func close(_ callback: ((SocketError?) -> Void)? = nil) {
        server.close(callback)
        for connection in connections.values { connection.closeWhenIdle() }
    }

    /// Destroys every open connection at once (Node's `server.closeAllConnections()`).
    public func closeAllConnections() {
        for connection in connections.values { connection.socket.destroy() }
    }

    /// Open connections.
    public var connectionCount: Int { connections.count }
}

@available(*, unavailable)
extension HTTPServer: Sendable {}
