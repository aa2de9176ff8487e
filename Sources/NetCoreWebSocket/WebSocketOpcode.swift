/// A frame's opcode (RFC 6455 §5.2): data frames (continuation, text, binary) and control frames (close, ping, pong).
public enum WebSocketOpcode: UInt8, Sendable {
    case continuation = 0x0
    case text = 0x1
    case binary = 0x2
    case close = 0x8
    case ping = 0x9
    case pong = 0xA

    /// Control frames carry at most 125 bytes and are never fragmented (RFC 6455 §5.5).
    public var isControl: Bool { rawValue & 0x8 != 0 }
}
