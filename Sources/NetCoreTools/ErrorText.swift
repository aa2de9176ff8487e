import NetCore

extension SocketError {
    /// A short lower-case reason for one-line messages: "connection refused", "address already in use", "unknown host".
    public var reason: String {
        switch code {
        case "ENOTFOUND": return "unknown host"
        case "ENAMETOOLONG": return "path too long for a Unix socket"
        default:
            guard let errno else { return message }
            let text = SystemError(errno: errno, syscall: syscall ?? "").message
            return text.prefix(1).lowercased() + text.dropFirst()
        }
    }
}
