import NetCore
import Synchronization

/// Pools client connections (Node's `http.Agent`): per `host:port` (or Unix socket path), at most `maxSockets`
/// connections are in use at once, and further requests wait in a queue, in order. With `keepAlive`, a connection
/// whose response has been read completely, and which both sides allow to stay open, goes back to a free list (up
/// to `maxFreeSockets`; beyond that it is closed) and the next request to the same server reuses it (the most
/// recently freed first, Node's `scheduling: 'lifo'`). Free connections do not keep the loop alive; one the server
/// closes, or one idle for `timeout` ms, is dropped.
///
/// Without `keepAlive` every request asks for `Connection: close`, and the connection is closed after its
/// response. Loop-confined.
public final class Agent {
    /// Whether connections are kept for reuse.
    public let keepAlive: Bool
    /// The TCP keep-alive probe delay set on kept connections, in milliseconds (Node: 1000).
    public let keepAliveMsecs: Int
    /// Connections in use at once per server; more requests queue. Node: unlimited.
    public var maxSockets: Int
    /// Free connections kept per server (with `keepAlive`). Node: 256.
    public var maxFreeSockets: Int
    /// A free connection idle for this many milliseconds is closed; nil: kept until the server closes it.
    public let timeout: Int?
    /// The loop the agent's connections live on.
    public let loop: EventLoop

    /// Sessions to resume, by pool key, for connectors that have them (NetCoreHTTPS: TLS sessions, Node's
    /// `https.Agent` `_sessionCache`); opaque bytes here, at most `maxCachedSessions`, the oldest dropped first.
    private var sessions: [String: [UInt8]] = [:]
    private var sessionOrder: [String] = []
    /// Sessions kept for resumption (Node's `maxCachedSessions`: 100).
    package var maxCachedSessions = 100

    private var busy: [String: [ClientConnection]] = [:]
    private var free: [String: [ClientConnection]] = [:]
    private var queued: [String: [ClientRequest]] = [:]

    /// An agent with Node's defaults: no keep-alive, unlimited sockets, 256 free sockets per server.
    public init(
        keepAlive: Bool = false,
        keepAliveMsecs: Int = 1000,
        maxSockets: Int = .max,
        maxFreeSockets: Int = 256,
        timeout: Int? = nil,
        loop: EventLoop = .current
    ) {
        self.keepAlive = keepAlive
        self.keepAliveMsecs = keepAliveMsecs
        self.maxSockets = max(1, maxSockets)
        self.maxFreeSockets = max(0, maxFreeSockets)
        self.timeout = timeout
        self.loop = loop
    }

    // MARK: - The global agent

    /// The global agents of each loop (one per module: `http`, `https`), created on first use.
    private static let globals = Mutex<[GlobalAgentKey: GlobalAgentEntry]>([:])

    /// The loop's shared agent, used by requests that name none (Node's `http.globalAgent`): keep-alive on (Node 19
    /// and later), unlimited sockets, free connections closed after 5 s idle.
    public static func global(for loop: EventLoop = .current) -> Agent {
        global(for: loop, module: "http")
    }

    /// The loop's shared agent of `module` (NetCoreHTTPS's `https.globalAgent` is a second one, as in Node), with
    /// the defaults of `global(for:)`.
    package static func global(for loop: EventLoop, module: String) -> Agent {
        loop.assertInLoop()
        return globals.withLock { entries in
            let key = GlobalAgentKey(loop: ObjectIdentifier(loop), module: module)
            if let entry = entries[key], entry.loop === loop { return entry.agent }
            entries = entries.filter { $0.value.loop != nil }
            let agent = Agent(keepAlive: true, timeout: 5000, loop: loop)
            entries[key] = GlobalAgentEntry(loop: loop, agent: agent)
            return agent
        }
    }

    // MARK: - Node's counters

    /// The pool key of a server (Node's `agent.getName()`): `host:port:`, or `localhost:::path` for a Unix socket.
    public static func name(host: String = "localhost", port: Int = 80, socketPath: String? = nil) -> String {
        if let socketPath { return "localhost:::\(socketPath)" }
        return "\(host):\(port):"
    }

    /// Connections in use, per pool key (Node's `agent.sockets`).
    public var sockets: [String: [Socket]] { busy.filter { !$0.value.isEmpty }.mapValues { $0.map(\.socket) } }
    /// Free connections, per pool key (Node's `agent.freeSockets`).
    public var freeSockets: [String: [Socket]] { free.filter { !$0.value.isEmpty }.mapValues { $0.map(\.socket) } }
    /// Requests waiting for a connection, per pool key (Node's `agent.requests`).
    public var requests: [String: [ClientRequest]] { queued.filter { !$0.value.isEmpty } }

    /// Closes every connection, in use or free (Node's `agent.destroy()`); requests in progress fail.
    public func destroy() {
        for connection in Array(busy.values.joined()) + Array(free.values.joined()) { connection.socket.destroy() }
    }

    // MARK: - Driven by requests and connections

    func addRequest(_ request: ClientRequest) {
        let key = request.agentKey
        if var list = free[key], let connection = list.popLast() {
            free[key] = list
            busy[key, default: []].append(connection)
            connection.assign(request)
        } else if busy[key, default: []].count < maxSockets {
            let connection = makeConnection(for: request, key: key)
            busy[key, default: []].append(connection)
            connection.assign(request)
        } else {
            queued[key, default: []].append(request)
        }
    }

    func removeQueued(_ request: ClientRequest) {
        queued[request.agentKey]?.removeAll { $0 === request }
    }

    private func makeConnection(for request: ClientRequest, key: String) -> ClientConnection {
        let socket: Socket
        if let connector = request.connector {
            // Connecting already (TLS: the handshake follows the connect).
            socket = connector.connect(self, key, request.host, request.port, request.socketPath)
        } else {
            socket = Socket(loop: loop)
            if let path = request.socketPath {
                socket.connect(path: path)
            } else {
                socket.connect(port: request.port, host: request.host)
            }
        }
        if request.socketPath == nil {
            socket.setNoDelay(true)
            if keepAlive { socket.setKeepAlive(true, initialDelay: keepAliveMsecs) }
        }
        return ClientConnection(socket: socket, key: key, agent: self)
    }

    // MARK: - Sessions for connectors

    /// The session cached for `key`, if any.
    package func cachedSession(for key: String) -> [UInt8]? { sessions[key] }

    /// Keeps `session` for the next connection to `key` (the newest replaces the one before).
    package func cacheSession(_ session: [UInt8], for key: String) {
        guard maxCachedSessions > 0 else { return }
        if sessions.updateValue(session, forKey: key) == nil {
            sessionOrder.append(key)
            if sessionOrder.count > maxCachedSessions { sessions[sessionOrder.removeFirst()] = nil }
        }
    }

    /// Forgets the session for `key` (a connection resumed from it failed).
    package func evictSession(for key: String) {
        guard sessions.removeValue(forKey: key) != nil else { return }
        sessionOrder.removeAll { $0 == key }
    }

    /// A response was read completely and the connection may carry another request.
    func connectionFreed(_ connection: ClientConnection) {
        let key = connection.key
        if var waiting = queued[key], !waiting.isEmpty {
            let next = waiting.removeFirst()
            queued[key] = waiting
            connection.assign(next)
            return
        }
        busy[key]?.removeAll { $0 === connection }
        if keepAlive && free[key, default: []].count < maxFreeSockets {
            free[key, default: []].append(connection)
            connection.parkAsFree(timeout: timeout)
        } else {
            busy[key, default: []].append(connection)  // until its `close` removes it
            connection.socket.destroy()
        }
    }

    /// The connection closed: forget it, and give a waiting request a new connection in its place.
    func connectionClosed(_ connection: ClientConnection) {
        let key = connection.key
        busy[key]?.removeAll { $0 === connection }
        free[key]?.removeAll { $0 === connection }
        if busy[key]?.isEmpty == true { busy[key] = nil }
        if free[key]?.isEmpty == true { free[key] = nil }
        guard var waiting = queued[key], !waiting.isEmpty, busy[key, default: []].count < maxSockets else { return }
        let next = waiting.removeFirst()
        queued[key] = waiting.isEmpty ? nil : waiting
        let replacement = makeConnection(for: next, key: key)
        busy[key, default: []].append(replacement)
        replacement.assign(next)
    }
}

private struct GlobalAgentKey: Hashable {
    let loop: ObjectIdentifier
    let module: String
}

/// A loop's global agent. The agent is used only on that loop's thread; the weak loop tells a live entry from one
/// whose loop has gone (and whose `ObjectIdentifier` may have been reused).
private struct GlobalAgentEntry: @unchecked Sendable {
    // @unchecked: `agent` is touched only on `loop`'s thread (`Agent.global(for:)` asserts it).
    weak var loop: EventLoop?
    let agent: Agent
}

@available(*, unavailable)
extension Agent: Sendable {}
