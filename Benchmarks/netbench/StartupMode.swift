@preconcurrency import Glibc

/// `netbench probe` (wait until a server answers) and `netbench startup` (spawn a server and time exec → first
/// served connection). Both use plain blocking sockets: there is nothing to multiplex, and the probe must not
/// depend on the library being measured.
enum StartupMode {
    enum Probe: String, Sendable {
        /// The connection is accepted (the server listens).
        case connect
        /// An echo round trip: "netbench" → "Repeating: netbench".
        case echo
        /// A GET / answered with an HTTP status line.
        case http
    }

    struct Settings: Sendable {
        var target: Target
        var probe: Probe
        var timeout: Double
        var repeats: Int
        var command: [String]
        var label: String
    }

    static func parse(_ options: Options, defaultProbe: Probe) throws(Options.UsageError) -> Settings {
        let name = options.string("probe") ?? defaultProbe.rawValue
        guard let probe = Probe(rawValue: name) else {
            throw Options.UsageError(description: "--probe must be connect, echo or http")
        }
        return Settings(
            target: try options.target(defaultPort: nil),
            probe: probe,
            timeout: try options.double("timeout", default: 10, in: 0.01...600),
            repeats: try options.int("repeat", default: 1, in: 1...1000),
            command: options.command,
            label: options.string("label") ?? ""
        )
    }

    // MARK: - probe

    static func probe(_ s: Settings) -> Int32 {
        let start = monotonicNanos()
        let deadline = start + nanos(seconds: s.timeout)
        var attempts = 0
        while monotonicNanos() < deadline {
            attempts += 1
            if attempt(s.target, s.probe) {
                let ms = Double(monotonicNanos() - start) / 1e6
                emit("RESULT mode=probe ok=1 ms=\(fixed(ms, 2)) attempts=\(attempts) label=\(s.label)")
                return 0
            }
            sleepSeconds(0.002)
        }
        emit("RESULT mode=probe ok=0 attempts=\(attempts) label=\(s.label)")
        return 1
    }

    // MARK: - startup

    static func startup(_ s: Settings) -> Int32 {
        guard !s.command.isEmpty else {
            warn("startup needs the server command after --")
            return 2
        }
        var samples: [Double] = []
        var attemptsTotal = 0
        for _ in 0..<s.repeats {
            guard let (ms, attempts) = spawnAndTime(s) else { return 1 }
            samples.append(ms)
            attemptsTotal += attempts
        }
        samples.sort()
        let median = samples[samples.count / 2]
        emit(
            "startup \(s.command.joined(separator: " ")): exec → first \(s.probe.rawValue) answered in "
                + samples.map { fixed($0, 2) }.joined(separator: ", ") + " ms"
        )
        emit(
            "RESULT mode=startup ms=\(fixed(median, 2)) min_ms=\(fixed(samples[0], 2)) "
                + "max_ms=\(fixed(samples[samples.count - 1], 2)) runs=\(samples.count) probe=\(s.probe.rawValue) "
                + "attempts=\(attemptsTotal) errors=0 label=\(s.label)"
        )
        return 0
    }

    /// Spawns the server, probes until it answers, stops it. Returns the time from just before the spawn to the
    /// answered probe, and how many probes that took.
    private static func spawnAndTime(_ s: Settings) -> (Double, Int)? {
        if case .unix(let path) = s.target { unlink(path) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        var argv: [UnsafeMutablePointer<CChar>?] = s.command.map { strdup($0) } + [nil]
        defer { for pointer in argv { free(pointer) } }
        var pid: pid_t = 0
        let start = monotonicNanos()
        let rc = posix_spawnp(&pid, s.command[0], &actions, nil, &argv, environ)
        guard rc == 0 else {
            warn("cannot start \(s.command[0]): \(String(cString: strerror(rc)))")
            emit("RESULT mode=startup ok=0 errors=1 label=\(s.label)")
            return nil
        }
        let deadline = start + nanos(seconds: s.timeout)
        var attempts = 0
        var answeredAt: UInt64?
        while monotonicNanos() < deadline {
            attempts += 1
            if attempt(s.target, s.probe) {
                answeredAt = monotonicNanos()
                break
            }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid {
                warn("\(s.command[0]) exited before answering (status \(status))")
                emit("RESULT mode=startup ok=0 errors=1 label=\(s.label)")
                return nil
            }
            sleepSeconds(0.0002)
        }
        stop(pid)
        guard let answeredAt else {
            warn("\(s.command[0]) did not answer within \(s.timeout) s")
            emit("RESULT mode=startup ok=0 errors=1 label=\(s.label)")
            return nil
        }
        return (Double(answeredAt - start) / 1e6, attempts)
    }

    /// SIGTERM, then SIGKILL if it is still there after 3 s; reaps the child.
    private static func stop(_ pid: pid_t) {
        kill(pid, SIGTERM)
        let deadline = monotonicNanos() + 3_000_000_000
        var status: Int32 = 0
        while monotonicNanos() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            sleepSeconds(0.005)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    // MARK: - One attempt

    /// One blocking connection attempt (and exchange, for echo and http probes) with 1 s socket timeouts.
    static func attempt(_ target: Target, _ probe: Probe) -> Bool {
        guard let fd = connectBlocking(target) else { return false }
        defer { close(fd) }
        switch probe {
        case .connect:
            return true
        case .echo:
            let expected = Array("Repeating: netbench".utf8)
            guard sendAll(fd, Array("netbench".utf8)) else { return false }
            var reply: [UInt8] = []
            while reply.count < expected.count {
                guard let chunk = receive(fd), !chunk.isEmpty else { return false }
                reply += chunk
            }
            return reply == expected
        case .http:
            guard sendAll(fd, Array("GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)) else {
                return false
            }
            var reply: [UInt8] = []
            while reply.count < 12 {
                guard let chunk = receive(fd), !chunk.isEmpty else { return false }
                reply += chunk
            }
            return reply.starts(with: Array("HTTP/1.".utf8))
        }
    }

    private static func connectBlocking(_ target: Target) -> Int32? {
        switch target {
        case .unix(let path):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return nil }
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                for (i, byte) in bytes.enumerated() { raw[i] = byte }
            }
            return connectRaw(AF_UNIX, &address, socklen_t(MemoryLayout<sockaddr_un>.size))
        case .tcp(let host, let port):
            if host.contains(":") {
                var address = sockaddr_in6()
                address.sin6_family = sa_family_t(AF_INET6)
                address.sin6_port = UInt16(port).bigEndian
                guard inet_pton(AF_INET6, host, &address.sin6_addr) == 1 else { return nil }
                return connectRaw(AF_INET6, &address, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(port).bigEndian
            guard inet_pton(AF_INET, host, &address.sin_addr) == 1 else { return nil }
            return connectRaw(AF_INET, &address, socklen_t(MemoryLayout<sockaddr_in>.size))
        }
    }

    private static func connectRaw<Address>(_ family: Int32, _ address: inout Address, _ length: socklen_t) -> Int32? {
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        var timeout = timeval(tv_sec: 1, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
        }
        if rc != 0 {
            close(fd)
            return nil
        }
        return fd
    }

    private static func sendAll(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress! + offset, $0.count - offset, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { return false }
            offset += n
        }
        return true
    }

    private static func receive(_ fd: Int32) -> [UInt8]? {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { return nil }
            return Array(buffer[0..<n])
        }
    }
}
