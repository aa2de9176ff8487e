@preconcurrency import Glibc
import NetCore

/// `--workers N` (the seed's cluster.js): the supervisor starts N worker processes, each this same program re-run
/// with the same arguments, all listening on one TCP port with SO_REUSEPORT, and replaces any that die.
///
/// - The port is reserved first (bound, not listening), so `--port 0` becomes a concrete port for every worker, a
///   port in use fails once here (exit 3) instead of in every worker, and no other program can take the port while
///   workers restart.
/// - The ready line is printed once every first-generation worker listens, so a client can connect at once.
/// - A worker that exits with 2, 3 or 4 (bad command line, cannot listen, TLS set-up) would fail again: everything stops with its
///   code. Others are restarted at once, but not more than N times per second (a crash loop is slowed, not fed).
/// - SIGINT/SIGTERM: SIGTERM to every worker, SIGKILL to those left after 10 s, then exit 0.
/// - A worker notices a dead supervisor by end of file on its control channel (`ChildProcess`) and stops.
final class Supervisor {
    let name: String
    let settings: WebServerSettings
    let count: Int
    let loop = EventLoop.main
    /// Added to each worker's environment (with `--tls`, the generated certificate).
    let environment: [String: String]

    /// The live workers by pid, with their control channels.
    private var workers: [Int32: (control: ReadStream, isListening: Bool)] = [:]
    private var announced = false
    private var stopping = false
    private var exitCode = WebServer.ExitCode.success
    private var reservation: PortReservation?
    /// When recent restarts happened (loop milliseconds), for the rate limit.
    private var restartTimes: [UInt64] = []
    private var pendingRestarts = 0
    private var restartTimer: Timeout?
    private var killTimer: Timeout?
    private var childWatcher: SignalWatcher?

    /// How long workers get to stop after SIGTERM before SIGKILL.
    static let stopGraceMilliseconds = 10_000

    init(name: String, settings: WebServerSettings, workers: Int, environment: [String: String] = [:]) {
        self.name = name
        self.settings = settings
        self.count = workers
        self.environment = environment
    }

    func run() -> Int32 {
        let reserved: PortReservation
        do {
            reserved = try PortReservation(host: settings.host, port: settings.port)
        } catch {
            let reason = error.message.prefix(1).lowercased() + error.message.dropFirst()
            Console.error("\(name): cannot listen on \(settings.place): \(reason) (\(error.code))")
            return WebServer.ExitCode.cannotListen.rawValue
        }
        reservation = reserved
        let pid = ChildProcess.currentPID
        Console.line("master \(pid) (마스터 프로세스 아이디: \(pid))")
        // Watch SIGCHLD before the first fork, so no exit can go unnoticed; ref'd: it keeps the loop alive.
        childWatcher = loop.onSignal(SIGCHLD) { [unowned self] in reap() }.ref()
        let interrupt = loop.onSignal(SIGINT) { [unowned self] in stop(with: .success) }
        let terminate = loop.onSignal(SIGTERM) { [unowned self] in stop(with: .success) }
        for _ in 0..<count { spawn() }
        loop.run()
        interrupt.cancel()
        terminate.cancel()
        reserved.release()
        return exitCode.rawValue
    }

    // MARK: - Workers

    private func spawn() {
        guard !stopping, let port = reservation?.port else { return }
        let spawned: ChildProcess.Spawned
        do {
            spawned = try ChildProcess.spawnSelf(
                arguments: CommandLine.arguments,
                environment: environment.merging([WorkerLink.portVariable: String(port)]) { $1 },
                controlDescriptor: WorkerLink.controlDescriptor,
                // Until the worker's own handlers are set: a SIGTERM while it starts is then a graceful stop.
                blockedSignals: [SIGTERM, SIGINT]
            )
        } catch {
            Console.error("\(name): cannot start a worker: \(error)")
            stop(with: .failure)
            return
        }
        let pid = spawned.pid
        Console.line("worker \(pid) started (\(pid)번 워커 실행)")
        let control = ReadStream(descriptor: spawned.control, closesDescriptor: true, loop: loop)
        control.on(.data) { [unowned self] chunk in
            if chunk.bytes.contains(WorkerLink.listeningMessage) { workerListens(pid) }
        }
        control.on(.error) { _ in }  // the worker died mid-message: SIGCHLD tells the rest
        workers[pid] = (control, false)
    }

    private func workerListens(_ pid: Int32) {
        guard workers[pid] != nil else { return }
        workers[pid]?.isListening = true
        if !announced && !stopping && workers.values.filter(\.isListening).count >= count {
            announced = true
            Console.line(
                WebServer.readyLine(
                    port: reservation?.port ?? 0, boundHost: reservation?.address.host,
                    scheme: settings.tls == nil ? "http" : "https"))
        }
    }

    private func reap() {
        for (pid, termination) in ChildProcess.reapExited() {
            guard let worker = workers.removeValue(forKey: pid) else { continue }
            worker.control.destroy()
            Console.line("worker \(pid) exited (\(termination)) (\(pid)번 워커가 종료되었습니다.)")
            if stopping { continue }
            if let code = termination.code,
                [WebServer.ExitCode.usage, .cannotListen, .tlsSetup].map(\.rawValue).contains(code)
            {
                // It would fail the same way again: no restart loop.
                Console.error("\(name): worker \(pid) exited with code \(code); stopping all workers")
                stop(with: WebServer.ExitCode(rawValue: code) ?? .failure)
                continue
            }
            restartSoon()
        }
        if stopping && workers.isEmpty { finish() }
    }

    /// Starts a replacement now, or once the last second has seen fewer than `count` restarts.
    private func restartSoon() {
        let now = loop.now
        restartTimes.removeAll { now >= $0 + 1000 }
        if restartTimes.count < count && restartTimer == nil {
            restartTimes.append(now)
            spawn()
            return
        }
        pendingRestarts += 1
        guard restartTimer == nil, let oldest = restartTimes.first else { return }
        let delay = Int(oldest + 1000 - min(now, oldest + 1000))
        restartTimer = loop.setTimeout(max(1, delay)) { [unowned self] in
            restartTimer = nil
            let due = pendingRestarts
            pendingRestarts = 0
            for _ in 0..<due { restartSoon() }
        }
    }

    // MARK: - Stopping

    private func stop(with code: WebServer.ExitCode) {
        guard !stopping else { return }
        stopping = true
        exitCode = code
        if code == .success { Console.line("shutting down") }
        restartTimer?.cancel()
        restartTimer = nil
        pendingRestarts = 0
        for pid in workers.keys { try? ChildProcess.kill(pid, signal: SIGTERM) }
        if workers.isEmpty {
            finish()
            return
        }
        killTimer = loop.setTimeout(Self.stopGraceMilliseconds) { [unowned self] in
            for pid in workers.keys {
                Console.error("\(name): worker \(pid) did not stop within 10 s; killing it")
                try? ChildProcess.kill(pid, signal: SIGKILL)
            }
        }.unref()
    }

    /// Every worker has exited: let the loop end.
    private func finish() {
        killTimer?.cancel()
        childWatcher?.cancel()
        childWatcher = nil
        reservation?.release()
    }
}
