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
    public static func parse(_ query: String) -> [(key: String, value: String)]? {
        var pairs: [(String, String)] = []
        for part in query.split(separator: "&", omittingEmptySubsequences: true) {
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let key = decode(pieces[0]), let value = pieces.count > 1 ? decode(pieces[1]) : "" else { return nil }
            pairs.append((key, value))
        }
        return pairs
    }

    /// The first value of `key`.
    public static func value(of key: String, in query: String?) -> String?? {
        guard let query else { return .some(nil) }
        guard let pairs = parse(query) else { return nil }
        return .some(pairs.first { $0.key == key }?.value)
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
