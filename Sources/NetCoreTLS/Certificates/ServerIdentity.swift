import NetCore

extension TLS {
    /// Node's `tls.checkServerIdentity(hostname, cert)`: nil when `certificate` is valid for `hostname`, else Node's
    /// `ERR_TLS_CERT_ALTNAME_INVALID` error with its message ("Hostname/IP does not match certificate's altnames:
    /// REASON") and `reason`.
    ///
    /// Node's rules (lib/tls.js), followed exactly:
    /// - One trailing dot of `hostname` is dropped first (`"localhost."` is `"localhost"`); names compare
    ///   ASCII-case-insensitively, label by label, and must have as many labels as the pattern.
    /// - An IP address (what `net.isIP` accepts) matches only an `IP Address:` entry, both canonicalised
    ///   (`0:0:0:0:0:0:0:1` is `::1`), never a DNS name or the CN. Reason: `IP: H is not in the cert's list: IPS`.
    /// - Otherwise the `DNS:` entries are tried. A `*` may appear once, in the leftmost label only; Node lets it
    ///   stand for part of that label too (`f*.example.test`), but never in a two-label pattern (`*.test`) or an
    ///   `xn--` label. Patterns with empty labels or characters outside U+0021...U+007F never match.
    ///   Reason: `Host: H. is not in the cert's altnames: SAN`.
    /// - The subject CN is used only when the certificate has no `DNS:` entry at all (IP entries do not prevent it).
    ///   Reason: `Host: H. is not cert's CN: CN`; with neither, `Cert does not contain a DNS name`.
    /// - Alt-name text with a malformed quoted entry gives `ERR_TLS_CERT_ALTNAME_FORMAT` (Node throws it).
    public static func checkServerIdentity(hostname: String, certificate: PeerCertificate) -> TLSError? {
        ServerIdentity.check(
            hostname: hostname,
            subjectAltName: certificate.subjectAltName,
            commonNames: certificate.subject["CN"]
        )
    }
}

/// The pure part of `TLS.checkServerIdentity`, over the certificate's alt-name text and CN values.
enum ServerIdentity {
    static func check(hostname rawHostname: String, subjectAltName: String?, commonNames: [String]) -> TLSError? {
        var dnsNames: [String] = []
        var ips: [String] = []
        if let subjectAltName, !subjectAltName.isEmpty {
            guard let names = splitAltNames(subjectAltName) else {
                return TLSError(code: "ERR_TLS_CERT_ALTNAME_FORMAT", message: "Invalid subject alternative names")
            }
            for name in names {
                if name.hasPrefix("DNS:") {
                    dnsNames.append(String(name.dropFirst(4)))
                } else if name.hasPrefix("IP Address:") {
                    ips.append(canonicalIP(String(name.dropFirst(11))) ?? "")
                }
            }
        }
        let hostname = unfqdn(rawHostname)
        let reason: String
        if let host = canonicalIP(hostname) {
            if ips.contains(host) { return nil }
            reason = "IP: \(hostname) is not in the cert's list: " + ips.joined(separator: ", ")
        } else if !dnsNames.isEmpty {
            let hostParts = splitHost(hostname)
            if dnsNames.contains(where: { matches(hostParts, pattern: $0) }) { return nil }
            reason = "Host: \(hostname). is not in the cert's altnames: \(subjectAltName ?? "")"
        } else if let first = commonNames.first, !first.isEmpty || commonNames.count > 1 {
            let hostParts = splitHost(hostname)
            if commonNames.contains(where: { matches(hostParts, pattern: $0) }) { return nil }
            // JavaScript's `${cn}` joins an array with commas.
            reason = "Host: \(hostname). is not cert's CN: \(commonNames.joined(separator: ","))"
        } else {
            reason = "Cert does not contain a DNS name"
        }
        return TLSError(
            code: "ERR_TLS_CERT_ALTNAME_INVALID",
            message: "Hostname/IP does not match certificate's altnames: \(reason)",
            reason: reason
        )
    }

    /// Node's `unfqdn`: one trailing dot removed.
    static func unfqdn(_ host: String) -> String { host.hasSuffix(".") ? String(host.dropLast()) : host }

    /// Node's `splitHost`: unfqdn, A-Z lower-cased (nothing else: locale-independent), split at dots.
    static func splitHost(_ host: String) -> [[UInt8]] {
        let lowered = unfqdn(host).utf8.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        return lowered.split(separator: UInt8(ascii: "."), omittingEmptySubsequences: false).map(Array.init)
    }

    /// Node's `check(hostParts, pattern, wildcards = true)`.
    static func matches(_ hostParts: [[UInt8]], pattern: String) -> Bool {
        guard !pattern.isEmpty else { return false }
        let patternParts = splitHost(pattern)
        guard hostParts.count == patternParts.count, !patternParts.contains(where: \.isEmpty) else { return false }
        // Node rejects any code point outside U+0021...U+007F in the pattern (UTF-8 bytes >= 0x80 included).
        guard !patternParts.contains(where: { $0.contains { $0 < 0x21 || $0 > 0x7F } }) else { return false }
        for index in stride(from: hostParts.count - 1, to: 0, by: -1) where hostParts[index] != patternParts[index] {
            return false
        }
        let hostLabel = hostParts[0]
        let patternLabel = patternParts[0]
        let pieces = patternLabel.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false)
        if pieces.count == 1 || contains(patternLabel, "xn--") {
            return hostLabel == patternLabel
        }
        guard pieces.count == 2, patternParts.count > 2 else { return false }
        let prefix = Array(pieces[0]), suffix = Array(pieces[1])
        guard prefix.count + suffix.count <= hostLabel.count else { return false }
        return hostLabel.starts(with: prefix) && hostLabel.reversed().starts(with: suffix.reversed())
    }

    private static func contains(_ bytes: [UInt8], _ needle: String) -> Bool {
        let target = Array(needle.utf8)
        guard bytes.count >= target.count else { return false }
        return (0...(bytes.count - target.count)).contains { Array(bytes[$0..<($0 + target.count)]) == target }
    }

    /// Node's `canonicalizeIP` for what `net.isIP` accepts: the address as inet_ntop prints it (`::1`,
    /// `127.0.0.1`), an IPv6 zone (`%eth0`) dropped; nil for anything that is not an IP address.
    static func canonicalIP(_ text: String) -> String? {
        var address = Substring(text)
        if let percent = text.firstIndex(of: "%") {
            let zone = text[text.index(after: percent)...]
            let zoneCharacters = zone.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x2E
                    || $0 == 0x3A
            }
            guard !zone.isEmpty, zoneCharacters, text[..<percent].contains(":") else { return nil }
            address = text[..<percent]
        }
        // inet_pton accepts exactly Node's dotted-quad form (no leading zeros, four parts) and RFC 4291 IPv6.
        return SocketAddress(ip: String(address), port: 0)?.host
    }

    /// JavaScript's `text.split(", ")`.
    private static func splitAtCommaSpace(_ bytes: [UInt8]) -> [String] {
        var pieces: [String] = []
        var start = 0
        var index = 0
        while index + 1 < bytes.count {
            if bytes[index] == UInt8(ascii: ","), bytes[index + 1] == UInt8(ascii: " ") {
                pieces.append(String(decoding: bytes[start..<index], as: UTF8.self))
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        pieces.append(String(decoding: bytes[start...], as: UTF8.self))
        return pieces
    }

    /// Node's split of the alt-name text: at ", " — or, when it holds a quote, `splitEscapedAltNames`, which reads
    /// each JSON string literal as one piece of its entry. Nil for a malformed literal.
    static func splitAltNames(_ text: String) -> [String]? {
        let bytes = Array(text.utf8)
        guard bytes.contains(UInt8(ascii: "\"")) else { return splitAtCommaSpace(bytes) }
        var result: [String] = []
        var current: [UInt8] = []
        var offset = 0
        while offset < bytes.count {
            let nextComma = bytes[offset...].firstIndex(of: UInt8(ascii: ","))
            let nextQuote = bytes[offset...].firstIndex(of: UInt8(ascii: "\""))
            if let quote = nextQuote, nextComma.map({ quote < $0 }) ?? true {
                current += bytes[offset..<quote]
                guard let (decoded, length) = JSONStringLiteral.parse(Array(bytes[quote...])) else { return nil }
                current += Array(decoded.utf8)
                offset = quote + length
            } else if let comma = nextComma {
                current += bytes[offset..<comma]
                result.append(String(decoding: current, as: UTF8.self))
                current = []
                offset = comma + 2
            } else {
                current += bytes[offset...]
                offset = bytes.count
            }
        }
        result.append(String(decoding: current, as: UTF8.self))
        return result
    }
}
