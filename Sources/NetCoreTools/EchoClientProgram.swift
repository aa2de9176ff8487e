@preconcurrency import Glibc
import NetCore
import NetCoreTLS

/// The O'Reilly stdin client (example 3-3) as a command-line program: `echo-client [host] [port]`.
public enum EchoClientProgram {
    /// Exit codes, documented in `--help`.
    public enum ExitCode: Int32 {
        case success = 0
        case failure = 1
        case usage = 2
        case refused = 3
        case unknownHost = 4
        case connectionLost = 5
        case cannotConnect = 6
        case tlsFailed = 7
    }

    static let options: [Arguments.Option] = [
        .init("unix", .value(placeholder: "PATH"), help: "connect to a Unix-domain socket instead of TCP"),
        .init("greeting", .value(placeholder: "TEXT"), help: "first message sent (default: \"\(defaultGreeting)\")"),
        .init("no-greeting", help: "send no greeting"),
    ] + ClientTLSSettings.options

    /// The seed's greeting.
    public static let defaultGreeting = "Who needs a browser to communicate?"

    /// The `--help` text.
    public static let usage = """
        usage: echo-client [host] [port] [--unix PATH] [--greeting TEXT | --no-greeting]
                           [--tls [--ca FILE] [--servername NAME] [--insecure] [--keylog FILE]]

        Connects to an echo server (default localhost 8124), sends a greeting, then forwards standard input as it is
        typed (or piped) and prints what the server sends. At the end of input it half-closes the connection and
        keeps printing until the server has finished. With --tls the connection is TLS and the server's certificate
        must verify against --ca (or the system's CAs) and match the host or --servername, unless --insecure
        (try: echo-server --tls --write-cert /tmp/echo.pem, then echo-client --tls --ca /tmp/echo.pem).

        options:
        \(Arguments.help(for: options))

        exit codes:
          0  the server closed the connection (after our end of input, or on its own)
          1  unexpected failure
          2  bad command line
          3  connection refused (nobody listening; for --unix also a missing socket file)
          4  unknown host
          5  connection lost (reset by the server)
          6  could not connect for another reason (unreachable, timed out, permission denied)
          7  TLS failed: the handshake, the server's certificate (e.g. DEPTH_ZERO_SELF_SIGNED_CERT,
             ERR_TLS_CERT_ALTNAME_INVALID), or an unreadable --ca / --keylog file
        """

    /// Runs the client; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        let parsed: Arguments
        let host: String
        let port: Int
        let tls: ClientTLSSettings?
        do {
            parsed = try Arguments(arguments, options: options)
            guard parsed.positionals.count <= 2 else {
                throw Arguments.UsageError(description: "unexpected argument '\(parsed.positionals[2])'")
            }
            host = parsed.positionals.first ?? "localhost"
            let portText = parsed.positionals.count > 1 ? parsed.positionals[1] : "8124"
            guard let value = Int(portText), (1...65535).contains(value) else {
                throw Arguments.UsageError(description: "port must be a number from 1 to 65535, got '\(portText)'")
            }
            port = value
            if parsed.values["unix"] != nil && !parsed.positionals.isEmpty {
                throw Arguments.UsageError(description: "--unix cannot be combined with a host or port")
            }
            if parsed.has("no-greeting") && parsed.values["greeting"] != nil {
                throw Arguments.UsageError(description: "--greeting and --no-greeting exclude each other")
            }
            tls = try ClientTLSSettings.parse(parsed)
        } catch {
            Console.error("echo-client: \(error) (see --help)")
            return ExitCode.usage.rawValue
        }
        if parsed.has("help") {
            Console.line(usage)
            return ExitCode.success.rawValue
        }
        let greeting = parsed.has("no-greeting") ? nil : parsed.values["greeting"] ?? defaultGreeting
        return talk(host: host, port: port, unixPath: parsed.values["unix"], greeting: greeting, tls: tls)
    }

    static func talk(host: String, port: Int, unixPath: String?, greeting: String?, tls: ClientTLSSettings?) -> Int32 {
        let loop = EventLoop.main
        let target = unixPath ?? "\(host):\(port)"
        let client: Socket
        if let tls {
            do { client = try connectTLS(host: host, port: port, unixPath: unixPath, tls: tls, loop: loop) } catch {
                Console.error("echo-client: \(error)")
                return ExitCode.tlsFailed.rawValue
            }
        } else {
            client = Socket(loop: loop)
        }
        let input = ReadStream.standardInput(loop: loop)
        // TCP (or Unix) connected: with --tls the handshake is under way.
        var reachable = false
        var connected = false
        var exitCode = ExitCode.success

        client.setEncoding(.utf8)
        client.on(.connect) { reachable = true }
        let ready = {
            connected = true
            Console.line("connected to server")
            if let greeting { client.write(greeting) }
            // Input starts flowing only now, so the greeting is always the first message.
            input.on(.data) { chunk in client.write(chunk) }
            input.on(.end) { client.end() }
            input.on(.error) { error in
                Console.error("echo-client: reading standard input: \(error.reason)")
                client.end()
            }
        }
        client.on(.data) { chunk in
            // Like the seed's console.log(data): each chunk on its own line, without doubling a newline it carries.
            let text = chunk.string
            Console.out(text.hasSuffix("\n") ? text : text + "\n")
        }
        if let secure = client as? TLSSocket {
            secure.once(.secureConnect, ready)
        } else {
            client.on(.connect, ready)
        }
        client.on(.error) { error in
            if reachable && !connected && tls != nil {
                Console.error("echo-client: TLS with \(target) failed: \(error.message) (\(error.code))")
                exitCode = .tlsFailed
            } else if connected {
                Console.error("echo-client: connection to \(target) lost: \(error.reason)")
                exitCode = .connectionLost
            } else {
                Console.error("echo-client: could not connect to \(target): \(error.reason)")
                switch error.code {
                case "ECONNREFUSED", "ENOENT": exitCode = .refused
                case "ENOTFOUND": exitCode = .unknownHost
                default: exitCode = .cannotConnect
                }
            }
        }
        client.on(.close) { _ in
            if connected { Console.line("connection is closed") }
            input.destroy()  // a TTY would otherwise keep the loop reading
        }
        if tls == nil {
            if let unixPath {
                client.connect(path: unixPath)
            } else {
                client.connect(port: port, host: host)
            }
        }
        loop.run()
        return exitCode.rawValue
    }

    /// A TLS connection under way (`TLS.connect`), with the key log attached.
    static func connectTLS(host: String, port: Int, unixPath: String?, tls: ClientTLSSettings, loop: EventLoop) throws
        -> TLSSocket
    {
        let keylog = try tls.openKeylog()
        let servername = unixPath == nil ? tls.effectiveServername(host: host) : (tls.servername ?? "localhost")
        let options = TLS.ConnectOptions(
            port: port, host: host, path: unixPath, servername: servername, rejectUnauthorized: !tls.insecure,
            ca: tls.caFile.map { .file($0) })
        let socket: TLSSocket
        do { socket = try TLS.connect(options, loop: loop) } catch {
            throw ServerTLSSettings.SetupFailure(description: "cannot use --ca \(tls.caFile ?? ""): \(error.message)")
        }
        if let keylog { socket.on(.keylog) { line in keylog.append(line.bytes) } }
        return socket
    }
}
