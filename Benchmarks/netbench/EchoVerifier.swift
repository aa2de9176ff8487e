@preconcurrency import Glibc
import NetCore

/// The message every connection sends, and what the replies must look like.
///
/// The payload is lowercase letters only (`"abc…zab…"`, S bytes, the same for every message), and the reply prefix
/// ("Repeating: ") starts with a byte that is not a lowercase letter. A reply stream can therefore be checked
/// byte by byte however the server splits or merges our messages: every prefix occurrence is recognised and checked
/// in full, and every payload byte is compared with the byte expected at that stream offset.
final class EchoPattern: @unchecked Sendable {
    // @unchecked: immutable after init; the raw buffers are only read.
    let size: Int
    /// The message as the Buffer handed to `write` (its array is shared, never copied).
    let message: Buffer
    /// `expected[i] == message[i % size]` for i < size + window: any run of up to `window` bytes starting at any
    /// message offset can be checked with one memcmp.
    let expected: UnsafeMutableRawPointer
    let window = 64 * 1024
    let prefix: UnsafeMutableRawPointer
    let prefixCount: Int
    let prefixFirst: UInt8

    init(size: Int, prefix: String) {
        self.size = size
        var bytes = [UInt8](repeating: 0, count: size)
        for i in 0..<size { bytes[i] = UInt8(ascii: "a") + UInt8(i % 26) }
        message = Buffer(bytes)
        expected = .allocate(byteCount: size + window, alignment: 16)
        for i in 0..<(size + window) { expected.storeBytes(of: bytes[i % size], toByteOffset: i, as: UInt8.self) }
        let prefixBytes = Array(prefix.utf8)
        prefixCount = prefixBytes.count
        prefixFirst = prefixBytes.first ?? 0
        self.prefix = .allocate(byteCount: max(1, prefixCount), alignment: 1)
        for (i, byte) in prefixBytes.enumerated() { self.prefix.storeBytes(of: byte, toByteOffset: i, as: UInt8.self) }
    }

    deinit {
        expected.deallocate()
        prefix.deallocate()
    }
}

/// One connection's reply stream: how much payload was sent and verified, and where we are in a prefix.
struct EchoStream {
    /// Payload bytes written to the server.
    var sent: UInt64 = 0
    /// Payload bytes that came back and matched.
    var received: UInt64 = 0
    /// Prefix bytes still expected (we are inside a "Repeating: ").
    private var prefixLeft = 0
    /// True at the start of the stream and right after a prefix: payload (resp. a prefix) must come next.
    private var needPrefix = true
    private var needPayload = false
    /// Prefix occurrences seen, i.e. about how many writes the server made.
    var prefixes: UInt64 = 0

    /// Why a stream was rejected.
    enum Failure: Sendable {
        case badPrefix, missingPrefix, emptyEcho, badPayload, tooMuch
    }

    /// Checks `raw` as the next bytes of the reply stream; nil if every byte is as expected.
    @inline(__always)
    mutating func consume(_ raw: UnsafeRawBufferPointer, _ pattern: EchoPattern) -> Failure? {
        guard var p = raw.baseAddress else { return nil }
        var n = raw.count
        let hasPrefix = pattern.prefixCount > 0
        while n > 0 {
            if prefixLeft > 0 {
                let k = min(prefixLeft, n)
                if memcmp(p, pattern.prefix + (pattern.prefixCount - prefixLeft), k) != 0 { return .badPrefix }
                prefixLeft -= k
                p += k
                n -= k
                continue
            }
            var run = n
            if hasPrefix {
                if p.load(as: UInt8.self) == pattern.prefixFirst {
                    if needPayload { return .emptyEcho }
                    prefixLeft = pattern.prefixCount
                    prefixes &+= 1
                    needPrefix = false
                    needPayload = true
                    continue
                }
                if needPrefix { return .missingPrefix }
                if let next = memchr(p, Int32(pattern.prefixFirst), n) {
                    run = UnsafeRawPointer(next) - p
                }
            }
            if received &+ UInt64(run) > sent { return .tooMuch }
            var checked = 0
            while checked < run {
                let offset = Int((received &+ UInt64(checked)) % UInt64(pattern.size))
                let k = min(run - checked, pattern.window)
                if memcmp(p + checked, pattern.expected + offset, k) != 0 { return .badPayload }
                checked += k
            }
            received &+= UInt64(run)
            needPayload = false
            p += run
            n -= run
        }
        return nil
    }
}
