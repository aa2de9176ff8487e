/// An error delivered by an `error` event or a completion callback, shaped like Node's: a `code`
/// (`"ECONNRESET"`, `"EADDRINUSE"`, `"ERR_STREAM_WRITE_AFTER_END"`, …), a message, and where known the
/// system call, errno and address involved.
public struct SocketError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Node's error code, e.g. `"ECONNREFUSED"` or `"ERR_SERVER_NOT_RUNNING"`.
    public let code: String
    /// A human-readable explanation.
    public let message: String
    /// The errno value, for errors that came from the kernel.
    public let errno: Int32?
    /// The system call that failed (`"connect"`, `"listen"`, `"read"`, …).
    public let syscall: String?
    /// The address involved (an IP or a Unix path), if any.
    public let address: String?
    /// The port involved, if any.
    public let port: Int?

    /// Creates an error with Node's fields.
    public init(
        code: String,
        message: String,
        errno: Int32? = nil,
        syscall: String? = nil,
        address: String? = nil,
        port: Int? = nil
    ) {
        self.code = code
        self.message = message
        self.errno = errno
        self.syscall = syscall
        self.address = address
        self.port = port
    }

    /// Wraps a failed system call, naming the address when there is one.
    public init(_ error: SystemError, address: SocketAddress? = nil, syscall: String? = nil) {
        let call = syscall ?? error.syscall
        let location =
            address.map { address -> String in
                address.family == .unix ? " \(address.host)" : " \(address.host):\(address.port)"
            } ?? ""
        self.init(
            code: error.code,
            message: "\(call) \(error.code)\(location) (\(error.message))",
            errno: error.errno,
            syscall: call,
            address: address.map { $0.host },
            port: address.flatMap { $0.family == .unix ? nil : $0.port }
        )
    }

    /// The message, e.g. `connect ECONNREFUSED 127.0.0.1:8124 (Connection refused)`.
    public var description: String { message }

    /// `write()` after `end()` (Node's `ERR_STREAM_WRITE_AFTER_END`).
    public static let writeAfterEnd = SocketError(code: "ERR_STREAM_WRITE_AFTER_END", message: "write after end")
    /// `write()` after the peer ended and this socket, not allowing half-open, ended too.
    public static let endedByOtherParty = SocketError(
        code: "EPIPE",
        message: "This socket has been ended by the other party",
        syscall: "write"
    )
    /// `write()` on a destroyed socket (Node's `ERR_STREAM_DESTROYED`).
    public static let writeAfterDestroy = SocketError(
        code: "ERR_STREAM_DESTROYED",
        message: "Cannot call write after a stream was destroyed"
    )
    /// `close()` on a server that is not listening (Node's `ERR_SERVER_NOT_RUNNING`).
    public static let serverNotRunning = SocketError(code: "ERR_SERVER_NOT_RUNNING", message: "Server is not running.")
    /// `listen()` on a server that is already listening (Node's `ERR_SERVER_ALREADY_LISTEN`).
    public static let serverAlreadyListening = SocketError(
        code: "ERR_SERVER_ALREADY_LISTEN",
        message: "Listen method has been called more than once without closing."
    )
    /// An idle-timeout `destroy` performed on the user's request has no built-in error; see `Socket.setTimeout`.
    public static func invalidArgument(_ message: String) -> SocketError {
        SocketError(code: "ERR_INVALID_ARG_VALUE", message: message)
    }
}
