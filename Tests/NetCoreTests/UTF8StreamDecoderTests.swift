import Testing

@testable import NetCore

/// Ports the utf8 part of Node's test/parallel/test-string-decoder.js, plus exhaustive and random splitting checks
/// against `String(decoding:as: UTF8.self)`, which defines the expected output.
@Suite struct UTF8StreamDecoderTests {
    // Swift's own one-shot decoding: the streaming decoder must agree with it whatever the chunking.
    private static func reference(_ bytes: [UInt8]) -> String {
        String(decoding: bytes, as: UTF8.self)
    }

    // Feeds `chunks` to a fresh decoder and returns every write result followed by the `end()` result.
    private static func outputs(_ chunks: [[UInt8]]) -> [String] {
        var decoder = UTF8StreamDecoder()
        var results = chunks.map { decoder.write($0) }
        results.append(decoder.end())
        return results
    }

    // Splits `bytes` at the given ascending offsets.
    private static func split(_ bytes: [UInt8], at offsets: [Int]) -> [[UInt8]] {
        var chunks: [[UInt8]] = []
        var start = 0
        for offset in offsets + [bytes.count] {
            chunks.append(Array(bytes[start..<offset]))
            start = offset
        }
        return chunks
    }

    /// Deterministic xorshift64 generator, so a failure reproduces without Foundation or a global seed.
    private struct XorShift {
        var state: UInt64

        mutating func next() -> UInt64 {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return state
        }

        mutating func next(below bound: Int) -> Int {
            Int(next() % UInt64(bound))
        }
    }

    @Test(arguments: ["$", "\u{A2}", "\u{20AC}", "\u{1F600}"])
    func write_holdsBackSplitScalar_whenChunkEndsMidCharacter(character: String) {
        let bytes = Array(character.utf8)
        for offset in 0...bytes.count {
            var decoder = UTF8StreamDecoder()
            let first = decoder.write(Array(bytes[..<offset]))
            // Nothing is emitted until the character is complete, and exactly the split-off bytes are held.
            #expect(first == (offset == bytes.count ? character : ""), "offset \(offset)")
            #expect(decoder.pendingByteCount == (offset == bytes.count ? 0 : offset), "offset \(offset)")
            let second = decoder.write(Array(bytes[offset...]))
            #expect(first + second == character, "offset \(offset)")
            #expect(decoder.pendingByteCount == 0, "offset \(offset)")
            #expect(decoder.end() == "", "offset \(offset)")
        }
    }

    @Test func write_emitsEuroOnlyOnLastByte_whenFedByteByByte() {
        var decoder = UTF8StreamDecoder()
        #expect(decoder.write([0xE2]) == "")
        #expect(decoder.write([0x82]) == "")
        #expect(decoder.write([0xAC]) == "\u{20AC}")
        #expect(decoder.end() == "")
    }

    @Test func write_completesHeldScalarAndDecodesRest_whenNextChunkContinues() {
        var decoder = UTF8StreamDecoder()
        // "a€" then "€b" split so both chunk boundaries fall inside a euro sign.
        #expect(decoder.write([0x61, 0xE2, 0x82]) == "a")
        #expect(decoder.write([0xAC, 0xE2]) == "\u{20AC}")
        #expect(decoder.pendingByteCount == 1)
        #expect(decoder.write([0x82, 0xAC, 0x62]) == "\u{20AC}b")
        #expect(decoder.end() == "")
    }

    @Test func write_ignoresEmptyChunk_whenBytesAreHeld() {
        var decoder = UTF8StreamDecoder()
        #expect(decoder.write([0xF0, 0x9F]) == "")
        #expect(decoder.write([]) == "")
        #expect(decoder.pendingByteCount == 2)
        #expect(decoder.write([0x98, 0x80]) == "\u{1F600}")
    }

    @Test func write_decodesRawBufferSlices_likeArrayChunks() {
        let bytes: [UInt8] = [0x78, 0xC3, 0xA9, 0xE2, 0x82, 0xAC, 0x79]
        var decoder = UTF8StreamDecoder()
        let text = bytes.withUnsafeBytes { raw in
            decoder.write(UnsafeRawBufferPointer(rebasing: raw[..<4]))
                + decoder.write(UnsafeRawBufferPointer(rebasing: raw[4...]))
        }
        #expect(text == "x\u{E9}\u{20AC}y")
        #expect(decoder.end() == "")
    }

    @Test(arguments: [
        [0xE2, 0x82] as [UInt8], [0xF0, 0x9F, 0x98], [0xC3], [0xF4, 0x8F, 0xBF], [0x61, 0xED, 0x9F],
    ])
    func end_emitsReplacementCharacter_whenTailIsTruncated(bytes: [UInt8]) {
        var decoder = UTF8StreamDecoder()
        let written = decoder.write(bytes)
        #expect(decoder.pendingByteCount > 0)
        #expect(written + decoder.end() == Self.reference(bytes))
        #expect(Self.reference(bytes).hasSuffix("\u{FFFD}"))
        // `end()` resets: a second flush emits nothing and the decoder starts afresh.
        #expect(decoder.pendingByteCount == 0)
        #expect(decoder.end() == "")
        #expect(decoder.write([0x6F, 0x6B]) == "ok")
    }

    @Test func end_returnsEmpty_whenNothingIsHeld() {
        var decoder = UTF8StreamDecoder()
        #expect(decoder.end() == "")
        #expect(decoder.write(Array("abc".utf8)) == "abc")
        #expect(decoder.end() == "")
    }

    @Test(arguments: [
        [0xC0] as [UInt8], [0xC1, 0xBF], [0xFF], [0xF5, 0x80], [0x80], [0xBF, 0x80],
        [0xED, 0xA0, 0x80], [0xE0, 0x80, 0x80], [0xF0, 0x80, 0x80, 0x80], [0xF4, 0x90, 0x80, 0x80],
        [0xE2, 0x41], [0xE2, 0x82, 0x41], [0xF0, 0x9F, 0x98, 0x41], [0xC3, 0xC3, 0xA9],
    ])
    func write_replacesInvalidBytes_likeSwiftDecoding(bytes: [UInt8]) {
        let expected = Self.reference(bytes)
        #expect(expected.unicodeScalars.contains("\u{FFFD}"))
        #expect(Self.outputs([bytes]).joined() == expected)
        #expect(Self.outputs(bytes.map { [$0] }).joined() == expected)
        #expect(Self.outputs([[0x61] + bytes + [0x62]]).joined() == "a" + expected + "b")
    }

    @Test(arguments: [
        [0xE2, 0x41] as [UInt8], [0xF4, 0x90], [0xED, 0xA0], [0xE0, 0x80], [0xF0, 0x80], [0xE0, 0x9F],
        [0xF0, 0x8F], [0xC0], [0xC1], [0xF5], [0xF8], [0xFF], [0x80], [0xE2, 0x82, 0xAC, 0xAC],
    ])
    func write_holdsNothing_whenTailCanNeverBecomeValid(bytes: [UInt8]) {
        var decoder = UTF8StreamDecoder()
        #expect(decoder.write(bytes) == Self.reference(bytes))
        #expect(decoder.pendingByteCount == 0)
        #expect(decoder.end() == "")
    }

    @Test(arguments: [
        ([0xC2] as [UInt8], 1), ([0xE2, 0x82], 2), ([0xE0, 0xA0], 2), ([0xED, 0x9F], 2), ([0xF0, 0x90, 0x80], 3),
        ([0xF4, 0x8F, 0xBF], 3), ([0xF4], 1), ([0x41, 0xEF, 0xBF], 2), ([0xFF, 0xF1], 1),
    ])
    func write_holdsBackTail_whenItCanStillBecomeValid(bytes: [UInt8], held: Int) {
        var decoder = UTF8StreamDecoder()
        let written = decoder.write(bytes)
        #expect(decoder.pendingByteCount == held)
        #expect(written == Self.reference(Array(bytes.dropLast(held))))
        #expect(decoder.end() == "\u{FFFD}")
    }

    @Test func write_matchesOneShotDecoding_forEverySplitIntoThreeChunks() {
        var bytes = Array("a\u{E9}\u{20AC}\u{1F600}b".utf8)
        bytes += [0xC0, 0x80, 0xE2, 0x82, 0x41, 0xED, 0xA0, 0x80, 0xF4, 0x90, 0x80, 0x80, 0xFF]
        bytes += Array("\u{20AC}\u{1F600}".utf8) + [0xF0, 0x9F, 0x98]
        let expected = Self.reference(bytes)
        var checked = 0
        for first in 0...bytes.count {
            for second in first...bytes.count {
                let chunks = Self.split(bytes, at: [first, second])
                let actual = Self.outputs(chunks).joined()
                #expect(actual == expected, "split at \(first), \(second)")
                checked += 1
            }
        }
        #expect(checked == (bytes.count + 1) * (bytes.count + 2) / 2)
    }

    @Test func write_matchesOneShotDecoding_forRandomBytesAndChunking() {
        var random = XorShift(state: 0x9E37_79B9_7F4A_7C15)
        // Bytes drawn mostly from the interesting ranges (leads, continuations, boundary values) so that split
        // and invalid sequences are common; plain random bytes would rarely form multi-byte characters.
        let interesting: [UInt8] = [
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED,
            0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
        ]
        let characters = ["a", "\u{E9}", "\u{20AC}", "\u{1F600}", "\u{10FFFF}", "\u{D7FF}", "\u{E000}"]
        for iteration in 0..<2_000 {
            var bytes: [UInt8] = []
            for _ in 0..<random.next(below: 24) {
                switch random.next(below: 3) {
                case 0: bytes.append(UInt8(truncatingIfNeeded: random.next()))
                case 1: bytes.append(interesting[random.next(below: interesting.count)])
                default: bytes += Array(characters[random.next(below: characters.count)].utf8)
                }
            }
            var offsets: [Int] = []
            var offset = 0
            while offset < bytes.count {
                // Chunks of 0...5 bytes: empty chunks and one-byte chunks are the edge cases worth hitting.
                offset = min(bytes.count, offset + random.next(below: 6))
                offsets.append(offset)
            }
            let actual = Self.outputs(Self.split(bytes, at: offsets)).joined()
            #expect(actual == Self.reference(bytes), "iteration \(iteration), bytes \(bytes), offsets \(offsets)")
        }
    }
}
