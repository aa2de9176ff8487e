import NetCore
import NetCoreHTTP

/// What every course web server (hello-server, rest-server, cookie-server, session-server) takes on its command
/// line: where to listen, `--quiet`, `--workers`, the HTTP timeouts (as unix-http has them), and `--tls`.
public struct WebServerSettings: Sendable {
    /// TCP port (0 picks a free one).
    public var port: Int
    /// Address to listen on; nil listens on all interfaces, IPv4 and IPv6, as Node's `listen(port)`.
    public var host: String?
    /// A Unix-domain socket path to listen on instead of TCP.
    public var unixPath: String?
    /// No per-request log lines.
    public var quiet: Bool
    /// With `--workers N`: the number of worker processes (`--workers 0` is resolved to one per processor); nil
    /// without the option (one process, no supervisor).
    public var workers: Int?
    /// Timeouts and limits for the HTTP server.
    public var configuration: HTTPServer.Configuration
    /// With `--tls`: HTTPS, and where its certificate comes from.
    public var tls: ServerTLSSettings?

    /// Settings with the program's default port and nothing else given.
    public init(defaultPort: Int) {
        port = defaultPort
        host = nil
        unixPath = nil
        quiet = false
        workers = nil
        configuration = HTTPServer.Configuration()
        tls = nil
    }

    /// The common options, in `--help` order; a program appends its own.
    public static func options(defaultPort: Int) -> [Arguments.Option] {
        [
            .init(
                "port",
                .value(placeholder: "N"),
                help: "TCP port to listen on (default \(defaultPort); 0 picks a free port)"
            ),
            .init(
                "host",
                .value(placeholder: "ADDR"),
                help: "address to listen on (default: all interfaces, IPv4 and IPv6)"
            ),
            .init("unix", .value(placeholder: "PATH"), help: "listen on a Unix-domain socket instead of TCP"),
            .init("quiet", help: "no per-request log lines"),
            .init(
                "workers",
                .value(placeholder: "N"),
                help: "N worker processes share the port (SO_REUSEPORT); 0 = one per processor"
            ),
        ] + timeoutOptions + ServerTLSSettings.options
    }

    /// Node's three server timeouts as options; unix-http takes them too.
    public static let timeoutOptions: [Arguments.Option] = [
            .init(
                "headers-timeout",
                .value(placeholder: "MS"),
                help: "time allowed for a request's headers (default 60000; then 408)"
            ),
            .init(
                "request-timeout",
                .value(placeholder: "MS"),
                help: "time allowed for a whole request, body included (default 300000; then 408)"
            ),
            .init(
                "keep-alive-timeout",
                .value(placeholder: "MS"),
                help: "idle keep-alive connections close after MS (default 5000)"
            ),
    ]

    /// Applies the timeout options in `parsed` to `configuration`.
    public static func applyTimeouts(_ parsed: Arguments, to configuration: inout HTTPServer.Configuration)
        throws(Arguments.UsageError)
    {
        configuration.headersTimeout =
            try parsed.integer("headers-timeout", in: 1...86_400_000) ?? configuration.headersTimeout
        configuration.requestTimeout =
            try parsed.integer("request-timeout", in: 1...86_400_000) ?? configuration.requestTimeout
        configuration.keepAliveTimeout =
            try parsed.integer("keep-alive-timeout", in: 1...86_400_000) ?? configuration.keepAliveTimeout
    }

    /// Reads the common options from `parsed`; a bad value or combination is a usage error.
    public init(_ parsed: Arguments, defaultPort: Int) throws(Arguments.UsageError) {
        self.init(defaultPort: defaultPort)
        port = try parsed.integer("port", in: 0...65535) ?? defaultPort
        host = parsed.values["host"]
        unixPath = parsed.values["unix"]
        quiet = parsed.has("quiet")
        if let count = try parsed.integer("workers", in: 0...256) {
            workers = count == 0 ? min(256, ChildProcess.processorCount) : count
        }
        if let unixPath {
            if parsed.values["port"] != nil || host != nil {
                throw Arguments.UsageError(description: "--unix cannot be combined with --port or --host")
            }
            if workers != nil {
                throw Arguments.UsageError(
                    description: "--workers needs TCP (SO_REUSEPORT); it cannot be combined with --unix"
                )
            }
            if unixPath.isEmpty { throw Arguments.UsageError(description: "--unix needs a non-empty path") }
        }
        if host?.isEmpty == true { throw Arguments.UsageError(description: "--host needs a non-empty address") }
        try Self.applyTimeouts(parsed, to: &configuration)
        tls = try ServerTLSSettings.parse(parsed)
    }

    /// Where the server listens, for error messages: "port 8080", "::1 port 8080", or the socket path.
    var place: String {
        unixPath ?? (host.map { "\($0) port \(port)" } ?? "port \(port)")
    }
}
