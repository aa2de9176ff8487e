// libFuzzer target: RequestTarget and QueryString (built with Sources/NetCoreHTTP/RequestTarget.swift by
// scripts/fuzz.sh).
//
// Invariants, beyond "no crash" (the input is read as `String(decoding: input, as: UTF8.self)`):
// - `RequestTarget` either fails or gives a path starting with "/"; `QueryString.parse` of the input, and of a
//   target's query, never crashes.
// - Round trip: when `parse` succeeds, re-encoding every key and value with every byte percent-encoded (upper or
//   lower case hex, or `+` for a space, chosen from the input) and parsing again gives the same pairs, byte for byte.
// - `value(of:in:)` agrees with `parse`; `decode` of text without `%` or `+` is that text.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let text = String(decoding: input, as: UTF8.self)
    var random = SplitMix64(seed: Fuzz.hash(input))

    if let target = RequestTarget(text) {
        if target.path.utf8.first != UInt8(ascii: "/") {
            Fuzz.fail("RequestTarget path does not start with /: \(Fuzz.escaped(target.path.utf8))", input: input)
        }
        if let query = target.query { checkQuery(query, random: &random, input: input) }
    }
    checkQuery(text, random: &random, input: input)

    if !text.utf8.contains(UInt8(ascii: "%")) && !text.utf8.contains(UInt8(ascii: "+")) {
        guard let decoded = QueryString.decode(Substring(text)), decoded.utf8.elementsEqual(text.utf8) else {
            Fuzz.fail("decode changed text without escapes", input: input)
        }
    }
    return 0
}

private func checkQuery(_ query: String, random: inout SplitMix64, input: UnsafeBufferPointer<UInt8>) {
    guard let pairs = QueryString.parse(query) else {
        if case .some(.some) = QueryString.value(of: "a", in: query) {
            Fuzz.fail("value(of:in:) found a value in a query parse rejects", input: input)
        }
        return
    }
    if let first = pairs.first {
        let found = QueryString.value(of: first.key, in: query)
        guard case .some(.some(let value)) = found, value.utf8.elementsEqual(first.value.utf8) else {
            Fuzz.fail("value(of:in:) disagrees with parse for key \(Fuzz.escaped(first.key.utf8))", input: input)
        }
    }

    let encoded = pairs.map { encode($0.key, &random) + "=" + encode($0.value, &random) }.joined(separator: "&")
    guard let again = QueryString.parse(encoded) else {
        Fuzz.fail("re-encoded query does not parse", input: input, "  encoded: \(encoded)")
    }
    let same =
        again.count == pairs.count
        && zip(again, pairs).allSatisfy {
            $0.key.utf8.elementsEqual($1.key.utf8) && $0.value.utf8.elementsEqual($1.value.utf8)
        }
    if !same {
        Fuzz.fail(
            "re-encoded query parses to other pairs",
            input: input,
            "  query: \(Fuzz.escaped(query.utf8))\n  pairs: \(describe(pairs))\n  encoded: \(encoded)\n"
                + "  again: \(describe(again))"
        )
    }
}

/// Every byte of `text` percent-encoded (hex case chosen at random), or `+` for a space half of the time.
private func encode(_ text: String, _ random: inout SplitMix64) -> String {
    var result = ""
    for byte in text.utf8 {
        let choice = random.next() % 4
        if byte == 0x20 && choice < 2 {
            result += "+"
        } else {
            let hex = String(byte, radix: 16, uppercase: choice & 1 == 0)
            result += "%" + (byte < 0x10 ? "0" : "") + hex
        }
    }
    return result
}

private func describe(_ pairs: [(key: String, value: String)]) -> String {
    "[" + pairs.map { "\(Fuzz.escaped($0.key.utf8))=\(Fuzz.escaped($0.value.utf8))" }.joined(separator: ", ") + "]"
}
