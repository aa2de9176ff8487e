@preconcurrency import Glibc

/// The bytes a stream has accepted but the kernel has not yet taken: a pure FIFO with partial-write
/// accounting, driven by injected write functions so partial writes can be unit-tested (STYLE.md §2.13).
struct WriteQueue {
    private var chunks: [[UInt8]] = []
    private var head = 0
    private var headOffset = 0
    /// Bytes queued and not yet written.
    private(set) var byteCount = 0

    /// At most this many buffers go into one `sendmsg` (each adds an iovec and a nesting level).
    static let maxGather = 64

    var isEmpty: Bool { byteCount == 0 }

    mutating func append(_ bytes: [UInt8]) {
        guard !bytes.isEmpty else { return }
        chunks.append(bytes)
        byteCount += bytes.count
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
            let available = chunks[head].count - headOffset
            if remaining >= available {
                remaining -= available
                chunks[head] = []
                head += 1
                headOffset = 0
            } else {
                headOffset += remaining
                remaining = 0
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
    /// otherwise. Stops at would-block or a short write (the socket buffer is full) and keeps the remainder.
    mutating func flush(
        writeOne: (UnsafeRawBufferPointer) throws(SystemError) -> IOResult<Int>,
        writeMany: (UnsafeMutableBufferPointer<iovec>) throws(SystemError) -> IOResult<Int>
    ) throws(SystemError) -> FlushResult {
        while byteCount > 0 {
            let pending = chunks.count - head
            let attempted: Int
            let result: IOResult<Int>
            if pending == 1 {
                attempted = byteCount
                let offset = headOffset
                // Array's closure-taking APIs rethrow untyped errors, so carry the typed one out as a value.
                result = try chunks[head].withUnsafeBytes { raw in
                    Result { () throws(SystemError) in try writeOne(UnsafeRawBufferPointer(rebasing: raw[offset...])) }
                }.get()
            } else {
                let count = min(pending, Self.maxGather)
                attempted = chunks[head..<(head + count)].reduce(0) { $0 + $1.count } - headOffset
                let slice = chunks[head..<(head + count)]
                let offset = headOffset
                result = try withUnsafeTemporaryAllocation(of: iovec.self, capacity: count) { iovecs in
                    Self.gather(slice, firstOffset: offset, into: iovecs, at: 0, writeMany)
                }.get()
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
        _ chunks: ArraySlice<[UInt8]>,
        firstOffset: Int,
        into iovecs: UnsafeMutableBufferPointer<iovec>,
        at index: Int,
        _ body: (UnsafeMutableBufferPointer<iovec>) throws(SystemError) -> IOResult<Int>
    ) -> Result<IOResult<Int>, SystemError> {
        if index == iovecs.count { return Result { () throws(SystemError) in try body(iovecs) } }
        let offset = index == 0 ? firstOffset : 0
        return chunks[chunks.startIndex + index].withUnsafeBytes { raw in
            iovecs[index] = iovec(
                iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress.map { $0 + offset }),
                iov_len: raw.count - offset
            )
            return gather(chunks, firstOffset: firstOffset, into: iovecs, at: index + 1, body)
        }
    }
}
