/// Finds interim (1xx) response heads at the start of a response, which `HTTPResponseParser` skips, so that the
/// client can emit `information` and `continue` as Node does. Pure: bytes in, heads out. It stops at the first final
/// (non-1xx) status line, and after 64 KiB without one (the parser reports that head as too large).
struct InterimResponseScanner {
    /// One interim response: its status line and fields.
    struct Head: Equatable {
        var version: HTTPVersion
        var status: Int
        var reason: String
        var headers: HTTPHeaders
    }

    private var pending: [UInt8] = []
    private var scanned = 0
    /// Whether no more interim heads can follow.
    private(set) var isDone = false

    static let limit = 64 * 1024

    /// Looks for complete heads in what has arrived so far.
    mutating func feed(_ bytes: [UInt8]) -> [Head] {
        guard !isDone else { return [] }
        pending += bytes
        var heads: [Head] = []
        while !isDone, let end = headEnd() {
            let block = Array(pending[..<end])
            pending.removeSubrange(..<(end + 4))
            scanned = 0
            guard let head = Self.parse(block), (100...199).contains(head.status) else {
                isDone = true  // the final head (or garbage, which the parser reports)
                break
            }
            heads.append(head)
        }
        if pending.count > Self.limit { isDone = true }
        if isDone { pending = [] }
        return heads
    }

    /// Index of the `\r\n\r\n` ending the first head in `pending`, if it has arrived.
    private mutating func headEnd() -> Int? {
        guard pending.count >= 4 else { return nil }
        var index = max(0, scanned - 3)
        while index + 3 < pending.count {
            if pending[index] == 0x0D && pending[index + 1] == 0x0A && pending[index + 2] == 0x0D
                && pending[index + 3] == 0x0A
            {
                return index
            }
            index += 1
        }
        scanned = pending.count
        return nil
    }

    private static func parse(_ block: [UInt8]) -> Head? {
        var lines = split(block)
        guard !lines.isEmpty else { return nil }
        let statusLine = lines.removeFirst()
        let parts = statusLine.split(separator: 0x20, maxSplits: 2, omittingEmptySubsequences: false)
        guard parts.count >= 2, let version = HTTPSyntax.parseVersion(parts[0]),
            let status = Int(String(decoding: parts[1], as: UTF8.self))
        else { return nil }
        var head = Head(
            version: version,
            status: status,
            reason: parts.count > 2 ? String(decoding: parts[2], as: UTF8.self) : "",
            headers: HTTPHeaders()
        )
        for line in lines {
            guard case .success(let (name, value)) = HTTPSyntax.parseField(line) else { return nil }
            head.headers.addParsed(name: name, value: value)
        }
        return head
    }

    private static func split(_ block: [UInt8]) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var index = 0
        while index < block.count {
            if block[index] == 0x0D, index + 1 < block.count, block[index + 1] == 0x0A {
                lines.append(current)
                current = []
                index += 2
            } else {
                current.append(block[index])
                index += 1
            }
        }
        lines.append(current)
        return lines
    }
}
