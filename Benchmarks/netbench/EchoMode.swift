@preconcurrency import Glibc
import NetCore

/// `netbench echo`: N connections, each keeping K messages of S bytes in flight (ping-pong when K = 1).
enum EchoMode {
    struct Settings: Sendable {
        var target: Target
        /// `--tls`: connections are TLS, from this client context.
        var tls: TLSClient?
        var connections: Int
        var size: Int
        var inflight: Int
        var warmup: Double
        var duration: Double
        var drain: Double
        var threads: Int
        var setupTimeout: Double
        var connectParallel: Int
        var label: String
        var prefix: String
    }

    /// What one worker counted.
    struct Totals: Sendable {
        var connected = 0
        var windowMessages: UInt64 = 0
        var messages: UInt64 = 0
        var sentBytes: UInt64 = 0
        var receivedBytes: UInt64 = 0
        var reads: UInt64 = 0
        var prefixes: UInt64 = 0
        var corrupt: UInt64 = 0
        var ioErrors: UInt64 = 0
        var connectErrors: UInt64 = 0
        var outstandingAtEnd: UInt64 = 0
        var firstError: String?
        var histogram = Histogram()

        mutating func add(_ other: Totals) {
            connected += other.connected
            windowMessages += other.windowMessages
            messages += other.messages
            sentBytes += other.sentBytes
            receivedBytes += other.receivedBytes
            reads += other.reads
            prefixes += other.prefixes
            corrupt += other.corrupt
            ioErrors += other.ioErrors
            connectErrors += other.connectErrors
            outstandingAtEnd += other.outstandingAtEnd
            firstError = firstError ?? other.firstError
            histogram.merge(other.histogram)
        }
    }

    static func parse(_ options: Options) throws(Options.UsageError) -> Settings {
        let connections = try options.int("connections", default: 1, in: 1...1_000_000)
        return Settings(
            target: try options.target(),
            tls: try options.tlsClient(),
            connections: connections,
            size: try options.int("size", default: 64, in: 1...(64 << 20)),
            inflight: try options.int("inflight", default: 1, in: 1...1024),
            warmup: try options.double("warmup", default: 1, in: 0...60),
            duration: try options.double("duration", default: 5, in: 0.05...3600),
            drain: try options.double("drain", default: 2, in: 0...60),
            threads: min(connections, try options.int("threads", default: 1, in: 1...64)),
            setupTimeout: try options.double("setup-timeout", default: 30, in: 1...600),
            connectParallel: try options.int("connect-parallel", default: 256, in: 1...100_000),
            label: options.string("label") ?? "",
            prefix: options.string("prefix") ?? "Repeating: "
        )
    }

    static func run(_ settings: Settings) -> Int32 {
        if let first = settings.prefix.utf8.first, (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first) {
            warn("--prefix must not start with a lowercase letter (the payload alphabet)")
            return 2
        }
        raiseDescriptorLimit(to: settings.connections + 16)
        let pattern = EchoPattern(size: settings.size, prefix: settings.prefix)
        let cpuBefore = processCPUSeconds()
        let wallBefore = monotonicNanos()
        let (results, _) = runWorkers(threads: settings.threads) { index, gate in
            let count = share(of: settings.connections, worker: index, threads: settings.threads)
            let worker: EchoWorker
            do {
                worker = try EchoWorker(settings: settings, pattern: pattern, count: count)
            } catch {
                var totals = Totals()
                totals.connectErrors = UInt64(count)
                totals.firstError = "cannot create an event loop: \(error)"
                _ = gate.workerReady()
                return totals
            }
            worker.connectAll()
            let start = gate.workerReady()
            return worker.measure(start: start)
        }
        let wall = Double(monotonicNanos() - wallBefore) / 1e9
        let cpuPercent = 100 * (processCPUSeconds() - cpuBefore) / max(wall, 1e-9)
        var totals = Totals()
        for result in results { totals.add(result) }
        report(settings, totals, cpuPercent: cpuPercent, wall: wall)
        return totals.connected == 0 ? 1 : 0
    }

    static func report(_ s: Settings, _ t: Totals, cpuPercent: Double, wall: Double) {
        let rate = Double(t.windowMessages) / s.duration
        let megabytes = rate * Double(s.size) / 1e6
        let h = t.histogram
        let p50 = Double(h.value(atQuantile: 0.50)) / 1000
        let p99 = Double(h.value(atQuantile: 0.99)) / 1000
        let p999 = Double(h.value(atQuantile: 0.999)) / 1000
        let maxUs = Double(h.maxValue) / 1000
        let errors = t.corrupt + t.ioErrors + t.connectErrors
        if let firstError = t.firstError { warn("first error: \(firstError)") }
        emit(
            "echo \(s.target): conns=\(t.connected)/\(s.connections) size=\(s.size) inflight=\(s.inflight) "
                + "threads=\(s.threads): \(fixed(rate, 0)) msgs/s, \(fixed(megabytes, 2)) MB/s payload, "
                + "p50 \(fixed(p50)) us, p99 \(fixed(p99)) us, p99.9 \(fixed(p999)) us, max \(fixed(maxUs)) us, "
                + "errors \(errors) (corrupt \(t.corrupt), io \(t.ioErrors), connect \(t.connectErrors))"
        )
        emit(
            "  whole run: messages=\(t.messages) tx_bytes=\(t.sentBytes) rx_bytes=\(t.receivedBytes) "
                + "reads=\(t.reads) prefixes=\(t.prefixes) outstanding_at_end=\(t.outstandingAtEnd) "
                + "netbench_cpu=\(fixed(cpuPercent, 0))% wall=\(fixed(wall, 2))s"
        )
        emit(
            "RESULT mode=echo msgs_per_s=\(fixed(rate, 0)) mb_per_s=\(fixed(megabytes, 2)) p50_us=\(fixed(p50)) "
                + "p99_us=\(fixed(p99)) p999_us=\(fixed(p999)) errors=\(errors) label=\(s.label) "
                + "conns=\(s.connections) connected=\(t.connected) size=\(s.size) inflight=\(s.inflight) "
                + "threads=\(s.threads) duration=\(fixed(s.duration, 2)) msgs=\(t.windowMessages) "
                + "max_us=\(fixed(maxUs)) corrupt=\(t.corrupt) io_errors=\(t.ioErrors) "
                + "connect_errors=\(t.connectErrors) cpu_pct=\(fixed(cpuPercent, 0))"
        )
    }
}

// The hot path (a reply arrives → verify → book → send the next message) keeps its mutable state behind pointers.
// Every access to a class's stored `var` is a dynamic exclusivity check (swift_beginAccess and a thread-local
// access set); measured, those checks were about a fifth of netbench's user time per message, and netbench must
// cost little next to the server it measures.

/// What the hot path of one connection changes.
struct EchoConnectionState {
    var phase = EchoConnection.Phase.connecting
    var stream = EchoStream()
    /// Messages sent and completed.
    var queued: UInt64 = 0
    var done: UInt64 = 0
    /// Counted as outstanding when the run ended; the drain waits for it.
    var awaitingDrain = false
}

/// One connection of the echo mode.
final class EchoConnection {
    enum Phase { case connecting, open, closed }

    let socket: Socket
    let state: UnsafeMutablePointer<EchoConnectionState>
    /// A ring of the send times of the messages in flight.
    let starts: UnsafeMutablePointer<UInt64>

    init(socket: Socket, inflight: Int) {
        self.socket = socket
        state = .allocate(capacity: 1)
        state.initialize(to: EchoConnectionState())
        starts = .allocate(capacity: inflight)
        starts.initialize(repeating: 0, count: inflight)
    }

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
        starts.deallocate()
    }
}

/// What the hot path of one worker changes.
struct EchoWorkerState {
    var windowStart: UInt64 = .max
    var windowEnd: UInt64 = .max
    var connected = 0
    var windowMessages: UInt64 = 0
    var messages: UInt64 = 0
    var sentBytes: UInt64 = 0
    var receivedBytes: UInt64 = 0
    var reads: UInt64 = 0
    var corrupt: UInt64 = 0
    var ioErrors: UInt64 = 0
    var connectErrors: UInt64 = 0
    var draining = false
    var finished = false
    var outstandingConnections = 0
    var histogram = HistogramRecorder()
}

/// The connections of one thread, on that thread's own EventLoop.
final class EchoWorker {
    let loop: EventLoop
    let settings: EchoMode.Settings
    let pattern: EchoPattern
    let count: Int
    let size: UInt64
    let inflight: UInt64
    /// `inflight` references to the message, so K new messages go out as one gathered write.
    let batch: [Buffer]
    let hot: UnsafeMutablePointer<EchoWorkerState>
    var connections: [EchoConnection] = []
    var firstError: String?
    var pacer: ConnectPacer?
    var drainTimer: Timeout?

    init(settings: EchoMode.Settings, pattern: EchoPattern, count: Int) throws {
        loop = try EventLoop()
        self.settings = settings
        self.pattern = pattern
        self.count = count
        size = UInt64(settings.size)
        inflight = UInt64(settings.inflight)
        batch = Array(repeating: pattern.message, count: settings.inflight)
        hot = .allocate(capacity: 1)
        hot.initialize(to: EchoWorkerState())
        connections.reserveCapacity(count)
    }

    deinit {
        hot.pointee.histogram.deallocate()
        hot.deinitialize(count: 1)
        hot.deallocate()
    }

    // MARK: - Setup

    func connectAll() {
        let pacer = ConnectPacer(loop: loop, count: count, parallel: settings.connectParallel) { [unowned self] _ in
            open()
        }
        self.pacer = pacer
        if !pacer.run(timeout: settings.setupTimeout) {
            for connection in connections where connection.state.pointee.phase == .connecting {
                connection.state.pointee.phase = .closed
                connection.socket.destroy()
                hot.pointee.connectErrors += 1
                firstError = firstError ?? "connect timed out"
            }
        }
        self.pacer = nil
    }

    private func open() {
        let (socket, start) = makeSocket(loop: loop, to: settings.target, tls: settings.tls)
        let connection = EchoConnection(socket: socket, inflight: settings.inflight)
        connections.append(connection)
        // unowned(unsafe): no reference counting per event. Safe: the worker and its connections (kept in
        // `connections`) outlive every `loop.run()`, the only place listeners are called from.
        socket.on(.data) { [unowned(unsafe) self, unowned(unsafe) connection] chunk in
            received(chunk, on: connection)
        }
        socket.on(.error) { [unowned(unsafe) self, unowned(unsafe) connection] error in failed(connection, error) }
        socket.on(.close) { [unowned(unsafe) self, unowned(unsafe) connection] _ in closed(connection) }
        start { [unowned(unsafe) self, unowned(unsafe) connection] in
            guard connection.state.pointee.phase == .connecting else { return }
            connection.state.pointee.phase = .open
            hot.pointee.connected += 1
            if case .tcp = settings.target { connection.socket.setNoDelay(true) }
            pacer?.settle()
        }
    }

    // MARK: - Measuring

    func measure(start: UInt64) -> EchoMode.Totals {
        let windowStart = start + nanos(seconds: settings.warmup)
        hot.pointee.windowStart = windowStart
        hot.pointee.windowEnd = windowStart + nanos(seconds: settings.duration)
        let now = monotonicNanos()
        for connection in connections where connection.state.pointee.phase == .open {
            for _ in 0..<inflight {
                connection.starts[Int(connection.state.pointee.queued % inflight)] = now
                connection.state.pointee.queued += 1
            }
            send(inflight, on: connection)
        }
        let windowEnd = hot.pointee.windowEnd
        let remaining = windowEnd > now ? windowEnd - now : 0
        loop.setTimeout(Int(remaining / 1_000_000) + 1) { [unowned self] in beginDrain() }
        loop.run()
        return collect()
    }

    /// Closes every connection and sums up.
    private func collect() -> EchoMode.Totals {
        var totals = EchoMode.Totals()
        let h = hot.pointee
        totals.connected = h.connected
        totals.windowMessages = h.windowMessages
        totals.messages = h.messages
        totals.sentBytes = h.sentBytes
        totals.receivedBytes = h.receivedBytes
        totals.reads = h.reads
        totals.corrupt = h.corrupt
        totals.ioErrors = h.ioErrors
        totals.connectErrors = h.connectErrors
        totals.firstError = firstError
        totals.histogram = Histogram(h.histogram)
        for connection in connections {
            let state = connection.state
            totals.prefixes += state.pointee.stream.prefixes
            if state.pointee.phase == .open {
                totals.outstandingAtEnd += state.pointee.queued - state.pointee.done
                state.pointee.phase = .closed
                connection.socket.destroy()
            }
        }
        return totals
    }

    @inline(__always)
    private func send(_ messages: UInt64, on connection: EchoConnection) {
        connection.state.pointee.stream.sent &+= messages &* size
        hot.pointee.sentBytes &+= messages &* size
        if messages == 1 {
            connection.socket.write(pattern.message.bytes)
        } else {
            connection.socket.write(contentsOf: batch[0..<Int(messages)])
        }
    }

    private func received(_ chunk: Buffer, on connection: EchoConnection) {
        let state = connection.state
        let hot = self.hot
        guard state.pointee.phase == .open else { return }
        hot.pointee.receivedBytes &+= UInt64(chunk.count)
        hot.pointee.reads &+= 1
        let pattern = self.pattern
        let failure = chunk.bytes.withUnsafeBytes { state.pointee.stream.consume($0, pattern) }
        if let failure {
            hot.pointee.corrupt += 1
            firstError = firstError ?? "reply verification failed: \(failure)"
            connection.socket.destroy()
            markClosed(connection)
            return
        }
        let received = state.pointee.stream.received
        let size = self.size
        guard state.pointee.done < state.pointee.queued, received >= (state.pointee.done + 1) * size else { return }
        let now = monotonicNanos()
        let inWindow = now >= hot.pointee.windowStart && now < hot.pointee.windowEnd
        let sending = now < hot.pointee.windowEnd
        let inflight = self.inflight
        let starts = connection.starts
        var fresh: UInt64 = 0
        repeat {
            let started = starts[Int(state.pointee.done % inflight)]
            state.pointee.done &+= 1
            hot.pointee.messages &+= 1
            if inWindow {
                hot.pointee.windowMessages &+= 1
                hot.pointee.histogram.record(now &- started)
            }
            if sending {
                starts[Int(state.pointee.queued % inflight)] = now
                state.pointee.queued &+= 1
                fresh &+= 1
            }
        } while state.pointee.done < state.pointee.queued && received >= (state.pointee.done + 1) * size
        if fresh > 0 {
            send(fresh, on: connection)
        } else if state.pointee.awaitingDrain && state.pointee.done == state.pointee.queued {
            state.pointee.awaitingDrain = false
            connectionDrained()
        }
    }

    private func failed(_ connection: EchoConnection, _ error: SocketError) {
        switch connection.state.pointee.phase {
        case .connecting:
            hot.pointee.connectErrors += 1
            firstError = firstError ?? "connect: \(error)"
            connection.state.pointee.phase = .closed
            pacer?.settle()
        case .open:
            hot.pointee.ioErrors += 1
            firstError = firstError ?? "\(error)"
            markClosed(connection)
        case .closed:
            break
        }
    }

    private func closed(_ connection: EchoConnection) {
        switch connection.state.pointee.phase {
        case .connecting:
            // Closed without an error event while connecting: count it as a failed connect.
            hot.pointee.connectErrors += 1
            connection.state.pointee.phase = .closed
            pacer?.settle()
        case .open:
            // The server closed a connection we were still using.
            hot.pointee.ioErrors += 1
            firstError = firstError ?? "server closed a connection"
            markClosed(connection)
        case .closed:
            break
        }
    }

    private func markClosed(_ connection: EchoConnection) {
        connection.state.pointee.phase = .closed
        if connection.state.pointee.awaitingDrain {
            connection.state.pointee.awaitingDrain = false
            connectionDrained()
        }
    }

    // MARK: - Ending

    private func beginDrain() {
        hot.pointee.draining = true
        for connection in connections {
            let state = connection.state
            if state.pointee.phase == .open && state.pointee.done < state.pointee.queued {
                state.pointee.awaitingDrain = true
                hot.pointee.outstandingConnections += 1
            }
        }
        if hot.pointee.outstandingConnections == 0 {
            finish()
        } else {
            drainTimer = loop.setTimeout(Int(settings.drain * 1000)) { [unowned self] in finish() }
        }
    }

    private func connectionDrained() {
        hot.pointee.outstandingConnections -= 1
        if hot.pointee.draining && hot.pointee.outstandingConnections == 0 { finish() }
    }

    private func finish() {
        guard !hot.pointee.finished else { return }
        hot.pointee.finished = true
        drainTimer?.cancel()
        loop.stop()
    }
}
