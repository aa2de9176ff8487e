/// The grammar of request-target: which of its four forms a method may use, and the characters each form allows.
/// Checked once per request line, on the whole target, so the answer cannot depend on how the input was split.
enum RequestTargetSyntax {
    /// Throws a 400 unless `target` is a request-target that `method` may use (RFC 9112 §3.2):
    /// - origin-form `absolute-path [ "?" query ]` and absolute-form `absolute-URI`, for any method but CONNECT;
    /// - authority-form `uri-host ":" port`, for CONNECT only (and CONNECT uses nothing else, RFC 9110 §9.3.6);
    /// - asterisk-form `*`, for OPTIONS only (RFC 9110 §9.3.7).
    static func validate(_ target: ArraySlice<UInt8>, method: ArraySlice<UInt8>) throws(HTTPParseError) {
        if method.elementsEqual("CONNECT".utf8) {
            guard isAuthorityForm(target) else {
                throw HTTPParseError(status: 400, reason: "CONNECT needs an authority-form target (host:port)")
            }
            return
        }
        if target.elementsEqual("*".utf8) {
            guard method.elementsEqual("OPTIONS".utf8) else {
                throw HTTPParseError(status: 400, reason: "asterisk-form target (*) is only for OPTIONS")
            }
            return
        }
        if target.first == UInt8(ascii: "/") {
            guard isPathAndQuery(target) else {
                throw HTTPParseError(status: 400, reason: "invalid origin-form request target")
            }
            return
        }
        // `host:port` is also a syntactically valid absolute-URI (scheme "host", path "port"); RFC 9112 §3.2.3 gives
        // that shape to CONNECT alone, so it is refused here rather than read as a URI with an odd scheme.
        if isAuthorityForm(target) {
            throw HTTPParseError(status: 400, reason: "authority-form target (host:port) is only for CONNECT")
        }
        guard isAbsoluteURI(target) else {
            throw HTTPParseError(status: 400, reason: "invalid request target")
        }
    }

    // MARK: Forms

    /// `path [ "?" query ]` where the path is `*( pchar / "/" )` and the query `*( pchar / "/" / "?" )` (RFC 3986
    /// §3.3, §3.4): origin-form when the path starts with "/", and the part of an absolute-URI after its authority.
    /// No "#": a fragment is never sent (RFC 9110 §4.2.5).
    static func isPathAndQuery(_ bytes: ArraySlice<UInt8>) -> Bool {
        let queryStart = bytes.firstIndex(of: UInt8(ascii: "?")) ?? bytes.endIndex
        guard isEncoded(bytes[..<queryStart], allowing: isPathByte) else { return false }
        guard queryStart < bytes.endIndex else { return true }
        return isEncoded(bytes[(queryStart + 1)...], allowing: isQueryByte)
    }

    /// authority-form `uri-host ":" port` (RFC 9112 §3.2.3): a non-empty host, no userinfo, and a port that is not
    /// empty (RFC 9110 §9.3.6: "a client MUST send the port number").
    static func isAuthorityForm(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard let (host, port) = splitHostPort(bytes), !host.isEmpty, let port, !port.isEmpty else { return false }
        return isHost(host)
    }

    /// absolute-URI `scheme ":" hier-part [ "?" query ]` (RFC 3986 §4.3), with the rules RFC 9110 §4.2 adds for the
    /// http and https schemes: an authority with a non-empty host, and no userinfo (§4.2.4 says to treat it as an
    /// error).
    static func isAbsoluteURI(_ bytes: ArraySlice<UInt8>) -> Bool {
        // scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." )
        guard let colon = bytes.firstIndex(of: UInt8(ascii: ":")), colon > bytes.startIndex,
            isAlpha(bytes[bytes.startIndex]),
            bytes[bytes.startIndex..<colon].allSatisfy({ isAlpha($0) || isDigit($0) || "+-.".utf8.contains($0) })
        else { return false }
        let scheme = bytes[..<colon].map { isAlpha($0) ? $0 | 0x20 : $0 }
        let isHTTP = scheme.elementsEqual("http".utf8) || scheme.elementsEqual("https".utf8)
        let hierPart = bytes[(colon + 1)...]
        guard hierPart.starts(with: "//".utf8) else {
            // path-absolute / path-rootless / path-empty, then the query.
            return !isHTTP && isPathAndQuery(hierPart)
        }
        let authorityStart = hierPart.startIndex + 2
        let authorityEnd =
            hierPart[authorityStart...].firstIndex { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: "?") }
            ?? hierPart.endIndex
        var authority = hierPart[authorityStart..<authorityEnd]
        if let at = authority.firstIndex(of: UInt8(ascii: "@")) {
            // userinfo = *( unreserved / pct-encoded / sub-delims / ":" )
            guard !isHTTP, isEncoded(authority[..<at], allowing: { isUnreservedOrSubDelim($0) || $0 == 0x3A })
            else { return false }
            authority = authority[(at + 1)...]
        }
        guard let (host, _) = splitHostPort(authority), isHost(host), !(isHTTP && host.isEmpty) else { return false }
        // path-abempty = *( "/" segment ), then the query: what is left starts with "/" or "?", or is empty.
        return isPathAndQuery(hierPart[authorityEnd...])
    }

    // MARK: Authority parts

    /// `host [ ":" port ]` split at the port's colon; the port is nil without a colon. Nil if the port is not digits,
    /// or the part before it is neither an IP literal nor free of ":" (only an IP literal may contain colons).
    static func splitHostPort(_ bytes: ArraySlice<UInt8>) -> (host: ArraySlice<UInt8>, port: ArraySlice<UInt8>?)? {
        var hostEnd = bytes.endIndex
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            hostEnd = close + 1
        } else if let colon = bytes.firstIndex(of: UInt8(ascii: ":")) {
            hostEnd = colon
        }
        let rest = bytes[hostEnd...]
        guard let first = rest.first else { return (bytes[..<hostEnd], nil) }
        guard first == UInt8(ascii: ":"), rest.dropFirst().allSatisfy(isDigit) else { return nil }
        return (bytes[..<hostEnd], rest.dropFirst())
    }

    /// host = IP-literal / IPv4address / reg-name (RFC 3986 §3.2.2); an IPv4 address is also a reg-name.
    static func isHost(_ bytes: ArraySlice<UInt8>) -> Bool {
        guard bytes.first == UInt8(ascii: "[") else { return isEncoded(bytes, allowing: isUnreservedOrSubDelim) }
        guard bytes.count >= 2, bytes.last == UInt8(ascii: "]") else { return false }
        let inside = bytes.dropFirst().dropLast()
        if inside.first == UInt8(ascii: "v") || inside.first == UInt8(ascii: "V") {
            // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
            let afterV = inside.dropFirst()
            guard let dot = afterV.firstIndex(of: UInt8(ascii: ".")), dot > afterV.startIndex,
                afterV[..<dot].allSatisfy(isHexDigit)
            else { return false }
            let rest = afterV[(dot + 1)...]
            return !rest.isEmpty && rest.allSatisfy { isUnreservedOrSubDelim($0) || $0 == UInt8(ascii: ":") }
        }
        return isIPv6Address(inside)
    }

    /// IPv6address (RFC 3986 §3.2.2): eight h16 groups, or fewer with one "::" standing for at least one, the last
    /// two groups optionally written as an IPv4 address.
    static func isIPv6Address(_ bytes: ArraySlice<UInt8>) -> Bool {
        var doubleColon: ArraySlice<UInt8>.Index?
        var index = bytes.startIndex
        while index + 1 < bytes.endIndex {
            if bytes[index] == UInt8(ascii: ":") && bytes[index + 1] == UInt8(ascii: ":") {
                guard doubleColon == nil else { return false }
                doubleColon = index
                index += 2
            } else {
                index += 1
            }
        }
        guard let doubleColon else { return groupCount(bytes, allowingIPv4: true) == 8 }
        guard let left = groupCount(bytes[..<doubleColon], allowingIPv4: false),
            let right = groupCount(bytes[(doubleColon + 2)...], allowingIPv4: true)
        else { return false }
        return left + right <= 7
    }

    /// The number of 16-bit groups in `h16 *( ":" h16 )` (an IPv4 address last counts as two); 0 for no bytes, nil
    /// if malformed.
    private static func groupCount(_ bytes: ArraySlice<UInt8>, allowingIPv4: Bool) -> Int? {
        if bytes.isEmpty { return 0 }
        let groups = bytes.split(separator: UInt8(ascii: ":"), omittingEmptySubsequences: false)
        var count = 0
        for (position, group) in groups.enumerated() {
            if (1...4).contains(group.count) && group.allSatisfy(isHexDigit) {
                count += 1
            } else if allowingIPv4 && position == groups.count - 1 && isIPv4Address(group) {
                count += 2
            } else {
                return nil
            }
        }
        return count
    }

    /// IPv4address = dec-octet "." dec-octet "." dec-octet "." dec-octet, each 0–255 without leading zeros.
    private static func isIPv4Address(_ bytes: ArraySlice<UInt8>) -> Bool {
        let octets = bytes.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false)
        return octets.count == 4
            && octets.allSatisfy { octet in
                guard (1...3).contains(octet.count), octet.allSatisfy(isDigit),
                    octet.count == 1 || octet.first != UInt8(ascii: "0")
                else { return false }
                return octet.reduce(0) { $0 * 10 + Int($1 - 0x30) } <= 255
            }
    }

    // MARK: Characters (RFC 3986 §2)

    /// Whether every byte is allowed by `isAllowed` or starts a pct-encoded triplet `"%" HEXDIG HEXDIG`.
    private static func isEncoded(_ bytes: ArraySlice<UInt8>, allowing isAllowed: (UInt8) -> Bool) -> Bool {
        var index = bytes.startIndex
        while index < bytes.endIndex {
            if bytes[index] == UInt8(ascii: "%") {
                guard index + 2 < bytes.endIndex, isHexDigit(bytes[index + 1]), isHexDigit(bytes[index + 2]) else {
                    return false
                }
                index += 3
            } else {
                guard isAllowed(bytes[index]) else { return false }
                index += 1
            }
        }
        return true
    }

    /// unreserved / sub-delims: ALPHA DIGIT "-" "." "_" "~" and "!" "$" "&" "'" "(" ")" "*" "+" "," ";" "=".
    static let unreservedOrSubDelimTable: [Bool] = (0..<256).map { value in
        let byte = UInt8(value)
        return isAlpha(byte) || isDigit(byte) || "-._~!$&'()*+,;=".utf8.contains(byte)
    }

    @inline(__always)
    static func isUnreservedOrSubDelim(_ byte: UInt8) -> Bool { unreservedOrSubDelimTable[Int(byte)] }

    /// pchar (without pct-encoded) or "/": the bytes of a path.
    @inline(__always)
    static func isPathByte(_ byte: UInt8) -> Bool {
        isUnreservedOrSubDelim(byte) || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "@")
            || byte == UInt8(ascii: "/")
    }

    /// pchar (without pct-encoded), "/" or "?": the bytes of a query.
    @inline(__always)
    static func isQueryByte(_ byte: UInt8) -> Bool { isPathByte(byte) || byte == UInt8(ascii: "?") }

    @inline(__always)
    static func isAlpha(_ byte: UInt8) -> Bool { (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) }

    @inline(__always)
    static func isDigit(_ byte: UInt8) -> Bool { (0x30...0x39).contains(byte) }

    @inline(__always)
    static func isHexDigit(_ byte: UInt8) -> Bool { ChunkedDecoder.hexValue(byte) != nil }
}
