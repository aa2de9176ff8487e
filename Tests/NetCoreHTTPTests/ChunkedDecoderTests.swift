import Testing

@testable import NetCoreHTTP

/// Direct tests of `ChunkedDecoder`, the chunked transfer coding of RFC 9112 §7.1, through
/// `decode(_:from:into:)` over an `UnsafeRawBufferPointer` and an index.
@Suite struct ChunkedDecoderTests {
    /// What decoding a sequence of feeds produced.
    struct Outcome: Equatable {
        /// Events with adjacent `.data` merged.
        var events: [ChunkedDecoder.Event]
        var error: HTTPParseError?
        /// Bytes consumed over all feeds (meaningful when there is no error).
        var consumed: Int
        /// Whether the decoder reported completion at the end.
        var complete: Bool
    }

    static func normalise(_ events: [ChunkedDecoder.Event]) -> [ChunkedDecoder.Event] {
        var result: [ChunkedDecoder.Event] = []
        for event in events {
            if case .data(let more) = event, case .data(let previous)? = result.last {
                result[result.count - 1] = .data(previous + more)
            } else {
                result.append(event)
            }
        }
        return result
    }

    /// Decodes `chunks` in order with one decoder; stops at the first error.
    static func decode(
        _ chunks: [ArraySlice<UInt8>], maxBodyBytes: Int = .max, maxTrailerBytes: Int = 16 * 1024
    ) -> Outcome {
        var decoder = ChunkedDecoder(maxBodyBytes: maxBodyBytes, maxTrailerBytes: maxTrailerBytes)
        var events: [ChunkedDecoder.Event] = []
        var consumed = 0
        for chunk in chunks {
            let bytes = Array(chunk)
            var index = 0
            let error: HTTPParseError? = bytes.withUnsafeBytes { buffer in
                do throws(HTTPParseError) {
                    try decoder.decode(buffer, from: &index, into: &events)
                    return nil
                } catch {
                    return error
                }
            }
            consumed += index
            if let error {
                return Outcome(events: Self.normalise(events), error: error, consumed: consumed, complete: decoder.isComplete)
            }
        }
        return Outcome(events: Self.normalise(events), error: nil, consumed: consumed, complete: decoder.isComplete)
    }

    /// Decodes `input` whole, byte by byte and split in two at every offset, requiring identical outcomes (the
    /// consumed count included when there is no error); returns the whole outcome.
    static func decodeEveryWay(
        _ input: [UInt8], maxBodyBytes: Int = .max, maxTrailerBytes: Int = 16 * 1024,
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Outcome {
        func same(_ a: Outcome, _ b: Outcome) -> Bool {
            a.events == b.events && a.error == b.error && a.complete == b.complete && (a.error != nil || a.consumed == b.consumed)
        }
        let whole = Self.decode([input[...]], maxBodyBytes: maxBodyBytes, maxTrailerBytes: maxTrailerBytes)
        let bytewise = Self.decode(input.indices.map { input[$0...$0] }, maxBodyBytes: maxBodyBytes, maxTrailerBytes: maxTrailerBytes)
        #expect(same(bytewise, whole), "byte by byte: \(bytewise), whole: \(whole)", sourceLocation: sourceLocation)
        for offset in 0...input.count {
            let split = Self.decode([input[..<offset], input[offset...]], maxBodyBytes: maxBodyBytes, maxTrailerBytes: maxTrailerBytes)
            if !same(split, whole) {
                Issue.record("split at \(offset): \(split), whole: \(whole)", sourceLocation: sourceLocation)
                break
            }
        }
        return whole
    }

    static func bytes(_ text: String) -> [UInt8] { Array(text.utf8) }

    static func trailers(_ fields: [(String, String)]) -> HTTPHeaders {
        var headers = HTTPHeaders()
        for (name, value) in fields { headers.add(name: name, value: value) }
        return headers
    }

    static func expectError(
        _ input: String, status: Int, maxBodyBytes: Int = .max, maxTrailerBytes: Int = 16 * 1024,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let outcome = Self.decodeEveryWay(
            Self.bytes(input), maxBodyBytes: maxBodyBytes, maxTrailerBytes: maxTrailerBytes, sourceLocation: sourceLocation)
        #expect(outcome.error?.status == status, "\(outcome)", sourceLocation: sourceLocation)
        #expect(!outcome.complete, sourceLocation: sourceLocation)
    }

    // MARK: - Decoding

    // RFC 9112 §7.1: chunk sizes, chunk extensions (§7.1.1, ignored), chunk data, the last chunk and trailers (§7.1.2).
    @Test func decode_splitAtEveryOffset_givesTheSameBodyAndTrailers() {
        let input = Self.bytes("5\r\nhello\r\n6;x=y\r\n world\r\n1 ; a = \"q;\\\"\"\r\n!\r\n0\r\nA: b\r\n\r\n")
        let outcome = Self.decodeEveryWay(input)
        #expect(outcome.error == nil)
        #expect(outcome.events == [.data(Self.bytes("hello world!")), .end(trailers: Self.trailers([("A", "b")]))])
        #expect(outcome.consumed == input.count)
        #expect(outcome.complete)
    }

    // RFC 9112 §7.1: the body ends after the trailer section's empty line; what follows (a pipelined request) is not
    // part of it and must stay unconsumed.
    @Test func decode_stopsExactlyAtEndOfBody() {
        let body = Self.bytes("3\r\nabc\r\n0\r\n\r\n")
        let input = body + Self.bytes("GET / HTTP/1.1\r\n\r\n")
        var decoder = ChunkedDecoder()
        var events: [ChunkedDecoder.Event] = []
        var index = 0
        let thrown: HTTPParseError? = input.withUnsafeBytes { buffer in
            do throws(HTTPParseError) {
                try decoder.decode(buffer, from: &index, into: &events)
                // Once complete, further calls consume nothing.
                try decoder.decode(buffer, from: &index, into: &events)
                return nil
            } catch {
                return error
            }
        }
        #expect(thrown == nil)
        #expect(index == body.count)
        #expect(input[index...].starts(with: Self.bytes("GET ")))
        #expect(decoder.isComplete)
        #expect(events == [.data(Self.bytes("abc")), .end(trailers: HTTPHeaders())])

        // However the input is split, exactly the body is consumed.
        let outcome = Self.decodeEveryWay(input)
        #expect(outcome.consumed == body.count)
        #expect(outcome.events == [.data(Self.bytes("abc")), .end(trailers: HTTPHeaders())])
    }

    // The index is an offset into the buffer: decoding may start in the middle of it.
    @Test func decode_startsAtTheGivenIndex() {
        let input = Self.bytes("HEAD4\r\nwxyz\r\n0\r\n\r\nNEXT")
        var decoder = ChunkedDecoder()
        var events: [ChunkedDecoder.Event] = []
        var index = 4
        let thrown: HTTPParseError? = input.withUnsafeBytes { buffer in
            do throws(HTTPParseError) {
                try decoder.decode(buffer, from: &index, into: &events)
                return nil
            } catch {
                return error
            }
        }
        #expect(thrown == nil)
        #expect(index == input.count - 4)
        #expect(Self.normalise(events) == [.data(Self.bytes("wxyz")), .end(trailers: HTTPHeaders())])
    }

    // RFC 9112 §7.1.2: trailer fields after the last chunk, parsed like header fields (§5: OWS trimmed, names as sent).
    @Test func decode_returnsTrailers() {
        let outcome = Self.decodeEveryWay(Self.bytes("2\r\nhi\r\n0\r\nX-Checksum:  abc \r\nx-other:d\r\nX-Checksum: second\r\n\r\n"))
        #expect(outcome.error == nil)
        let expected = Self.trailers([("X-Checksum", "abc"), ("x-other", "d"), ("X-Checksum", "second")])
        #expect(outcome.events == [.data(Self.bytes("hi")), .end(trailers: expected)])
        if case .end(let trailers)? = outcome.events.last {
            #expect(trailers["x-checksum"] == "abc")
            #expect(trailers.values(for: "X-CHECKSUM") == ["abc", "second"])
        }
    }

    // RFC 9112 §7.1: a body that is only the last chunk.
    @Test func decode_emptyBody() {
        let outcome = Self.decodeEveryWay(Self.bytes("0\r\n\r\n"))
        #expect(outcome.error == nil)
        #expect(outcome.events == [.end(trailers: HTTPHeaders())])
        #expect(outcome.complete)
    }

    // RFC 9112 §7.1: chunk-size = 1*HEXDIG — leading zeros are digits, and do not count towards the overflow limit.
    @Test func decode_allowsLeadingZerosInChunkSize() {
        let outcome = Self.decodeEveryWay(Self.bytes("000005\r\nhello\r\n0000000000000000000001\r\n!\r\n000\r\n\r\n"))
        #expect(outcome.error == nil)
        #expect(outcome.events == [.data(Self.bytes("hello!")), .end(trailers: HTTPHeaders())])
    }

    // RFC 5234 §B.1: HEXDIG is case-insensitive ("A"–"F" and "a"–"f").
    @Test func decode_acceptsUppercaseAndMixedCaseHex() {
        let sixteen = String(repeating: "x", count: 16)
        let twentySix = String(repeating: "y", count: 26)
        let outcome = Self.decodeEveryWay(Self.bytes("A\r\n0123456789\r\n1A\r\n\(twentySix)\r\n1f\r\n\(sixteen)\(sixteen.dropLast())\r\n0\r\n\r\n"))
        #expect(outcome.error == nil)
        #expect(outcome.events == [.data(Self.bytes("0123456789" + twentySix + sixteen + sixteen.dropLast())), .end(trailers: HTTPHeaders())])
    }

    // MARK: - Errors

    // RFC 9112 §7.1: chunk-size = 1*HEXDIG.
    @Test func decode_rejectsInvalidChunkSize() {
        Self.expectError("zz\r\n", status: 400)
        Self.expectError("\r\n", status: 400)
        Self.expectError(" 5\r\nhello\r\n0\r\n\r\n", status: 400)
        Self.expectError("5 \r\nhello\r\n0\r\n\r\n", status: 400)  // BWS only before ";" (§7.1.1)
        Self.expectError("5x\r\nhello\r\n0\r\n\r\n", status: 400)
    }

    // RFC 9112 §7.1: recipients MUST anticipate potentially large hex numbers and prevent overflow.
    @Test func decode_rejectsOverflowingChunkSize_with413() {
        Self.expectError("ffffffffffffffff\r\n", status: 413)
        Self.expectError("0001000000000000000\r\n", status: 413)
    }

    // RFC 9112 §7.1: chunk-data CRLF.
    @Test func decode_rejectsChunkDataNotFollowedByCRLF() {
        Self.expectError("3\r\nabcd\r\n0\r\n\r\n", status: 400)
        Self.expectError("3\r\nabc\n0\r\n\r\n", status: 400)
        Self.expectError("3\r\nabc\rX0\r\n\r\n", status: 400)
    }

    // RFC 9112 §2.2: bare LF and bare CR in the framing lines are rejected.
    @Test func decode_rejectsBareLineEndsInFraming() {
        Self.expectError("3\nabc\r\n0\r\n\r\n", status: 400)
        Self.expectError("3\rabc\r\n0\r\n\r\n", status: 400)
        Self.expectError("0\r\nT: v\n\r\n", status: 400)
        Self.expectError("0\r\n\n", status: 400)
    }

    // RFC 9112 §7.1.1: chunk-ext-val is a token or quoted-string; control characters are not allowed.
    @Test func decode_rejectsControlCharacterInChunkExtension() {
        Self.expectError("3;a=\u{01}\r\nabc\r\n0\r\n\r\n", status: 400)
        Self.expectError("3;a=\u{7F}\r\nabc\r\n0\r\n\r\n", status: 400)
    }

    // MARK: - Chunk extensions (RFC 9112 §7.1.1)

    // chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ); chunk-ext-name = token;
    // chunk-ext-val = token / quoted-string (RFC 9110 §5.6.2, §5.6.4); BWS = *( SP / HTAB ) (RFC 9110 §5.6.3).
    static let validExtensions = [
        ";name=value", " ; name = \"q\\\"v\"", ";name", ";a;b=c;d", "\t;\ta\t=\tb", ";a=\"\"", ";a=\"x y;=\\\\\"",
        ";a=\"\t!#[]~\"", ";a=\"\\\t\\ \\a\"", ";!#$%&'*+-.^_`|~09azAZ=!#$%&'*+-.^_`|~", " \t ;x", ";x=1 ;y=2",
    ]

    @Test func decode_acceptsValidChunkExtensions() {
        for ext in Self.validExtensions {
            let outcome = Self.decodeEveryWay(Self.bytes("5\(ext)\r\nhello\r\n0\(ext)\r\n\r\n"))
            #expect(outcome.error == nil, "\(ext.debugDescription): \(outcome)")
            #expect(
                outcome.events == [.data(Self.bytes("hello")), .end(trailers: HTTPHeaders())],
                "\(ext.debugDescription)")
        }
        // obs-text (%x80-FF) inside a quoted-string, as qdtext and in a quoted-pair.
        let obsText = Self.bytes("5;a=\"") + [0x80, 0xFF, 0x5C, 0xC3] + Self.bytes("\"\r\nhello\r\n0\r\n\r\n")
        #expect(Self.decodeEveryWay(obsText).error == nil)
    }

    @Test func decode_rejectsMalformedChunkExtensions() {
        let malformed = [
            ";", ";=v", ";n=", ";n=\"x", ";n=v w", ";a b", " ; a ", ";a=b ", ";a ", ";a=\"b\"c", ";a==b", ";a=\"b\\",
            ";a=\"b\\\"", ";;a", ";a=b;", ";a@b", ";a=b\"c", ";a=\"b\"\"c\"", ";a,b", ";a=b=c", "; =b", ";a=\"b\" x",
            ";a/b", ";a=(b)", ";a={b}", ";a=\"x\";",
        ]
        for ext in malformed {
            for chunk in ["5\(ext)\r\nhello\r\n0\r\n\r\n", "0\(ext)\r\n\r\n"] {
                let outcome = Self.decodeEveryWay(Self.bytes(chunk))
                #expect(
                    outcome.error == HTTPParseError(status: 400, reason: "invalid chunk extension"),
                    "\(chunk.debugDescription): \(outcome)")
                #expect(outcome.events.isEmpty && !outcome.complete)
            }
        }
        // obs-text outside a quoted-string: not a token byte.
        let outcome = Self.decodeEveryWay(Self.bytes("5;a=") + [0xC3, 0xA9] + Self.bytes("\r\nhello\r\n0\r\n\r\n"))
        #expect(outcome.error == HTTPParseError(status: 400, reason: "invalid chunk extension"))
        // Control characters, inside a quoted-string and in a quoted-pair too.
        for ext in [";a=\"\u{01}\"", ";a=\"\\\u{00}\"", ";a=\"\u{7F}\"", ";a\u{0B}"] {
            let outcome = Self.decodeEveryWay(Self.bytes("5\(ext)\r\nhello\r\n0\r\n\r\n"))
            #expect(outcome.error == HTTPParseError(status: 400, reason: "control character in a chunk extension"))
        }
    }

    // The size line is bounded (4 KiB), so a huge extension is refused as soon as it passes the limit, without
    // waiting for a line end; one just under it is accepted.
    @Test func decode_boundsTheChunkSizeLine() {
        let underLimit = "5;a=\"" + String(repeating: "x", count: 4000) + "\"\r\nhello\r\n0\r\n\r\n"
        #expect(Self.decode([Self.bytes(underLimit)[...]]).error == nil)
        let huge = Self.bytes("5;a=" + String(repeating: "x", count: 5000))
        for chunks in [[huge[...]], huge.indices.map { huge[$0...$0] }, [huge[..<4096], huge[4096...]]] {
            let outcome = Self.decode(chunks)
            #expect(outcome.error == HTTPParseError(status: 400, reason: "chunk-size line too long"))
            #expect(outcome.consumed == 4097, "stopped at the first byte over the limit")
        }
    }

    // RFC 9112 §7.1.2 with §5.2: trailer fields follow field syntax (no obs-fold, no whitespace before the colon).
    @Test func decode_rejectsInvalidTrailerField() {
        Self.expectError("0\r\nT : v\r\n\r\n", status: 400)
        Self.expectError("0\r\nT: v\r\n folded\r\n\r\n", status: 400)
        Self.expectError("0\r\nNoColon\r\n\r\n", status: 400)
    }

    // RFC 9110 §15.5.14: the decoded body over the limit is a 413, detected from the chunk size.
    @Test func decode_rejectsBodyOverLimit_with413() {
        let outcome = Self.decodeEveryWay(Self.bytes("4\r\nabcd\r\n4\r\nefgh\r\n1\r\ni\r\n0\r\n\r\n"), maxBodyBytes: 8)
        #expect(outcome.error?.status == 413)
        #expect(outcome.events == [.data(Self.bytes("abcdefgh"))])
        let exact = Self.decodeEveryWay(Self.bytes("4\r\nabcd\r\n4\r\nefgh\r\n0\r\n\r\n"), maxBodyBytes: 8)
        #expect(exact.error == nil)
        #expect(exact.events == [.data(Self.bytes("abcdefgh")), .end(trailers: HTTPHeaders())])
    }

    // RFC 6585 §5: a trailer section over the limit is a 431.
    @Test func decode_rejectsTrailersOverLimit_with431() {
        Self.expectError("0\r\nX-Big: \(String(repeating: "t", count: 100))\r\n\r\n", status: 431, maxTrailerBytes: 64)
        Self.expectError("0\r\nA: 1234567890\r\nB: 1234567890\r\nC: 1234567890\r\n\r\n", status: 431, maxTrailerBytes: 30)
    }

    // After an error the decoder stays failed.
    @Test func decode_afterError_keepsFailing() {
        var decoder = ChunkedDecoder()
        var events: [ChunkedDecoder.Event] = []
        func feed(_ input: [UInt8]) -> HTTPParseError? {
            var index = 0
            return input.withUnsafeBytes { buffer in
                do throws(HTTPParseError) {
                    try decoder.decode(buffer, from: &index, into: &events)
                    return nil
                } catch {
                    return error
                }
            }
        }
        #expect(feed(Self.bytes("zz\r\n"))?.status == 400)
        #expect(feed(Self.bytes("0\r\n\r\n"))?.status == 400)
        #expect(events.isEmpty)
        #expect(!decoder.isComplete)
    }
}
