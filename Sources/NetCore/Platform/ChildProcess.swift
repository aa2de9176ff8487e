import CNetCoreShims
@preconcurrency import Glibc

/// Worker processes of the running program (Node's `cluster.fork()`): re-running this very executable with other
/// environment variables, reaping children that have exited, and signalling them.
///
/// Each child gets one end of a Unix socket pair as a *control channel* on a fixed descriptor (3 by default); the
/// parent keeps the other end. The channel carries tiny messages from the child (e.g. "listening"), and it is how a
/// child learns that its parent died, however it died: the kernel closes the parent's end, and the child reads end
/// of file. (`prctl(PR_SET_PDEATHSIG)` cannot be requested through `posix_spawn`, and polling `getppid()` notices
/// late; an end of file is immediate.)
public enum ChildProcess {
    /// A started child.
    public struct Spawned: Sendable, Equatable {
        /// The child's process id.
        public let pid: Int32
        /// The parent's end of the control channel, close-on-exec; the caller owns it (close it with `close(_:)`).
        public let control: Int32
    }

    /// How a child ended, as `waitpid` reports it.
    public enum Termination: Sendable, Equatable, CustomStringConvertible {
        /// It called `exit(code)` or returned from `main`.
        case exited(code: Int32)
        /// A signal killed it.
        case signaled(signal: Int32)

        /// The exit code, or nil when a signal ended it (Node's `code`).
        public var code: Int32? {
            if case .exited(let code) = self { return code }
            return nil
        }

        /// The signal number, or nil when it exited (Node's `signal`).
        public var signal: Int32? {
            if case .signaled(let signal) = self { return signal }
            return nil
        }

        /// `"code 1, signal null"` / `"code null, signal 9"`, with `null` where Node prints it.
        public var description: String {
            "code \(code.map(String.init) ?? "null"), signal \(signal.map(String.init) ?? "null")"
        }

        /// Decodes a `waitpid` status word (the W* macros are not visible from Swift).
        init(status: Int32) {
            let low = status & 0x7f
            self = low == 0 ? .exited(code: (status >> 8) & 0xff) : .signaled(signal: low)
        }
    }

    /// Starts this executable again (`/proc/self/exe`) with `arguments` as its `argv` (the first is `argv[0]`), the
    /// current environment plus `environment` (which wins on equal names), standard input, output and error
    /// inherited, every signal at its default action and none blocked but `blockedSignals`. The child's end of a
    /// fresh control channel is its descriptor `controlDescriptor`.
    ///
    /// Block the signals the child will handle (SIGTERM, SIGINT) and have it unblock them once its handlers are in
    /// place (`unblockSignals`): one that arrives while the child is still starting then waits for the handler
    /// instead of killing the child with the default action (a worker told to stop gracefully died of SIGTERM).
    public static func spawnSelf(
        arguments: [String],
        environment: [String: String],
        controlDescriptor: Int32 = 3,
        blockedSignals: [Int32] = []
    ) throws(SystemError) -> Spawned {
        var pair: [Int32] = [-1, -1]
        try syscallChecked("socketpair") {
            socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0, &pair)
        }
        let parentEnd = pair[0]
        var childEnd = pair[1]
        defer { Posix.close(childEnd) }
        if childEnd == controlDescriptor {
            // dup2(fd, fd) would keep close-on-exec set: move it out of the way first.
            let moved = fcntl(childEnd, F_DUPFD_CLOEXEC, controlDescriptor + 1)
            guard moved >= 0 else {
                let error = SystemError(errno: errno, syscall: "fcntl")
                Posix.close(parentEnd)
                throw error
            }
            Posix.close(childEnd)
            childEnd = moved
        }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, childEnd, controlDescriptor)

        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var all = sigset_t()
        sigfillset(&all)
        var mask = sigset_t()
        sigemptyset(&mask)
        for signal in blockedSignals { sigaddset(&mask, signal) }
        // Handlers are reset by exec anyway, but ignored signals and the mask would be inherited.
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setsigmask(&attributes, &mask)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))

        var merged: [String: String] = [:]
        var order: [String] = []
        var entry = environ
        while let pointer = entry.pointee {
            let text = String(cString: pointer)
            if let equals = text.firstIndex(of: "=") {
                let name = String(text[..<equals])
                if merged[name] == nil { order.append(name) }
                merged[name] = String(text[text.index(after: equals)...])
            }
            entry += 1
        }
        for (name, value) in environment.sorted(by: { $0.key < $1.key }) {
            if merged[name] == nil { order.append(name) }
            merged[name] = value
        }
        let argv = arguments.map { strdup($0) } + [nil]
        let envp = order.map { strdup("\($0)=\(merged[$0] ?? "")") } + [nil]
        defer {
            for pointer in argv { free(pointer) }
            for pointer in envp { free(pointer) }
        }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, "/proc/self/exe", &actions, &attributes, argv, envp)
        guard rc == 0 else {
            Posix.close(parentEnd)
            throw SystemError(errno: rc, syscall: "posix_spawn")
        }
        return Spawned(pid: pid, control: parentEnd)
    }

    /// Unblocks `signals` for the calling thread (after `spawnSelf(blockedSignals:)`, once their handlers are set):
    /// any of them that arrived meanwhile is delivered now.
    public static func unblockSignals(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal) }
        pthread_sigmask(SIG_UNBLOCK, &set, nil)
    }

    /// Reaps every child that has ended, without blocking (`waitpid(-1, WNOHANG)` until none is left).
    public static func reapExited() -> [(pid: Int32, termination: Termination)] {
        var ended: [(pid: Int32, termination: Termination)] = []
        while true {
            var status: Int32 = 0
            let pid = waitpid(-1, &status, WNOHANG)
            if pid > 0 {
                ended.append((pid, Termination(status: status)))
            } else if pid < 0 && errno == EINTR {
                continue
            } else {
                return ended  // 0: children left, none ended; ECHILD: no children at all
            }
        }
    }

    /// Sends `signal` to the process `pid`.
    public static func kill(_ pid: Int32, signal: Int32) throws(SystemError) {
        try syscallChecked("kill") { Glibc.kill(pid, signal) }
    }

    /// This process's id.
    public static var currentPID: Int32 { getpid() }

    /// The number of processors online (`sysconf(_SC_NPROCESSORS_ONLN)`), at least 1.
    public static var processorCount: Int { max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))) }

    /// The value of the environment variable `name`, or nil.
    public static func environmentValue(_ name: String) -> String? {
        getenv(name).map { String(cString: $0) }
    }

    /// Writes `bytes` to a control channel, blocking until they are written (a few bytes always fit).
    public static func send(_ bytes: [UInt8], to descriptor: Int32) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                Glibc.send(descriptor, raw.baseAddress! + offset, raw.count - offset, Int32(MSG_NOSIGNAL))
            }
            if written < 0 {
                if errno == EINTR { continue }
                throw SystemError(errno: errno, syscall: "write")
            }
            offset += written
        }
    }

    /// Closes a control channel descriptor.
    public static func close(_ descriptor: Int32) {
        Posix.close(descriptor)
    }
}
