import NetCoreHTTP

/// What a response parser reports after a chunk of bytes.
enum ParseOutcome: Equatable {
    /// The response is not complete yet; every byte was consumed.
    case needMore
    /// The response ended; `consumed` bytes of the chunk belonged to it (the rest is surplus).
    case complete(consumed: Int)
    /// The framing is broken.
    case invalid(String)
}

/// A response parser the http mode can drive: netbench's own, or NetCoreHTTP's.
protocol ResponseParsing {
    init()
    /// Forgets the previous response.
    mutating func reset()
    mutating func parse(_ raw: UnsafeRawBufferPointer) -> ParseOutcome
    /// The peer closed the connection: a response framed by the close ends here.
    mutating func finish() -> ParseOutcome
    var status: Int { get }
    var bodyBytes: Int { get }
    var connectionClose: Bool { get }
}

/// netbench's own incremental HTTP/1.x response parser: zero-copy (body bytes are counted, never copied), strict
/// about framing — CRLF line ends, a valid status line, Content-Length or chunked coding (hex sizes, optional
/// extensions, CRLF after each chunk's data, trailer section) — and tolerant of any split of the byte stream.
struct FastResponseParser: ResponseParsing {
    private enum State {
        case statusLine, header, fixedBody, chunkSize, chunkData, chunkDataCR, chunkDataLF, trailer, untilClose, done
    }

    private var state = State.statusLine
    /// The line being assembled (head lines, chunk-size lines, trailer lines), without its CRLF.
    private var line: [UInt8] = []
    private var sawCR = false
    private var remaining = 0
    private var contentLength = -1
    private var chunked = false
    private var headBytes = 0
    private(set) var status = 0
    private(set) var bodyBytes = 0
    private(set) var connectionClose = false

    static let maxLine = 16 * 1024
    static let maxHead = 64 * 1024

    init() { line.reserveCapacity(256) }

    mutating func reset() {
        state = .statusLine
        line.removeAll(keepingCapacity: true)
        sawCR = false
        remaining = 0
        contentLength = -1
        chunked = false
        headBytes = 0
        status = 0
        bodyBytes = 0
        connectionClose = false
    }

    mutating func finish() -> ParseOutcome {
        if case .untilClose = state {
            state = .done
            return .complete(consumed: 0)
        }
        return .invalid("connection closed in the middle of a response")
    }

    mutating func parse(_ raw: UnsafeRawBufferPointer) -> ParseOutcome {
        var index = 0
        let count = raw.count
        while index < count {
            switch state {
            case .done:
                return .complete(consumed: index)
            case .fixedBody, .chunkData:
                let take = min(remaining, count - index)
                index += take
                remaining -= take
                bodyBytes += take
                if remaining == 0 {
                    if case .fixedBody = state {
                        state = .done
                        return .complete(consumed: index)
                    }
                    state = .chunkDataCR
                }
            case .untilClose:
                bodyBytes += count - index
                index = count
            case .chunkDataCR:
                guard raw[index] == 0x0D else { return .invalid("chunk data not followed by CRLF") }
                index += 1
                state = .chunkDataLF
            case .chunkDataLF:
                guard raw[index] == 0x0A else { return .invalid("chunk data not followed by CRLF") }
                index += 1
                state = .chunkSize
            case .statusLine, .header, .chunkSize, .trailer:
                let inHead = state == .statusLine || state == .header
                if sawCR {
                    let byte = raw[index]
                    index += 1
                    if inHead {
                        headBytes += 1
                        if headBytes > Self.maxHead { return .invalid("response head too large") }
                    }
                    guard byte == 0x0A else { return .invalid("CR not followed by LF") }
                    sawCR = false
                    if let failure = lineCompleted() { return .invalid(failure) }
                    line.removeAll(keepingCapacity: true)
                    if state == .done { return .complete(consumed: index) }
                    continue
                }
                // The run of ordinary bytes up to the next CR or LF goes into the line at once: appending byte by
                // byte cost ~50 instructions a byte (callgrind), half of netbench's cost per keep-alive response.
                var end = index
                while end < count, raw[end] != 0x0D, raw[end] != 0x0A { end += 1 }
                let run = end - index
                if inHead {
                    headBytes += run
                    if headBytes > Self.maxHead { return .invalid("response head too large") }
                }
                guard line.count + run <= Self.maxLine else { return .invalid("line too long") }
                if run > 0 { line.append(contentsOf: UnsafeRawBufferPointer(rebasing: raw[index..<end])) }
                index = end
                guard index < count else { break }
                let terminator = raw[index]
                index += 1
                if inHead {
                    headBytes += 1
                    if headBytes > Self.maxHead { return .invalid("response head too large") }
                }
                guard terminator == 0x0D else { return .invalid("bare LF") }
                sawCR = true
            }
        }
        if state == .done { return .complete(consumed: index) }
        return .needMore
    }

    /// Handles the line in `line`; returns a reason when it is malformed.
    private mutating func lineCompleted() -> String? {
        switch state {
        case .statusLine:
            // HTTP/1.x SP 3DIGIT SP reason
            guard line.count >= 12, line.starts(with: Self.httpSlash1Dot), line[8] == 0x20,
                let status = Self.threeDigits(line[9], line[10], line[11]), line.count == 12 || line[12] == 0x20
            else { return "malformed status line" }
            self.status = status
            if line[7] == UInt8(ascii: "0") { connectionClose = true }  // HTTP/1.0: close unless keep-alive
            state = .header
        case .header:
            if line.isEmpty { return headCompleted() }
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > 0 else { return "malformed header" }
            let value = Self.trimmed(line[(colon + 1)...])
            if Self.nameEquals(line[..<colon], "content-length") {
                guard let length = Self.decimal(value) else { return "invalid Content-Length" }
                if contentLength >= 0 && contentLength != length { return "conflicting Content-Length" }
                contentLength = length
            } else if Self.nameEquals(line[..<colon], "transfer-encoding") {
                chunked = Self.endsCaseInsensitive(value, with: "chunked")
            } else if Self.nameEquals(line[..<colon], "connection") {
                // Bytes, not String.contains: StringProcessing's substring search cost 40,000 instructions per
                // response here (callgrind), which made netbench the bottleneck of every keep-alive HTTP point.
                if Self.containsCaseInsensitive(value, "close") { connectionClose = true }
                if Self.containsCaseInsensitive(value, "keep-alive") { connectionClose = false }
            }
        case .chunkSize:
            var size = 0
            var digits = 0
            var position = 0
            while position < line.count, let value = Self.hex(line[position]) {
                if digits > 0 || value != 0 { digits += 1 }
                guard digits <= 15 else { return "chunk size too large" }
                size = size * 16 + value
                position += 1
            }
            guard position > 0 else { return "invalid chunk size" }
            if position < line.count {
                let rest = line[position...].drop { $0 == 0x20 || $0 == 0x09 }
                guard rest.first == UInt8(ascii: ";") else { return "invalid chunk size" }
            }
            if size == 0 {
                state = .trailer
            } else {
                remaining = size
                state = .chunkData
            }
        case .trailer:
            if line.isEmpty { state = .done }
        default:
            break
        }
        return nil
    }

    private mutating func headCompleted() -> String? {
        if (100...199).contains(status) {
            state = .statusLine  // interim response: the real one follows
            headBytes = 0
            return nil
        }
        if status == 204 || status == 304 {
            state = .done
        } else if chunked {
            state = .chunkSize
        } else if contentLength >= 0 {
            remaining = contentLength
            state = contentLength == 0 ? .done : .fixedBody
        } else {
            state = .untilClose
            connectionClose = true
        }
        return nil
    }

    private static let httpSlash1Dot = Array("HTTP/1.".utf8)

    private static func threeDigits(_ a: UInt8, _ b: UInt8, _ c: UInt8) -> Int? {
        func digit(_ x: UInt8) -> Int? { (0x30...0x39).contains(x) ? Int(x - 0x30) : nil }
        guard let a = digit(a), let b = digit(b), let c = digit(c), a >= 1 else { return nil }
        return a * 100 + b * 10 + c
    }

    private static func hex(_ byte: UInt8) -> Int? {
        switch byte {
        case 0x30...0x39: Int(byte - 0x30)
        case 0x41...0x46: Int(byte - 0x41 + 10)
        case 0x61...0x66: Int(byte - 0x61 + 10)
        default: nil
        }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var slice = bytes
        while let first = slice.first, first == 0x20 || first == 0x09 { slice.removeFirst() }
        while let last = slice.last, last == 0x20 || last == 0x09 { slice.removeLast() }
        return slice
    }

    private static func decimal(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard (0x30...0x39).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    private static func nameEquals(_ bytes: ArraySlice<UInt8>, _ name: StaticString) -> Bool {
        guard bytes.count == name.utf8CodeUnitCount else { return false }
        let expected = UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
        for (byte, wanted) in zip(bytes, expected) where byte | 0x20 != wanted {
            return false
        }
        return true
    }

    /// Whether `bytes` contains the lower-case ASCII `word`, ignoring the case of `bytes`.
    private static func containsCaseInsensitive(_ bytes: ArraySlice<UInt8>, _ word: StaticString) -> Bool {
        let wanted = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count >= wanted.count else { return false }
        var start = bytes.startIndex
        while start + wanted.count <= bytes.endIndex {
            var position = 0
            while position < wanted.count, lowered(bytes[start + position]) == wanted[position] { position += 1 }
            if position == wanted.count { return true }
            start += 1
        }
        return false
    }

    /// Whether `bytes` ends with the lower-case ASCII `word`, ignoring the case of `bytes`.
    private static func endsCaseInsensitive(_ bytes: ArraySlice<UInt8>, with word: StaticString) -> Bool {
        let wanted = UnsafeBufferPointer(start: word.utf8Start, count: word.utf8CodeUnitCount)
        guard bytes.count >= wanted.count else { return false }
        return zip(bytes.suffix(wanted.count), wanted).allSatisfy { lowered($0) == $1 }
    }

    private static func lowered(_ byte: UInt8) -> UInt8 { (0x41...0x5A).contains(byte) ? byte | 0x20 : byte }
}

/// NetCoreHTTP's `HTTPResponseParser` behind the same interface (`--parser netcore`): slower (it copies body
/// bytes into arrays), but shows the two parsers agree on every response.
struct NetCoreResponseParser: ResponseParsing {
    private var parser = HTTPResponseParser()
    private(set) var status = 0
    private(set) var bodyBytes = 0
    private(set) var connectionClose = false

    init() {}

    mutating func reset() {
        parser = HTTPResponseParser()
        status = 0
        bodyBytes = 0
        connectionClose = false
    }

    mutating func parse(_ raw: UnsafeRawBufferPointer) -> ParseOutcome {
        // HTTPResponseParser silently ignores what follows the end of a response, so with this parser surplus bytes
        // from the server are not detected (the fast parser reports them as framing errors).
        let outcome = absorb(parser.feed(raw))
        guard case .complete = outcome else { return outcome }
        return .complete(consumed: raw.count)
    }

    mutating func finish() -> ParseOutcome { absorb(parser.finish()) }

    private mutating func absorb(_ events: [HTTPResponseParser.Event]) -> ParseOutcome {
        var ended = false
        for event in events {
            switch event {
            case .head(let head):
                status = head.status
                let connection = head.headers.values(for: "Connection").joined(separator: ",").lowercased()
                connectionClose =
                    head.version == .http1_0 ? !connection.contains("keep-alive") : connection.contains("close")
            case .body(let bytes):
                bodyBytes += bytes.count
            case .end:
                ended = true
            case .error(let error):
                return .invalid(error.reason)
            }
        }
        return ended ? .complete(consumed: 0) : .needMore
    }
}
