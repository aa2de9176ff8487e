import NetCore
import NetCoreHTTP
import NetCoreTLS

/// Node's `https.Server`: an `HTTPServer` whose connections are `TLSSocket`s.
///
/// `http` is NetCoreHTTP's server, unchanged (requests, keep-alive, timeouts, `clientError`); `tls` is the
/// `TLSServer` over its listener, which runs each connection's handshake before the HTTP server reads a byte:
/// `secureConnection` when one completes, `tlsClientError` when one fails or times out (`handshakeTimeout`,
/// Node's 120 s; the connection is then closed), `keylog` for each line of key material. Without a `tlsClientError`
/// listener a failed handshake just closes its connection, as in Node.
///
/// A listening server keeps itself alive until it is closed, as Node's does.
public final class HTTPSServer {
    /// The HTTP server: its configuration, Node's timeout properties, `closeIdleConnections()`, ...
    public let http: HTTPServer
    /// The TLS layer: the secure context, `addContext`, the session ticket keys.
    public let tls: TLSServer

    init(
        _ options: TLSServer.Options,
        configuration: HTTPServer.Configuration,
        loop: EventLoop,
        handler: ((IncomingMessage, ServerResponse) -> Void)?
    ) throws(TLSError) {
        http = HTTPServer(loop: loop, configuration: configuration, handler: handler)
        tls = try TLSServer(options, over: http.server)
    }

    /// The underlying NetCore listener.
    public var server: Server { http.server }

    // MARK: - Listening

    /// Listens on TCP `port` (0 picks a free one); see `Server.listen(port:host:)`.
    @discardableResult
    public func listen(port: Int, host: String? = nil, _ callback: (() -> Void)? = nil) -> HTTPSServer {
        http.listen(port: port, host: host, callback)
        return self
    }

    /// Listens on a Unix-domain socket; see `Server.listen(path:mode:)`.
    @discardableResult
    public func listen(path: String, mode: UInt32? = nil, _ callback: (() -> Void)? = nil) -> HTTPSServer {
        http.listen(path: path, mode: mode, callback)
        return self
    }

    /// Whether the server is listening.
    public var listening: Bool { http.listening }

    /// The bound address, once listening.
    public func address() -> SocketAddress? { http.address() }

    /// Stops accepting; see `HTTPServer.close(_:)`.
    public func close(_ callback: ((SocketError?) -> Void)? = nil) { http.close(callback) }

    /// See `HTTPServer.closeIdleConnections()`.
    public func closeIdleConnections() { http.closeIdleConnections() }

    /// See `HTTPServer.closeAllConnections()`.
    public func closeAllConnections() { http.closeAllConnections() }

    /// Serves `context` to clients asking for `hostname` with SNI; see `TLSServer.addContext(_:_:)`.
    public func addContext(_ hostname: String, _ context: SecureContext) throws(TLSError) {
        try tls.addContext(hostname, context)
    }

    // MARK: - Events

    /// An HTTPS server event and its payload: `server.on(.request) { req, res in … }`,
    /// `server.on(.tlsClientError) { error, socket in … }`.
    public struct Event<Payload> {
        let add: (HTTPSServer, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> HTTPSServer {
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> HTTPSServer {
        event.add(self, listener, true)
        return self
    }
}

extension HTTPSServer.Event {
    /// An event of the HTTP server.
    fileprivate static func http(_ event: HTTPServer.Event<Payload>) -> Self {
        Self { server, listener, once in
            if once { server.http.once(event, listener) } else { server.http.on(event, listener) }
        }
    }

    /// An event of the TLS server.
    fileprivate static func tls(_ event: TLSServer.Event<Payload>) -> Self {
        Self { server, listener, once in
            if once { server.tls.once(event, listener) } else { server.tls.on(event, listener) }
        }
    }
}

extension HTTPSServer.Event where Payload == (IncomingMessage, ServerResponse) {
    /// A request's head has arrived (see `HTTPServer`'s `request`).
    public static var request: Self { .http(.request) }
    /// A request with `Expect: 100-continue` arrived (see `HTTPServer`'s `checkContinue`).
    public static var checkContinue: Self { .http(.checkContinue) }
}

extension HTTPSServer.Event where Payload == (HTTPParseError, Socket) {
    /// A request was malformed or timed out (see `HTTPServer`'s `clientError`); the socket is a `TLSSocket`.
    public static var clientError: Self { .http(.clientError) }
}

extension HTTPSServer.Event where Payload == TLSSocket {
    /// A connection was accepted; its handshake has not happened yet (Node's `connection`).
    public static var connection: Self { .tls(.connection) }
    /// A connection's handshake completed (Node's `secureConnection`).
    public static var secureConnection: Self { .tls(.secureConnection) }
}

extension HTTPSServer.Event where Payload == (SocketError, TLSSocket) {
    /// A handshake failed or timed out, or the client left before it completed; the connection is closed (Node's
    /// `tlsClientError`).
    public static var tlsClientError: Self { .tls(.tlsClientError) }
}

extension HTTPSServer.Event where Payload == (Buffer, TLSSocket) {
    /// A line of key material in NSS key log format, with its newline (Node's `keylog`).
    public static var keylog: Self { .tls(.keylog) }
}

extension HTTPSServer.Event where Payload == Void {
    /// The server is listening.
    public static var listening: Self { .http(.listening) }
    /// The server has closed and its last connection has ended.
    public static var close: Self { .http(.close) }
}

extension HTTPSServer.Event where Payload == SocketError {
    /// Listening or accepting failed (e.g. `EADDRINUSE`).
    public static var error: Self { .http(.error) }
}

@available(*, unavailable)
extension HTTPSServer: Sendable {}
