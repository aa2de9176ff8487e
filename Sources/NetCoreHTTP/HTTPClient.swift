import NetCore

/// A one-shot HTTP/1.1 client over NetCore: sends one request over a Unix socket or TCP and reports the response
/// head, each body chunk as it arrives (chunked coding decoded), and the end. A request body, if any, is sent with
/// chunked framing, one chunk per part.
public final class HTTPClientRequest {
    /// Where to connect.
    public enum Destination: Sendable {
        case unix(path: String)
        case tcp(host: String, port: Int)
    }

    private let socket: Socket
    private var parser: HTTPResponseParser
    private var responseListeners = Listeners<HTTPResponseParser.Head>()
    private var dataListeners = Listeners<Buffer>()
    private var endListeners = Listeners<Void>()
    private var errorListeners = Listeners<String>()
    private var isDone = false

    /// Starts the request: `method target` with `headers` (a `Host` is added when missing), and `body` parts.
    public init(
        loop: EventLoop = .current,
        method: String = "GET",
        target: String,
        destination: Destination,
        headers: HTTPHeaders = HTTPHeaders(),
        body: [Buffer] = []
    ) {
        socket = Socket(loop: loop)
        parser = HTTPResponseParser(isHeadRequest: method == "HEAD")
        var headers = headers
        if headers["Host"] == nil { headers.add(name: "Host", value: "localhost") }
        if !body.isEmpty { headers.replaceOrAdd(name: "Transfer-Encoding", value: "chunked") }
        var text = "\(method) \(target) HTTP/1.1\r\n"
        for (name, value) in headers { text += "\(name): \(value)\r\n" }
        text += "\r\n"
        var parts = [Buffer(text)]
        for part in body where !part.isEmpty {
            parts += ChunkedEncoder.frame(part.bytes).map(Buffer.init)
        }
        if !body.isEmpty { parts.append(Buffer(ChunkedEncoder.lastChunk)) }
        socket.write(contentsOf: parts)

        socket.on(.data) { [unowned self] chunk in handle(parser.feed(chunk.bytes)) }
        socket.on(.end) { [unowned self] in handle(parser.finish()) }
        socket.on(.error) { [unowned self] error in fail(error.message) }
        socket.on(.close) { [unowned self] _ in
            if !isDone { fail("connection closed before the response was complete") }
        }
        switch destination {
        case .unix(let path): socket.connect(path: path)
        case .tcp(let host, let port): socket.connect(port: port, host: host)
        }
    }

    private func handle(_ events: [HTTPResponseParser.Event]) {
        for event in events where !isDone {
            switch event {
            case .head(let head): responseListeners.emit(head)
            case .body(let bytes): dataListeners.emit(Buffer(bytes))
            case .end:
                isDone = true
                endListeners.emit(())
                socket.end()
            case .error(let error): fail(error.reason)
            }
        }
    }

    private func fail(_ message: String) {
        guard !isDone else { return }
        isDone = true
        errorListeners.emit(message)
        socket.destroy()
    }

    /// Calls `listener` with the status line and headers.
    @discardableResult
    public func onResponse(_ listener: @escaping (HTTPResponseParser.Head) -> Void) -> Self {
        responseListeners.append(listener)
        return self
    }

    /// Calls `listener` with each body chunk as it arrives.
    @discardableResult
    public func onData(_ listener: @escaping (Buffer) -> Void) -> Self {
        dataListeners.append(listener)
        return self
    }

    /// Calls `listener` when the response is complete.
    @discardableResult
    public func onEnd(_ listener: @escaping () -> Void) -> Self {
        endListeners.append(listener)
        return self
    }

    /// Calls `listener` with a one-line message if the connection or the response fails.
    @discardableResult
    public func onError(_ listener: @escaping (String) -> Void) -> Self {
        errorListeners.append(listener)
        return self
    }
}

@available(*, unavailable)
extension HTTPClientRequest: Sendable {}
