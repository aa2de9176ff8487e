/// A WebSocket protocol violation or limit, with the close code the connection is failed with (RFC 6455 §7.4.1) and
/// Node `ws`'s error code (`WS_ERR_…`).
public struct WebSocketError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The close code sent to the peer: 1002 (protocol error), 1007 (invalid UTF-8), 1009 (too big), 1006 for a
    /// connection that closed without a close frame, and so on.
    public var closeCode: UInt16
    /// Node `ws`'s code for the error, e.g. `WS_ERR_EXPECTED_MASK`.
    public var code: String
    /// What went wrong, in words.
    public var message: String

    /// An error failing the connection with `closeCode`.
    public init(closeCode: UInt16, code: String, message: String) {
        self.closeCode = closeCode
        self.code = code
        self.message = message
    }

    /// `code: message`.
    public var description: String { "\(code): \(message)" }

    static func protocolError(_ code: String, _ message: String) -> WebSocketError {
        WebSocketError(closeCode: WebSocketCloseCode.protocolError, code: code, message: message)
    }

    static let invalidUTF8 = WebSocketError(
        closeCode: WebSocketCloseCode.invalidPayload, code: "WS_ERR_INVALID_UTF8", message: "invalid UTF-8 sequence")

    static func messageTooBig(_ limit: Int) -> WebSocketError {
        WebSocketError(
            closeCode: WebSocketCloseCode.messageTooBig, code: "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH",
            message: "message longer than \(limit) bytes")
    }
}

/// Close codes (RFC 6455 §7.4.1 and the IANA registry) and which of them may appear in a close frame.
public enum WebSocketCloseCode {
    /// 1000: the purpose of the connection has been fulfilled.
    public static let normal: UInt16 = 1000
    /// 1001: the endpoint is going away (a server shutting down, a page navigated away).
    public static let goingAway: UInt16 = 1001
    /// 1002: a protocol error.
    public static let protocolError: UInt16 = 1002
    /// 1003: a data type the endpoint cannot accept.
    public static let unsupportedData: UInt16 = 1003
    /// 1005: no code was present in the close frame (never sent).
    public static let noStatus: UInt16 = 1005
    /// 1006: the connection closed without a close frame (never sent).
    public static let abnormal: UInt16 = 1006
    /// 1007: a text message (or close reason) was not UTF-8.
    public static let invalidPayload: UInt16 = 1007
    /// 1008: a message violated the endpoint's policy.
    public static let policyViolation: UInt16 = 1008
    /// 1009: a message was too big to process.
    public static let messageTooBig: UInt16 = 1009
    /// 1010: the client expected an extension the server did not negotiate.
    public static let mandatoryExtension: UInt16 = 1010
    /// 1011: the server hit an unexpected condition.
    public static let internalError: UInt16 = 1011

    /// Whether `code` may be sent in a close frame: 1000–1003, 1007–1014 (1012–1014 were registered after RFC 6455)
    /// and the application ranges 3000–4999; never 1004–1006 or 1015 (reserved, or only for reporting). Node `ws`'s
    /// `isValidStatusCode`.
    public static func isValid(_ code: UInt16) -> Bool {
        (1000...1014).contains(code) && !(1004...1006).contains(code) || (3000...4999).contains(code)
    }
}
