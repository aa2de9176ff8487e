/// A frame's opcode (RFC 6455 §5.2): data frames (continuation, text, binary) and control frames (close, ping, pong).
public enum WebSocketOpcode: UInt8, Sendable {
    /// The next fragment of a message.
    case continuation = 0x0
    /// The first frame of a text (UTF-8) message.
    case text = 0x1
    /// The first frame of a binary message.
    case binary = 0x2
    /// The closing handshake's frame.
    case close = 0x8
    /// A ping, answered with a pong.
    case ping = 0x9
    /// A pong.
    case pong = 0xA

    /// Control frames carry at most 125 bytes and are never fragmented (RFC 6455 §5.5).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
