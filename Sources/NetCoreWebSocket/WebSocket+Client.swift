import NetCore
import NetCoreHTTP

extension WebSocket {
    /// Where a client connects, from its URL: `ws://host[:port]/path?query` or `ws+unix:PATH:/path?query` (`ws`'s
    /// form for a Unix socket; `ws+unix:///tmp/s.sock:/chat` works too).
    public struct Target: Equatable, Sendable {
        /// The TCP host, or nil for a Unix socket.
        public var host: String?
        /// The TCP port.
        public var port: Int
        /// The Unix socket path, or nil for TCP.
        public var socketPath: String?
        /// The request target: path and query.
        public var requestTarget: String
        /// The `Host` field.
        public var hostField: String

        /// Parses `url`; throws for other schemes (`wss://` needs TLS, which NetCore does not have yet).
        public static func parse(_ url: String) throws(WebSocketError) -> Target {
            func invalid(_ message: String) -> WebSocketError {
                WebSocketError(closeCode: WebSocketCloseCode.abnormal, code: "ERR_INVALID_URL", message: message)
            }
            if url.hasPrefix("ws+unix:") {
                var rest = Substring(url.dropFirst("ws+unix:".count))
                if rest.hasPrefix("//") { rest = rest.dropFirst(2) }
                let parts = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)
                let path = String(parts[0])
                guard !path.isEmpty else { throw invalid("no socket path in \(url)") }
                var target = parts.count > 1 ? String(parts[1]) : "/"
                if target.isEmpty { target = "/" }
                guard target.hasPrefix("/") else { throw invalid("the request path must start with / in \(url)") }
                return Target(host: nil, port: 0, socketPath: path, requestTarget: target, hostField: "localhost")
            }
            if url.hasPrefix("wss://") {
                throw WebSocketError(
                    closeCode: WebSocketCloseCode.abnormal, code: "ERR_WS_TLS_UNSUPPORTED",
                    message: "wss:// needs TLS, which NetCore does not have yet")
            }
            guard url.hasPrefix("ws://") else { throw invalid("the URL's scheme must be ws: or ws+unix: (\(url))") }
            let rest = url.dropFirst("ws://".count)
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
            let authority = rest[..<authorityEnd]
            var target = String(rest[authorityEnd...].prefix { $0 != "#" })
            if target.isEmpty || target.hasPrefix("?") { target = "/" + target }
            guard !authority.isEmpty, !authority.contains("@") else { throw invalid("invalid host in \(url)") }
            var host = String(authority)
            var port = 80
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { throw invalid("invalid IPv6 host in \(url)") }
                host = String(authority[authority.index(after: authority.startIndex)..<close])
                let after = authority[authority.index(after: close)...]
                if after.hasPrefix(":") {
                    guard let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                        throw invalid("invalid port in \(url)")
                    }
                    port = value
                }
            } else if let colon = authority.lastIndex(of: ":") {
                host = String(authority[..<colon])
                guard let value = Int(authority[authority.index(after: colon)...]), (1...65535).contains(value) else {
                    throw invalid("invalid port in \(url)")
                }
                port = value
            }
            guard !host.isEmpty else { throw invalid("invalid host in \(url)") }
            let bracketed = host.contains(":") ? "[\(host)]" : host
            let hostField = port == 80 ? bracketed : "\(bracketed):\(port)"
            return Target(host: host, port: port, socketPath: nil, requestTarget: target, hostField: hostField)
        }
    }

    /// Connects to `url` (`ws://…` or `ws+unix:…`), offering `protocols`; `open` fires once the server has accepted,
    /// `error` then `close` (1006) if it does not. Extra request header fields go in `headers`.
    public convenience init(
        url: String, protocols: [String] = [], headers: [(String, String)] = [], options: Options = Options(),
        loop: EventLoop = .current
    ) {
        self.init(loop: loop, role: .client, url: url, options: options, readyState: .connecting)
        let target: Target
        do {
            target = try Target.parse(url)
        } catch {
            loop.nextTick { [self] in fail(error) }
            return
        }
        offeredProtocols = protocols
        handshakeKey = WebSocketHandshake.makeKey(SystemRandom.bytes(16))
        var request = "GET \(target.requestTarget) HTTP/1.1\r\nHost: \(target.hostField)\r\n"
        request += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: \(handshakeKey)\r\n"
        request += "Sec-WebSocket-Version: 13\r\n"
        if !protocols.isEmpty { request += "Sec-WebSocket-Protocol: \(protocols.joined(separator: ", "))\r\n" }
        if let deflateOptions = options.perMessageDeflate {
            request += "Sec-WebSocket-Extensions: \(PerMessageDeflate.offer(deflateOptions).headerValue)\r\n"
        }
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        let socket = Socket(loop: loop, allowHalfOpen: true)
        attach(socket)
        socket.on(.connect) { socket.write(request) }
        if let path = target.socketPath {
            socket.connect(path: path)
        } else {
            socket.connect(port: target.port, host: target.host ?? "localhost")
        }
        if options.handshakeTimeout > 0 {
            handshakeTimer = loop.setTimeout(options.handshakeTimeout) { [weak self] in
                guard let self, readyState == .connecting else { return }
                fail(WebSocketError(
                    closeCode: WebSocketCloseCode.abnormal, code: "ERR_WS_HANDSHAKE_TIMEOUT",
                    message: "Opening handshake has timed out"))
            }.unref()
        }
    }

    /// Bytes of the server's response while the handshake is in progress: the head (at most 16 KiB), then frames.
    func receivedHandshakeBytes(_ bytes: [UInt8]) {
        responseHead += bytes
        guard let end = Self.endOfHead(responseHead) else {
            if responseHead.count > 16 * 1024 { handshakeFailed("the server's response head is too large") }
            return
        }
        let rest = Array(responseHead[end...])
        let head = Array(responseHead[..<end])
        responseHead = []
        if let problem = checkResponse(head) {
            handshakeFailed(problem)
            return
        }
        handshakeTimer?.cancel()
        handshakeTimer = nil
        readyState = .open
        emitOpen()
        if !rest.isEmpty && readyState == .open { deliver(parser.feed(rest)) }
    }

    private func handshakeFailed(_ message: String) {
        fail(WebSocketError(closeCode: WebSocketCloseCode.abnormal, code: "ERR_WS_HANDSHAKE", message: message))
    }

    /// The index just past the `\r\n\r\n` ending the head, if it has arrived.
    static func endOfHead(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 4 else { return nil }
        for index in 3..<bytes.count
        where bytes[index] == 10 && bytes[index - 1] == 13 && bytes[index - 2] == 10 && bytes[index - 3] == 13 {
            return index + 1
        }
        return nil
    }

    /// What is wrong with the server's response head (RFC 6455 §4.1, the client's checks), or nil.
    private func checkResponse(_ head: [UInt8]) -> String? {
        let lines = String(decoding: head, as: UTF8.self).split(separator: "\r\n", omittingEmptySubsequences: false)
        let statusParts = lines[0].split(separator: " ", maxSplits: 2)
        guard statusParts.count >= 2, statusParts[0].hasPrefix("HTTP/1."), let status = Int(statusParts[1]) else {
            return "invalid status line: \(lines[0])"
        }
        guard status == 101 else { return "Unexpected server response: \(status)" }
        var headers = HTTPHeaders()
        for line in lines.dropFirst() where !line.isEmpty {
            guard let colon = line.firstIndex(of: ":") else { return "invalid header line: \(line)" }
            headers.add(name: String(line[..<colon]), value: String(line[line.index(after: colon)...]).trimmed)
        }
        guard headers["Upgrade"]?.asciiLower == "websocket" else { return "Invalid Upgrade header" }
        guard headers.contains(token: "upgrade", in: "Connection") else { return "Invalid Connection header" }
        guard headers["Sec-WebSocket-Accept"] == WebSocketHandshake.acceptValue(forKey: handshakeKey) else {
            return "Invalid Sec-WebSocket-Accept header"
        }
        if let chosen = headers["Sec-WebSocket-Protocol"] {
            guard offeredProtocols.contains(chosen) else { return "Server sent an invalid subprotocol" }
            self.protocol = chosen
        } else if !offeredProtocols.isEmpty {
            return "Server sent no subprotocol"
        }
        let extensionsText = headers.values(for: "Sec-WebSocket-Extensions").joined(separator: ",")
        guard let accepted = WebSocketExtensionOffer.parse(extensionsText) else {
            return "Invalid Sec-WebSocket-Extensions header"
        }
        if !accepted.isEmpty {
            guard let offered = options.perMessageDeflate, accepted.count == 1,
                let deflate = PerMessageDeflate.clientAccepting(accepted[0], options: offered)
            else {
                return "Server indicated an extension that was not requested"
            }
            useDeflate(deflate)
        }
        return nil
    }
}
