/// Where the load goes: a loopback TCP address or a Unix-domain socket.
enum Target: Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    case unix(path: String)

    var description: String {
        switch self {
        case .tcp(let host, let port): host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
        case .unix(let path): "unix:\(path)"
        }
    }
}

/// The command line: `netbench MODE [--name value]... [-- command...]`.
struct Options: Sendable {
    let mode: String
    private var values: [String: String] = [:]
    /// What follows `--` (the server command of `startup`).
    private(set) var command: [String] = []

    static let usage = """
        usage: netbench MODE [options]

        modes:
          echo     ping-pong against an echo server that answers each chunk with "Repeating: " + chunk; every byte
                   of every reply is verified (prefix and payload, as one stream per connection)
                     --host IP --port P | --unix PATH   --connections N (1)  --size S (64)  --inflight K (1)
                     --duration SEC (5)  --warmup SEC (1)  --threads T (1)  --prefix STR ("Repeating: "; "" = plain)
          http     keep-alive requests, one in flight per connection, full response parsing (Content-Length and
                   chunked framing, trailers); a response counts when its status is --expect-status
                     --unix PATH | --host IP --port P   --connections N (1)  --path '/?file=F' (/?file=file1k.txt)
                     --method M (GET)  --body TEXT (none; sent with Content-Length)  --content-type T (application/json)
                     --expect-status S (200)
                     --duration SEC (5)  --warmup SEC (1)  --threads T (1)  --expect-body BYTES (no check)
                     --requests N (per connection, then stop; timing from the first request, no warm-up)
                     --parser fast|netcore (fast: netbench's zero-copy parser; netcore: NetCoreHTTP.HTTPResponseParser)
          conns    open C idle connections, report when all are established, hold, then echo once on each (or, with
                   --http PATH, send one keep-alive GET PATH on each and parse the response; the connections stay open)
                     --host IP --port P | --unix PATH   --connections C (10000)  --hold SEC (5)  --size S (64)
                     --http PATH (none: echo)
                     --linger SEC (0: pause after "HELD" and after "ECHOED" so a script can read the server's memory)
                     --server-pid PID (also read the server's VmRSS itself)
          handshakes  full TLS handshakes per second: C in flight, each destroyed once its handshake completes
                   and replaced (needs --tls)   --host IP --port P | --unix PATH   --connections C (16)
                     --duration SEC (5)  --warmup SEC (1)  --threads T (1)
          probe    wait until the target accepts a connection (and answers, with --probe echo|http)
                     --host IP --port P | --unix PATH   --timeout SEC (10)  --probe connect|echo|http (connect)
          startup  spawn a server and time exec → first served connection, then stop it
                     --host IP --port P | --unix PATH   --probe connect|echo|http (echo)  --timeout SEC (10)
                     --repeat N (1: spawn N times, report the median)   -- COMMAND [ARGS...]
          selftest check the reply verifier and both response parsers on canned streams split at every byte

        common: --label TEXT (copied into the RESULT line), --setup-timeout SEC (30), --drain SEC (2)
        TLS (echo, http, conns, handshakes): --tls insecure|CAFILE (no verification, or against CAFILE)
                 --servername NAME (SNI; none by default)  --tls-version 1.2|1.3 (both)  --ciphers LIST
        The last line is machine-readable: RESULT mode=... key=value ...
        """

    struct UsageError: Error, CustomStringConvertible {
        let description: String
    }

    static let known: Set<String> = [
        "host", "port", "unix", "connections", "size", "inflight", "duration", "warmup", "drain", "threads", "prefix",
        "path", "expect-body", "requests", "parser", "hold", "linger", "server-pid", "timeout", "probe", "label",
        "setup-timeout", "connect-parallel", "repeat", "method", "body", "content-type", "expect-status", "http",
        "tls", "servername", "tls-version", "ciphers",
    ]

    init(_ arguments: [String]) throws(UsageError) {
        guard let first = arguments.first else { throw UsageError(description: "no mode given") }
        mode = first
        var index = 1
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--" {
                command = Array(arguments[(index + 1)...])
                break
            }
            guard argument.hasPrefix("--") else { throw UsageError(description: "unexpected argument '\(argument)'") }
            var name = String(argument.dropFirst(2))
            var value: String
            if let equals = name.firstIndex(of: "=") {
                value = String(name[name.index(after: equals)...])
                name = String(name[..<equals])
            } else {
                guard index + 1 < arguments.count else { throw UsageError(description: "--\(name) needs a value") }
                index += 1
                value = arguments[index]
            }
            if name == "c" { name = "connections" }
            guard Self.known.contains(name) else { throw UsageError(description: "unknown option --\(name)") }
            values[name] = value
            index += 1
        }
    }

    func string(_ name: String) -> String? { values[name] }

    func int(_ name: String, default fallback: Int, in range: ClosedRange<Int>) throws(UsageError) -> Int {
        guard let text = values[name] else { return fallback }
        guard let value = Int(text), range.contains(value) else {
            throw UsageError(
                description: "--\(name) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'"
            )
        }
        return value
    }

    func double(_ name: String, default fallback: Double, in range: ClosedRange<Double>) throws(UsageError) -> Double {
        guard let text = values[name] else { return fallback }
        guard let value = Double(text), range.contains(value) else {
            throw UsageError(
                description: "--\(name) must be a number in \(range.lowerBound)...\(range.upperBound), got '\(text)'"
            )
        }
        return value
    }

    func target(defaultPort: Int? = 8124) throws(UsageError) -> Target {
        if let path = values["unix"] {
            if values["port"] != nil || values["host"] != nil {
                throw UsageError(description: "--unix excludes --host and --port")
            }
            return .unix(path: path)
        }
        let host = values["host"] ?? "127.0.0.1"
        guard isLoopbackLiteral(host) else {
            throw UsageError(description: "--host must be a loopback IP literal (127.x.x.x or ::1), got '\(host)'")
        }
        guard values["port"] != nil || defaultPort != nil else {
            throw UsageError(description: "give --port or --unix")
        }
        let port = try int("port", default: defaultPort ?? 0, in: 1...65535)
        return .tcp(host: host, port: port)
    }
}

/// Load only ever goes to this machine.
private func isLoopbackLiteral(_ host: String) -> Bool {
    if host == "::1" || host == "0:0:0:0:0:0:0:1" { return true }
    let parts = host.split(separator: ".", omittingEmptySubsequences: false)
    guard parts.count == 4, parts.allSatisfy({ UInt8($0) != nil }) else { return false }
    return parts[0] == "127"
}
