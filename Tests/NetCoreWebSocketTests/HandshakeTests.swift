import Testing
import NetCoreHTTP
@testable import NetCoreWebSocket

@Suite struct HandshakeTests {
    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02X", $0) }.joined() }

    // RFC 3174 §7.3 test vectors.
    @Test func sha1_matchesRFC3174Vectors() {
        #expect(Self.hex(SHA1.hash(Array("abc".utf8))) == "A9993E364706816ABA3E25717850C26C9CD0D89D")
        #expect(Self.hex(SHA1.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
            == "84983E441C3BD26EBAAE4AA1F95129E5E54670F1")
        #expect(Self.hex(SHA1.hash([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000)))
            == "34AA973CD4C4DAA4F61EEB2BDBAD27316534016F")
        let block = Array("0123456701234567012345670123456701234567012345670123456701234567".utf8)
        #expect(Self.hex(SHA1.hash(Array((0..<10).map { _ in block }.joined()))) == "DEA356A2CDDD90C7A7ECEDC5EBB563934F460452")
        #expect(Self.hex(SHA1.hash([])) == "DA39A3EE5E6B4B0D3255BFEF95601890AFD80709")
    }

    // RFC 6455 §1.3: the example key and its accept value.
    @Test func acceptValue_matchesTheRFCExample() {
        #expect(WebSocketHandshake.acceptValue(forKey: "dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    }

    @Test func base64_roundTripsAndRejectsNonCanonicalText() {
        for length in 0..<20 {
            let bytes = (0..<length).map { UInt8($0 * 37 & 0xFF) }
            #expect(Base64.decode(Base64.encode(bytes)) == bytes)
        }
        #expect(Base64.decode("dGhlIHNhbXBsZSBub25jZQ==")?.count == 16)
        #expect(Base64.decode("dGhlIHNhbXBsZSBub25jZR==") == nil)  // stray bits
        #expect(Base64.decode("abc") == nil)
        #expect(Base64.decode("a=bc") == nil)
    }

    static func headers(_ fields: [(String, String)]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in fields { headers.add(name: name, value: value) }
        return headers
    }

    static let good: [(String, String)] = [
        ("Host", "x"), ("Upgrade", "websocket"), ("Connection", "keep-alive, Upgrade"),
        ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Sec-WebSocket-Version", "13"),
    ]

    static func status(_ fields: [(String, String)], method: String = "GET", version: HTTPVersion = .http1_1) -> Int {
        do {
            _ = try WebSocketHandshake.checkRequest(method: method, version: version, headers: headers(fields))
            return 101
        } catch {
            return error.status
        }
    }

    // RFC 6455 §4.2.1 (what the server checks) and §4.4 (426 with the versions it supports).
    @Test func checkRequest_refusesBadUpgrades() {
        #expect(Self.status(Self.good) == 101)
        #expect(Self.status(Self.good, method: "POST") == 400)
        #expect(Self.status(Self.good, version: .http1_0) == 400)
        #expect(Self.status(Self.good.filter { $0.0 != "Sec-WebSocket-Key" }) == 400)
        #expect(Self.status(Self.good.map { $0.0 == "Sec-WebSocket-Key" ? ($0.0, "c2hvcnQ=") : $0 }) == 400)
        #expect(Self.status(Self.good.map { $0.0 == "Upgrade" ? ($0.0, "h2c") : $0 }) == 400)
        #expect(Self.status(Self.good.map { $0.0 == "Connection" ? ($0.0, "keep-alive") : $0 }) == 400)
        #expect(Self.status(Self.good.map { $0.0 == "Sec-WebSocket-Version" ? ($0.0, "8") : $0 }) == 426)
        #expect(Self.status(Self.good.filter { $0.0 != "Sec-WebSocket-Version" }) == 426)
        #expect(Self.status(Self.good + [("Sec-WebSocket-Protocol", "a, , b")]) == 400)
        #expect(Self.status(Self.good + [("Sec-WebSocket-Extensions", "permessage-deflate; =1")]) == 400)
        do {
            _ = try WebSocketHandshake.checkRequest(
                method: "GET", version: .http1_1,
                headers: Self.headers(Self.good.map { $0.0 == "Sec-WebSocket-Version" ? ($0.0, "8") : $0 }))
        } catch {
            #expect(error.response.contains("\r\nSec-WebSocket-Version: 13\r\n"))
        }
    }

    @Test func checkRequest_readsProtocolsAndExtensions() throws {
        let request = try WebSocketHandshake.checkRequest(
            method: "GET", version: .http1_1,
            headers: Self.headers(Self.good + [
                ("Sec-WebSocket-Protocol", "chat, superchat"),
                ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits, x-other; a=\"1\""),
            ]))
        #expect(request.protocols == ["chat", "superchat"])
        #expect(request.extensions.map(\.name) == ["permessage-deflate", "x-other"])
        #expect(request.extensions[1].parameters.first?.1 == "1")
    }

    @Test func target_parsesWebSocketURLs() throws {
        let plain = try WebSocket.Target.parse("ws://example.com/chat?room=1")
        #expect(plain.host == "example.com" && plain.port == 80 && plain.requestTarget == "/chat?room=1")
        #expect(plain.hostField == "example.com")
        let port = try WebSocket.Target.parse("ws://127.0.0.1:3000")
        #expect(port.port == 3000 && port.requestTarget == "/" && port.hostField == "127.0.0.1:3000")
        let v6 = try WebSocket.Target.parse("ws://[::1]:8080/x")
        #expect(v6.host == "::1" && v6.port == 8080 && v6.hostField == "[::1]:8080")
        let unix = try WebSocket.Target.parse("ws+unix:/tmp/s.sock:/echo?x=1")
        #expect(unix.socketPath == "/tmp/s.sock" && unix.requestTarget == "/echo?x=1")
        #expect(try WebSocket.Target.parse("ws+unix:///tmp/s.sock").requestTarget == "/")
        #expect(throws: WebSocketError.self) { try WebSocket.Target.parse("wss://example.com/") }
        #expect(throws: WebSocketError.self) { try WebSocket.Target.parse("http://example.com/") }
        #expect(throws: WebSocketError.self) { try WebSocket.Target.parse("ws://example.com:99999/") }
    }
}

@Suite struct PerMessageDeflateNegotiationTests {
    static func offers(_ text: String) -> [WebSocketExtensionOffer] { WebSocketExtensionOffer.parse(text)! }

    // RFC 7692 §7.1.
    @Test func server_acceptsTheUsualOffer() {
        let deflate = PerMessageDeflate.serverAccepting(
            Self.offers("permessage-deflate; client_max_window_bits"), options: PerMessageDeflateOptions())
        #expect(deflate?.responseValue == "permessage-deflate")
        let strict = PerMessageDeflate.serverAccepting(
            Self.offers("permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12"),
            options: PerMessageDeflateOptions())
        #expect(strict?.responseValue
            == "permessage-deflate; server_no_context_takeover; client_no_context_takeover; server_max_window_bits=10; client_max_window_bits=12")
        #expect(strict?.deflateWindowBits == 10)
    }

    // §7.1.2.1 and zlib: raw deflate cannot keep to an 8-bit window, so that offer is declined; the next is taken.
    @Test func server_declinesWhatItCannotHonour() {
        let options = PerMessageDeflateOptions()
        #expect(PerMessageDeflate.serverAccepting(Self.offers("permessage-deflate; server_max_window_bits=8"), options: options) == nil)
        let fallback = PerMessageDeflate.serverAccepting(
            Self.offers("permessage-deflate; server_max_window_bits=8, permessage-deflate"), options: options)
        #expect(fallback?.responseValue == "permessage-deflate")
        for bad in ["permessage-deflate; foo", "permessage-deflate; server_max_window_bits=16",
                    "permessage-deflate; server_max_window_bits", "permessage-deflate; client_max_window_bits=07",
                    "permessage-deflate; server_no_context_takeover=1",
                    "permessage-deflate; server_no_context_takeover; server_no_context_takeover", "x-webkit-deflate-frame"] {
            #expect(PerMessageDeflate.serverAccepting(Self.offers(bad), options: options) == nil, "\(bad)")
        }
        // client_max_window_bits=8 only limits the client's compressor; our inflater copes with any window.
        #expect(PerMessageDeflate.serverAccepting(Self.offers("permessage-deflate; client_max_window_bits=8"), options: options) != nil)
    }

    @Test func compressedMessages_roundTripThroughTheParser() {
        let options = PerMessageDeflateOptions()
        for resets in [false, true] {
            let sender = PerMessageDeflate(options: options, isServer: false, deflateWindowBits: 15, deflateResets: resets,
                                           inflateResets: false, responseValue: "")
            let receiver = PerMessageDeflate(options: options, isServer: true, deflateWindowBits: 15, deflateResets: false,
                                             inflateResets: resets, responseValue: "")
            var parser = WebSocketFrameParser(role: .server, inflater: receiver)
            for text in ["", "hello", String(repeating: "κόσμε ", count: 5000), "hello"] {
                let compressed = sender.compress(Array(text.utf8))
                var bytes = WebSocketFrameEncoder.frame(opcode: .text, payload: compressed, rsv1: true, maskingKey: 0x1234_5678)
                // Split at an odd place to exercise incremental inflation.
                let cut = bytes.count / 3
                let first = Array(bytes[..<cut])
                bytes.removeFirst(cut)
                #expect(parser.feed(first) + parser.feed(bytes) == [.text(text)])
            }
        }
    }

    // A deflate bomb: 50 MiB of zeros in about 230 KiB, against a 1 MiB limit: 1009, having inflated at most the limit.
    @Test func inflation_stopsAtTheLimit() {
        let options = PerMessageDeflateOptions()
        let sender = PerMessageDeflate(options: options, isServer: false, deflateWindowBits: 15, deflateResets: false,
                                       inflateResets: false, responseValue: "")
        let receiver = PerMessageDeflate(options: options, isServer: true, deflateWindowBits: 15, deflateResets: false,
                                         inflateResets: false, responseValue: "")
        let bomb = sender.compress([UInt8](repeating: 0, count: 50 << 20))
        #expect(bomb.count < 300_000)
        var parser = WebSocketFrameParser(role: .server, maxMessageBytes: 1 << 20, inflater: receiver)
        let events = parser.feed(WebSocketFrameEncoder.frame(opcode: .binary, payload: bomb, rsv1: true, maskingKey: 7))
        #expect(errorCode(events)?.0 == 1009)
    }
}
