/// A TCP or Unix-domain stream socket with Node's `net.Socket` semantics.
///
/// Events arrive in Node's order: `data* → end → finish → close(false)` for a clean close; `destroy()` gives only
/// `close(false)`; `destroy(error)` and a peer reset give `error` then `close(true)`. Error, close and failed-connect
/// events never fire inside the call that caused them. Loop-confined: use it on its loop's thread only.
///
/// `open` only so NetCoreTLS's `TLSSocket` can be a `Socket` (Node's `TLSSocket extends net.Socket`), which lets
/// every consumer of sockets (`Server`'s listeners, `HTTPServer`) take either unchanged. Nothing is overridable:
/// every public member is `final` and the rest is internal, so calls stay static (no vtable on the hot path), and
/// the one variation point is `transport`, a stored hook that is nil for a plain socket.
open class Socket: IOHandler {
    /// Node's `socket.readyState`.
    public enum ReadyState: String, Sendable {
        case opening, open, readOnly, writeOnly, closed
    }

    /// Text encodings for `setEncoding`.
    public enum Encoding: Sendable {
        /// UTF-8, decoded across chunk boundaries (Node's StringDecoder contract).
        case utf8
    }

    /// The loop this socket lives on.
    public let loop: EventLoop
    /// Whether the socket stays writable after the peer's FIN until `end()` is called (Node's `allowHalfOpen`).
    public let allowHalfOpen: Bool
    /// `write()` returns false once this many bytes are queued (Node's `writableHighWaterMark`, 16 KiB).
    @exclusivity(unchecked) public final var writableHighWaterMark = 16 * 1024

    // `@exclusivity(unchecked)` on the state below: a socket is confined to its loop's thread, and no method keeps
    // an access to these properties open across a call into user code (listeners are emitted from copies), so the
    // runtime's dynamic exclusivity checks can never fire; they cost a quarter of the instructions per echoed
    // message (callgrind: swift_beginAccess and its thread-local access set).

    /// The connection's descriptor, owned by this socket alone and closed exactly once, in `closeDescriptor()`.
    /// A plain value rather than a `FileDescriptor` object: one allocation less per connection.
    @exclusivity(unchecked) var fd: SocketDescriptor?
    @exclusivity(unchecked) var server: Server?
    /// Links in the server's list of open connections.
    @exclusivity(unchecked) var nextConnection: Socket?
    // unowned(unsafe): the previous socket holds this one strongly, so it outlives the link (no weak side table).
    unowned(unsafe) var previousConnection: Socket?
    @exclusivity(unchecked) var interest: Interest = []
    @exclusivity(unchecked) var isRegistered = false
    @exclusivity(unchecked) var isConnecting = false
    /// Addresses still to try if the current connection attempt fails, and the one being tried.
    /// Present only while connecting: the addresses still to try and the one being tried.
    @exclusivity(unchecked) var connectState: ConnectState?

    @exclusivity(unchecked) var isDestroyed = false
    @exclusivity(unchecked) var readEnded = false
    @exclusivity(unchecked) var endEmitted = false
    @exclusivity(unchecked) var endCalled = false
    @exclusivity(unchecked) var shutdownSent = false
    @exclusivity(unchecked) var finishEmitted = false
    @exclusivity(unchecked) var peerEnded = false
    /// nil until data is wanted (Node's `readableFlowing`): true after `resume()` or a data listener, false after `pause()`.
    @exclusivity(unchecked) private var flowing: Bool?
    /// Bytes read while nobody listened for `data`, delivered when someone does (bounded by `readableHighWaterMark`).
    @exclusivity(unchecked) var unconsumed: [Buffer] = []
    @exclusivity(unchecked) private var unconsumedBytes = 0
    @exclusivity(unchecked) var writeQueue = WriteQueue()
    @exclusivity(unchecked) var needDrain = false
    /// The last read was at least `largeRead` bytes: read the next into a new array of its own (handed to `data`
    /// listeners as it is) instead of into the loop's buffer and then copying. Small reads keep using the shared
    /// buffer, copied out right-sized, so an idle connection holds no read buffer.
    @exclusivity(unchecked) private var readsAreLarge = false
    @exclusivity(unchecked) private var textDecoder: TextDecoderBox?
    @exclusivity(unchecked) private var isReferenced = true
    @exclusivity(unchecked) private var isCountedAlive = false
    @exclusivity(unchecked) var idle: IdleTimeoutState?

    /// Bytes received.
    @exclusivity(unchecked) public private(set) final var bytesRead = 0
    /// Bytes accepted by `write()` (sent or still queued), as Node counts them.
    @exclusivity(unchecked) public internal(set) final var bytesWritten = 0
    /// The address of the other end, once connected.
    public final var remoteSocketAddress: SocketAddress? { addresses?.remote }
    /// The local address, once connected.
    public final var localSocketAddress: SocketAddress? { addresses?.local }

    @exclusivity(unchecked) var dataListeners = Listeners<Buffer>()
    @exclusivity(unchecked) var endListeners = Listeners<Void>()
    @exclusivity(unchecked) var closeListeners = Listeners<Bool>()
    @exclusivity(unchecked) var errorListeners = Listeners<SocketError>()
    /// Listeners for the events most sockets never use, allocated on first use: an idle connection should cost
    /// as little memory as possible.
    @exclusivity(unchecked) var rare: RareListeners?
    var rareListeners: RareListeners {
        if let rare { return rare }
        let created = RareListeners()
        rare = created
        return created
    }
    @exclusivity(unchecked) var addressCache: AddressCache?
    /// What lies between this stream and its descriptor when it is not the descriptor itself (TLS); nil for a plain
    /// socket, whose paths test only this and go straight to the kernel. See `SocketTransport`.
    @exclusivity(unchecked) package final var transport: (any SocketTransport)?

    /// How many bytes are buffered for a socket with no `data` listener before it stops reading from the kernel.
    static let readableHighWaterMark = 16 * 1024
    /// Reads per readiness event, so one busy peer cannot starve the others (libuv reads 32, NIO 4).
    static let readsPerEvent = 16

    /// A socket that is not connected yet; call `connect(port:host:)` or `connect(path:)`.
    public init(loop: EventLoop = .current, allowHalfOpen: Bool = false) {
        self.loop = loop
        self.allowHalfOpen = allowHalfOpen
    }

    /// A socket for a descriptor returned by accept (also what a subclass accepted by a server calls; it installs
    /// its transport right after this returns, before the loop can report anything).
    package init(accepted rawFD: Int32, server: Server) {
        self.loop = server.loop
        self.allowHalfOpen = server.allowHalfOpen
        self.fd = SocketDescriptor(rawValue: rawFD)
        self.server = server
        if server.pauseOnConnect { flowing = false }
        didConnect()
    }

    // MARK: - State

    /// Node's `readyState`: `opening`, `open`, `readOnly`, `writeOnly` or `closed`.
    public final var readyState: ReadyState {
        if isConnecting { return .opening }
        let readable = !isDestroyed && !endEmitted
        let writable = !isDestroyed && !endCalled
        switch (readable, writable) {
        case (true, true): return .open
        case (true, false): return .readOnly
        case (false, true): return .writeOnly
        case (false, false): return .closed
        }
    }

    /// Whether `destroy()` has been called or the socket closed itself.
    public final var destroyed: Bool { isDestroyed }
    /// Whether a connection attempt is in progress.
    public final var connecting: Bool { isConnecting }
    /// Whether `end()` has been called.
    public final var writableEnded: Bool { endCalled }
    /// Bytes queued in user space, waiting for the kernel (Node's `writableLength`).
    public final var writableLength: Int { writeQueue.byteCount + (transport?.pendingByteCount ?? 0) }
    /// Whether reading has been paused with `pause()`.
    public final var isPaused: Bool { flowing == false }

    /// The remote IP address (Node's `remoteAddress`), nil for Unix sockets and before connecting.
    public final var remoteAddress: String? { remoteSocketAddress.flatMap { $0.family == .unix ? nil : $0.host } }
    /// The remote port, nil for Unix sockets and before connecting.
    public final var remotePort: Int? { remoteSocketAddress.flatMap { $0.family == .unix ? nil : $0.port } }
    /// `"IPv4"` or `"IPv6"`, nil for Unix sockets.
    public final var remoteFamily: String? {
        remoteSocketAddress.flatMap { $0.family == .unix ? nil : $0.family.rawValue }
    }
    /// The local IP address, nil for Unix sockets.
    public final var localAddress: String? { localSocketAddress.flatMap { $0.family == .unix ? nil : $0.host } }
    /// The local port, nil for Unix sockets.
    public final var localPort: Int? { localSocketAddress.flatMap { $0.family == .unix ? nil : $0.port } }
    /// The local address (Node's `socket.address()`).
    public final func address() -> SocketAddress? { localSocketAddress }

    // MARK: - Connection established

    /// Called when a connection is up: accepted, or connect completed.
    func didConnect() {
        isConnecting = false
        connectState = nil
        touch()
        updateAlive()
        transport?.connectionDidOpen()
        if server == nil {
            rare?.connect.emit(())
            rare?.ready.emit(())
            guard !isDestroyed else { return }
        }
        if !writeQueue.isEmpty {
            flushWrites()
        } else if endCalled {
            sendShutdown()
        }
        updateInterest()
    }

    // MARK: - Reading

    private var wantsRead: Bool {
        guard !isDestroyed, !isConnecting, !readEnded, fd != nil, flowing != false else { return false }
        return !dataListeners.isEmpty || unconsumedBytes < Self.readableHighWaterMark
    }

    /// Makes sure the poller watches exactly what we need now; an empty interest leaves the epoll set entirely,
    /// because level-triggered HUP/ERR would otherwise be reported forever for a paused socket.
    func updateInterest() {
        guard let fd = fd?.rawValue, !isDestroyed else { return }
        var wanted: Interest = []
        if isConnecting || !writeQueue.isEmpty { wanted.insert(.write) }
        if wantsRead { wanted.insert(.read) }
        guard wanted != interest || (isRegistered != !wanted.isEmpty) else { return }
        do {
            if wanted.isEmpty {
                loop.unregister(fd: fd)
                isRegistered = false
            } else if isRegistered {
                try loop.modify(fd: fd, interest: wanted)
            } else {
                try loop.register(fd: fd, interest: wanted, handler: self)
                isRegistered = true
            }
            interest = wanted
        } catch {
            destroy(SocketError(error))
        }
    }

    func handleIO(_ events: ReadyEvents) {
        if isConnecting {
            finishConnect()
            return
        }
        if interest.contains(.read) && !events.isDisjoint(with: [.read, .hangup, .error]) {
            readFromKernel()
        }
        if !isDestroyed && interest.contains(.write) && !events.isDisjoint(with: [.write, .hangup, .error]) {
            flushWrites()
        }
    }

    private func readFromKernel() {
        if let transport {
            readThrough(transport)
            return
        }
        let buffer = loop.readBuffer
        for _ in 0..<Self.readsPerEvent {
            guard wantsRead, let fd = fd?.rawValue else { return }
            let chunk: Buffer
            do {
                if readsAreLarge {
                    guard let bytes = try Self.readIntoNewArray(fd, capacity: buffer.count) else { return }
                    chunk = Buffer(bytes)
                } else {
                    guard case .processed(let n) = try Posix.read(fd, buffer) else { return }
                    chunk = Buffer(copying: UnsafeRawBufferPointer(rebasing: buffer[0..<n]))
                }
            } catch {
                destroy(SocketError(error))
                return
            }
            let count = chunk.count
            if count == 0 {
                didReceiveEOF()
                return
            }
            readsAreLarge = count >= Self.largeRead
            bytesRead += count
            touch()
            deliver(chunk)
            // A short read means the kernel buffer is empty; don't spend a syscall to learn that again.
            if count < buffer.count { return }
        }
    }

    /// Reads for a socket with a transport: the bytes go to the transport straight from the loop's buffer (it copies
    /// what it keeps, e.g. into OpenSSL's read BIO) and come back, transformed, through `transportDidDecode`.
    private func readThrough(_ transport: any SocketTransport) {
        let buffer = loop.readBuffer
        for _ in 0..<Self.readsPerEvent {
            guard wantsRead, let fd = fd?.rawValue else { return }
            let count: Int
            do {
                guard case .processed(let n) = try Posix.read(fd, buffer) else { return }
                count = n
            } catch {
                destroy(SocketError(error))
                return
            }
            if count == 0 {
                transport.didReceiveEOF()
                return
            }
            touch()
            transport.didReceive(UnsafeRawBufferPointer(rebasing: buffer[0..<count]))
            if count < buffer.count { return }
        }
    }

    /// A read at least this large makes the next one go straight into a new array (see `readsAreLarge`).
    static let largeRead = 16 * 1024

    /// Reads into a new array of `capacity` bytes; nil if the read would block, empty at end of stream. For a peer
    /// that sends large chunks this saves copying each one out of the loop's shared buffer.
    private static func readIntoNewArray(_ fd: Int32, capacity: Int) throws(SystemError) -> [UInt8]? {
        var outcome: Result<IOResult<Int>, SystemError> = .success(.wouldBlock)
        let bytes = [UInt8](unsafeUninitializedCapacity: capacity) { raw, initialized in
            outcome = Result { () throws(SystemError) in try Posix.read(fd, UnsafeMutableRawBufferPointer(raw)) }
            if case .success(.processed(let n)) = outcome { initialized = n }
        }
        guard case .processed = try outcome.get() else { return nil }
        return bytes
    }

    private func deliver(_ chunk: Buffer) {
        var chunk = chunk
        if let textDecoder {
            let text = chunk.bytes.withUnsafeBytes { textDecoder.decoder.write($0) }
            if text.isEmpty { return }
            chunk = Buffer(text)
        }
        if dataListeners.isEmpty || flowing == false {
            unconsumed.append(chunk)
            unconsumedBytes += chunk.count
            if !wantsRead { updateInterest() }
        } else {
            dataListeners.emit(chunk)
        }
    }

    /// Hands buffered chunks to `data` listeners, then emits a deferred `end`.
    private func flushUnconsumed() {
        while !unconsumed.isEmpty && flowing != false && !isDestroyed {
            let chunk = unconsumed.removeFirst()
            unconsumedBytes -= chunk.count
            dataListeners.emit(chunk)
        }
        if unconsumed.isEmpty && readEnded && !endEmitted && !isDestroyed {
            emitEnd()
        }
        updateInterest()
    }

    func didReceiveEOF() {
        readEnded = true
        updateInterest()
        if unconsumed.isEmpty {
            emitEnd()
        }
    }

    private func emitEnd() {
        guard !endEmitted else { return }
        if let textDecoder {
            let tail = textDecoder.decoder.end()
            if !tail.isEmpty { dataListeners.emit(Buffer(tail)) }
            guard !isDestroyed else { return }
        }
        endEmitted = true
        peerEnded = true
        endListeners.emit(())
        guard !isDestroyed else { return }
        // Node's endReadableNT: end our side on the next tick unless half-open is allowed,
        // or destroy now if our side has already finished.
        if !endCalled && !allowHalfOpen {
            loop.nextTick { [self] in end() }
        } else if finishEmitted {
            destroy()
        }
    }

    /// Stops reading from the kernel; data stays in the kernel's buffer (flow control reaches the peer).
    @discardableResult
    public final func pause() -> Socket {
        flowing = false
        updateInterest()
        return self
    }

    /// Starts or restarts reading, first delivering anything buffered while paused.
    @discardableResult
    public final func resume() -> Socket {
        flowing = true
        if !unconsumed.isEmpty || (readEnded && !endEmitted) {
            loop.nextTick { [self] in flushUnconsumed() }
        }
        updateInterest()
        return self
    }

    /// Decodes incoming bytes as text: `data` chunks then hold only whole characters, and a truncated
    /// trailing sequence becomes U+FFFD before `end`.
    @discardableResult
    public final func setEncoding(_ encoding: Encoding = .utf8) -> Socket {
        if textDecoder == nil { textDecoder = TextDecoderBox() }
        return self
    }

    /// Called when the first `data` listener is added: switch to flowing mode unless paused explicitly.
    func didAddDataListener() {
        guard flowing != false else { return }
        flowing = true
        if !unconsumed.isEmpty || (readEnded && !endEmitted) {
            loop.nextTick { [self] in flushUnconsumed() }
        }
        updateInterest()
    }

    // MARK: - Liveness and timeouts

    func updateAlive() {
        loop.setAlive(&isCountedAlive, isReferenced && !isDestroyed && (fd != nil || isConnecting))
    }

    /// Lets the loop end while this socket is open (Node's `socket.unref()`).
    @discardableResult
    public final func unref() -> Socket {
        isReferenced = false
        updateAlive()
        return self
    }

    /// Makes this socket keep the loop alive again.
    @discardableResult
    public final func ref() -> Socket {
        isReferenced = true
        updateAlive()
        return self
    }

    /// Records activity for the idle timeout.
    @inline(__always)
    func touch() {
        guard let idle else { return }
        idle.lastActivity = loop.now
        if idle.timeout > 0 && !idle.isArmed { armIdleTimer(idle, after: idle.timeout) }
    }

    /// Emits `timeout` after `milliseconds` without reads or writes; 0 disables. The socket is not closed:
    /// that is the listener's decision, as in Node. The timer does not keep the loop alive.
    @discardableResult
    public final func setTimeout(_ milliseconds: Int, _ callback: (() -> Void)? = nil) -> Socket {
        let idle = self.idle ?? IdleTimeoutState()
        self.idle = idle
        idle.timeout = max(0, milliseconds)
        if let callback { rareListeners.timeout.appendOnce(callback) }
        idle.timer?.cancel()
        idle.isArmed = false
        if idle.timeout > 0 && !isDestroyed {
            idle.lastActivity = loop.now
            armIdleTimer(idle, after: idle.timeout)
        }
        return self
    }

    private func armIdleTimer(_ idle: IdleTimeoutState, after milliseconds: Int) {
        idle.isArmed = true
        idle.timer = loop.setTimeout(milliseconds) { [weak self] in self?.idleTimerFired() }.unref()
    }

    private func idleTimerFired() {
        guard let idle else { return }
        idle.isArmed = false
        guard idle.timeout > 0, !isDestroyed else { return }
        let elapsed = Int(loop.now &- idle.lastActivity)
        if elapsed >= idle.timeout {
            // Fires once per idle period; the next activity re-arms it (Node refreshes on activity).
            rare?.timeout.emit(())
        } else {
            armIdleTimer(idle, after: idle.timeout - elapsed)
        }
    }
}

/// `setTimeout` bookkeeping, allocated only for sockets that use it.
final class IdleTimeoutState {
    var timeout = 0
    var timer: Timeout?
    var isArmed = false
    var lastActivity: UInt64 = 0
}

/// The text decoder of a socket after `setEncoding`, boxed so other sockets pay one pointer for it.
final class TextDecoderBox {
    var decoder = UTF8StreamDecoder()
}

@available(*, unavailable)
extension Socket: Sendable {}

/// The listeners of a socket's less common events.
final class RareListeners {
    // Unchecked exclusivity, as the socket's own state: loop-confined, emitted from copies.
    @exclusivity(unchecked) var connect = Listeners<Void>()
    @exclusivity(unchecked) var ready = Listeners<Void>()
    @exclusivity(unchecked) var finish = Listeners<Void>()
    @exclusivity(unchecked) var drain = Listeners<Void>()
    @exclusivity(unchecked) var timeout = Listeners<Void>()
}

/// Addresses fetched from the kernel on first use and kept (Node's `_getpeername`/`_getsockname` caching).
final class AddressCache {
    let remote: SocketAddress?
    let local: SocketAddress?
    init(remote: SocketAddress?, local: SocketAddress?) {
        self.remote = remote
        self.local = local
    }
}

/// The addresses a connecting socket still has to try.
final class ConnectState {
    var candidates: [SocketAddress]
    var target: SocketAddress?
    init(candidates: [SocketAddress]) { self.candidates = candidates }
}

extension Socket {
    /// The socket's addresses, read from the kernel once; nil before the connection is up (and after a close, if
    /// never asked while open), as in Node.
    var addresses: AddressCache? {
        if let addressCache { return addressCache }
        guard let fd = fd?.rawValue, !isConnecting else { return nil }
        let cache = AddressCache(remote: Posix.peerAddress(fd), local: Posix.localAddress(fd))
        addressCache = cache
        return cache
    }
}

/// A socket's raw descriptor number.
struct SocketDescriptor {
    let rawValue: Int32
}

extension Socket {
    /// Leaves the poller and closes the descriptor; the only place a socket's descriptor is closed.
    func closeDescriptor() {
        guard let fd else { return }
        if isRegistered { loop.unregister(fd: fd.rawValue) }
        isRegistered = false
        interest = []
        Posix.close(fd.rawValue)
        self.fd = nil
    }
}

/// What lies under a socket's stream state machine when it is not the plain descriptor: NetCoreTLS's TLS session.
///
/// The socket keeps everything Node's `net.Socket` defines (events and their order, flowing and paused modes,
/// `allowHalfOpen`, the high-water mark and `drain`, timeouts, the gathering write queue, `MSG_NOSIGNAL`,
/// half-close); the transport only transforms bytes. Raw bytes read from the descriptor go to `didReceive`, and what
/// they decode to comes back through `transportDidDecode`; bytes written by the user go to `write`, and what they
/// encode to comes back through `transportWillSend`. The socket consults the transport only where it must:
/// `pendingByteCount` (bytes accepted but not yet in the write queue) counts toward `writableLength`, the
/// high-water mark and `drain`; `allowsShutdown` holds FIN back until the transport's closing bytes are queued.
package protocol SocketTransport: AnyObject {
    /// The descriptor is connected (accepted, or the connection attempt completed): start talking.
    func connectionDidOpen()
    /// Bytes read from the descriptor; valid only during the call.
    func didReceive(_ bytes: UnsafeRawBufferPointer)
    /// The descriptor reached end of stream. The transport decides what that means: the end of the stream
    /// (`Socket.transportDidReachEnd()`) or an error (`destroy(_:)`).
    func didReceiveEOF()
    /// Bytes from `write()`, in order.
    func write(_ bytes: [UInt8])
    /// A file region from `write(file:)`, in order with the bytes around it; read (`FileRegion.readPiece`) when
    /// the queue drains.
    func write(file region: FileRegion)
    /// The socket's write queue drained and `pendingByteCount` is not zero: queue the next piece (through
    /// `transportWillSend`), without flushing (the socket is flushing).
    func writeQueueDidDrain()
    /// `end()` was called: queue whatever closes the transport's own stream.
    func didEnd()
    /// The socket was destroyed; drop timers and state (no more bytes go out).
    func didDestroy()
    /// Bytes accepted by `write` that are not yet in the socket's write queue (e.g. plaintext waiting for a handshake).
    var pendingByteCount: Int { get }
    /// Whether FIN may follow once the write queue drains (false until the transport's closing bytes are queued).
    var allowsShutdown: Bool { get }
}

extension Socket {
    // MARK: - The transport's side

    /// Bytes the transport decoded from what was read: delivered as a read of the plain socket would be.
    package final func transportDidDecode(_ chunk: Buffer) {
        guard !isDestroyed, !chunk.isEmpty else { return }
        bytesRead += chunk.count
        deliver(chunk)
    }

    /// The transport's stream ended cleanly (TLS close_notify, or a FIN it accepts as the end): `end` as for a FIN.
    package final func transportDidReachEnd() {
        guard !isDestroyed, !readEnded else { return }
        didReceiveEOF()
    }

    /// Bytes the transport wants sent, queued after everything before them; `transportFlush()` sends them.
    package final func transportWillSend(_ bytes: [UInt8]) {
        guard !isDestroyed else { return }
        writeQueue.append(bytes)
    }

    /// Sends what is queued (and FIN if `end()` was called and the transport allows it), once connected.
    package final func transportFlush() {
        guard !isDestroyed, !isConnecting, fd != nil else { return }
        flushWrites()
    }

    /// Whether `end()` has been called (the transport may need to close its own stream once it can).
    package final var transportEndCalled: Bool { endCalled }

    /// Scratch space for the transport's output (decoded bytes before they are copied out): the loop's read buffer,
    /// whose ciphertext the transport has already consumed when `didReceive` gets to decoding. Never valid across
    /// calls.
    package final var transportScratch: UnsafeMutableRawBufferPointer { loop.readBuffer }
}
