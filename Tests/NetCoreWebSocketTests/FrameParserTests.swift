import Testing
@testable import NetCoreWebSocket

typealias Event = WebSocketFrameParser.Event

/// Feeds `chunks` to one fresh parser and returns every event; checks that an error is last and that nothing follows.
func runParser(_ chunks: [ArraySlice<UInt8>], role: WebSocketFrameParser.Role, maxMessageBytes: Int) -> [Event] {
    var parser = WebSocketFrameParser(role: role, maxMessageBytes: maxMessageBytes)
    var events: [Event] = []
    for chunk in chunks {
        let stoppedBefore = parser.isStopped
        let more = parser.feed(Array(chunk))
        if stoppedBefore && !more.isEmpty { Issue.record("events after the parser stopped: \(more)") }
        if let errorIndex = more.firstIndex(where: { if case .error = $0 { true } else { false } }),
            errorIndex != more.count - 1
        {
            Issue.record("an error that is not the last event: \(more)")
        }
        events += more
    }
    return events
}

/// Parses `input` whole, one byte at a time, and split in two at every offset (every 97th past 4 KiB); all must
/// agree. Returns the events of the whole feed.
func parseEveryWay(
    _ input: [UInt8], role: WebSocketFrameParser.Role = .server, maxMessageBytes: Int = 1 << 20,
    sourceLocation: SourceLocation = #_sourceLocation
) -> [Event] {
    let whole = runParser([input[...]], role: role, maxMessageBytes: maxMessageBytes)
    let bytewise = runParser(input.indices.map { input[$0...$0] }, role: role, maxMessageBytes: maxMessageBytes)
    #expect(bytewise == whole, "byte by byte differs", sourceLocation: sourceLocation)
    let offsets = input.count <= 4096 ? Array(0...input.count) : Array(stride(from: 0, through: input.count, by: 97))
    for offset in offsets {
        let split = runParser([input[..<offset], input[offset...]], role: role, maxMessageBytes: maxMessageBytes)
        if split != whole {
            Issue.record("split at \(offset) gives \(split), whole gives \(whole)", sourceLocation: sourceLocation)
            break
        }
    }
    return whole
}

/// A frame as a client sends it (masked with a fixed key) or a server does (`key` nil).
func frame(
    _ opcode: UInt8, _ payload: [UInt8], fin: Bool = true, rsv: UInt8 = 0, key: UInt32? = 0x37FA_213D
) -> [UInt8] {
    var bytes = WebSocketFrameEncoder.frame(
        opcode: WebSocketOpcode(rawValue: opcode & 0x0F) ?? .binary, payload: payload, fin: fin, maskingKey: key)
    bytes[0] = (fin ? 0x80 : 0) | rsv | opcode
    return bytes
}

func frame(_ opcode: UInt8, _ text: String, fin: Bool = true, key: UInt32? = 0x37FA_213D) -> [UInt8] {
    frame(opcode, Array(text.utf8), fin: fin, key: key)
}

func errorCode(_ events: [Event]) -> (UInt16, String)? {
    if case .error(let error)? = events.last { return (error.closeCode, error.code) }
    return nil
}

@Suite struct FrameParserTests {
    // RFC 6455 §5.7: "A single-frame masked text message (contains "Hello")".
    @Test func feed_parsesTheRFCMaskedHello() {
        let input: [UInt8] = [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58]
        #expect(parseEveryWay(input) == [.text("Hello")])
    }

    // §5.7: the unmasked "Hello" a server sends, read by a client.
    @Test func feed_parsesTheRFCUnmaskedHello_asClient() {
        let input: [UInt8] = [0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F]
        #expect(parseEveryWay(input, role: .client) == [.text("Hello")])
    }

    // §5.1: "The server MUST close the connection upon receiving a frame that is not masked."
    @Test func feed_failsWith1002_whenServerGetsAnUnmaskedFrame() {
        let events = parseEveryWay([0x81, 0x05, 0x48, 0x65, 0x6C, 0x6C, 0x6F])
        #expect(errorCode(events)! == (1002, "WS_ERR_EXPECTED_MASK"))
        // Fails on the header's second byte, before any payload is read.
        #expect(errorCode(runParser([[0x81, 0x05]], role: .server, maxMessageBytes: 100))! == (1002, "WS_ERR_EXPECTED_MASK"))
    }

    // §5.1: "A client MUST close a connection if it detects a masked frame."
    @Test func feed_failsWith1002_whenClientGetsAMaskedFrame() {
        #expect(errorCode(parseEveryWay(frame(0x1, "Hello"), role: .client))! == (1002, "WS_ERR_UNEXPECTED_MASK"))
    }

    // §5.7: a fragmented unmasked text message, "Hel" then "lo".
    @Test func feed_joinsFragments() {
        let input: [UInt8] = [0x01, 0x03, 0x48, 0x65, 0x6C, 0x80, 0x02, 0x6C, 0x6F]
        #expect(parseEveryWay(input, role: .client) == [.text("Hello")])
        let many = frame(0x1, "a", fin: false) + (0..<20).flatMap { _ in frame(0x0, "b", fin: false) } + frame(0x0, "c")
        #expect(parseEveryWay(many) == [.text("a" + String(repeating: "b", count: 20) + "c")])
    }

    // §5.4: "Control frames MAY be injected in the middle of a fragmented message."
    @Test func feed_deliversControlFramesInterleavedInAFragmentedMessage() {
        let input = frame(0x1, "Hel", fin: false) + frame(0x9, "ping") + frame(0x0, "l", fin: false)
            + frame(0xA, "pong") + frame(0x0, "o")
        #expect(parseEveryWay(input) == [.ping(Array("ping".utf8)), .pong(Array("pong".utf8)), .text("Hello")])
    }

    @Test func feed_readsEmptyMessagesAndFrames() {
        #expect(parseEveryWay(frame(0x1, "")) == [.text("")])
        #expect(parseEveryWay(frame(0x2, [])) == [.binary([])])
        #expect(parseEveryWay(frame(0x1, "", fin: false) + frame(0x0, "", fin: false) + frame(0x0, "x")) == [.text("x")])
        #expect(parseEveryWay(frame(0x9, [])) == [.ping([])])
    }

    // §5.2: 7-bit, 16-bit and 64-bit payload lengths (§5.7: "256 bytes binary message", "64KiB binary message").
    @Test(arguments: [0, 125, 126, 256, 65535, 65536, 70_000])
    func feed_readsEveryLengthEncoding(length: Int) {
        let payload = (0..<length).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        #expect(parseEveryWay(frame(0x2, payload)) == [.binary(payload)])
        #expect(parseEveryWay(frame(0x2, payload, key: nil), role: .client) == [.binary(payload)])
    }

    // §5.2: "the most significant bit MUST be 0".
    @Test func feed_failsWith1002_whenThe64BitLengthHasItsTopBitSet() {
        let input: [UInt8] = [0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4]
        #expect(errorCode(parseEveryWay(input))! == (1002, "WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH"))
    }

    // §5.2: RSV bits "MUST be 0 unless an extension is negotiated that defines meanings for non-zero values".
    @Test(arguments: [UInt8(0x40), 0x20, 0x10, 0x70])
    func feed_failsWith1002_onReservedBitsWithoutAnExtension(rsv: UInt8) {
        let events = parseEveryWay(frame(0x1, Array("x".utf8), rsv: rsv))
        #expect(errorCode(events)?.0 == 1002)
        #expect(parseEveryWay(frame(0x9, Array("x".utf8), rsv: rsv)).count == 1)
    }

    // §5.2: "If an unknown opcode is received, the receiving endpoint MUST _Fail the WebSocket Connection_."
    @Test(arguments: [UInt8(3), 4, 5, 6, 7, 0xB, 0xC, 0xD, 0xE, 0xF])
    func feed_failsWith1002_onReservedOpcodes(opcode: UInt8) {
        #expect(errorCode(parseEveryWay(frame(opcode, Array("x".utf8))))! == (1002, "WS_ERR_INVALID_OPCODE"))
    }

    // §5.5: "All control frames MUST have a payload length of 125 bytes or less and MUST NOT be fragmented."
    @Test func feed_failsWith1002_onLongOrFragmentedControlFrames() {
        #expect(errorCode(parseEveryWay(frame(0x9, [UInt8](repeating: 1, count: 126))))!
            == (1002, "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH"))
        #expect(parseEveryWay(frame(0x9, [UInt8](repeating: 1, count: 125))) == [.ping([UInt8](repeating: 1, count: 125))])
        #expect(errorCode(parseEveryWay(frame(0x9, "x", fin: false)))! == (1002, "WS_ERR_EXPECTED_FIN"))
    }

    // §5.4: a continuation needs a message to continue; a new message cannot start inside one.
    @Test func feed_failsWith1002_onBadFragmentSequences() {
        #expect(errorCode(parseEveryWay(frame(0x0, "x")))! == (1002, "WS_ERR_INVALID_OPCODE"))
        #expect(errorCode(parseEveryWay(frame(0x1, "a", fin: false) + frame(0x1, "b")))! == (1002, "WS_ERR_INVALID_OPCODE"))
        #expect(errorCode(parseEveryWay(frame(0x1, "a") + frame(0x0, "b")))! == (1002, "WS_ERR_INVALID_OPCODE"))
    }

    // §5.5.1 and §7.4: close frames.
    @Test func feed_readsCloseFrames() {
        #expect(parseEveryWay(frame(0x8, [])) == [.close(code: nil, reason: "")])
        #expect(parseEveryWay(frame(0x8, [0x03, 0xE8] + Array("bye κ".utf8))) == [.close(code: 1000, reason: "bye κ")])
        for code: UInt16 in [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999] {
            #expect(parseEveryWay(frame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)])) == [.close(code: code, reason: "")])
        }
    }

    @Test func feed_failsCloseFramesWithBadPayloads() {
        #expect(errorCode(parseEveryWay(frame(0x8, [0x03])))! == (1002, "WS_ERR_INVALID_CONTROL_PAYLOAD_LENGTH"))
        for code: UInt16 in [0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535] {
            #expect(errorCode(parseEveryWay(frame(0x8, [UInt8(code >> 8), UInt8(code & 0xFF)])))!
                == (1002, "WS_ERR_INVALID_CLOSE_CODE"), "code \(code)")
        }
        #expect(errorCode(parseEveryWay(frame(0x8, [0x03, 0xE8, 0xCE])))! == (1007, "WS_ERR_INVALID_UTF8"))
        #expect(errorCode(parseEveryWay(frame(0x8, [0x03, 0xE8, 0xFF, 0x41])))! == (1007, "WS_ERR_INVALID_UTF8"))
    }

    // §1.4/§5.5.1: nothing is read after a close frame.
    @Test func feed_ignoresInputAfterAClose() {
        #expect(parseEveryWay(frame(0x8, [0x03, 0xE8]) + frame(0x1, "late")) == [.close(code: 1000, reason: "")])
    }

    // §8.1: text is UTF-8; a valid character may be split across fragments.
    @Test func feed_acceptsCharactersSplitAcrossFragments() {
        let text = Array("κόσμε 😀".utf8)
        for cut in 0...text.count {
            let input = frame(0x1, Array(text[..<cut]), fin: false) + frame(0x0, Array(text[cut...]))
            #expect(runParser([input[...]], role: .server, maxMessageBytes: 100) == [.text("κόσμε 😀")], "cut at \(cut)")
        }
    }

    // §8.1 and Autobahn 6.4: fail fast, at the first invalid byte, even before the message (or frame) is complete.
    @Test func feed_failsWith1007_atTheFirstInvalidByte_acrossFragments() {
        // "κόσμε" then the start of a 4-byte sequence, then a byte that cannot continue it, in a second fragment
        // that is never finished.
        let first = frame(0x1, Array("κόσμε".utf8) + [0xF4], fin: false)
        var second = frame(0x0, [0x90, 0x80, 0x80, 0x41, 0x41, 0x41], fin: false)
        let events = parseEveryWay(first + second)
        #expect(errorCode(events)! == (1007, "WS_ERR_INVALID_UTF8"))
        // The error comes with the frame's header and its first payload byte: the rest of the frame never arrives.
        second.removeLast(5)
        #expect(errorCode(runParser([(first + second)[...]], role: .server, maxMessageBytes: 100))! == (1007, "WS_ERR_INVALID_UTF8"))
    }

    @Test func feed_failsWith1007_whenATextMessageEndsInsideACharacter() {
        #expect(errorCode(parseEveryWay(frame(0x1, [0x41, 0xE2, 0x82])))! == (1007, "WS_ERR_INVALID_UTF8"))
        #expect(errorCode(parseEveryWay(frame(0x1, [0xED, 0xA0, 0x80])))! == (1007, "WS_ERR_INVALID_UTF8"))  // surrogate
        #expect(errorCode(parseEveryWay(frame(0x1, [0xC0, 0xAF])))! == (1007, "WS_ERR_INVALID_UTF8"))  // overlong
        // Binary messages are not UTF-8.
        #expect(parseEveryWay(frame(0x2, [0xFF, 0xC0])) == [.binary([0xFF, 0xC0])])
    }

    // Node ws `maxPayload`: 1009 before the payload is buffered.
    @Test func feed_failsWith1009_overTheMessageLimit() {
        let ok = frame(0x2, [UInt8](repeating: 7, count: 10))
        #expect(parseEveryWay(ok, maxMessageBytes: 10) == [.binary([UInt8](repeating: 7, count: 10))])
        let big = frame(0x2, [UInt8](repeating: 7, count: 11))
        #expect(errorCode(parseEveryWay(big, maxMessageBytes: 10))! == (1009, "WS_ERR_UNSUPPORTED_MESSAGE_LENGTH"))
        // The header alone is enough to refuse it.
        #expect(errorCode(runParser([big[..<6]], role: .server, maxMessageBytes: 10))?.0 == 1009)
        // A 2^62-byte frame is refused from its header: nothing is allocated.
        let huge: [UInt8] = [0x82, 0xFF, 0x40, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]
        #expect(errorCode(runParser([huge[...]], role: .server, maxMessageBytes: 1 << 20))?.0 == 1009)
        // Fragments count together.
        let fragments = frame(0x2, [UInt8](repeating: 1, count: 6), fin: false) + frame(0x0, [UInt8](repeating: 2, count: 6))
        #expect(errorCode(parseEveryWay(fragments, maxMessageBytes: 10))?.0 == 1009)
    }

    @Test func feed_readsMessagesBackToBack() {
        let input = frame(0x1, "one") + frame(0x2, [1, 2]) + frame(0x9, "p") + frame(0x1, "two")
        #expect(parseEveryWay(input) == [.text("one"), .binary([1, 2]), .ping(Array("p".utf8)), .text("two")])
    }
}

@Suite struct FrameEncoderTests {
    @Test(arguments: [(0, 2), (125, 2), (126, 4), (65535, 4), (65536, 10)])
    func header_usesTheShortestLengthEncoding(length: Int, headerLength: Int) {
        #expect(WebSocketFrameEncoder.header(opcode: .binary, payloadLength: length).count == headerLength)
        #expect(WebSocketFrameEncoder.header(opcode: .binary, payloadLength: length, maskingKey: 1).count == headerLength + 4)
    }

    @Test func frame_encodesTheRFCExamples() {
        #expect(WebSocketFrameEncoder.frame(opcode: .text, payload: Array("Hello".utf8), maskingKey: 0x37FA_213D)
            == [0x81, 0x85, 0x37, 0xFA, 0x21, 0x3D, 0x7F, 0x9F, 0x4D, 0x51, 0x58])
        #expect(WebSocketFrameEncoder.frame(opcode: .text, payload: Array("Hel".utf8), fin: false)
            == [0x01, 0x03, 0x48, 0x65, 0x6C])
        #expect(Array(WebSocketFrameEncoder.header(opcode: .binary, payloadLength: 65536)) == [0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0])
    }

    @Test func mask_roundTripsAtEveryPhase() {
        let payload = (0..<37).map { UInt8($0) }
        for phase in 0..<4 {
            var bytes = payload
            WebSocketFrameEncoder.mask(&bytes, from: 0, key: 0xDEAD_BEEF, offset: phase)
            for index in payload.indices {
                let keyByte = UInt8((0xDEAD_BEEF as UInt32) >> UInt32(24 - 8 * ((index + phase) % 4)) & 0xFF)
                #expect(bytes[index] == payload[index] ^ keyByte)
            }
            WebSocketFrameEncoder.mask(&bytes, from: 0, key: 0xDEAD_BEEF, offset: phase)
            #expect(bytes == payload)
        }
    }

    @Test func closePayload_cutsTheReasonOnACharacterBoundary() {
        #expect(WebSocketFrameEncoder.closePayload(code: nil, reason: "x") == [])
        #expect(WebSocketFrameEncoder.closePayload(code: 1000, reason: "ok") == [0x03, 0xE8, 0x6F, 0x6B])
        let payload = WebSocketFrameEncoder.closePayload(code: 1001, reason: String(repeating: "κ", count: 100))
        #expect(payload.count == 124)  // 2 + 61 two-byte characters
        #expect(String(validating: payload[2...], as: UTF8.self) != nil)
    }
}

@Suite struct CloseHandshakeTests {
    @Test func close_thenPeersClose_ends() {
        var handshake = WebSocketCloseHandshake()
        #expect(handshake.close(code: 1000, reason: "bye") == .sendClose(code: 1000, reason: "bye"))
        #expect(handshake.state == .closeSent(code: 1000))
        #expect(handshake.close(code: 1001, reason: "") == .none)
        #expect(handshake.receivedClose(code: 1000, reason: "ok") == .end)
        #expect(handshake.state == .closed(code: 1000, reason: "ok"))
        #expect(handshake.receivedClose(code: 1000, reason: "") == .none)
    }

    @Test func peersClose_isEchoed() {
        var handshake = WebSocketCloseHandshake()
        #expect(handshake.receivedClose(code: nil, reason: "") == .sendCloseAndEnd(code: nil, reason: ""))
        #expect(handshake.state == .closed(code: 1005, reason: ""))
        #expect(handshake.close(code: 1000, reason: "") == .none)
        #expect(!handshake.canSendClose)
    }

    @Test func failure_sendsItsCodeOnce() {
        var handshake = WebSocketCloseHandshake()
        let error = WebSocketError.invalidUTF8
        #expect(handshake.failed(error) == .sendCloseAndEnd(code: 1007, reason: ""))
        #expect(handshake.failed(error) == .end)
        var closing = WebSocketCloseHandshake()
        _ = closing.close(code: 1000, reason: "")
        #expect(closing.failed(error) == .end)
    }
}
