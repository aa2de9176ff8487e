import NetCore

/// One HTTP connection: feeds the parser, dispatches requests one at a time in order, and enforces the timeouts.
final class HTTPConnection {
    private struct PendingRequest {
        var head: HTTPRequestHead
        var bodyByteCount = 0
        var body: [UInt8] = []
        var isComplete = false
        var continueSent = false
    }

    let socket: Socket
    unowned let server: HTTPServer
    private var parser: HTTPRequestParser
    private var pending: [PendingRequest] = []
    private var current: HTTPServerResponse?
    private var parseError: HTTPParseError?
    private(set) var isClosing = false
    private var isDiscardingInput = false
    private var isPausedForBackpressure = false
    /// When the current head started arriving (or the connection opened); nil once a head is complete.
    private var headStartedAt: UInt64?
    /// When the request whose body is arriving started (its head's first byte); nil when no body is pending.
    private var bodyStartedAt: UInt64?
    /// When the connection became idle after a response; nil while busy.
    private var idleSince: UInt64?
    private var deadlineTimer: Timeout?
    /// Cuts a lingering close that the client does not finish; cancelled when the socket closes first, so the
    /// socket is freed at once rather than 2 s later (a burst of refused clients would otherwise pile up).
    private var lingerTimer: Timeout?
    private var armedDeadline = UInt64.max

    /// Pipelined requests parsed ahead of the one being answered; beyond this the socket stops reading.
    static let maxPipelined = 32

    init(socket: Socket, server: HTTPServer) {
        self.socket = socket
        self.server = server
        self.parser = HTTPRequestParser(limits: server.configuration.limits)
        headStartedAt = socket.loop.now
        socket.on(.data) { [unowned self] chunk in received(chunk) }
        socket.on(.drain) { [unowned self] in current?.connectionDrained() }
        socket.on(.error) { _ in }  // a reset client is routine; `close` cleans up
        socket.on(.end) { [unowned self] in
            // The client half-closed: answer what it has sent, then end our side too. Nothing more will arrive, so
            // a request cut off by the EOF can never complete: like Node, answer 400 (it used to hold the
            // connection open forever; found by the fault suite's soak).
            isClosing = true
            if !isDiscardingInput && parseError == nil && (!parser.isIdle || pending.last.map { !$0.isComplete } == true) {
                rejectIncompleteRequest(HTTPParseError(status: 400, reason: "request cut off by the end of input"))
            }
            dispatchNext()
        }
        updateDeadline()
    }

    // MARK: - Input

    private func received(_ chunk: Buffer) {
        if isDiscardingInput { return }
        let wasIdle = parser.isIdle
        let events = parser.feed(chunk.bytes)
        if wasIdle && (parser.isReadingHead || !events.isEmpty) {
            idleSince = nil
            if headStartedAt == nil { headStartedAt = socket.loop.now }
        }
        for event in events {
            switch event {
            case .head(let head):
                bodyStartedAt = headStartedAt ?? socket.loop.now
                headStartedAt = nil
                pending.append(PendingRequest(head: head))
                if head.expectsContinue && current == nil && pending.count == 1 { sendContinue() }
            case .body(let bytes):
                pending[pending.count - 1].bodyByteCount += bytes.count
                if server.configuration.collectsBodies { pending[pending.count - 1].body += bytes }
            case .end:
                pending[pending.count - 1].isComplete = true
                bodyStartedAt = nil
            case .error(let error):
                rejectIncompleteRequest(error)
            }
        }
        if parser.isReadingHead && headStartedAt == nil { headStartedAt = socket.loop.now }
        if pending.count >= Self.maxPipelined && !isPausedForBackpressure {
            isPausedForBackpressure = true
            socket.pause()
        }
        dispatchNext()
        updateDeadline()
    }

    /// The request being read cannot complete (a framing error in its body, or a timeout): it is dropped, and once
    /// every earlier request has been answered the client gets `error`'s status and the connection closes.
    private func rejectIncompleteRequest(_ error: HTTPParseError) {
        if let last = pending.last, !last.isComplete { pending.removeLast() }
        parseError = error
        headStartedAt = nil
        bodyStartedAt = nil
        socket.pause()
    }

    private func sendContinue() {
        guard !pending.isEmpty, !pending[0].continueSent else { return }
        pending[0].continueSent = true
        socket.write("HTTP/1.1 100 Continue\r\n\r\n")
    }

    // MARK: - Dispatch

    private func dispatchNext() {
        guard current == nil, !socket.destroyed else { return }
        if let first = pending.first {
            if first.head.expectsContinue && !first.isComplete { sendContinue() }
            guard first.isComplete else { return }
            pending.removeFirst()
            if isPausedForBackpressure && pending.count < Self.maxPipelined / 2 && parseError == nil {
                isPausedForBackpressure = false
                socket.resume()
            }
            let response = HTTPServerResponse(connection: self, request: first.head)
            current = response
            let request = HTTPServerRequest(head: first.head, bodyByteCount: first.bodyByteCount, body: first.body)
            server.handler(request, response)
        } else if let error = parseError {
            parseError = nil
            sendError(error.status, error.reason)
        } else if isClosing && parser.isIdle {
            socket.end()
        } else if parser.isIdle {
            idleSince = socket.loop.now
        }
    }

    func responseFinished(_ response: HTTPServerResponse) {
        guard response === current else { return }
        current = nil
        if !response.keepAlive {
            isClosing = true
            pending.removeAll()
            parseError = nil
            closeGracefully()
            return
        }
        // On the next tick, so a long pipeline answered synchronously does not recurse.
        socket.loop.nextTick { [self] in
            dispatchNext()
            updateDeadline()
        }
    }

    /// Answers a request the parser rejected (or a timeout) and closes.
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
        socket.resume()
        let socket = self.socket
        socket.end { [weak self] in
            guard let self, lingerTimer == nil, !socket.destroyed else { return }
            lingerTimer = socket.loop.setTimeout(2000) { socket.destroy() }.unref()
        }
    }

    /// Closes now if idle; otherwise after the current response.
    func closeWhenIdle() {
        isClosing = true
        if current == nil && pending.isEmpty { closeGracefully() }
    }

    func socketClosed() {
        deadlineTimer?.cancel()
        lingerTimer?.cancel()
        lingerTimer = nil
        current?.connectionClosed()
        current = nil
    }

    // MARK: - Timeouts

    /// The next moment something must happen: the headers deadline while a head is arriving, the keep-alive deadline
    /// while idle. One timer, re-armed only when the deadline moves earlier (a fire re-checks and re-arms).
    private func updateDeadline() {
        guard let deadline = currentDeadline(), !socket.destroyed else { return }
        let now = socket.loop.now
        if deadline <= now {
            deadlinePassed()
            return
        }
        if deadline < armedDeadline {
            deadlineTimer?.cancel()
            armedDeadline = deadline
            deadlineTimer = socket.loop.setTimeout(Int(deadline - now)) { [weak self] in
                guard let self else { return }
                armedDeadline = .max
                updateDeadline()
            }.unref()
        }
    }

    private func currentDeadline() -> UInt64? {
        guard !isClosing, parseError == nil else { return nil }
        // A body must finish within requestTimeout of its head's first byte, even while an earlier response is
        // still going out (Node's requestTimeout): otherwise a client could hold the connection by stalling a body.
        let bodyDeadline = bodyStartedAt.map { $0 + UInt64(server.configuration.requestTimeout) }
        guard current == nil else { return bodyDeadline }
        if let headStartedAt { return headStartedAt + UInt64(server.configuration.headersTimeout) }
        if let bodyDeadline { return bodyDeadline }
        if let idleSince, pending.isEmpty { return idleSince + UInt64(server.configuration.keepAliveTimeout) }
        return nil
    }

    private func deadlinePassed() {
        if let bodyStartedAt, bodyStartedAt + UInt64(server.configuration.requestTimeout) <= socket.loop.now {
            rejectIncompleteRequest(
                HTTPParseError(
                    status: 408,
                    reason: "request body not received within \(server.configuration.requestTimeout) ms"
                )
            )
            dispatchNext()
        } else if headStartedAt != nil {
            headStartedAt = nil
            socket.pause()
            sendError(408, "request headers not received within \(server.configuration.headersTimeout) ms")
        } else {
            isClosing = true
            closeGracefully()
        }
    }
}
