@preconcurrency import Glibc

/// A readable stream over any file descriptor: standard input whether it is a TTY, a pipe, a socket, a regular file
/// or `/dev/null` (as Node's `process.stdin`).
///
/// Pipes, TTYs and sockets are watched with the poller and read once per readiness, so the descriptor's blocking
/// mode is left alone (it is shared with the parent shell). epoll refuses regular files and `/dev/null` (EPERM); those
/// are always readable, so they are read one chunk per loop turn instead.
public final class ReadStream: IOHandler {
    /// The loop this stream lives on.
    public let loop: EventLoop
    /// The descriptor read from.
    public let descriptor: Int32
    private let ownsDescriptor: Bool
    private var isPollable = true
    private var isRegistered = false
    private var flowing = false
    private var isReadScheduled = false
    private var isEnded = false
    private var isDestroyed = false
    private var isCountedAlive = false
    private var decoder: UTF8StreamDecoder?

    /// How much one read of a regular file takes (pipes and TTYs give what they have, up to 64 KiB).
    public var fileChunkSize = 64 * 1024

    /// Bytes read so far.
    public private(set) var bytesRead = 0

    var dataListeners = Listeners<Buffer>()
    var endListeners = Listeners<Void>()
    var closeListeners = Listeners<Bool>()
    var errorListeners = Listeners<SocketError>()

    /// A stream over `descriptor`. With `closesDescriptor`, `destroy()` and the end of the stream close it.
    public init(descriptor: Int32, closesDescriptor: Bool = false, loop: EventLoop = .current) {
        self.loop = loop
        self.descriptor = descriptor
        self.ownsDescriptor = closesDescriptor
    }

    /// Standard input. Its descriptor is never closed by the stream.
    public static func standardInput(loop: EventLoop = .current) -> ReadStream {
        ReadStream(descriptor: 0, loop: loop)
    }

    /// Whether reading is paused (the initial state, until a `data` listener or `resume()`).
    public var isPaused: Bool { !flowing }

    /// Starts or restarts reading.
    @discardableResult
    public func resume() -> ReadStream {
        loop.assertInLoop()
        flowing = true
        updateReading()
        return self
    }

    /// Stops reading; nothing is consumed from the descriptor until `resume()`.
    @discardableResult
    public func pause() -> ReadStream {
        loop.assertInLoop()
        flowing = false
        updateReading()
        return self
    }

    /// Decodes the input as UTF-8 text across chunk boundaries (see `Socket.setEncoding`).
    @discardableResult
    public func setEncoding(_ encoding: Socket.Encoding = .utf8) -> ReadStream {
        if decoder == nil { decoder = UTF8StreamDecoder() }
        return self
    }

    /// Stops reading for good; emits `close(false)` on the next tick.
    public func destroy() {
        finish(error: nil)
    }

    private func updateReading() {
        let wanted = flowing && !isEnded && !isDestroyed
        loop.setAlive(&isCountedAlive, wanted)
        if isPollable {
            if wanted && !isRegistered {
                do {
                    try loop.register(fd: descriptor, interest: .read, handler: self)
                    isRegistered = true
                } catch  where error.errno == EPERM {
                    isPollable = false
                } catch {
                    finish(error: SocketError(error))
                    return
                }
            } else if !wanted && isRegistered {
                loop.unregister(fd: descriptor)
                isRegistered = false
            }
        }
        if !isPollable && wanted && !isReadScheduled {
            isReadScheduled = true
            loop.setImmediate { [self] in
                isReadScheduled = false
                if flowing && !isEnded && !isDestroyed {
                    readOnce()
                    updateReading()
                }
            }
        }
    }

    func handleIO(_ events: ReadyEvents) {
        readOnce()
    }

    /// One read: it cannot block, because the poller said the descriptor is readable or it is a regular file.
    private func readOnce() {
        let result: IOResult<Int>
        var chunk: Buffer
        do {
            if isPollable {
                result = try Posix.read(descriptor, loop.readBuffer)
                chunk = Buffer([])
            } else {
                // Regular files: read straight into the chunk handed to listeners (no second copy), in larger pieces,
                // since each piece costs a loop turn.
                var bytes = [UInt8](repeating: 0, count: fileChunkSize)
                result = try bytes.withUnsafeMutableBytes { raw in
                    Result { () throws(SystemError) in try Posix.read(descriptor, raw) }
                }.get()
                if case .processed(let count) = result { bytes.removeSubrange(count...) }
                chunk = Buffer(bytes)
            }
        } catch {
            finish(error: SocketError(error))
            return
        }
        guard case .processed(let count) = result else { return }
        if count == 0 {
            if let tail = decoder?.end(), !tail.isEmpty { dataListeners.emit(Buffer(tail)) }
            isEnded = true
            updateReading()
            endListeners.emit(())
            finish(error: nil)
            return
        }
        bytesRead += count
        if isPollable {
            chunk = Buffer(copying: UnsafeRawBufferPointer(rebasing: loop.readBuffer[0..<count]))
        }
        if decoder != nil {
            let text = chunk.bytes.withUnsafeBytes { decoder!.write($0) }
            if text.isEmpty { return }
            chunk = Buffer(text)
        }
        dataListeners.emit(chunk)
    }

    private func finish(error: SocketError?) {
        guard !isDestroyed else { return }
        isDestroyed = true
        if isRegistered {
            loop.unregister(fd: descriptor)
            isRegistered = false
        }
        if ownsDescriptor { Posix.close(descriptor) }
        loop.setAlive(&isCountedAlive, false)
        loop.nextTick { [self] in
            if let error {
                if errorListeners.isEmpty { reportUnhandled(error, on: "stream") } else { errorListeners.emit(error) }
            }
            closeListeners.emit(error != nil)
            // No event can follow `close`: dropping the listeners breaks the cycles closures make by capturing the
            // stream (a file streamed into an HTTP response leaked with its response; found by the fault suite).
            dataListeners.removeAll()
            endListeners.removeAll()
            closeListeners.removeAll()
            errorListeners.removeAll()
        }
    }
}

@available(*, unavailable)
extension ReadStream: Sendable {}

extension ReadStream {
    /// A stream event and the type of its payload.
    public struct Event<Payload> {
        let add: (ReadStream, @escaping (Payload) -> Void) -> Void
    }

    /// Adds a listener for `event`.
    @discardableResult
    public func on<Payload>(_ event: Event<Payload>, _ listener: @escaping (Payload) -> Void) -> ReadStream {
        loop.assertInLoop()
        event.add(self, listener)
        return self
    }
}

extension ReadStream.Event where Payload == Buffer {
    /// Bytes were read. Adding the first listener starts reading.
    public static var data: Self {
        Self { stream, listener in
            stream.dataListeners.append(listener)
            stream.resume()
        }
    }
}

extension ReadStream.Event where Payload == Void {
    /// The input reached end of file.
    public static var end: Self { Self { $0.endListeners.append($1) } }
}

extension ReadStream.Event where Payload == Bool {
    /// The stream is closed; the payload says whether because of an error.
    public static var close: Self { Self { $0.closeListeners.append($1) } }
}

extension ReadStream.Event where Payload == SocketError {
    /// Reading failed.
    public static var error: Self { Self { $0.errorListeners.append($1) } }
}
