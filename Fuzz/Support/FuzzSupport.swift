// Compiled into every fuzz target (see scripts/fuzz.sh): input-derived choices and invariant failures.
//
// Every choice a target makes (where to split the input, how to chunk it) comes from the input's hash, so a saved
// crash input replays exactly: `.build-fuzz/bin/<target> Fuzz/regressions/<target>/<file>`.

enum Fuzz {
    /// FNV-1a over the input: the seed of every input-derived choice.
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01B3
        }
        return hash
    }

    /// An offset in `0...count` derived from `seed`.
    static func offset(_ seed: UInt64, count: Int) -> Int {
        Int(seed % UInt64(count + 1))
    }

    /// Ranges covering `0..<count` in order, each of 0...`maxChunk` bytes (empty ones included on purpose: feeding
    /// nothing must change nothing).
    static func chunks(count: Int, random: inout SplitMix64, maxChunk: Int) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        while start < count {
            let length = min(Int(random.next() % UInt64(maxChunk + 1)), count - start)
            ranges.append(start..<(start + length))
            start += length
        }
        return ranges
    }

    /// Ranges of one byte each.
    static func bytewise(count: Int) -> [Range<Int>] {
        (0..<count).map { $0..<($0 + 1) }
    }

    /// Two ranges split at `offset`.
    static func split(count: Int, at offset: Int) -> [Range<Int>] {
        [0..<offset, offset..<count]
    }

    /// Stops the run: libFuzzer sees the trap as a crash and saves the input under `-artifact_prefix`.
    static func fail(
        _ what: String,
        input: UnsafeBufferPointer<UInt8>,
        _ details: @autoclosure () -> String = "",
        file: StaticString = #fileID,
        line: UInt = #line
    ) -> Never {
        var message = "INVARIANT FAILED: \(what)\n  input (\(input.count) bytes): \(escaped(Array(input)))"
        let extra = details()
        if !extra.isEmpty { message += "\n" + extra }
        fatalError(message, file: file, line: line)
    }

    /// `bytes` as a Swift-like string literal, truncated to 600 bytes.
    static func escaped<C: Collection<UInt8>>(_ bytes: C) -> String {
        var text = "\""
        for byte in bytes.prefix(600) {
            switch byte {
            case 0x0D: text += "\\r"
            case 0x0A: text += "\\n"
            case 0x09: text += "\\t"
            case 0x22: text += "\\\""
            case 0x5C: text += "\\\\"
            case 0x20...0x7E: text.unicodeScalars.append(Unicode.Scalar(byte))
            default: text += "\\x" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16)
            }
        }
        text += "\""
        if bytes.count > 600 { text += "…(+\(bytes.count - 600) bytes)" }
        return text
    }
}

/// A tiny deterministic generator (SplitMix64), seeded from the input.
struct SplitMix64 {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
