import NetCore
import NetCoreHTTP

/// A WebSocket server on an `HTTPServer` (Node `ws`'s `WebSocketServer`): it answers upgrade requests for its `path`
/// (any path when nil), negotiates the subprotocol and permessage-deflate, and emits `connection` with each
/// `WebSocket` and its request.
///
/// Attached (`WebSocketServer(server:)`) it takes every upgrade request of that HTTP server and refuses those for
/// another path with 400, as `ws` does. For several endpoints on one HTTP server, make them with
/// `WebSocketServer()` (`ws`'s `noServer`) and route `upgrade` events to `handleUpgrade` yourself.
public final class WebSocketServer {
    /// The server's settings (`ws`'s options).
    public struct Options: Sendable {
        /// Only requests for this path (query ignored) are accepted; nil for any.
        public var path: String?
        /// Keep `clients` (`ws`'s `clientTracking`). Default true.
        public var clientTracking = true
        /// Each connection's limits, timeouts and permessage-deflate (`perMessageDeflate` is off by default, as
        /// in `ws`).
        public var connection = WebSocket.Options()

        /// Any path, client tracking on, `ws`'s connection defaults.
        public init(path: String? = nil) { self.path = path }
    }

    /// What `verifyClient` decides.
    public enum Verdict: Sendable {
        /// Go on with the handshake.
        case accept
        /// Refuse with `status` (e.g. 401) and `message` as the body.
        case reject(status: Int, message: String)
    }

    /// The loop the server lives on.
    public let loop: EventLoop
    /// The settings in force.
    public let options: Options
    /// Picks the subprotocol from those the client offered (in its order), or nil for none. Without it, the first
    /// offered is chosen (`ws`'s default).
    public var handleProtocols: ((_ protocols: [String], _ request: IncomingMessage) -> String?)?
    /// Decides whether to accept a client before the handshake completes (`ws`'s `verifyClient`): call `decide`
    /// now or later (an asynchronous check); a client that leaves meanwhile is dropped.
    public var verifyClient: ((_ request: IncomingMessage, _ decide: @escaping (Verdict) -> Void) -> Void)?

    private var clientsByID: [ObjectIdentifier: WebSocket] = [:]
    private var connectionListeners = Listeners<(WebSocket, IncomingMessage)>()
    private var isClosed = false

    /// A server answering `server`'s upgrade requests (for `options.path`, 400 for others).
    public init(server: HTTPServer, options: Options = Options()) {
        self.loop = server.server.loop
        self.options = options
        // Held by the HTTP server's listener: an attached server lives as long as its HTTP server, as in `ws`.
        server.on(.upgrade) { [self] request, socket, head in
            guard !isClosed else {
                Self.refuse(socket, WebSocketHandshake.Refusal(status: 503, message: "WebSocket server closed"))
                return
            }
            guard shouldHandle(request) else {
                Self.refuse(socket, WebSocketHandshake.Refusal(status: 400, message: "Invalid path"))
                return
            }
            handleUpgrade(request, socket: socket, head: head) { [self] webSocket, request in
                connectionListeners.emit((webSocket, request))
            }
        }
    }

    /// A server not attached to an HTTP server (`ws`'s `noServer: true`): feed it with `handleUpgrade`.
    public init(loop: EventLoop = .current, options: Options = Options()) {
        self.loop = loop
        self.options = options
    }

    /// The open connections (with `clientTracking`).
    public var clients: Dictionary<ObjectIdentifier, WebSocket>.Values { clientsByID.values }

    /// Whether `request` is for this server's path (`ws`'s `shouldHandle`).
    public func shouldHandle(_ request: IncomingMessage) -> Bool {
        guard let path = options.path else { return true }
        return request.url.prefix { $0 != "?" } == path
    }

    /// Completes the handshake of an upgrade request (`ws`'s `handleUpgrade`): a 400 or 426 for a bad request (the
    /// socket is then closed), else `101` and `callback` with the new connection. `head` holds the bytes read past
    /// the request head (the start of the first frames).
    public func handleUpgrade(
        _ request: IncomingMessage, socket: Socket, head: Buffer,
        _ callback: @escaping (WebSocket, IncomingMessage) -> Void
    ) {
        socket.on(.error) { _ in }
        let client: WebSocketHandshake.ClientRequest
        do {
            client = try WebSocketHandshake.checkRequest(
                method: request.method, version: request.version, headers: request.fields)
        } catch {
            Self.refuse(socket, error)
            return
        }
        var deflate: PerMessageDeflate?
        if let deflateOptions = options.connection.perMessageDeflate {
            deflate = PerMessageDeflate.serverAccepting(client.extensions, options: deflateOptions)
        }
        var chosen: String?
        if !client.protocols.isEmpty {
            chosen = handleProtocols.map { $0(client.protocols, request) } ?? client.protocols.first
            if let picked = chosen, !client.protocols.contains(picked) { chosen = nil }
        }
        let complete = { [self] in
            guard !socket.destroyed, !socket.writableEnded else {
                deflate?.release()
                return
            }
            socket.write(WebSocketHandshake.acceptResponse(
                key: client.key, protocol: chosen, extensions: deflate?.responseValue))
            let webSocket = WebSocket.accepted(
                socket: socket, url: request.url, protocol: chosen ?? "", deflate: deflate, options: options.connection)
            if options.clientTracking {
                let id = ObjectIdentifier(webSocket)
                clientsByID[id] = webSocket
                webSocket.on(.close) { [weak self] _ in self?.clientsByID[id] = nil }
            }
            callback(webSocket, request)
            if !head.bytes.isEmpty { webSocket.received(head.bytes) }
        }
        guard let verifyClient else {
            complete()
            return
        }
        var decided = false
        verifyClient(request) { verdict in
            guard !decided else { return }
            decided = true
            switch verdict {
            case .accept: complete()
            case .reject(let status, let message):
                deflate?.release()
                Self.refuse(socket, WebSocketHandshake.Refusal(status: status, message: message))
            }
        }
    }

    /// Answers a refused upgrade with `refusal`'s status and closes (`ws`'s `abortHandshake`): the peer may still
    /// be sending, so the socket lingers (at most 2 s) for its FIN rather than reset it and lose the response.
    public static func refuse(_ socket: Socket, _ refusal: WebSocketHandshake.Refusal) {
        guard !socket.destroyed else { return }
        socket.on(.data) { _ in }
        socket.on(.end) { socket.destroy() }
        socket.end(Buffer(refusal.response)) {
            socket.loop.setTimeout(2000) { socket.destroy() }.unref()
        }
    }

    /// Stops accepting new connections (503 for later upgrade requests); open ones stay, as in `ws` 8.
    public func close() {
        isClosed = true
    }

    /// Sends `text` to every client (a helper for broadcast; each send applies its own backpressure).
    public func broadcast(_ text: String) {
        for client in clientsByID.values where client.readyState == .open { client.send(text) }
    }

    // MARK: - Events

    /// A server event and the type of its payload: `wss.on(.connection) { ws, request in … }`.
    public struct Event<Payload> {
        let add: (WebSocketServer, @escaping (Payload) -> Void, Bool) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> WebSocketServer {
        event.add(self, listener, false)
        return self
    }
}

extension WebSocketServer.Event where Payload == (WebSocket, IncomingMessage) {
    /// A client completed the handshake: its connection and its upgrade request.
    public static var connection: Self { Self { $0.connectionListeners.add($1, once: $2) } }
}

@available(*, unavailable)
extension WebSocketServer: Sendable {}
