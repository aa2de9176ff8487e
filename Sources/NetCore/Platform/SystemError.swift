@preconcurrency import Glibc

/// A failed system call: the `errno` it set and the call's name.
///
/// `code` gives the symbolic name Node uses (`"ECONNRESET"`, `"EADDRINUSE"`, …).
public struct SystemError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The raw `errno` value.
    public let errno: Int32
    /// The system call that failed, e.g. `"connect"`.
    public let syscall: String

    /// Creates an error for `errno` set by `syscall`.
    public init(errno: Int32, syscall: String) {
        self.errno = errno
        self.syscall = syscall
    }

    /// The symbolic errno name, e.g. `"ECONNREFUSED"`; `"E<number>"` for names this table lacks.
    public var code: String { Self.name(of: errno) }

    /// The C library's text for the errno, e.g. `"Connection refused"`.
    public var message: String {
        errno == Self.notFound ? "Name or service not known" : String(cString: strerror(errno))
    }

    /// `"connect ECONNREFUSED (Connection refused)"`.
    public var description: String { "\(syscall) \(code) (\(message))" }

    /// The symbolic name of an errno value.
    static func name(of errno: Int32) -> String {
        switch errno {
        case EPERM: "EPERM"
        case ENOENT: "ENOENT"
        case EINTR: "EINTR"
        case EIO: "EIO"
        case EBADF: "EBADF"
        case EAGAIN: "EAGAIN"
        case ENOMEM: "ENOMEM"
        case EACCES: "EACCES"
        case EFAULT: "EFAULT"
        case EEXIST: "EEXIST"
        case ENOTDIR: "ENOTDIR"
        case EISDIR: "EISDIR"
        case EINVAL: "EINVAL"
        case ENFILE: "ENFILE"
        case EMFILE: "EMFILE"
        case ENOSPC: "ENOSPC"
        case EPIPE: "EPIPE"
        case ENAMETOOLONG: "ENAMETOOLONG"
        case ENOTSOCK: "ENOTSOCK"
        case EPROTOTYPE: "EPROTOTYPE"
        case EAFNOSUPPORT: "EAFNOSUPPORT"
        case EADDRINUSE: "EADDRINUSE"
        case EADDRNOTAVAIL: "EADDRNOTAVAIL"
        case ENETDOWN: "ENETDOWN"
        case ENETUNREACH: "ENETUNREACH"
        case ECONNABORTED: "ECONNABORTED"
        case ECONNRESET: "ECONNRESET"
        case ENOBUFS: "ENOBUFS"
        case EISCONN: "EISCONN"
        case ENOTCONN: "ENOTCONN"
        case ETIMEDOUT: "ETIMEDOUT"
        case ECONNREFUSED: "ECONNREFUSED"
        case EHOSTUNREACH: "EHOSTUNREACH"
        case EALREADY: "EALREADY"
        case EINPROGRESS: "EINPROGRESS"
        case ELOOP: "ELOOP"
        case EROFS: "EROFS"
        case ESPIPE: "ESPIPE"
        case SystemError.notFound: "ENOTFOUND"
        default: "E\(errno)"
        }
    }
}
