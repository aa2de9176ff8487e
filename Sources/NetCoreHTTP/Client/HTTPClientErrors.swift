import NetCore

/// The errors a client request or its response reports, with Node's codes and wording.
public enum HTTPClientErrors {
    /// The connection closed (or was destroyed) before a response head arrived: Node's `ECONNRESET`,
    /// "socket hang up".
    public static let socketHangUp = SocketError(code: "ECONNRESET", message: "socket hang up")

    /// The connection closed in the middle of a response body, emitted on the response after `aborted`: Node's
    /// `ECONNRESET`, "aborted".
    public static let aborted = SocketError(code: "ECONNRESET", message: "aborted")

    /// A malformed response, with llhttp's code names as Node reports them (`HPE_INVALID_CONSTANT` for a status line
    /// that is not `HTTP/x.y NNN`, `HPE_INVALID_CONTENT_LENGTH`, `HPE_INVALID_CHUNK_SIZE`, `HPE_HEADER_OVERFLOW`,
    /// `HPE_CR_EXPECTED`; `HPE_INVALID_HEADER_TOKEN` for other bad fields). The message is `Parse Error: <reason>`.
    public static func parseError(_ error: HTTPParseError) -> SocketError {
        let reason = error.reason
        let code: String
        if reason.contains("status line") {
            code = "HPE_INVALID_CONSTANT"
        } else if reason.contains("Content-Length") {
            code = "HPE_INVALID_CONTENT_LENGTH"
        } else if reason.contains("chunk") {
            code = "HPE_INVALID_CHUNK_SIZE"
        } else if reason.contains("too large") {
            code = "HPE_HEADER_OVERFLOW"
        } else if reason.contains("line ending") {
            code = "HPE_CR_EXPECTED"
        } else {
            code = "HPE_INVALID_HEADER_TOKEN"
        }
        return SocketError(code: code, message: "Parse Error: \(reason)")
    }

    /// A socket error reworded as Node words it: `connect ECONNREFUSED 127.0.0.1:1`, `connect ENOENT /tmp/s`,
    /// `read ECONNRESET` (NetCore's messages add the system's explanation in parentheses).
    public static func nodeStyle(_ error: SocketError) -> SocketError {
        guard let syscall = error.syscall, error.errno != nil else { return error }
        var message = "\(syscall) \(error.code)"
        if let address = error.address {
            message += " \(address)"
            if let port = error.port { message += ":\(port)" }
        }
        return SocketError(
            code: error.code,
            message: message,
            errno: error.errno,
            syscall: syscall,
            address: error.address,
            port: error.port
        )
    }
}
