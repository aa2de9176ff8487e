@preconcurrency import Glibc

/// The few file-system calls the programs on NetCore need, kept in the platform layer with the other syscalls.
public enum FileSystem {
    /// What a path names.
    public enum Kind: Sendable, Equatable {
        case regular(size: Int)
        case directory
        case other
    }

    /// The canonical absolute path of `path`, with every symlink resolved (realpath(3)).
    public static func canonicalPath(_ path: String) throws(SystemError) -> String {
        guard let resolved = realpath(path, nil) else { throw SystemError(errno: errno, syscall: "realpath") }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// What `path` names, following symlinks.
    public static func kind(of path: String) throws(SystemError) -> Kind {
        var info = stat()
        guard stat(path, &info) == 0 else { throw SystemError(errno: errno, syscall: "stat") }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(info.st_size))
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    /// Opens `path` read-only and close-on-exec; the caller owns the descriptor (e.g. hands it to a `ReadStream`
    /// with `closesDescriptor: true`).
    public static func openForReading(_ path: String) throws(SystemError) -> Int32 {
        try syscallChecked("open") { open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY) }
    }

    /// Reads up to `limit` bytes from the start of a regular file at once (for small files, where one blocking read
    /// of page-cached data is cheaper than streaming over several loop turns).
    /// A file that turns out shorter than `limit` ends the read early; pass the size from `kind(ofDescriptor:)` to
    /// read it in one call.
    public static func readPrefix(of fd: Int32, limit: Int) throws(SystemError) -> [UInt8] {
        // Uninitialised capacity: the kernel fills it, so zeroing it first would only cost a memset per request.
        var failure: SystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: limit) { raw, initialized in
            var total = 0
            while total < limit {
                let n = pread(fd, raw.baseAddress! + total, limit - total, off_t(total))
                if n < 0 {
                    if errno == EINTR { continue }
                    failure = SystemError(errno: errno, syscall: "pread")
                    break
                }
                if n == 0 { break }
                total += n
            }
            initialized = total
        }
        if let failure { throw failure }
        return bytes
    }

    /// Opens `path` for reading without blocking on FIFOs or devices (O_NONBLOCK) and close-on-exec.
    public static func openWithoutBlocking(_ path: String) throws(SystemError) -> Int32 {
        try syscallChecked("open") { open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK) }
    }

    /// Opens the directory `path` (following symlinks) as an anchor for `openWithoutBlocking(_:in:)`; the caller owns
    /// the descriptor.
    public static func openDirectory(_ path: String) throws(SystemError) -> Int32 {
        try syscallChecked("open") { open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY) }
    }

    /// Opens the entry `name` of the directory `directory` for reading, without blocking on FIFOs or devices and
    /// without following a symlink in its last component (that fails with ELOOP), close-on-exec. With a `name`
    /// that contains no "/" this can only ever open something directly inside `directory`, whatever the path of
    /// the directory is now, which is what a server confining names to a root needs without reading the path back.
    public static func openWithoutBlocking(_ name: String, in directory: Int32) throws(SystemError) -> Int32 {
        try syscallChecked("openat") {
            openat(directory, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW)
        }
    }

    /// The canonical path of the file an open descriptor refers to (from /proc/self/fd): what was actually opened,
    /// symlinks resolved, with no window between checking and opening.
    public static func path(ofDescriptor fd: Int32) throws(SystemError) -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        let count = try syscallChecked("readlink") { readlink("/proc/self/fd/\(fd)", &buffer, buffer.count - 1) }
        return String(decoding: buffer[0..<count].map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// What `stat` says about a file that matters for telling whether it is still the same file with the same
    /// contents: a file replaced (rename, delete and recreate) gets another inode; written, truncated, or with its
    /// permissions changed, a newer change time (ctime).
    public struct Status: Sendable, Equatable {
        /// Regular file (with its size), directory or other (a symlink when not followed, a FIFO, …).
        public var kind: Kind
        /// The device and inode numbers: the file's identity.
        public var device: UInt64
        /// See `device`.
        public var inode: UInt64
        /// Last modification, nanoseconds since the epoch.
        public var modified: Int64
        /// Last status change (any write, truncate, chmod, link count change), nanoseconds since the epoch.
        public var changed: Int64

        /// A status built from its parts (for tests; the system calls fill it otherwise).
        public init(kind: Kind, device: UInt64, inode: UInt64, modified: Int64, changed: Int64) {
            self.kind = kind
            self.device = device
            self.inode = inode
            self.modified = modified
            self.changed = changed
        }

        init(_ info: stat) {
            switch info.st_mode & S_IFMT {
            case S_IFREG: kind = .regular(size: Int(info.st_size))
            case S_IFDIR: kind = .directory
            default: kind = .other
            }
            device = UInt64(info.st_dev)
            inode = UInt64(info.st_ino)
            modified = Int64(info.st_mtim.tv_sec) * 1_000_000_000 + Int64(info.st_mtim.tv_nsec)
            changed = Int64(info.st_ctim.tv_sec) * 1_000_000_000 + Int64(info.st_ctim.tv_nsec)
        }
    }

    /// The status of an open descriptor (fstat).
    public static func status(ofDescriptor fd: Int32) throws(SystemError) -> Status {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(errno: errno, syscall: "fstat") }
        return Status(info)
    }

    /// The status of the entry `name` of the directory `directory`, not following a symlink (fstatat with
    /// AT_SYMLINK_NOFOLLOW): one system call that says whether a file seen before is still there unchanged.
    public static func status(of name: String, in directory: Int32) throws(SystemError) -> Status {
        var info = stat()
        guard fstatat(directory, name, &info, AT_SYMLINK_NOFOLLOW) == 0 else {
            throw SystemError(errno: errno, syscall: "fstatat")
        }
        return Status(info)
    }

    /// The wall-clock time in nanoseconds since the epoch, the clock file times are kept in.
    public static func wallClockNanoseconds() -> Int64 {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        return Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
    }

    /// What an open descriptor refers to.
    public static func kind(ofDescriptor fd: Int32) throws(SystemError) -> Kind {
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw SystemError(errno: errno, syscall: "fstat") }
        switch info.st_mode & S_IFMT {
        case S_IFREG: return .regular(size: Int(info.st_size))
        case S_IFDIR: return .directory
        default: return .other
        }
    }

    /// Closes a descriptor obtained from this type.
    public static func close(_ fd: Int32) {
        Posix.close(fd)
    }
}
