import NetCore

/// A request as the server hands it to the handler, after its body has been read.
public struct HTTPServerRequest: Sendable {
    /// The request line and headers.
    public let head: HTTPRequestHead
    /// How many body bytes the client sent (the body itself is kept only when the server collects bodies).
    public let bodyByteCount: Int
    /// The body, when `HTTPServer.Configuration.collectsBodies` is set.
    public let body: [UInt8]

    /// The request method, e.g. "GET".
    public var method: String { head.method }
    /// The request target as sent.
    public var target: String { head.target }
    /// The request header fields.
    public var headers: HTTPHeaders { head.headers }
    /// The request's HTTP version.
    public var version: HTTPVersion { head.version }
}

/// The response to one request: `writeHead`, any number of `write`s, then `end`. Framing follows the request:
/// chunked for HTTP/1.1 unless a `Content-Length` is set, close-delimited for HTTP/1.0, and no body bytes at all for
/// HEAD (its headers are those of the GET).
public final class HTTPServerResponse {
    let connection: HTTPConnection
    let request: HTTPRequestHead
    private var framing: HTTPBodyFraming = .none
    /// Output held back until the end of the current tick, so a handler's head, writes and end leave in one
    /// gathering system call (Node's http corks the same way). Large writes are held as they are (no copy);
    /// the head, chunk framing and small writes are copied into `corkedTail`, so a small response is one buffer
    /// and one plain `send` rather than a gather list of many tiny pieces, each a separate allocation.
    private var corked: [Buffer] = []
    private var corkedTail: [UInt8] = []
    private var corkedBytes = 0
    /// Writes up to this size are copied into `corkedTail`; larger ones are queued without copying.
    static let coalesceLimit = 4 * 1024
    private var isFlushScheduled = false
    /// Beyond this much held back, output goes out at once.
    static let corkLimit = 16 * 1024
    private var drainListeners = Listeners<Void>()
    private var closeListeners = Listeners<Void>()
    private var finishListeners = Listeners<Void>()

    /// The status sent (valid after `writeHead`).
    public private(set) var status = 200
    /// Whether `writeHead` has been called.
    public private(set) var headersSent = false
    /// Whether `end` has been called.
    public private(set) var finished = false
    /// Body bytes handed to the connection (excluding chunk framing).
    public private(set) var bodyBytesSent = 0
    /// Whether the connection stays open after this response.
    public private(set) var keepAlive: Bool

    init(connection: HTTPConnection, request: HTTPRequestHead) {
        self.connection = connection
        self.request = request
        self.keepAlive = request.keepAlive
    }

    private var isBodyless: Bool { request.method == "HEAD" || status == 204 || status == 304 || status < 200 }

    /// Sends the status line and headers (with the next body write, in one system call). Adds `Date`, the framing
    /// header and `Connection` as needed.
    public func writeHead(_ status: Int, headers: HTTPHeaders = HTTPHeaders()) {
        guard !headersSent else { return }
        headersSent = true
        self.status = status
        if headers["Connection"]?.asciiLowercased == "close" { keepAlive = false }
        if connection.isClosing { keepAlive = false }
        var chunked = false
        if let length = headers["Content-Length"].flatMap(Int.init) {
            framing = isBodyless ? .none : .contentLength(length)
        } else if status == 204 || status == 304 || status < 200 {
            framing = .none
        } else if request.version.minor >= 1 {
            chunked = true
            framing = isBodyless ? .none : .chunked
        } else {
            // HTTP/1.0 has no chunked coding: the body ends when the connection does.
            framing = isBodyless ? .none : .untilClose
            keepAlive = false
        }
        // Written straight into the cork as bytes: the caller's fields in order, minus the ones this method owns
        // (Connection always; Transfer-Encoding when it sets chunked), which then follow at the end.
        var bytes = corkedTail
        corkedTail = []
        let before = bytes.count
        bytes.reserveCapacity(before + Self.coalesceLimit)
        bytes.append(contentsOf: "HTTP/1.1 ".utf8)
        Self.appendDecimal(status, to: &bytes)
        bytes.append(0x20)
        bytes.append(contentsOf: HTTPStatus.reason(status).utf8)
        bytes.append(contentsOf: "\r\nDate: ".utf8)
        bytes.append(contentsOf: connection.server.date.now().utf8)
        bytes.append(contentsOf: "\r\n".utf8)
        for (name, value) in headers {
            if HTTPHeaders.namesMatch(name, "Connection") { continue }
            if chunked && HTTPHeaders.namesMatch(name, "Transfer-Encoding") { continue }
            bytes.append(contentsOf: name.utf8)
            bytes.append(contentsOf: ": ".utf8)
            bytes.append(contentsOf: value.utf8)
            bytes.append(contentsOf: "\r\n".utf8)
        }
        if chunked { bytes.append(contentsOf: "Transfer-Encoding: chunked\r\n".utf8) }
        if !keepAlive {
            bytes.append(contentsOf: "Connection: close\r\n".utf8)
        } else if request.version.minor == 0 {
            bytes.append(contentsOf: "Connection: keep-alive\r\n".utf8)
        }
        bytes.append(contentsOf: "\r\n".utf8)
        corkedBytes += bytes.count - before
        corkedTail = bytes
        scheduleFlush()
    }

    private static func appendDecimal(_ value: Int, to bytes: inout [UInt8]) {
        if value >= 100 && value <= 999 {
            // Every real status: three digits, no string conversion.
            bytes.append(UInt8(0x30 + value / 100))
            bytes.append(UInt8(0x30 + value / 10 % 10))
            bytes.append(UInt8(0x30 + value % 10))
        } else {
            bytes.append(contentsOf: String(value).utf8)
        }
    }

    /// Sends body bytes (framed as one chunk when chunked). Returns false when the connection's write queue is above
    /// its high-water mark: wait for `onDrain` before writing more.
    @discardableResult
    public func write(_ data: Buffer) -> Bool {
        if !headersSent { writeHead(status) }
        guard !finished, !data.isEmpty else {
            return connection.socket.writableLength < connection.socket.writableHighWaterMark
        }
        switch framing {
        case .none:
            break
        case .chunked:
            let before = corkedTail.count
            ChunkedEncoder.appendSizeLine(data.count, to: &corkedTail)
            corkedBytes += corkedTail.count - before
            cork(data)
            cork(ChunkedEncoder.chunkEnd)
            bodyBytesSent += data.count
        case .contentLength, .untilClose:
            cork(data)
            bodyBytesSent += data.count
        }
        if corkedBytes >= Self.corkLimit { return flush() }
        let socket = connection.socket
        return socket.writableLength + corkedBytes < socket.writableHighWaterMark
    }

    private func cork(_ buffer: Buffer) {
        if buffer.count <= Self.coalesceLimit {
            cork(buffer.bytes)
            return
        }
        if !corkedTail.isEmpty {
            corked.append(Buffer(corkedTail))
            corkedTail = []
        }
        corked.append(buffer)
        corkedBytes += buffer.count
        scheduleFlush()
    }

    /// Copies small output into the coalescing tail.
    private func cork(_ bytes: [UInt8]) {
        if corkedTail.isEmpty { corkedTail.reserveCapacity(Self.coalesceLimit) }
        corkedTail.append(contentsOf: bytes)
        corkedBytes += bytes.count
        scheduleFlush()
    }

    private func scheduleFlush() {
        if !isFlushScheduled {
            isFlushScheduled = true
            connection.socket.loop.nextTick { [self] in
                isFlushScheduled = false
                flush()
            }
        }
    }

    /// Hands everything held back to the socket; returns the socket's backpressure answer.
    @discardableResult
    private func flush() -> Bool {
        if !corkedTail.isEmpty {
            let tail = Buffer(corkedTail)
            corkedTail = []
            if corked.isEmpty {
                corkedBytes = 0
                return connection.socket.write(contentsOf: CollectionOfOne(tail))
            }
            corked.append(tail)
        }
        guard !corked.isEmpty else { return true }
        let parts = corked
        corked.removeAll(keepingCapacity: true)
        corkedBytes = 0
        return connection.socket.write(contentsOf: parts)
    }

    /// Sends `count` bytes of the open regular file `descriptor` from `offset` as body (one chunk when chunked) with
    /// sendfile(2): nothing is read into memory, so any size costs the same few bytes of queue, and a slow client
    /// only leaves the region queued longer. The response takes the descriptor and closes it once sent, or when
    /// the connection closes. Returns the same backpressure answer as `write(_:)`.
    ///
    /// The file must hold `count` bytes from `offset` until they are sent: if it turns out shorter, the connection
    /// is cut (the framing already promised those bytes).
    @discardableResult
    public func write(file descriptor: Int32, offset: Int = 0, count: Int) -> Bool {
        if !headersSent { writeHead(status) }
        let socket = connection.socket
        guard !finished, count > 0 else {
            FileSystem.close(descriptor)
            return socket.writableLength < socket.writableHighWaterMark
        }
        switch framing {
        case .none:
            FileSystem.close(descriptor)
            return socket.writableLength < socket.writableHighWaterMark
        case .chunked:
            let before = corkedTail.count
            ChunkedEncoder.appendSizeLine(count, to: &corkedTail)
            corkedBytes += corkedTail.count - before
        case .contentLength, .untilClose:
            break
        }
        bodyBytesSent += count
        // What is corked goes first (the head, the size line), then the region; the chunk's CRLF follows it.
        flush()
        let below = socket.write(file: descriptor, offset: offset, count: count, closesDescriptor: true)
        if case .chunked = framing { cork(ChunkedEncoder.chunkEnd) }
        return below
    }

    /// Sends the UTF-8 bytes of `text`; see `write(_:)`.
    @discardableResult
    public func write(_ text: String) -> Bool { write(Buffer(text)) }

    /// Finishes the response (the last chunk for chunked framing). The connection then serves the next request or
    /// closes.
    public func end(_ data: Buffer? = nil) {
        if let data { write(data) }
        guard !finished else { return }
        if !headersSent { writeHead(status) }
        finished = true
        if case .chunked = framing { cork(ChunkedEncoder.lastChunk) }
        flush()
        if case .untilClose = framing { keepAlive = false }
        finishListeners.emit(())
        releaseListeners()
        connection.responseFinished(self)
    }

    /// Cuts the connection without finishing the response (the client sees a truncated body): for failures after
    /// the status line has gone out.
    public func abort() {
        connection.socket.destroy()
    }

    /// Calls `listener` when the connection can take more after `write` returned false.
    public func onDrain(_ listener: @escaping () -> Void) { drainListeners.append(listener) }

    /// Calls `listener` if the connection closes before the response is finished (the client went away).
    public func onClose(_ listener: @escaping () -> Void) { closeListeners.append(listener) }

    /// Calls `listener` once `end` has been called.
    public func onFinish(_ listener: @escaping () -> Void) { finishListeners.append(listener) }

    func connectionDrained() { drainListeners.emit(()) }

    func connectionClosed() {
        guard !finished else { return }
        finished = true
        closeListeners.emit(())
        releaseListeners()
    }

    /// Once finished or closed no listener can run again; dropping them breaks the cycles that handlers make by
    /// capturing the response in its own listeners (a leak per connection that closed before its response finished,
    /// found by the fault suite's connection storm).
    private func releaseListeners() {
        drainListeners.removeAll()
        closeListeners.removeAll()
        finishListeners.removeAll()
    }
}

@available(*, unavailable)
extension HTTPServerResponse: Sendable {}
