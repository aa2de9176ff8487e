/// A path pattern such as `/user/:id` or `/files/*`, matched against request paths without a regex engine.
///
/// Rules (Express's defaults where they fit):
/// - The pattern and the path are split on `/`. A literal segment matches the same text, case-sensitively (RFC 3986
///   §6.2.2.1: paths are case-sensitive), both sides percent-decoded, so `/caf%C3%A9` matches `/café` and
///   `/a%20b` matches `/a b`.
/// - `:name` matches one non-empty segment and captures it percent-decoded, as `decodeURIComponent` would. Names are
///   letters, digits and `_`. A segment whose percent-encoding is invalid (`%zz`, a lone `%`, bytes that are not
///   UTF-8) makes the path not match: it is not a path any route was written for.
/// - `*`, allowed only as the last segment, matches the rest of the path, zero or more segments, captured under
///   `"*"` percent-decoded as a whole. `%2F` decodes to `/` there, so a file server must still check the result.
/// - One trailing slash is ignored on both sides: `/user/42/` matches `/user/:id`. Empty segments are not:
///   `/user//42` does not match.
/// - A `?` or `#` in the path ends it: the query string and fragment play no part.
public struct RoutePattern: Sendable, Equatable, CustomStringConvertible, ExpressibleByStringLiteral {
    enum Segment: Sendable, Equatable {
        case literal(String)
        case parameter(String)
        case wildcard
    }

    /// The pattern as written.
    public let description: String
    let segments: [Segment]

    /// The names captured by a match, in order (`"*"` for a wildcard).
    public var parameterNames: [String] {
        segments.compactMap { segment in
            switch segment {
            case .literal: nil
            case .parameter(let name): name
            case .wildcard: "*"
            }
        }
    }

    /// Parses `pattern`. Throws `RoutePatternError` when it does not start with `/`, has an empty or invalid
    /// parameter name (`/:`, `/:a-b`), repeats a name, or has `*` anywhere but as the whole last segment.
    public init(_ pattern: String) throws(RoutePatternError) {
        guard pattern.hasPrefix("/") else { throw .mustStartWithSlash(pattern) }
        var parts = pattern.split(separator: "/", omittingEmptySubsequences: false).dropFirst()
        if parts.count > 1, parts.last == "" { parts = parts.dropLast() }  // trailing slash
        var segments: [Segment] = []
        var names = Set<String>()
        for (position, part) in parts.enumerated() {
            if part == "*" {
                guard position == parts.count - 1 else { throw .wildcardNotLast(pattern) }
                segments.append(.wildcard)
            } else if part.hasPrefix(":") {
                let name = String(part.dropFirst())
                guard !name.isEmpty, name.utf8.allSatisfy(Self.isNameByte) else {
                    throw .invalidParameterName(pattern, name)
                }
                guard names.insert(name).inserted else { throw .duplicateParameterName(pattern, name) }
                segments.append(.parameter(name))
            } else {
                guard !part.contains("*") else { throw .wildcardNotLast(pattern) }
                // Literals are compared with decoded path segments, so a literal written encoded is decoded too.
                segments.append(.literal(PercentEncoding.decodeComponent(part) ?? String(part)))
            }
        }
        self.description = pattern
        // "/" alone splits into one empty literal, which matches the empty path segment of "/" itself.
        self.segments = segments
    }

    /// A pattern from a literal. A malformed literal is a programming error and stops the program with the
    /// `RoutePatternError` text; use `init(_:)` for patterns that come from input.
    public init(stringLiteral pattern: String) {
        do {
            try self.init(pattern)
        } catch {
            preconditionFailure("RoutePattern: \(error)")
        }
    }

    /// The captured parameters if `path` matches, e.g. `["id": "42"]` for `/user/:id` and `/user/42`; an empty
    /// dictionary for a match without parameters; nil if it does not match.
    public func match(_ path: String) -> [String: String]? {
        // On the path's bytes, one segment at a time, decoding only segments that hold a `%`: the router tries every
        // route in turn on every request (splitting and decoding the whole path for each was over half of
        // rest-server's instructions per request).
        var path = path
        return path.withUTF8 { bytes -> [String: String]? in
            var end = bytes.count
            if let cut = bytes.firstIndex(where: { $0 == UInt8(ascii: "?") || $0 == UInt8(ascii: "#") }) { end = cut }
            guard end > 0, bytes[0] == UInt8(ascii: "/") else { return nil }
            // One trailing slash is ignored: "/users/" is "/users" (but "/" stays one empty segment).
            if end > 1 && bytes[end - 1] == UInt8(ascii: "/") { end -= 1 }
            var parameters: [String: String] = [:]
            var start = 1
            var exhausted = false
            /// The next segment's bytes, nil once every segment has been taken.
            func nextSegment() -> UnsafeBufferPointer<UInt8>.SubSequence? {
                guard !exhausted else { return nil }
                var stop = start
                while stop < end && bytes[stop] != UInt8(ascii: "/") { stop += 1 }
                let segment = bytes[start..<stop]
                if stop >= end { exhausted = true } else { start = stop + 1 }
                return segment
            }
            for segment in segments {
                switch segment {
                case .wildcard:
                    let rest = exhausted ? bytes[end..<end] : bytes[start..<end]
                    exhausted = true
                    guard let decoded = Self.decode(rest) else { return nil }
                    parameters["*"] = decoded
                    return parameters
                case .literal(let text):
                    guard let part = nextSegment() else { return nil }
                    if part.contains(UInt8(ascii: "%")) {
                        guard Self.decode(part) == text else { return nil }
                    } else {
                        guard text.utf8.elementsEqual(part) else { return nil }
                    }
                case .parameter(let name):
                    guard let part = nextSegment(), !part.isEmpty, let decoded = Self.decode(part) else { return nil }
                    parameters[name] = decoded
                }
            }
            return nextSegment() == nil ? parameters : nil
        }
    }

    /// A segment percent-decoded, nil when its encoding is bad.
    private static func decode(_ bytes: UnsafeBufferPointer<UInt8>.SubSequence) -> String? {
        let text = String(decoding: bytes, as: UTF8.self)
        return bytes.contains(UInt8(ascii: "%")) ? PercentEncoding.decodeComponent(Substring(text)) : text
    }

    /// Whether `path` matches.
    public func matches(_ path: String) -> Bool { match(path) != nil }

    /// Patterns are equal when written the same way.
    public static func == (lhs: RoutePattern, rhs: RoutePattern) -> Bool { lhs.description == rhs.description }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "_"):
            true
        default: false
        }
    }
}

/// Why a route pattern was refused.
public enum RoutePatternError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The pattern does not begin with `/`.
    case mustStartWithSlash(String)
    /// A `:` with no name after it, or a name with characters other than letters, digits and `_`.
    case invalidParameterName(String, String)
    /// The same parameter name appears twice.
    case duplicateParameterName(String, String)
    /// `*` appears other than as the whole last segment.
    case wildcardNotLast(String)

    /// A one-line explanation with the pattern.
    public var description: String {
        switch self {
        case .mustStartWithSlash(let pattern): "route pattern \(String(reflecting: pattern)) must start with '/'"
        case .invalidParameterName(let pattern, let name):
            "route pattern \(String(reflecting: pattern)) has an invalid parameter name \(String(reflecting: name))"
        case .duplicateParameterName(let pattern, let name):
            "route pattern \(String(reflecting: pattern)) repeats the parameter name \(String(reflecting: name))"
        case .wildcardNotLast(let pattern):
            "route pattern \(String(reflecting: pattern)) may have '*' only as its whole last segment"
        }
    }
}
