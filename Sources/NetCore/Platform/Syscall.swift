import CNetCoreShims
@preconcurrency import Glibc

/// The outcome of a non-blocking call: it did something, or it would have blocked.
/// Would-block is a value, not an error (STYLE.md §2.2).
enum IOResult<Value> {
    case processed(Value)
    case wouldBlock
}

/// Runs a libc call that returns -1 and sets errno on failure. Retries on EINTR; EAGAIN becomes `.wouldBlock`.
@inline(__always)
func syscall<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> IOResult<T> {
    while true {
        let result = body()
        if result >= 0 { return .processed(result) }
        let err = errno
        switch err {
        case EINTR: continue
        case EAGAIN, EWOULDBLOCK: return .wouldBlock
        default: throw SystemError(errno: err, syscall: name)
        }
    }
}

/// Like `syscall`, for calls that never legitimately return EAGAIN (bind, listen, setsockopt, …).
@inline(__always)
@discardableResult
func syscallChecked<T: FixedWidthInteger>(_ name: String, _ body: () -> T) throws(SystemError) -> T {
    while true {
        let result = body()
        if result >= 0 { return result }
        let err = errno
        if err == EINTR { continue }
        throw SystemError(errno: err, syscall: name)
    }
}

/// One static function per system call NetCore makes. Nothing outside `Platform/` calls libc for I/O.
enum Posix {
    static func socket(domain: Int32, type: Int32) throws(SystemError) -> Int32 {
        let flags = Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        return try syscallChecked("socket") { Glibc.socket(domain, type | flags, 0) }
    }

    static func accept(_ fd: Int32) throws(SystemError) -> IOResult<Int32> {
        let flags = Int32(SOCK_NONBLOCK.rawValue | SOCK_CLOEXEC.rawValue)
        return try syscall("accept") { netcore_accept4(fd, nil, nil, flags) }
    }

    /// `send` with MSG_NOSIGNAL: a closed peer gives EPIPE, never SIGPIPE.
    static func send(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try syscall("write") { Glibc.send(fd, buffer.baseAddress, buffer.count, Int32(MSG_NOSIGNAL)) }
    }

    /// `sendmsg` with MSG_NOSIGNAL over a gather list.
    static func sendmsg(_ fd: Int32, _ iovecs: UnsafeMutableBufferPointer<iovec>) throws(SystemError) -> IOResult<Int> {
        var header = msghdr()
        header.msg_iov = iovecs.baseAddress
        header.msg_iovlen = iovecs.count
        return try syscall("write") { Glibc.sendmsg(fd, &header, Int32(MSG_NOSIGNAL)) }
    }

    /// Ignores SIGPIPE process-wide if its disposition is still the default, as Node does at start-up. `send` and
    /// `sendmsg` pass MSG_NOSIGNAL, but `sendfile` and `write` (pipes, a closed stdout) have no such flag, and a
    /// SIGPIPE's default action kills the whole process. A handler or SIG_IGN the program set itself is left alone.
    static let ignoreSIGPIPE: Void = {
        if netcore_ignore_sigpipe_if_default() != 0 {
            fatalError("NetCore: cannot ignore SIGPIPE: \(SystemError(errno: errno, syscall: "sigaction"))")
        }
    }()

    /// `sendfile` of up to `count` bytes of `file` from `offset` to the socket `fd`: the kernel copies from the page
    /// cache, nothing passes through user space. 0 means the file ended before `offset`.
    static func sendfile(_ fd: Int32, from file: Int32, offset: Int, count: Int) throws(SystemError) -> IOResult<Int> {
        var position = off_t(offset)
        return try syscall("sendfile") { Glibc.sendfile(fd, file, &position, count) }
    }

    static func read(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try syscall("read") { Glibc.read(fd, buffer.baseAddress, buffer.count) }
    }

    /// `pread` of a regular file (a file region written through a transport); the count read, 0 at end of file.
    static func pread(_ fd: Int32, _ buffer: UnsafeMutableRawBufferPointer, offset: Int) throws(SystemError) -> Int {
        try syscallChecked("pread") { Glibc.pread(fd, buffer.baseAddress, buffer.count, off_t(offset)) }
    }

    static func write(_ fd: Int32, _ buffer: UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int> {
        try syscall("write") { Glibc.write(fd, buffer.baseAddress, buffer.count) }
    }

    /// Starts a non-blocking connect. `true` if it completed at once, `false` if it is in progress.
    static func connect(_ fd: Int32, _ address: SocketAddress) throws(SystemError) -> Bool {
        while true {
            let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
            if rc == 0 { return true }
            let err = errno
            switch err {
            case EINTR: continue
            case EINPROGRESS: return false
            default: throw SystemError(errno: err, syscall: "connect")
            }
        }
    }

    static func bind(_ fd: Int32, _ address: SocketAddress) throws(SystemError) {
        try syscallChecked("bind") { address.withSockAddr { Glibc.bind(fd, $0, $1) } }
    }

    static func listen(_ fd: Int32, backlog: Int32) throws(SystemError) {
        try syscallChecked("listen") { Glibc.listen(fd, backlog) }
    }

    static func shutdownWrite(_ fd: Int32) throws(SystemError) {
        try syscallChecked("shutdown") { Glibc.shutdown(fd, Int32(SHUT_WR)) }
    }

    static func setOption(_ fd: Int32, _ level: Int32, _ name: Int32, _ value: Int32) throws(SystemError) {
        var value = value
        try syscallChecked("setsockopt") {
            Glibc.setsockopt(fd, level, name, &value, socklen_t(MemoryLayout<Int32>.size))
        }
    }

    /// The pending error of a socket (SO_ERROR), which is how a non-blocking connect reports its result.
    static func pendingError(_ fd: Int32) -> Int32 {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        if Glibc.getsockopt(fd, SOL_SOCKET, SO_ERROR, &value, &length) != 0 { return errno }
        return value
    }

    static func localAddress(_ fd: Int32) -> SocketAddress? {
        SocketAddress.fromKernel { Glibc.getsockname(fd, $0, $1) }
    }

    static func peerAddress(_ fd: Int32) -> SocketAddress? {
        SocketAddress.fromKernel { Glibc.getpeername(fd, $0, $1) }
    }

    /// close(2) without EINTR retry: on Linux the descriptor is gone even then (STYLE.md §2.3).
    static func close(_ fd: Int32) {
        let rc = Glibc.close(fd)
        if rc != 0 {
            let err = errno
            precondition(err != EBADF, "close(\(fd)) on a descriptor that was not open: double close")
        }
    }

    /// A non-blocking, close-on-exec pipe: `(read end, write end)`.
    static func pipe() throws(SystemError) -> (Int32, Int32) {
        var fds: [Int32] = [-1, -1]
        try syscallChecked("pipe2") { netcore_pipe_cloexec_nonblock(&fds) }
        return (fds[0], fds[1])
    }

    static func monotonicNanoseconds() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
    }

    /// File type bits of `path` without following a final symlink, or nil if it does not exist.
    static func fileType(atPath path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// `(device, inode)` of `path`, used to unlink only the socket file we created.
    static func fileIdentity(atPath path: String) -> (UInt, UInt)? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return (UInt(info.st_dev), UInt(info.st_ino))
    }

    static func unlink(_ path: String) throws(SystemError) {
        try syscallChecked("unlink") { Glibc.unlink(path) }
    }

    static func chmod(_ path: String, _ mode: mode_t) throws(SystemError) {
        try syscallChecked("chmod") { Glibc.chmod(path, mode) }
    }

    /// Whether `fd` can be watched by epoll (regular files and /dev/null cannot: EPERM).
    static func fileStatus(_ fd: Int32) -> mode_t? {
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }
}

extension Posix {
    /// A spare descriptor (on /dev/null) held so that EMFILE can be handled by briefly freeing it (libuv's trick).
    static func openReserve() -> Int32? {
        let fd = Glibc.open("/dev/null", O_RDONLY | O_CLOEXEC)
        return fd >= 0 ? fd : nil
    }

    /// The paths of Unix sockets in the listening state, from /proc/net/unix; nil where that table is unreadable.
    static func listeningUnixSocketPaths() -> Set<String>? {
        let fd = Glibc.open("/proc/net/unix", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var content: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            content += chunk[0..<n]
        }
        // "Num RefCount Protocol Flags Type St Inode Path"; Flags bit 0x10000 (__SO_ACCEPTCON) marks a listener.
        var paths = Set<String>()
        for line in content.split(separator: UInt8(ascii: "\n")).dropFirst() {
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 7, omittingEmptySubsequences: true)
            guard fields.count == 8, let flags = UInt32(String(decoding: fields[3], as: UTF8.self), radix: 16),
                flags & 0x10000 != 0
            else { continue }
            paths.insert(String(decoding: fields[7], as: UTF8.self))
        }
        return paths
    }

    /// A blocking probe: can a client connect to the Unix socket at `address` right now?
    /// Used to tell a stale socket file (ECONNREFUSED) from a live server.
    static func probeUnixSocket(_ address: SocketAddress) -> Int32 {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return errno }
        defer { close(fd) }
        let rc = address.withSockAddr { Glibc.connect(fd, $0, $1) }
        return rc == 0 ? 0 : errno
    }
}
