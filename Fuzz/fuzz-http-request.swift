// libFuzzer target: HTTPRequestParser (built with the pure NetCoreHTTP sources by scripts/fuzz.sh).
//
// Invariants, beyond "no crash", for two sets of limits (the defaults and small ones that reach 413/414/431):
// - Feeding the input whole, one byte at a time, split at an input-derived offset, and in input-derived chunks
//   (empty feeds included) gives the same events once adjacent `.body` events are merged.
// - An `.error` is always the last event, and once there was one, feeding more gives no events.
// - Error statuses are 400, 413, 414, 431, 501 or 505.
// - Events follow `(head body* end)*` with an optional final error; a head without a body is ended at once.
// - Every head is well formed: a token method, a target of visible ASCII within the limit, HTTP/1.x, token field
//   names, field values without controls or surrounding whitespace, at most one Host (exactly one in HTTP/1.1).
// - Framing matches the headers (the smuggling defences): Transfer-Encoding means chunked, HTTP/1.1 and no
//   Content-Length; otherwise one all-digit Content-Length gives that length; otherwise no body. A message's body
//   never exceeds its Content-Length or `maxBodyBytes`, and equals the Content-Length when the message ends.

private let allowedStatuses: Set<Int> = [400, 413, 414, 431, 501, 505]

private let limitSets: [HTTPRequestParser.Limits] = [
    HTTPRequestParser.Limits(),
    HTTPRequestParser.Limits(maxHeaderBytes: 300, maxTargetBytes: 40, maxBodyBytes: 100),
]

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let input = UnsafeBufferPointer(start: data, count: size)
    let seed = Fuzz.hash(input)
    for limits in limitSets {
        checkRequestParser(input, seed: seed, limits: limits)
    }
    return 0
}

private func checkRequestParser(_ input: UnsafeBufferPointer<UInt8>, seed: UInt64, limits: HTTPRequestParser.Limits) {
    let count = input.count
    var random = SplitMix64(seed: seed)
    let whole = feed(input, [0..<count], limits: limits)
    let ways: [(String, [Range<Int>])] = [
        ("one byte at a time", Fuzz.bytewise(count: count)),
        ("split at an input-derived offset", Fuzz.split(count: count, at: Fuzz.offset(seed, count: count))),
        ("input-derived chunks", Fuzz.chunks(count: count, random: &random, maxChunk: 17)),
    ]
    for (name, ranges) in ways {
        let events = feed(input, ranges, limits: limits)
        if events != whole {
            Fuzz.fail(
                "feeding \(name) gives other events than feeding the input whole",
                input: input,
                "  whole: \(describe(whole))\n  \(name) \(ranges.map { "\($0.lowerBound)" }.joined(separator: ",")):"
                    + " \(describe(events))"
            )
        }
    }
    checkEvents(whole, limits: limits, input: input)
}

/// Feeds `input` in `ranges` to a new parser; checks the per-feed invariants; returns the events, bodies merged.
private func feed(
    _ input: UnsafeBufferPointer<UInt8>,
    _ ranges: [Range<Int>],
    limits: HTTPRequestParser.Limits
) -> [HTTPRequestParser.Event] {
    var parser = HTTPRequestParser(limits: limits)
    var all: [HTTPRequestParser.Event] = []
    for range in ranges {
        // A fresh allocation per feed, so ASan catches a read past the end of what was fed.
        let events = parser.feed(Array(input[range]))
        if case .error = all.last, !events.isEmpty {
            Fuzz.fail("events after an .error", input: input, "  after \(describe(all)): \(describe(events))")
        }
        for (position, event) in events.enumerated() {
            if case .error = event, position != events.count - 1 {
                Fuzz.fail("an .error that is not the last event", input: input, "  \(describe(events))")
            }
        }
        all += events
    }
    if case .error = all.last {
        // Once failed, the parser stays silent whatever comes: the rest of the input, or a perfectly valid request.
        let more = parser.feed(Array(input)) + parser.feed(Array("GET / HTTP/1.1\r\nHost: a\r\n\r\n".utf8))
        if !more.isEmpty {
            Fuzz.fail("feeding after an .error gave events", input: input, "  \(describe(more))")
        }
    }
    return merged(all)
}

/// Adjacent `.body` events merged into one; empty bodies dropped.
private func merged(_ events: [HTTPRequestParser.Event]) -> [HTTPRequestParser.Event] {
    var result: [HTTPRequestParser.Event] = []
    for event in events {
        guard case .body(let data) = event else {
            result.append(event)
            continue
        }
        if data.isEmpty { continue }
        if case .body(let previous) = result.last {
            result[result.count - 1] = .body(previous + data)
        } else {
            result.append(event)
        }
    }
    return result
}

private func checkEvents(
    _ events: [HTTPRequestParser.Event],
    limits: HTTPRequestParser.Limits,
    input: UnsafeBufferPointer<UInt8>
) {
    // nil between messages; otherwise the current message's head and body bytes so far.
    var current: (head: HTTPRequestHead, bodyBytes: Int)?
    for (position, event) in events.enumerated() {
        switch event {
        case .upgrade:
            // The fuzzed parser never sets stopsAtUpgrade, so it must never stop at one.
            Fuzz.fail("an .upgrade from a parser that does not stop at upgrades", input: input, "  \(describe(events))")
        case .head(let head):
            if current != nil { Fuzz.fail("a .head inside a message", input: input, "  \(describe(events))") }
            checkHead(head, limits: limits, input: input)
            current = (head, 0)
            if head.framing == .none, position + 1 < events.count, events[position + 1] != .end {
                Fuzz.fail("a head without a body not followed by .end", input: input, "  \(describe(events))")
            }
        case .body(let data):
            guard let message = current else {
                Fuzz.fail("a .body outside a message", input: input, "  \(describe(events))")
            }
            let total = message.bodyBytes + data.count
            current = (message.head, total)
            switch message.head.framing {
            case .contentLength(let length):
                if total > length {
                    Fuzz.fail("more body than Content-Length \(length): \(total)", input: input)
                }
            case .chunked:
                if total > limits.maxBodyBytes {
                    Fuzz.fail("chunked body of \(total) bytes over maxBodyBytes \(limits.maxBodyBytes)", input: input)
                }
            case .none, .untilClose:
                Fuzz.fail("a .body for a head framed \(message.head.framing)", input: input)
            }
        case .end:
            guard let message = current else {
                Fuzz.fail("an .end outside a message", input: input, "  \(describe(events))")
            }
            if case .contentLength(let length) = message.head.framing, message.bodyBytes != length {
                Fuzz.fail("message ended after \(message.bodyBytes) of Content-Length \(length) bytes", input: input)
            }
            current = nil
        case .error(let error):
            if !allowedStatuses.contains(error.status) {
                Fuzz.fail("error status \(error.status) (\(error.reason))", input: input)
            }
            if error.reason.isEmpty { Fuzz.fail("an error without a reason", input: input) }
        }
    }
}

private func checkHead(_ head: HTTPRequestHead, limits: HTTPRequestParser.Limits, input: UnsafeBufferPointer<UInt8>) {
    func fail(_ what: String) -> Never { Fuzz.fail(what, input: input, "  head: \(describe(head))") }
    let method = Array(head.method.utf8)
    if method.isEmpty || !method.allSatisfy(isTokenByte) { fail("method is not a token") }
    let target = Array(head.target.utf8)
    if target.isEmpty || !target.allSatisfy({ (0x21...0x7E).contains($0) }) {
        fail("target is empty or has bytes other than visible ASCII")
    }
    if target.count > limits.maxTargetBytes { fail("target longer than maxTargetBytes \(limits.maxTargetBytes)") }
    if head.version.major != 1 || !(0...9).contains(head.version.minor) { fail("version \(head.version)") }
    for field in head.headers {
        let name = Array(field.name.utf8)
        if name.isEmpty || !name.allSatisfy(isTokenByte) { fail("field name is not a token") }
        let value = Array(field.value.utf8)
        if value.contains(where: { ($0 < 0x20 && $0 != 0x09) || $0 == 0x7F }) { fail("control byte in a field value") }
        if let first = value.first, first == 0x20 || first == 0x09 { fail("field value with leading whitespace") }
        if let last = value.last, last == 0x20 || last == 0x09 { fail("field value with trailing whitespace") }
    }

    let hosts = values(head.headers, "host")
    if hosts.count > 1 { fail("more than one Host") }
    if hosts.isEmpty && head.version.minor >= 1 { fail("HTTP/1.1 without Host") }

    let transferEncodings = values(head.headers, "transfer-encoding")
    let contentLengths = values(head.headers, "content-length")
    if !transferEncodings.isEmpty {
        if head.framing != .chunked { fail("Transfer-Encoding but framing \(head.framing)") }
        if !contentLengths.isEmpty { fail("both Transfer-Encoding and Content-Length accepted") }
        if head.version.minor < 1 { fail("Transfer-Encoding accepted in HTTP/1.0") }
        // Byte-wise and ASCII-only, as RFC 9110 defines tokens: a coding that merely lowercases to "chunked" under
        // Unicode rules is not chunked.
        let codings = transferEncodings.flatMap { $0.utf8.split(separator: 0x2C) }
            .map { asciiLowercased(trimmed(Array($0))) }.filter { !$0.isEmpty }
        if codings != [Array("chunked".utf8)] {
            fail("Transfer-Encoding other than chunked accepted: \(codings.map(Fuzz.escaped))")
        }
    } else if !contentLengths.isEmpty {
        if contentLengths.count != 1 { fail("duplicate Content-Length accepted") }
        let digits = Array(contentLengths[0].utf8)
        guard !digits.isEmpty, digits.allSatisfy({ (0x30...0x39).contains($0) }), let length = Int(contentLengths[0])
        else { fail("invalid Content-Length accepted") }
        if length > limits.maxBodyBytes { fail("Content-Length over maxBodyBytes accepted") }
        if head.framing != (length == 0 ? .none : .contentLength(length)) {
            fail("Content-Length \(length) but framing \(head.framing)")
        }
    } else if head.framing != .none {
        fail("no Transfer-Encoding or Content-Length but framing \(head.framing)")
    }
}

private func isTokenByte(_ byte: UInt8) -> Bool {
    switch byte {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: true
    default: Array("!#$%&'*+-.^_`|~".utf8).contains(byte)
    }
}

/// Values of the fields named `name`, compared as ASCII case-insensitively (not with HTTPHeaders' own lookup).
private func values(_ headers: HTTPHeaders, _ name: String) -> [String] {
    let wanted = asciiLowercased(Array(name.utf8))
    return headers.fields.filter { asciiLowercased(Array($0.name.utf8)) == wanted }.map(\.value)
}

private func asciiLowercased(_ bytes: [UInt8]) -> [UInt8] {
    bytes.map { (0x41...0x5A).contains($0) ? $0 | 0x20 : $0 }
}

/// Without leading and trailing SP and HTAB.
private func trimmed(_ bytes: [UInt8]) -> [UInt8] {
    var slice = bytes[...]
    while let first = slice.first, first == 0x20 || first == 0x09 { slice.removeFirst() }
    while let last = slice.last, last == 0x20 || last == 0x09 { slice.removeLast() }
    return Array(slice)
}

private func describe(_ events: [HTTPRequestParser.Event]) -> String {
    "["
        + events.map { event in
            switch event {
            case .head(let head): "head(\(describe(head)))"
            case .upgrade(let head, let rest): "upgrade(\(describe(head)), rest: \(Fuzz.escaped(rest)))"
            case .body(let data): "body(\(Fuzz.escaped(data)))"
            case .end: "end"
            case .error(let error): "error(\(error))"
            }
        }.joined(separator: ", ") + "]"
}

private func describe(_ head: HTTPRequestHead) -> String {
    let fields = head.headers.fields.map { "\($0.name): \($0.value)" }.joined(separator: " | ")
    return "\(head.method) \(head.target) \(head.version) [\(fields)] \(head.framing)"
}
