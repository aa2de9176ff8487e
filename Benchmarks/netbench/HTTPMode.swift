@preconcurrency import Glibc
import NetCore

/// `netbench http`: N keep-alive connections, one request in flight on each (a GET, or `--method M --body B`),
/// every response parsed in full.
enum HTTPMode {
    struct Settings: Sendable {
        var target: Target
        /// `--tls`: connections are TLS, from this client context.
        var tls: TLSClient?
        var connections: Int
        var path: String
        /// The request method (`GET`; `--method POST --body '{"name":"kim"}'` for rest-server's `POST /user`).
        var method: String
        /// The request body, sent with Content-Length and `--content-type`; empty: no body, no Content-Length.
        var body: String
        var contentType: String
        /// The status a good response has (200; rest-server's POST /user answers 201).
        var expectStatus: Int
        var warmup: Double
        var duration: Double
        var threads: Int
        var expectBody: Int?
        /// Requests per connection in `--requests` mode (then no warm-up, timing from the start); nil: timed run.
        var requests: Int?
        var parser: String
        var setupTimeout: Double
        var connectParallel: Int
        var label: String
    }

    struct Totals: Sendable {
        var connected = 0
        var windowResponses: UInt64 = 0
        var windowBodyBytes: UInt64 = 0
        var responses: UInt64 = 0
        var bodyBytes: UInt64 = 0
        /// Body bytes of responses that were 200 with the expected length.
        var goodBodyBytes: UInt64 = 0
        var receivedBytes: UInt64 = 0
        var non200: UInt64 = 0
        var framingErrors: UInt64 = 0
        var bodyMismatch: UInt64 = 0
        var ioErrors: UInt64 = 0
        var connectErrors: UInt64 = 0
        var reconnects: UInt64 = 0
        /// `--requests` mode: when the last response of this worker arrived (monotonic ns).
        var lastResponseAt: UInt64 = 0
        var firstError: String?
        var histogram = Histogram()

        mutating func add(_ o: Totals) {
            connected += o.connected
            windowResponses += o.windowResponses
            windowBodyBytes += o.windowBodyBytes
            responses += o.responses
            bodyBytes += o.bodyBytes
            goodBodyBytes += o.goodBodyBytes
            receivedBytes += o.receivedBytes
            non200 += o.non200
            framingErrors += o.framingErrors
            bodyMismatch += o.bodyMismatch
            ioErrors += o.ioErrors
            connectErrors += o.connectErrors
            reconnects += o.reconnects
            lastResponseAt = max(lastResponseAt, o.lastResponseAt)
            firstError = firstError ?? o.firstError
            histogram.merge(o.histogram)
        }
    }

    static func parse(_ options: Options) throws(Options.UsageError) -> Settings {
        let connections = try options.int("connections", default: 1, in: 1...1_000_000)
        let parser = options.string("parser") ?? "fast"
        guard parser == "fast" || parser == "netcore" else {
            throw Options.UsageError(description: "--parser must be fast or netcore")
        }
        let path = options.string("path") ?? "/?file=file1k.txt"
        guard path.hasPrefix("/"), !path.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F }) else {
            throw Options.UsageError(description: "--path must be an origin-form target like '/?file=F'")
        }
        var expectBody: Int?
        if options.string("expect-body") != nil {
            expectBody = try options.int("expect-body", default: 0, in: 0...Int(Int64.max >> 1))
        }
        let method = options.string("method") ?? "GET"
        guard !method.isEmpty, method.utf8.allSatisfy({ ($0 >= 0x41 && $0 <= 0x5A) || $0 == 0x2D }) else {
            throw Options.UsageError(description: "--method must be an upper-case token like GET or POST")
        }
        let contentType = options.string("content-type") ?? "application/json"
        guard !contentType.utf8.contains(where: { $0 < 0x20 || $0 == 0x7F }) else {
            throw Options.UsageError(description: "--content-type must not contain control characters")
        }
        var requests: Int?
        if options.string("requests") != nil {
            requests = try options.int("requests", default: 1, in: 1...Int(Int32.max))
        }
        return Settings(
            target: try options.target(defaultPort: nil),
            tls: try options.tlsClient(),
            connections: connections,
            path: path,
            method: method,
            body: options.string("body") ?? "",
            contentType: contentType,
            expectStatus: try options.int("expect-status", default: 200, in: 100...999),
            warmup: requests == nil ? try options.double("warmup", default: 1, in: 0...60) : 0,
            duration: try options.double("duration", default: 5, in: 0.05...3600),
            threads: min(connections, try options.int("threads", default: 1, in: 1...64)),
            expectBody: expectBody,
            requests: requests,
            parser: parser,
            setupTimeout: try options.double("setup-timeout", default: 30, in: 1...600),
            connectParallel: try options.int("connect-parallel", default: 256, in: 1...100_000),
            label: options.string("label") ?? ""
        )
    }

    static func run(_ settings: Settings) -> Int32 {
        raiseDescriptorLimit(to: settings.connections + 16)
        let cpuBefore = processCPUSeconds()
        let wallBefore = monotonicNanos()
        let (results, start) = runWorkers(threads: settings.threads) { index, gate in
            let count = share(of: settings.connections, worker: index, threads: settings.threads)
            if settings.parser == "netcore" {
                return HTTPMode.work(NetCoreResponseParser.self, settings, count, gate)
            }
            return HTTPMode.work(FastResponseParser.self, settings, count, gate)
        }
        let wall = Double(monotonicNanos() - wallBefore) / 1e9
        let cpuPercent = 100 * (processCPUSeconds() - cpuBefore) / max(wall, 1e-9)
        var totals = Totals()
        for result in results { totals.add(result) }
        report(settings, totals, start: start, cpuPercent: cpuPercent)
        return totals.connected == 0 ? 1 : 0
    }

    private static func work<Parser: ResponseParsing>(
        _: Parser.Type,
        _ settings: Settings,
        _ count: Int,
        _ gate: StartGate
    ) -> Totals {
        let worker: HTTPWorker<Parser>
        do {
            worker = try HTTPWorker<Parser>(settings: settings, count: count)
        } catch {
            var totals = Totals()
            totals.connectErrors = UInt64(count)
            totals.firstError = "cannot create an event loop: \(error)"
            _ = gate.workerReady()
            return totals
        }
        worker.connectAll()
        return worker.measure(start: gate.workerReady())
    }

    /// The bytes of the one request every connection repeats.
    static func request(_ settings: Settings) -> [UInt8] {
        var head = "\(settings.method) \(settings.path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: netbench\r\n"
        if !settings.body.isEmpty || settings.method == "POST" || settings.method == "PUT" {
            head += "Content-Type: \(settings.contentType)\r\nContent-Length: \(settings.body.utf8.count)\r\n"
        }
        return Array((head + "\r\n" + settings.body).utf8)
    }

    static func report(_ s: Settings, _ t: Totals, start: UInt64, cpuPercent: Double) {
        let seconds: Double
        let responses: UInt64
        let bodyBytes: UInt64
        if s.requests != nil {
            seconds = t.lastResponseAt > start ? Double(t.lastResponseAt - start) / 1e9 : 0
            responses = t.responses - t.non200 - t.bodyMismatch
            bodyBytes = t.goodBodyBytes
        } else {
            seconds = s.duration
            responses = t.windowResponses
            bodyBytes = t.windowBodyBytes
        }
        let rate = seconds > 0 ? Double(responses) / seconds : 0
        let megabytes = seconds > 0 ? Double(bodyBytes) / seconds / 1e6 : 0
        let h = t.histogram
        let p50 = Double(h.value(atQuantile: 0.50)) / 1000
        let p99 = Double(h.value(atQuantile: 0.99)) / 1000
        let p999 = Double(h.value(atQuantile: 0.999)) / 1000
        let maxUs = Double(h.maxValue) / 1000
        let errors = t.non200 + t.framingErrors + t.bodyMismatch + t.ioErrors + t.connectErrors
        let averageBody = t.responses > 0 ? Double(t.bodyBytes) / Double(t.responses) : 0
        if let firstError = t.firstError { warn("first error: \(firstError)") }
        emit(
            "http \(s.target) \(s.method) \(s.path): conns=\(t.connected)/\(s.connections) threads=\(s.threads) "
                + "parser=\(s.parser): \(fixed(rate, 0)) req/s, \(fixed(megabytes, 2)) MB/s body, "
                + "p50 \(fixed(p50)) us, "
                + "p99 \(fixed(p99)) us, p99.9 \(fixed(p999)) us, max \(fixed(maxUs)) us, "
                + "unexpected status \(t.non200), "
                + "framing errors \(t.framingErrors), body mismatch \(t.bodyMismatch), io errors \(t.ioErrors), "
                + "connect errors \(t.connectErrors), reconnects \(t.reconnects), avg body \(fixed(averageBody, 0)) B"
        )
        emit(
            "  whole run: responses=\(t.responses) body_bytes=\(t.bodyBytes) rx_bytes=\(t.receivedBytes) "
                + "seconds=\(fixed(seconds, 3)) netbench_cpu=\(fixed(cpuPercent, 0))%"
        )
        emit(
            "RESULT mode=http req_per_s=\(fixed(rate, 0)) mb_per_s=\(fixed(megabytes, 2)) p50_us=\(fixed(p50)) "
                + "p99_us=\(fixed(p99)) p999_us=\(fixed(p999)) non200=\(t.non200) framing_errors=\(t.framingErrors) "
                + "errors=\(errors) label=\(s.label) conns=\(s.connections) connected=\(t.connected) "
                + "reqs=\(responses) seconds=\(fixed(seconds, 3)) max_us=\(fixed(maxUs)) "
                + "body_mismatch=\(t.bodyMismatch) io_errors=\(t.ioErrors) connect_errors=\(t.connectErrors) "
                + "reconnects=\(t.reconnects) body_bytes_avg=\(fixed(averageBody, 0)) cpu_pct=\(fixed(cpuPercent, 0))"
        )
    }
}

/// One keep-alive connection of the http mode (a reconnect replaces it with a new object in the same slot).
final class HTTPClientConnection<Parser: ResponseParsing> {
    enum Phase { case connecting, open, closed }

    let socket: Socket
    let slot: Int
    var phase = Phase.connecting
    var parser = Parser()
    var outstanding = false
    var requestStart: UInt64 = 0
    var errorCounted = false

    init(socket: Socket, slot: Int) {
        self.socket = socket
        self.slot = slot
    }
}

final class HTTPWorker<Parser: ResponseParsing> {
    typealias Connection = HTTPClientConnection<Parser>

    let loop: EventLoop
    let settings: HTTPMode.Settings
    let count: Int
    let request: [UInt8]
    var connections: [Connection] = []
    /// Requests sent from each slot, across reconnects.
    var slotRequests: [Int]
    /// `--requests` mode: whether each slot is done, and how many are not.
    var slotDone: [Bool]
    var activeSlots = 0
    var totals = HTTPMode.Totals()
    var pacer: ConnectPacer?
    var windowStart: UInt64 = .max
    var windowEnd: UInt64 = .max
    var running = false
    var finished = false

    init(settings: HTTPMode.Settings, count: Int) throws {
        loop = try EventLoop()
        self.settings = settings
        self.count = count
        request = HTTPMode.request(settings)
        connections.reserveCapacity(count)
        slotRequests = [Int](repeating: 0, count: count)
        slotDone = [Bool](repeating: false, count: count)
    }

    func connectAll() {
        let pacer = ConnectPacer(loop: loop, count: count, parallel: settings.connectParallel) { [unowned self] slot in
            connections.append(open(slot: slot))
        }
        self.pacer = pacer
        if !pacer.run(timeout: settings.setupTimeout) {
            for connection in connections where connection.phase == .connecting {
                connection.phase = .closed
                connection.socket.destroy()
                totals.connectErrors += 1
                totals.firstError = totals.firstError ?? "connect timed out"
            }
        }
        self.pacer = nil
    }

    private func open(slot: Int) -> Connection {
        let (socket, start) = makeSocket(loop: loop, to: settings.target, tls: settings.tls)
        let connection = Connection(socket: socket, slot: slot)
        // The listeners hold the connection strongly: a reconnect drops it from `connections` while its socket
        // still has a close event to deliver. NetCore releases a socket's listeners after `close`, which ends
        // the cycle.
        socket.on(.data) { [unowned self, connection] chunk in received(chunk, on: connection) }
        socket.on(.error) { [unowned self, connection] error in failed(connection, error) }
        socket.on(.close) { [unowned self, connection] _ in closed(connection) }
        start { [unowned self, connection] in
            guard connection.phase == .connecting else { return }
            connection.phase = .open
            if case .tcp = settings.target { connection.socket.setNoDelay(true) }
            if let pacer {
                totals.connected += 1
                pacer.settle()
            } else if running && !finished {
                sendRequest(on: connection, now: monotonicNanos())
            }
        }
        return connection
    }

    // MARK: - Measuring

    func measure(start: UInt64) -> HTTPMode.Totals {
        windowStart = start + nanos(seconds: settings.warmup)
        windowEnd = windowStart + nanos(seconds: settings.duration)
        running = true
        let now = monotonicNanos()
        for connection in connections where connection.phase == .open {
            activeSlots += 1
            sendRequest(on: connection, now: now)
        }
        for slot in 0..<count where connections.count <= slot || connections[slot].phase != .open {
            slotDone[slot] = true
        }
        if activeSlots > 0 {
            let remaining = windowEnd > now ? windowEnd - now : 0
            loop.setTimeout(Int(remaining / 1_000_000) + 1) { [unowned self] in
                if settings.requests != nil {
                    totals.firstError = totals.firstError ?? "--requests not done within --duration"
                    totals.ioErrors += UInt64(activeSlots)
                }
                finish()
            }
            loop.run()
        }
        running = false
        for connection in connections where connection.phase != .closed {
            connection.phase = .closed
            connection.socket.destroy()
        }
        return totals
    }

    @inline(__always)
    private func sendRequest(on connection: Connection, now: UInt64) {
        connection.parser.reset()
        connection.outstanding = true
        connection.requestStart = now
        slotRequests[connection.slot] += 1
        connection.socket.write(request)
    }

    private func received(_ chunk: Buffer, on connection: Connection) {
        guard connection.phase == .open else { return }
        totals.receivedBytes += UInt64(chunk.count)
        guard connection.outstanding else {
            framingError(connection, "\(chunk.count) bytes arrived with no request outstanding")
            return
        }
        let outcome = chunk.bytes.withUnsafeBytes { connection.parser.parse($0) }
        switch outcome {
        case .needMore:
            return
        case .invalid(let reason):
            framingError(connection, reason)
        case .complete(let consumed):
            completed(connection)
            if consumed < chunk.count {
                framingError(connection, "\(chunk.count - consumed) surplus bytes after a response")
            } else {
                next(on: connection)
            }
        }
    }

    /// Books a complete response.
    private func completed(_ connection: Connection) {
        let now = monotonicNanos()
        connection.outstanding = false
        let status = connection.parser.status
        let body = connection.parser.bodyBytes
        totals.responses += 1
        totals.bodyBytes += UInt64(body)
        var good = true
        if status != settings.expectStatus {
            totals.non200 += 1
            totals.firstError = totals.firstError ?? "status \(status)"
            good = false
        }
        if let expected = settings.expectBody, body != expected {
            totals.bodyMismatch += 1
            totals.firstError = totals.firstError ?? "body of \(body) bytes, expected \(expected)"
            good = false
        }
        if good { totals.goodBodyBytes += UInt64(body) }
        if now >= windowStart && now < windowEnd {
            totals.histogram.record(now &- connection.requestStart)
            if good {
                totals.windowResponses += 1
                totals.windowBodyBytes += UInt64(body)
            }
        }
        totals.lastResponseAt = now
    }

    /// After a complete response: the next request, a new connection if the server asked to close, or the end.
    private func next(on connection: Connection) {
        if let limit = settings.requests, slotRequests[connection.slot] >= limit {
            retire(connection)
            finishSlot(connection.slot)
            return
        }
        let now = monotonicNanos()
        guard now < windowEnd else { return }
        if connection.parser.connectionClose {
            reopen(connection)
        } else {
            sendRequest(on: connection, now: now)
        }
    }

    private func framingError(_ connection: Connection, _ reason: String) {
        totals.framingErrors += 1
        totals.firstError = totals.firstError ?? "framing: \(reason)"
        abandon(connection)
    }

    private func failed(_ connection: Connection, _ error: SocketError) {
        guard connection.phase != .closed, !connection.errorCounted else { return }
        connection.errorCounted = true
        if connection.phase == .connecting {
            totals.connectErrors += 1
            totals.firstError = totals.firstError ?? "connect: \(error)"
        } else {
            totals.ioErrors += 1
            totals.firstError = totals.firstError ?? "\(error)"
        }
    }

    private func closed(_ connection: Connection) {
        switch connection.phase {
        case .closed:
            return
        case .connecting:
            if !connection.errorCounted { totals.connectErrors += 1 }
            connection.phase = .closed
            if let pacer {
                pacer.settle()
            } else {
                finishSlot(connection.slot)  // a reconnect failed: this slot is out of the run
            }
        case .open:
            if connection.errorCounted {
                abandon(connection)
            } else if connection.outstanding {
                // The end of a close-delimited body, or a truncated response.
                if case .complete = connection.parser.finish() {
                    completed(connection)
                    if let limit = settings.requests, slotRequests[connection.slot] >= limit {
                        retire(connection)
                        finishSlot(connection.slot)
                    } else {
                        reopen(connection)
                    }
                } else {
                    framingError(connection, "connection closed in the middle of a response")
                }
            } else {
                reopen(connection)  // an idle keep-alive connection timed out on the server: not an error
            }
        }
    }

    private func retire(_ connection: Connection) {
        guard connection.phase != .closed else { return }
        connection.phase = .closed
        connection.socket.destroy()
    }

    /// Replaces a connection the server closed (or asked to close) with a new one in the same slot.
    private func reopen(_ connection: Connection) {
        retire(connection)
        guard running, !finished, monotonicNanos() < windowEnd else { return }
        totals.reconnects += 1
        connections[connection.slot] = open(slot: connection.slot)
    }

    /// After an error: a timed run goes on with a new connection; a `--requests` run gives the slot up.
    private func abandon(_ connection: Connection) {
        if settings.requests != nil {
            retire(connection)
            finishSlot(connection.slot)
        } else {
            reopen(connection)
        }
    }

    private func finishSlot(_ slot: Int) {
        guard running, !slotDone[slot] else { return }
        slotDone[slot] = true
        activeSlots -= 1
        if settings.requests != nil && activeSlots == 0 { finish() }
    }

    private func finish() {
        guard !finished else { return }
        finished = true
        loop.stop()
    }
}
