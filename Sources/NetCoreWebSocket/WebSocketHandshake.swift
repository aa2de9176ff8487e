import NetCoreHTTP

/// The opening handshake (RFC 6455 §4), pure: checking a client's upgrade request, computing
/// `Sec-WebSocket-Accept`, and checking a server's `101` response.
public enum WebSocketHandshake {
    /// The GUID of RFC 6455 §1.3, appended to the key before hashing.
    static let guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

    /// `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
    public static func acceptValue(forKey key: String) -> String {
        Base64.encode(SHA1.hash(Array((key + guid).utf8)))
    }

    /// A fresh `Sec-WebSocket-Key`: 16 random bytes, base64 (§4.1).
    public static func makeKey(_ random: [UInt8]) -> String { Base64.encode(random) }

    /// Why an upgrade request is refused: the status and a message, and for a wrong version the `426` with
    /// `Sec-WebSocket-Version: 13` (§4.4).
    public struct Refusal: Error, Equatable, Sendable {
        /// 400, 426, or what `verifyClient` chose.
        public var status: Int
        /// The response body.
        public var message: String
        /// Extra response fields.
        public var headers: [(String, String)]

        /// A refusal with `status`.
        public init(status: Int, message: String, headers: [(String, String)] = []) {
            self.status = status
            self.message = message
            self.headers = headers
        }

        /// Same status, message and fields.
        public static func == (a: Refusal, b: Refusal) -> Bool {
            a.status == b.status && a.message == b.message && a.headers.map { "\($0.0): \($0.1)" } == b.headers.map { "\($0.0): \($0.1)" }
        }

        /// The whole HTTP response for it (the connection then closes).
        public var response: String {
            var text = "HTTP/1.1 \(status) \(HTTP.statusText(status))\r\nConnection: close\r\n"
            text += "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(message.utf8.count)\r\n"
            for (name, value) in headers { text += "\(name): \(value)\r\n" }
            return text + "\r\n" + message
        }
    }

    /// What a valid client request asks for.
    public struct ClientRequest: Equatable, Sendable {
        /// `Sec-WebSocket-Key`.
        public var key: String
        /// The subprotocols offered (`Sec-WebSocket-Protocol`), in order.
        public var protocols: [String]
        /// The extension offers (`Sec-WebSocket-Extensions`), parsed.
        public var extensions: [WebSocketExtensionOffer]
    }

    /// Checks an upgrade request as RFC 6455 §4.2.1 lists, the way Node `ws`'s `handleUpgrade` does: GET, HTTP/1.1,
    /// `Upgrade: websocket`, `Connection: upgrade`, a key of 16 base64 bytes (all 400), version 13 (426 otherwise),
    /// and well-formed protocol and extension lists (400).
    public static func checkRequest(method: String, version: HTTPVersion, headers: HTTPHeaders) throws(Refusal)
        -> ClientRequest
    {
        guard method == "GET" else { throw Refusal(status: 400, message: "Invalid HTTP method") }
        guard version.major == 1, version.minor >= 1 else { throw Refusal(status: 400, message: "Invalid HTTP version") }
        guard headers["Upgrade"]?.asciiLower == "websocket" else {
            throw Refusal(status: 400, message: "Invalid Upgrade header")
        }
        guard headers.contains(token: "upgrade", in: "Connection") else {
            throw Refusal(status: 400, message: "Invalid Connection header")
        }
        guard let key = headers["Sec-WebSocket-Key"]?.trimmed, headers.values(for: "Sec-WebSocket-Key").count == 1,
            Base64.decode(key)?.count == 16
        else {
            throw Refusal(status: 400, message: "Missing or invalid Sec-WebSocket-Key header")
        }
        guard headers["Sec-WebSocket-Version"]?.trimmed == "13", headers.values(for: "Sec-WebSocket-Version").count == 1
        else {
            throw Refusal(
                status: 426, message: "Missing or invalid Sec-WebSocket-Version header",
                headers: [("Sec-WebSocket-Version", "13")])
        }
        var protocols: [String] = []
        for value in headers.values(for: "Sec-WebSocket-Protocol") {
            for item in value.split(separator: ",", omittingEmptySubsequences: false) {
                let name = String(item).trimmed
                guard !name.isEmpty, name.utf8.allSatisfy(isToken), !protocols.contains(name) else {
                    throw Refusal(status: 400, message: "Invalid Sec-WebSocket-Protocol header")
                }
                protocols.append(name)
            }
        }
        let extensionsText = headers.values(for: "Sec-WebSocket-Extensions").joined(separator: ",")
        guard let extensions = WebSocketExtensionOffer.parse(extensionsText) else {
            throw Refusal(status: 400, message: "Invalid or unacceptable Sec-WebSocket-Extensions header")
        }
        return ClientRequest(key: key, protocols: protocols, extensions: extensions)
    }

    /// The `101` response accepting `key` with `protocol` and `extensions` (the negotiated header value) chosen.
    public static func acceptResponse(key: String, protocol chosen: String?, extensions: String?) -> String {
        var text = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        text += "Sec-WebSocket-Accept: \(acceptValue(forKey: key))\r\n"
        if let chosen { text += "Sec-WebSocket-Protocol: \(chosen)\r\n" }
        if let extensions, !extensions.isEmpty { text += "Sec-WebSocket-Extensions: \(extensions)\r\n" }
        return text + "\r\n"
    }

    /// RFC 9110 §5.6.2 token characters.
    static func isToken(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "A")...UInt8(ascii: "Z"):
            return true
        default: return Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
        }
    }
}

/// One extension offered or accepted in `Sec-WebSocket-Extensions` (RFC 6455 §9.1): a name and its parameters.
public struct WebSocketExtensionOffer: Equatable, Sendable {
    /// e.g. `permessage-deflate`.
    public var name: String
    /// The parameters in order; a parameter without a value has nil.
    public var parameters: [(String, String?)]

    /// An offer of `name` with `parameters`.
    public init(name: String, parameters: [(String, String?)] = []) {
        self.name = name
        self.parameters = parameters
    }

    /// Same name and parameters, in order.
    public static func == (a: Self, b: Self) -> Bool {
        a.name == b.name && a.parameters.map { "\($0.0)=\($0.1 ?? "")" } == b.parameters.map { "\($0.0)=\($0.1 ?? "")" }
    }

    /// `name; p1; p2=v`.
    public var headerValue: String {
        ([name] + parameters.map { key, value in value.map { "\(key)=\($0)" } ?? key }).joined(separator: "; ")
    }

    /// Parses a `Sec-WebSocket-Extensions` value (§9.1's grammar: tokens, `;` parameters, values as tokens or quoted
    /// strings); nil if malformed. An empty value is no offers.
    public static func parse(_ text: String) -> [WebSocketExtensionOffer]? {
        var offers: [WebSocketExtensionOffer] = []
        let trimmedText = text.trimmed
        if trimmedText.isEmpty { return [] }
        for item in trimmedText.split(separator: ",", omittingEmptySubsequences: false) {
            let parts = item.split(separator: ";", omittingEmptySubsequences: false).map { String($0).trimmed }
            guard let name = parts.first, !name.isEmpty, name.utf8.allSatisfy(WebSocketHandshake.isToken) else {
                return nil
            }
            var offer = WebSocketExtensionOffer(name: name)
            for parameter in parts.dropFirst() {
                let pieces = parameter.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let key = String(pieces[0]).trimmed
                guard !key.isEmpty, key.utf8.allSatisfy(WebSocketHandshake.isToken) else { return nil }
                var value: String?
                if pieces.count == 2 {
                    var raw = String(pieces[1]).trimmed
                    if raw.hasPrefix("\"") {
                        guard raw.count >= 2, raw.hasSuffix("\"") else { return nil }
                        raw = String(raw.dropFirst().dropLast())
                    }
                    guard !raw.isEmpty, raw.utf8.allSatisfy(WebSocketHandshake.isToken) else { return nil }
                    value = raw
                }
                offer.parameters.append((key, value))
            }
            offers.append(offer)
        }
        return offers
    }
}

extension String {
    var trimmed: String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }

    var asciiLower: String {
        String(decoding: utf8.map { (65...90).contains($0) ? $0 + 32 : $0 }, as: UTF8.self)
    }
}
