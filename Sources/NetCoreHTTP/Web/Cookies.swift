/// Reading the `Cookie` request header (RFC 6265 §4.2 and §5.4), the way Node's `cookie` package does.
///
/// The header is split on `;`; each pair is trimmed of spaces and tabs, and split at its first `=` into a name and a
/// value (so values may contain `=`). Pairs without `=` and pairs with an empty name are skipped. A value wrapped in
/// double quotes loses them. A value with `%` is percent-decoded as `decodeURIComponent` would, and kept exactly as
/// sent when that decoding is invalid (`%zz`, a lone `%`, a truncated or non-UTF-8 sequence): bad input never throws
/// and never crashes, unlike the course's hand-written parser, whose `decodeURIComponent` throws `URIError`.
public enum Cookies {
    /// The cookies of a `Cookie` header value by name; when a name repeats, the first occurrence wins (browsers send
    /// the most specific path first, RFC 6265 §5.4). Empty for nil or an empty header.
    public static func parse(_ header: String?) -> [String: String] {
        var cookies: [String: String] = [:]
        for (name, value) in parsePairs(header) where cookies[name] == nil {
            cookies[name] = value
        }
        return cookies
    }

    /// Every cookie of a `Cookie` header value in the order sent, repeats included, with the same rules as `parse`.
    public static func parsePairs(_ header: String?) -> [(name: String, value: String)] {
        guard let header, !header.isEmpty else { return [] }
        // Work on UTF-8 code units, as JavaScript works on UTF-16 ones: `;` followed by a combining mark is one
        // `Character` but still a separator. ASCII bytes always fall on scalar boundaries, so the slices stay valid.
        let bytes = header.utf8
        var pairs: [(name: String, value: String)] = []
        for segment in bytes.split(separator: UInt8(ascii: ";"), omittingEmptySubsequences: true) {
            guard let equals = segment.firstIndex(of: UInt8(ascii: "=")) else { continue }
            let name = trimmingOWS(segment[..<equals])
            guard !name.isEmpty else { continue }
            var value = trimmingOWS(segment[bytes.index(after: equals)...])
            if value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") {
                value = value.dropFirst().dropLast()
            }
            let rawValue = Substring(value)
            pairs.append((String(Substring(name)), PercentEncoding.decodeComponent(rawValue) ?? String(rawValue)))
        }
        return pairs
    }

    /// `bytes` without leading and trailing spaces and horizontal tabs (RFC 9110 OWS).
    static func trimmingOWS(_ bytes: Substring.UTF8View) -> Substring.UTF8View {
        let isOWS: (UInt8) -> Bool = { $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\t") }
        guard let first = bytes.firstIndex(where: { !isOWS($0) }), let last = bytes.lastIndex(where: { !isOWS($0) })
        else { return bytes[bytes.endIndex...] }
        return bytes[first...last]
    }
}

/// Why a `SetCookie` could not be serialized.
public enum CookieError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The name is empty or has a character outside RFC 9110's `token` (separators, spaces, controls, non-ASCII).
    case invalidName(String)
    /// The domain has `;`, a control character, a space or non-ASCII (RFC 6265 §4.1.1 `domain-value`).
    case invalidDomain(String)
    /// The path has `;`, a control character or non-ASCII (RFC 6265 §4.1.1 `path-value`).
    case invalidPath(String)
    /// The expiry date is outside the years 1601...9999, which cookie dates cannot carry (RFC 6265 §5.1.1).
    case invalidExpires(Int)

    /// A one-line explanation naming the bad attribute.
    public var description: String {
        switch self {
        case .invalidName(let name): "invalid cookie name \(String(reflecting: name)): it must be an HTTP token"
        case .invalidDomain(let domain): "invalid cookie domain \(String(reflecting: domain))"
        case .invalidPath(let path): "invalid cookie path \(String(reflecting: path))"
        case .invalidExpires(let seconds): "invalid cookie expiry \(seconds): outside the years 1601 to 9999"
        }
    }
}

/// A `Set-Cookie` response header value (RFC 6265 §4.1).
///
/// ```swift
/// let cookie = SetCookie(name: "name", value: "홍", expires: now + 300, path: "/", httpOnly: true)
/// try cookie.serialized()   // "name=%ED%99%8D; Expires=Wed, 02 Dec 2026 07:05:00 GMT; Path=/; HttpOnly"
/// ```
public struct SetCookie: Sendable, Equatable {
    /// The `SameSite` attribute (RFC 6265bis §4.1.2.7).
    public enum SameSite: String, Sendable, Equatable {
        /// Sent only with same-site requests.
        case strict = "Strict"
        /// Also sent with top-level cross-site navigations (the browsers' default).
        case lax = "Lax"
        /// Sent with every request; browsers require `Secure` with it.
        case none = "None"
    }

    /// The cookie name; must be an HTTP token.
    public var name: String
    /// The cookie value, any text: `serialized()` percent-encodes it as `encodeURIComponent` does, and
    /// `Cookies.parse` decodes it again.
    public var value: String
    /// When the cookie expires, in seconds since 1970-01-01T00:00:00Z; nil makes it a session cookie.
    public var expires: Int?
    /// Lifetime in seconds from now (`Max-Age`); 0 or negative deletes the cookie. Takes precedence over `expires`.
    public var maxAge: Int?
    /// The `Domain` attribute.
    public var domain: String?
    /// The `Path` attribute.
    public var path: String?
    /// Whether the cookie is only sent over HTTPS.
    public var secure: Bool
    /// Whether the cookie is hidden from JavaScript.
    public var httpOnly: Bool
    /// The `SameSite` attribute, or nil to leave it to the browser.
    public var sameSite: SameSite?

    /// A cookie with the given attributes; nothing is checked until `serialized()`.
    public init(
        name: String,
        value: String,
        expires: Int? = nil,
        maxAge: Int? = nil,
        domain: String? = nil,
        path: String? = nil,
        secure: Bool = false,
        httpOnly: Bool = false,
        sameSite: SameSite? = nil
    ) {
        self.name = name
        self.value = value
        self.expires = expires
        self.maxAge = maxAge
        self.domain = domain
        self.path = path
        self.secure = secure
        self.httpOnly = httpOnly
        self.sameSite = sameSite
    }

    /// A cookie that tells the browser to delete `name` at once: empty value, `Expires` at the epoch, `Max-Age=0`.
    /// Domain and path must match the ones the cookie was set with.
    public static func deleting(_ name: String, domain: String? = nil, path: String? = nil) -> SetCookie {
        SetCookie(name: name, value: "", expires: 0, maxAge: 0, domain: domain, path: path)
    }

    /// The header value: `name=value` then `Expires`, `Max-Age`, `Domain`, `Path`, `Secure`, `HttpOnly`, `SameSite`
    /// for the attributes that are set. Throws `CookieError` for a non-token name, a domain or path that would break
    /// the header (`;`, controls, non-ASCII), or an expiry a cookie date cannot express.
    public func serialized() throws(CookieError) -> String {
        guard !name.isEmpty, name.utf8.allSatisfy(Self.isTokenByte) else { throw .invalidName(name) }
        var header = name + "=" + PercentEncoding.encodeComponent(value)
        if let expires {
            guard expires >= Self.earliestExpires, let date = IMFFixdate.format(expires) else {
                throw .invalidExpires(expires)
            }
            header += "; Expires=" + date
        }
        if let maxAge { header += "; Max-Age=\(maxAge)" }
        if let domain {
            guard !domain.isEmpty, domain.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ";") })
            else { throw .invalidDomain(domain) }
            header += "; Domain=" + domain
        }
        if let path {
            guard !path.isEmpty, path.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != UInt8(ascii: ";") })
            else { throw .invalidPath(path) }
            header += "; Path=" + path
        }
        if secure { header += "; Secure" }
        if httpOnly { header += "; HttpOnly" }
        if let sameSite { header += "; SameSite=" + sameSite.rawValue }
        return header
    }

    /// 1601-01-01T00:00:00Z: RFC 6265 §5.1.1 makes a user agent reject cookie dates with an earlier year.
    static let earliestExpires = -11_644_473_600

    /// RFC 9110 §5.6.2 `tchar`: ``!#$%&'*+-.^_`|~``, digits and letters.
    static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        default: "!#$%&'*+-.^_`|~".utf8.contains(byte)
        }
    }
}
