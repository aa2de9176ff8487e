import NetCore
import NetCoreHTTP

/// One WebSocket connection, either end (Node `ws`'s `WebSocket`, with Swift types).
///
/// A server gets these from `WebSocketServer`'s `connection` event; a client makes one with `WebSocket(url:)`.
/// Events: `open`, `message` (text or binary, `isBinary`), `ping`, `pong`, `close(code, reason)`, `error`, `drain`.
///
/// Backpressure comes from the socket: `send` returns false once `bufferedAmount` reaches the socket's high-water
/// mark, and `drain` follows when it has been written out; nothing queues beyond the socket's own buffer. While our
/// own output is backed up (a peer that sends pings but reads nothing), the connection stops reading, so automatic
/// pongs cannot pile up without bound.
public final class WebSocket {
    /// Node `ws`'s `readyState` values.
    public enum ReadyState: Int, Sendable {
        /// The client's handshake is in progress.
        case connecting = 0
        /// Messages flow.
        case open = 1
        /// A close frame was sent or received, or the connection is being torn down.
        case closing = 2
        /// The connection is closed.
        case closed = 3
    }

    /// A received message.
    public enum Message: Equatable, Sendable {
        /// A text message.
        case text(String)
        /// A binary message.
        case binary(Buffer)

        /// Whether it is binary (`ws`'s `isBinary`).
        public var isBinary: Bool {
            if case .binary = self { return true }
            return false
        }
        /// The bytes (a text message's UTF-8).
        public var data: Buffer {
            switch self {
            case .text(let text): Buffer(text)
            case .binary(let data): data
            }
        }
        /// The text of a text message; nil for binary.
        public var text: String? {
            if case .text(let text) = self { return text }
            return nil
        }
    }

    /// Limits and timeouts, with Node `ws`'s defaults.
    public struct Options: Sendable {
        /// The largest message accepted, after inflation (1009 beyond); 0 for no limit. `ws`: 100 MiB.
        public var maxPayload = WebSocketFrameParser.defaultMaxMessageBytes
        /// How long to wait for the peer's close frame (or, after the handshake, for the connection to end) before
        /// destroying the socket. `ws`: 30 s.
        public var closeTimeout = 30_000
        /// Answer pings with pongs automatically. `ws`: true.
        public var autoPong = true
        /// Send a ping this often (ms) and terminate the connection if the previous one got no pong; 0 for none
        /// (`ws` leaves this to the application; its documentation's heartbeat, built in).
        public var keepAliveInterval = 0
        /// Client only: the time allowed for the opening handshake, from the connection attempt; 0 for no limit.
        /// (`ws` has no default; 30 s here, so a silent server cannot hold a client forever.)
        public var handshakeTimeout = 30_000
        /// permessage-deflate (RFC 7692): offered by a client, accepted by a server; nil to disable.
        public var perMessageDeflate: PerMessageDeflateOptions? = nil

        /// `ws`'s defaults: 100 MiB messages, 30 s close timeout, automatic pongs, no keep-alive pings.
        public init() {}
    }

    /// The loop the connection lives on.
    public let loop: EventLoop
    /// Which end this is.
    public let role: WebSocketFrameParser.Role
    /// The URL a client connected to; the request target on the server.
    public let url: String
    /// The connection's state.
    public internal(set) var readyState: ReadyState
    /// The subprotocol the server chose ("" for none).
    public internal(set) var `protocol` = ""
    /// The extensions negotiated, as the `Sec-WebSocket-Extensions` value ("" for none).
    public internal(set) var extensions = ""
    /// Bytes written but not yet handed to the kernel (`ws`'s `bufferedAmount`).
    public var bufferedAmount: Int { socket?.writableLength ?? 0 }
    /// The underlying socket (nil for a client before it connects).
    public internal(set) var socket: Socket?

    let options: Options
    var parser: WebSocketFrameParser
    var deflate: PerMessageDeflate?
    private var handshake = WebSocketCloseHandshake()
    private var closeCode = WebSocketCloseCode.abnormal
    private var closeReason = ""
    private var closeTimer: Timeout?
    private var keepAliveTimer: Timeout?
    private var isAlive = true
    private var isPausedByUser = false
    private var isPausedForWrites = false
    /// Random bytes for masking keys, drawn from the CSPRNG in batches (a client masks every frame, §5.3).
    private var maskPool: [UInt8] = []
    private var maskPoolIndex = 0
    // Client handshake state (see WebSocket+Client.swift).
    var handshakeKey = ""
    var offeredProtocols: [String] = []
    var responseHead: [UInt8] = []
    var handshakeTimer: Timeout?

    var openListeners = Listeners<Void>()
    var messageListeners = Listeners<Message>()
    var pingListeners = Listeners<Buffer>()
    var pongListeners = Listeners<Buffer>()
    var closeListeners = Listeners<(code: UInt16, reason: String)>()
    var errorListeners = Listeners<WebSocketError>()
    var drainListeners = Listeners<Void>()

    /// A connection in `role`; `attach` gives it its socket.
    init(loop: EventLoop, role: WebSocketFrameParser.Role, url: String, options: Options, readyState: ReadyState) {
        self.loop = loop
        self.role = role
        self.url = url
        self.options = options
        self.readyState = readyState
        self.parser = WebSocketFrameParser(role: role, maxMessageBytes: options.maxPayload)
    }

    /// A server-side connection on `socket`, whose handshake has been answered.
    static func accepted(
        socket: Socket, url: String, protocol chosen: String, deflate: PerMessageDeflate?, options: Options
    ) -> WebSocket {
        let webSocket = WebSocket(loop: socket.loop, role: .server, url: url, options: options, readyState: .open)
        webSocket.protocol = chosen
        webSocket.useDeflate(deflate)
        webSocket.attach(socket)
        webSocket.startKeepAlive()
        return webSocket
    }

    func useDeflate(_ deflate: PerMessageDeflate?) {
        self.deflate = deflate
        parser.inflater = deflate
        extensions = deflate?.responseValue ?? ""
    }

    /// Takes `socket` over: its data, end, drain and close drive this connection. The socket's listeners hold the
    /// connection (as the socket holds a `ws` in Node), so it lives while the socket is open without the program
    /// keeping it; the socket drops its listeners once closed, which ends the cycle.
    func attach(_ socket: Socket) {
        self.socket = socket
        socket.on(.data) { [self] chunk in received(chunk.bytes) }
        socket.on(.end) { [self] in peerEnded() }
        socket.on(.drain) { [self] in drained() }
        socket.on(.error) { [self] error in socketFailed(error) }
        socket.on(.close) { [self] _ in socketClosed() }
    }

    // MARK: - Sending

    /// Sends a text message; false when the socket's buffer is full (wait for `drain`) or the connection is not
    /// open (then nothing is sent).
    @discardableResult
    public func send(_ text: String) -> Bool { sendMessage(.text, Array(text.utf8)) }

    /// Sends a binary message; false as for `send(_: String)`.
    @discardableResult
    public func send(_ data: Buffer) -> Bool { sendMessage(.binary, data.bytes) }

    /// Sends a binary message; false as for `send(_: String)`.
    @discardableResult
    public func send(_ bytes: [UInt8]) -> Bool { sendMessage(.binary, bytes) }

    /// Sends `message` as it came (text or binary): an echo.
    @discardableResult
    public func send(_ message: Message) -> Bool {
        switch message {
        case .text(let text): send(text)
        case .binary(let data): send(data)
        }
    }

    private func sendMessage(_ opcode: WebSocketOpcode, _ payload: [UInt8]) -> Bool {
        guard readyState == .open, let socket, !socket.destroyed else { return false }
        if let deflate, payload.count >= deflate.options.threshold {
            return writeFrame(opcode, deflate.compress(payload), rsv1: true)
        }
        return writeFrame(opcode, payload)
    }

    /// Sends a ping (at most 125 bytes of data).
    public func ping(_ data: [UInt8] = []) {
        precondition(data.count <= 125, "a ping carries at most 125 bytes")
        guard readyState == .open else { return }
        writeFrame(.ping, data)
    }

    /// Sends a pong (at most 125 bytes of data); pings are answered automatically unless `autoPong` is off.
    public func pong(_ data: [UInt8] = []) {
        precondition(data.count <= 125, "a pong carries at most 125 bytes")
        guard readyState == .open else { return }
        writeFrame(.pong, data)
    }

    @discardableResult
    private func writeFrame(_ opcode: WebSocketOpcode, _ payload: [UInt8], rsv1: Bool = false) -> Bool {
        guard let socket, !socket.destroyed, !socket.writableEnded else { return false }
        switch role {
        case .server:
            let header = WebSocketFrameEncoder.header(opcode: opcode, payloadLength: payload.count, rsv1: rsv1)
            return payload.isEmpty ? socket.write(header) : socket.write(Buffer(header), Buffer(payload))
        case .client:
            return socket.write(
                WebSocketFrameEncoder.frame(opcode: opcode, payload: payload, rsv1: rsv1, maskingKey: nextMaskingKey()))
        }
    }

    private func nextMaskingKey() -> UInt32 {
        if maskPoolIndex + 4 > maskPool.count {
            maskPool = SystemRandom.bytes(1024)
            maskPoolIndex = 0
        }
        defer { maskPoolIndex += 4 }
        return maskPool[maskPoolIndex..<(maskPoolIndex + 4)].reduce(0) { $0 << 8 | UInt32($1) }
    }

    // MARK: - Closing

    /// Starts the closing handshake (`ws`'s `close(code, reason)`): a close frame with `code` (nil for none; else a
    /// code `WebSocketCloseCode.isValid` accepts) and `reason` (cut to 123 bytes). The socket is destroyed if the
    /// peer has not answered within `closeTimeout`. Closing a client that is still connecting aborts it.
    public func close(code: UInt16? = nil, reason: String = "") {
        if let code { precondition(WebSocketCloseCode.isValid(code), "invalid close code \(code)") }
        switch readyState {
        case .closed:
            return
        case .connecting:
            fail(WebSocketError(
                closeCode: WebSocketCloseCode.abnormal, code: "ERR_WS_CLOSED_BEFORE_OPEN",
                message: "WebSocket was closed before the connection was established"))
            return
        case .open, .closing:
            perform(handshake.close(code: code, reason: reason))
        }
    }

    /// Destroys the connection at once, without a closing handshake (`ws`'s `terminate()`).
    public func terminate() {
        guard readyState != .closed else { return }
        if readyState == .connecting {
            close()
            return
        }
        readyState = .closing
        if let socket {
            socket.destroy()
        } else {
            finishClosed()
        }
    }

    /// Stops reading from the socket (`ws`'s `pause()`): messages stop arriving and the peer is pushed back.
    public func pause() {
        isPausedByUser = true
        socket?.pause()
    }

    /// Reads again after `pause()`.
    public func resume() {
        isPausedByUser = false
        if !isPausedForWrites { socket?.resume() }
    }

    /// Whether `pause()` is in effect.
    public var isPaused: Bool { isPausedByUser }

    private func perform(_ action: WebSocketCloseHandshake.Action) {
        switch action {
        case .none:
            return
        case .sendClose(let code, let reason):
            readyState = .closing
            writeFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
            startCloseTimer()
        case .sendCloseAndEnd(let code, let reason):
            readyState = .closing
            writeFrame(.close, WebSocketFrameEncoder.closePayload(code: code, reason: reason))
            socket?.end()
            startCloseTimer()
        case .end:
            socket?.end()
            startCloseTimer()
        }
    }

    private func startCloseTimer() {
        guard closeTimer == nil, let socket else { return }
        closeTimer = loop.setTimeout(options.closeTimeout) { socket.destroy() }.unref()
    }

    /// Fails the connection from our side (a handshake error, a close before open): `error`, then `close` (1006).
    func fail(_ error: WebSocketError) {
        guard readyState != .closed else { return }
        readyState = .closing
        errorListeners.emit(error)
        if let socket, !socket.destroyed {
            socket.destroy()
        } else {
            finishClosed()
        }
    }

    // MARK: - Input

    func received(_ bytes: [UInt8]) {
        if readyState == .connecting {
            receivedHandshakeBytes(bytes)
            return
        }
        deliver(parser.feed(bytes))
    }

    /// Handles what the parser produced; stops as soon as a listener closed the connection.
    func deliver(_ events: [WebSocketFrameParser.Event]) {
        for event in events {
            guard readyState != .closed else { return }
            switch event {
            case .text(let text):
                if readyState == .open { messageListeners.emit(.text(text)) }
            case .binary(let bytes):
                if readyState == .open { messageListeners.emit(.binary(Buffer(bytes))) }
            case .ping(let data):
                if options.autoPong && readyState == .open { writeFrame(.pong, data) }
                pingListeners.emit(Buffer(data))
            case .pong(let data):
                isAlive = true
                pongListeners.emit(Buffer(data))
            case .close(let code, let reason):
                closeCode = code ?? WebSocketCloseCode.noStatus
                closeReason = reason
                perform(handshake.receivedClose(code: code, reason: reason))
            case .error(let error):
                closeCode = error.closeCode
                let action = handshake.failed(error)
                readyState = .closing
                errorListeners.emit(error)
                perform(action)
            }
        }
        // Our own output is backed up (pongs to a flood of pings, echoes to a peer that does not read): read no
        // more until it drains, so nothing grows without bound.
        if let socket, !isPausedForWrites, socket.writableLength >= socket.writableHighWaterMark {
            isPausedForWrites = true
            socket.pause()
        }
    }

    private func drained() {
        if isPausedForWrites {
            isPausedForWrites = false
            if !isPausedByUser { socket?.resume() }
        }
        drainListeners.emit(())
    }

    private func peerEnded() {
        // The peer will send nothing more: end our side too (`ws`'s socketOnEnd).
        if readyState == .open || readyState == .connecting { readyState = .closing }
        socket?.end()
    }

    private func socketFailed(_ error: SocketError) {
        // A reset after the handshake is a close with 1006, as in `ws`; before it (a refused connection) the
        // client reports it.
        if readyState == .connecting {
            errorListeners.emit(WebSocketError(closeCode: WebSocketCloseCode.abnormal, code: error.code, message: error.message))
        }
    }

    private func socketClosed() {
        finishClosed()
    }

    private func finishClosed() {
        guard readyState != .closed else { return }
        readyState = .closed
        closeTimer?.cancel()
        closeTimer = nil
        keepAliveTimer?.cancel()
        keepAliveTimer = nil
        handshakeTimer?.cancel()
        handshakeTimer = nil
        deflate?.release()
        closeListeners.emit((closeCode, closeReason))
    }

    // MARK: - Keep-alive

    func startKeepAlive() {
        guard options.keepAliveInterval > 0 else { return }
        keepAliveTimer = loop.setInterval(options.keepAliveInterval) { [weak self] in
            guard let self, readyState == .open else { return }
            if !isAlive {
                terminate()
                return
            }
            isAlive = false
            ping()
        }.unref()
    }

    func emitOpen() {
        startKeepAlive()
        openListeners.emit(())
    }
}

@available(*, unavailable)
extension WebSocket: Sendable {}
