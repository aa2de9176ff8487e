/// A pure, incremental HTTP/1.x request parser (RFC 9112): feed it bytes as they arrive, split anywhere, and it
/// returns what they completed. No I/O, no callbacks. Pipelined requests come out in order.
///
/// Strict where request-smuggling defences say so: bare CR or LF, whitespace before a colon, control characters in
/// values, obsolete line folding, both `Transfer-Encoding` and `Content-Length`, duplicate or invalid
/// `Content-Length`, `chunked` not last, and a missing `Host` in HTTP/1.1 are all `400`. So is a request target that
/// is not one of the four forms of RFC 9112 §3.2 its method may use: origin-form (`/p?q`) or absolute-form
/// (`http://h/p?q`) for any method but CONNECT, authority-form (`host:port`) for CONNECT only, asterisk-form (`*`) for
/// OPTIONS only. After an `.error` event the parser stops; the server answers it and closes the connection.
public struct HTTPRequestParser {
    /// Size limits; exceeding one is an error with the status noted.
    public struct Limits: Sendable, Equatable {
        /// Request line plus header fields (431 beyond).
        public var maxHeaderBytes = 16 * 1024
        /// The request target (414 beyond).
        public var maxTargetBytes = 8 * 1024
        /// The decoded body (413 beyond).
        public var maxBodyBytes = 1024 * 1024

        /// Limits with Node-like defaults: 16 KiB of head, 8 KiB of target, 1 MiB of body.
        public init(maxHeaderBytes: Int = 16 * 1024, maxTargetBytes: Int = 8 * 1024, maxBodyBytes: Int = 1024 * 1024) {
            self.maxHeaderBytes = maxHeaderBytes
            self.maxTargetBytes = maxTargetBytes
            self.maxBodyBytes = maxBodyBytes
        }
    }

    /// What fed bytes completed.
    public enum Event: Equatable, Sendable {
        case head(HTTPRequestHead)
        case body([UInt8])
        case end
        case error(HTTPParseError)
        /// An upgrade request (`Connection: upgrade` and `Upgrade:`) while `stopsAtUpgrade` is set: its head, and
        /// every byte fed after it (the start of the new protocol; the request's body, if any, is not parsed, as
        /// Node's parser skips it). Always the last event: the parser then ignores further input.
        case upgrade(HTTPRequestHead, rest: [UInt8])
    }

    private enum State {
        case requestLine
        case headers
        case fixedBody(remaining: Int)
        case chunkedBody
        case failed
        /// An upgrade head is complete; its `.upgrade` event goes out with the bytes after it.
        case upgrading(HTTPRequestHead)
        /// The connection belongs to another protocol now: input is ignored.
        case upgraded
    }

    /// The limits this parser enforces.
    public let limits: Limits
    private var state = State.requestLine
    private var line: LineReader
    private var headBytes = 0
    /// Spaces seen so far in the request line: 0 while in the method, 1 while in the target.
    private var requestLineSpaces = 0
    private var method = ""
    private var target = ""
    private var version = HTTPVersion.http1_1
    private var headers = HTTPHeaders()
    private var chunked = ChunkedDecoder()

    /// Whether an upgrade request ends HTTP parsing with an `.upgrade` event (set it when someone will take the
    /// connection over, as Node does when the server has `upgrade` listeners). When false, an upgrade request is an
    /// ordinary request.
    public var stopsAtUpgrade = false

    /// A parser at the start of a connection.
    public init(limits: Limits = Limits()) {
        self.limits = limits
        self.line = LineReader(limit: max(limits.maxHeaderBytes, limits.maxTargetBytes + 64))
    }

    /// Whether the parser is between messages (nothing of a next request has been seen).
    public var isIdle: Bool {
        if case .requestLine = state { return line.count == 0 }
        return false
    }

    /// Whether the request line or headers of a request are being read.
    public var isReadingHead: Bool {
        switch state {
        case .requestLine: return line.count > 0
        case .headers: return true
        default: return false
        }
    }

    /// Parses `bytes`, returning the events they complete. An `.error` event is always last.
    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Parses `bytes`, returning the events they complete. An `.error` event is always last.
    public mutating func feed(_ bytes: UnsafeRawBufferPointer) -> [Event] {
        var events: [Event] = []
        var index = 0
        do throws(HTTPParseError) {
            parsing: while index < bytes.count {
                switch state {
                case .failed, .upgraded:
                    return events
                case .upgrading:
                    break parsing
                case .requestLine, .headers:
                    if isIdle, let head = Self.wholeHead(bytes, from: index, limits: limits) {
                        index = head.end
                        method = head.method
                        target = head.target
                        version = head.version
                        headers = head.headers
                        try headCompleted(&events)
                    } else {
                        try parseHead(bytes, &index, &events)
                    }
                case .fixedBody(let remaining):
                    let take = min(remaining, bytes.count - index)
                    events.append(.body(Array(UnsafeRawBufferPointer(rebasing: bytes[index..<(index + take)]))))
                    index += take
                    if take == remaining {
                        finishMessage(&events)
                    } else {
                        state = .fixedBody(remaining: remaining - take)
                    }
                case .chunkedBody:
                    let (decoded, failure) = chunked.decodeKeepingData(bytes, from: &index)
                    for event in decoded {
                        switch event {
                        case .data(let data): events.append(.body(data))
                        case .end: finishMessage(&events)
                        }
                    }
                    if let failure { throw failure }
                }
            }
        } catch {
            state = .failed
            events.append(.error(error))
        }
        if case .upgrading(let head) = state {
            state = .upgraded
            events.append(.upgrade(head, rest: Array(UnsafeRawBufferPointer(rebasing: bytes[index...]))))
        }
        return events
    }

    private mutating func finishMessage(_ events: inout [Event]) {
        events.append(.end)
        state = .requestLine
        headers = HTTPHeaders()
        headBytes = 0
    }

    private mutating func parseHead(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, _ events: inout [Event])
        throws(HTTPParseError)
    {
        while index < bytes.count {
            if !line.isAfterCR, case .headers = state {
                // Header lines only: request-line bytes are checked one by one as they arrive (below), so that the
                // first impossible byte is refused at the same place however the input is split.
                // A run of ordinary bytes goes into the line at once. The limit checks below only grow with each byte,
                // so checking once after the run gives the same answer as checking after every byte.
                var end = index
                while end < bytes.count && bytes[end] != 0x0D && bytes[end] != 0x0A { end += 1 }
                if end > index {
                    let taken = min(end - index, line.room)
                    line.append(run: UnsafeRawBufferPointer(rebasing: bytes[index..<(index + taken)]))
                    index += taken
                    headBytes += taken
                    try checkHeadLimits()
                    if index < end {
                        // The next byte does not fit: what `add` would say for it.
                        index += 1
                        headBytes += 1
                        if case .requestLine = state {
                            throw HTTPParseError(status: 414, reason: "request target too long")
                        }
                        throw HTTPParseError(status: 431, reason: "header section too large")
                    }
                    continue
                }
            }
            let byte = bytes[index]
            index += 1
            headBytes += 1
            switch line.add(byte) {
            case .needMore:
                if case .requestLine = state {
                    // Method and target bytes are checked as they arrive, so that something that is not HTTP (a
                    // TLS ClientHello, binary noise) is refused at once instead of waiting for a line end that may
                    // never come; the checks are the ones parseRequestLine makes on the whole line.
                    if byte == 0x20 {
                        requestLineSpaces += 1
                    } else if byte != 0x0D {
                        if requestLineSpaces == 0 && !HTTPSyntax.isToken(byte) {
                            throw HTTPParseError(status: 400, reason: "invalid method")
                        }
                        if requestLineSpaces == 1 && !(0x21...0x7E).contains(byte) {
                            throw HTTPParseError(status: 400, reason: "invalid character in the request target")
                        }
                    }
                }
                try checkHeadLimits()
            case .bareLF: throw HTTPParseError(status: 400, reason: "bare LF in the request head")
            case .bareCR: throw HTTPParseError(status: 400, reason: "bare CR in the request head")
            case .tooLong:
                if case .requestLine = state { throw HTTPParseError(status: 414, reason: "request target too long") }
                throw HTTPParseError(status: 431, reason: "header section too large")
            case .line:
                if case .requestLine = state {
                    requestLineSpaces = 0
                    if line.line.isEmpty {
                        headBytes = 0  // RFC 9112 §2.2: ignore empty lines before a request line
                    } else {
                        try parseRequestLine(line.line)
                        state = .headers
                    }
                } else if line.line.isEmpty {
                    line.reset()
                    try headCompleted(&events)
                    return
                } else {
                    switch HTTPSyntax.parseField(line.line) {
                    case .success(let (name, value)): headers.addParsed(name: name, value: value)
                    case .failure(let error): throw error
                    }
                }
                line.reset()
            }
        }
    }

    /// A request head wholly inside `bytes` from `start`, parsed in place: the common case of a request that arrived
    /// in one read. It accepts only heads that `parseHead` would accept byte by byte (and gives the same method,
    /// target, version and fields); for anything else, an incomplete head included, it returns nil and the caller
    /// runs `parseHead`, which finds the same error at the same byte as it would for any split of the input.
    /// It saves the per-byte line buffering and checks (about a third of a small request's parsing).
    static func wholeHead(_ bytes: UnsafeRawBufferPointer, from start: Int, limits: Limits) -> (
        method: String, target: String, version: HTTPVersion, headers: HTTPHeaders, end: Int
    )? {
        let count = min(bytes.count, start + limits.maxHeaderBytes)
        // The request line: a method of token bytes, one space, target bytes 0x21...0x7E, one space, the version.
        var index = start
        while index < count, HTTPSyntax.isToken(bytes[index]) { index += 1 }
        guard index > start, index < count, bytes[index] == 0x20 else { return nil }
        let targetStart = index + 1
        index = targetStart
        while index < count, (0x21...0x7E).contains(bytes[index]) { index += 1 }
        guard index > targetStart, index - targetStart <= limits.maxTargetBytes, index < count, bytes[index] == 0x20
        else { return nil }
        let versionStart = index + 1
        guard versionStart + 10 <= count, bytes[versionStart + 8] == 0x0D, bytes[versionStart + 9] == 0x0A else {
            return nil
        }
        // One array for the method, the target and the version (the checks below take slices of it).
        let requestLine = Array(UnsafeRawBufferPointer(rebasing: bytes[start..<(versionStart + 8)]))
        let methodBytes = requestLine[..<(targetStart - 1 - start)]
        let targetBytes = requestLine[(targetStart - start)..<(versionStart - 1 - start)]
        guard let version = HTTPSyntax.parseVersion(requestLine[(versionStart - start)...]),
            version.major == 1,
            // parseHead's request-line limit, which counts the line's CR too.
            versionStart + 8 - start + 1 <= limits.maxTargetBytes + 32
        else { return nil }
        do throws(HTTPParseError) {
            try RequestTargetSyntax.validate(targetBytes, method: methodBytes)
        } catch {
            return nil
        }
        // The header lines, each up to CRLF; a bare CR or LF anywhere sends the head to the byte-by-byte parser.
        var headers = HTTPHeaders()
        headers.reserveCapacity(8)
        index = versionStart + 10
        while true {
            var lineEnd = index
            while lineEnd < count, bytes[lineEnd] != 0x0D, bytes[lineEnd] != 0x0A { lineEnd += 1 }
            guard lineEnd + 1 < count, bytes[lineEnd] == 0x0D, bytes[lineEnd + 1] == 0x0A else { return nil }
            if lineEnd == index {
                return (
                    String(decoding: methodBytes, as: UTF8.self), String(decoding: targetBytes, as: UTF8.self),
                    version, headers, lineEnd + 2
                )
            }
            switch HTTPSyntax.parseField(UnsafeRawBufferPointer(rebasing: bytes[index..<lineEnd])) {
            case .success(let (name, value)): headers.addParsed(name: name, value: value)
            case .failure: return nil
            }
            index = lineEnd + 2
        }
    }

    /// The size checks made after each byte of the head that did not end a line.
    @inline(__always)
    private func checkHeadLimits() throws(HTTPParseError) {
        if case .requestLine = state {
            if line.count > limits.maxTargetBytes + 32 {
                throw HTTPParseError(status: 414, reason: "request target too long")
            }
        } else if headBytes > limits.maxHeaderBytes {
            throw HTTPParseError(status: 431, reason: "header section too large")
        }
    }

    private mutating func parseRequestLine(_ bytes: [UInt8]) throws(HTTPParseError) {
        // The three space-separated parts (the last keeps any further spaces), found in place rather than split into
        // a new array: this runs for every request.
        guard let firstSpace = bytes.firstIndex(of: 0x20),
            let secondSpace = bytes[(firstSpace + 1)...].firstIndex(of: 0x20)
        else {
            throw HTTPParseError(status: 400, reason: "malformed request line")
        }
        let methodBytes = bytes[..<firstSpace]
        let targetBytes = bytes[(firstSpace + 1)..<secondSpace]
        let versionBytes = bytes[(secondSpace + 1)...]
        // The version decides 505 before anything else, so an HTTP/2 preface ("PRI * HTTP/2.0") gets the right answer.
        if let version = HTTPSyntax.parseVersion(versionBytes), version.major != 1 {
            throw HTTPParseError(status: 505, reason: "HTTP version \(version.major).\(version.minor) is not supported")
        }
        guard !methodBytes.isEmpty, !targetBytes.isEmpty else {
            throw HTTPParseError(status: 400, reason: "malformed request line")
        }
        guard methodBytes.allSatisfy(HTTPSyntax.isToken) else {
            throw HTTPParseError(status: 400, reason: "invalid method")
        }
        guard targetBytes.count <= limits.maxTargetBytes else {
            throw HTTPParseError(status: 414, reason: "request target too long")
        }
        guard targetBytes.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw HTTPParseError(status: 400, reason: "invalid character in the request target")
        }
        guard let version = HTTPSyntax.parseVersion(versionBytes) else {
            throw HTTPParseError(status: 400, reason: "malformed HTTP version")
        }
        try RequestTargetSyntax.validate(targetBytes, method: methodBytes)
        method = String(decoding: methodBytes, as: UTF8.self)
        target = String(decoding: targetBytes, as: UTF8.self)
        self.version = version
    }

    private mutating func headCompleted(_ events: inout [Event]) throws(HTTPParseError) {
        // One pass for the fields every request is checked for (most requests have a Host and no body fields).
        var hostCount = 0
        var host = ""
        var contentLengthCount = 0
        var contentLength = ""
        var hasTransferEncoding = false
        for field in headers.fields {
            switch field.name.utf8.count {
            case 4 where HTTPHeaders.namesMatch(field.name, "Host"):
                hostCount += 1
                host = field.value
            case 14 where HTTPHeaders.namesMatch(field.name, "Content-Length"):
                contentLengthCount += 1
                contentLength = field.value
            case 17 where HTTPHeaders.namesMatch(field.name, "Transfer-Encoding"): hasTransferEncoding = true
            default: break
            }
        }
        let framing: HTTPBodyFraming
        if !hasTransferEncoding && contentLengthCount == 1 {
            framing = try Self.framing(contentLength: contentLength, limits: limits)
        } else if hasTransferEncoding || contentLengthCount > 1 {
            framing = try Self.framing(of: headers, version: version, limits: limits)
        } else {
            framing = .none
        }
        // RFC 9112 §3.2: HTTP/1.1 needs exactly one Host; no version may send two or an invalid one.
        if hostCount > 1 { throw HTTPParseError(status: 400, reason: "more than one Host header") }
        if hostCount == 0 && version.minor >= 1 { throw HTTPParseError(status: 400, reason: "missing Host header") }
        if hostCount == 1, !HTTPSyntax.isValidHost(host) {
            throw HTTPParseError(status: 400, reason: "invalid Host header")
        }
        // Node's parser: an upgrade is `Connection: upgrade` plus an `Upgrade` field (CONNECT is not handled here).
        if stopsAtUpgrade && method != "CONNECT" && !headers.values(for: "Upgrade").isEmpty
            && headers.contains(token: "upgrade", in: "Connection")
        {
            state = .upgrading(HTTPRequestHead(method: method, target: target, version: version, headers: headers))
            return
        }
        events.reserveCapacity(events.count + 2)  // the head and, for most requests, their end: one allocation
        events.append(
            .head(HTTPRequestHead(method: method, target: target, version: version, headers: headers, framing: framing))
        )
        switch framing {
        case .none, .untilClose:
            finishMessage(&events)
        case .contentLength(let length):
            state = .fixedBody(remaining: length)
        case .chunked:
            chunked = ChunkedDecoder(maxBodyBytes: limits.maxBodyBytes, maxTrailerBytes: limits.maxHeaderBytes)
            state = .chunkedBody
        }
    }

    /// Message body length of a request (RFC 9112 §6.1–6.3).
    static func framing(of headers: HTTPHeaders, version: HTTPVersion, limits: Limits) throws(HTTPParseError)
        -> HTTPBodyFraming
    {
        let transferEncodings = headers.values(for: "Transfer-Encoding")
        let contentLengths = headers.values(for: "Content-Length")
        if !transferEncodings.isEmpty {
            guard contentLengths.isEmpty else {
                throw HTTPParseError(status: 400, reason: "both Transfer-Encoding and Content-Length")
            }
            guard version.minor >= 1 else {
                throw HTTPParseError(status: 400, reason: "Transfer-Encoding in an HTTP/1.0 request")
            }
            let codings = transferEncodings.flatMap { $0.split(separator: ",") }.map { $0.trimmingSpaces }
                .filter { !$0.isEmpty }.map { $0.asciiLowercased }
            guard codings.allSatisfy({ $0.utf8.allSatisfy(HTTPSyntax.isToken) }) else {
                throw HTTPParseError(status: 400, reason: "invalid transfer coding")
            }
            guard codings.last == "chunked" else {
                throw HTTPParseError(status: 400, reason: "chunked is not the final transfer coding")
            }
            if codings.count > 1 {
                if codings.dropLast().contains("chunked") {
                    throw HTTPParseError(status: 400, reason: "chunked applied more than once")
                }
                throw HTTPParseError(status: 501, reason: "unsupported transfer coding: \(codings[0])")
            }
            return .chunked
        }
        if !contentLengths.isEmpty {
            guard contentLengths.count == 1 else {
                throw HTTPParseError(status: 400, reason: "duplicate Content-Length")
            }
            return try framing(contentLength: contentLengths[0], limits: limits)
        }
        return .none
    }

    /// The framing of one `Content-Length` value (no Transfer-Encoding): 1 to 18 digits, within the body limit.
    static func framing(contentLength text: String, limits: Limits) throws(HTTPParseError) -> HTTPBodyFraming {
        var length = 0
        var digits = 0
        for byte in text.utf8 {
            guard byte >= 0x30 && byte <= 0x39, digits < 18 else {
                throw HTTPParseError(status: 400, reason: "invalid Content-Length")
            }
            length = length * 10 + Int(byte - 0x30)
            digits += 1
        }
        guard digits > 0 else { throw HTTPParseError(status: 400, reason: "invalid Content-Length") }
        guard length <= limits.maxBodyBytes else {
            throw HTTPParseError(status: 413, reason: "request body too large")
        }
        return length == 0 ? .none : .contentLength(length)
    }
}
