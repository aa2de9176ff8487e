@preconcurrency import Glibc


/// Splits an HTTP request target (RFC 9112 §3.2) into its path and query: origin form `/p?q`, absolute form
/// `http://host:port/p?q` (the path defaults to `/`), or `*`.
public struct RequestTarget: Equatable, Sendable {
    /// The path, `/` for an absolute-form target without one.
    public var path: String
    /// The raw query after `?`, nil if there is none.
    public var query: String?

    /// Parses `target`; nil for forms a file server cannot answer (authority form, other schemes).
    public init?(_ target: String) {
        var rest = Substring(target)
        if rest.first != "/" {
            let lowered = rest.lowercased()
            if lowered.hasPrefix("http://") {
                rest = rest.dropFirst(7)
            } else if lowered.hasPrefix("https://") {
                rest = rest.dropFirst(8)
            } else {
                return nil
            }
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            guard authorityEnd > rest.startIndex else { return nil }
            rest = rest[authorityEnd...]
            if rest.first != "/" { rest = "/" + rest }
        }
        if let mark = rest.firstIndex(of: "?") {
            path = String(rest[..<mark])
            query = String(rest[rest.index(after: mark)...])
        } else {
            path = String(rest)
            query = nil
        }
    }
}

/// `application/x-www-form-urlencoded` query parsing, as Node's `querystring.parse`: `&`-separated `key=value`
/// pairs, `+` for space, percent-decoding. Stricter than Node in one way: a malformed escape (`%zz`) or a value that
/// is not UTF-8 once decoded is an error, not silently passed through.
public enum QueryString {
    /// The pairs of `query` in order; nil if it is malformed.
    ///
    /// `&` and `=` are found as bytes, as Node does on code units: splitting the `String` would compare whole
    /// characters, and a separator followed by a combining mark (`&\u{301}`) is one character that is not `&`.
    public static func parse(_ query: String) -> [(key: String, value: String)]? {
        var pairs: [(String, String)] = []
        let bytes = query.utf8
        var partStart = bytes.startIndex
        while partStart < bytes.endIndex {
            let partEnd = bytes[partStart...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            defer { partStart = partEnd < bytes.endIndex ? bytes.index(after: partEnd) : partEnd }
            if partStart == partEnd { continue }  // empty parts are skipped
            let equals = bytes[partStart..<partEnd].firstIndex(of: UInt8(ascii: "=")) ?? partEnd
            let valueStart = equals < partEnd ? bytes.index(after: equals) : partEnd
            guard let key = decode(query[partStart..<equals]), let value = decode(query[valueStart..<partEnd]) else {
                return nil
            }
            pairs.append((key, value))
        }
        return pairs
    }

    /// The first value of `key`; nil (the outer optional) if any pair of `query` is malformed, as `parse` says.
    ///
    /// Same answer as searching `parse(query)`, without building the pairs: it runs once per request, and parts
    /// without `%` or `+` (nearly all) decode to themselves, so they are compared and validated in place.
    public static func value(of key: String, in query: String?) -> String?? {
        guard let query else { return .some(nil) }
        var text = query
        if let plain = text.withUTF8({ plainValue(of: key, in: $0) }) { return .some(plain) }
        let bytes = query.utf8
        var found: String?
        var partStart = bytes.startIndex
        while partStart < bytes.endIndex {
            let partEnd = bytes[partStart...].firstIndex(of: UInt8(ascii: "&")) ?? bytes.endIndex
            defer { partStart = partEnd < bytes.endIndex ? bytes.index(after: partEnd) : partEnd }
            if partStart == partEnd { continue }  // empty parts are skipped, as `split` omits them
            let equals = bytes[partStart..<partEnd].firstIndex(of: UInt8(ascii: "=")) ?? partEnd
            let keyText = query[partStart..<equals]
            let valueText = equals < partEnd ? query[bytes.index(after: equals)..<partEnd] : query[partEnd..<partEnd]
            if found == nil {
                guard let decodedKey = decodeIfNeeded(keyText) else { return nil }
                if decodedKey.utf8.elementsEqual(key.utf8) {
                    guard let decodedValue = decodeIfNeeded(valueText) else { return nil }
                    found = String(decodedValue)
                    continue
                }
            } else if decodeIfNeeded(keyText) == nil {
                return nil
            }
            // Not the key: still validated, so a malformed query is refused whatever order its pairs come in.
            if decodeIfNeeded(valueText) == nil { return nil }
        }
        return .some(found)
    }

    /// `value(of:in:)` for a query with no `%` or `+` anywhere (the usual case), on its raw bytes: nothing to decode,
    /// nothing that can be malformed. Nil when the query has something to decode.
    private static func plainValue(of key: String, in query: UnsafeBufferPointer<UInt8>) -> String?? {
        if query.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) { return nil }
        var key = key
        return key.withUTF8 { key in
            var start = 0
            while start < query.count {
                var end = start
                while end < query.count && query[end] != UInt8(ascii: "&") { end += 1 }
                var equals = start
                while equals < end && query[equals] != UInt8(ascii: "=") { equals += 1 }
                if end > start && equals - start == key.count
                    && (key.isEmpty || memcmp(query.baseAddress! + start, key.baseAddress!, key.count) == 0)
                {
                    let value = UnsafeBufferPointer(rebasing: query[min(equals + 1, end)..<end])
                    return .some(String(decoding: value, as: UTF8.self))
                }
                start = end + 1
            }
            return .some(nil)
        }
    }

    /// `text` itself when it has nothing to decode, else `decode(text)`.
    private static func decodeIfNeeded(_ text: Substring) -> Substring? {
        if !text.utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) { return text }
        return decode(text).map { Substring($0) }
    }

    /// Percent-decodes `text` (with `+` as space); nil on a malformed escape or invalid UTF-8.
    public static func decode(_ text: Substring) -> String? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var iterator = text.utf8.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(0x20)
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                bytes.append(high << 4 | low)
            default:
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }
}
