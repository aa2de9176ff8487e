@preconcurrency import Glibc
import NetCore

/// `netbench conns`: open C idle connections, hold them, then echo once on each and verify the reply — or, with
/// `--http PATH`, send one keep-alive `GET PATH` on each and parse the response in full (status 200 expected); the
/// connections stay open afterwards, so the server holds C keep-alive connections that have served a request.
///
/// Progress lines for a script that measures the server's memory (each written at once, unbuffered):
///   `ESTABLISHED connected=N requested=C seconds=S`  all connection attempts settled
///   `HELD connected=N dropped=D`                      the hold is over; nothing sent yet (then `--linger` pause)
///   `ECHOED answered=A alive=N`                       every live connection echoed once (then `--linger` pause)
///   `ANSWERED answered=A alive=N`                     `--http`: every live connection got its response (ditto)
/// With `--server-pid`, netbench reads the server's VmRSS (summed over its process tree) at those points itself.
enum ConnsMode {
    struct Settings: Sendable {
        var target: Target
        /// `--tls`: connections are TLS, from this client context.
        var tls: TLSClient?
        var connections: Int
        var hold: Double
        var linger: Double
        var size: Int
        var serverPID: Int32
        var setupTimeout: Double
        var connectParallel: Int
        var label: String
        var prefix: String
        /// `--http PATH`: one GET per connection instead of the echo.
        var httpPath: String?
    }

    static func parse(_ options: Options) throws(Options.UsageError) -> Settings {
        Settings(
            target: try options.target(),
            tls: try options.tlsClient(),
            connections: try options.int("connections", default: 10_000, in: 1...1_000_000),
            hold: try options.double("hold", default: 5, in: 0...3600),
            linger: try options.double("linger", default: 0, in: 0...60),
            size: try options.int("size", default: 64, in: 1...65536),
            serverPID: Int32(try options.int("server-pid", default: 0, in: 0...Int(Int32.max))),
            setupTimeout: try options.double("setup-timeout", default: 60, in: 1...600),
            connectParallel: try options.int("connect-parallel", default: 256, in: 1...100_000),
            label: options.string("label") ?? "",
            prefix: options.string("prefix") ?? "Repeating: ",
            httpPath: try httpPath(options)
        )
    }

    private static func httpPath(_ options: Options) throws(Options.UsageError) -> String? {
        guard let path = options.string("http") else { return nil }
        guard path.hasPrefix("/"), !path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw Options.UsageError(description: "--http must be an origin-form target like '/'")
        }
        return path
    }

    final class Connection {
        enum Phase { case connecting, open, answered, closed }
        let socket: Socket
        var phase = Phase.connecting
        var stream = EchoStream()
        var response = FastResponseParser()
        init(socket: Socket) { self.socket = socket }
    }

    static func run(_ s: Settings) -> Int32 {
        let limit = raiseDescriptorLimit(to: s.connections + 16)
        if limit < s.connections + 16 {
            warn("RLIMIT_NOFILE is \(limit): fewer than \(s.connections) connections can be opened")
        }
        let loop: EventLoop
        do {
            loop = try EventLoop()
        } catch {
            warn("cannot create an event loop: \(error)")
            return 1
        }
        let pattern = EchoPattern(size: s.size, prefix: s.prefix)
        let request = s.httpPath.map {
            Buffer(Array("GET \($0) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: netbench\r\n\r\n".utf8))
        }
        var connections: [Connection] = []
        connections.reserveCapacity(s.connections)
        var connected = 0
        var connectErrors = 0
        var dropped = 0
        var earlyData = 0
        var corrupt = 0
        var ioErrors = 0
        var answered = 0
        var alive = 0
        var echoing = false
        var firstError: String?
        var pacer: ConnectPacer?

        func settle() { pacer?.settle() }
        func lost(_ connection: Connection) {
            switch connection.phase {
            case .connecting:
                connectErrors += 1
                connection.phase = .closed
                settle()
            case .open:
                connection.phase = .closed
                if echoing {
                    ioErrors += 1
                    if answered + corrupt + ioErrors == alive { loop.stop() }
                } else {
                    dropped += 1
                }
            case .answered, .closed:
                break
            }
        }

        let rssBefore = processTreeMemoryKB(s.serverPID)
        let connectStart = monotonicNanos()
        let newPacer = ConnectPacer(loop: loop, count: s.connections, parallel: s.connectParallel) { _ in
            let (socket, start) = makeSocket(loop: loop, to: s.target, tls: s.tls)
            let connection = Connection(socket: socket)
            connections.append(connection)
            socket.on(.data) { [unowned connection] chunk in
                guard connection.phase == .open else { return }
                guard echoing else {
                    earlyData += 1
                    return
                }
                let failure: String?
                var complete = false
                if request != nil {
                    switch chunk.bytes.withUnsafeBytes({ connection.response.parse($0) }) {
                    case .needMore: failure = nil
                    case .invalid(let reason): failure = "response framing: \(reason)"
                    case .complete(let consumed) where consumed < chunk.count:
                        failure = "\(chunk.count - consumed) surplus bytes after the response"
                    case .complete:
                        let status = connection.response.status
                        failure = status == 200 ? nil : "status \(status)"
                        complete = true
                    }
                } else {
                    failure = chunk.bytes.withUnsafeBytes { connection.stream.consume($0, pattern) }.map { "\($0)" }
                    complete = failure == nil && connection.stream.received == connection.stream.sent
                }
                if let failure {
                    corrupt += 1
                    firstError = firstError ?? "reply verification failed: \(failure)"
                    connection.phase = .closed
                    connection.socket.destroy()
                } else if complete {
                    connection.phase = .answered
                    answered += 1
                } else {
                    return
                }
                if answered + corrupt + ioErrors == alive { loop.stop() }
            }
            socket.on(.error) { [unowned connection] error in
                firstError = firstError ?? "\(error)"
                lost(connection)
            }
            socket.on(.close) { [unowned connection] _ in lost(connection) }
            start { [unowned connection] in
                guard connection.phase == .connecting else { return }
                connection.phase = .open
                connected += 1
                settle()
            }
        }
        pacer = newPacer
        let settledInTime = newPacer.run(timeout: s.setupTimeout)
        pacer = nil
        if !settledInTime {
            for connection in connections where connection.phase == .connecting {
                connection.phase = .closed
                connection.socket.destroy()
                connectErrors += 1
            }
            firstError = firstError ?? "connect timed out"
        }
        let connectSeconds = Double(monotonicNanos() - connectStart) / 1e9
        emit("ESTABLISHED connected=\(connected) requested=\(s.connections) seconds=\(fixed(connectSeconds, 2))")

        // Hold: the connections stay idle; a server that drops them is counted.
        if s.hold > 0 {
            let timer = loop.setTimeout(Int(s.hold * 1000)) { loop.stop() }
            loop.run()
            timer.cancel()
        }
        let rssHeld = processTreeMemoryKB(s.serverPID)
        emit("HELD connected=\(connected) dropped=\(dropped)")
        if s.linger > 0 { sleepSeconds(s.linger) }

        // Echo once on each live connection (or send its one GET), all at once, and verify every reply byte.
        echoing = true
        let echoStart = monotonicNanos()
        for connection in connections where connection.phase == .open {
            alive += 1
            if let request {
                connection.socket.write(request)
            } else {
                connection.stream.sent = UInt64(s.size)
                connection.socket.write(pattern.message.bytes)
            }
        }
        if alive > 0 {
            let timer = loop.setTimeout(30_000) {
                firstError = firstError ?? "not every connection answered within 30 s"
                loop.stop()
            }
            loop.run()
            timer.cancel()
        }
        let echoSeconds = Double(monotonicNanos() - echoStart) / 1e9
        let rssAfter = processTreeMemoryKB(s.serverPID)
        let answeredStep = request == nil ? "ECHOED" : "ANSWERED"
        emit("\(answeredStep) answered=\(answered) alive=\(alive) seconds=\(fixed(echoSeconds, 3))")
        if s.linger > 0 { sleepSeconds(s.linger) }
        for connection in connections where connection.phase == .open || connection.phase == .answered {
            connection.phase = .closed
            connection.socket.destroy()
        }

        let unanswered = alive - answered - corrupt - ioErrors
        let errors = connectErrors + corrupt + ioErrors + unanswered + earlyData
        func perConnection(_ kb: Int) -> String {
            guard kb >= 0, rssBefore >= 0, connected > 0 else { return "-1" }
            return fixed(Double(kb - rssBefore) * 1024 / Double(connected), 0)
        }
        if let firstError { warn("first error: \(firstError)") }
        emit(
            "conns \(s.target): connected \(connected)/\(s.connections) in \(fixed(connectSeconds, 2)) s, "
                + "dropped while idle \(dropped), answered \(answered)/\(alive) in \(fixed(echoSeconds, 3)) s, "
                + "corrupt \(corrupt), errors \(errors)"
                + (s.serverPID > 0
                    ? ", server VmRSS kB before \(rssBefore) held \(rssHeld) after echo \(rssAfter)" : "")
        )
        emit(
            "RESULT mode=conns connected=\(connected) answered=\(answered) dropped=\(dropped) corrupt=\(corrupt) "
                + "errors=\(errors) label=\(s.label) requested=\(s.connections) connect_errors=\(connectErrors) "
                + "io_errors=\(ioErrors) early_data=\(earlyData) unanswered=\(unanswered) "
                + "connect_s=\(fixed(connectSeconds, 2)) echo_s=\(fixed(echoSeconds, 3))"
                + (s.serverPID > 0
                    ? " rss_before_kb=\(rssBefore) rss_held_kb=\(rssHeld) rss_after_kb=\(rssAfter) "
                        + "bytes_per_conn_held=\(perConnection(rssHeld)) "
                        + "bytes_per_conn_after=\(perConnection(rssAfter))" : "")
        )
        return connected == 0 ? 1 : 0
    }
}
