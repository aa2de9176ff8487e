import NetCore

/// Inflates compressed messages for the parser (permessage-deflate, RFC 7692): the parser hands it each compressed
/// message's payload as it arrives and the end of the message; it appends what it inflates, never past `limit`.
public protocol WebSocketMessageInflater: AnyObject {
    /// Inflates `bytes` (the next part of a compressed message), appending to `output`; throws `1009` rather than
    /// let `output` grow past `limit` bytes.
    func inflate(_ bytes: UnsafeRawBufferPointer, into output: inout [UInt8], limit: Int) throws(WebSocketError)
    /// The message ended: inflates what remains (the `00 00 ff ff` tail the sender removed) and resets the context
    /// if it is not taken over.
    func finishMessage(into output: inout [UInt8], limit: Int) throws(WebSocketError)
}

/// A pure, incremental WebSocket reader (RFC 6455 §5): feed it bytes as they arrive, split anywhere, and it returns
/// the messages and control frames they completed. No I/O, no callbacks.
///
/// Strict, as the RFC says an endpoint must be: masking per role (§5.1: a server fails unmasked frames, a client
/// masked ones), no RSV bits without an extension using them (§5.2; RSV1 only on the first frame of a message, with
/// permessage-deflate), known opcodes, control frames of at most 125 bytes and never fragmented (§5.5), possibly
/// interleaved inside a fragmented message (§5.4), 64-bit lengths with the top bit clear, close frames with a valid
/// code and a UTF-8 reason (§5.5.1, §7.4), and text validated as UTF-8 as it arrives, failing at the first invalid
/// byte even in the middle of a fragment (§8.1). Messages over `maxMessageBytes` (after inflation) fail with 1009
/// before they are buffered. After an `.error` or a `.close` the parser ignores its input.
public struct WebSocketFrameParser {
    /// Which side is reading: it decides which frames must be masked.
    public enum Role: Sendable {
        /// Reading a client's frames: every frame must be masked.
        case server
        /// Reading a server's frames: no frame may be masked.
        case client
    }

    /// What fed bytes completed.
    public enum Event: Equatable, Sendable {
        /// A whole text message.
        case text(String)
        /// A whole binary message.
        case binary([UInt8])
        /// A ping with its application data (to be answered with a pong carrying the same data).
        case ping([UInt8])
        /// A pong.
        case pong([UInt8])
        /// A close frame: its code (nil when the frame had none: 1005 to report) and reason.
        case close(code: UInt16?, reason: String)
        /// The connection must be failed with `error.closeCode`. Always the last event.
        case error(WebSocketError)
    }

    private enum State {
        /// Reading a frame header; `headerBytes` holds its bytes so far.
        case header
        /// Reading a frame's payload.
        case payload(remaining: Int)
        /// After a close frame or an error: input is ignored.
        case stopped
    }

    /// Node `ws`'s `maxPayload` default: 100 MiB.
    public static let defaultMaxMessageBytes = 100 * 1024 * 1024

    /// The side this parser reads for.
    public let role: Role
    /// The largest message accepted (after inflation); 0 for no limit.
    public var maxMessageBytes: Int
    /// The permessage-deflate inflater, when that extension was negotiated: only then may RSV1 be set.
    public var inflater: (any WebSocketMessageInflater)?

    private var state = State.header
    private var headerBytes: [UInt8] = []
    // The frame being read.
    private var opcode = WebSocketOpcode.continuation
    private var fin = false
    private var maskingKey: UInt32?
    private var frameLength = 0
    // The data message being assembled (across fragments): its opcode, whether it is compressed, its bytes.
    private var messageOpcode: WebSocketOpcode?
    private var messageIsCompressed = false
    private var message: [UInt8] = []
    private var utf8 = UTF8StreamDecoder()
    /// Compressed bytes of the current frame, unmasked, waiting to be inflated.
    private var compressed: [UInt8] = []
    private var control: [UInt8] = []

    /// A parser for `role`, failing messages over `maxMessageBytes` (Node `ws`: 100 MiB) with 1009.
    public init(role: Role, maxMessageBytes: Int = defaultMaxMessageBytes, inflater: (any WebSocketMessageInflater)? = nil) {
        self.role = role
        self.maxMessageBytes = maxMessageBytes
        self.inflater = inflater
    }

    /// Whether the parser has stopped (after a close frame or an error).
    public var isStopped: Bool {
        if case .stopped = state { return true }
        return false
    }

    /// Whether a fragmented message is in progress.
    public var isInsideMessage: Bool { messageOpcode != nil }

    /// Parses `bytes`, returning the events they complete; an `.error` is always last.
    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Parses `bytes`, returning the events they complete; an `.error` is always last.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        var events: [Event] = []
        var index = 0
        do throws(WebSocketError) {
            while index < bytes.count {
                switch state {
                case .stopped:
                    return events
                case .header:
                    try readHeader(bytes, &index, &events)
                case .payload(let remaining):
                    let take = min(remaining, bytes.count - index)
                    try readPayload(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))
                    index += take
                    if take == remaining {
                        state = .header
                        try frameCompleted(&events)
                    } else {
                        state = .payload(remaining: remaining - take)
                    }
                }
            }
        } catch {
            state = .stopped
            release()
            events.append(.error(error))
        }
        return events
    }

    /// Drops the buffers of a connection that is over.
    private mutating func release() {
        message = []
        compressed = []
        control = []
        headerBytes = []
    }

    // MARK: - Header

    private mutating func readHeader(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, _ events: inout [Event])
        throws(WebSocketError)
    {
        while index < bytes.count {
            headerBytes.append(bytes[index])
            index += 1
            if headerBytes.count == 2 { try checkFirstBytes() }
            guard headerBytes.count >= 2, headerBytes.count == headerLength else { continue }
            try headerCompleted()
            headerBytes.removeAll(keepingCapacity: true)
            if frameLength == 0 {
                state = .header
                try frameCompleted(&events)
            } else {
                state = .payload(remaining: frameLength)
            }
            return
        }
    }

    /// 2, plus 2 or 8 bytes of extended length, plus 4 of masking key.
    private var headerLength: Int {
        let length7 = headerBytes[1] & 0x7F
        return 2 + (length7 == 126 ? 2 : length7 == 127 ? 8 : 0) + (headerBytes[1] & 0x80 != 0 ? 4 : 0)
    }

    /// Everything the first two bytes decide, checked as soon as they arrive.
    private mutating func checkFirstBytes() throws(WebSocketError) {
        let first = headerBytes[0]
        let second = headerBytes[1]
        fin = first & 0x80 != 0
        let rsv1 = first & 0x40 != 0
        if first & 0x30 != 0 {
            throw .protocolError("WS_ERR_UNEXPECTED_RSV_2_3", "RSV2 and RSV3 must be clear")
        }
        guard let opcode = WebSocketOpcode(rawValue: first & 0x0F) else {
            throw .protocolError("WS_ERR_INVALID_OPCODE", "invalid opcode \(first & 0x0F)")
        }
        self.opcode = opcode
        if opcode.isControl {
            if rsv1 { throw .protocolError("WS_ERR_UNEXPECTED_RSV_1", "RSV1 must be clear on a control frame") }
            if !fin { throw .protocolError("WS_ERR_EXPECTED_FIN", "control frames must not be fragmented") }
            if second & 0x7F > 125 {
                throw .protocolError("WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH", "control frame longer than 125 bytes")
            }
        } else if opcode == .continuation {
            if messageOpcode == nil {
                throw .protocolError("WS_ERR_INVALID_OPCODE", "continuation frame without a message to continue")
            }
            if rsv1 { throw .protocolError("WS_ERR_UNEXPECTED_RSV_1", "RSV1 must be clear on a continuation frame") }
        } else {
            if messageOpcode != nil {
                throw .protocolError("WS_ERR_INVALID_OPCODE", "new data frame inside a fragmented message")
            }
            if rsv1 && inflater == nil {
                throw .protocolError("WS_ERR_UNEXPECTED_RSV_1", "RSV1 must be clear without permessage-deflate")
            }
            messageIsCompressed = rsv1
        }
        let masked = second & 0x80 != 0
        switch role {
        case .server where !masked: throw .protocolError("WS_ERR_EXPECTED_MASK", "client frames must be masked")
        case .client where masked: throw .protocolError("WS_ERR_UNEXPECTED_MASK", "server frames must not be masked")
        default: break
        }
    }

    private mutating func headerCompleted() throws(WebSocketError) {
        let length7 = Int(headerBytes[1] & 0x7F)
        var offset = 2
        switch length7 {
        case 126:
            frameLength = Int(headerBytes[2]) << 8 | Int(headerBytes[3])
            offset = 4
        case 127:
            if headerBytes[2] & 0x80 != 0 {
                throw .protocolError("WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH", "64-bit length with the top bit set")
            }
            var length = 0
            for byte in headerBytes[2..<10] { length = length << 8 | Int(byte) }
            frameLength = length
            offset = 10
        default:
            frameLength = length7
        }
        if headerBytes[1] & 0x80 != 0 {
            maskingKey = UInt32(headerBytes[offset]) << 24 | UInt32(headerBytes[offset + 1]) << 16
                | UInt32(headerBytes[offset + 2]) << 8 | UInt32(headerBytes[offset + 3])
        } else {
            maskingKey = nil
        }
        if opcode.isControl {
            control.removeAll(keepingCapacity: true)
            return
        }
        if opcode != .continuation { messageOpcode = opcode }
        // Refused before any of it is buffered (compressed messages are limited as they inflate).
        if maxMessageBytes > 0 && !messageIsCompressed && frameLength > maxMessageBytes - message.count {
            throw .messageTooBig(maxMessageBytes)
        }
    }

    // MARK: - Payload

    private mutating func readPayload(_ bytes: UnsafeRawBufferPointer) throws(WebSocketError) {
        // The position in the frame of bytes[0], for the masking key's phase.
        let phase: Int
        if case .payload(let remaining) = state { phase = frameLength - remaining } else { phase = 0 }
        if opcode.isControl {
            Self.appendUnmasked(bytes, to: &control, key: maskingKey, phase: phase)
            return
        }
        if messageIsCompressed, let inflater {
            compressed.removeAll(keepingCapacity: true)
            Self.appendUnmasked(bytes, to: &compressed, key: maskingKey, phase: phase)
            let start = message.count
            // Moved out so that appending to it does not copy it (self is borrowed by the closure).
            var output = message
            message = []
            let limit = maxMessageBytes > 0 ? maxMessageBytes : .max
            let failure = compressed.withUnsafeBytes { raw -> WebSocketError? in
                do throws(WebSocketError) {
                    try inflater.inflate(raw, into: &output, limit: limit)
                    return nil
                } catch {
                    return error
                }
            }
            message = output
            if let failure { throw failure }
            try validateText(from: start)
            return
        }
        let start = message.count
        Self.appendUnmasked(bytes, to: &message, key: maskingKey, phase: phase)
        try validateText(from: start)
    }

    private mutating func validateText(from start: Int) throws(WebSocketError) {
        guard messageOpcode == .text, start < message.count else { return }
        let valid = message.withUnsafeBytes { utf8.validate(UnsafeRawBufferPointer(rebasing: $0[start...])) }
        if !valid { throw .invalidUTF8 }
    }

    private static func appendUnmasked(_ bytes: UnsafeRawBufferPointer, to array: inout [UInt8], key: UInt32?, phase: Int) {
        let start = array.count
        array.append(contentsOf: bytes)
        if let key { WebSocketFrameEncoder.mask(&array, from: start, key: key, offset: phase) }
    }

    // MARK: - Completed frames

    private mutating func frameCompleted(_ events: inout [Event]) throws(WebSocketError) {
        switch opcode {
        case .ping:
            events.append(.ping(control))
        case .pong:
            events.append(.pong(control))
        case .close:
            events.append(try Self.closeEvent(control))
            state = .stopped
            release()
        case .continuation, .text, .binary:
            guard fin else { return }
            if messageIsCompressed, let inflater {
                let start = message.count
                try inflater.finishMessage(into: &message, limit: maxMessageBytes > 0 ? maxMessageBytes : .max)
                try validateText(from: start)
            }
            if messageOpcode == .text {
                // The message must end on a character boundary.
                guard utf8.pendingByteCount == 0 else { throw .invalidUTF8 }
                events.append(.text(String(decoding: message, as: UTF8.self)))
            } else {
                events.append(.binary(message))
            }
            messageOpcode = nil
            messageIsCompressed = false
            // A large message's buffer is not kept for the next one.
            if message.capacity > 64 * 1024 { message = [] } else { message.removeAll(keepingCapacity: true) }
            utf8 = UTF8StreamDecoder()
        }
    }

    /// A close frame's code and reason (RFC 6455 §5.5.1): none, or two bytes of a valid code and a UTF-8 reason.
    static func closeEvent(_ payload: [UInt8]) throws(WebSocketError) -> Event {
        if payload.isEmpty { return .close(code: nil, reason: "") }
        guard payload.count >= 2 else {
            throw .protocolError("WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH", "close frame with a 1-byte payload")
        }
        let code = UInt16(payload[0]) << 8 | UInt16(payload[1])
        guard WebSocketCloseCode.isValid(code) else {
            throw .protocolError("WS_ERR_INVALID_CLOSE_CODE", "invalid close code \(code)")
        }
        let reason = Array(payload[2...])
        var validator = UTF8StreamDecoder()
        let valid = reason.withUnsafeBytes { validator.validate($0) }
        guard valid, validator.pendingByteCount == 0 else { throw .invalidUTF8 }
        return .close(code: code, reason: String(decoding: reason, as: UTF8.self))
    }
}
