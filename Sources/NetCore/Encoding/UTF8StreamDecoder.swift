/// Decodes a stream of UTF-8 chunks into text, as Node's `StringDecoder` does for `'utf8'`.
///
/// A character whose bytes are split across chunks is held back (at most 3 bytes) until the next `write` completes
/// it, so no chunk boundary ever produces a spurious U+FFFD. Invalid bytes become U+FFFD with the Unicode "maximal
/// subpart" policy, the one `String(decoding:as: UTF8.self)` uses: for any way of splitting a byte sequence into
/// chunks, the concatenation of every `write` result plus `end()` equals `String(decoding: allBytes, as: UTF8.self)`.
public struct UTF8StreamDecoder: Sendable {
    // The held-back bytes, little-endian packed (byte 0 in the low 8 bits), so holding them costs no allocation.
    private var pendingBits: UInt32 = 0
    // How many bytes of `pendingBits` are held back. Invariant: they are always a proper prefix of some valid
    // scalar's encoding (a lead byte plus acceptable continuation bytes), never an already-invalid sequence.
    private var pendingCount: Int = 0

    /// Creates a decoder with nothing held back.
    public init() {}

    /// Number of bytes currently held back (0...3): the start of a character that the next chunk may complete.
    public var pendingByteCount: Int { pendingCount }

    /// Decodes `bytes` appended to what was held back; returns the text of every complete scalar, holding back an
    /// incomplete tail (<= 3 bytes).
    ///
    /// Invalid sequences become U+FFFD immediately; only a tail that could still become a valid scalar is held.
    public mutating func write(_ bytes: UnsafeRawBufferPointer) -> String {
        guard pendingCount > 0 else { return decodeHoldingTail(bytes) }

        // Finish (or reject) the held-back sequence byte by byte: it needs at most 3 more bytes, so this loop is short
        // and the bulk of the chunk still goes through the zero-copy path below.
        let lead = UInt8(truncatingIfNeeded: pendingBits)
        let needed = Self.sequenceLength(lead: lead)
        var bits = pendingBits
        var count = pendingCount
        var consumed = 0
        while count < needed, consumed < bytes.count {
            let byte = bytes[consumed]
            // A byte that cannot continue the sequence ends it: the held bytes are then a maximal subpart.
            guard Self.accepts(byte, at: count, lead: lead) else { break }
            bits |= UInt32(byte) << UInt32(8 * count)
            count += 1
            consumed += 1
        }

        if count < needed, consumed == bytes.count {
            // Still a valid prefix and the chunk ran out: keep waiting (an empty chunk lands here too).
            pendingBits = bits
            pendingCount = count
            return ""
        }

        pendingBits = 0
        pendingCount = 0
        // Either a complete scalar or a maximal subpart (decoded as exactly one U+FFFD, as Swift does). In both
        // cases the decoder is back at a sequence boundary, so the rest decodes independently.
        var head = Self.decode(bits: bits, count: count)
        let rest = UnsafeRawBufferPointer(rebasing: bytes[consumed...])
        head.append(decodeHoldingTail(rest))
        return head
    }

    /// Decodes the bytes of `bytes` as `write(_:)` does with a raw buffer.
    public mutating func write(_ bytes: [UInt8]) -> String {
        bytes.withUnsafeBytes { write($0) }
    }

    /// Flushes: returns U+FFFD for a held-back incomplete sequence (one U+FFFD per maximal subpart, like Swift's
    /// decoding), "" otherwise, and resets.
    public mutating func end() -> String {
        guard pendingCount > 0 else { return "" }
        // Decoding the held bytes (rather than returning a literal) keeps `end()` defined by the same rule as the rest.
        let text = Self.decode(bits: pendingBits, count: pendingCount)
        pendingBits = 0
        pendingCount = 0
        return text
    }

    // MARK: - Validation only

    /// Checks that `bytes`, appended to what came before, are still a prefix of valid UTF-8, without decoding them
    /// (WebSocket text messages must be rejected at the first invalid byte, across fragments: RFC 6455 §8.1).
    ///
    /// Returns false at the first byte that no valid continuation could follow; the decoder's state is then
    /// meaningless (the stream has failed). A trailing incomplete scalar is held as with `write`, so an error can
    /// fall on any chunk boundary; `pendingByteCount == 0` at the end of a message means it ended on a boundary.
    /// Do not mix with `write` on one decoder.
    public mutating func validate(_ bytes: UnsafeRawBufferPointer) -> Bool {
        let count = bytes.count
        var index = 0
        while index < count {
            if pendingCount > 0 {
                let lead = UInt8(truncatingIfNeeded: pendingBits)
                guard Self.accepts(bytes[index], at: pendingCount, lead: lead) else { return false }
                index += 1
                pendingCount += 1
                if pendingCount == Self.sequenceLength(lead: lead) {
                    pendingCount = 0
                    pendingBits = 0
                }
                continue
            }
            // ASCII runs, eight bytes at a time: most text is ASCII.
            while index + 8 <= count,
                bytes.loadUnaligned(fromByteOffset: index, as: UInt64.self) & 0x8080_8080_8080_8080 == 0
            {
                index += 8
            }
            guard index < count else { break }
            let byte = bytes[index]
            index += 1
            if byte < 0x80 { continue }
            guard Self.sequenceLength(lead: byte) > 0 else { return false }
            pendingBits = UInt32(byte)
            pendingCount = 1
        }
        return true
    }

    // Decodes `bytes`, which start at a sequence boundary, and holds back a trailing valid-but-incomplete prefix.
    private mutating func decodeHoldingTail(_ bytes: UnsafeRawBufferPointer) -> String {
        let tail = Self.incompleteTailLength(bytes)
        if tail == 0 {
            // Hot path: the chunk ends on a boundary, so decode straight from the caller's memory, no copy.
            return String(decoding: bytes, as: UTF8.self)
        }
        let split = bytes.count - tail
        var bits: UInt32 = 0
        for index in 0..<tail {
            bits |= UInt32(bytes[split + index]) << UInt32(8 * index)
        }
        pendingBits = bits
        pendingCount = tail
        return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[..<split]), as: UTF8.self)
    }

    // Length of the trailing bytes that form a proper prefix of a valid scalar, or 0.
    //
    // Only a lead byte (C2...F4) can start such a prefix, and a decoder always starts a new sequence at a lead byte
    // (it is never a continuation), so whatever precedes the tail does not change how the tail decodes.
    private static func incompleteTailLength(_ bytes: UnsafeRawBufferPointer) -> Int {
        let count = bytes.count
        // At most 3 bytes can be an incomplete scalar; look for the lead byte among them, nearest the end first.
        for tail in 1...3 where tail <= count {
            let start = count - tail
            let lead = bytes[start]
            if lead < 0x80 { return 0 }  // ASCII: everything before the end is complete.
            if lead < 0xC0 { continue }  // Continuation byte: the lead, if any, is further back.
            let needed = sequenceLength(lead: lead)
            // A lead that could not start a sequence (C0, C1, F5...FF) or whose sequence is already complete here.
            guard needed > tail else { return 0 }
            for offset in 1..<tail where !accepts(bytes[start + offset], at: offset, lead: lead) {
                return 0
            }
            return tail
        }
        return 0
    }

    // Encoded length of a scalar starting with `lead`, or 0 when `lead` can never start a valid sequence.
    private static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return 0
        }
    }

    // Whether `byte` is acceptable at `position` (1...3) of a sequence led by `lead`.
    //
    // The second byte's range is narrowed for some leads (Unicode Table 3-7) so that overlongs (E0 80, F0 80),
    // surrogates (ED A0) and values past U+10FFFF (F4 90) are rejected as soon as they are seen, exactly where
    // Swift's decoder ends the maximal subpart.
    private static func accepts(_ byte: UInt8, at position: Int, lead: UInt8) -> Bool {
        guard position == 1 else { return (0x80...0xBF).contains(byte) }
        switch lead {
        case 0xE0: return (0xA0...0xBF).contains(byte)
        case 0xED: return (0x80...0x9F).contains(byte)
        case 0xF0: return (0x90...0xBF).contains(byte)
        case 0xF4: return (0x80...0x8F).contains(byte)
        default: return (0x80...0xBF).contains(byte)
        }
    }

    // Decodes the first `count` bytes packed in `bits` (at most 4, little-endian), without a heap allocation.
    private static func decode(bits: UInt32, count: Int) -> String {
        withUnsafeBytes(of: bits.littleEndian) { raw in
            String(decoding: UnsafeRawBufferPointer(rebasing: raw[..<count]), as: UTF8.self)
        }
    }
}
