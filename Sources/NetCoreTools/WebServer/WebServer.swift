@preconcurrency import Glibc
import NetCore
import NetCoreHTTP
import NetCoreTLS

/// The part every course web server shares: the command line (`WebServerSettings`), the ready line, graceful
/// shutdown on SIGINT/SIGTERM, exit codes, and `--workers` (a `Supervisor` of worker processes).
///
/// A program supplies only its options and a closure that makes its `HTTPServer`:
///
///     WebServer.main(arguments, name: "hello-server", defaultPort: 8080, usage: HelloServerProgram.usage) { parsed, settings in
///         { loop in HTTPServer(loop: loop, configuration: settings.configuration) { request, response in … } }
///     }
public enum WebServer {
    /// Exit codes, the same for every course server (and as echo-server and unix-http use them).
    public enum ExitCode: Int32, Sendable {
        case success = 0
        case failure = 1
        case usage = 2
        case cannotListen = 3
        case tlsSetup = 4
    }

    /// A start-up failure other than a bad command line (e.g. a missing web root): the message is printed as one
    /// line on stderr, prefixed with the program name, and the program exits with `exitCode`.
    public struct StartupFailure: Error, Sendable {
        /// The exit code to return.
        public var exitCode: ExitCode
        /// One line, e.g. "cannot read the web root /x: no such file or directory".
        public var message: String

        /// A failure with `message` that exits with `exitCode`.
        public init(_ exitCode: ExitCode, _ message: String) {
            self.exitCode = exitCode
            self.message = message
        }
    }

    /// Makes the program's HTTP server on the loop it is given (called once per serving process; not at all in a
    /// `--workers` supervisor, which serves nothing itself).
    public typealias ServerFactory = (EventLoop) -> HTTPServer

    /// The `--help` section on exit codes, shared by the course servers.
    public static let exitCodesHelp = """
        exit codes:
          0  stopped by SIGINT or SIGTERM (in-flight responses get 5 s, then connections are cut)
          1  unexpected failure
          2  bad command line
          3  cannot listen (port in use, permission denied, bad address or path)
        \(ServerTLSSettings.exitCodeHelp)
        """

    /// The `--help` paragraph on `--workers` (the seed's own caveat about cluster).
    public static let workersHelp = """
        --workers N starts a supervisor (like Node's cluster) that runs N worker processes sharing one TCP port with
        SO_REUSEPORT and restarts any that die. Each worker is a separate process, so in-memory state (sessions, the
        REST users list, ...) is per worker: a client's next request may reach a worker that does not know it.
        With --tls every worker presents the same certificate: the --cert file, or the one the supervisor makes
        once and hands to its workers.

        --tls serves HTTPS. For example: hello-server --tls --write-cert /tmp/h.pem, then
        curl --cacert /tmp/h.pem https://localhost:8080/
        """

    /// A course server's `--help`: its synopsis and description, then the common options and its own, the
    /// `--workers` caveat and the exit codes.
    public static func usage(_ head: String, defaultPort: Int, extraOptions: [Arguments.Option], optionsNote: String = "")
        -> String
    {
        let options = Arguments.help(for: WebServerSettings.options(defaultPort: defaultPort) + extraOptions)
        return head + "\n\noptions:\n" + options + optionsNote + "\n\n" + workersHelp + "\n\n" + exitCodesHelp
    }

    /// The ready line for TCP: the seed's `8080번 포트에서 서버 대기 중입니다!` with the real port, then a URL
    /// (`https://` with `--tls`).
    public static func readyLine(port: Int, boundHost: String?, scheme: String = "http") -> String {
        let host: String
        switch boundHost {
        case nil, "::", "0.0.0.0": host = "localhost"
        case let numeric? where numeric.contains(":"): host = "[\(numeric)]"
        case let numeric?: host = numeric
        }
        return "\(port)번 포트에서 서버 대기 중입니다! (\(scheme)://\(host):\(port)/)"
    }

    /// Parses `arguments` (without the program name) against the common options plus `extraOptions`, handles
    /// `--help` (prints `usage`) and usage errors (one line on stderr, exit 2), then calls `configure` for the
    /// program's own options and its server factory, and serves until stopped. Returns the exit code.
    ///
    /// `configure` may throw `Arguments.UsageError` (exit 2) or `StartupFailure` (its exit code); any other error
    /// exits 1. Positional arguments are refused unless `acceptsPositionals`.
    public static func main(
        _ arguments: [String],
        name: String,
        defaultPort: Int,
        extraOptions: [Arguments.Option] = [],
        acceptsPositionals: Bool = false,
        usage: String,
        configure: (Arguments, WebServerSettings) throws -> ServerFactory
    ) -> Int32 {
        let parsed: Arguments
        let settings: WebServerSettings
        do {
            parsed = try Arguments(arguments, options: WebServerSettings.options(defaultPort: defaultPort) + extraOptions)
            if parsed.has("help") {
                Console.line(usage)
                return ExitCode.success.rawValue
            }
            settings = try WebServerSettings(parsed, defaultPort: defaultPort)
            if !acceptsPositionals, let extra = parsed.positionals.first {
                throw Arguments.UsageError(description: "unexpected argument '\(extra)'")
            }
        } catch {
            Console.error("\(name): \(error) (see --help)")
            return ExitCode.usage.rawValue
        }
        let factory: ServerFactory
        do {
            factory = try configure(parsed, settings)
        } catch let error as Arguments.UsageError {
            Console.error("\(name): \(error) (see --help)")
            return ExitCode.usage.rawValue
        } catch let failure as StartupFailure {
            Console.error("\(name): \(failure.message)")
            return failure.exitCode.rawValue
        } catch {
            Console.error("\(name): \(error)")
            return ExitCode.failure.rawValue
        }
        return run(name: name, settings: settings, makeServer: factory)
    }

    /// Serves with `settings` until SIGINT/SIGTERM: one process, or with `settings.workers` a supervisor and its
    /// workers (this same function in the re-executed program detects that it is a worker). Returns the exit code.
    ///
    /// With `--tls` the certificate is loaded (or made, its fingerprint printed, `--write-cert` saved) once, before
    /// anything listens; a supervisor passes a made one to its workers in their environment (`WorkerLink`), so every
    /// worker presents the same certificate and none writes or prints it again.
    public static func run(name: String, settings: WebServerSettings, makeServer: ServerFactory) -> Int32 {
        let link = settings.workers != nil ? WorkerLink.fromEnvironment() : nil
        var tls: ServerTLS?
        if let tlsSettings = settings.tls {
            do { tls = try tlsSettings.prepare(name: name, given: link?.certificate) } catch {
                Console.error("\(name): \(error)")
                return ExitCode.tlsSetup.rawValue
            }
        }
        if let link {
            return serve(name: name, settings: settings, tls: tls, makeServer: makeServer, worker: link)
        }
        if let workers = settings.workers {
            var environment: [String: String] = [:]
            if let tls, tls.wasGenerated {
                environment[WorkerLink.certificateVariable] = tls.certificatePEM
                environment[WorkerLink.keyVariable] = tls.keyPEM
            }
            return Supervisor(name: name, settings: settings, workers: workers, environment: environment).run()
        }
        return serve(name: name, settings: settings, tls: tls, makeServer: makeServer, worker: nil)
    }

    /// One serving process: a plain server, or a worker of a supervisor (`worker` set); HTTPS with `tls`.
    static func serve(
        name: String, settings: WebServerSettings, tls: ServerTLS?, makeServer: ServerFactory, worker: WorkerLink?
    ) -> Int32 {
        let loop = EventLoop.main
        let http = makeServer(loop)
        if let tls {
            // Checked by `prepare`: a context from the same PEM cannot fail here.
            do { try tls.attach(to: http.server, name: name, quiet: settings.quiet) } catch {
                preconditionFailure("\(name): TLS set-up failed after its check: \(error)")
            }
        }
        var exitCode = ExitCode.success
        var stopping = false
        var control: ReadStream?
        let stop = {
            guard !stopping else { return }
            stopping = true
            if worker == nil { Console.line("shutting down") }
            control?.destroy()
            http.close()
            // In-flight responses get a bounded time to finish; then connections are cut.
            loop.setTimeout(5000) { http.closeAllConnections() }.unref()
        }
        http.server.on(.error) { error in
            if http.server.listening {
                // accept() trouble such as EMFILE: the server keeps running.
                Console.error("\(name): accepting connections: \(error.code) (\(error.reason))")
            } else if !stopping {
                Console.error("\(name): cannot listen on \(settings.place): \(error.reason) (\(error.code))")
                exitCode = .cannotListen
                stopping = true
                control?.destroy()
            }
        }
        let listening = {
            guard !stopping else { return }
            if let worker {
                worker.reportListening()
            } else if let path = settings.unixPath {
                Console.line("listening on \(path)")
            } else {
                let address = http.server.address()
                Console.line(
                    readyLine(
                        port: address?.port ?? settings.port, boundHost: address?.host,
                        scheme: tls == nil ? "http" : "https"))
            }
        }
        if let worker {
            http.server.reusePort = true
            // End of file on the control channel: the supervisor is gone (even if it was SIGKILLed), so stop.
            let stream = ReadStream(descriptor: worker.descriptor, closesDescriptor: true, loop: loop)
            stream.on(.data) { _ in }
            stream.on(.end) { stop() }
            stream.on(.error) { _ in stop() }
            control = stream
            http.listen(port: worker.port, host: settings.host, listening)
        } else if let path = settings.unixPath {
            http.listen(path: path, listening)
        } else {
            http.listen(port: settings.port, host: settings.host, listening)
        }
        let interrupt = loop.onSignal(SIGINT, stop)
        let terminate = loop.onSignal(SIGTERM, stop)
        // A worker starts with these blocked (Supervisor): one sent while it was starting is handled now.
        ChildProcess.unblockSignals([SIGINT, SIGTERM])
        loop.run()
        interrupt.cancel()
        terminate.cancel()
        return exitCode.rawValue
    }
}

/// A worker's side of the supervisor link: the port to listen on and the control channel, both passed by
/// `Supervisor` through the environment and an inherited descriptor.
struct WorkerLink {
    /// Marks a worker process and gives it the port the supervisor reserved.
    static let portVariable = "NETCORE_WORKER_PORT"
    /// The descriptor number of the control channel in a worker.
    static let controlDescriptor: Int32 = 3
    /// What a worker sends once it listens.
    static let listeningMessage = UInt8(ascii: "L")
    /// With `--tls` and no `--cert`: the certificate the supervisor made, PEM (the environment is readable only by
    /// this user, like a 0600 file, and leaves nothing on disk to clean up after a SIGKILL).
    static let certificateVariable = "NETCORE_WORKER_TLS_CERT"
    /// The private key of `certificateVariable`'s certificate, PEM.
    static let keyVariable = "NETCORE_WORKER_TLS_KEY"

    let port: Int
    let descriptor: Int32
    /// The supervisor's generated certificate and key, if it made one.
    var certificate: (certificatePEM: String, keyPEM: String)?

    static func fromEnvironment() -> WorkerLink? {
        guard let text = ChildProcess.environmentValue(portVariable), let port = Int(text), (1...65535).contains(port)
        else { return nil }
        var link = WorkerLink(port: port, descriptor: controlDescriptor)
        if let certificate = ChildProcess.environmentValue(certificateVariable),
            let key = ChildProcess.environmentValue(keyVariable)
        {
            link.certificate = (certificate, key)
        }
        return link
    }

    func reportListening() {
        // A supervisor that is already gone shows up as end of file on the channel, which stops this worker.
        try? ChildProcess.send([Self.listeningMessage], to: descriptor)
    }
}
