/// A pure, incremental HTTP/1.x response parser for the client side: status line, headers, and a body framed by
/// `Content-Length`, chunked coding, or the end of the connection (RFC 9112 §6.3). Interim 1xx responses are skipped.
public struct HTTPResponseParser {
    /// A response's status line and headers.
    public struct Head: Sendable, Equatable {
        /// The HTTP version of the status line.
        public var version: HTTPVersion
        /// The status code, e.g. 200.
        public var status: Int
        /// The reason phrase, e.g. "OK".
        public var reason: String
        /// The header fields, in order.
        public var headers: HTTPHeaders
    }

    /// What fed bytes completed.
    public enum Event: Equatable, Sendable {
        case head(Head)
        case body([UInt8])
        case end
        case error(HTTPParseError)
    }

    private enum State {
        case statusLine
        case headers
        case fixedBody(remaining: Int)
        case chunkedBody
        case untilClose
        case done
        case failed
    }

    private var state = State.statusLine
    private var line = LineReader(limit: 64 * 1024)
    private var head = Head(version: .http1_1, status: 0, reason: "", headers: HTTPHeaders())
    private var chunked = ChunkedDecoder()
    private let isHeadRequest: Bool

    /// A parser for the response to one request; `isHeadRequest` means the response has no body whatever it says.
    public init(isHeadRequest: Bool = false) {
        self.isHeadRequest = isHeadRequest
    }

    /// Whether the response has been read completely.
    public var isComplete: Bool {
        if case .done = state { return true }
        return false
    }

    /// Parses `bytes`.
    public mutating func feed(_ bytes: [UInt8]) -> [Event] {
        bytes.withUnsafeBytes { feed($0) }
    }

    /// Parses `raw`.
    public mutating func feed(_ raw: UnsafeRawBufferPointer) -> [Event] {
        var events: [Event] = []
        var index = 0
        do throws(HTTPParseError) {
            while index < raw.count {
                switch state {
                case .done, .failed:
                    return events
                case .statusLine, .headers:
                    try parseHead(raw, &index, &events)
                case .fixedBody(let remaining):
                    let take = min(remaining, raw.count - index)
                    events.append(.body(Array(UnsafeRawBufferPointer(rebasing: raw[index..<(index + take)]))))
                    index += take
                    if take == remaining {
                        state = .done
                        events.append(.end)
                    } else {
                        state = .fixedBody(remaining: remaining - take)
                    }
                case .chunkedBody:
                    let (decoded, failure) = chunked.decodeKeepingData(raw, from: &index)
                    for event in decoded {
                        switch event {
                        case .data(let data): events.append(.body(data))
                        case .end:
                            state = .done
                            events.append(.end)
                        }
                    }
                    if let failure { throw failure }
                case .untilClose:
                    events.append(.body(Array(UnsafeRawBufferPointer(rebasing: raw[index...]))))
                    index = raw.count
                }
            }
        } catch {
            state = .failed
            events.append(.error(error))
        }
        return events
    }

    /// The connection closed: completes a close-delimited body, or reports a truncated response.
    public mutating func finish() -> [Event] {
        switch state {
        case .untilClose:
            state = .done
            return [.end]
        case .done, .failed:
            return []
        default:
            state = .failed
            return [.error(HTTPParseError(status: 0, reason: "connection closed before the response was complete"))]
        }
    }

    private mutating func parseHead(_ bytes: UnsafeRawBufferPointer, _ index: inout Int, _ events: inout [Event])
        throws(HTTPParseError)
    {
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch line.add(byte) {
            case .needMore: continue
            case .bareLF, .bareCR: throw HTTPParseError(status: 0, reason: "malformed line ending in the response head")
            case .tooLong: throw HTTPParseError(status: 0, reason: "response head too large")
            case .line:
                defer { line.reset() }
                if case .statusLine = state {
                    let parts = line.line.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
                    guard parts.count >= 2, let version = HTTPSyntax.parseVersion(parts[0]),
                        let status = Int(String(decoding: parts[1], as: UTF8.self)), (100...999).contains(status)
                    else { throw HTTPParseError(status: 0, reason: "malformed status line") }
                    head = Head(
                        version: version,
                        status: status,
                        reason: parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : "",
                        headers: HTTPHeaders()
                    )
                    state = .headers
                } else if line.line.isEmpty {
                    try headCompleted(&events)
                    return
                } else {
                    switch HTTPSyntax.parseField(line.line) {
                    case .success(let (name, value)): head.headers.addParsed(name: name, value: value)
                    case .failure(let error): throw HTTPParseError(status: 0, reason: error.reason)
                    }
                }
            }
        }
    }

    private mutating func headCompleted(_ events: inout [Event]) throws(HTTPParseError) {
        if (100...199).contains(head.status) {
            state = .statusLine  // interim response (100 Continue): the real one follows
            return
        }
        events.append(.head(head))
        if isHeadRequest || head.status == 204 || head.status == 304 {
            state = .done
            events.append(.end)
        } else if head.headers.values(for: "Transfer-Encoding").flatMap({ $0.split(separator: ",") }).last?
            .trimmingSpaces.asciiLowercased == "chunked"
        {
            chunked = ChunkedDecoder()
            state = .chunkedBody
        } else if let text = head.headers["Content-Length"] {
            guard let length = Int(text), length >= 0 else {
                throw HTTPParseError(status: 0, reason: "invalid Content-Length")
            }
            if length == 0 {
                state = .done
                events.append(.end)
            } else {
                state = .fixedBody(remaining: length)
            }
        } else {
            state = .untilClose
        }
    }
}
