// libFuzzer target: ChunkedDecoder and ChunkedEncoder (built with the pure NetCoreHTTP sources by scripts/fuzz.sh).
//
// Invariants, beyond "no crash":
// - Decoding the input whole, split at an input-derived offset, in input-derived chunks (empty ones included) and one
//   byte at a time gives the same data, trailers, error and number of bytes consumed; this holds for the default
//   limits and for small ones.
// - The decoder consumes nothing past the end of the chunked body; `.end` comes once, last, exactly when
//   `isComplete`; once it threw, it keeps throwing and produces nothing. Error statuses are 400, 413 or 431.
// - Round trip: when the input decodes completely, the data re-encoded with `ChunkedEncoder` (`frame` + `lastChunk`,
//   and in input-derived chunks + `end(trailers:)`) decodes to the same data (and trailers), consuming all of it.

private struct Outcome: Equatable {
    var data: [UInt8] = []
    var trailers: HTTPHeaders?
    var error: HTTPParseError?
    var consumed = 0
}

private struct Limits {
    var maxBodyBytes: Int
    var maxTrailerBytes: Int
}

private let limitSets = [
    Limits(maxBodyBytes: .max, maxTrailerBytes: 16 * 1024),
    Limits(maxBodyBytes: 100, maxTrailerBytes: 64),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let seed = Fuzz.hash(input)
    for limits in limitSets {
        checkSplits(input, seed: seed, limits: limits)
    }
    checkRoundTrip(input, seed: seed)
    return 0
}

private func checkSplits(_ input: UnsafeBufferPointer<UInt8>, seed: UInt64, limits: Limits) {
    let count = input.count
    var random = SplitMix64(seed: seed)
    let whole = decode(input, [0..<count], limits: limits)
    let ways: [(String, [Range<Int>])] = [
        ("split at an input-derived offset", Fuzz.split(count: count, at: Fuzz.offset(seed, count: count))),
        ("input-derived chunks", Fuzz.chunks(count: count, random: &random, maxChunk: 9)),
        ("one byte at a time", Fuzz.bytewise(count: count)),
    ]
    for (name, ranges) in ways {
        let outcome = decode(input, ranges, limits: limits)
        if outcome != whole {
            Fuzz.fail(
                "decoding \(name) differs from decoding the input whole (limits \(limits))",
                input: input,
                "  whole: \(describe(whole))\n  \(name): \(describe(outcome))"
            )
        }
    }
}

/// Decodes `input` fed in `ranges` (each a fresh allocation, so ASan sees over-reads) and checks the per-call
/// invariants.
private func decode(_ input: UnsafeBufferPointer<UInt8>, _ ranges: [Range<Int>], limits: Limits) -> Outcome {
    decode(ranges.map { Array(input[$0]) }, limits: limits, input: input)
}

private func decode(_ pieces: [[UInt8]], limits: Limits, input: UnsafeBufferPointer<UInt8>) -> Outcome {
    var decoder = ChunkedDecoder(maxBodyBytes: limits.maxBodyBytes, maxTrailerBytes: limits.maxTrailerBytes)
    var outcome = Outcome()
    for piece in pieces {
        var index = 0
        var events: [ChunkedDecoder.Event] = []
        let wasComplete = decoder.isComplete
        if let error = step(&decoder, piece, &index, &events) {
            outcome.error = error
            if ![400, 413, 431].contains(error.status) {
                Fuzz.fail("error status \(error.status) (\(error.reason))", input: input)
            }
        }
        if index < 0 || index > piece.count { Fuzz.fail("index \(index) outside 0...\(piece.count)", input: input) }
        if wasComplete && (index != 0 || !events.isEmpty) {
            Fuzz.fail("the decoder consumed bytes or produced events after the end", input: input)
        }
        if outcome.error == nil, !decoder.isComplete, index != piece.count {
            Fuzz.fail("stopped at \(index) of \(piece.count) without an error or the end", input: input)
        }
        outcome.consumed += index
        for (position, event) in events.enumerated() {
            switch event {
            case .data(let data):
                if data.isEmpty { Fuzz.fail("an empty .data event", input: input) }
                outcome.data += data
            case .end(let trailers):
                if position != events.count - 1 || outcome.trailers != nil {
                    Fuzz.fail(".end that is not the last event", input: input)
                }
                outcome.trailers = trailers
            }
        }
        if outcome.data.count > limits.maxBodyBytes {
            Fuzz.fail("decoded \(outcome.data.count) bytes over maxBodyBytes \(limits.maxBodyBytes)", input: input)
        }
        if decoder.isComplete != (outcome.trailers != nil) {
            Fuzz.fail("isComplete \(decoder.isComplete) but .end seen: \(outcome.trailers != nil)", input: input)
        }
        if outcome.error != nil {
            // Once failed, the decoder keeps failing, without events.
            var again = 0
            var more: [ChunkedDecoder.Event] = []
            if step(&decoder, Array("0\r\n\r\n".utf8), &again, &more) == nil {
                Fuzz.fail("decoding after an error did not throw", input: input)
            }
            if !more.isEmpty { Fuzz.fail("decoding after an error produced events", input: input) }
            break
        }
    }
    return outcome
}

/// One `decode` call; the error it threw, if any.
private func step(
    _ decoder: inout ChunkedDecoder,
    _ bytes: [UInt8],
    _ index: inout Int,
    _ events: inout [ChunkedDecoder.Event]
) -> HTTPParseError? {
    bytes.withUnsafeBytes { raw -> HTTPParseError? in
        do throws(HTTPParseError) {
            try decoder.decode(raw, from: &index, into: &events)
            return nil
        } catch {
            return error
        }
    }
}

private func checkRoundTrip(_ input: UnsafeBufferPointer<UInt8>, seed: UInt64) {
    let limits = limitSets[0]
    let decoded = decode(input, [0..<input.count], limits: limits)
    guard decoded.error == nil, let trailers = decoded.trailers else { return }
    let data = decoded.data

    // frame(all) + lastChunk, as the brief form.
    var encoded = ChunkedEncoder.frame(data).flatMap { $0 }
    if !ChunkedEncoder.frame([]).isEmpty { Fuzz.fail("frame([]) is not empty (it would end the body)", input: input) }
    encoded += ChunkedEncoder.lastChunk
    let again = decode([encoded], limits: limits, input: input)
    let expected = Outcome(data: data, trailers: HTTPHeaders(), error: nil, consumed: encoded.count)
    if again != expected {
        Fuzz.fail(
            "re-encoded data (frame + lastChunk) decodes differently",
            input: input,
            "  encoded: \(Fuzz.escaped(encoded))\n  decoded: \(describe(again))\n  expected: \(describe(expected))"
        )
    }

    // Input-derived chunks + end(trailers:), fed in input-derived pieces. The trailers are only carried over if their
    // re-encoding (`name: value`, invalid UTF-8 now U+FFFD) stays within the line and section limits.
    var random = SplitMix64(seed: seed ^ 0x5555_5555_5555_5555)
    var chunked: [UInt8] = []
    for range in Fuzz.chunks(count: data.count, random: &random, maxChunk: 40) {
        chunked += ChunkedEncoder.frame(Array(data[range])).flatMap { $0 }
    }
    let lines = trailers.fields.map { "\($0.name): \($0.value)".utf8.count }
    let keepTrailers = lines.allSatisfy { $0 <= 4096 } && lines.reduce(2) { $0 + $1 + 2 } <= limits.maxTrailerBytes
    chunked += ChunkedEncoder.end(trailers: keepTrailers ? trailers : HTTPHeaders())
    let pieces = Fuzz.chunks(count: chunked.count, random: &random, maxChunk: 64).map { Array(chunked[$0]) }
    let decodedAgain = decode(pieces, limits: limits, input: input)
    let expectedAgain = Outcome(
        data: data,
        trailers: keepTrailers ? trailers : HTTPHeaders(),
        error: nil,
        consumed: chunked.count
    )
    if decodedAgain != expectedAgain {
        Fuzz.fail(
            "re-encoded data (chunks + end(trailers:)) decodes differently",
            input: input,
            "  encoded: \(Fuzz.escaped(chunked))\n  decoded: \(describe(decodedAgain))\n  expected: \(describe(expectedAgain))"
        )
    }
}

private func describe(_ outcome: Outcome) -> String {
    let trailers = outcome.trailers.map { headers in
        "[" + headers.fields.map { "\($0.name): \($0.value)" }.joined(separator: " | ") + "]"
    }
    return
        "data \(Fuzz.escaped(outcome.data)) trailers \(trailers ?? "nil") error \(outcome.error.map { "\($0)" } ?? "nil")"
        + " consumed \(outcome.consumed)"
}
