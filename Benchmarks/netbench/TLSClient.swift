import NetCore
import NetCoreTLS

/// `--tls insecure|CAFILE`: connections are TLSSockets made from one client context shared by every worker (an
/// SSL_CTX is safe to make SSL objects from on several threads), so a run measures handshakes and records, not
/// context set-up. `insecure` skips verification (the benchmark servers use throwaway certificates); a CA file
/// verifies the server's certificate against it. No session resumption: every handshake is a full one.
final class TLSClient: @unchecked Sendable {
    let context: SecureContext
    let verifies: Bool
    let servername: String?

    init(caFile: String?, servername: String?, version: TLSVersion?, ciphers: String?) throws(TLSError) {
        context = try SecureContext(
            SecureContextOptions(
                ca: caFile.map { PEMSource.file($0) }, ciphers: ciphers,
                minVersion: version ?? .tlsv1_2, maxVersion: version ?? .tlsv1_3))
        verifies = caFile != nil
        self.servername = servername
    }

    /// Connects to `target` over TLS; `done` runs on `secureConnect`. Failures arrive as the socket's error/close.
    func connect(loop: EventLoop, to target: Target, _ done: @escaping () -> Void) throws(TLSError) -> Socket {
        var options = TLS.ConnectOptions(
            servername: servername, rejectUnauthorized: verifies, secureContext: context)
        switch target {
        case .tcp(let host, let port):
            options.host = host
            options.port = port
        case .unix(let path):
            options.path = path
        }
        return try TLS.connect(options, loop: loop, done)
    }
}

extension Options {
    /// The TLS client of `--tls insecure|CAFILE [--servername N] [--tls-version 1.2|1.3] [--ciphers LIST]`, or nil.
    func tlsClient() throws(UsageError) -> TLSClient? {
        guard let value = string("tls") else { return nil }
        let version: TLSVersion?
        switch string("tls-version") {
        case nil: version = nil
        case "1.2": version = .tlsv1_2
        case "1.3": version = .tlsv1_3
        case let other?: throw UsageError(description: "--tls-version must be 1.2 or 1.3, got '\(other)'")
        }
        do {
            return try TLSClient(
                caFile: value == "insecure" ? nil : value, servername: string("servername"), version: version,
                ciphers: string("ciphers"))
        } catch {
            throw UsageError(description: "--tls: \(error)")
        }
    }
}

/// Makes a socket for a connection to `target`, plain or (with `tls`) TLS, and the call that starts it: `start(done)`
/// connects (TLS: the connection and handshake are already under way) and runs `done` once the socket can carry
/// data. Split in two so a caller adds its listeners, which refer to its own per-connection state, in between.
func makeSocket(loop: EventLoop, to target: Target, tls: TLSClient?) -> (Socket, start: (@escaping () -> Void) -> Void) {
    guard let tls else {
        let socket = Socket(loop: loop)
        return (socket, { done in connectSocket(socket, to: target, done) })
    }
    final class Done { var body: (() -> Void)? }
    let done = Done()
    do {
        // `secureConnect` comes on a later loop turn, after `start` has set the body.
        let socket = try tls.connect(loop: loop, to: target) { done.body?() }
        return (socket, { done.body = $0 })
    } catch {
        // The context was made at start-up, so this is an OpenSSL failure of one connection: report it as one.
        let socket = Socket(loop: loop)
        return (socket, { _ in loop.nextTick { socket.destroy(SocketError(code: "ERR_NETBENCH_TLS", message: "\(error)")) } })
    }
}
