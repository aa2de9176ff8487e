// CNetCoreShims includes <sys/socket.h>: when a compile job loads it before Glibc, it owns SOCK_STREAM & co., and a
// file importing only Glibc cannot see them ("cannot find 'SOCK_STREAM'", depending on how files are batched).
import CNetCoreShims
import Dispatch
@preconcurrency import Glibc

extension Socket {
    // MARK: - Connecting

    /// Connects over TCP, resolving `host` off the loop thread and trying each address in turn.
    /// `callback` runs on `connect`. Failures arrive as `error` then `close(true)`.
    @discardableResult
    public final func connect(port: Int, host: String = "localhost", _ callback: (() -> Void)? = nil) -> Socket {
        loop.assertInLoop()
        guard beginConnect(callback) else { return self }
        guard (0...65535).contains(port) else {
            destroy(.invalidArgument("port must be between 0 and 65535, got \(port)"))
            return self
        }
        if let numeric = SocketAddress(ip: host, port: port) {
            connectState = ConnectState(candidates: [numeric])
            attemptNextAddress(lastError: nil)
            return self
        }
        loop.beginRequest()
        let bound = LoopBound(self, loop: loop)
        DispatchQueue.global().async {
            let result = SocketAddress.resolve(host: host, port: port)
            bound.loop.execute {
                let socket = bound.value
                socket.loop.endRequest()
                guard !socket.isDestroyed else { return }
                switch result {
                case .success(let addresses):
                    socket.connectState = ConnectState(candidates: addresses)
                    socket.attemptNextAddress(lastError: nil)
                case .failure(let error):
                    socket.destroy(
                        SocketError(
                            code: error.code,
                            message: "getaddrinfo \(error.code) \(host)",
                            errno: error.errno,
                            syscall: "getaddrinfo",
                            address: host,
                            port: port
                        )
                    )
                }
            }
        }
        return self
    }

    /// Connects to the Unix-domain socket at `path` (a leading NUL names an abstract socket).
    @discardableResult
    public final func connect(path: String, _ callback: (() -> Void)? = nil) -> Socket {
        loop.assertInLoop()
        guard beginConnect(callback) else { return self }
        do {
            connectState = ConnectState(candidates: [try SocketAddress(unixPath: path)])
        } catch {
            destroy(SocketError(SystemError(errno: error.errno, syscall: "connect"), address: nil))
            return self
        }
        attemptNextAddress(lastError: nil)
        return self
    }

    private func beginConnect(_ callback: (() -> Void)?) -> Bool {
        guard !isDestroyed, fd == nil, !isConnecting else {
            reportUnhandled(
                SocketError(code: "ERR_SOCKET_CONNECTING", message: "connect() on a socket that is already in use"),
                on: "socket"
            )
            return false
        }
        if let callback { rareListeners.connect.appendOnce(callback) }
        isConnecting = true
        updateAlive()
        return true
    }

    /// Tries the next candidate address; when none is left, fails with the last error.
    func attemptNextAddress(lastError: SocketError?) {
        guard let state = connectState, !state.candidates.isEmpty else {
            destroy(lastError ?? SocketError(code: "ECONNREFUSED", message: "connect ECONNREFUSED"))
            return
        }
        let address = state.candidates.removeFirst()
        state.target = address
        let raw: Int32
        do {
            raw = try Posix.socket(domain: address.domain, type: Int32(SOCK_STREAM.rawValue))
        } catch {
            attemptNextAddress(lastError: SocketError(error, address: address))
            return
        }
        fd = SocketDescriptor(rawValue: raw)
        do {
            if try Posix.connect(raw, address) {
                // Unix sockets usually connect at once; `connect` still fires on a later tick, as in Node.
                loop.nextTick { [self] in
                    if !isDestroyed && isConnecting { didConnect() }
                }
            } else {
                updateInterest()
            }
        } catch {
            abandonAttempt()
            attemptNextAddress(lastError: SocketError(error, address: address))
        }
    }

    /// The descriptor became writable (or failed) while connecting: read the verdict from SO_ERROR.
    func finishConnect() {
        guard let raw = fd?.rawValue, let address = connectState?.target else { return }
        let error = Posix.pendingError(raw)
        if error == 0 {
            didConnect()
        } else {
            abandonAttempt()
            attemptNextAddress(lastError: SocketError(SystemError(errno: error, syscall: "connect"), address: address))
        }
    }

    private func abandonAttempt() {
        closeDescriptor()
    }
}

extension Net {
    /// Opens a TCP connection, as Node's `net.createConnection(port, host)`.
    @discardableResult
    public static func createConnection(
        port: Int,
        host: String = "localhost",
        allowHalfOpen: Bool = false,
        loop: EventLoop = .current,
        _ callback: (() -> Void)? = nil
    ) -> Socket {
        Socket(loop: loop, allowHalfOpen: allowHalfOpen).connect(port: port, host: host, callback)
    }

    /// Opens a Unix-domain connection, as Node's `net.createConnection(path)`.
    @discardableResult
    public static func createConnection(
        path: String,
        allowHalfOpen: Bool = false,
        loop: EventLoop = .current,
        _ callback: (() -> Void)? = nil
    ) -> Socket {
        Socket(loop: loop, allowHalfOpen: allowHalfOpen).connect(path: path, callback)
    }
}
