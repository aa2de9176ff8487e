import NetCore

/// One client connection: a socket, the parser for the response being read, and the request it serves now (or none:
/// the connection is free in its agent's pool). The socket's listeners are installed once, here, and dispatch to
/// the current request, because a socket keeps its listeners for life and a pooled socket serves many requests.
final class ClientConnection: IncomingMessageSource {
    let socket: Socket
    /// The agent's pool key (`host:port:` or the socket path).
    let key: String
    // Strong: the agent holds the connection while it is open, and the connection must be able to report its close
    // to an agent nobody else holds any more (a request's throw-away agent for `agent: .none`).
    let agent: Agent
    /// The request being served; nil while the connection is free.
    private(set) var request: ClientRequest?
    private var parser = HTTPResponseParser()
    private var interim = InterimResponseScanner()
    private var response: IncomingMessage?
    /// Requests served so far (1 while the first is in flight).
    private(set) var requestCount = 0
    /// The connection may not serve another request (the response said `Connection: close`, or was cut).
    private var isSpent = false
    private var isReadingPausedForMessage = false

    init(socket: Socket, key: String, agent: Agent) {
        self.socket = socket
        self.key = key
        self.agent = agent
        socket.on(.data) { [unowned self] chunk in received(chunk) }
        socket.on(.end) { [unowned self] in peerEnded() }
        socket.on(.error) { [unowned self] error in failed(error) }
        socket.on(.close) { [unowned self] _ in closed() }
        socket.on(.timeout) { [unowned self] in
            if let request { request.socketTimedOut() } else { freeSocketTimedOut() }
        }
        socket.on(.drain) { [unowned self] in request?.socketDrained() }
    }

    var isFree: Bool { request == nil }

    /// Starts serving `request`: a fresh parser, the request's timeout, and the request told which socket it has.
    func assign(_ request: ClientRequest) {
        self.request = request
        requestCount += 1
        parser = HTTPResponseParser(isHeadRequest: request.method == "HEAD")
        interim = InterimResponseScanner()
        response = nil
        if isReadingPausedForMessage {
            isReadingPausedForMessage = false
            socket.resume()
        }
        socket.ref()
        socket.setTimeout(request.timeout ?? 0)
        request.attach(self)
    }

    // MARK: - Input

    private func received(_ chunk: Buffer) {
        guard let request else {
            // Bytes on a free connection answer nothing we asked: the connection cannot be trusted any more.
            socket.destroy()
            return
        }
        if response == nil, !interim.isDone {
            for head in interim.feed(chunk.bytes) { request.receivedInformation(head) }
        }
        handle(parser.feed(chunk.bytes), for: request)
    }

    private func handle(_ events: [HTTPResponseParser.Event], for request: ClientRequest) {
        var events = events
        // The parser reports a head before finding its framing invalid (a bad Content-Length); such a head is a
        // parse error only, as in Node: no `response` for it.
        if let index = events.firstIndex(where: { if case .head = $0 { true } else { false } }),
            index + 1 < events.count, case .error = events[index + 1]
        {
            events.remove(at: index)
        }
        for event in events {
            // A listener may have destroyed the request or the socket.
            guard self.request === request, !socket.destroyed else { return }
            switch event {
            case .head(let head):
                let message = IncomingMessage(response: head, socket: socket, maxHeadersCount: 2000)
                message.source = self
                response = message
                if !Self.allowsReuse(head) { isSpent = true }
                // Weak: a body that arrived whole can be consumed after the connection has closed and gone.
                message.once(.end) { [weak self] in self?.responseEnded(request) }
                request.receivedResponse(message)
            case .body(let bytes):
                response?.push(bytes)
            case .end:
                response?.pushEnd()
            case .error(let error):
                isSpent = true
                request.failed(HTTPClientErrors.parseError(error))
                socket.destroy()
            }
        }
    }

    /// Whether the connection can carry another request after this response (RFC 9112 §9.3).
    private static func allowsReuse(_ head: HTTPResponseParser.Head) -> Bool {
        if head.headers.contains(token: "close", in: "Connection") { return false }
        if head.version == .http1_0 && !head.headers.contains(token: "keep-alive", in: "Connection") { return false }
        // A body delimited by the connection's end uses the connection up.
        let framed =
            head.headers["Content-Length"] != nil || head.headers["Transfer-Encoding"] != nil
            || head.status == 204 || head.status == 304 || (100...199).contains(head.status)
        return framed
    }

    /// The response's body has been consumed: the request is complete, and the connection goes back to its agent
    /// (on the next tick, once the parser's loop has unwound).
    private func responseEnded(_ request: ClientRequest) {
        guard self.request === request else { return }
        let reusable = !isSpent && request.shouldKeepAlive && request.isFinished && !socket.destroyed
        socket.loop.nextTick { [self] in
            guard self.request === request else { return }
            self.request = nil
            response = nil
            request.completed()
            if reusable {
                socket.setTimeout(0)
                agent.connectionFreed(self)
            } else {
                isSpent = true
                socket.destroy()
            }
        }
    }

    /// Puts the connection in the free list's state: not keeping the loop alive, timing out after `idle` ms.
    func parkAsFree(timeout idle: Int?) {
        socket.unref()
        if let idle, idle > 0 { socket.setTimeout(idle) }
    }

    // MARK: - Socket events

    private func peerEnded() {
        guard let request else { return }  // a free connection: `close` follows and the agent drops it
        // A close-delimited body ends here. A truncated response is not a parse error: `close` follows and reports
        // it as Node does ("socket hang up" before the head, "aborted" on the response after it).
        let events = parser.finish().filter { if case .error = $0 { return false } else { return true } }
        handle(events, for: request)
    }

    /// `close` follows: a cut response is reported there; a request still waiting for its head gets this error.
    private func failed(_ error: SocketError) {
        isSpent = true
        guard let request, response == nil else { return }
        request.failed(HTTPClientErrors.nodeStyle(error))
    }

    private func closed() {
        isSpent = true
        let request = self.request
        self.request = nil
        if let response, !response.complete {
            response.connectionClosed(error: HTTPClientErrors.aborted)
        }
        response = nil
        if let request {
            if !request.hasResponse { request.failed(HTTPClientErrors.socketHangUp) }
            request.completed()
        }
        agent.connectionClosed(self)
    }

    /// A timeout on a free socket: nobody wants it, close it (Node's agent does the same).
    private func freeSocketTimedOut() {
        if isFree { socket.destroy() }
    }

    // MARK: - IncomingMessageSource

    func message(_ message: IncomingMessage, wantsReadingPaused paused: Bool) {
        guard message === response, paused != isReadingPausedForMessage else { return }
        isReadingPausedForMessage = paused
        if paused { socket.pause() } else { socket.resume() }
    }
}

@available(*, unavailable)
extension ClientConnection: Sendable {}
