@preconcurrency import Glibc
import NetCore
import NetCoreHTTP
import NetCoreHTTPS
import NetCoreTLS

/// The seed's Unix-socket HTTP server (example 3-4) and client (example 3-5) as one program:
/// `unix-http [serve] [options]` and `unix-http get TARGET [options]`.
public enum UnixHTTPProgram {
    /// Exit codes, documented in `--help`.
    public enum ExitCode: Int32 {
        case success = 0
        case failure = 1
        case usage = 2
        case cannotListen = 3
        case cannotConnect = 4
        case badResponse = 5
        case tlsSetup = 6
    }

    /// The seed's socket path.
    public static let defaultSocketPath = "/tmp/node-server-sock"

    static let serveOptions: [Arguments.Option] = [
        .init("socket", .value(placeholder: "PATH"), help: "Unix socket to listen on (default \(defaultSocketPath))"),
        .init("port", .value(placeholder: "N"), help: "listen on TCP port N on 127.0.0.1 instead of a Unix socket"),
        .init(
            "root",
            .value(placeholder: "DIR"),
            help: "the only directory files are served from (default: current directory)"
        ),
        .init("mode", .value(placeholder: "OCTAL"), help: "permissions of the socket file, e.g. 660"),
        .init("quiet", help: "no per-request log lines"),
        .init(
            "max-body",
            .value(placeholder: "BYTES"),
            help: "largest request body accepted (default 1048576; then 413)"
        ),
    ] + WebServerSettings.timeoutOptions + ServerTLSSettings.options

    static let getOptions: [Arguments.Option] = [
        .init("socket", .value(placeholder: "PATH"), help: "Unix socket to connect to (default \(defaultSocketPath))"),
        .init("port", .value(placeholder: "N"), help: "connect to TCP port N on 127.0.0.1 instead"),
        .init(
            "data",
            .value(placeholder: "TEXT"),
            help: "send TEXT as (part of) the request body, chunked; repeatable"
        ),
        .init("method", .value(placeholder: "NAME"), help: "request method (default GET)"),
    ] + ClientTLSSettings.options

    /// The `--help` text.
    public static let usage = """
        usage: unix-http [serve] [--socket PATH | --port N] [--root DIR] [--mode OCTAL] [--quiet]
                         [--tls [--cert FILE --key FILE] [--write-cert FILE] [--keylog FILE]]
               unix-http get TARGET [--socket PATH | --port N] [--data TEXT]... [--method NAME]
                         [--tls [--ca FILE] [--servername NAME] [--insecure] [--keylog FILE]]

        serve (the default): an HTTP/1.1 server on a Unix socket. GET /?file=NAME answers 200 with a chunked
        text/plain body: the lines 0 to 99, then the file NAME from the root directory, streamed from disk.
        Try: curl --unix-socket \(defaultSocketPath) 'http://localhost/?file=README.md'
        With --tls it serves HTTPS on the same socket: unix-http --tls --write-cert /tmp/unix.pem, then
        curl --unix-socket \(defaultSocketPath) --cacert /tmp/unix.pem 'https://localhost/?file=README.md'

        serve options:
        \(Arguments.help(for: serveOptions))

        get: sends one request (like the seed's client) and prints STATUS, HEADERS as JSON, and each body chunk as
        "chunk o' data : ...".

        get options:
        \(Arguments.help(for: getOptions))

        exit codes:
          0  served until SIGINT/SIGTERM (in-flight responses finish first); get: a complete response arrived
          1  unexpected failure
          2  bad command line
          3  cannot listen (socket in use by a live server, path is not a socket, permission denied, bad root)
          4  get: cannot connect
          5  get: the response was malformed or cut short
          6  TLS set-up failed: --cert/--key unreadable, not PEM or not matching; --write-cert, --keylog or --ca
             not usable (a get whose server's certificate does not verify exits with 4)
        """

    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        var arguments = arguments
        let command = arguments.first.flatMap { $0 == "get" || $0 == "serve" ? $0 : nil } ?? "serve"
        if arguments.first == command { arguments.removeFirst() }
        do {
            let parsed = try Arguments(arguments, options: command == "get" ? getOptions : serveOptions)
            if parsed.has("help") {
                Console.line(usage)
                return ExitCode.success.rawValue
            }
            let port = try parsed.integer("port", in: command == "get" ? 1...65535 : 0...65535)
            if port != nil && parsed.values["socket"] != nil {
                throw Arguments.UsageError(description: "--socket and --port exclude each other")
            }
            if command == "get" {
                guard parsed.positionals.count == 1, let target = parsed.positionals.first else {
                    throw Arguments.UsageError(description: "get needs exactly one TARGET, e.g. '/?file=main.txt'")
                }
                var options = ClientRequest.Options(method: parsed.values["method"] ?? "GET", path: target)
                if let port {
                    options.host = "127.0.0.1"
                    options.port = port
                } else {
                    options.socketPath = parsed.values["socket"] ?? defaultSocketPath
                }
                if let tls = try ClientTLSSettings.parse(parsed) {
                    return getTLS(options, tls: tls, body: parsed.allValues["data"] ?? [])
                }
                return get(options, body: parsed.allValues["data"] ?? [])
            }
            if let extra = parsed.positionals.first {
                throw Arguments.UsageError(description: "unexpected argument '\(extra)'")
            }
            var mode: UInt32?
            if let text = parsed.values["mode"] {
                guard let value = UInt32(text, radix: 8), value <= 0o7777 else {
                    throw Arguments.UsageError(description: "--mode must be octal permissions like 660, got '\(text)'")
                }
                mode = value
            }
            var configuration = HTTPServer.Configuration()
            try WebServerSettings.applyTimeouts(parsed, to: &configuration)
            configuration.limits.maxBodyBytes =
                try parsed.integer("max-body", in: 0...Int(Int32.max)) ?? configuration.limits.maxBodyBytes
            var tls: ServerTLS?
            if let tlsSettings = try ServerTLSSettings.parse(parsed) {
                do { tls = try tlsSettings.prepare(name: "unix-http") } catch {
                    Console.error("unix-http: \(error)")
                    return ExitCode.tlsSetup.rawValue
                }
            }
            let server = FileServer(
                root: parsed.values["root"] ?? ".",
                quiet: parsed.has("quiet"),
                configuration: configuration,
                tls: tls
            )
            return server.run(
                socketPath: port == nil ? parsed.values["socket"] ?? defaultSocketPath : nil,
                port: port,
                mode: mode
            )
        } catch {
            Console.error("unix-http: \(error) (see --help)")
            return ExitCode.usage.rawValue
        }
    }

    // MARK: - get

    /// One request on the NetCoreHTTP client, printed as the seed's client prints it (`STATUS:`, `HEADERS:` as
    /// `JSON.stringify(res.headers)`, one `chunk o' data :` line per body chunk). The `--data` parts are written one
    /// by one, so the body goes out chunked.
    static func get(_ options: ClientRequest.Options, body: [String]) -> Int32 {
        var options = options
        options.loop = EventLoop.main
        options.agent = .none  // one request: `Connection: close`, nothing pooled
        let outcome = GetOutcome()
        return outcome.send(HTTP.request(options, outcome.printResponse), body: body)
    }

    /// `get --tls`: the same request with `HTTPS.request`; the certificate must verify against `--ca` (or the
    /// system's CAs) unless `--insecure`.
    static func getTLS(_ plain: ClientRequest.Options, tls: ClientTLSSettings, body: [String]) -> Int32 {
        let keylog: KeyLogFile?
        let context: SecureContext
        do {
            keylog = try tls.openKeylog()
            context = try SecureContext(SecureContextOptions(ca: tls.caFile.map { .file($0) }))
        } catch let failure as ServerTLSSettings.SetupFailure {
            Console.error("unix-http: \(failure)")
            return ExitCode.tlsSetup.rawValue
        } catch {
            Console.error("unix-http: cannot use --ca \(tls.caFile ?? ""): \(error)")
            return ExitCode.tlsSetup.rawValue
        }
        let options = HTTPS.RequestOptions(
            host: plain.host, port: plain.port, socketPath: plain.socketPath, method: plain.method, path: plain.path,
            agent: .none, loop: EventLoop.main,
            servername: plain.socketPath == nil ? tls.effectiveServername(host: plain.host) : tls.servername,
            rejectUnauthorized: !tls.insecure, secureContext: context)
        let outcome = GetOutcome()
        let request = HTTPS.request(options, outcome.printResponse)
        if let keylog {
            request.on(.socket) { socket in
                (socket as? TLSSocket)?.on(.keylog) { line in keylog.append(line.bytes) }
            }
        }
        return outcome.send(request, body: body)
    }

    /// One `get`'s printing and exit code.
    private final class GetOutcome {
        var exitCode = ExitCode.success

        /// Prints the response as the seed's client does.
        func printResponse(_ res: IncomingMessage) {
            Console.line("STATUS: \(res.statusCode)")
            Console.line("HEADERS: \(res.headers)")
            res.setEncoding(.utf8)
            res.on(.data) { chunk in Console.line("chunk o' data : \(chunk)") }
            res.on(.error) { [self] error in
                Console.error("unix-http: problem with request: \(error.message)")
                exitCode = .badResponse
            }
        }

        /// Writes the body parts, ends the request, and runs the loop until it is over.
        func send(_ request: ClientRequest, body: [String]) -> Int32 {
            request.on(.error) { [self] error in
                Console.error("unix-http: problem with request: \(error.message)")
                exitCode = request.res == nil ? .cannotConnect : .badResponse
            }
            for part in body { request.write(part) }
            request.end()
            EventLoop.main.run()
            return exitCode.rawValue
        }
    }
}
