/// An HTTP version, such as 1.1.
public struct HTTPVersion: Sendable, Equatable, CustomStringConvertible {
    /// The major version (1 for HTTP/1.x).
    public var major: Int
    /// The minor version.
    public var minor: Int

    /// The version `major.minor`.
    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// HTTP/1.0.
    public static let http1_0 = HTTPVersion(major: 1, minor: 0)
    /// HTTP/1.1.
    public static let http1_1 = HTTPVersion(major: 1, minor: 1)

    /// `HTTP/1.1`.
    public var description: String { "HTTP/\(major).\(minor)" }
}

/// Header fields in the order received; lookups ignore case (RFC 9110 §5.1).
public struct HTTPHeaders: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The fields as (name, value) pairs, names as sent.
    public private(set) var fields: [(name: String, value: String)] = []
    /// Whether every field is fit to send as it is: a token for a name, no CR, LF or NUL in a value. Kept as fields
    /// are added (a parser's fields are so by construction), so a response's constant fields are checked once when
    /// they are built rather than on every `writeHead`. Removing fields leaves it as it was (never wrongly true).
    package private(set) var isKnownValid = true

    /// No fields.
    public init() {}

    /// Headers from literal pairs.
    public init(dictionaryLiteral elements: (String, String)...) {
        for (name, value) in elements { add(name: name, value: value) }
    }

    /// Makes room for `count` fields without reallocating.
    public mutating func reserveCapacity(_ count: Int) {
        fields.reserveCapacity(count)
    }

    /// Appends a field.
    public mutating func add(name: String, value: String) {
        if isKnownValid && !(Self.isValidName(name) && Self.isValidValue(value)) { isKnownValid = false }
        fields.append((name, value))
    }

    /// Appends a field a parser has already checked (a token name, a value of field-value bytes).
    mutating func addParsed(name: String, value: String) {
        fields.append((name, value))
    }

    /// A field name as RFC 9110 §5.1 has it: a non-empty token.
    static func isValidName(_ name: String) -> Bool {
        !name.isEmpty && name.utf8.allSatisfy { HTTPSyntax.isToken($0) }
    }

    /// A value that cannot split a message: no CR, LF or NUL.
    static func isValidValue(_ value: String) -> Bool {
        !value.utf8.contains { $0 == 0x0D || $0 == 0x0A || $0 == 0x00 }
    }

    /// Replaces every field named `name` with one field.
    public mutating func replaceOrAdd(name: String, value: String) {
        remove(name: name)
        add(name: name, value: value)
    }

    /// Removes every field named `name`.
    public mutating func remove(name: String) {
        fields.removeAll { Self.namesMatch($0.name, name) }
    }

    /// The first value of `name`, ignoring case.
    public subscript(name: String) -> String? {
        fields.first { Self.namesMatch($0.name, name) }?.value
    }

    /// Every value of `name`, in order.
    public func values(for name: String) -> [String] {
        // One pass and no array at all when nothing matches (the parser asks for absent fields on every request).
        var result: [String] = []
        for field in fields where Self.namesMatch(field.name, name) { result.append(field.value) }
        return result
    }

    /// Whether a comma-separated header (like `Connection`) contains `token`, ignoring case.
    public func contains(token: String, in name: String) -> Bool {
        values(for: name).contains { value in
            value.split(separator: ",").contains { $0.trimmingSpaces.asciiLowercased == token.asciiLowercased }
        }
    }

    /// ASCII case-insensitive comparison of field names, without allocating lowered copies (a hot path).
    static func namesMatch(_ a: String, _ b: String) -> Bool {
        // Most names compared differ in length, which native strings know without looking at their bytes.
        guard a.utf8.count == b.utf8.count else { return false }
        var a = a
        var b = b
        return a.withUTF8 { x in
            b.withUTF8 { y in
                guard x.count == y.count else { return false }
                for index in 0..<x.count where x[index] != y[index] {
                    guard x[index] | 0x20 == y[index] | 0x20, (x[index] | 0x20) >= 0x61, (x[index] | 0x20) <= 0x7A
                    else {
                        return false
                    }
                }
                return true
            }
        }
    }

    /// Iterates over the fields in order.
    public func makeIterator() -> IndexingIterator<[(name: String, value: String)]> { fields.makeIterator() }

    public static func == (lhs: HTTPHeaders, rhs: HTTPHeaders) -> Bool {
        lhs.fields.elementsEqual(rhs.fields) { $0.name == $1.name && $0.value == $1.value }
    }
}

extension StringProtocol {
    /// Lower-cased in ASCII only. HTTP tokens are ASCII; Unicode case mapping would turn, say, U+212A KELVIN SIGN
    /// into "k" and let `chun\u{212A}ed` pass for `chunked` (a request-smuggling pattern).
    var asciiLowercased: String {
        String(decoding: utf8.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }, as: UTF8.self)
    }
}

extension Substring {
    /// Without leading and trailing spaces and tabs (HTTP's OWS).
    var trimmingSpaces: Substring {
        var result = self
        while let first = result.first, first == " " || first == "\t" { result.removeFirst() }
        while let last = result.last, last == " " || last == "\t" { result.removeLast() }
        return result
    }
}

/// How a message's body is delimited (RFC 9112 §6.3).
public enum HTTPBodyFraming: Sendable, Equatable {
    case none
    case contentLength(Int)
    case chunked
    /// Until the connection closes (responses only).
    case untilClose
}

/// A parsed request line and header section.
public struct HTTPRequestHead: Sendable, Equatable {
    /// The method, e.g. "GET".
    public var method: String
    /// The request target as sent: origin form (`/?file=a`), absolute form (`http://h/?file=a`), `*` or authority.
    public var target: String
    /// The HTTP version of the request line.
    public var version: HTTPVersion
    /// The header fields, in order.
    public var headers: HTTPHeaders
    /// How the body is delimited.
    public var framing: HTTPBodyFraming

    /// A request head; `framing` says how its body is delimited.
    public init(
        method: String,
        target: String,
        version: HTTPVersion,
        headers: HTTPHeaders,
        framing: HTTPBodyFraming = .none
    ) {
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.framing = framing
    }

    /// Whether the connection stays open after the response (HTTP/1.1 unless `Connection: close`; HTTP/1.0 only with
    /// `Connection: keep-alive`).
    public var keepAlive: Bool {
        if headers.contains(token: "close", in: "Connection") { return false }
        if version == .http1_0 { return headers.contains(token: "keep-alive", in: "Connection") }
        return true
    }

    /// Whether the client waits for `100 Continue` before sending the body.
    public var expectsContinue: Bool {
        version.minor >= 1 && headers["Expect"]?.asciiLowercased == "100-continue"
    }
}

/// A request the parser rejected, with the status to answer (the connection is then closed).
public struct HTTPParseError: Error, Sendable, Equatable, CustomStringConvertible {
    /// 400, 408, 413, 414, 431, 501 or 505.
    public let status: Int
    /// One line saying what was wrong.
    public let reason: String

    /// A request head; `framing` says how its body is delimited.
    public init(status: Int, reason: String) {
        self.status = status
        self.reason = reason
    }

    /// `400 bare LF in the request head`.
    public var description: String { "\(status) \(reason)" }
}

/// Standard reason phrases.
public enum HTTPStatus {
    /// The reason phrase for `code`, e.g. "Not Found": Node's `http.STATUS_CODES` (v20), so responses read as Node's do.
    public static func reason(_ code: Int) -> String {
        switch code {
        case 100: "Continue"
        case 101: "Switching Protocols"
        case 102: "Processing"
        case 103: "Early Hints"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 203: "Non-Authoritative Information"
        case 204: "No Content"
        case 205: "Reset Content"
        case 206: "Partial Content"
        case 207: "Multi-Status"
        case 208: "Already Reported"
        case 226: "IM Used"
        case 300: "Multiple Choices"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 303: "See Other"
        case 304: "Not Modified"
        case 305: "Use Proxy"
        case 307: "Temporary Redirect"
        case 308: "Permanent Redirect"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 402: "Payment Required"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 406: "Not Acceptable"
        case 407: "Proxy Authentication Required"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Payload Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 416: "Range Not Satisfiable"
        case 417: "Expectation Failed"
        case 418: "I'm a Teapot"
        case 421: "Misdirected Request"
        case 422: "Unprocessable Entity"
        case 423: "Locked"
        case 424: "Failed Dependency"
        case 425: "Too Early"
        case 426: "Upgrade Required"
        case 428: "Precondition Required"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 451: "Unavailable For Legal Reasons"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        case 506: "Variant Also Negotiates"
        case 507: "Insufficient Storage"
        case 508: "Loop Detected"
        case 509: "Bandwidth Limit Exceeded"
        case 510: "Not Extended"
        case 511: "Network Authentication Required"
        default: "unknown"  // as Node's ServerResponse names a code it does not know
        }
    }
}
