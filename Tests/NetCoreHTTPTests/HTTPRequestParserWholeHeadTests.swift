import Testing

@testable import NetCoreHTTP

/// The parser's whole-head path (a head that arrived in one read, parsed in place) must accept only what the
/// byte-by-byte path accepts, with the same result; everything else goes to the byte-by-byte path, which the
/// split-at-every-offset tests of HTTPRequestParserTests cover.
@Suite struct HTTPRequestParserWholeHeadTests {
    static func wholeHead(_ text: String, limits: HTTPRequestParser.Limits = .init())
        -> (method: String, target: String, version: HTTPVersion, headers: HTTPHeaders, end: Int)?
    {
        Array(text.utf8).withUnsafeBytes { HTTPRequestParser.wholeHead($0, from: 0, limits: limits) }
    }

    /// The events of feeding `text` one byte at a time (never the whole-head path: no feed holds a whole head).
    static func byteByByte(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> [HTTPRequestParser.Event] {
        var parser = HTTPRequestParser(limits: limits)
        return Array(text.utf8).flatMap { parser.feed([$0]) }
    }

    static func whole(_ text: String, limits: HTTPRequestParser.Limits = .init()) -> [HTTPRequestParser.Event] {
        var parser = HTTPRequestParser(limits: limits)
        return parser.feed(Array(text.utf8))
    }

    @Test func aTypicalHead_isTakenWhole_andMatchesTheByteByBytePath() throws {
        let text = "GET /users?id=1 HTTP/1.1\r\nHost: example.test:8080\r\nAccept:  */*  \r\nX-Empty:\r\n\r\nnext"
        let head = try #require(Self.wholeHead(text))
        #expect(head.method == "GET")
        #expect(head.target == "/users?id=1")
        #expect(head.version == .http1_1)
        #expect(head.headers.fields.map { "\($0.name)=\($0.value)" } == ["Host=example.test:8080", "Accept=*/*", "X-Empty="])
        #expect(head.end == text.utf8.count - 4)
        #expect(Self.whole(text) == Self.byteByByte(text))
    }

    @Test func obsText_inAValue_isDecodedAsTheByteByBytePathDecodesIt() {
        let bytes: [UInt8] = Array("GET / HTTP/1.1\r\nHost: h\r\nX: a".utf8) + [0xC3, 0xA9, 0xFF] + Array("\r\n\r\n".utf8)
        var whole = HTTPRequestParser()
        var split = HTTPRequestParser()
        #expect(whole.feed(bytes) == bytes.flatMap { split.feed([$0]) })
    }

    @Test(arguments: [
        "GET / HTTP/1.1\r\nHost: h\r\n",  // incomplete
        "GET / HTTP/1.1\r\nHost: h\n\r\n",  // bare LF
        "GET / HTTP/1.1\r\nHost: h\r\r\n\r\n",  // bare CR
        "GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n",  // obs-fold
        "GE\u{01}T / HTTP/1.1\r\nHost: h\r\n\r\n",  // a control byte in the method
        "GET /a\u{7F} HTTP/1.1\r\nHost: h\r\n\r\n",  // DEL in the target
        "GET / HTTP/2.0\r\nHost: h\r\n\r\n",  // 505
        "GET  / HTTP/1.1\r\nHost: h\r\n\r\n",  // two spaces
        "GET / HTTP/1.1\r\nHost : h\r\n\r\n",  // whitespace before the colon
        "GET / HTTP/1.1\r\nX: a\u{00}b\r\n\r\n",  // NUL in a value
        "\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n",  // an empty line first
        "GET * HTTP/1.1\r\nHost: h\r\n\r\n",  // asterisk-form for GET
    ])
    func irregularHeads_goToTheByteByBytePath_withTheSameOutcome(_ text: String) {
        #expect(Self.wholeHead(text) == nil)
        #expect(Self.whole(text) == Self.byteByByte(text))
    }

    @Test func theLimits_areTheByteByBytePathsLimits() {
        let limits = HTTPRequestParser.Limits(maxHeaderBytes: 64, maxTargetBytes: 16)
        // Exactly at the head limit, and one byte over.
        let atLimit = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 64 - 32) + "\r\n\r\n"
        #expect(atLimit.utf8.count == 64)
        #expect(Self.wholeHead(atLimit, limits: limits) != nil)
        #expect(Self.whole(atLimit, limits: limits) == Self.byteByByte(atLimit, limits: limits))
        let over = "GET / HTTP/1.1\r\nHost: h\r\nX: " + String(repeating: "a", count: 65 - 32) + "\r\n\r\n"
        #expect(Self.wholeHead(over, limits: limits) == nil)
        #expect(Self.whole(over, limits: limits) == Self.byteByByte(over, limits: limits))
        // A target within its limit on a request line longer than the line limit (a long method): refused the same.
        let longMethod = String(repeating: "M", count: 30) + " /" + String(repeating: "t", count: 15)
            + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(Self.wholeHead(longMethod, limits: HTTPRequestParser.Limits(maxHeaderBytes: 256, maxTargetBytes: 16)) == nil)
        let lineLimits = HTTPRequestParser.Limits(maxHeaderBytes: 256, maxTargetBytes: 16)
        #expect(Self.whole(longMethod, limits: lineLimits) == Self.byteByByte(longMethod, limits: lineLimits))
        // A target over its limit.
        let longTarget = "GET /" + String(repeating: "t", count: 16) + " HTTP/1.1\r\nHost: h\r\n\r\n"
        #expect(Self.wholeHead(longTarget, limits: lineLimits) == nil)
    }

    @Test func theByteClassMasks_equalTheirTables() {
        for byte in 0...255 {
            #expect(HTTPSyntax.isToken(UInt8(byte)) == HTTPSyntax.tokenTable[byte], "token class of byte \(byte)")
            #expect(HTTPSyntax.isHostByte(UInt8(byte)) == HTTPSyntax.hostTable[byte], "host class of byte \(byte)")
        }
    }
}
