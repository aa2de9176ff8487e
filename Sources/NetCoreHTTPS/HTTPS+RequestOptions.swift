import NetCore
import NetCoreHTTP
import NetCoreTLS
import Synchronization

extension HTTPS {
    /// Where and what to request, and how to secure it (Node's `https.request(options)`: `http.request`'s options
    /// and `tls.connect`'s).
    public struct RequestOptions {
        /// The server's name or address. Default `localhost`.
        public var host: String
        /// The server's TCP port. Default 443.
        public var port: Int
        /// A Unix socket to connect to instead of `host` and `port` (TLS over it; the certificate is checked
        /// against `servername`, else the `Host` field, else `host`).
        public var socketPath: String?
        /// The request method. Default `GET`.
        public var method: String
        /// The request target, path and query. Default `/`.
        public var path: String
        /// Header fields to send; `Host`, `Connection` and the body framing are added when missing.
        public var headers: HTTPHeaders
        /// The agent that provides the connection; `.global` is `HTTPS.globalAgent(for:)`.
        public var agent: ClientRequest.AgentChoice
        /// Emits `timeout` on the request after this many milliseconds without socket activity. nil: none.
        public var timeout: Int?
        /// The loop the request runs on. Default: the calling thread's.
        public var loop: EventLoop?
        /// The CAs to trust (PEM); nil: the system's.
        public var ca: PEMSource?
        /// A client certificate (PEM), for servers that request one.
        public var cert: PEMSource?
        /// The key of `cert` (PEM).
        public var key: PEMSource?
        /// The passphrase of an encrypted `key`.
        public var passphrase: String?
        /// The name sent with SNI and checked against the certificate. nil: the `Host` field's name, else `host`,
        /// unless it is an IP address (then no SNI, and the address is checked); `""`: no SNI (Node's rule).
        public var servername: String?
        /// Fail the request when the server's certificate does not verify or does not match the name (default
        /// true, as Node).
        public var rejectUnauthorized: Bool
        /// See `SecureContextOptions.ciphers`.
        public var ciphers: String?
        /// The lowest version allowed (default TLSv1.2).
        public var minVersion: TLSVersion
        /// The highest version allowed (default TLSv1.3).
        public var maxVersion: TLSVersion
        /// A context made beforehand; when set, `ca`, `cert`, `key`, `ciphers` and the versions are not used.
        public var secureContext: SecureContext?

        /// Options with Node's defaults, each overridable.
        public init(
            host: String = "localhost",
            port: Int = 443,
            socketPath: String? = nil,
            method: String = "GET",
            path: String = "/",
            headers: HTTPHeaders = HTTPHeaders(),
            agent: ClientRequest.AgentChoice = .global,
            timeout: Int? = nil,
            loop: EventLoop? = nil,
            ca: PEMSource? = nil,
            cert: PEMSource? = nil,
            key: PEMSource? = nil,
            passphrase: String? = nil,
            servername: String? = nil,
            rejectUnauthorized: Bool = true,
            ciphers: String? = nil,
            minVersion: TLSVersion = .tlsv1_2,
            maxVersion: TLSVersion = .tlsv1_3,
            secureContext: SecureContext? = nil
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
            self.ca = ca
            self.cert = cert
            self.key = key
            self.passphrase = passphrase
            self.servername = servername
            self.rejectUnauthorized = rejectUnauthorized
            self.ciphers = ciphers
            self.minVersion = minVersion
            self.maxVersion = maxVersion
            self.secureContext = secureContext
        }

        /// Options for `https://host[:port][/path][?query]`, Node's defaults otherwise. Throws `ERR_INVALID_URL`,
        /// or `ERR_INVALID_PROTOCOL` for a scheme other than `https:`.
        public init(url: String) throws(SocketError) {
            self.init()
            self = try merging(url: url)
        }

        func merging(url: String) throws(SocketError) -> RequestOptions {
            let parsed = try ClientRequest.Options(url: url, scheme: "https", defaultPort: 443)
            var merged = self
            merged.host = parsed.host
            merged.port = parsed.port
            merged.path = parsed.path
            return merged
        }

        // MARK: - As a plain request with a TLS connector

        /// Node's `calculateServerName`: the `Host` field's name (without port or brackets), else `host`; none
        /// for an IP address.
        var effectiveServername: String? {
            if let servername { return servername.isEmpty ? nil : servername }
            var name = host
            if let field = headers["Host"], !field.isEmpty {
                if field.hasPrefix("[") {
                    if let close = field.firstIndex(of: "]") {
                        name = String(field[field.index(after: field.startIndex)..<close])
                    } else {
                        name = field
                    }
                } else {
                    name = String(field.prefix { $0 != ":" })
                }
            }
            return SocketAddress(ip: name, port: 0) == nil ? name : nil
        }

        var clientRequestOptions: ClientRequest.Options {
            let loop = self.loop ?? .current
            var options = ClientRequest.Options(
                host: host,
                port: port,
                socketPath: socketPath,
                method: method,
                path: path,
                headers: headers,
                agent: agent,
                timeout: timeout,
                loop: loop
            )
            if case .global = agent { options.agent = .agent(HTTPS.globalAgent(for: loop)) }
            let servername = effectiveServername
            let contextKey = ContextKey(self)
            let rejectUnauthorized = self.rejectUnauthorized
            let givenContext = secureContext
            let contextOptions = SecureContextOptions(
                key: key,
                passphrase: passphrase,
                cert: cert,
                ca: ca,
                ciphers: ciphers,
                minVersion: minVersion,
                maxVersion: maxVersion
            )
            options.connector = ClientConnector(
                scheme: "https:",
                defaultPort: 443,
                keySuffix: contextKey.name + ":\(rejectUnauthorized):\(servername ?? "")"
            ) { agent, key, host, port, socketPath in
                let loop = agent.loop
                do throws(TLSError) {
                    let context: SecureContext
                    if let givenContext {
                        context = givenContext
                    } else {
                        context = try ContextCache.context(for: contextKey, contextOptions)
                    }
                    let socket = try TLS.connect(
                        TLS.ConnectOptions(
                            port: port,
                            host: host,
                            path: socketPath,
                            servername: servername,
                            rejectUnauthorized: rejectUnauthorized,
                            secureContext: context,
                            session: agent.cachedSession(for: key)
                        ),
                        loop: loop
                    )
                    // Node's https.Agent: the newest session of a server is kept for the next connection to it, and
                    // dropped when a connection ends in an error.
                    socket.on(.session) { [weak agent] session in agent?.cacheSession(session, for: key) }
                    socket.on(.close) { [weak agent] hadError in if hadError { agent?.evictSession(for: key) } }
                    return socket
                } catch {
                    agent.evictSession(for: key)  // should a cached session be the trouble, the next request is not
                    // Reported as the request's `error`, after its listeners are in place (the socket defers it).
                    let socket = Socket(loop: loop)
                    socket.destroy(SocketError(error))
                    return socket
                }
            }
            return options
        }
    }
}

/// What makes two requests' secure contexts the same: the part of Node's `https.Agent.getName` that goes into the
/// context (the CAs, the client certificate and key, the ciphers and versions), or a given context's identity.
struct ContextKey: Hashable, Sendable {
    let name: String

    init(_ options: HTTPS.RequestOptions) {
        if let context = options.secureContext {
            name = ":context:\(ObjectIdentifier(context).hashValue)"
            return
        }
        func part(_ source: PEMSource?) -> String {
            switch source {
            case nil: ""
            case .text(let text)?: text
            case .file(let path)?: "file:" + path
            }
        }
        name =
            ":\(part(options.ca)):\(part(options.cert)):\(options.ciphers ?? ""):\(part(options.key))"
            + ":\(options.passphrase == nil ? "" : "passphrase"):\(options.minVersion.rawValue)"
            + ":\(options.maxVersion.rawValue)"
    }
}

/// Secure contexts made for requests, shared by requests with the same TLS options: an `SSL_CTX` (and the CA file
/// it loads) is made once, not once per connection. Bounded: when full it starts over. A `ca` given as a file is
/// read when its context is first made.
enum ContextCache {
    static let limit = 64
    private static let contexts = Mutex<[ContextKey: SecureContext]>([:])

    static func context(for key: ContextKey, _ options: SecureContextOptions) throws(TLSError) -> SecureContext {
        if let known = contexts.withLock({ $0[key] }) { return known }
        let made = try SecureContext(options)
        contexts.withLock { contexts in
            if contexts.count >= limit { contexts.removeAll() }
            contexts[key] = made
        }
        return made
    }
}
