/// Collects one CRLF-terminated line at a time from bytes fed one by one. Strict: a bare LF or a CR not followed by
/// LF is an error (RFC 9112 §2.2 allows rejecting them, and lenient line ends enable request smuggling).
struct LineReader {
    private(set) var line: [UInt8] = []
    private var sawCR = false
    let limit: Int

    /// No storage until the first byte: a parser makes two line readers (head and chunk sizes), and a head that
    /// arrives whole is parsed in place without either.
    init(limit: Int) {
        self.limit = limit
    }

    enum Step {
        case needMore
        case line
        case bareLF
        case bareCR
        case tooLong
    }

    /// Adds `byte`; `.line` means `line` holds a complete line (without CRLF) until the next call to `reset()`.
    @inline(__always)
    mutating func add(_ byte: UInt8) -> Step {
        if sawCR {
            guard byte == 0x0A else { return .bareCR }
            sawCR = false
            return .line
        }
        switch byte {
        case 0x0D:
            sawCR = true
            return .needMore
        case 0x0A:
            return .bareLF
        default:
            guard line.count < limit else { return .tooLong }
            if line.capacity == 0 { line.reserveCapacity(128) }
            line.append(byte)
            return .needMore
        }
    }

    var count: Int { line.count + (sawCR ? 1 : 0) }

    /// Whether a CR was just added (the next byte must be LF).
    var isAfterCR: Bool { sawCR }

    /// How many more line bytes fit before `add` would say `.tooLong`.
    var room: Int { limit - line.count }

    /// Adds a run of bytes that contains no CR or LF, at most `room` of them, at once: the same as `add` for
    /// each, without a call and a bounds check per byte (the head of every request goes through here).
    @inline(__always)
    mutating func append(run: UnsafeRawBufferPointer) {
        precondition(!sawCR && run.count <= room, "a run is added only where add(_:) would take each byte")
        line.append(contentsOf: run)
    }

    mutating func reset() {
        line.removeAll(keepingCapacity: true)
        sawCR = false
    }
}

/// Character classes from RFC 9110 §5.6.2 and §5.5.
enum HTTPSyntax {
    /// tchar: the characters of a token (method, field name, transfer coding). The readable definition; the parser
    /// uses `tokenMaskLow/High`, which a test checks against it.
    static let tokenTable: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }

    /// `tokenTable` as two bit masks (bytes 0-63 and 64-127): a lookup in a global array goes through its lazy
    /// initialiser (swift_once) on every byte, 18 calls for a small request head; masks of literals do not.
    static let tokenMaskLow: UInt64 = 0x03ff_6cfa_0000_0000
    static let tokenMaskHigh: UInt64 = 0x57ff_ffff_c7ff_fffe

    @inline(__always)
    static func isToken(_ byte: UInt8) -> Bool { isInMasks(byte, tokenMaskLow, tokenMaskHigh) }

    @inline(__always)
    static func isInMasks(_ byte: UInt8, _ low: UInt64, _ high: UInt64) -> Bool {
        byte < 64 ? (low >> UInt64(byte)) & 1 != 0 : byte < 128 && (high >> UInt64(byte - 64)) & 1 != 0
    }

    /// Bytes of `uri-host [ ":" port ]` (RFC 9110 §7.2, RFC 3986): unreserved, pct-encoded, sub-delims, ":" and the
    /// brackets of an IP literal. Excludes space, "/", "?", "#" and "@" (no userinfo in Host). The readable
    /// definition of `hostMaskLow/High`, checked against them by a test.
    static let hostTable: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default:
            return Array("-._~%!$&'()*+,;=:[]".utf8).contains(byte)
        }
    }

    /// `hostTable` as bit masks, as for tokens.
    static let hostMaskLow: UInt64 = 0x2fff_7ff2_0000_0000
    static let hostMaskHigh: UInt64 = 0x47ff_fffe_afff_fffe

    @inline(__always)
    static func isHostByte(_ byte: UInt8) -> Bool { isInMasks(byte, hostMaskLow, hostMaskHigh) }

    /// `uri-host [ ":" port ]`, where the host is an IP literal in brackets or a name/IPv4 without ":"; empty is
    /// allowed (RFC 9112 §3.2).
    static func isValidHost(_ value: String) -> Bool {
        // In place (no copy of the bytes): every request has a Host.
        var value = value
        return value.withUTF8 { isValidHost(bytes: $0) }
    }

    private static func isValidHost(bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        guard bytes.allSatisfy(isHostByte) else { return false }
        var rest = bytes[...]
        if rest.first == UInt8(ascii: "[") {
            guard let close = rest.firstIndex(of: UInt8(ascii: "]")) else { return false }
            rest = rest[(close + 1)...]
        } else {
            let colon = rest.firstIndex(of: UInt8(ascii: ":")) ?? rest.endIndex
            guard !rest[..<colon].contains(where: { $0 == UInt8(ascii: "[") || $0 == UInt8(ascii: "]") }) else {
                return false
            }
            rest = rest[colon...]
        }
        guard let first = rest.first else { return true }
        return first == UInt8(ascii: ":") && rest.dropFirst().allSatisfy { (0x30...0x39).contains($0) }
    }

    /// field-vchar, SP, HTAB and obs-text are allowed in field values; other controls (NUL, CR, LF, DEL, …) are not.
    @inline(__always)
    static func isFieldValueByte(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// Parses `name: value` (RFC 9112 §5): no whitespace before the colon, OWS around the value, no obs-fold.
    /// Generic so the parser's whole-head path can run it on the received bytes in place (specialised, no copy).
    @inline(__always)
    static func parseField<Line: RandomAccessCollection<UInt8>>(_ line: Line) -> Result<(String, String), HTTPParseError>
    where Line.Index == Int {
        guard let first = line.first else { return .failure(.init(status: 400, reason: "empty header line")) }
        if first == 0x20 || first == 0x09 {
            return .failure(.init(status: 400, reason: "obsolete line folding in header section"))
        }
        guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
            return .failure(.init(status: 400, reason: "header line without a colon"))
        }
        guard colon > line.startIndex else { return .failure(.init(status: 400, reason: "empty header field name")) }
        for byte in line[..<colon] where !isToken(byte) {
            return .failure(
                .init(
                    status: 400,
                    reason: byte == 0x20 || byte == 0x09
                        ? "whitespace before the colon in a header field" : "invalid character in a header field name"
                )
            )
        }
        var start = colon + 1
        var end = line.endIndex
        while start < end && (line[start] == 0x20 || line[start] == 0x09) { start += 1 }
        while end > start && (line[end - 1] == 0x20 || line[end - 1] == 0x09) { end -= 1 }
        for byte in line[start..<end] where !isFieldValueByte(byte) {
            return .failure(.init(status: 400, reason: "control character in a header field value"))
        }
        return .success(
            (String(decoding: line[..<colon], as: UTF8.self), String(decoding: line[start..<end], as: UTF8.self))
        )
    }

    /// Parses `HTTP/x.y`; nil if malformed.
    static func parseVersion(_ bytes: ArraySlice<UInt8>) -> HTTPVersion? {
        // Byte by byte rather than through copies: this runs for every request line.
        let s = bytes.startIndex
        guard bytes.count == 8, bytes[s] == UInt8(ascii: "H"), bytes[s + 1] == UInt8(ascii: "T"),
            bytes[s + 2] == UInt8(ascii: "T"), bytes[s + 3] == UInt8(ascii: "P"), bytes[s + 4] == UInt8(ascii: "/"),
            bytes[s + 6] == UInt8(ascii: "."), (0x30...0x39).contains(bytes[s + 5]),
            (0x30...0x39).contains(bytes[s + 7])
        else { return nil }
        return HTTPVersion(major: Int(bytes[s + 5] - 0x30), minor: Int(bytes[s + 7] - 0x30))
    }
}
