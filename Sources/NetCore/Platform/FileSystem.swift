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
}
