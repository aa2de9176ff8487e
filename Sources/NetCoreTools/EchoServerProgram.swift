@preconcurrency import Glibc
import NetCore
import NetCoreTLS
import Synchronization

/// The O'Reilly TCP echo server (example 3-2) as a command-line program: `echo-server [options]`.
public enum EchoServerProgram {
    /// Exit codes, documented in `--help`.
    public enum ExitCode: Int32 {
        case success = 0
        case failure = 1
        case usage = 2
        case cannotListen = 3
        case tlsSetup = 4
    }

    static let options: [Arguments.Option] = [
        .init("port", .value(placeholder: "N"), help: "TCP port to listen on (default 8124; 0 picks a free port)"),
        .init(
            "host",
            .value(placeholder: "ADDR"),
            help: "address to listen on (default: all interfaces, IPv4 and IPv6)"
        ),
        .init("unix", .value(placeholder: "PATH"), help: "listen on a Unix-domain socket instead of TCP"),
        .init("allow-half-open", help: "after a client's FIN, send a summary line, then end (default: end at once)"),
        .init("quiet", help: "no per-connection or per-message log lines (for benchmarks)"),
        .init("max-connections", .value(placeholder: "N"), help: "close connections beyond N at once (per worker)"),
        .init(
            "workers",
            .value(placeholder: "N"),
            help: "N event-loop threads sharing the port via SO_REUSEPORT (default 1)"
        ),
    ] + ServerTLSSettings.options

    /// The `--help` text.
    public static let usage = """
        usage: echo-server [--port N] [--host ADDR | --unix PATH] [--allow-half-open] [--quiet] [--max-connections N]
                           [--workers N] [--tls [--cert FILE --key FILE] [--write-cert FILE] [--keylog FILE]]

        Listens for TCP connections and answers every chunk received with "Repeating: " and the same bytes.
        Logs "connected", "<data> from <address> <port>" (control bytes escaped) and "client closed connection".
        With --tls the connections are TLS (try: echo-server --tls --write-cert /tmp/echo.pem, then
        openssl s_client -connect 127.0.0.1:8124 -CAfile /tmp/echo.pem, or echo-client --tls --ca /tmp/echo.pem);
        every worker thread serves the same certificate.

        options:
        \(Arguments.help(for: options))

        exit codes:
          0  stopped by SIGINT or SIGTERM (open connections are ended first)
          1  unexpected failure
          2  bad command line
          3  cannot listen (port in use, permission denied, bad address or path)
        \(ServerTLSSettings.exitCodeHelp)
        """

    /// Runs the server until it is stopped; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        let parsed: Arguments
        let port: Int
        let maxConnections: Int?
        let workers: Int
        let tlsSettings: ServerTLSSettings?
        do {
            parsed = try Arguments(arguments, options: options)
            port = try parsed.integer("port", in: 0...65535) ?? 8124
            maxConnections = try parsed.integer("max-connections", in: 1...Int(Int32.max))
            workers = try parsed.integer("workers", in: 1...256) ?? 1
            tlsSettings = try ServerTLSSettings.parse(parsed)
            if workers > 1 && parsed.values["unix"] != nil {
                throw Arguments.UsageError(
                    description: "--workers needs TCP (SO_REUSEPORT); it cannot be combined with --unix"
                )
            }
            if parsed.values["unix"] != nil && (parsed.values["port"] != nil || parsed.values["host"] != nil) {
                throw Arguments.UsageError(description: "--unix cannot be combined with --port or --host")
            }
            if let extra = parsed.positionals.first {
                throw Arguments.UsageError(description: "unexpected argument '\(extra)'")
            }
        } catch {
            Console.error("echo-server: \(error) (see --help)")
            return ExitCode.usage.rawValue
        }
        if parsed.has("help") {
            Console.line(usage)
            return ExitCode.success.rawValue
        }
        var tls: ServerTLS?
        if let tlsSettings {
            do { tls = try tlsSettings.prepare(name: "echo-server") } catch {
                Console.error("echo-server: \(error)")
                return ExitCode.tlsSetup.rawValue
            }
        }
        let settings = Settings(
            host: parsed.values["host"],
            unixPath: parsed.values["unix"],
            allowHalfOpen: parsed.has("allow-half-open"),
            quiet: parsed.has("quiet"),
            maxConnections: maxConnections,
            tls: tls
        )
        return serve(port: port, workers: workers, settings: settings)
    }

    struct Settings: Sendable {
        var host: String?
        var unixPath: String?
        var allowHalfOpen: Bool
        var quiet: Bool
        var maxConnections: Int?
        /// With `--tls`: the certificate every worker's server uses.
        var tls: ServerTLS?
    }

    /// One listening server and its connections, on one loop.
    final class Instance {
        let loop: EventLoop
        let server: Server
        private var stopping = false
        private(set) var failed = false

        init(loop: EventLoop, settings: Settings, reusePort: Bool) {
            self.loop = loop
            server = Net.createServer(allowHalfOpen: settings.allowHalfOpen, loop: loop)
            server.reusePort = reusePort
            server.maxConnections = settings.maxConnections
            if let tls = settings.tls {
                // Checked by `prepare`: a context from the same PEM cannot fail here.
                do { try tls.attach(to: server, name: "echo-server", quiet: settings.quiet) } catch {
                    preconditionFailure("echo-server: TLS set-up failed after its check: \(error)")
                }
            }
            server.on(.connection) { socket in
                handle(
                    socket,
                    unixPath: settings.unixPath,
                    allowHalfOpen: settings.allowHalfOpen,
                    quiet: settings.quiet
                )
            }
            server.on(.drop) {
                if !settings.quiet {
                    Console.line("connection refused: --max-connections \(settings.maxConnections ?? 0) reached")
                }
            }
        }

        func listen(port: Int, settings: Settings, _ listening: @escaping () -> Void) {
            let place = settings.unixPath ?? (settings.host.map { "\($0) port \(port)" } ?? "port \(port)")
            server.on(.error) { [unowned self] error in
                if server.listening {
                    // accept() trouble such as EMFILE: the server keeps running (reported once per burst).
                    Console.error("echo-server: accepting connections: \(error.code) (\(error.reason))")
                } else {
                    Console.error("echo-server: cannot listen on \(place): \(error.reason) (\(error.code))")
                    failed = true
                }
            }
            if let unixPath = settings.unixPath {
                server.listen(path: unixPath, listening)
            } else {
                server.listen(port: port, host: settings.host, listening)
            }
        }

        /// Stops accepting and ends every connection; cuts those that do not finish within 2 s.
        func stop() {
            guard !stopping else { return }
            stopping = true
            server.close()
            for socket in server.openConnections { socket.end() }
            loop.setTimeout(2000) { [self] in for socket in server.openConnections { socket.destroy() } }.unref()
        }
    }

    static func serve(port: Int, workers: Int, settings: Settings) -> Int32 {
        let loop = EventLoop.main
        let main = Instance(loop: loop, settings: settings, reusePort: workers > 1)
        let registry = WorkerRegistry()
        var threads: [LoopThread] = []
        main.listen(port: port, settings: settings) {
            let actual = main.server.address()?.port ?? port
            Console.line(settings.unixPath.map { "listening on \($0)" } ?? "listening on port \(actual)")
            // Workers bind the port the first server got (which matters with --port 0).
            for _ in 1..<workers {
                threads.append(
                    LoopThread { workerLoop in
                        let instance = Instance(loop: workerLoop, settings: settings, reusePort: true)
                        instance.listen(port: actual, settings: settings) {}
                        registry.add(LoopBound(instance, loop: workerLoop))
                    }
                )
            }
            if workers > 1 { Console.line("\(workers) workers share port \(actual) (SO_REUSEPORT)") }
        }
        var stopping = false
        let stop = {
            guard !stopping else { return }
            stopping = true
            Console.line("shutting down")
            main.stop()
            registry.stopAll()
        }
        let interrupt = loop.onSignal(SIGINT, stop)
        let terminate = loop.onSignal(SIGTERM, stop)
        loop.run()
        interrupt.cancel()
        terminate.cancel()
        for thread in threads { thread.join() }
        return main.failed ? ExitCode.cannotListen.rawValue : ExitCode.success.rawValue
    }

    /// Built once: a literal would be converted to bytes on every message.
    static let prefix = Buffer("Repeating: ")

    static func handle(_ socket: Socket, unixPath: String?, allowHalfOpen: Bool, quiet: Bool) {
        let connection = EchoConnection(socket: socket, unixPath: unixPath, allowHalfOpen: allowHalfOpen, quiet: quiet)
        if !quiet { Console.line("connected") }
        // Each listener captures only the connection object, so Swift needs no extra context allocations: an idle
        // connection should cost as little memory as possible.
        socket.on(.data) { [connection] chunk in connection.received(chunk) }
        socket.on(.end) { [connection] in connection.ended() }
        socket.on(.error) { [connection] error in connection.failed(error) }
    }
}

/// One echo connection's state: its counters (for the half-open summary) and how to name its peer in the log.
final class EchoConnection {
    unowned let socket: Socket
    let unixPath: String?
    let allowHalfOpen: Bool
    let quiet: Bool
    var bytes = 0
    var messages = 0
    private var peerName: String?

    init(socket: Socket, unixPath: String?, allowHalfOpen: Bool, quiet: Bool) {
        self.socket = socket
        self.unixPath = unixPath
        self.allowHalfOpen = allowHalfOpen
        self.quiet = quiet
        if !quiet { peerName = peer }
    }

    /// "<address> <port>" for TCP (read while the connection is open), the path for a Unix socket.
    var peer: String {
        if let peerName { return peerName }
        let name = unixPath ?? "\(socket.remoteAddress ?? "?") \(socket.remotePort ?? 0)"
        peerName = name
        return name
    }

    func received(_ chunk: Buffer) {
        bytes += chunk.count
        messages += 1
        if !quiet { Console.line("\(PrintableText.escape(chunk.bytes)) from \(peer)") }
        if !socket.write(EchoServerProgram.prefix, chunk) && socket.writableLength > 0 {
            // The client reads slower than it sends: stop reading until our replies drain, so the server's memory
            // stays bounded (the kernel's buffers then push back on the client). The listener is added only on
            // backpressure, so idle connections do not pay for it. A large reply the kernel took whole returns
            // false too (it was above the high-water mark), but nothing is queued: no reason to pause.
            socket.pause()
            socket.once(.drain) { [unowned self] in socket.resume() }
        }
    }

    func ended() {
        if !quiet { Console.line("client closed connection") }
        if allowHalfOpen {
            // Half-open: our side is still writable after the client's FIN, so say goodbye, then end.
            socket.end(Buffer("received \(bytes) bytes in \(messages) messages\n"))
        }
    }

    func failed(_ error: SocketError) {
        Console.error("echo-server: connection from \(peer): \(error.code) (\(error.reason))")
    }
}

/// The worker instances, reachable from the main thread only through their loops.
final class WorkerRegistry: Sendable {
    private let state = Mutex<(workers: [LoopBound<EchoServerProgram.Instance>], stopped: Bool)>(([], false))

    /// Registers a worker; one that registers after `stopAll` is stopped at once.
    func add(_ worker: LoopBound<EchoServerProgram.Instance>) {
        let stopped = state.withLock { state in
            state.workers.append(worker)
            return state.stopped
        }
        if stopped { worker.loop.execute { worker.value.stop() } }
    }

    /// Asks every worker's loop to stop its server.
    func stopAll() {
        let workers = state.withLock { state in
            state.stopped = true
            return state.workers
        }
        for worker in workers { worker.loop.execute { worker.value.stop() } }
    }
}
