@preconcurrency import Glibc
import NetCore

/// `netbench handshakes --tls ...`: full TLS handshakes per second. `--connections C` handshakes are kept in
/// flight; each connection is destroyed as soon as its handshake completes (no data, no close_notify) and a new
/// one takes its place. Every handshake is a full one (the client context keeps no sessions).
enum HandshakeMode {
    struct Settings: Sendable {
        var target: Target
        var tls: TLSClient
        var connections: Int
        var warmup: Double
        var duration: Double
        var threads: Int
        var label: String
    }

    struct Totals: Sendable {
        var handshakes: UInt64 = 0
        var windowHandshakes: UInt64 = 0
        var failures: UInt64 = 0
        var firstError: String?
        var histogram = Histogram()

        mutating func add(_ other: Totals) {
            handshakes += other.handshakes
            windowHandshakes += other.windowHandshakes
            failures += other.failures
            firstError = firstError ?? other.firstError
            histogram.merge(other.histogram)
        }
    }

    static func parse(_ options: Options) throws(Options.UsageError) -> Settings {
        guard let tls = try options.tlsClient() else {
            throw Options.UsageError(description: "handshakes needs --tls insecure|CAFILE")
        }
        let connections = try options.int("connections", default: 16, in: 1...100_000)
        return Settings(
            target: try options.target(),
            tls: tls,
            connections: connections,
            warmup: try options.double("warmup", default: 1, in: 0...60),
            duration: try options.double("duration", default: 5, in: 0.05...3600),
            threads: min(connections, try options.int("threads", default: 1, in: 1...64)),
            label: options.string("label") ?? ""
        )
    }

    static func run(_ settings: Settings) -> Int32 {
        raiseDescriptorLimit(to: settings.connections * 2 + 16)
        let cpuBefore = processCPUSeconds()
        let wallBefore = monotonicNanos()
        let (results, _) = runWorkers(threads: settings.threads) { index, gate in
            let count = share(of: settings.connections, worker: index, threads: settings.threads)
            do {
                let worker = try HandshakeWorker(settings: settings, count: count)
                let start = gate.workerReady()
                return worker.measure(start: start)
            } catch {
                _ = gate.workerReady()
                var totals = Totals()
                totals.firstError = "cannot create an event loop: \(error)"
                return totals
            }
        }
        let wall = Double(monotonicNanos() - wallBefore) / 1e9
        let cpuPercent = 100 * (processCPUSeconds() - cpuBefore) / max(wall, 1e-9)
        var totals = Totals()
        for result in results { totals.add(result) }
        let rate = Double(totals.windowHandshakes) / settings.duration
        let h = totals.histogram
        let p50 = Double(h.value(atQuantile: 0.50)) / 1000
        let p99 = Double(h.value(atQuantile: 0.99)) / 1000
        if let firstError = totals.firstError { warn("first error: \(firstError)") }
        emit(
            "handshakes \(settings.target): in flight \(settings.connections), threads \(settings.threads): "
                + "\(fixed(rate, 0)) handshakes/s, p50 \(fixed(p50)) us, p99 \(fixed(p99)) us, "
                + "failures \(totals.failures), netbench_cpu=\(fixed(cpuPercent, 0))%")
        emit(
            "RESULT mode=handshakes handshakes_per_s=\(fixed(rate, 0)) p50_us=\(fixed(p50)) p99_us=\(fixed(p99)) "
                + "failures=\(totals.failures) errors=\(totals.failures) label=\(settings.label) "
                + "conns=\(settings.connections) threads=\(settings.threads) duration=\(fixed(settings.duration, 2)) "
                + "handshakes=\(totals.windowHandshakes) cpu_pct=\(fixed(cpuPercent, 0))")
        return totals.windowHandshakes == 0 ? 1 : 0
    }
}

/// One thread's handshakes, on its own loop.
final class HandshakeWorker {
    let loop: EventLoop
    let settings: HandshakeMode.Settings
    let count: Int
    var totals = HandshakeMode.Totals()
    var recorder = HistogramRecorder()
    var windowStart: UInt64 = .max
    var windowEnd: UInt64 = .max
    var stopping = false
    var inFlight = 0

    init(settings: HandshakeMode.Settings, count: Int) throws {
        loop = try EventLoop()
        self.settings = settings
        self.count = count
    }

    deinit { recorder.deallocate() }

    func measure(start: UInt64) -> HandshakeMode.Totals {
        windowStart = start + nanos(seconds: settings.warmup)
        windowEnd = windowStart + nanos(seconds: settings.duration)
        for _ in 0..<count { startOne() }
        let total = windowEnd > start ? windowEnd - start : 0
        loop.setTimeout(Int(total / 1_000_000) + 1) { [unowned self] in stopping = true }
        loop.run()
        totals.histogram = Histogram(recorder)
        return totals
    }

    private func startOne() {
        guard !stopping else { return }
        inFlight += 1
        let began = monotonicNanos()
        let (socket, start) = makeSocket(loop: loop, to: settings.target, tls: settings.tls)
        var settled = false
        socket.on(.error) { [unowned self] error in
            guard !settled else { return }
            settled = true
            totals.failures += 1
            totals.firstError = totals.firstError ?? "\(error)"
        }
        socket.on(.close) { [unowned self] _ in
            if !settled {
                settled = true
                totals.failures += 1
                totals.firstError = totals.firstError ?? "closed before the handshake completed"
            }
            inFlight -= 1
            startOne()
        }
        start { [unowned self] in
            guard !settled else { return }
            settled = true
            let now = monotonicNanos()
            totals.handshakes += 1
            if now >= windowStart && now < windowEnd {
                totals.windowHandshakes += 1
                recorder.record(now - began)
            }
            socket.destroy()
        }
    }
}
