import NetCore

/// One HTTP connection on the server: feeds the parser, hands each request to the server as soon as its head has
/// arrived (the body then streams through the `IncomingMessage`), answers requests strictly in order, and enforces
/// the timeouts.
final class HTTPConnection: IncomingMessageSource, TickHandler {
    // `@exclusivity(unchecked)` on the state below, as in NetCore's Socket: the object is confined to its loop's
    // thread and no access is held open across a call into user code, so the runtime's dynamic exclusivity checks
    // (swift_beginAccess, about a sixth of a hello-server request's instructions) can never fire.
    let socket: Socket
    unowned let server: HTTPServer
    /// The parser, only while a request is arriving or waiting: an idle keep-alive connection holds none (its
    /// line buffers were most of an idle connection's memory).
    @exclusivity(unchecked) private var reader: RequestReader?
    private var parserIsIdle: Bool { reader?.parser.isIdle ?? true }
    @exclusivity(unchecked) private var drainIsWatched = false
    /// Links of the server's queue of quiet connections (`QuietConnections`), and when this one became quiet.
    @exclusivity(unchecked) var quietNext: HTTPConnection?
    @exclusivity(unchecked) unowned(unsafe) var quietPrevious: HTTPConnection?
    @exclusivity(unchecked) unowned(unsafe) var quietQueue: QuietConnections?
    @exclusivity(unchecked) var quietSince: UInt64 = 0
    /// Requests whose head has arrived but which wait for the one before them to be answered (pipelining).
    @exclusivity(unchecked) private var queued: [IncomingMessage] = []
    /// The request whose body bytes are arriving now (the last head parsed), until its end.
    @exclusivity(unchecked) private var receiving: IncomingMessage?
    /// The request being answered, and its response.
    @exclusivity(unchecked) private var currentRequest: IncomingMessage?
    @exclusivity(unchecked) private var current: ServerResponse?
    @exclusivity(unchecked) private var parseError: HTTPParseError?
    @exclusivity(unchecked) private(set) var isClosing = false
    @exclusivity(unchecked) private var isDiscardingInput = false
    /// Why reading is paused: queued requests past the pipelining limit, messages whose unread body is full, or a
    /// rejected request (nothing more is read until the error has been answered).
    @exclusivity(unchecked) private var isPipelineFull = false
    @exclusivity(unchecked) private var fullMessages = 0
    @exclusivity(unchecked) private var isReadingPaused = false
    @exclusivity(unchecked) private var requestCount = 0
    /// The request being answered can no longer complete (its body timed out after the response began).
    @exclusivity(unchecked) private var closesAfterResponse = false
    @exclusivity(unchecked) private(set) var continueSent = false
    /// When the current head started arriving (or the connection opened); nil once a head is complete.
    @exclusivity(unchecked) private var headStartedAt: UInt64?
    /// When the request whose body is arriving started (its head's first byte); nil when no body is pending.
    @exclusivity(unchecked) private var bodyStartedAt: UInt64?
    /// When the connection became idle after a response; nil while busy.
    @exclusivity(unchecked) private var idleSince: UInt64?
    @exclusivity(unchecked) private var deadlineTimer: Timeout?
    /// Cuts a lingering close that the client does not finish; cancelled when the socket closes first, so the
    /// socket is freed at once rather than 2 s later (a burst of refused clients would otherwise pile up).
    @exclusivity(unchecked) private var lingerTimer: Timeout?
    @exclusivity(unchecked) private var armedDeadline = UInt64.max
    /// The socket was handed to an `upgrade` listener: this connection no longer reads, answers or times anything.
    @exclusivity(unchecked) private(set) var isUpgraded = false

    /// Pipelined requests parsed ahead of the one being answered; beyond this the socket stops reading.
    static let maxPipelined = 32

    init(socket: Socket, server: HTTPServer) {
        self.socket = socket
        self.server = server
        headStartedAt = socket.loop.now
        socket.on(.data) { [unowned self] chunk in received(chunk) }
        socket.on(.error) { _ in }  // a reset client is routine; `close` cleans up
        socket.on(.end) { [unowned self] in peerEnded() }
        updateDeadline()
    }

    /// Whether no request is being answered or waiting (for `closeIdleConnections`).
    var isIdle: Bool { current == nil && queued.isEmpty && parserIsIdle }

    /// Listens for the socket's `drain` from the first time a response's write was refused (most connections never
    /// are: the listener would cost every idle connection its memory).
    func watchDrain() {
        guard !drainIsWatched else { return }
        drainIsWatched = true
        socket.on(.drain) { [unowned self] in current?.connectionDrained() }
    }

    // MARK: - Input

    private func received(_ chunk: Buffer) {
        if isDiscardingInput { return }
        let reader = self.reader ?? RequestReader(limits: server.configuration.limits)
        self.reader = reader
        let wasIdle = reader.parser.isIdle
        reader.parser.stopsAtUpgrade = server.hasUpgradeListeners
        let events = reader.parser.feed(chunk.bytes)
        if wasIdle && (reader.parser.isReadingHead || !events.isEmpty) {
            idleSince = nil
            if headStartedAt == nil { headStartedAt = socket.loop.now }
        }
        for event in events {
            switch event {
            case .head(let head):
                bodyStartedAt = headStartedAt ?? socket.loop.now
                headStartedAt = nil
                let message = IncomingMessage(
                    request: head,
                    socket: socket,
                    maxHeadersCount: server.configuration.maxHeadersCount
                )
                message.source = self
                if message.complete {
                    bodyStartedAt = nil
                } else {
                    receiving = message
                }
                queued.append(message)
                dispatchNext()
            case .body(let bytes):
                receiving?.push(bytes)
            case .end:
                let message = receiving
                receiving = nil
                bodyStartedAt = nil
                message?.pushEnd()
            case .error(let error):
                rejectIncompleteRequest(error)
                // Nothing else may answer it: with no request in progress, the error goes out now.
                dispatchNext()
            case .upgrade(let head, let rest):
                handOver(head, rest: rest)
                return
            }
        }
        if reader.parser.isReadingHead && headStartedAt == nil { headStartedAt = socket.loop.now }
        isPipelineFull = queued.count >= Self.maxPipelined
        updateReading()
        updateDeadline()
    }

    /// An upgrade request arrived and the server has `upgrade` listeners (Node's `onParserExecuteCommon`): the
    /// connection lets go of the socket (no more parsing, no timers, no keep-alive) and the listener gets the
    /// request, the socket and the bytes already read past the head. Requests pipelined before it and not yet
    /// answered are dropped: the socket belongs to the new protocol now.
    private func handOver(_ head: HTTPRequestHead, rest: [UInt8]) {
        isUpgraded = true
        isDiscardingInput = true
        reader = nil
        quietQueue?.remove(self)
        deadlineTimer?.cancel()
        deadlineTimer = nil
        lingerTimer?.cancel()
        lingerTimer = nil
        headStartedAt = nil
        bodyStartedAt = nil
        idleSince = nil
        receiving?.connectionClosed()
        receiving = nil
        currentRequest?.connectionClosed()
        currentRequest = nil
        for message in queued { message.connectionClosed() }
        queued.removeAll()
        current?.connectionClosed()
        current = nil
        let request = IncomingMessage(request: head, socket: socket, maxHeadersCount: server.configuration.maxHeadersCount)
        request.upgrade = true
        if isReadingPaused {
            isReadingPaused = false
            socket.resume()
        }
        server.connectionUpgraded(self, request: request, head: Buffer(rest))
    }

    /// The client half-closed: answer what it has sent, then end our side too. Nothing more will arrive, so a
    /// request cut off by the EOF can never complete: like Node, answer 400 if it was not being answered yet (it used
    /// to hold the connection open forever; found by the fault suite's soak), or report it `aborted` to its handler.
    private func peerEnded() {
        guard !isUpgraded else { return }
        isClosing = true
        if !isDiscardingInput && parseError == nil {
            if let receiving, receiving === currentRequest {
                self.receiving = nil
                bodyStartedAt = nil
                receiving.connectionClosed()
                // Like Node's `socketOnEnd` (`abortIncoming`, then `socket.end()`): the peer is gone and a handler
                // waiting for the body's `end` would hold the connection open forever.
                closeGracefully()
                return
            } else if !parserIsIdle || receiving != nil {
                rejectIncompleteRequest(HTTPParseError(status: 400, reason: "request cut off by the end of input"))
            }
        }
        dispatchNext()
    }

    /// The request being read cannot complete (a framing error in its body, a body over the limit, or a timeout).
    /// Not handed to the server yet: it is dropped, and once every earlier request has been answered the client gets
    /// `error`'s status and the connection closes. Being answered already: its handler sees `aborted`; if no
    /// response has begun, the client gets `error`'s status instead; otherwise the connection closes after the
    /// response, since a second answer to one request would desynchronise the client.
    private func rejectIncompleteRequest(_ error: HTTPParseError) {
        headStartedAt = nil
        bodyStartedAt = nil
        if let receiving {
            self.receiving = nil
            if let index = queued.firstIndex(where: { $0 === receiving }) {
                queued.remove(at: index)
                receiving.connectionClosed()
            } else {
                receiving.connectionClosed()
                if receiving === currentRequest, let current, !current.headersSent {
                    current.connectionClosed()
                    self.current = nil
                    currentRequest = nil
                } else {
                    closesAfterResponse = true
                    isDiscardingInput = true
                    if current == nil {
                        isClosing = true
                        closeGracefully()
                    } else {
                        updateReading()
                    }
                    return
                }
            }
        }
        parseError = error
        updateReading()
    }

    func message(_ message: IncomingMessage, wantsReadingPaused paused: Bool) {
        fullMessages += paused ? 1 : -1
        updateReading()
    }

    private func updateReading() {
        let pause = !isDiscardingInput && (parseError != nil || isPipelineFull || fullMessages > 0)
        guard pause != isReadingPaused, !socket.destroyed else { return }
        isReadingPaused = pause
        if pause { socket.pause() } else { socket.resume() }
    }

    func sendContinue() {
        guard !continueSent, !socket.destroyed, !isClosing else { return }
        continueSent = true
        socket.write("HTTP/1.1 100 Continue\r\n\r\n")
    }

    // MARK: - Dispatch

    private func dispatchNext() {
        // Once closing has begun (a `Connection: close` or the last of `maxRequestsPerSocket` answered, possibly
        // while the chunk holding later pipelined requests is still being handled), nothing more is dispatched.
        guard current == nil, !socket.destroyed, !isDiscardingInput else { return }
        if !queued.isEmpty {
            let request = queued.removeFirst()
            isPipelineFull = queued.count >= Self.maxPipelined
            requestCount += 1
            var keepAlive = Self.keepAlive(request)
            let limit = server.configuration.maxRequestsPerSocket
            if limit > 0 && requestCount >= limit { keepAlive = false }
            let response = ServerResponse(connection: self, request: request, keepAlive: keepAlive && !isClosing)
            currentRequest = request
            current = response
            if limit > 0 && requestCount > limit {
                // Past maxRequestsPerSocket (pipelined behind the last one allowed): Node answers 503 and does not
                // emit `request`; the connection closes once every such request is answered.
                response.writeHead(503)
                response.end()
                return
            }
            continueSent = false
            updateReading()
            updateDeadline()
            let expectsContinue =
                request.version.minor >= 1 && !request.complete
                && request.fields["Expect"].map { $0.asciiLowercased == "100-continue" } == true
            response.expectsContinue = expectsContinue
            if expectsContinue && server.hasCheckContinueListeners {
                server.emitCheckContinue(request, response)
            } else {
                if expectsContinue { sendContinue() }
                server.emitRequest(request, response)
            }
        } else if let error = parseError {
            parseError = nil
            answerClientError(error)
        } else if isClosing && parserIsIdle {
            socket.end()
        } else if parserIsIdle {
            idleSince = socket.loop.now
            if receiving == nil { reader = nil }
        }
    }

    private static func keepAlive(_ request: IncomingMessage) -> Bool {
        let fields = request.fields
        if fields.contains(token: "close", in: "Connection") { return false }
        if request.version == .http1_0 { return fields.contains(token: "keep-alive", in: "Connection") }
        return true
    }

    func responseFinished(_ response: ServerResponse) {
        guard response === current else { return }
        current = nil
        let request = currentRequest
        currentRequest = nil
        // A body nobody read is dropped as it arrives, so the next request can follow (Node's `_dump`).
        if let request, !request.readableEnded { request.dump() }
        if !response.shouldKeepAlive || closesAfterResponse {
            isClosing = true
            let limit = server.configuration.maxRequestsPerSocket
            if limit > 0 && requestCount >= limit && !closesAfterResponse {
                // Requests pipelined past the limit (queued, or still in the chunk being parsed) get their 503s
                // from dispatchNext before the close.
                socket.loop.nextTick(self, code: Tick.answerPastLimit)
                return
            }
            queued.removeAll()
            parseError = nil
            closeGracefully()
            return
        }
        // On the next tick, so a long pipeline answered synchronously does not recurse.
        socket.loop.nextTick(self, code: Tick.next)
    }

    /// What a connection defers with `nextTick(self, code:)`, after a response finished.
    private enum Tick {
        /// Dispatch the next request.
        static let next = 0
        /// Answer the next request past `maxRequestsPerSocket`, or close when there is none.
        static let answerPastLimit = 1
    }

    func handleTick(_ code: Int) {
        if code == Tick.answerPastLimit && queued.isEmpty && current == nil {
            parseError = nil
            closeGracefully()
            return
        }
        // A 503 past the limit finishes at once and schedules the next `answerPastLimit`.
        dispatchNext()
        updateDeadline()
    }

    /// Answers a request the parser rejected (or a timeout) and closes; a `clientError` listener decides instead.
    private func answerClientError(_ error: HTTPParseError) {
        if server.hasClientErrorListeners {
            isClosing = true
            // The listener owns the socket now; nothing more is parsed, so the client's FIN cannot be taken for a
            // second, cut-off request (a second clientError).
            isDiscardingInput = true
            updateReading()  // read on (and drop) so that the client's FIN is seen once the listener has ended
            server.emitClientError(error, socket)
            return
        }
        sendError(error.status, error.reason)
    }

    private func sendError(_ status: Int, _ reason: String) {
        let body = reason + "\n"
        let head =
            "HTTP/1.1 \(status) \(HTTPStatus.reason(status))\r\nDate: \(server.date.now())\r\n"
            + "Content-Type: text/plain; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        socket.write(head + body)
        isClosing = true
        closeGracefully()
    }

    /// Ends our side, then reads and drops whatever the client still sends until it closes (or 2 s pass): closing
    /// with unread input would make the kernel send RST, which can destroy the response before the client reads it.
    /// The 2 s start once everything queued has been sent (`finish`), not at `end()`: a large file is queued for
    /// sendfile at once, and a client may take any time to read it.
    private func closeGracefully() {
        isDiscardingInput = true
        updateReading()
        let socket = self.socket
        socket.end { [weak self] in
            guard let self, lingerTimer == nil, !socket.destroyed else { return }
            lingerTimer = socket.loop.setTimeout(2000) { socket.destroy() }.unref()
        }
    }

    /// Closes now if idle; otherwise after the current response, or after the request whose head or body is still
    /// arriving has been answered (Node's `server.close()` closes only idle connections).
    func closeWhenIdle() {
        isClosing = true
        if isIdle { closeGracefully() }
    }

    func socketClosed() {
        quietQueue?.remove(self)
        deadlineTimer?.cancel()
        lingerTimer?.cancel()
        lingerTimer = nil
        receiving?.connectionClosed()
        receiving = nil
        currentRequest?.connectionClosed()
        currentRequest = nil
        for message in queued { message.connectionClosed() }
        queued.removeAll()
        current?.connectionClosed()
        current = nil
    }

    // MARK: - Timeouts

    /// The next moment something must happen: the headers deadline while a head is arriving, the body deadline
    /// while a body is, the keep-alive deadline while idle. While quiet (accepted and silent, or idle between
    /// requests), the server's queue of quiet connections keeps the time; otherwise one timer of its own, re-armed
    /// only when the deadline moves earlier (a fire re-checks and re-arms).
    private func updateDeadline() {
        guard !socket.destroyed else { return }
        if let (queue, since) = quietWait() {
            if quietQueue !== queue {
                quietQueue?.remove(self)
                queue.append(self, since: since)
            }
            deadlineTimer?.cancel()
            deadlineTimer = nil
            armedDeadline = .max
            return
        }
        quietQueue?.remove(self)
        guard let deadline = currentDeadline() else { return }
        let now = socket.loop.now
        if deadline <= now {
            deadlinePassed()
            return
        }
        if deadline < armedDeadline {
            deadlineTimer?.cancel()
            armedDeadline = deadline
            // unowned: `socketClosed` cancels the timer before the connection can go (a weak reference would cost
            // every connection a side table).
            deadlineTimer = socket.loop.setTimeout(Int(deadline - now)) { [unowned self] in
                armedDeadline = .max
                updateDeadline()
            }.unref()
        }
    }

    /// The server's queue this connection waits in, if nothing is in flight: just accepted and nothing received
    /// (the headers timeout runs from the connection's start), or idle after a response (the keep-alive timeout).
    private func quietWait() -> (QuietConnections, UInt64)? {
        guard !isDiscardingInput, parseError == nil, current == nil, queued.isEmpty, receiving == nil, parserIsIdle,
            bodyStartedAt == nil
        else { return nil }
        if let idleSince {
            return isClosing ? nil : (server.idleConnections, idleSince)
        }
        if let headStartedAt, requestCount == 0 { return (server.freshConnections, headStartedAt) }
        return nil
    }

    /// The quiet queue's time for this connection is up.
    func quietTimeExpired() {
        guard !socket.destroyed else { return }
        deadlinePassed()
    }

    private func currentDeadline() -> UInt64? {
        // Closing still lets a request that is arriving finish, within its timeouts; only the keep-alive wait ends.
        guard !isDiscardingInput, parseError == nil else { return nil }
        // A body must finish within requestTimeout of its head's first byte, even while an earlier response is
        // still going out (Node's requestTimeout): otherwise a client could hold the connection by stalling a body.
        // A timeout of 0 is no timeout, as in Node.
        let configuration = server.configuration
        let bodyDeadline = configuration.requestTimeout > 0
            ? bodyStartedAt.map { $0 + UInt64(configuration.requestTimeout) } : nil
        guard current == nil else { return bodyDeadline }
        if let headStartedAt {
            if configuration.headersTimeout > 0 { return headStartedAt + UInt64(configuration.headersTimeout) }
            return bodyDeadline
        }
        if let bodyDeadline { return bodyDeadline }
        if let idleSince, queued.isEmpty, !isClosing, configuration.keepAliveTimeout > 0 {
            return idleSince + UInt64(configuration.keepAliveTimeout)
        }
        return nil
    }

    private func deadlinePassed() {
        let timeout = server.configuration.requestTimeout
        if let bodyStartedAt, timeout > 0, bodyStartedAt + UInt64(timeout) <= socket.loop.now {
            rejectIncompleteRequest(HTTPParseError(status: 408, reason: "request body not received within \(timeout) ms"))
            dispatchNext()
        } else if headStartedAt != nil, server.configuration.headersTimeout > 0 {
            headStartedAt = nil
            sendError(408, "request headers not received within \(server.configuration.headersTimeout) ms")
        } else {
            isClosing = true
            closeGracefully()
        }
    }
}

/// The request parser in a box of its own, made when a request starts arriving and dropped when the connection is
/// idle again.
private final class RequestReader {
    @exclusivity(unchecked) var parser: HTTPRequestParser

    init(limits: HTTPRequestParser.Limits) {
        parser = HTTPRequestParser(limits: limits)
    }
}
