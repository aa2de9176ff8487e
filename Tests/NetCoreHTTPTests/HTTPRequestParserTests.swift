import Foundation
import Testing

@testable import NetCoreHTTP

/// Tests of the pure HTTP/1.1 request parser against RFC 9112 (message syntax) and RFC 9110 (semantics).
///
/// Every input goes through `parse`, which feeds it whole, one byte at a time and split into two feeds at every
/// offset, and requires the same events each way (adjacent `.body` chunks merged). The expectations are exact event
/// lists, with errors reduced to their status.
@Suite struct HTTPRequestParserTests {
    // MARK: - Harness

    /// An event as the tests compare it: an error by its status alone.
    enum Ev: Equatable, CustomStringConvertible {
        case head(HTTPRequestHead)
        case body([UInt8])
        case end
        case error(Int)
        case upgrade(HTTPRequestHead, [UInt8])

        static func body(_ text: String) -> Ev { .body(Array(text.utf8)) }

        var description: String {
            switch self {
            case .head(let head): "head(\(head.method) \(head.target) \(head.version) \(head.headers.fields) \(head.framing))"
            case .body(let bytes): "body(\(String(decoding: bytes, as: UTF8.self).debugDescription))"
            case .end: "end"
            case .error(let status): "error(\(status))"
            case .upgrade(let head, let rest): "upgrade(\(head.target), \(rest))"
            }
        }
    }

    /// Merges adjacent `.body` chunks: how a body is split into events depends on how the input was.
    static func normalise(_ events: [HTTPRequestParser.Event]) -> [HTTPRequestParser.Event] {
        var result: [HTTPRequestParser.Event] = []
        for event in events {
            if case .body(let more) = event, case .body(let previous)? = result.last {
                result[result.count - 1] = .body(previous + more)
            } else {
                result.append(event)
            }
        }
        return result
    }

    /// Feeds `chunks` to one fresh parser; the normalised events of all feeds. Also checks that an `.error` is the last
    /// event of its feed and that later feeds return nothing (the parser stops after an error).
    static func run(
        _ chunks: [ArraySlice<UInt8>], limits: HTTPRequestParser.Limits, sourceLocation: SourceLocation
    ) -> [HTTPRequestParser.Event] {
        var parser = HTTPRequestParser(limits: limits)
        var all: [HTTPRequestParser.Event] = []
        for chunk in chunks {
            let failedBefore = all.contains { if case .error = $0 { true } else { false } }
            let events = parser.feed(Array(chunk))
            if failedBefore && !events.isEmpty {
                Issue.record("events after an error: \(events)", sourceLocation: sourceLocation)
            }
            if let errorIndex = events.firstIndex(where: { if case .error = $0 { true } else { false } }),
                errorIndex != events.count - 1
            {
                Issue.record("an error that is not the last event: \(events)", sourceLocation: sourceLocation)
            }
            all += events
        }
        return normalise(all)
    }

    /// Where `parse` splits an input in two: every offset. Inputs over 4 KiB (only the default-limit 414 and 431 tests,
    /// which a debug build would take minutes to split everywhere, as the cost is quadratic) are split at every offset
    /// of their first and last 512 bytes, within 48 bytes of each limit, and every 127 bytes between; the same rules
    /// are checked at every offset with small limits in the `…_smallLimits` tests.
    static func splitOffsets(_ count: Int, _ limits: HTTPRequestParser.Limits) -> [Int] {
        guard count > 4096 else { return Array(0...count) }
        var offsets = Set(0..<512).union((count - 512)...count).union(stride(from: 0, through: count, by: 127))
        for limit in [limits.maxTargetBytes, limits.maxHeaderBytes] {
            offsets.formUnion((limit - 48)...(limit + 48))
        }
        return offsets.filter { $0 <= count }.sorted()
    }

    /// Parses `input` whole, one byte at a time, and split in two at every offset; all must agree (reasons included).
    /// Returns the events of the whole feed, errors reduced to their status.
    static func parse(
        _ input: [UInt8], limits: HTTPRequestParser.Limits = .init(), sourceLocation: SourceLocation = #_sourceLocation
    ) -> [Ev] {
        let whole = run([input[...]], limits: limits, sourceLocation: sourceLocation)
        let bytewise = run(input.indices.map { input[$0...$0] }, limits: limits, sourceLocation: sourceLocation)
        #expect(
            bytewise == whole, "one byte at a time gives \(bytewise.map(Self.reduce)), whole gives \(whole.map(Self.reduce))",
            sourceLocation: sourceLocation)
        for offset in splitOffsets(input.count, limits) {
            let split = run([input[..<offset], input[offset...]], limits: limits, sourceLocation: sourceLocation)
            if split != whole {
                Issue.record(
                    "split at \(offset) gives \(split.map(Self.reduce)), whole gives \(whole.map(Self.reduce))",
                    sourceLocation: sourceLocation)
                break
            }
        }
        return whole.map(Self.reduce)
    }

    static func parse(
        _ input: String, limits: HTTPRequestParser.Limits = .init(), sourceLocation: SourceLocation = #_sourceLocation
    ) -> [Ev] {
        parse(Array(input.utf8), limits: limits, sourceLocation: sourceLocation)
    }

    static func reduce(_ event: HTTPRequestParser.Event) -> Ev {
        switch event {
        case .head(let head): .head(head)
        case .body(let bytes): .body(bytes)
        case .end: .end
        case .error(let error): .error(error.status)
        case .upgrade(let head, let rest): .upgrade(head, rest)
        }
    }

    /// Expects `input` (checked for split-independence) to give exactly `expected`.
    static func expectEvents(
        _ input: [UInt8], _ expected: [Ev], limits: HTTPRequestParser.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let events = parse(input, limits: limits, sourceLocation: sourceLocation)
        #expect(events == expected, sourceLocation: sourceLocation)
        if case .error(let status)? = expected.last, limits == .init() { RejectedRequestLog.record(input, status: status) }
    }

    static func expectEvents(
        _ input: String, _ expected: [Ev], limits: HTTPRequestParser.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectEvents(Array(input.utf8), expected, limits: limits, sourceLocation: sourceLocation)
    }

    /// Expects `input` to be rejected with `status` before any head is produced.
    static func expectRejected(
        _ input: String, status: Int, limits: HTTPRequestParser.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectEvents(Array(input.utf8), [.error(status)], limits: limits, sourceLocation: sourceLocation)
    }

    static func expectRejected(
        _ input: [UInt8], status: Int, limits: HTTPRequestParser.Limits = .init(),
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        expectEvents(input, [.error(status)], limits: limits, sourceLocation: sourceLocation)
    }

    /// The single head among `events`, if exactly one.
    static func onlyHead(_ events: [Ev], sourceLocation: SourceLocation = #_sourceLocation) -> HTTPRequestHead? {
        let heads = events.compactMap { if case .head(let head) = $0 { head } else { nil } }
        #expect(heads.count == 1, "\(events)", sourceLocation: sourceLocation)
        return heads.count == 1 ? heads[0] : nil
    }

    static func head(
        _ method: String, _ target: String, _ fields: [(String, String)], _ framing: HTTPBodyFraming = .none,
        version: HTTPVersion = .http1_1
    ) -> HTTPRequestHead {
        var headers = HTTPHeaders()
        for (name, value) in fields { headers.add(name: name, value: value) }
        return HTTPRequestHead(method: method, target: target, version: version, headers: headers, framing: framing)
    }

    /// A request head for a chunked POST, without the body.
    static let chunkedHead = "POST /upload HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
    static let chunkedHeadEvent = Ev.head(
        head("POST", "/upload", [("Host", "h"), ("Transfer-Encoding", "chunked")], .chunked))

    // MARK: - The harness itself

    @Test func normalise_mergesAdjacentBodyChunksOnly() {
        let merged = Self.normalise([.body([1]), .body([2, 3]), .end, .body([4]), .body([5])])
        #expect(merged == [.body([1, 2, 3]), .end, .body([4, 5])])
    }

    // MARK: - Valid requests

    // RFC 9112 §3 (request-line = method SP request-target SP HTTP-version), §5 (field lines), §3.2 (Host).
    @Test func feed_parsesSimpleGETWithHost() {
        let events = Self.parse("GET /index.html?x=1 HTTP/1.1\r\nHost: example.com\r\n\r\n")
        #expect(events == [.head(Self.head("GET", "/index.html?x=1", [("Host", "example.com")])), .end])
        let head = Self.onlyHead(events)
        #expect(head?.keepAlive == true)
        #expect(head?.expectsContinue == false)
        #expect(head?.framing == HTTPBodyFraming.none)
    }

    // RFC 9112 §3.2.2 absolute-form (required for proxies, accepted by servers); §3.2.3 authority-form, §3.2.4 asterisk.
    @Test func feed_parsesOtherRequestTargetForms() {
        Self.expectEvents(
            "GET http://example.com:8080/a/b?c=d HTTP/1.1\r\nHost: example.com:8080\r\n\r\n",
            [.head(Self.head("GET", "http://example.com:8080/a/b?c=d", [("Host", "example.com:8080")])), .end])
        Self.expectEvents(
            "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            [.head(Self.head("CONNECT", "example.com:443", [("Host", "example.com:443")])), .end])
        Self.expectEvents(
            "OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n", [.head(Self.head("OPTIONS", "*", [("Host", "h")])), .end])
    }

    // RFC 9112 §2.2: a server SHOULD ignore at least one empty line (CRLF) received before the request-line.
    @Test func feed_ignoresEmptyLinesBeforeRequestLine() {
        Self.expectEvents(
            "\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", [.head(Self.head("GET", "/", [("Host", "h")])), .end])
    }

    // RFC 9112 §5: field-line = field-name ":" OWS field-value OWS; the OWS is not part of the value.
    @Test func feed_trimsOWSAroundFieldValues() {
        Self.expectEvents(
            "GET / HTTP/1.1\r\nHost:   h \t\r\nX-A:\tb  c\t \r\nX-Empty:\r\nX-Blank: \t \r\nX-B:d\r\n\r\n",
            [
                .head(
                    Self.head(
                        "GET", "/", [("Host", "h"), ("X-A", "b  c"), ("X-Empty", ""), ("X-Blank", ""), ("X-B", "d")])),
                .end,
            ])
    }

    // RFC 9110 §5.5: field values may contain HTAB inside and obs-text (0x80–0xFF); only other controls are invalid.
    @Test func feed_acceptsHTABAndObsTextInsideFieldValues() {
        let input = Array("GET / HTTP/1.1\r\nHost: h\r\nX-A: a\tb ".utf8) + [0xC3, 0xA9, 0xFF] + Array("\r\n\r\n".utf8)
        let events = Self.parse(input)
        #expect(events.count == 2 && events.last == .end, "\(events)")
        let value = Self.onlyHead(events)?.headers["X-A"]
        #expect(value?.utf8.starts(with: Array("a\tb ".utf8)) == true)
    }

    // RFC 9110 §5.1: field names are case-insensitive; the parser keeps them as sent.
    @Test func feed_headerNamesAreLookedUpIgnoringCase() {
        let events = Self.parse("GET / HTTP/1.1\r\nhOsT: h\r\nX-Custom-Thing: 1\r\nx-custom-thing: 2\r\n\r\n")
        let head = Self.onlyHead(events)
        #expect(head?.headers["Host"] == "h")
        #expect(head?.headers["HOST"] == "h")
        #expect(head?.headers["x-CUSTOM-thing"] == "1")
        #expect(head?.headers.values(for: "X-CUSTOM-THING") == ["1", "2"])
        #expect(head?.headers.fields.map(\.name) == ["hOsT", "X-Custom-Thing", "x-custom-thing"])
    }

    // RFC 9112 §6.2, §6.3 rule 6: Content-Length gives the body length.
    @Test func feed_parsesContentLengthBody() {
        Self.expectEvents(
            "POST /submit HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\nhello world",
            [
                .head(Self.head("POST", "/submit", [("Host", "h"), ("Content-Length", "11")], .contentLength(11))),
                .body("hello world"), .end,
            ])
        // Body bytes are opaque: CR, LF and NUL inside are data, not framing.
        Self.expectEvents(
            Array("PUT /x HTTP/1.1\r\nHost: h\r\ncontent-length: 5\r\n\r\n".utf8) + [0x0D, 0x0A, 0x00, 0x0A, 0x0D],
            [
                .head(Self.head("PUT", "/x", [("Host", "h"), ("content-length", "5")], .contentLength(5))),
                .body([0x0D, 0x0A, 0x00, 0x0A, 0x0D]), .end,
            ])
    }

    // RFC 9112 §6.3 rule 7: no Transfer-Encoding and no Content-Length means a zero-length body; Content-Length: 0 too.
    @Test func feed_framingValues() {
        func framing(_ fields: String, _ body: String = "") -> HTTPBodyFraming? {
            Self.onlyHead(Self.parse("POST / HTTP/1.1\r\nHost: h\r\n\(fields)\r\n\(body)"))?.framing
        }
        #expect(framing("") == HTTPBodyFraming.none)
        #expect(framing("Content-Length: 0\r\n") == HTTPBodyFraming.none)
        #expect(framing("Content-Length: 3\r\n", "abc") == .contentLength(3))
        #expect(framing("Content-Length: 003\r\n", "abc") == .contentLength(3))  // 1*DIGIT, §8.6 of RFC 9110
        #expect(framing("Transfer-Encoding: chunked\r\n", "0\r\n\r\n") == .chunked)
        // Transfer-coding names are case-insensitive (RFC 9110 §10.1.4); empty list elements are ignored (§5.6.1).
        #expect(framing("Transfer-Encoding: ChUnKeD\r\n", "0\r\n\r\n") == .chunked)
        #expect(framing("Transfer-Encoding: , chunked ,\r\n", "0\r\n\r\n") == .chunked)
    }

    // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; §7.1.1 chunk-ext = *( BWS ";" BWS
    // chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ); §7.1.2 trailer section after the last chunk.
    @Test func feed_parsesChunkedBodyWithExtensionsAndTrailers() {
        let body = "5;name=value\r\nhello\r\n5 ;a=\"q\"\r\n worl\r\n1;x;y=z\r\nd\r\n0\r\nX-Checksum: abc\r\nX-Other: d\r\n\r\n"
        Self.expectEvents(Self.chunkedHead + body, [Self.chunkedHeadEvent, .body("hello world"), .end])
        // No trailers, uppercase hex, leading zeros.
        Self.expectEvents(
            Self.chunkedHead + "0A\r\n0123456789\r\n0000\r\n\r\n", [Self.chunkedHeadEvent, .body("0123456789"), .end])
    }

    // RFC 9112 §9.3.2: pipelined requests are answered in order, so they must come out in order.
    @Test func feed_emitsTwoPipelinedRequestsInOrder() {
        Self.expectEvents(
            "GET /a HTTP/1.1\r\nHost: h\r\n\r\nGET /b HTTP/1.1\r\nHost: h\r\n\r\n",
            [.head(Self.head("GET", "/a", [("Host", "h")])), .end, .head(Self.head("GET", "/b", [("Host", "h")])), .end])
    }

    @Test func feed_emitsThreePipelinedRequestsInOrder() {
        Self.expectEvents(
            "GET /1 HTTP/1.1\r\nHost: h\r\n\r\n"
                + "POST /2 HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\n\r\nbody"
                + "GET /3 HTTP/1.1\r\nHost: h\r\n\r\n",
            [
                .head(Self.head("GET", "/1", [("Host", "h")])), .end,
                .head(Self.head("POST", "/2", [("Host", "h"), ("Content-Length", "4")], .contentLength(4))),
                .body("body"), .end,
                .head(Self.head("GET", "/3", [("Host", "h")])), .end,
            ])
        // A chunked body must stop at its end too (RFC 9112 §7.1), leaving the next request to the parser.
        Self.expectEvents(
            Self.chunkedHead + "3\r\nabc\r\n0\r\nT: v\r\n\r\n" + "GET /next HTTP/1.1\r\nHost: h\r\n\r\n",
            [Self.chunkedHeadEvent, .body("abc"), .end, .head(Self.head("GET", "/next", [("Host", "h")])), .end])
    }

    // RFC 9112 §3.2: only HTTP/1.1 requires Host; an HTTP/1.0 request without one is fine.
    @Test func feed_acceptsHTTP10WithoutHost() {
        Self.expectEvents("GET / HTTP/1.0\r\n\r\n", [.head(Self.head("GET", "/", [], version: .http1_0)), .end])
        Self.expectEvents(
            "POST / HTTP/1.0\r\nContent-Length: 2\r\n\r\nhi",
            [.head(Self.head("POST", "/", [("Content-Length", "2")], .contentLength(2), version: .http1_0)), .body("hi"), .end])
    }

    // RFC 9112 §9.3: HTTP/1.1 is persistent unless "close"; HTTP/1.0 only with "keep-alive" (§C.2.2). Connection
    // options are case-insensitive tokens in a list (RFC 9110 §7.6.1).
    @Test func head_keepAliveRules() {
        func keepAlive(_ version: String, _ fields: String) -> Bool? {
            Self.onlyHead(Self.parse("GET / \(version)\r\nHost: h\r\n\(fields)\r\n"))?.keepAlive
        }
        #expect(keepAlive("HTTP/1.1", "") == true)
        #expect(keepAlive("HTTP/1.1", "Connection: close\r\n") == false)
        #expect(keepAlive("HTTP/1.1", "Connection: CLOSE\r\n") == false)
        #expect(keepAlive("HTTP/1.1", "Connection: upgrade, close\r\n") == false)
        #expect(keepAlive("HTTP/1.1", "Connection: keep-alive\r\n") == true)
        #expect(keepAlive("HTTP/1.0", "") == false)
        #expect(keepAlive("HTTP/1.0", "Connection: keep-alive\r\n") == true)
        #expect(keepAlive("HTTP/1.0", "Connection: Keep-Alive\r\n") == true)
        #expect(keepAlive("HTTP/1.0", "Connection: close\r\n") == false)
    }

    // RFC 9110 §10.1.1: "100-continue" (case-insensitive) asks for 100 Continue; an HTTP/1.0 client cannot get one.
    @Test func head_expectsContinue() {
        func expects(_ version: String, _ fields: String) -> Bool? {
            Self.onlyHead(Self.parse("PUT / \(version)\r\nHost: h\r\n\(fields)\r\n"))?.expectsContinue
        }
        #expect(expects("HTTP/1.1", "Expect: 100-continue\r\n") == true)
        #expect(expects("HTTP/1.1", "expect: 100-Continue\r\n") == true)
        #expect(expects("HTTP/1.1", "") == false)
        #expect(expects("HTTP/1.0", "Expect: 100-continue\r\n") == false)
    }

    // MARK: - Line endings (RFC 9112 §2.2: a bare CR MUST be rejected or replaced; bare LF may be rejected — we do)

    @Test func feed_rejectsBareLF_inRequestLine() {
        Self.expectRejected("GET / HTTP/1.1\nHost: h\r\n\r\n", status: 400)
        Self.expectRejected("\nGET / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400)
    }

    @Test func feed_rejectsBareLF_inHeaders() {
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\nX: y\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n\n", status: 400)
    }

    @Test func feed_rejectsBareLF_inChunkFraming() {
        // In a chunk-size line.
        Self.expectEvents(Self.chunkedHead + "5\nhello\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .error(400)])
        // After chunk data.
        Self.expectEvents(Self.chunkedHead + "5\r\nhello\n0\r\n\r\n", [Self.chunkedHeadEvent, .body("hello"), .error(400)])
        // In the last chunk and the trailer section.
        Self.expectEvents(Self.chunkedHead + "0\n\r\n", [Self.chunkedHeadEvent, .error(400)])
        Self.expectEvents(Self.chunkedHead + "0\r\nT: v\n\r\n", [Self.chunkedHeadEvent, .error(400)])
        Self.expectEvents(Self.chunkedHead + "0\r\n\n", [Self.chunkedHeadEvent, .error(400)])
    }

    @Test func feed_rejectsBareCR() {
        Self.expectRejected("GET / HTTP/1.1\rHost: h\r\n\r\n", status: 400)
        Self.expectRejected("GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n\r\r\n", status: 400)
        Self.expectEvents(Self.chunkedHead + "5\rhello\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .error(400)])
        Self.expectEvents(Self.chunkedHead + "5\r\nhello\r0\r\n\r\n", [Self.chunkedHeadEvent, .body("hello"), .error(400)])
    }

    // MARK: - Field syntax (RFC 9112 §5, RFC 9110 §5.1, §5.5)

    // RFC 9112 §5.1: no whitespace is allowed between the field name and colon; a server MUST reject with 400.
    @Test func feed_rejectsWhitespaceBeforeColon() {
        Self.expectRejected("GET / HTTP/1.1\r\nHost : h\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\nContent-Length\t: 0\r\n\r\n", status: 400)
    }

    // RFC 9112 §5.2: obs-fold; a server MUST reject it with 400 (or replace it) outside message/http. §2.2: whitespace
    // between the start-line and the first field line must be rejected or the line ignored.
    @Test func feed_rejectsObsFold() {
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n c\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\nX-A: b\r\n\tc\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\n Host: h\r\n\r\n", status: 400)
    }

    // RFC 9110 §5.5: NUL, other C0 controls and DEL are not allowed in field values (CR, LF, NUL MUST be rejected).
    @Test func feed_rejectsControlCharactersInFieldValue() {
        for control: UInt8 in [0x00, 0x01, 0x1F, 0x7F] {
            let input = Array("GET / HTTP/1.1\r\nHost: h\r\nX-A: a".utf8) + [control] + Array("b\r\n\r\n".utf8)
            Self.expectRejected(input, status: 400)
        }
        // Also at the very end of the value, where OWS trimming happens.
        Self.expectRejected(Array("GET / HTTP/1.1\r\nHost: h".utf8) + [0x00] + Array("\r\n\r\n".utf8), status: 400)
    }

    // RFC 9110 §5.1: field-name = token; RFC 9112 §5: a line without a colon or with an empty name is invalid.
    @Test func feed_rejectsInvalidFieldName() {
        for name in ["X@A", "X\"A", "(X)", "X/A", "X[A]", "X{A}", "X=A", "X,A"] {
            Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n\(name): b\r\n\r\n", status: 400)
        }
        Self.expectRejected(Array("GET / HTTP/1.1\r\nHost: h\r\nX".utf8) + [0xC3, 0xA9] + Array(": b\r\n\r\n".utf8), status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n: b\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\nNoColonHere\r\n\r\n", status: 400)
    }

    // MARK: - Message body framing (RFC 9112 §6)

    // RFC 9112 §6.1: a request with both Transfer-Encoding and Content-Length may be rejected (smuggling); §6.3 rule 3.
    @Test func feed_rejectsTransferEncodingWithContentLength() {
        Self.expectRejected(
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n", status: 400)
        Self.expectRejected(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400)
    }

    // RFC 9112 §6.3 rule 5: several Content-Length values (or a list) are an unrecoverable error; RFC 9110 §8.6.
    @Test func feed_rejectsDuplicateContentLength() {
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello", status: 400)
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\nhello!", status: 400)
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5, 5\r\n\r\nhello", status: 400)
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 5,5\r\n\r\nhello", status: 400)
    }

    // RFC 9110 §8.6: Content-Length = 1*DIGIT; RFC 9112 §6.3 rule 5: an invalid value is a 400. 19+ digits cannot be
    // held safely and are treated as invalid.
    @Test func feed_rejectsInvalidContentLength() {
        for value in ["-1", "abc", "+5", "", "0x5", "5.0", "5 5", "1234567890123456789", "99999999999999999999999"] {
            Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: \(value)\r\n\r\n", status: 400)
        }
    }

    // RFC 9110 §15.5.14: 413 Content Too Large when the declared length exceeds what the server accepts.
    @Test func feed_rejectsContentLengthOverLimit() {
        let limits = HTTPRequestParser.Limits(maxBodyBytes: 10)
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n\r\n", status: 413, limits: limits)
        Self.expectEvents(
            "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n0123456789",
            [
                .head(Self.head("POST", "/", [("Host", "h"), ("Content-Length", "10")], .contentLength(10))),
                .body("0123456789"), .end,
            ],
            limits: limits)
        // Default limit (1 MiB), and a huge but well-formed 18-digit value.
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n", status: 413)
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 999999999999999999\r\n\r\n", status: 413)
    }

    // RFC 9112 §6.3 rule 4 and §6.1: in a request, chunked MUST be the final coding, else 400.
    @Test func feed_rejectsChunkedNotLast() {
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", status: 400)
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400)
        Self.expectRejected(
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n", status: 400)
    }

    // RFC 9112 §6.1: a server that receives a transfer coding it does not understand SHOULD respond with 501.
    @Test func feed_rejectsUnsupportedTransferCoding_with501() {
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", status: 501)
        Self.expectRejected(
            "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            status: 501)
    }

    // RFC 9112 §6.1: a sender MUST NOT apply chunked more than once.
    @Test func feed_rejectsChunkedTwice() {
        Self.expectRejected("POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, chunked\r\n\r\n0\r\n\r\n", status: 400)
    }

    // RFC 9112 §6.1: a server MAY treat an HTTP/1.0 message with Transfer-Encoding as faulty (smuggling defence).
    @Test func feed_rejectsTransferEncodingInHTTP10() {
        Self.expectRejected("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", status: 400)
    }

    // RFC 9112 §7.1: chunk-size = 1*HEXDIG.
    @Test func feed_rejectsBadHexChunkSize() {
        Self.expectEvents(Self.chunkedHead + "zz\r\nhello\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .error(400)])
        Self.expectEvents(Self.chunkedHead + "\r\n", [Self.chunkedHeadEvent, .error(400)])
        Self.expectEvents(Self.chunkedHead + "-5\r\nhello\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .error(400)])
        Self.expectEvents(Self.chunkedHead + "0x5\r\nhello\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .error(400)])
    }

    // RFC 9112 §7.1: recipients MUST anticipate large hex numbers and prevent overflow; too large is a 413.
    @Test func feed_rejectsOverflowingChunkSize() {
        Self.expectEvents(Self.chunkedHead + "ffffffffffffffff\r\n", [Self.chunkedHeadEvent, .error(413)])
        Self.expectEvents(Self.chunkedHead + "10000000000000000000\r\n", [Self.chunkedHeadEvent, .error(413)])
    }

    // RFC 9112 §7.1: chunk-data is followed by CRLF.
    @Test func feed_rejectsChunkDataNotFollowedByCRLF() {
        Self.expectEvents(Self.chunkedHead + "5\r\nhelloX\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .body("hello"), .error(400)])
        Self.expectEvents(Self.chunkedHead + "5\r\nhello\rX0\r\n\r\n", [Self.chunkedHeadEvent, .body("hello"), .error(400)])
    }

    // RFC 9112 §7.1.1: chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ), a name is a token,
    // a value a token or a quoted-string; on the last chunk too. Anything else on the size line is a 400.
    @Test func feed_checksChunkExtensionGrammar() {
        for ext in ["5;name=value", "5 ; name = \"q\\\"v\"", "5;name"] {
            Self.expectEvents(
                Self.chunkedHead + ext + "\r\nhello\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .body("hello"), .end])
        }
        Self.expectEvents(Self.chunkedHead + "0;last=\"yes\"\r\n\r\n", [Self.chunkedHeadEvent, .end])
        for ext in ["5;", "5;=v", "5;n=", "5;n=\"x", "5;n=v w"] {
            Self.expectEvents(Self.chunkedHead + ext + "\r\nhello\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .error(400)])
        }
        Self.expectEvents(Self.chunkedHead + "0;\r\n\r\n", [Self.chunkedHeadEvent, .error(400)])
    }

    // RFC 9112 §7.1: chunk data received before a framing error is still body data, and arrives the same whether the
    // error is in the same read or a later one.
    @Test func feed_keepsChunkDataDecodedBeforeAnErrorInTheSameFeed() {
        var parser = HTTPRequestParser(limits: .init())
        #expect(parser.feed(Array(Self.chunkedHead.utf8)).map(Self.reduce) == [Self.chunkedHeadEvent])
        #expect(parser.feed(Array("5\r\nhelloX".utf8)).map(Self.reduce) == [.body("hello"), .error(400)])
    }

    // RFC 9110 §15.5.14: 413 when the decoded body exceeds the limit; detected from the chunk size, before its data.
    @Test func feed_rejectsChunkedBodyOverLimit() {
        let limits = HTTPRequestParser.Limits(maxBodyBytes: 8)
        Self.expectEvents(
            Self.chunkedHead + "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .body("hello"), .error(413)],
            limits: limits)
        Self.expectEvents(Self.chunkedHead + "9\r\n123456789\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .error(413)], limits: limits)
        Self.expectEvents(
            Self.chunkedHead + "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n", [Self.chunkedHeadEvent, .body("helloabc"), .end],
            limits: limits)
    }

    // MARK: - Host (RFC 9112 §3.2: a server MUST respond 400 to an HTTP/1.1 request without Host or with several)

    @Test func feed_rejectsMissingHostInHTTP11() {
        Self.expectRejected("GET / HTTP/1.1\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHostname: h\r\n\r\n", status: 400)
    }

    @Test func feed_rejectsTwoHostHeaders() {
        Self.expectRejected("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", status: 400)
    }

    // RFC 9112 §3.2: "... and to ANY request message that contains more than one Host header field line" — HTTP/1.0
    // included (only the missing-Host rule is limited to HTTP/1.1).
    @Test func feed_rejectsTwoHostHeaders_inHTTP10() {
        Self.expectRejected("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", status: 400)
    }

    // RFC 9112 §3.2: 400 also for "a Host header field with an invalid field value"; Host = uri-host [ ":" port ]
    // (RFC 9110 §7.2, RFC 3986 §3.2.2: no whitespace, "/", "?", "#" or "@" in a reg-name).
    @Test func feed_rejectsInvalidHostValue() {
        for value in ["exa mple.com", "a/b", "a?b", "a#b", "user@host", "host:port"] {
            Self.expectRejected("GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n", status: 400)
        }
        // Valid forms: reg-name, IPv4, IP-literal, with or without a port, and empty (RFC 9110 §7.2).
        for value in ["example.com", "example.com:8080", "127.0.0.1:80", "[::1]:8080", ""] {
            Self.expectEvents(
                "GET / HTTP/1.1\r\nHost: \(value)\r\n\r\n", [.head(Self.head("GET", "/", [("Host", value)])), .end])
        }
    }

    // MARK: - Size limits (RFC 9110 §15.5.15 414, RFC 6585 §5 431)

    @Test func feed_rejectsHeaderSectionOver16KiB() {
        let filler = (0..<20).map { "X-Fill-\($0): \(String(repeating: "a", count: 1000))\r\n" }.joined()
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n" + filler + "\r\n", status: 431)
        // Detected without waiting for the end of the section, or of a line.
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n" + filler, status: 431)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 17 * 1024), status: 431)
    }

    @Test func feed_acceptsHeaderSectionUnder16KiB() {
        let count = 15
        let filler = (0..<count).map { "X-Fill-\($0): \(String(repeating: "a", count: 1000))\r\n" }.joined()
        let events = Self.parse("GET / HTTP/1.1\r\nHost: h\r\n" + filler + "\r\n")
        #expect(events.count == 2 && events.last == .end, "\(events.prefix(1))")
        #expect(Self.onlyHead(events)?.headers.fields.count == count + 1)
    }

    @Test func feed_rejectsRequestTargetOver8KiB() {
        let target = "/" + String(repeating: "a", count: 8 * 1024)  // 8193 bytes
        Self.expectRejected("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n", status: 414)
        // Exactly 8 KiB is allowed.
        let atLimit = String(target.dropLast())
        Self.expectEvents(
            "GET \(atLimit) HTTP/1.1\r\nHost: h\r\n\r\n", [.head(Self.head("GET", atLimit, [("Host", "h")])), .end])
    }

    @Test func feed_rejectsRequestTargetOver8KiB_beforeTheLineEnds() {
        // 9 KiB of target and no CRLF: without early detection this would just wait for more.
        Self.expectRejected("GET /" + String(repeating: "a", count: 9 * 1024), status: 414)
    }

    // The same limits, small enough that every split offset is checked.
    @Test func feed_rejectsOversizedHeadSections_smallLimits() {
        let limits = HTTPRequestParser.Limits(maxHeaderBytes: 256, maxTargetBytes: 64, maxBodyBytes: 16)
        let filler = (0..<8).map { "X-Fill-\($0): \(String(repeating: "a", count: 40))\r\n" }.joined()
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n" + filler + "\r\n", status: 431, limits: limits)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\n" + filler, status: 431, limits: limits)
        Self.expectRejected("GET / HTTP/1.1\r\nHost: h\r\nX-Big: " + String(repeating: "b", count: 300), status: 431, limits: limits)
        let few = (0..<3).map { "X-Fill-\($0): \(String(repeating: "a", count: 40))\r\n" }.joined()
        let accepted = Self.parse("GET / HTTP/1.1\r\nHost: h\r\n" + few + "\r\n", limits: limits)
        #expect(accepted.count == 2 && accepted.last == .end, "\(accepted)")

        let target = "/" + String(repeating: "t", count: 64)  // 65 bytes
        Self.expectRejected("GET \(target) HTTP/1.1\r\nHost: h\r\n\r\n", status: 414, limits: limits)
        Self.expectRejected("GET /" + String(repeating: "t", count: 200), status: 414, limits: limits)
        let atLimit = String(target.dropLast())
        Self.expectEvents(
            "GET \(atLimit) HTTP/1.1\r\nHost: h\r\n\r\n", [.head(Self.head("GET", atLimit, [("Host", "h")])), .end],
            limits: limits)
    }

    // MARK: - Request line and version (RFC 9112 §2.3, §3; RFC 9110 §15.6.6 505)

    // RFC 9113 §3.4: the HTTP/2 connection preface; to an HTTP/1.1 server it is a request for version 2.0.
    @Test func feed_rejectsHTTP2Preface_with505() {
        Self.expectRejected("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505)
    }

    @Test func feed_rejectsOtherMajorVersions_with505() {
        Self.expectRejected("GET / HTTP/3.0\r\nHost: h\r\n\r\n", status: 505)
        Self.expectRejected("GET / HTTP/0.9\r\nHost: h\r\n\r\n", status: 505)
        Self.expectRejected("GET / HTTP/2.0\r\nHost: h\r\n\r\n", status: 505)
    }

    // RFC 9112 §2.3: HTTP-version = HTTP-name "/" DIGIT "." DIGIT, HTTP-name = %s"HTTP" (case-sensitive).
    @Test func feed_rejectsMalformedVersion() {
        for version in ["HTTP/1", "HTTP/1.1x", "HTTP/1.", "HTTP/11.1", "HTTP/1.10", "http/1.1", "HTTP 1.1", "HTTP/1,1", "HTTP/a.b", "HTTPS/1.1"] {
            Self.expectRejected("GET / \(version)\r\nHost: h\r\n\r\n", status: 400)
        }
    }

    // RFC 9112 §3: exactly one SP between the three parts; §3.2: no whitespace inside the target.
    @Test func feed_rejectsMalformedRequestLine() {
        for line in [
            "GET  / HTTP/1.1", "GET / HTTP/1.1 ", " GET / HTTP/1.1", "GET /", "GET / ", "GET", "GET\t/\tHTTP/1.1",
            "GET /a b HTTP/1.1", "GET  HTTP/1.1", "/ HTTP/1.1",
        ] {
            Self.expectRejected("\(line)\r\nHost: h\r\n\r\n", status: 400)
        }
    }

    // RFC 9112 §3.2 and RFC 3986: the target is visible US-ASCII; 0x80+ (raw UTF-8), controls and DEL are invalid.
    @Test func feed_rejectsNonASCIIInTarget() {
        for byte: UInt8 in [0x80, 0xC3, 0xFF, 0x7F, 0x01, 0x00] {
            Self.expectRejected(Array("GET /a".utf8) + [byte] + Array(" HTTP/1.1\r\nHost: h\r\n\r\n".utf8), status: 400)
        }
    }

    // MARK: - Request-target forms (RFC 9112 §3.2)

    /// The reason of the error that feeding `input` whole ends with, nil if none.
    static func errorReason(_ input: String) -> String? {
        var parser = HTTPRequestParser()
        guard case .error(let error)? = parser.feed(Array(input.utf8)).last else { return nil }
        return error.reason
    }

    static func request(_ method: String, _ target: String, host: String = "h") -> String {
        "\(method) \(target) HTTP/1.1\r\nHost: \(host)\r\n\r\n"
    }

    static func expectAccepted(
        _ method: String, _ target: String, sourceLocation: SourceLocation = #_sourceLocation
    ) {
        Self.expectEvents(
            Self.request(method, target), [.head(Self.head(method, target, [("Host", "h")])), .end],
            sourceLocation: sourceLocation)
    }

    // RFC 9112 §3.2.4: asterisk-form is only used for a server-wide OPTIONS request (RFC 9110 §9.3.7).
    @Test func feed_acceptsAsteriskForm_onlyForOPTIONS() {
        Self.expectAccepted("OPTIONS", "*")
        for method in ["GET", "POST", "HEAD", "options", "CONNECT", "PRI"] {
            Self.expectRejected(Self.request(method, "*"), status: 400)
        }
        #expect(Self.errorReason(Self.request("GET", "*")) == "asterisk-form target (*) is only for OPTIONS")
        // Only a lone "*" is the asterisk-form.
        for target in ["**", "*/", "*?x", "*x"] { Self.expectRejected(Self.request("OPTIONS", target), status: 400) }
        // OPTIONS may use the other forms too.
        Self.expectAccepted("OPTIONS", "/")
        Self.expectAccepted("OPTIONS", "http://h")
    }

    // RFC 9112 §3.2.3: authority-form (uri-host ":" port) is only used for CONNECT, and CONNECT uses only it
    // (RFC 9110 §9.3.6: "a client MUST send the port number").
    @Test func feed_acceptsAuthorityForm_onlyForCONNECT() {
        for target in ["example.com:443", "127.0.0.1:80", "[::1]:8443", "[2001:db8::7]:1", "a-b.c_d~e%41:0"] {
            Self.expectAccepted("CONNECT", target)
        }
        for method in ["GET", "POST", "OPTIONS", "connect"] {
            Self.expectRejected(Self.request(method, "example.com:80"), status: 400)
        }
        #expect(
            Self.errorReason(Self.request("GET", "example.com:80"))
                == "authority-form target (host:port) is only for CONNECT")
        for target in [
            "/", "*", "http://example.com:443/", "example.com", "example.com:", ":443", "user@example.com:443",
            "example.com:44a", "example.com:443/", "[::1]", "[::1:443", "[1::2::3]:80", "a b:1", "ex%zz.com:1",
            "example.com:443?x",
        ] {
            Self.expectRejected(Self.request("CONNECT", target), status: 400)
        }
        #expect(Self.errorReason(Self.request("CONNECT", "/")) == "CONNECT needs an authority-form target (host:port)")
    }

    // RFC 9112 §3.2.2: "a server MUST accept the absolute-form in requests", whatever the method; absolute-URI is
    // RFC 3986 §4.3, and http(s) URIs need a non-empty host (RFC 9110 §4.2.1) and carry no userinfo (§4.2.4).
    @Test func feed_acceptsAbsoluteForm_forAnyMethod() {
        for target in [
            "http://h/x?y", "http://h", "http://h?q", "HTTP://H:8080/a/b", "https://example.com/%7Euser/?a=/b?c",
            "http://h:/x", "http://[2001:db8::1]:80/p", "http://[::ffff:192.0.2.1]/", "http://[v1.fe:80]/",
            "http://192.0.2.1/", "ftp://user:pw@files.example/x", "file:///etc/x", "urn:isbn:0451450523",
            "h+t.t-p://h/",
        ] {
            Self.expectAccepted("GET", target)
        }
        Self.expectAccepted("POST", "http://example.com/submit")
        Self.expectAccepted("DELETE", "https://example.com")
        for target in [
            "http://user@h/", "http://user:pw@h/", "http:///x", "http://", "http:/x", "http:x", "http://h/x#frag",
            "1http://h/", "ht%74p://h/", "://h/", "http://h:80a/", "http://[::1/", "http://[::1]x/", "http://[1:2]/",
            "http://h/%zz", "http://h/a%2", "http://h/a\"b", "http://h/a|b", "http://a:b:c/", "http://h]/",
            "http://[::1]:8o/",
        ] {
            Self.expectRejected(Self.request("GET", target), status: 400)
        }
    }

    // RFC 9112 §3.2.1 origin-form = absolute-path [ "?" query ]; RFC 3986 §3.3 pchar = unreserved / pct-encoded /
    // sub-delims / ":" / "@", §3.4 query = *( pchar / "/" / "?" ), §2.1 pct-encoded = "%" HEXDIG HEXDIG.
    @Test func feed_checksOriginFormCharacters() {
        for target in [
            "/", "//", "/a//b/", "/a%2Fb%c3%A9", "/-._~!$&'()*+,;=:@", "/?", "/?q=/?x:@&y=%20", "/a?b?c", "/?%41",
        ] {
            Self.expectAccepted("GET", target)
        }
        for target in [
            "/a\"b", "/a<b", "/a>b", "/a\\b", "/a^b", "/a`b", "/a{b", "/a|b", "/a}b", "/a#b", "/a[b", "/a]b", "/%",
            "/%4", "/%zz", "/%4g", "/%g4", "/?q=[", "/?q=%", "/?q=#", "/?%2",
        ] {
            Self.expectRejected(Self.request("GET", target), status: 400)
        }
        #expect(Self.errorReason(Self.request("GET", "/%zz")) == "invalid origin-form request target")
        // A target that starts with neither "/" nor a scheme is no form at all.
        for target in ["a", "?x", "%2F", "@h"] { Self.expectRejected(Self.request("GET", target), status: 400) }
    }

    // The target form is checked after the version: an HTTP/2 preface still gets its 505 (RFC 9113 §3.4).
    @Test func feed_checksTargetFormAfterVersion() {
        Self.expectRejected("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 505)
        #expect(Self.errorReason("GET * HTTP/1.x\r\nHost: h\r\n\r\n") == "malformed HTTP version")
    }

    // RFC 9110 §9.1: method = token.
    @Test func feed_rejectsInvalidMethodCharacter() {
        for method in ["G@T", "GE(T", "GET/", "G:T", "[GET]"] {
            Self.expectRejected("\(method) / HTTP/1.1\r\nHost: h\r\n\r\n", status: 400)
        }
        Self.expectRejected(Array("G".utf8) + [0xC3, 0x8B] + Array("T / HTTP/1.1\r\nHost: h\r\n\r\n".utf8), status: 400)
    }

    // Not HTTP at all: refused at the first impossible byte, without waiting for a line end that may never come
    // (found by the fault suite: a TLS ClientHello used to hold the connection until the headers timeout).
    @Test func feed_rejectsNonHTTPInput_beforeAnyLineEnd() {
        let clientHello: [UInt8] = [0x16, 0x03, 0x01, 0x00, 0xC8, 0x01, 0x00, 0x00, 0xC4, 0x03, 0x03]
        Self.expectRejected(clientHello, status: 400)
        Self.expectRejected(Array("GET /a".utf8) + [0x01], status: 400)  // control byte in the target
        Self.expectRejected(Array("GET /".utf8) + [0xFF], status: 400)  // non-ASCII in the target
        // Still incomplete, not rejected: a valid prefix of a request line.
        Self.expectEvents("GET /index.html HTTP/1.", [])
        Self.expectEvents("\r\n\r\nGET", [])
    }

    // MARK: - Errors after complete requests

    // RFC 9112 §9.3.2: each pipelined request stands alone; a bad later one must not lose an earlier complete one.
    @Test func feed_errorInLaterPipelinedRequest_keepsEarlierRequest() {
        // The seed Node client's request followed by its unframed body.
        Self.expectEvents(
            "GET / HTTP/1.1\r\nHost: h\r\n\r\ndata\ndata\n",
            [.head(Self.head("GET", "/", [("Host", "h")])), .end, .error(400)])
        Self.expectEvents(
            "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nokGET / HTTP/1.1\r\n\r\n",
            [
                .head(Self.head("POST", "/p", [("Host", "h"), ("Content-Length", "2")], .contentLength(2))),
                .body("ok"), .end, .error(400),
            ])
        Self.expectEvents(
            "GET / HTTP/1.1\r\nHost: h\r\n\r\nPRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            [.head(Self.head("GET", "/", [("Host", "h")])), .end, .error(505)])
        Self.expectEvents(
            Self.chunkedHead + "2\r\nok\r\n0\r\n\r\nGET / HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
            [Self.chunkedHeadEvent, .body("ok"), .end, .error(400)])
    }

    // The parser stops after an error: later input, even a valid request, produces nothing.
    @Test func feed_afterError_producesNothing() {
        var parser = HTTPRequestParser(limits: .init())
        let first = parser.feed(Array("GET / HTTP/1.1\nHost: h\r\n\r\n".utf8))
        #expect(first.map(Self.reduce) == [.error(400)])
        #expect(parser.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)).isEmpty)
        #expect(!parser.isIdle)
    }
}

/// Every request the rejection tests expect the parser to refuse (with the server's default limits), written out for
/// the fault suite, which sends each over a real socket to unix-http (`scripts/reliability.sh`, case hostile-http).
/// Active only when NETCORE_REJECTED_REQUESTS names a file: one line per request, "<status> <hex bytes>", each
/// appended with a single write(2) to an O_APPEND file, so tests running in parallel do not interleave lines.
enum RejectedRequestLog {
    static func record(_ input: [UInt8], status: Int) {
        guard let path = ProcessInfo.processInfo.environment["NETCORE_REJECTED_REQUESTS"] else { return }
        let line = "\(status) " + input.map { String(format: "%02x", $0) }.joined() + "\n"
        let fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        let bytes = Array(line.utf8)
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    }
}
