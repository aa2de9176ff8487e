import COpenSSL
import NetCore

/// Node's `tls.Server`: a `net.Server` whose connections are `TLSSocket`s.
///
/// `secureConnection` fires once a connection's handshake has completed (and, with `requestCert`, its certificate
/// was judged); `tlsClientError` when a handshake fails (the socket is then closed). The underlying `server` emits
/// `connection` with the `TLSSocket` as soon as it is accepted, before the handshake, as Node's does; anything built
/// on plain sockets (an HTTP server) can take its sockets from either event unchanged.
///
/// A listening server keeps itself alive until it is closed, as Node's does.
public final class TLSServer {
    /// The options of `TLS.createServer`: the secure context's, and the server's own.
    public struct Options: Sendable {
        /// The private key (PEM).
        public var key: PEMSource?
        /// The passphrase of an encrypted `key`.
        public var passphrase: String?
        /// The certificate, with its intermediates after it (PEM).
        public var cert: PEMSource?
        /// The CAs that client certificates must chain to (PEM); nil: the system's.
        public var ca: PEMSource?
        /// See `SecureContextOptions.ciphers`.
        public var ciphers: String?
        /// The lowest version allowed (default TLSv1.2).
        public var minVersion: TLSVersion = .tlsv1_2
        /// The highest version allowed (default TLSv1.3).
        public var maxVersion: TLSVersion = .tlsv1_3
        /// A context made beforehand (`TLS.createSecureContext`); when set, the fields above are not used.
        public var secureContext: SecureContext?
        /// Ask clients for a certificate (Node's `requestCert`, default false).
        public var requestCert = false
        /// With `requestCert`: refuse clients without a certificate that verifies against `ca` (default true).
        public var rejectUnauthorized = true
        /// The protocols offered with ALPN, in the server's order of preference. A client that offers some and
        /// shares none fails with `ERR_SSL_NO_APPLICATION_PROTOCOL`.
        public var ALPNProtocols: [String] = []
        /// Milliseconds allowed for a handshake before `tlsClientError` (`ERR_TLS_HANDSHAKE_TIMEOUT`) and a close;
        /// 0 for no limit (Node: 120 s).
        public var handshakeTimeout = 120_000
        /// Whether accepted sockets allow half-open connections.
        public var allowHalfOpen = false
        /// 48 bytes encrypting and authenticating session tickets (Node's `ticketKeys`: a 16-byte name, a 16-byte
        /// HMAC key, a 16-byte AES key); servers given the same keys resume each other's sessions. nil: random keys
        /// of this server's own.
        public var ticketKeys: [UInt8]?
        /// Picks the context for the server name a client asked for with SNI; nil falls back to `addContext`'s
        /// names, then to the server's own context (Node's `SNICallback`, answered synchronously).
        public var SNICallback: (@Sendable (String) -> SecureContext?)?

        /// Options with Node's defaults for everything not given.
        public init(
            key: PEMSource? = nil,
            passphrase: String? = nil,
            cert: PEMSource? = nil,
            ca: PEMSource? = nil,
            ciphers: String? = nil,
            minVersion: TLSVersion = .tlsv1_2,
            maxVersion: TLSVersion = .tlsv1_3,
            secureContext: SecureContext? = nil,
            requestCert: Bool = false,
            rejectUnauthorized: Bool = true,
            ALPNProtocols: [String] = [],
            handshakeTimeout: Int = 120_000,
            allowHalfOpen: Bool = false,
            ticketKeys: [UInt8]? = nil,
            SNICallback: (@Sendable (String) -> SecureContext?)? = nil
        ) {
            self.key = key
            self.passphrase = passphrase
            self.cert = cert
            self.ca = ca
            self.ciphers = ciphers
            self.minVersion = minVersion
            self.maxVersion = maxVersion
            self.secureContext = secureContext
            self.requestCert = requestCert
            self.rejectUnauthorized = rejectUnauthorized
            self.ALPNProtocols = ALPNProtocols
            self.handshakeTimeout = handshakeTimeout
            self.allowHalfOpen = allowHalfOpen
            self.ticketKeys = ticketKeys
            self.SNICallback = SNICallback
        }

        var contextOptions: SecureContextOptions {
            SecureContextOptions(
                key: key,
                passphrase: passphrase,
                cert: cert,
                ca: ca,
                ciphers: ciphers,
                minVersion: minVersion,
                maxVersion: maxVersion
            )
        }
    }

    /// The TCP or Unix-domain listener underneath.
    public let server: Server
    /// The context connections are made from.
    public let context: SecureContext
    let requestCert: Bool
    let rejectUnauthorized: Bool
    let handshakeTimeout: Int
    var secureConnectionListeners = Listeners<TLSSocket>()
    var clientErrorListeners = Listeners<(SocketError, TLSSocket)>()
    var keylogListeners = Listeners<(Buffer, TLSSocket)>()
    private let sniCallback: (@Sendable (String) -> SecureContext?)?
    private let alpnProtocols: [String]
    /// `addContext`'s names as Node matches them, newest last (the newest match wins).
    private var namedContexts: [(pattern: ServerNamePattern, context: SecureContext)] = []
    private var keylogEnabled = false
    /// The session ticket keys (see `Options.ticketKeys`).
    private var ticketKeys: [UInt8]

    /// Makes a server; `secureConnectionListener`, if given, is added as a `secureConnection` listener. Throws for
    /// options OpenSSL refuses (a bad PEM, a key that does not match the certificate, no cipher matched).
    public convenience init(
        _ options: Options,
        loop: EventLoop = .current,
        _ secureConnectionListener: ((TLSSocket) -> Void)? = nil
    ) throws(TLSError) {
        try self.init(options, over: Server(loop: loop, allowHalfOpen: options.allowHalfOpen), secureConnectionListener)
    }

    /// Makes the connections `server` accepts from now on `TLSSocket`s: its `connection` listeners get them before
    /// the handshake (writes wait for it, data follows it), so whatever already serves plain sockets on `server` —
    /// an `HTTPServer` through its `server` — serves TLS unchanged. `options.allowHalfOpen` is `server`'s own.
    public init(
        _ options: Options,
        over server: Server,
        _ secureConnectionListener: ((TLSSocket) -> Void)? = nil
    ) throws(TLSError) {
        if let given = options.secureContext {
            context = given
        } else {
            context = try SecureContext(options.contextOptions)
        }
        if !options.ALPNProtocols.isEmpty { try context.setServerALPN(options.ALPNProtocols) }
        alpnProtocols = options.ALPNProtocols
        sniCallback = options.SNICallback
        if let keys = options.ticketKeys {
            try Self.checkTicketKeys(keys)
            ticketKeys = keys
        } else {
            ticketKeys = [UInt8](repeating: 0, count: 48)
            _ = ticketKeys.withUnsafeMutableBufferPointer { RAND_bytes($0.baseAddress, 48) }
        }
        _ = netcore_SSL_CTX_set_ticket_key_evp_cb(context.pointer, TLSServer.ticketKeyCallback)
        // Resumed sessions must come from a server of the same kind (OpenSSL refuses to resume with client
        // certificates without one); Node derives its own from the command line.
        _ = SSL_CTX_set_session_id_context(context.pointer, Self.sessionIDContext, UInt32(Self.sessionIDContext.count))
        _ = netcore_SSL_CTX_set_servername_callback(context.pointer, TLSServer.serverNameCallback)
        requestCert = options.requestCert
        rejectUnauthorized = options.rejectUnauthorized
        handshakeTimeout = options.handshakeTimeout
        self.server = server
        if let secureConnectionListener { secureConnectionListeners.append(secureConnectionListener) }
        installSocketFactory()
        server.on(.close) { [weak self] in
            if self?.server.listening == false { self?.server.acceptedSocketFactory = nil }
        }
    }

    /// The factory holds this server strongly while it listens (the loop holds the listener, which holds the
    /// factory), so `TLS.createServer(…).listen(…)` works without the caller keeping it; `close` breaks the cycle,
    /// and listening again restores it.
    private func installSocketFactory() {
        server.acceptedSocketFactory = { [self] descriptor, server in makeSocket(descriptor, server) }
    }

    private func makeSocket(_ descriptor: Int32, _ server: Server) -> Socket {
        let connection = TLSConnection(context: context, isServer: true, handshakeTimeout: handshakeTimeout)
        var mode = SSL_VERIFY_NONE
        if requestCert {
            mode = SSL_VERIFY_PEER
            if rejectUnauthorized { mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT }
        }
        netcore_SSL_set_verify_continue(connection.ssl, mode)
        return TLSSocket(accepted: descriptor, server: server, tlsServer: self, connection: connection)
    }

    // MARK: - Session tickets

    /// The session ticket keys (Node's `server.getTicketKeys()`).
    public func getTicketKeys() -> [UInt8] { ticketKeys }

    /// Replaces the session ticket keys (Node's `server.setTicketKeys(keys)`); sessions under the old keys then
    /// get a full handshake.
    public func setTicketKeys(_ keys: [UInt8]) throws(TLSError) {
        try Self.checkTicketKeys(keys)
        ticketKeys = keys
    }

    private static func checkTicketKeys(_ keys: [UInt8]) throws(TLSError) {
        guard keys.count == 48 else {
            throw TLSError(
                code: "ERR_INVALID_ARG_VALUE",
                message: "Session ticket keys must be a 48-byte buffer (got \(keys.count))"
            )
        }
    }

    private static let sessionIDContext: [UInt8] = Array("NetCoreTLS".utf8)

    /// OpenSSL's ticket key callback: the keys of the server that accepted the connection.
    private static let ticketKeyCallback:
        @convention(c) (
            OpaquePointer?, UnsafeMutablePointer<UInt8>?, UnsafeMutablePointer<UInt8>?, OpaquePointer?,
            OpaquePointer?, Int32
        ) -> Int32 = { ssl, name, iv, cipher, mac, encrypt in
            guard let server = TLSConnection.of(ssl)?.socket?.acceptingServer else { return -1 }
            return server.ticketKeys.withUnsafeBufferPointer { keys in
                netcore_ticket_key_setup(keys.baseAddress, name, iv, cipher, mac, encrypt)
            }
        }

    // MARK: - SNI

    /// Serves `context` to clients asking for `hostname` with SNI (Node's `server.addContext`): an exact name, or
    /// `*` standing for one label (`*.example.test`). The newest matching name wins.
    public func addContext(_ hostname: String, _ context: SecureContext) throws(TLSError) {
        if !alpnProtocols.isEmpty { try context.setServerALPN(alpnProtocols) }
        if keylogEnabled { Self.enableKeylog(on: context) }
        namedContexts.append((ServerNamePattern(hostname), context))
    }

    /// Makes a context from `options` and serves it for `hostname`; see `addContext(_:_:)`.
    public func addContext(_ hostname: String, _ options: SecureContextOptions) throws(TLSError) {
        try addContext(hostname, SecureContext(options))
    }

    /// OpenSSL's servername callback: switch the SSL to the context picked for the name (the callback's, else the
    /// newest matching `addContext` name); an unknown name keeps the server's own certificate, as in Node.
    private static let serverNameCallback:
        @convention(c) (OpaquePointer?, UnsafeMutablePointer<Int32>?, UnsafeMutableRawPointer?) -> Int32 = {
            ssl,
            _,
            _ in
            guard let ssl, let connection = TLSConnection.of(ssl), let server = connection.socket?.acceptingServer,
                let rawName = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name)
            else { return SSL_TLSEXT_ERR_OK }
            let name = String(cString: rawName)
            let chosen = server.sniCallback?(name) ?? server.namedContexts.last { $0.pattern.matches(name) }?.context
            if let chosen, chosen !== connection.context {
                if server.keylogEnabled { enableKeylog(on: chosen) }
                connection.selectedContext = chosen
                _ = SSL_set_SSL_CTX(ssl, chosen.pointer)
            }
            return SSL_TLSEXT_ERR_OK
        }

    // MARK: - Key log

    /// OpenSSL's key log callback: the line goes to the connection's socket (and its server), with Node's newline.
    static let keylogCallback: @convention(c) (OpaquePointer?, UnsafePointer<CChar>?) -> Void = { ssl, line in
        guard let line, let socket = TLSConnection.of(ssl)?.socket else { return }
        socket.didLogKey(Buffer(Array(String(cString: line).utf8) + [0x0A]))
    }

    static func enableKeylog(on context: SecureContext) {
        SSL_CTX_set_keylog_callback(context.pointer, keylogCallback)
    }

    fileprivate func enableKeylog() {
        keylogEnabled = true
        Self.enableKeylog(on: context)
        for (_, named) in namedContexts { Self.enableKeylog(on: named) }
    }

    func reportClientError(_ error: SocketError, socket: TLSSocket) {
        clientErrorListeners.emit((error, socket))
    }

    // MARK: - Listening

    /// Listens on TCP `port`; see `Server.listen(port:host:)`.
    @discardableResult
    public func listen(port: Int = 0, host: String? = nil, _ callback: (() -> Void)? = nil) -> TLSServer {
        installSocketFactory()
        server.listen(port: port, host: host, callback)
        return self
    }

    /// Listens on a Unix-domain socket; see `Server.listen(path:mode:)`.
    @discardableResult
    public func listen(path: String, mode: UInt32? = nil, _ callback: (() -> Void)? = nil) -> TLSServer {
        installSocketFactory()
        server.listen(path: path, mode: mode, callback)
        return self
    }

    /// The bound address; see `Server.address()`.
    public func address() -> SocketAddress? { server.address() }

    /// Stops accepting; see `Server.close(_:)`.
    public func close(_ callback: ((SocketError?) -> Void)? = nil) {
        server.close(callback)
    }

    // MARK: - Events

    /// A TLS server event and its payload: `server.on(.secureConnection) { socket in … }`.
    public struct Event<Payload> {
        let add: (TLSServer, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> TLSServer {
        server.loop.assertInLoop()
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for `event` that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> TLSServer {
        server.loop.assertInLoop()
        event.add(self, listener, true)
        return self
    }
}

extension TLSServer.Event where Payload == TLSSocket {
    /// A connection's handshake completed (Node's `secureConnection`).
    public static var secureConnection: Self { Self { $0.secureConnectionListeners.add($1, once: $2) } }
    /// A connection was accepted; its handshake has not happened yet (Node's `connection`).
    public static var connection: Self {
        Self { server, listener, once in
            let forward: (Socket) -> Void = { listener(unsafeDowncast($0, to: TLSSocket.self)) }
            if once { server.server.once(.connection, forward) } else { server.server.on(.connection, forward) }
        }
    }
}

extension TLSServer.Event where Payload == (Buffer, TLSSocket) {
    /// A line of key material (NSS key log format, with its newline) for one of the server's connections (Node's
    /// `keylog`).
    public static var keylog: Self {
        Self { server, listener, once in
            server.keylogListeners.add(listener, once: once)
            server.enableKeylog()
        }
    }
}

/// A name of `addContext` as Node matches it: the whole name, `*` standing for any run of characters but a dot.
/// DNS names compare without regard to case.
struct ServerNamePattern {
    let labels: [Substring]

    init(_ hostname: String) {
        labels = hostname.lowercased().split(separator: ".", omittingEmptySubsequences: false)
    }

    func matches(_ name: String) -> Bool {
        let candidate = name.lowercased().split(separator: ".", omittingEmptySubsequences: false)
        guard candidate.count == labels.count else { return false }
        return zip(labels, candidate).allSatisfy { pattern, label in Self.label(label, matches: pattern) }
    }

    /// One label against a pattern label where each `*` matches any run of characters (Node's `[^.]*`).
    private static func label(_ label: Substring, matches pattern: Substring) -> Bool {
        glob(Array(label.utf8)[...], Array(pattern.utf8)[...])
    }

    private static func glob(_ text: ArraySlice<UInt8>, _ pattern: ArraySlice<UInt8>) -> Bool {
        guard let first = pattern.first else { return text.isEmpty }
        if first == UInt8(ascii: "*") {
            let rest = pattern.dropFirst()
            var suffix = text
            while true {
                if glob(suffix, rest) { return true }
                guard !suffix.isEmpty else { return false }
                suffix = suffix.dropFirst()
            }
        }
        guard let head = text.first, head == first else { return false }
        return glob(text.dropFirst(), pattern.dropFirst())
    }
}

extension TLSServer.Event where Payload == (SocketError, TLSSocket) {
    /// A handshake failed, timed out, or the client went away before it completed (Node's `tlsClientError`).
    public static var tlsClientError: Self { Self { $0.clientErrorListeners.add($1, once: $2) } }
}

extension TLSServer.Event where Payload == Void {
    /// The server is bound and accepting.
    public static var listening: Self {
        Self { server, listener, once in
            if once { server.server.once(.listening, listener) } else { server.server.on(.listening, listener) }
        }
    }
    /// The server stopped listening and its last connection closed.
    public static var close: Self {
        Self { server, listener, once in
            if once { server.server.once(.close, listener) } else { server.server.on(.close, listener) }
        }
    }
}

extension TLSServer.Event where Payload == SocketError {
    /// Listening or accepting failed.
    public static var error: Self {
        Self { server, listener, once in
            if once { server.server.once(.error, listener) } else { server.server.on(.error, listener) }
        }
    }
}

extension TLS {
    /// Node's `tls.createServer(options, secureConnectionListener)`.
    public static func createServer(
        _ options: TLSServer.Options,
        loop: EventLoop = .current,
        _ secureConnectionListener: ((TLSSocket) -> Void)? = nil
    ) throws(TLSError) -> TLSServer {
        try TLSServer(options, loop: loop, secureConnectionListener)
    }

    /// The options of `TLS.connect`: where to connect, the secure context's options, and the client's own.
    public struct ConnectOptions: Sendable {
        /// The TCP port (ignored with `path`).
        public var port: Int
        /// The host to connect to; also the name the server's certificate must match when `servername` is nil.
        public var host: String
        /// A Unix-domain socket path to connect to instead of TCP.
        public var path: String?
        /// The name sent with SNI and checked against the certificate. SNI is sent only when it is given, as in Node.
        public var servername: String?
        /// The protocols offered with ALPN, most preferred first.
        public var ALPNProtocols: [String] = []
        /// Fail the connection (an `error` with Node's code, then close) when the server's certificate does not
        /// verify or does not match the name; when false, `authorized` is false and `authorizationError` says why.
        public var rejectUnauthorized = true
        /// The CAs to trust (PEM); nil: the system's.
        public var ca: PEMSource?
        /// A client certificate (PEM), for servers that request one.
        public var cert: PEMSource?
        /// The key of `cert` (PEM).
        public var key: PEMSource?
        /// The passphrase of an encrypted `key`.
        public var passphrase: String?
        /// See `SecureContextOptions.ciphers`.
        public var ciphers: String?
        /// The lowest version allowed (default TLSv1.2).
        public var minVersion: TLSVersion = .tlsv1_2
        /// The highest version allowed (default TLSv1.3).
        public var maxVersion: TLSVersion = .tlsv1_3
        /// A context made beforehand; when set, `ca`, `cert`, `key`, `ciphers` and the versions are not used.
        public var secureContext: SecureContext?
        /// Whether the socket stays writable after the server ends its side.
        public var allowHalfOpen = false
        /// A session from an earlier connection's `session` event, to resume.
        public var session: [UInt8]?
        /// Checks the server's certificate against the name (`servername`, else `host`) once it verified; nil when
        /// it matches, else the error (Node's `checkServerIdentity` option; default `TLS.checkServerIdentity`).
        public var checkServerIdentity: @Sendable (String, PeerCertificate) -> TLSError? = {
            TLS.checkServerIdentity(hostname: $0, certificate: $1)
        }

        /// Options with Node's defaults for everything not given.
        public init(
            port: Int = 0,
            host: String = "localhost",
            path: String? = nil,
            servername: String? = nil,
            ALPNProtocols: [String] = [],
            rejectUnauthorized: Bool = true,
            ca: PEMSource? = nil,
            cert: PEMSource? = nil,
            key: PEMSource? = nil,
            passphrase: String? = nil,
            ciphers: String? = nil,
            minVersion: TLSVersion = .tlsv1_2,
            maxVersion: TLSVersion = .tlsv1_3,
            secureContext: SecureContext? = nil,
            allowHalfOpen: Bool = false,
            session: [UInt8]? = nil
        ) {
            self.port = port
            self.host = host
            self.path = path
            self.servername = servername
            self.ALPNProtocols = ALPNProtocols
            self.rejectUnauthorized = rejectUnauthorized
            self.ca = ca
            self.cert = cert
            self.key = key
            self.passphrase = passphrase
            self.ciphers = ciphers
            self.minVersion = minVersion
            self.maxVersion = maxVersion
            self.secureContext = secureContext
            self.allowHalfOpen = allowHalfOpen
            self.session = session
        }
    }

    /// Node's `tls.connect(options, callback)`: connects, then runs the handshake; `callback` runs on
    /// `secureConnect`. Failures (the connection, the handshake, a rejected certificate) arrive as `error` then
    /// `close(true)`. Throws for options OpenSSL refuses.
    @discardableResult
    public static func connect(
        _ options: ConnectOptions,
        loop: EventLoop = .current,
        _ callback: (() -> Void)? = nil
    ) throws(TLSError) -> TLSSocket {
        let context: SecureContext
        if let given = options.secureContext {
            context = given
        } else {
            context = try SecureContext(
                SecureContextOptions(
                    key: options.key,
                    passphrase: options.passphrase,
                    cert: options.cert,
                    ca: options.ca,
                    ciphers: options.ciphers,
                    minVersion: options.minVersion,
                    maxVersion: options.maxVersion
                )
            )
        }
        let connection = TLSConnection(context: context, isServer: false, handshakeTimeout: 0)
        netcore_SSL_set_verify_continue(connection.ssl, SSL_VERIFY_PEER)
        if let session = options.session {
            let resumable = session.withUnsafeBufferPointer { buffer -> OpaquePointer? in
                var cursor = buffer.baseAddress
                return d2i_SSL_SESSION(nil, &cursor, buffer.count)
            }
            guard let resumable else {
                ERR_clear_error()
                throw TLSError(code: "ERR_INVALID_ARG_VALUE", message: "The session is not a serialised TLS session")
            }
            _ = SSL_set_session(connection.ssl, resumable)
            SSL_SESSION_free(resumable)
        }
        if let servername = options.servername, !servername.isEmpty {
            _ = netcore_SSL_set_tlsext_host_name(connection.ssl, servername)
        }
        if !options.ALPNProtocols.isEmpty {
            let wire = try SecureContext.alpnWireFormat(options.ALPNProtocols)
            _ = wire.withUnsafeBufferPointer { SSL_set_alpn_protos(connection.ssl, $0.baseAddress, UInt32($0.count)) }
        }
        let hostname = options.servername ?? (options.path == nil ? options.host : "localhost")
        let socket = TLSSocket(
            loop: loop,
            allowHalfOpen: options.allowHalfOpen,
            connection: connection,
            verification: .init(
                hostname: hostname,
                rejectUnauthorized: options.rejectUnauthorized,
                checkServerIdentity: options.checkServerIdentity
            )
        )
        if let callback { socket.once(.secureConnect, callback) }
        if let path = options.path {
            socket.connect(path: path)
        } else {
            socket.connect(port: options.port, host: options.host)
        }
        return socket
    }
}
