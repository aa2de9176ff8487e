/// The close handshake of one connection (RFC 6455 §7.1): one state value with named transitions, each returning
/// what the connection must do. Pure; the connection owns the socket and the close timer.
public struct WebSocketCloseHandshake: Equatable, Sendable {
    /// Where the handshake is.
    public enum State: Equatable, Sendable {
        /// No close frame either way.
        case open
        /// Ours went out (a `close()` or a failure with `code`); the peer's has not arrived. The close timer runs.
        case closeSent(code: UInt16?)
        /// Close frames crossed both ways; the code and reason are what the `close` event reports (the peer's, or
        /// 1005 for a close frame without a code).
        case closed(code: UInt16, reason: String)
    }

    /// What the connection must do after a transition.
    public enum Action: Equatable, Sendable {
        /// Nothing (the transition had already happened).
        case none
        /// Send a close frame with this code and reason and wait for the peer's, for at most the close timeout.
        case sendClose(code: UInt16?, reason: String)
        /// Send a close frame, then end the connection: the handshake is complete (an echo of the peer's close) or
        /// has failed (nothing more will be read).
        case sendCloseAndEnd(code: UInt16?, reason: String)
        /// End the connection (ours was sent, the peer's has now arrived).
        case end
    }

    /// The current state.
    public private(set) var state = State.open

    /// A handshake not begun.
    public init() {}

    /// Whether a close frame may still be sent (none was).
    public var canSendClose: Bool { state == .open }

    /// The application asks to close (`close(code:reason:)`).
    public mutating func close(code: UInt16?, reason: String) -> Action {
        guard case .open = state else { return .none }
        state = .closeSent(code: code)
        return .sendClose(code: code, reason: reason)
    }

    /// The peer's close frame arrived (`code` nil when it had none).
    public mutating func receivedClose(code: UInt16?, reason: String) -> Action {
        switch state {
        case .open:
            state = .closed(code: code ?? WebSocketCloseCode.noStatus, reason: reason)
            // Echo the peer's code, as RFC 6455 §5.5.1 suggests and Node `ws` does.
            return .sendCloseAndEnd(code: code, reason: reason)
        case .closeSent:
            state = .closed(code: code ?? WebSocketCloseCode.noStatus, reason: reason)
            return .end
        case .closed:
            return .none
        }
    }

    /// The peer broke the protocol or a limit (RFC 6455 §7.1.7, _Fail the WebSocket Connection_): a close frame with
    /// the error's code if none was sent yet, then the end; nothing more is read.
    public mutating func failed(_ error: WebSocketError) -> Action {
        switch state {
        case .open:
            state = .closeSent(code: error.closeCode)
            return .sendCloseAndEnd(code: error.closeCode, reason: "")
        case .closeSent:
            return .end
        case .closed:
            return .none
        }
    }
}
