import Testing

@testable import NetCore

@Suite struct SystemRandomTests {
    @Test func bytes_hasRequestedLength_forSeveralSizes() {
        for count in [0, 1, 15, 16, 255, 256, 257, 4096, 100_000] {
            #expect(SystemRandom.bytes(count).count == count)
        }
        #expect(SystemRandom.bytes(-1).isEmpty)
    }

    @Test func bytes_tenThousandIds_areUniqueAndNotZero() {
        var seen = Set<[UInt8]>()
        for _ in 0..<10_000 {
            let id = SystemRandom.bytes(16)
            #expect(id.count == 16)
            #expect(id != [UInt8](repeating: 0, count: 16))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
    }

    /// A large request can come back short from getrandom(2); the loop must fill every byte. With 1 MiB of random
    /// data every byte value appears (the chance that one of 256 values is missing is about 256·e^-4096).
    @Test func bytes_largeRequest_isFilledToTheEnd() {
        let data = SystemRandom.bytes(1 << 20)
        var counts = [Int](repeating: 0, count: 256)
        for byte in data { counts[Int(byte)] += 1 }
        #expect(counts.allSatisfy { $0 > 0 })
        // The last kilobyte is not left at its zero initial value.
        #expect(data.suffix(1024).contains { $0 != 0 })
        // Rough uniformity: each value near 4096 (σ ≈ 64); 6σ bounds make a false failure practically impossible.
        #expect(counts.allSatisfy { abs($0 - 4096) < 400 })
    }

    @Test func fill_writesIntoGivenBuffer() {
        var buffer = [UInt8](repeating: 0, count: 64)
        buffer.withUnsafeMutableBytes { SystemRandom.fill($0) }
        #expect(buffer != [UInt8](repeating: 0, count: 64))
        var empty: [UInt8] = []
        empty.withUnsafeMutableBytes { SystemRandom.fill($0) }  // no crash on an empty buffer
        #expect(empty.isEmpty)
    }

    @Test func posixGetrandom_returnsBytes() throws {
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = try buffer.withUnsafeMutableBytes { try Posix.getrandom($0) }
        #expect(n == 32)
    }
}
