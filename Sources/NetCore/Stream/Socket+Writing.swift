@preconcurrency import Glibc

extension Socket {
    // MARK: - Writing

    /// Queues `parts` for sending, gathered into one `sendmsg` when possible. Returns false once the queue is at or
    /// above `writableHighWaterMark`; wait for `drain` before writing more. Writes before the connection is up are
    /// sent after it. Writing after `end()` (or after the peer ended a socket that does not allow half-open) makes
    /// the socket emit `error` and close.
    @discardableResult
    public final func write(_ parts: Buffer...) -> Bool {
        write(contentsOf: parts)
    }

    /// Queues `first` then `second` (the common "prefix + data" shape) without building a variadic array.
    @discardableResult
    public final func write(_ first: Buffer, _ second: Buffer) -> Bool {
        write(contentsOf: CollectionOfTwo(first, second))
    }

    /// Queues the UTF-8 bytes of `string`; see `write(_:)`.
    @discardableResult
    public final func write(_ string: String) -> Bool {
        write(contentsOf: CollectionOfOne(Buffer(string)))
    }

    /// Queues `bytes`; see `write(_:)`.
    @discardableResult
    public final func write(_ bytes: [UInt8]) -> Bool {
        write(contentsOf: CollectionOfOne(Buffer(bytes)))
    }

    /// Queues `buffer`; see `write(_:)`. Not variadic, so a caller in another module gets the path specialised for
    /// one buffer rather than the generic one (whose unspecialised iteration looked up `Optional` metadata on every
    /// element: about 1,900 instructions per HTTP response, callgrind).
    @discardableResult
    public final func write(_ buffer: Buffer) -> Bool {
        writeCollection(CollectionOfOne(buffer))
    }

    /// Queues every buffer of `parts` in order; see `write(_:)`. Specialised for arrays, for callers in other modules.
    @discardableResult
    public final func write(contentsOf parts: [Buffer]) -> Bool {
        writeCollection(parts)
    }

    /// Queues every buffer of `parts` in order; see `write(_:)`.
    @discardableResult
    public final func write(contentsOf parts: some Collection<Buffer>) -> Bool {
        writeCollection(parts)
    }

    private func writeCollection(_ parts: some Collection<Buffer>) -> Bool {
        loop.assertInLoop()
        if isDestroyed {
            // Node reports this to a write callback only; there is no `error` event on a destroyed stream.
            return false
        }
        if endCalled {
            destroy(peerEnded && !allowHalfOpen ? .endedByOtherParty : .writeAfterEnd)
            return false
        }
        if let transport {
            return write(parts, through: transport)
        }
        if writeQueue.isEmpty && !isConnecting && parts.count <= 2, let fd = fd?.rawValue {
            return writeDirectly(parts, to: fd)
        }
        var total = 0
        for part in parts {
            total += part.count
            writeQueue.append(part.bytes)
        }
        bytesWritten += total
        return flushAfterQueueing()
    }

    /// `write` for a socket with a transport: the bytes go through it (and come back through `transportWillSend`);
    /// the mark counts what the transport holds as well as the queue.
    private func write(_ parts: some Collection<Buffer>, through transport: any SocketTransport) -> Bool {
        var total = 0
        for part in parts { total += part.count }
        if parts.count > 1 && total <= Self.coalescedTransportWrite {
            // One small gathered write (an HTTP head and its body) is one TLS record, not one per part.
            var joined: [UInt8] = []
            joined.reserveCapacity(total)
            for part in parts { joined += part.bytes }
            transport.write(joined)
        } else {
            for part in parts where !part.isEmpty { transport.write(part.bytes) }
        }
        bytesWritten += total
        let belowMark = writeQueue.byteCount + transport.pendingByteCount < writableHighWaterMark
        if !belowMark { needDrain = true }
        if !isConnecting && fd != nil && !isDestroyed { flushWrites() }
        return belowMark
    }

    /// Parts of one write up to this many bytes in all go to a transport as one piece (a full TLS record holds 16 KiB).
    static let coalescedTransportWrite = 16 * 1024

    /// Node's return value for a write just queued (computed from the queue length including it, before trying to
    /// send it), then sends what the kernel takes.
    private func flushAfterQueueing() -> Bool {
        let belowMark = writeQueue.byteCount < writableHighWaterMark
        if !belowMark { needDrain = true }
        if !isConnecting && fd != nil {
            flushWrites()
        }
        return belowMark
    }

    /// `write` when nothing is queued (the steady state of a request/response or echo exchange): one `send` or
    /// `sendmsg` straight from the caller's buffers, and only what the kernel did not take is queued. Saves the
    /// queue's append, gather and consume per write.
    private func writeDirectly(_ parts: some Collection<Buffer>, to fd: Int32) -> Bool {
        var total = 0
        for part in parts { total += part.count }
        bytesWritten += total
        let belowMark = total < writableHighWaterMark
        guard total > 0 else { return belowMark }
        let outcome: IOResult<Int>
        do {
            outcome = try Self.send(parts, to: fd)
        } catch {
            destroy(SocketError(error))
            return belowMark
        }
        touch()
        var written = 0
        if case .processed(let count) = outcome { written = count }
        if written == total {
            // Node's needDrain: a write that returned false gets its `drain`, even when the kernel took it all.
            if !belowMark { emitDrainOnNextTick() }
            return belowMark
        }
        // The kernel's buffer is full: queue the rest, in order, and wait for writability.
        for part in parts {
            if written >= part.count {
                written -= part.count
                continue
            }
            writeQueue.append(written == 0 ? part.bytes : Array(part.bytes[written...]))
            written = 0
        }
        if !belowMark { needDrain = true }
        updateInterest()
        return belowMark
    }

    private func emitDrainOnNextTick() {
        loop.nextTick { [self] in
            if !isDestroyed { rare?.drain.emit(()) }
        }
    }

    /// One `send` for one buffer, one `sendmsg` for two (at most two: `write` checks).
    private static func send(_ parts: some Collection<Buffer>, to fd: Int32) throws(SystemError) -> IOResult<Int> {
        var iterator = parts.makeIterator()
        guard let first = iterator.next() else { return .processed(0) }
        guard let second = iterator.next() else {
            return try first.bytes.withUnsafeBytes { raw in
                Result { () throws(SystemError) in try Posix.send(fd, raw) }
            }.get()
        }
        return try first.bytes.withUnsafeBytes { one in
            second.bytes.withUnsafeBytes { two in
                Result { () throws(SystemError) in
                    var vectors = (
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: one.baseAddress), iov_len: one.count),
                        iovec(iov_base: UnsafeMutableRawPointer(mutating: two.baseAddress), iov_len: two.count)
                    )
                    return try withUnsafeMutableBytes(of: &vectors) { raw throws(SystemError) in
                        try Posix.sendmsg(fd, raw.bindMemory(to: iovec.self))
                    }
                }
            }
        }.get()
    }

    /// Queues `count` bytes of the open file `descriptor` from `offset`, sent after everything queued before and
    /// before anything queued after, with sendfile(2): the bytes go from the page cache to the socket without being
    /// read into memory, so a region of any size costs no buffer space (a slow reader just leaves it queued).
    /// It counts toward `writableLength` and the return value as bytes would; see `write(_:)`.
    ///
    /// With `closesDescriptor`, the socket closes `descriptor` once the region is sent or dropped (on destroy, or
    /// at once when the write is refused). If the file turns out shorter than the region, the socket is destroyed
    /// with EIO: whatever framing promised those bytes cannot be honoured.
    @discardableResult
    public final func write(file descriptor: Int32, offset: Int, count: Int, closesDescriptor: Bool) -> Bool {
        precondition(offset >= 0 && count >= 0, "a file region has a non-negative offset and count")
        // Built first so the descriptor is closed on every path below that drops it.
        let region = FileRegion(
            descriptor: descriptor,
            offset: offset,
            count: count,
            closesDescriptor: closesDescriptor
        )
        loop.assertInLoop()
        if isDestroyed { return false }
        if endCalled {
            destroy(peerEnded && !allowHalfOpen ? .endedByOtherParty : .writeAfterEnd)
            return false
        }
        if let transport {
            // A transport transforms bytes, so sendfile(2) cannot skip user space: the transport reads the region a
            // piece at a time as the queue drains, so a file of any size costs one piece of memory.
            transport.write(file: region)
            bytesWritten += count
            let belowMark = writeQueue.byteCount + transport.pendingByteCount < writableHighWaterMark
            if !belowMark { needDrain = true }
            if !isConnecting && fd != nil && !isDestroyed { flushWrites() }
            return belowMark
        }
        writeQueue.append(file: region)
        bytesWritten += count
        return flushAfterQueueing()
    }

    /// Writes what the kernel takes now; the rest waits for writability.
    func flushWrites() {
        guard let fd = fd?.rawValue, !isDestroyed else { return }
        var result: WriteQueue.FlushResult
        repeat {
            do {
                result = try writeQueue.flush(
                    writeOne: { buffer throws(SystemError) in try Posix.send(fd, buffer) },
                    writeMany: { iovecs throws(SystemError) in try Posix.sendmsg(fd, iovecs) },
                    writeFile: { file, offset, count throws(SystemError) in
                        try Posix.sendfile(fd, from: file, offset: offset, count: count)
                    }
                )
            } catch {
                destroy(SocketError(error))
                return
            }
            // The kernel took everything: a transport holding more (a file being read, writes behind it) encodes
            // the next piece into the queue, so what it holds never waits on a full kernel buffer.
        } while result == .drained && refillFromTransport()
        guard !isDestroyed else { return }
        touch()
        if result == .drained && (transport?.pendingByteCount ?? 0) == 0 {
            if needDrain {
                needDrain = false
                emitDrainOnNextTick()
            }
            if endCalled && !shutdownSent {
                sendShutdown()
            }
        }
        updateInterest()
    }

    /// Asks the transport for more bytes once the queue drained; true when it queued some.
    private func refillFromTransport() -> Bool {
        guard let transport, transport.pendingByteCount > 0 else { return false }
        transport.writeQueueDidDrain()
        return !isDestroyed && !writeQueue.isEmpty
    }

    /// Half-closes the socket: sends FIN once everything queued is written, then emits `finish`. The socket closes
    /// when the peer has ended too (or at once if it already has). `callback` runs on `finish`; if the socket has
    /// already finished, on the next tick (as Node does), never not at all.
    @discardableResult
    public final func end(_ callback: (() -> Void)? = nil) -> Socket {
        loop.assertInLoop()
        if let callback {
            if finishEmitted {
                loop.nextTick(callback)
            } else {
                rareListeners.finish.appendOnce(callback)
            }
        }
        guard !endCalled, !isDestroyed else { return self }
        endCalled = true
        if let transport {
            transport.didEnd()
            if !isConnecting && fd != nil && !isDestroyed { flushWrites() }
            return self
        }
        if !isConnecting && fd != nil && writeQueue.isEmpty {
            sendShutdown()
        }
        return self
    }

    /// Writes `data`, then ends; see `end(_:)`.
    @discardableResult
    public final func end(_ data: Buffer, _ callback: (() -> Void)? = nil) -> Socket {
        write(data)
        return end(callback)
    }

    /// shutdown(SHUT_WR) after the queue drained; `finish` follows on the next tick.
    func sendShutdown() {
        guard let fd = fd?.rawValue, !shutdownSent, transport?.allowsShutdown ?? true else { return }
        shutdownSent = true
        do {
            try Posix.shutdownWrite(fd)
        } catch  where error.errno == ENOTCONN {
            // The peer is already gone; the read side will report it.
        } catch {
            destroy(SocketError(error))
            return
        }
        loop.nextTick { [self] in
            guard !isDestroyed else { return }
            finishEmitted = true
            rare?.finish.emit(())
            // Node's autoDestroy: both sides done.
            if endEmitted && !isDestroyed { destroy() }
        }
    }

    // MARK: - Destroying

    /// Closes the socket at once, dropping queued writes. Emits `close(false)`, or `error` then `close(true)` when
    /// given an error, on the next tick. Later calls do nothing.
    public final func destroy(_ error: SocketError? = nil) {
        loop.assertInLoop()
        guard !isDestroyed else { return }
        isDestroyed = true
        transport?.didDestroy()
        idle?.timer?.cancel()
        idle = nil
        closeDescriptor()
        writeQueue.removeAll()
        unconsumed.removeAll()
        isConnecting = false
        let server = self.server
        self.server = nil
        loop.nextTick { [self] in
            if let error {
                if errorListeners.isEmpty {
                    reportUnhandled(error, on: "socket")
                } else {
                    errorListeners.emit(error)
                }
            }
            closeListeners.emit(error != nil)
            updateAlive()
            releaseListeners()
        }
        server?.connectionDidClose(self)
    }

    /// After `close`, listeners are dropped so closures that capture the socket do not keep it alive.
    private func releaseListeners() {
        dataListeners.removeAll()
        endListeners.removeAll()
        closeListeners.removeAll()
        errorListeners.removeAll()
        rare = nil
    }

    /// Ends the socket once queued writes are flushed, then closes (Node's `destroySoon`).
    public final func destroySoon() {
        if endCalled && finishEmitted {
            destroy()
        } else {
            rareListeners.finish.appendOnce { [self] in destroy() }
            end()
        }
    }

    /// Sends a TCP RST instead of FIN (SO_LINGER 0), then destroys (Node's `resetAndDestroy`).
    public final func resetAndDestroy() {
        if let fd = fd?.rawValue {
            var linger = Glibc.linger(l_onoff: 1, l_linger: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_LINGER, &linger, socklen_t(MemoryLayout<Glibc.linger>.size))
        }
        destroy()
    }

    // MARK: - Options

    /// Disables Nagle's algorithm (TCP_NODELAY) when `noDelay` is true. Ignored for Unix sockets.
    @discardableResult
    public final func setNoDelay(_ noDelay: Bool = true) -> Socket {
        if let fd = fd?.rawValue, remoteSocketAddress?.family != .unix {
            try? Posix.setOption(fd, Int32(IPPROTO_TCP), TCP_NODELAY, noDelay ? 1 : 0)
        }
        return self
    }

    /// Enables TCP keep-alive probes after `initialDelay` milliseconds of idleness (0 keeps the system default).
    @discardableResult
    public final func setKeepAlive(_ enable: Bool = false, initialDelay: Int = 0) -> Socket {
        if let fd = fd?.rawValue, remoteSocketAddress?.family != .unix {
            try? Posix.setOption(fd, SOL_SOCKET, SO_KEEPALIVE, enable ? 1 : 0)
            if enable && initialDelay > 0 {
                try? Posix.setOption(fd, Int32(IPPROTO_TCP), TCP_KEEPIDLE, Int32(max(1, initialDelay / 1000)))
            }
        }
        return self
    }
}

/// Two buffers as a collection, so a two-part write allocates nothing for its argument list.
struct CollectionOfTwo: RandomAccessCollection {
    let first: Buffer
    let second: Buffer
    init(_ first: Buffer, _ second: Buffer) {
        self.first = first
        self.second = second
    }
    var startIndex: Int { 0 }
    var endIndex: Int { 2 }
    subscript(position: Int) -> Buffer { position == 0 ? first : second }
}
