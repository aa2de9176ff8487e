/// A pure, incremental decoder of the chunked transfer coding (RFC 9112 §7.1): chunk sizes in hex, optional chunk
/// extensions (validated, then ignored), chunk data, and a trailer section after the last chunk.
public struct ChunkedDecoder {
    /// What a call to `decode` produced.
    public enum Event: Equatable, Sendable {
        case data([UInt8])
        /// The last chunk and the trailer section were read; `trailers` holds the trailer fields.
        case end(trailers: HTTPHeaders)
    }

    private enum State {
        case size
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailers
        case done
        case failed
    }

    private var state = State.size
    private var line = LineReader(limit: 4096)
    private var trailers = HTTPHeaders()
    private var trailerBytes = 0
    private var bodyBytes = 0
    /// Total decoded bytes allowed; more is a 413.
    public let maxBodyBytes: Int
    /// Trailer section limit; more is a 431.
    public let maxTrailerBytes: Int

    /// A decoder that allows at most `maxBodyBytes` of data (413 beyond) and `maxTrailerBytes` of trailers (431).
    public init(maxBodyBytes: Int = .max, maxTrailerBytes: Int = 16 * 1024) {
        self.maxBodyBytes = maxBodyBytes
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Whether the final chunk and trailers have been read.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Decodes from `bytes`, starting at `index`; returns events and advances `index` past what was consumed. Stops
    /// right after the end of the chunked body, so what follows (a pipelined message) stays unconsumed.
    public mutating func decode(
        _ bytes: UnsafeRawBufferPointer,
        from index: inout Int,
        into events: inout [Event]
    ) throws(HTTPParseError) {
        while index < bytes.count {
            switch state {
            case .done:
                return
            case .failed:
                throw HTTPParseError(status: 400, reason: "chunked body after an error")
            case .data(let remaining):
                let take = min(remaining, bytes.count - index)
                events.append(.data(Array(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))))
                index += take
                state = remaining == take ? .dataCR : .data(remaining: remaining - take)
            case .dataCR:
                guard bytes[index] == 0x0D else { throw fail(400, "chunk data not followed by CRLF") }
                index += 1
                state = .dataLF
            case .dataLF:
                guard bytes[index] == 0x0A else { throw fail(400, "chunk data not followed by CRLF") }
                index += 1
                state = .size
            case .size, .trailers:
                let byte = bytes[index]
                index += 1
                switch line.add(byte) {
                case .needMore:
                    if case .trailers = state, trailerBytes + line.count > maxTrailerBytes {
                        throw fail(431, "trailer section too large")
                    }
                case .bareLF: throw fail(400, "bare LF in chunked framing")
                case .bareCR: throw fail(400, "bare CR in chunked framing")
                case .tooLong:
                    if case .trailers = state { throw fail(431, "trailer section too large") }
                    throw fail(400, "chunk-size line too long")
                case .line:
                    if case .size = state {
                        try sizeLineCompleted(into: &events)
                    } else {
                        try trailerLineCompleted(into: &events)
                    }
                    line.reset()
                }
            }
        }
    }

    /// Like `decode(_:from:into:)`, but hands back the events decoded before an error together with the error, so
    /// a caller's result never depends on how its input was split.
    mutating func decodeKeepingData(_ bytes: UnsafeRawBufferPointer, from index: inout Int)
        -> (events: [Event], failure: HTTPParseError?)
    {
        var events: [Event] = []
        do {
            try decode(bytes, from: &index, into: &events)
            return (events, nil)
        } catch {
            return (events, error)
        }
    }

    private mutating func fail(_ status: Int, _ reason: String) -> HTTPParseError {
        state = .failed
        return HTTPParseError(status: status, reason: reason)
    }

    private mutating func sizeLineCompleted(into events: inout [Event]) throws(HTTPParseError) {
        let bytes = line.line
        var size = 0
        var digits = 0
        var position = 0
        while position < bytes.count, let value = Self.hexValue(bytes[position]) {
            if digits == 0 && value == 0 && position + 1 < bytes.count && Self.hexValue(bytes[position + 1]) != nil {
                // Leading zeros do not count towards the overflow limit.
            } else {
                digits += 1
            }
            guard digits <= 15 else { throw fail(413, "chunk size too large") }
            size = size * 16 + value
            position += 1
        }
        guard position > 0 else { throw fail(400, "invalid chunk size") }
        // What may follow: chunk extensions (validated, then ignored).
        let rest = bytes[position...]
        if !rest.isEmpty {
            guard rest.first(where: { $0 != 0x20 && $0 != 0x09 }) == UInt8(ascii: ";") else {
                throw fail(400, "invalid chunk size")
            }
            if rest.contains(where: { $0 != 0x09 && ($0 < 0x20 || $0 == 0x7F) }) {
                throw fail(400, "control character in a chunk extension")
            }
            guard Self.isChunkExtensions(rest) else { throw fail(400, "invalid chunk extension") }
        }
        guard size <= maxBodyBytes - bodyBytes else { throw fail(413, "request body too large") }
        bodyBytes += size
        state = size == 0 ? .trailers : .data(remaining: size)
    }

    private mutating func trailerLineCompleted(into events: inout [Event]) throws(HTTPParseError) {
        if line.line.isEmpty {
            state = .done
            events.append(.end(trailers: trailers))
            return
        }
        trailerBytes += line.line.count + 2
        switch HTTPSyntax.parseField(line.line) {
        case .success(let (name, value)): trailers.addParsed(name: name, value: value)
        case .failure(let error): throw fail(error.status, error.reason)
        }
    }

    /// chunk-ext = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] ) (RFC 9112 §7.1.1), where a name is
    /// a token and a value a token or a quoted-string (RFC 9110 §5.6.2, §5.6.4), and BWS = *( SP / HTAB ). Nothing
    /// else may be on the line: no whitespace after the last extension, no empty name or value.
    static func isChunkExtensions(_ bytes: ArraySlice<UInt8>) -> Bool {
        var index = bytes.startIndex
        func skipWhitespace() {
            while index < bytes.endIndex && (bytes[index] == 0x20 || bytes[index] == 0x09) { index += 1 }
        }
        func skipToken() -> Bool {
            let start = index
            while index < bytes.endIndex && HTTPSyntax.isToken(bytes[index]) { index += 1 }
            return index > start
        }
        while index < bytes.endIndex {
            skipWhitespace()
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: ";") else { return false }
            index += 1
            skipWhitespace()
            guard skipToken() else { return false }
            // BWS here belongs to a following "=" or ";"; whitespace before neither is refused by the next pass.
            let afterName = index
            skipWhitespace()
            guard index < bytes.endIndex, bytes[index] == UInt8(ascii: "=") else {
                index = afterName
                continue
            }
            index += 1
            skipWhitespace()
            if index < bytes.endIndex && bytes[index] == UInt8(ascii: "\"") {
                guard skipQuotedString(bytes, &index) else { return false }
            } else {
                guard skipToken() else { return false }
            }
        }
        return true
    }

    /// Moves `index` past the quoted-string that starts there (RFC 9110 §5.6.4): `DQUOTE *( qdtext / quoted-pair )
    /// DQUOTE`; false if it is not terminated or holds a byte that neither allows.
    private static func skipQuotedString(_ bytes: ArraySlice<UInt8>, _ index: inout Int) -> Bool {
        index += 1  // the opening DQUOTE
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return true
            case UInt8(ascii: "\\"):
                // quoted-pair = "\" ( HTAB / SP / VCHAR / obs-text )
                guard index < bytes.endIndex, bytes[index] == 0x09 || (bytes[index] >= 0x20 && bytes[index] != 0x7F)
                else { return false }
                index += 1
            default:
                // qdtext = HTAB / SP / %x21 / %x23-5B / %x5D-7E / obs-text (the quote and backslash are above)
                guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else { return false }
            }
        }
        return false
    }

    @inline(__always)
    static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }
}
