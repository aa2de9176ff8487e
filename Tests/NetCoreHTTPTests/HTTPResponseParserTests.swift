import Testing
@testable import NetCoreHTTP

/// The client-side parser and the chunked encoder, round-tripped.
@Suite struct HTTPResponseParserTests {
    /// Feeds `input` whole, byte by byte and split at every offset; all must agree (body chunks merged).
    private func parse(_ input: String, isHead: Bool = false, finish: Bool = false) -> [HTTPResponseParser.Event] {
        let bytes = Array(input.utf8)
        func run(_ pieces: [[UInt8]]) -> [HTTPResponseParser.Event] {
            var parser = HTTPResponseParser(isHeadRequest: isHead)
            var events = pieces.flatMap { parser.feed($0) }
            if finish { events += parser.finish() }
            return merge(events)
        }
        let whole = run([bytes])
        #expect(run(bytes.map { [$0] }) == whole)
        for split in 0...bytes.count {
            #expect(run([Array(bytes[..<split]), Array(bytes[split...])]) == whole, "split at \(split)")
        }
        return whole
    }

    private func merge(_ events: [HTTPResponseParser.Event]) -> [HTTPResponseParser.Event] {
        var merged: [HTTPResponseParser.Event] = []
        for event in events {
            if case .body(let more) = event, case .body(let previous)? = merged.last {
                merged[merged.count - 1] = .body(previous + more)
            } else {
                merged.append(event)
            }
        }
        return merged
    }

    private func body(_ events: [HTTPResponseParser.Event]) -> String {
        events.compactMap { event -> String? in
            guard case .body(let bytes) = event else { return nil }
            return String(decoding: bytes, as: UTF8.self)
        }.joined()
    }

    @Test func feed_decodesChunkedBody_withTrailers() {
        // RFC 9112 §7.1: chunk-size [ext] CRLF data CRLF ... last-chunk trailer-section CRLF
        let events = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n6\r\n world\r\n0\r\nT: v\r\n\r\n")
        #expect(body(events) == "hello world")
        #expect(events.last == .end)
        if case .head(let head) = events.first {
            #expect(head.status == 200)
            #expect(head.headers["transfer-encoding"] == "chunked")
        } else {
            Issue.record("no head")
        }
    }

    @Test func feed_readsContentLengthBody_andStopsAtItsEnd() {
        let events = parse("HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\n\r\nnope")
        #expect(body(events) == "nope")
        #expect(events.last == .end)
    }

    @Test func feed_skipsInterim100Continue() {
        let events = parse("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n")
        guard case .head(let head) = events.first else { Issue.record("no head"); return }
        #expect(head.status == 204)
        #expect(events.count == 2)
    }

    @Test func finish_completesCloseDelimitedBody_forHTTP10() {
        // RFC 9112 §6.3 rule 8: no framing → the body runs until the connection closes.
        let events = parse("HTTP/1.0 200 OK\r\n\r\nuntil close", finish: true)
        #expect(body(events) == "until close")
        #expect(events.last == .end)
    }

    @Test func finish_reportsTruncatedChunkedBody() {
        let events = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", finish: true)
        guard case .error = events.last else { Issue.record("expected an error, got \(events)"); return }
    }

    @Test func feed_hasNoBody_forHEAD() {
        let events = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", isHead: true)
        #expect(events.count == 2)
        #expect(events.last == .end)
    }

    @Test func feed_rejectsMalformedStatusLine() {
        let events = parse("HTTP/1.1 abc OK\r\n\r\n")
        guard case .error = events.last else { Issue.record("expected an error"); return }
    }

    @Test func chunkedEncoder_roundTripsThroughTheDecoder() throws {
        let parts: [[UInt8]] = [Array("a".utf8), Array(repeating: 0x42, count: 300), [0, 13, 10, 255]]
        var encoded = parts.flatMap { ChunkedEncoder.frame($0).flatMap { $0 } }
        encoded += ChunkedEncoder.end(trailers: ["X-Sum": "3"])
        #expect(ChunkedEncoder.sizeLine(300) == Array("12c\r\n".utf8))
        for count in [0, 1, 9, 10, 15, 16, 255, 256, 4095, 65_536, 1 << 30, Int.max] {
            var bytes: [UInt8] = [0x41]
            ChunkedEncoder.appendSizeLine(count, to: &bytes)
            #expect(bytes == [0x41] + ChunkedEncoder.sizeLine(count), "size \(count)")
        }
        var decoder = ChunkedDecoder()
        var events: [ChunkedDecoder.Event] = []
        var index = 0
        try encoded.withUnsafeBytes { raw in try decoder.decode(raw, from: &index, into: &events) }
        let data = events.flatMap { event -> [UInt8] in
            guard case .data(let bytes) = event else { return [] }
            return bytes
        }
        #expect(data == parts.flatMap { $0 })
        #expect(events.last == .end(trailers: ["X-Sum": "3"]))
        #expect(index == encoded.count)
    }

    @Test func chunkedEncoder_lastChunkIsZeroCRLFCRLF() {
        #expect(ChunkedEncoder.lastChunk == Array("0\r\n\r\n".utf8))
        #expect(ChunkedEncoder.frame([]).isEmpty)  // an empty chunk would end the body early
    }
}

/// Regressions found by fuzzing (Fuzz/regressions).
@Suite struct HTTPFuzzRegressionTests {
    @Test func requestParser_rejectsKelvinSignInTransferEncoding() {
        // U+212A KELVIN SIGN lower-cases to "k" in Unicode; "chun\u{212A}ed" must not pass for "chunked" (RFC 9110
        // §5.6.2: a transfer coding is a token, ASCII only).
        var parser = HTTPRequestParser()
        let request = Array("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chun".utf8) + [0xE2, 0x84, 0xAA]
            + Array("ed\r\n\r\n5\r\nhello\r\n0\r\n\r\n".utf8)
        let events = parser.feed(request)
        #expect(events == [.error(HTTPParseError(status: 400, reason: "invalid transfer coding"))])
    }

    @Test func responseParser_treatsOnlyAnExactChunkedAsChunked() {
        var parser = HTTPResponseParser()
        let events = parser.feed(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\n".utf8)) + parser.finish()
        // Not chunked: the body runs to the end of the connection, bytes as sent.
        #expect(events.dropFirst().first == .body(Array("5\r\n".utf8)))
        #expect(events.last == .end)
    }

    @Test func responseParser_deliversDataDecodedBeforeAFramingError_howeverSplit() {
        let input = Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloX".utf8)
        var whole = HTTPResponseParser()
        let wholeEvents = whole.feed(input)
        var drip = HTTPResponseParser()
        let dripEvents = input.flatMap { drip.feed([$0]) }
        #expect(wholeEvents.contains(.body(Array("hello".utf8))))
        #expect(wholeEvents.count == dripEvents.count - 4)  // drip feeding splits "hello" into 5 body events
    }
}
