import NetCore

extension ClientRequest {
    /// Which agent a request uses (Node's `agent` option).
    public enum AgentChoice {
        /// The loop's shared keep-alive agent, `Agent.global(for:)` (Node's `http.globalAgent`, which keeps
        /// connections alive since Node 19).
        case global
        /// A fresh connection used for this request alone, with `Connection: close` (Node's `agent: false`).
        case none
        /// The given agent.
        case agent(Agent)
    }

    /// Where and what to request (Node's `http.request(options)`).
    public struct Options {
        /// The server's name or address. Default `localhost`.
        public var host = "localhost"
        /// The server's TCP port. Default 80.
        public var port = 80
        /// A Unix socket to connect to instead of `host` and `port`.
        public var socketPath: String?
        /// The request method. Default `GET`.
        public var method = "GET"
        /// The request target, path and query. Default `/`.
        public var path = "/"
        /// Header fields to send; `Host`, `Connection` and the body framing are added when missing.
        public var headers = HTTPHeaders()
        /// The agent that provides the connection. Default: the loop's global keep-alive agent.
        public var agent = AgentChoice.global
        /// Emits `timeout` on the request after this many milliseconds without socket activity (the request is
        /// not aborted: that is the listener's decision, as in Node). nil: none.
        public var timeout: Int?
        /// The loop the request runs on. Default: the calling thread's.
        public var loop: EventLoop?
        /// How the connection is made when it is not plain (set by NetCoreHTTPS); nil: plain TCP or Unix socket.
        package var connector: ClientConnector?

        /// Options with Node's defaults, each overridable.
        public init(
            host: String = "localhost",
            port: Int = 80,
            socketPath: String? = nil,
            method: String = "GET",
            path: String = "/",
            headers: HTTPHeaders = HTTPHeaders(),
            agent: AgentChoice = .global,
            timeout: Int? = nil,
            loop: EventLoop? = nil
        ) {
            self.host = host
            self.port = port
            self.socketPath = socketPath
            self.method = method
            self.path = path
            self.headers = headers
            self.agent = agent
            self.timeout = timeout
            self.loop = loop
        }

        /// Options for `http://host[:port][/path][?query]` (no Foundation: a small parser for what a client needs).
        /// A bracketed IPv6 literal is accepted (`http://[::1]:8080/`); a fragment is dropped. Throws Node's
        /// `ERR_INVALID_URL`, or `ERR_INVALID_PROTOCOL` for a scheme other than `http:`.
        public init(url: String) throws(SocketError) {
            try self.init(url: url, scheme: "http", defaultPort: 80)
        }

        /// Options for `scheme://host[:port][/path][?query]`, `defaultPort` when the URL names none (NetCoreHTTPS
        /// parses `https:` URLs with this). Throws `ERR_INVALID_URL`, or `ERR_INVALID_PROTOCOL` for another scheme.
        package init(url: String, scheme expected: String, defaultPort: Int) throws(SocketError) {
            self.init()
            port = defaultPort
            guard let colon = url.firstIndex(of: ":"), url[colon...].hasPrefix("://") else {
                throw Self.invalidURL(url)
            }
            let scheme = url[..<colon].asciiLowercased
            guard scheme == expected else {
                throw SocketError(
                    code: "ERR_INVALID_PROTOCOL",
                    message: "Protocol \"\(scheme):\" not supported. Expected \"\(expected):\""
                )
            }
            var rest = url[url.index(colon, offsetBy: 3)...]
            if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
            let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
            var authority = rest[..<authorityEnd]
            let target = rest[authorityEnd...]
            if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
            var hostPart = authority
            var portPart: Substring?
            if authority.hasPrefix("[") {
                guard let close = authority.firstIndex(of: "]") else { throw Self.invalidURL(url) }
                hostPart = authority[authority.index(after: authority.startIndex)..<close]
                let after = authority[authority.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":") else { throw Self.invalidURL(url) }
                    portPart = after.dropFirst()
                }
            } else if let colon = authority.lastIndex(of: ":") {
                hostPart = authority[..<colon]
                portPart = authority[authority.index(after: colon)...]
            }
            guard !hostPart.isEmpty, !hostPart.contains(where: { $0 == " " || $0 == "\t" }) else {
                throw Self.invalidURL(url)
            }
            host = String(hostPart)
            if let portPart, !portPart.isEmpty {
                guard let number = Int(portPart), (0...65535).contains(number) else { throw Self.invalidURL(url) }
                port = number
            }
            path = target.isEmpty ? "/" : (target.hasPrefix("?") ? "/" + target : String(target))
        }

        private static func invalidURL(_ url: String) -> SocketError {
            SocketError(code: "ERR_INVALID_URL", message: "Invalid URL: \(url)")
        }
    }
}
