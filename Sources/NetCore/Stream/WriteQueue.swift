@preconcurrency import Glibc

/// A stretch of an open file queued for sending with sendfile(2): its bytes go from the page cache to the socket
/// without passing through user space, and queuing it costs no memory however large it is. Under a transport (TLS)
/// the bytes must pass through user space: the transport reads it a piece at a time with `readPiece`.
package final class FileRegion {
    let descriptor: Int32
    private(set) var offset: Int
    package private(set) var remaining: Int
    private let closesDescriptor: Bool

    init(descriptor: Int32, offset: Int, count: Int, closesDescriptor: Bool) {
        self.descriptor = descriptor
        self.offset = offset
        self.remaining = count
        self.closesDescriptor = closesDescriptor
    }

    func advance(_ count: Int) {
        offset += count
        remaining -= count
    }

    /// Reads up to `limit` bytes from the region's front (pread(2)) and advances past them. A file that ends before
    /// the region does is EIO, as for sendfile: the bytes promised around it can no longer be honoured.
    package func readPiece(limit: Int) throws(SystemError) -> [UInt8] {
        let wanted = min(limit, remaining)
        guard wanted > 0 else { return [] }
        var failure: SystemError?
        let bytes = [UInt8](unsafeUninitializedCapacity: wanted) { raw, initialized in
            let outcome = Result { () throws(SystemError) in
                try Posix.pread(descriptor, UnsafeMutableRawBufferPointer(raw), offset: offset)
            }
            switch outcome {
            case .success(let count): initialized = count
            case .failure(let error): failure = error
            }
        }
        if let failure { throw failure }
        if bytes.isEmpty { throw SystemError(errno: EIO, syscall: "pread") }
        advance(bytes.count)
        return bytes
    }

    /// The region owns its descriptor when asked to: it closes once sent, or when the queue is dropped.
    deinit { if closesDescriptor { Posix.close(descriptor) } }
}

/// The bytes a stream has accepted but the kernel has not yet taken: a pure FIFO with partial-write
/// accounting, driven by injected write functions so partial writes can be unit-tested (STYLE.md §2.13).
struct WriteQueue {
    private enum Chunk {
        case bytes([UInt8])
        case file(FileRegion)
    }

    private var chunks: [Chunk] = []
    private var head = 0
    /// Bytes of the head chunk already written (byte chunks; a file region keeps its own offset).
    private var headOffset = 0
    /// Bytes queued and not yet written, file regions included.
    private(set) var byteCount = 0

    /// At most this many buffers go into one `sendmsg` (each adds an iovec and a nesting level).
    static let maxGather = 64

    /// The most one sendfile(2) call moves (Linux caps a call at 0x7ffff000 bytes).
    static let maxFileWrite = 0x7fff_f000

    var isEmpty: Bool { byteCount == 0 }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        chunks.append(.bytes(bytes))
        byteCount += bytes.count
    }

    /// Queues `count` bytes of the file `descriptor` from `offset`, sent in order with the byte chunks around them.
    mutating func append(file region: FileRegion) {
        guard region.remaining > 0 else { return }
        chunks.append(.file(region))
        byteCount += region.remaining
    }

    /// Drops everything queued (on destroy).
    mutating func removeAll() {
        chunks.removeAll()
        head = 0
        headOffset = 0
        byteCount = 0
    }

    /// Marks `count` bytes from the front as written.
    mutating func consume(_ count: Int) {
        precondition(count <= byteCount, "wrote more than was queued")
        byteCount -= count
        var remaining = count
        while remaining > 0 {
            switch chunks[head] {
            case .bytes(let bytes):
                let available = bytes.count - headOffset
                if remaining >= available {
                    remaining -= available
                    chunks[head] = .bytes([])
                    head += 1
                    headOffset = 0
                } else {
                    headOffset += remaining
                    remaining = 0
                }
            case .file(let region):
                let taken = min(remaining, region.remaining)
                region.advance(taken)
                remaining -= taken
                if region.remaining == 0 {
                    chunks[head] = .bytes([])  // releases the region, closing its descriptor if it owns it
                    head += 1
                }
            }
        }
        if head == chunks.count {
            chunks.removeAll(keepingCapacity: chunks.count <= 64)
            head = 0
        } else if head >= 64 && head * 2 >= chunks.count {
            chunks.removeFirst(head)
            head = 0
        }
    }

    enum FlushResult: Equatable {
        /// Everything queued has been written.
        case drained
        /// The kernel would block; the rest stays queued.
        case wouldBlock
    }

    /// Writes as much as the kernel takes: `writeOne` for a single pending buffer, `writeMany` with a gather list
    /// of consecutive buffers, `writeFile(descriptor, offset, count)` for a file region. Stops at would-block or a
    /// short write (the socket buffer is full) and keeps the remainder. A file that ends before its region does is
    /// an error (EIO): the bytes promised around it (say, a chunk size) can no longer be honoured.
    mutating func flush(
        writeOne: (UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int>,
        writeMany: (UnsafeMutableBufferPointer<iovec>) throws(SystemError) -> IOResult<Int>,
        writeFile: (Int32, Int, Int) throws(SystemError) -> IOResult<Int> = { _, _, _ in
            preconditionFailure("file regions queued without a file writer")
        }
    ) throws(SystemError) -> FlushResult {
        while byteCount > 0 {
            let attempted: Int
            let result: IOResult<Int>
            if case .file(let region) = chunks[head] {
                attempted = min(region.remaining, Self.maxFileWrite)
                result = try writeFile(region.descriptor, region.offset, attempted)
                if case .processed(0) = result { throw SystemError(errno: EIO, syscall: "sendfile") }
            } else {
                var count = 0
                var total = -headOffset
                while count < Self.maxGather && head + count < chunks.count,
                    case .bytes(let bytes) = chunks[head + count]
                {
                    total += bytes.count
                    count += 1
                }
                attempted = total
                if count == 1 {
                    guard case .bytes(let bytes) = chunks[head] else { preconditionFailure("counted a byte chunk") }
                    let offset = headOffset
                    // Array's closure-taking APIs rethrow untyped errors, so carry the typed one out as a value.
                    result = try bytes.withUnsafeBytes { raw in
                        Result { () throws(SystemError) in
                            try writeOne(UnsafeRawBufferPointer(rebasing: raw[offset...]))
                        }
                    }.get()
                } else {
                    let slice = chunks[head..<(head + count)]
                    let offset = headOffset
                    result = try withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { iovecs in
                        Self.gather(slice, firstOffset: offset, into: iovecs, at: 0, writeMany)
                    }.get()
                }
            }
            switch result {
            case .wouldBlock:
                return .wouldBlock
            case .processed(let written):
                consume(written)
                if written < attempted { return .wouldBlock }
            }
        }
        return .drained
    }

    /// Pins each chunk's bytes while filling its iovec, then calls `body` with all of them pinned.
    private static func gather(
        _ chunks: ArraySlice<Chunk>,
        firstOffset: Int,
        into iovecs: UnsafeMutableBufferPointer<iovec>,
        at index: Int,
        _ body: (UnsafeMutableBufferPointer<iovec>) throws(SystemError) -> IOResult<Int>
    ) -> Result<IOResult<Int>, SystemError> {
        if index == iovecs.count { return Result { () throws(SystemError) in try body(iovecs) } }
        let offset = index == 0 ? firstOffset : 0
        guard case .bytes(let bytes) = chunks[chunks.startIndex + index] else {
            preconditionFailure("only byte chunks are gathered")
        }
        return bytes.withUnsafeBytes { raw in
            iovecs[index] = iovec(
                iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress.map { $0 + offset }),
                iov_len: raw.count - offset
            )
            return gather(chunks, firstOffset: firstOffset, into: iovecs, at: index + 1, body)
        }
    }
}
