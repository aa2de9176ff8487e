// libFuzzer target: UTF8StreamDecoder (built with Sources/NetCore/Encoding/UTF8StreamDecoder.swift by scripts/fuzz.sh).
//
// Invariant (the type's documented contract): for any way of splitting the input into chunks, the concatenation of
// every `write` result plus `end()` equals `String(decoding: input, as: UTF8.self)`, scalar for scalar (compared as
// UTF-8 bytes: String's `==` would accept a canonically equivalent but different result). Chunkings: the input
// whole, split at an input-derived offset, input-derived chunks of 0...5 bytes (empty writes included), one byte at
// a time, and input-derived chunks through the `[UInt8]` overload. At most 3 bytes are ever held back, none after
// `end()`, and a decoder is reusable after `end()`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let expected = Array(String(decoding: input, as: UTF8.self).utf8)
    let count = input.count
    let seed = Fuzz.hash(input)
    var random = SplitMix64(seed: seed)
    let ways: [(String, [Range<Int>], Bool)] = [
        ("whole", [0..<count], false),
        ("split at an input-derived offset", Fuzz.split(count: count, at: Fuzz.offset(seed, count: count)), false),
        ("input-derived chunks", Fuzz.chunks(count: count, random: &random, maxChunk: 5), false),
        ("one byte at a time", Fuzz.bytewise(count: count), false),
        ("input-derived chunks as arrays", Fuzz.chunks(count: count, random: &random, maxChunk: 7), true),
    ]
    var reused = UTF8StreamDecoder()
    for (name, ranges, asArrays) in ways {
        var decoder = UTF8StreamDecoder()
        var text: [UInt8] = []
        for range in ranges {
            // A fresh allocation per write, so ASan catches a read past the end of the chunk.
            let chunk = Array(input[range])
            let written = asArrays ? decoder.write(chunk) : chunk.withUnsafeBytes { decoder.write($0) }
            text += written.utf8
            if !(0...3).contains(decoder.pendingByteCount) {
                Fuzz.fail("\(decoder.pendingByteCount) bytes held back (\(name))", input: input)
            }
        }
        text += decoder.end().utf8
        if decoder.pendingByteCount != 0 { Fuzz.fail("bytes held back after end() (\(name))", input: input) }
        if text != expected {
            Fuzz.fail(
                "decoding \(name) differs from String(decoding:as:)",
                input: input,
                "  chunks at \(ranges.map { "\($0.lowerBound)" }.joined(separator: ","))\n"
                    + "  got:      \(Fuzz.escaped(text))\n  expected: \(Fuzz.escaped(expected))"
            )
        }
        // The same decoder, across rounds: end() must leave nothing behind.
        var again: [UInt8] = []
        for range in ranges { again += Array(input[range]).withUnsafeBytes { reused.write($0) }.utf8 }
        again += reused.end().utf8
        if again != expected { Fuzz.fail("a decoder reused after end() decodes differently (\(name))", input: input) }
    }
    return 0
}
