import COpenSSL
import NetCore

/// Node's `tls.TLSSocket`: a `Socket` whose bytes go through TLS.
///
/// It is a `Socket` (Node's `TLSSocket extends net.Socket`), with the same stream state machine, events and
/// semantics: `data/end/finish/close(hadError)/error/drain/timeout`, `allowHalfOpen`, `write()` → Bool against the
/// high-water mark (plaintext waiting for the handshake counts, as does ciphertext queued), `pause/resume` (a paused
/// TLSSocket stops reading the descriptor), `setEncoding`, `setTimeout`, `destroy/resetAndDestroy`. Only what lies
/// under the stream differs: a `TLSConnection` transport over memory BIOs. `bytesRead` and `bytesWritten` count
/// application bytes (plaintext), not the records on the wire.
///
/// Writes before the handshake completes are queued and sent after it. `end()` sends close_notify, then FIN once
/// everything queued is written; `destroy()` sends neither; a peer's close_notify, or a bare FIN after the
/// handshake, is `end` (no error), as in Node.
public final class TLSSocket: Socket {
    let connection: TLSConnection
    /// The server that accepted this socket, until it closes (for `secureConnection` and `tlsClientError`).
    private var tlsServer: TLSServer?
    /// A client's verification settings: the name checked against the certificate, and whether a failure is fatal.
    private let verification: ClientVerification?
    private var secureConnectListeners = Listeners<Void>()
    private var keylogListeners = Listeners<Buffer>()
    private var sessionListeners = Listeners<[UInt8]>()
    private var isSecure = false

    struct ClientVerification {
        let hostname: String
        let rejectUnauthorized: Bool
        let checkServerIdentity: @Sendable (String, PeerCertificate) -> TLSError?
    }

    /// Always true (Node's `tlsSocket.encrypted`).
    public let encrypted = true
    /// Whether the peer's certificate was verified (Node's `authorized`): always checked by a client; checked by a
    /// server when it requests client certificates.
    public private(set) var authorized = false
    /// Why the peer's certificate was not verified, as Node's code (`DEPTH_ZERO_SELF_SIGNED_CERT`, `CERT_HAS_EXPIRED`,
    /// `ERR_TLS_CERT_ALTNAME_INVALID`, ...); nil when authorized or not checked.
    public private(set) var authorizationError: String?

    /// A client socket; `TLS.connect` makes and connects it.
    init(loop: EventLoop, allowHalfOpen: Bool, connection: TLSConnection, verification: ClientVerification) {
        self.connection = connection
        self.verification = verification
        super.init(loop: loop, allowHalfOpen: allowHalfOpen)
        connection.socket = self
        transport = connection
    }

    /// A server's socket for an accepted descriptor.
    init(accepted descriptor: Int32, server: Server, tlsServer: TLSServer, connection: TLSConnection) {
        self.connection = connection
        self.verification = nil
        self.tlsServer = tlsServer
        super.init(accepted: descriptor, server: server)
        connection.socket = self
        transport = connection
        connection.connectionDidOpen()
    }

    // MARK: - Node's TLSSocket properties

    /// The protocol negotiated by ALPN (Node's `alpnProtocol`); nil (Node: false) when none was.
    public var alpnProtocol: String? {
        var data: UnsafePointer<UInt8>?
        var length: UInt32 = 0
        SSL_get0_alpn_selected(connection.ssl, &data, &length)
        guard let data, length > 0 else { return nil }
        return String(decoding: UnsafeBufferPointer(start: data, count: Int(length)), as: UTF8.self)
    }

    /// The negotiated protocol version, `"TLSv1.2"` or `"TLSv1.3"` (Node's `getProtocol()`); nil before the
    /// handshake has completed.
    public func getProtocol() -> String? {
        guard isSecure else { return nil }
        return String(cString: SSL_get_version(connection.ssl))
    }

    /// The negotiated cipher suite (Node's `getCipher()`); nil before the handshake has completed.
    public func getCipher() -> TLSCipher? {
        guard isSecure, let cipher = SSL_get_current_cipher(connection.ssl) else { return nil }
        return TLSCipher(
            name: String(cString: SSL_CIPHER_get_name(cipher)),
            standardName: SSL_CIPHER_standard_name(cipher).map { String(cString: $0) } ?? "",
            version: String(cString: SSL_CIPHER_get_version(cipher))
        )
    }

    /// The peer's certificate (Node's `getPeerCertificate(detailed)`): subject, issuer, subjectaltname, validity,
    /// fingerprints, serial number, raw DER; with `detailed`, each certificate's `issuerCertificate` up the chain.
    /// nil when the peer sent none (Node returns an empty object) or before the handshake.
    public func getPeerCertificate(_ detailed: Bool = false) -> PeerCertificate? {
        guard isSecure else { return nil }
        return connection.peerCertificate(detailed: detailed)
    }

    /// The current session, serialised for `ConnectOptions.session` (Node's `getSession()`); nil before the
    /// handshake. Under TLS 1.3 a resumable session arrives after the handshake: prefer the `session` event.
    public func getSession() -> [UInt8]? {
        guard isSecure, let session = SSL_get1_session(connection.ssl) else { return nil }
        defer { SSL_SESSION_free(session) }
        let length = i2d_SSL_SESSION(session, nil)
        guard length > 0 else { return nil }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_SSL_SESSION(session, &cursor)
        }
        return bytes
    }

    /// Whether the handshake resumed an earlier session (Node's `isSessionReused()`).
    public func isSessionReused() -> Bool { SSL_session_reused(connection.ssl) == 1 }

    /// The server name the client asked for with SNI (Node's `servername` on a server's socket); nil when none.
    public var servername: String? {
        guard let name = SSL_get_servername(connection.ssl, TLSEXT_NAMETYPE_host_name) else { return nil }
        return String(cString: name)
    }

    // MARK: - Events

    /// An event of a TLS socket beyond `Socket`'s: `socket.on(.secureConnect) { … }`.
    public struct TLSEvent<Payload> {
        let add: (TLSSocket, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for a TLS event.
    @discardableResult
    public func on<Payload>(_ event: TLSEvent<Payload>, _ listener: @escaping (Payload) -> Void) -> TLSSocket {
        loop.assertInLoop()
        event.add(self, listener, false)
        return self
    }

    /// Adds a listener for a TLS event that runs at most once.
    @discardableResult
    public func once<Payload>(_ event: TLSEvent<Payload>, _ listener: @escaping (Payload) -> Void) -> TLSSocket {
        loop.assertInLoop()
        event.add(self, listener, true)
        return self
    }

    // MARK: - The transport's side

    /// The handshake completed: the peer's certificate is judged (Node's onConnectSecure / onServerSocketSecure),
    /// then `beforeEvent` runs (pending writes go out), then `secureConnect` or the server's `secureConnection`.
    /// Returns false when the socket was destroyed instead.
    func handshakeDidComplete(beforeEvent: () -> Void) -> Bool {
        isSecure = true
        if let verification {
            var failure = connection.verifyError()
            // As Node: a resumed session's name was checked when it was made.
            if failure == nil, !isSessionReused(), let peer = connection.peerCertificate(detailed: false) {
                failure = verification.checkServerIdentity(verification.hostname, peer)
            }
            if let failure {
                authorized = false
                authorizationError = failure.code
                if verification.rejectUnauthorized {
                    destroy(SocketError(failure))
                    return false
                }
            } else {
                authorized = true
            }
            beforeEvent()
            guard !destroyed else { return false }
            secureConnectListeners.emit(())
            return !destroyed
        }
        guard let tlsServer else { return false }
        if tlsServer.requestCert {
            if let failure = connection.verifyError() {
                authorizationError = failure.code
                if tlsServer.rejectUnauthorized {
                    destroy()
                    return false
                }
            } else {
                authorized = true
            }
        }
        beforeEvent()
        guard !destroyed else { return false }
        tlsServer.secureConnectionListeners.emit(self)
        return !destroyed
    }

    /// The session failed: before a server's handshake completes, the server reports `tlsClientError` and the
    /// socket closes quietly (nobody holds it yet, as in Node); otherwise the socket gets `error` and closes.
    func sessionDidFail(_ error: TLSError, duringHandshake: Bool) {
        if duringHandshake, let tlsServer {
            tlsServer.reportClientError(SocketError(error), socket: self)
            destroy()
        } else {
            destroy(SocketError(error))
        }
    }

    /// The server that accepted this socket (nil for a client, and after close).
    var acceptingServer: TLSServer? { tlsServer }

    /// The socket was destroyed: drop what could keep it alive (listeners capturing it, the server).
    func connectionDidClose() {
        tlsServer = nil
        secureConnectListeners.removeAll()
        keylogListeners.removeAll()
        sessionListeners.removeAll()
    }
}

extension TLSSocket {
    /// One NSS key log line from OpenSSL (with its newline, as Node's `keylog` Buffer): to the socket's listeners,
    /// and to the server's.
    func didLogKey(_ line: Buffer) {
        keylogListeners.emit(line)
        tlsServer?.keylogListeners.emit((line, self))
    }

    /// Turns on OpenSSL's key log callback for this socket's context (Node enables it with the first listener).
    fileprivate func enableKeylog() {
        TLSServer.enableKeylog(on: connection.selectedContext ?? connection.context)
    }
}

extension TLSSocket {
    /// Has OpenSSL hand new sessions to `newSessionCallback` (client sockets; Node enables it with the first
    /// `session` listener): a client cache that keeps nothing itself.
    fileprivate func enableSessionEvents() {
        let context = connection.context.pointer
        _ = netcore_SSL_CTX_set_session_cache_mode(
            context,
            Int(SSL_SESS_CACHE_CLIENT) | Int(SSL_SESS_CACHE_NO_INTERNAL_STORE)
        )
        SSL_CTX_sess_set_new_cb(context, TLSSocket.newSessionCallback)
    }

    private static let newSessionCallback: @convention(c) (OpaquePointer?, OpaquePointer?) -> Int32 = { ssl, session in
        guard let session, let socket = TLSConnection.of(ssl)?.socket else { return 0 }
        let length = i2d_SSL_SESSION(session, nil)
        guard length > 0 else { return 0 }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_SSL_SESSION(session, &cursor)
        }
        socket.sessionListeners.emit(bytes)
        return 0  // not kept: OpenSSL frees it
    }
}

extension TLSSocket.TLSEvent where Payload == [UInt8] {
    /// A new session for later resumption, serialised (Node's `session`): TLS 1.3 servers send tickets after the
    /// handshake (OpenSSL sends two). Listen before connecting.
    public static var session: Self {
        Self { socket, listener, once in
            socket.sessionListeners.add(listener, once: once)
            socket.enableSessionEvents()
        }
    }
}

extension TLSSocket.TLSEvent where Payload == Buffer {
    /// A line of TLS key material in NSS key log format, with its newline (Node's `keylog`); appended to a file it
    /// lets Wireshark decrypt a capture. Listen before connecting.
    public static var keylog: Self {
        Self { socket, listener, once in
            socket.keylogListeners.add(listener, once: once)
            socket.enableKeylog()
        }
    }
}

extension TLSSocket.TLSEvent where Payload == Void {
    /// The handshake completed and the server's certificate was judged (client sockets; Node's `secureConnect`).
    public static var secureConnect: Self { Self { $0.secureConnectListeners.add($1, once: $2) } }
}

/// Node's `getCipher()` result.
public struct TLSCipher: Sendable, Equatable {
    /// Makes a cipher description.
    public init(name: String, standardName: String, version: String) {
        self.name = name
        self.standardName = standardName
        self.version = version
    }

    /// OpenSSL's name (`"TLS_AES_256_GCM_SHA384"`, `"ECDHE-RSA-AES128-GCM-SHA256"`).
    public var name: String
    /// The IETF name.
    public var standardName: String
    /// The lowest protocol version the suite is defined for (Node's `version`, e.g. `"TLSv1.3"`).
    public var version: String
}

extension SocketError {
    /// A TLS error as a socket's `error` payload: Node's code and message.
    public init(_ error: TLSError) {
        self.init(code: error.code, message: error.message)
    }
}
