import COpenSSL
@preconcurrency import Glibc
import NetCore

/// TLS over memory BIOs, under a `TLSSocket`'s stream (its `SocketTransport`).
///
/// OpenSSL only transforms bytes, as in Node's TLSWrap: ciphertext the socket reads goes into the read BIO, and
/// plaintext comes out of `SSL_read` into the socket's `data`; plaintext writes go through `SSL_write`. After every
/// SSL call the write BIO is drained into the socket's own gathering write queue (handshake and alert bytes appear
/// while reading too), so NetCore keeps its loop, `MSG_NOSIGNAL`, backpressure and half-close. The error queue is
/// cleared before each SSL call, so an error read after it is that call's.
final class TLSConnection: SocketTransport {
    /// Whether this end accepted the connection.
    let isServer: Bool
    /// The `SSL*`, freed in deinit.
    let ssl: OpaquePointer
    /// Kept alive as long as the SSL that points into it.
    let context: SecureContext
    /// The context SNI switched to, if any, kept alive for the same reason.
    var selectedContext: SecureContext?
    private let readBIO: OpaquePointer
    private let writeBIO: OpaquePointer
    private(set) var state = TLSSessionState.handshaking
    /// The socket above; it owns this transport, so it outlives it.
    unowned(unsafe) var socket: TLSSocket?

    /// What was written but is not encrypted yet, in order: writes before the handshake completed, and a file
    /// region being read a piece at a time (with the writes behind it) as the socket's queue drains.
    private var pending: [Waiting] = []
    private var pendingHead = 0
    private(set) var pendingByteCount = 0
    /// `end()` came while writes were waiting: close_notify follows them.
    private var closeRequested = false

    private enum Waiting {
        case bytes([UInt8])
        case file(FileRegion)
    }

    /// How much of a file is read and encrypted at a time (four full TLS records).
    static let filePiece = 64 * 1024
    private var closeNotifyQueued = false
    private var handshakeTimer: Timeout?
    let handshakeTimeout: Int

    /// OpenSSL fails to make an SSL or a BIO only when out of memory, which Swift treats as fatal anyway.
    init(context: SecureContext, isServer: Bool, handshakeTimeout: Int) {
        self.context = context
        self.isServer = isServer
        self.handshakeTimeout = handshakeTimeout
        ERR_clear_error()
        guard let ssl = SSL_new(context.pointer),
            let readBIO = BIO_new(BIO_s_mem()),
            let writeBIO = BIO_new(BIO_s_mem())
        else {
            fatalError("NetCoreTLS: out of memory making an SSL connection")
        }
        self.ssl = ssl
        self.readBIO = readBIO
        self.writeBIO = writeBIO
        // An empty read BIO means "no more yet" (retry), never end of stream: EOF comes from the socket.
        _ = netcore_BIO_set_mem_eof_return(readBIO, -1)
        _ = netcore_BIO_set_mem_eof_return(writeBIO, -1)
        SSL_set_bio(ssl, readBIO, writeBIO)
        // OpenSSL's callbacks (SNI, keylog) find this connection through the SSL's app data.
        _ = SSL_set_ex_data(ssl, 0, Unmanaged.passUnretained(self).toOpaque())
        if isServer {
            SSL_set_accept_state(ssl)
        } else {
            SSL_set_connect_state(ssl)
        }
    }

    deinit {
        handshakeTimer?.cancel()
        SSL_free(ssl)  // frees both BIOs
    }

    // MARK: - SocketTransport

    var allowsShutdown: Bool { pendingByteCount == 0 && (closeNotifyQueued || state == .failed || state == .closed) }

    func connectionDidOpen() {
        guard let socket else { return }
        if isServer {
            if handshakeTimeout > 0 {
                handshakeTimer = socket.loop.setTimeout(handshakeTimeout) { [weak self] in
                    self?.handshakeTimedOut()
                }.unref()
            }
        } else {
            advance()  // the ClientHello
        }
    }

    func didReceive(_ bytes: UnsafeRawBufferPointer) {
        guard state != .failed && state != .closed, bytes.count > 0 else { return }
        // A memory BIO takes everything (it grows); the socket's pause and the kernel's buffer bound how much.
        _ = BIO_write(readBIO, bytes.baseAddress, Int32(bytes.count))
        advance()
    }

    func didReceiveEOF() {
        guard let socket else { return }
        switch state {
        case .handshaking:
            fail(
                TLSError(
                    code: "ECONNRESET",
                    message: "Client network socket disconnected before secure TLS connection was established"
                )
            )
        case .failed:
            socket.destroy()
        default:
            // Node's rule: a FIN without close_notify after the handshake is the end of the stream, not an error.
            socket.transportDidReachEnd()
        }
    }

    func write(_ bytes: [UInt8]) {
        if state == .handshaking || pendingByteCount > 0 {
            pending.append(.bytes(bytes))
            pendingByteCount += bytes.count
            return
        }
        guard state.canSend else { return }
        encrypt(bytes)
    }

    func write(file region: FileRegion) {
        guard region.remaining > 0 else { return }
        guard state == .handshaking || state.canSend else { return }
        pending.append(.file(region))
        pendingByteCount += region.remaining
    }

    func writeQueueDidDrain() {
        guard state.canSend else { return }
        encryptWaiting(limit: Self.filePiece)
    }

    func didEnd() {
        switch state {
        case .handshaking: closeRequested = true
        case .open, .closing(.received):
            if pendingByteCount > 0 { closeRequested = true } else { sendCloseNotify() }
        default: break
        }
    }

    func didDestroy() {
        handshakeTimer?.cancel()
        handshakeTimer = nil
        dropWaiting()
        state.transportClosed()
        socket?.connectionDidClose()
    }

    // MARK: - Driving OpenSSL

    /// Runs the handshake as far as the bytes received allow, then decrypts whatever application data they hold,
    /// and sends what OpenSSL produced.
    private func advance() {
        guard let socket else { return }
        if state == .handshaking {
            ERR_clear_error()
            let status = SSL_do_handshake(ssl)
            drainWriteBIO()
            if status != 1 {
                let reason = SSL_get_error(ssl, status)
                if reason == SSL_ERROR_WANT_READ || reason == SSL_ERROR_WANT_WRITE {
                    socket.transportFlush()
                    return
                }
                fail(takeError(reason))
                return
            }
            handshakeDidComplete()
            guard !socket.destroyed else { return }
        }
        decrypt()
        socket.transportFlush()
    }

    private func handshakeDidComplete() {
        guard let socket else { return }
        handshakeTimer?.cancel()
        handshakeTimer = nil
        state.handshakeCompleted()
        // The verdict first (a rejected peer gets none of the pending plaintext), then what waited for the
        // handshake, then the event: a listener's writes follow the earlier ones.
        _ = socket.handshakeDidComplete(beforeEvent: { [self] in
            // Everything written before the handshake, up to the first file piece; the rest as the queue drains.
            encryptWaiting(limit: Self.filePiece)
        })
    }

    /// Encrypts waiting writes in order: whole byte writes, and at most `limit` bytes of a file region, stopping
    /// after a file piece (the next waits for the queue to drain). close_notify follows the last of them if `end()`
    /// was called.
    private func encryptWaiting(limit: Int) {
        guard let socket else { return }
        while pendingHead < pending.count && state.canSend && !socket.destroyed {
            switch pending[pendingHead] {
            case .bytes(let bytes):
                pending[pendingHead] = .bytes([])
                pendingHead += 1
                pendingByteCount -= bytes.count
                encrypt(bytes)
            case .file(let region):
                let piece: [UInt8]
                do {
                    piece = try region.readPiece(limit: limit)
                } catch {
                    dropWaiting()
                    socket.destroy(SocketError(error))
                    return
                }
                pendingByteCount -= piece.count
                if region.remaining == 0 {
                    pending[pendingHead] = .bytes([])  // releases the region (closing its descriptor if it owns it)
                    pendingHead += 1
                }
                encrypt(piece)
                compactWaiting()
                return
            }
        }
        compactWaiting()
        if pendingByteCount == 0 && closeRequested && !closeNotifyQueued && state.canSend { sendCloseNotify() }
    }

    private func compactWaiting() {
        if pendingHead == pending.count {
            pending.removeAll()
            pendingHead = 0
        }
    }

    private func dropWaiting() {
        pending = []
        pendingHead = 0
        pendingByteCount = 0
    }

    /// SSL_read until OpenSSL wants more bytes: every plaintext chunk goes to the socket as it comes.
    private func decrypt() {
        guard let socket else { return }
        let scratch = socket.transportScratch
        let capacity = Int32(min(scratch.count, 16 * 1024))
        while state.canReceive && !socket.destroyed {
            ERR_clear_error()
            let count = SSL_read(ssl, scratch.baseAddress, capacity)
            // TLS 1.3 session tickets and key updates are answered while reading.
            drainWriteBIO()
            if count > 0 {
                socket.transportDidDecode(Buffer(copying: UnsafeRawBufferPointer(rebasing: scratch[0..<Int(count)])))
                continue
            }
            let reason = SSL_get_error(ssl, count)
            switch reason {
            case SSL_ERROR_WANT_READ, SSL_ERROR_WANT_WRITE:
                return
            case SSL_ERROR_ZERO_RETURN:
                // The peer's close_notify: the end of its stream (Node: `end`, no error).
                state.receivedCloseNotify()
                socket.transportDidReachEnd()
                return
            default:
                fail(takeError(reason))
                return
            }
        }
    }

    private func encrypt(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        ERR_clear_error()
        let written = bytes.withUnsafeBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        drainWriteBIO()
        if written <= 0 {
            fail(takeError(SSL_get_error(ssl, written)))
        }
    }

    private func sendCloseNotify() {
        ERR_clear_error()
        _ = SSL_shutdown(ssl)
        drainWriteBIO()
        ERR_clear_error()
        closeNotifyQueued = true
        state.sentCloseNotify()
    }

    /// Moves everything OpenSSL wrote into the socket's write queue (sent by the next `transportFlush`).
    private func drainWriteBIO() {
        guard let socket else { return }
        let available = Int(BIO_ctrl_pending(writeBIO))
        guard available > 0 else { return }
        let bytes = [UInt8](unsafeUninitializedCapacity: available) { raw, initialized in
            initialized = Int(max(0, BIO_read(writeBIO, raw.baseAddress, Int32(available))))
        }
        socket.transportWillSend(bytes)
    }

    /// The error of a failed SSL call: the queue's first entry in Node's words; a bare syscall error (the memory
    /// BIOs never make one) or an empty queue becomes a protocol error.
    private func takeError(_ reason: Int32) -> TLSError {
        TLSError.takeErrorQueue(
            fallback: TLSError(
                code: "EPROTO",
                message: "TLS failure (SSL_get_error \(reason)) with an empty error queue"
            )
        )
    }

    // MARK: - Failure

    /// The session cannot go on: send any alert OpenSSL queued, then report and destroy.
    func fail(_ error: TLSError) {
        guard let socket, state != .failed else { return }
        let wasHandshaking = state == .handshaking
        state.fail()
        handshakeTimer?.cancel()
        handshakeTimer = nil
        dropWaiting()
        drainWriteBIO()
        socket.transportFlush()
        socket.sessionDidFail(error, duringHandshake: wasHandshaking)
    }

    private func handshakeTimedOut() {
        handshakeTimer = nil
        guard state == .handshaking else { return }
        fail(TLSError(code: "ERR_TLS_HANDSHAKE_TIMEOUT", message: "TLS handshake timeout"))
    }

    // MARK: - Queries

    /// The connection an SSL belongs to, in OpenSSL's callbacks (valid while the SSL lives: the connection owns it).
    static func of(_ ssl: OpaquePointer?) -> TLSConnection? {
        guard let ssl, let raw = SSL_get_ex_data(ssl, 0) else { return nil }
        return Unmanaged<TLSConnection>.fromOpaque(raw).takeUnretainedValue()
    }

    /// The verify result in Node's terms (its VerifyError): no certificate at all is UNABLE_TO_GET_ISSUER_CERT.
    func verifyError() -> TLSError? {
        VerificationError.ofPeer(ssl: ssl)?.tlsError
    }

    /// The peer's certificate as Node's `getPeerCertificate(detailed)` shows it; nil when it sent none.
    func peerCertificate(detailed: Bool) -> PeerCertificate? {
        // A server gets the client's leaf apart from its chain; a client's chain starts with the leaf.
        let leaf = isServer ? SSL_get1_peer_certificate(ssl) : nil
        defer { if let leaf { X509_free(leaf) } }
        let chain = SSL_get_peer_cert_chain(ssl)
        if !detailed {
            if let leaf { return PeerCertificate(X509Certificate(retaining: leaf)) }
            guard let first = SSL_get1_peer_certificate(ssl) else { return nil }
            defer { X509_free(first) }
            return PeerCertificate(X509Certificate(retaining: first))
        }
        let store = SSL_CTX_get_cert_store(SSL_get_SSL_CTX(ssl))
        return PeerCertificate.peerCertificate(leaf: leaf, chain: chain, trustStore: store)
    }
}
