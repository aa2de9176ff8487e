@preconcurrency import Glibc
import NetCore

/// The O'Reilly TCP echo server (example 3-2) as a command-line program: `echo-server [options]`.
public enum EchoServerProgram {
    /// Exit codes, documented in `--help`.
    public enum ExitCode: Int32 {
        case success = 0
        case failure = 1
        case usage = 2
        case cannotListen = 3
    }

    static let options: [Arguments.Option] = [
        .init("port", .value(placeholder: "N"), help: "TCP port to listen on (default 8124; 0 picks a free port)"),
        .init("host", .value(placeholder: "ADDR"), help: "address to listen on (default: all interfaces, IPv4 and IPv6)"),
        .init("unix", .value(placeholder: "PATH"), help: "listen on a Unix-domain socket instead of TCP"),
        .init("allow-half-open", help: "after a client's FIN, send a summary line, then end (default: end at once)"),
        .init("quiet", help: "no per-connection or per-message log lines (for benchmarks)"),
        .init("max-connections", .value(placeholder: "N"), help: "close connections beyond N at once"),
    ]

    /// The `--help` text.
    public static let usage = """
        usage: echo-server [--port N] [--host ADDR | --unix PATH] [--allow-half-open] [--quiet] [--max-connections N]

        Listens for TCP connections and answers every chunk received with "Repeating: " and the same bytes.
        Logs "connected", "<data> from <address> <port>" (control bytes escaped) and "client closed connection".

        options:
        \(Arguments.help(for: options))

        exit codes:
          0  stopped by SIGINT or SIGTERM (open connections are ended first)
          1  unexpected failure
          2  bad command line
          3  cannot listen (port in use, permission denied, bad address or path)
        """

    /// Runs the server until it is stopped; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        let parsed: Arguments
        let port: Int
        let maxConnections: Int?
        do {
            parsed = try Arguments(arguments, options: options)
            port = try parsed.integer("port", in: 0...65535) ?? 8124
            maxConnections = try parsed.integer("max-connections", in: 1...Int(Int32.max))
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
        return serve(
            port: port, host: parsed.values["host"], unixPath: parsed.values["unix"],
            allowHalfOpen: parsed.has("allow-half-open"), quiet: parsed.has("quiet"), maxConnections: maxConnections)
    }

    static func serve(
        port: Int, host: String?, unixPath: String?, allowHalfOpen: Bool, quiet: Bool, maxConnections: Int?
    ) -> Int32 {
        let loop = EventLoop.main
        var exitCode = ExitCode.success
        var open: [ObjectIdentifier: Socket] = [:]
        let server = Net.createServer(allowHalfOpen: allowHalfOpen, loop: loop) { socket in
            open[ObjectIdentifier(socket)] = socket
            handle(socket, unixPath: unixPath, allowHalfOpen: allowHalfOpen, quiet: quiet)
            socket.on(.close) { _ in open[ObjectIdentifier(socket)] = nil }
        }
        server.maxConnections = maxConnections
        let place = unixPath ?? (host.map { "\($0) port \(port)" } ?? "port \(port)")
        server.on(.error) { error in
            if server.listening {
                // accept() trouble such as EMFILE: the server keeps running (reported once per burst).
                Console.error("echo-server: accepting connections: \(error.code) (\(error.reason))")
            } else {
                Console.error("echo-server: cannot listen on \(place): \(error.reason) (\(error.code))")
                exitCode = .cannotListen
            }
        }
        server.on(.drop) {
            if !quiet { Console.line("connection refused: --max-connections \(maxConnections ?? 0) reached") }
        }
        let listening = {
            if let unixPath {
                Console.line("listening on \(unixPath)")
            } else {
                Console.line("listening on port \(server.address()?.port ?? port)")
            }
        }
        if let unixPath {
            server.listen(path: unixPath, listening)
        } else {
            server.listen(port: port, host: host, listening)
        }

        var stopping = false
        let stop = {
            guard !stopping else { return }
            stopping = true
            Console.line("shutting down")
            server.close()
            for socket in open.values { socket.end() }
            // Connections that do not finish promptly are cut, so a stuck client cannot hold the exit.
            loop.setTimeout(2000) { for socket in open.values { socket.destroy() } }.unref()
        }
        let interrupt = loop.onSignal(SIGINT, stop)
        let terminate = loop.onSignal(SIGTERM, stop)
        loop.run()
        interrupt.cancel()
        terminate.cancel()
        return exitCode.rawValue
    }

    static func handle(_ socket: Socket, unixPath: String?, allowHalfOpen: Bool, quiet: Bool) {
        let peer = unixPath ?? "\(socket.remoteAddress ?? "?") \(socket.remotePort ?? 0)"
        var bytes = 0
        var messages = 0
        if !quiet { Console.line("connected") }
        socket.on(.data) { chunk in
            bytes += chunk.count
            messages += 1
            if !quiet { Console.line("\(PrintableText.escape(chunk.bytes)) from \(peer)") }
            socket.write("Repeating: ", chunk)
        }
        socket.on(.end) {
            if !quiet { Console.line("client closed connection") }
            if allowHalfOpen {
                // Half-open: our side is still writable after the client's FIN, so say goodbye, then end.
                socket.end(Buffer("received \(bytes) bytes in \(messages) messages\n"))
            }
        }
        socket.on(.error) { error in
            Console.error("echo-server: connection from \(peer): \(error.code) (\(error.reason))")
        }
    }
}
