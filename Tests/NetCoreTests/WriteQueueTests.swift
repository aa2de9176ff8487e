import Glibc
import Testing
@testable import NetCore

/// The write queue driven by fake kernels that take a fixed number of bytes per call (partial writes).
@Suite struct WriteQueueTests {
    /// A fake kernel: accepts up to `budget` bytes per call and records them; `.wouldBlock` when the budget is 0.
    final class FakeKernel {
        var budgets: [Int]
        var received: [UInt8] = []
        var calls: [String] = []
        init(budgets: [Int]) { self.budgets = budgets }

        func take(_ regions: [UnsafeRawBufferPointer], kind: String) -> IOResult<Int> {
            calls.append(kind)
            let budget = budgets.isEmpty ? Int.max : budgets.removeFirst()
            if budget == 0 { return .wouldBlock }
            var taken = 0
            for region in regions where taken < budget {
                let n = min(region.count, budget - taken)
                received.append(contentsOf: region.prefix(n))
                taken += n
            }
            return .processed(taken)
        }

        func flush(_ queue: inout WriteQueue) throws -> WriteQueue.FlushResult {
            try queue.flush(
                writeOne: { take([$0], kind: "one") },
                writeMany: { iovecs in
                    take(iovecs.map { UnsafeRawBufferPointer(start: $0.iov_base, count: $0.iov_len) }, kind: "many")
                },
                writeFile: { descriptor, offset, count in
                    // What sendfile would send: the file's bytes at `offset`, as far as the budget and the file go.
                    var bytes = [UInt8](repeating: 0, count: count)
                    let n = bytes.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, count, off_t(offset)) }
                    return bytes.prefix(max(n, 0)).withUnsafeBytes { take([$0], kind: "file") }
                })
        }
    }

    @Test func flush_gathersQueuedBuffers_intoOneCall() throws {
        var queue = WriteQueue()
        queue.append(Array("Repeating: ".utf8))
        queue.append(Array("hello".utf8))
        let kernel = FakeKernel(budgets: [])
        #expect(try kernel.flush(&queue) == .drained)
        #expect(kernel.calls == ["many"])
        #expect(String(decoding: kernel.received, as: UTF8.self) == "Repeating: hello")
        #expect(queue.isEmpty)
    }

    @Test func flush_keepsRemainder_whenKernelTakesPartOfABuffer() throws {
        var queue = WriteQueue()
        queue.append(Array(0..<100))
        queue.append(Array(100..<200))
        let kernel = FakeKernel(budgets: [30, 0])
        #expect(try kernel.flush(&queue) == .wouldBlock)
        #expect(queue.byteCount == 170)
        kernel.budgets = [50, 7, 1000]
        // A short write means the socket buffer is full, so each of the first two flushes stops after one call.
        #expect(try kernel.flush(&queue) == .wouldBlock)
        #expect(queue.byteCount == 120)
        #expect(try kernel.flush(&queue) == .wouldBlock)
        #expect(queue.byteCount == 113)
        #expect(try kernel.flush(&queue) == .drained)
        #expect(kernel.received == Array(0..<200))
    }

    @Test func flush_preservesOrder_acrossManySmallPartialWrites() throws {
        var queue = WriteQueue()
        var expected: [UInt8] = []
        for index in 0..<300 {
            let chunk = [UInt8](repeating: UInt8(truncatingIfNeeded: index), count: index % 7 + 1)
            queue.append(chunk)
            expected += chunk
        }
        let kernel = FakeKernel(budgets: Array(repeating: 13, count: 10_000))
        while try kernel.flush(&queue) != .drained {}
        #expect(kernel.received == expected)
        #expect(queue.byteCount == 0)
    }

    @Test func flush_propagatesErrors_andKeepsBytesQueued() {
        var queue = WriteQueue()
        queue.append([1, 2, 3])
        #expect(throws: SystemError(errno: EPIPE, syscall: "write")) {
            try queue.flush(
                writeOne: { _ throws(SystemError) in throw SystemError(errno: EPIPE, syscall: "write") },
                writeMany: { _ throws(SystemError) in throw SystemError(errno: EPIPE, syscall: "write") })
        }
        #expect(queue.byteCount == 3)
    }

    /// A temporary file holding `bytes`, open for reading; unlinked at once, so closing it is the only cleanup.
    static func temporaryFile(_ bytes: [UInt8]) -> Int32 {
        var template = Array("/tmp/nct-wq-XXXXXX".utf8CString)
        let fd = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        precondition(fd >= 0, "mkstemp failed")
        template.withUnsafeBufferPointer { _ = unlink($0.baseAddress!) }
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        return fd
    }

    @Test func flush_sendsFileRegionsInOrderWithBytes_acrossPartialWrites() throws {
        let file = (0..<5000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        let fd = Self.temporaryFile(file)
        var queue = WriteQueue()
        queue.append(Array("head".utf8))
        queue.append(file: FileRegion(descriptor: fd, offset: 100, count: 4000, closesDescriptor: true))
        queue.append(Array("tail".utf8))
        #expect(queue.byteCount == 4008)
        let kernel = FakeKernel(budgets: Array(repeating: 333, count: 100))
        while try kernel.flush(&queue) != .drained {}
        #expect(kernel.received == Array("head".utf8) + file[100..<4100] + Array("tail".utf8))
        #expect(kernel.calls.contains("file"))
        #expect(queue.isEmpty)
        // The queue owned the descriptor and closed it once the region was sent.
        #expect(fcntl(fd, F_GETFD) == -1 && errno == EBADF)
    }

    @Test func flush_failsWithEIO_whenTheFileIsShorterThanItsRegion() throws {
        let fd = Self.temporaryFile([1, 2, 3])
        defer { close(fd) }
        var queue = WriteQueue()
        queue.append(file: FileRegion(descriptor: fd, offset: 0, count: 10, closesDescriptor: false))
        let kernel = FakeKernel(budgets: [])
        // What the file has is sent (a short write looks like a full socket); at its end, sendfile says 0.
        #expect(try kernel.flush(&queue) == .wouldBlock)
        #expect(kernel.received == [1, 2, 3])
        #expect(throws: SystemError(errno: EIO, syscall: "sendfile")) { try kernel.flush(&queue) }
        #expect(queue.byteCount == 7)
    }

    @Test func append_ignoresEmptyBuffers() {
        var queue = WriteQueue()
        queue.append([])
        #expect(queue.isEmpty)
    }
}
