// CNetCoreShims includes <sys/socket.h>: when a compile job loads it before Glibc, it owns SOCK_STREAM & co., and a
// file importing only Glibc cannot see them ("cannot find 'SOCK_STREAM'", depending on how files are batched).
import CNetCoreShims
import Dispatch
@preconcurrency import Glibc

/// A TCP or Unix-domain listening server with Node's `net.Server` semantics.
///
/// Loop-confined: use it on its loop's thread only.
public final class Server: IOHandler {
    /// The loop this server lives on.
    public let loop: EventLoop
    /// Whether accepted sockets allow half-open connections.
    public let allowHalfOpen: Bool
    /// Whether accepted sockets start paused (reading begins on `resume()`).
    public let pauseOnConnect: Bool
    /// When set, connections beyond this count are closed as soon as they are accepted (and `drop` fires).
    public var maxConnections: Int?
    /// Sets SO_REUSEPORT before binding, so several servers (one per loop thread) can listen on one TCP port and the
    /// kernel spreads connections between them. Set before `listen`.
    public var reusePort = false
    /// The listen backlog used by `listen`.
    public var backlog: Int32 = 511
    /// Makes the socket for an accepted descriptor when accepted connections are not plain sockets (NetCoreTLS's
    /// servers make `TLSSocket`s); nil: a plain `Socket`.
    package var acceptedSocketFactory: ((Int32, Server) -> Socket)?

    var fd: FileDescriptor?
    private var reserveFD: FileDescriptor?
    private var boundAddress: SocketAddress?
    /// The socket file we created, to unlink on close only if it is still ours.
    private var ownedSocketFile: (path: String, identity: (UInt, UInt))?
    private var isReferenced = true
    private var isCountedAlive = false
    private var isResolving = false
    private var reportedAcceptExhaustion = false
    private var firstConnection: Socket?

    /// The open accepted connections, newest first (for example to end them all on shutdown).
    public var openConnections: [Socket] {
        var sockets: [Socket] = []
        sockets.reserveCapacity(connections)
        var cursor = firstConnection
        while let socket = cursor {
            sockets.append(socket)
            cursor = socket.nextConnection
        }
        return sockets
    }

    /// Open accepted connections (Node's `server.connections`).
    public private(set) var connections = 0

    var listeningListeners = Listeners<Void>()
    var connectionListeners = Listeners<Socket>()
    var closeListeners = Listeners<Void>()
    var errorListeners = Listeners<SocketError>()
    var dropListeners = Listeners<Void>()

    /// Accepts per readiness event, so a connection storm cannot starve established connections.
    static let acceptsPerEvent = 64

    /// Creates a server; `connectionListener`, if given, is added as a `connection` listener.
    public init(
        loop: EventLoop = .current,
        allowHalfOpen: Bool = false,
        pauseOnConnect: Bool = false,
        _ connectionListener: ((Socket) -> Void)? = nil
    ) {
        self.loop = loop
        self.allowHalfOpen = allowHalfOpen
        self.pauseOnConnect = pauseOnConnect
        if let connectionListener { connectionListeners.append(connectionListener) }
    }

    /// Whether the server is accepting connections.
    public var listening: Bool { fd != nil }

    /// The bound address (with the real port after `listen(port: 0)`), nil when not listening.
    public func address() -> SocketAddress? { boundAddress }

    /// Calls `callback` with the number of open connections (Node's `getConnections`), on the next tick.
    public func getConnections(_ callback: @escaping (Int) -> Void) {
        let count = connections
        loop.nextTick { callback(count) }
    }

    // MARK: - Listening

    /// Listens on TCP `port` (0 picks a free one). Without `host`, listens on `::` with IPv4 mapped in (dual-stack),
    /// or on `0.0.0.0` where IPv6 is unavailable, as Node does. `callback` runs on `listening`.
    @discardableResult
    public func listen(port: Int = 0, host: String? = nil, _ callback: (() -> Void)? = nil) -> Server {
        loop.assertInLoop()
        guard beginListen(callback) else { return self }
        guard (0...65535).contains(port) else {
            fail(.invalidArgument("port must be between 0 and 65535, got \(port)"))
            return self
        }
        guard let host else {
            let any6 = SocketAddress(ip: "::", port: port)!
            do {
                try bindAndListen(any6)
            } catch  where error.errno == EAFNOSUPPORT {
                listenFailedOrRetry(SocketAddress(ip: "0.0.0.0", port: port)!)
            } catch {
                fail(error)
            }
            return self
        }
        if let numeric = SocketAddress(ip: host, port: port) {
            listenFailedOrRetry(numeric)
            return self
        }
        isResolving = true
        loop.beginRequest()
        let bound = LoopBound(self, loop: loop)
        DispatchQueue.global().async {
            let result = SocketAddress.resolve(host: host, port: port)
            bound.loop.execute {
                let server = bound.value
                server.loop.endRequest()
                server.isResolving = false
                switch result {
                case .success(let addresses): server.listenFailedOrRetry(addresses[0])
                case .failure(let error):
                    server.fail(
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

    private func listenFailedOrRetry(_ address: SocketAddress) {
        do {
            try bindAndListen(address)
        } catch {
            fail(error)
        }
    }

    /// Listens on the Unix-domain socket `path`. A stale socket file left by a dead server is replaced; a live
    /// server's socket, or a path that is not a socket, is an `EADDRINUSE` error and is never deleted. A path that
    /// does not fit `sun_path` fails with `ENAMETOOLONG` rather than being truncated. `mode` sets the file's
    /// permissions. A leading NUL byte names a Linux abstract socket (no file).
    @discardableResult
    public func listen(path: String, mode: mode_t? = nil, _ callback: (() -> Void)? = nil) -> Server {
        loop.assertInLoop()
        guard beginListen(callback) else { return self }
        let address: SocketAddress
        do {
            address = try SocketAddress(unixPath: path)
        } catch {
            let message =
                error.errno == ENAMETOOLONG
                ? "listen ENAMETOOLONG \(path) (the path is \(path.utf8.count) bytes; Unix sockets allow \(SocketAddress.maxUnixPathLength))"
                : "listen \(error.code) \(path)"
            fail(SocketError(code: error.code, message: message, errno: error.errno, syscall: "listen", address: path))
            return self
        }
        let isAbstract = path.utf8.first == 0
        do {
            do {
                try bindAndListen(address, mode: mode)
            } catch  where error.errno == EADDRINUSE && !isAbstract {
                try replaceStaleSocketFile(at: path, address: address)
                try bindAndListen(address, mode: mode)
            }
        } catch {
            fail(error)
            return self
        }
        if !isAbstract, let identity = Posix.fileIdentity(atPath: path) {
            ownedSocketFile = (path, identity)
        }
        return self
    }

    /// Removes `path` only if it is a socket nobody answers on (ECONNREFUSED); otherwise explains the conflict.
    private func replaceStaleSocketFile(at path: String, address: SocketAddress) throws(SocketError) {
        let inUse = { (why: String) in
            SocketError(
                code: "EADDRINUSE",
                message: "listen EADDRINUSE \(path) (\(why))",
                errno: EADDRINUSE,
                syscall: "listen",
                address: path
            )
        }
        guard Posix.fileType(atPath: path) == S_IFSOCK else {
            throw inUse("the path exists and is not a socket; it was left untouched")
        }
        // The kernel's table of listening Unix sockets answers without connecting (a probe connection would show
        // up as a client on the live server, and could block on a full backlog).
        if let listening = Posix.listeningUnixSocketPaths() {
            guard !listening.contains(path) else { throw inUse("a server is listening there") }
        } else {
            let probe = Posix.probeUnixSocket(address)
            guard probe == ECONNREFUSED else {
                throw inUse(
                    probe == 0
                        ? "a server is listening there"
                        : "cannot tell whether a server is listening: \(SystemError(errno: probe, syscall: "connect").code)"
                )
            }
        }
        do {
            try Posix.unlink(path)
        } catch {
            throw SocketError(error, address: address)
        }
    }

    private func bindAndListen(_ address: SocketAddress, mode: mode_t? = nil) throws(SocketError) {
        do {
            let raw = try Posix.socket(domain: address.domain, type: Int32(SOCK_STREAM.rawValue))
            let descriptor = FileDescriptor(raw)
            do {
                if address.family != .unix {
                    try Posix.setOption(raw, SOL_SOCKET, SO_REUSEADDR, 1)
                    if reusePort { try Posix.setOption(raw, SOL_SOCKET, SO_REUSEPORT, 1) }
                }
                if address.family == .ipv6 && address.host == "::" {
                    try Posix.setOption(raw, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0)
                }
                try Posix.bind(raw, address)
                if let mode, let path = address.path, path.utf8.first != 0 {
                    try Posix.chmod(path, mode)
                }
                try Posix.listen(raw, backlog: backlog)
                try loop.register(fd: raw, interest: .read, handler: self)
            } catch {
                descriptor.close()
                throw error
            }
            fd = descriptor
            boundAddress = Posix.localAddress(raw) ?? address
            if reserveFD == nil, let reserve = Posix.openReserve() { reserveFD = FileDescriptor(reserve) }
            updateAlive()
            loop.nextTick { [self] in
                if listening { listeningListeners.emit(()) }
            }
        } catch let error as SystemError {
            throw SocketError(error, address: address, syscall: error.syscall == "bind" ? "listen" : error.syscall)
        } catch {
            preconditionFailure("unexpected error \(error)")
        }
    }

    private func beginListen(_ callback: (() -> Void)?) -> Bool {
        guard fd == nil, !isResolving else {
            fail(.serverAlreadyListening)
            return false
        }
        if let callback { listeningListeners.appendOnce(callback) }
        return true
    }

    /// Emits `error` on the next tick (never inside the call that failed).
    private func fail(_ error: SocketError) {
        loop.nextTick { [self] in
            if errorListeners.isEmpty {
                reportUnhandled(error, on: "server")
            } else {
                errorListeners.emit(error)
            }
        }
    }

    // MARK: - Accepting

    func handleIO(_ events: ReadyEvents) {
        for _ in 0..<Self.acceptsPerEvent {
            guard let listener = fd?.rawValue else { return }
            let accepted: Int32
            do {
                guard case .processed(let raw) = try Posix.accept(listener) else { return }
                accepted = raw
            } catch {
                switch error.errno {
                case ECONNABORTED, EPROTO, EPERM, ENETDOWN, ENOPROTOOPT, EHOSTDOWN, ENONET, EHOSTUNREACH, EOPNOTSUPP,
                    ENETUNREACH:
                    continue  // that one connection failed; the next may not
                case EMFILE, ENFILE:
                    shedConnectionsWithoutDescriptors(error)
                    return
                default:
                    fail(SocketError(error, address: boundAddress))
                    return
                }
            }
            reportedAcceptExhaustion = false
            if let maxConnections, connections >= maxConnections {
                Posix.close(accepted)
                dropListeners.emit(())
                continue
            }
            connections += 1
            let socket = acceptedSocketFactory?(accepted, self) ?? Socket(accepted: accepted, server: self)
            // An intrusive list (two references in each socket) rather than a set: idle connections stay small.
            socket.nextConnection = firstConnection
            firstConnection?.previousConnection = socket
            firstConnection = socket
            connectionListeners.emit(socket)
        }
    }

    /// Out of descriptors: free the reserve, accept and close what is waiting so clients see a prompt close instead
    /// of a hang and the level-triggered loop does not spin, then take the reserve back (libuv's EMFILE trick).
    /// The error is reported once per burst.
    private func shedConnectionsWithoutDescriptors(_ error: SystemError) {
        if !reportedAcceptExhaustion {
            reportedAcceptExhaustion = true
            fail(SocketError(error, address: boundAddress))
        }
        guard let listener = fd?.rawValue, let reserve = reserveFD else { return }
        reserve.close()
        reserveFD = nil
        while case .processed(let raw)? = try? Posix.accept(listener) {
            Posix.close(raw)
        }
        if let fresh = Posix.openReserve() { reserveFD = FileDescriptor(fresh) }
    }

    func connectionDidClose(_ socket: Socket) {
        if let previous = socket.previousConnection {
            previous.nextConnection = socket.nextConnection
        } else if firstConnection === socket {
            firstConnection = socket.nextConnection
        }
        socket.nextConnection?.previousConnection = socket.previousConnection
        socket.nextConnection = nil
        socket.previousConnection = nil
        connections -= 1
        emitCloseIfDrained()
    }

    // MARK: - Closing

    /// Stops accepting at once; `close` fires once every open connection has closed. On a server that is not
    /// listening, `callback` receives `ERR_SERVER_NOT_RUNNING` (and `close` still fires, as in Node).
    public func close(_ callback: ((SocketError?) -> Void)? = nil) {
        loop.assertInLoop()
        if let callback {
            let wasListening = listening
            closeListeners.appendOnce { callback(wasListening ? nil : .serverNotRunning) }
        }
        if let fd {
            loop.unregister(fd: fd.rawValue)
            fd.close()
            self.fd = nil
            reserveFD?.close()
            reserveFD = nil
            boundAddress = nil
            if let owned = ownedSocketFile {
                // Only our own file: a later server may already have replaced it.
                if let identity = Posix.fileIdentity(atPath: owned.path), identity == owned.identity {
                    try? Posix.unlink(owned.path)
                }
                ownedSocketFile = nil
            }
            updateAlive()
        }
        emitCloseIfDrained()
    }

    private func emitCloseIfDrained() {
        guard fd == nil, connections == 0 else { return }
        loop.nextTick { [self] in closeListeners.emit(()) }
    }

    // MARK: - Liveness

    private func updateAlive() {
        loop.setAlive(&isCountedAlive, isReferenced && fd != nil)
    }

    /// Lets the loop end while the server listens (Node's `server.unref()`).
    @discardableResult
    public func unref() -> Server {
        isReferenced = false
        updateAlive()
        return self
    }

    /// Makes the listening server keep the loop alive again.
    @discardableResult
    public func ref() -> Server {
        isReferenced = true
        updateAlive()
        return self
    }
}

@available(*, unavailable)
extension Server: Sendable {}
