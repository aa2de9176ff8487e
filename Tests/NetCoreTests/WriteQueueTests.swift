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

    @Test func append_ignoresEmptyBuffers() {
        var queue = WriteQueue()
        queue.append([])
        #expect(queue.isEmpty)
    }
}
