/// `netbench selftest`: checks the reply verifier and both response parsers on canned byte streams, split at
/// every position, before any figure is trusted. run.sh runs it first.
enum SelfTest {
    static func run() -> Int32 {
        var failures: [String] = []
        func check(_ condition: Bool, _ what: String) { if !condition { failures.append(what) } }

        // Echo replies: prefix + payload, split anywhere, merged, and broken in each way we detect.
        let pattern = EchoPattern(size: 10, prefix: "Repeating: ")
        let message = pattern.message.bytes
        let good =
            Array("Repeating: ".utf8) + message + Array("Repeating: ".utf8) + message[0..<4]
            + Array("Repeating: ".utf8) + message[4...]
        for cut in 0...good.count {
            var stream = EchoStream()
            stream.sent = 20
            let first = good[0..<cut].withUnsafeBytes { stream.consume($0, pattern) }
            let second = good[cut...].withUnsafeBytes { stream.consume($0, pattern) }
            check(first == nil && second == nil && stream.received == 20, "echo split at \(cut)")
        }
        let broken: [(String, [UInt8], EchoStream.Failure)] = [
            ("no prefix", message, .missingPrefix),
            ("bad prefix", Array("Repeatinq: ".utf8) + message, .badPrefix),
            ("bad payload", Array("Repeating: ".utf8) + [UInt8(ascii: "b")], .badPayload),
            ("empty echo", Array("Repeating: Repeating: ".utf8), .emptyEcho),
            ("too much", Array("Repeating: ".utf8) + message + Array("Repeating: ".utf8) + message, .tooMuch),
        ]
        for (name, bytes, expected) in broken {
            var stream = EchoStream()
            stream.sent = 10
            check(bytes.withUnsafeBytes { stream.consume($0, pattern) } == expected, "echo: \(name) not caught")
        }

        // HTTP responses.
        let chunked = Array(
            ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "2\r\n0\n\r\n3;ext=1\r\n10\n\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n").utf8
        )
        let fixed = Array("HTTP/1.1 404 Not Found\r\nContent-Length: 5\r\nConnection: close\r\n\r\nnope\n".utf8)
        let interim = Array("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n".utf8)
        checkParser(FastResponseParser.self, "fast", chunked, fixed, interim, &failures)
        checkParser(NetCoreResponseParser.self, "netcore", chunked, fixed, interim, &failures)
        let malformed: [(String, String)] = [
            ("bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"),
            ("bad status line", "HTTP/1.1 2x0 OK\r\nContent-Length: 0\r\n\r\n"),
            ("bad chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"),
            ("no CRLF after chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nab\r\n"),
        ]
        for (name, text) in malformed {
            var parser = FastResponseParser()
            let outcome = Array(text.utf8).withUnsafeBytes { parser.parse($0) }
            if case .invalid = outcome {} else { failures.append("fast parser accepted: \(name)") }
        }
        var surplus = FastResponseParser()
        let withSurplus = fixed + Array("x".utf8)
        check(withSurplus.withUnsafeBytes { surplus.parse($0) } == .complete(consumed: fixed.count), "surplus")
        // Header values are matched without regard to case: Keep-Alive keeps an HTTP/1.0 connection, Chunked frames.
        let keepAlive = Array(
            "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nTransfer-Encoding: Chunked\r\n\r\n1\r\nx\r\n0\r\n\r\n".utf8
        )
        var mixedCase = FastResponseParser()
        check(
            keepAlive.withUnsafeBytes { mixedCase.parse($0) } == .complete(consumed: keepAlive.count)
                && !mixedCase.connectionClose && mixedCase.bodyBytes == 1,
            "mixed-case Connection/Transfer-Encoding values"
        )
        var closing = FastResponseParser()
        let upperClose = Array("HTTP/1.1 200 OK\r\nConnection: CLOSE\r\nContent-Length: 0\r\n\r\n".utf8)
        check(
            upperClose.withUnsafeBytes { closing.parse($0) } == .complete(consumed: upperClose.count)
                && closing.connectionClose,
            "Connection: CLOSE"
        )

        if failures.isEmpty {
            emit("selftest: ok (echo verifier, fast and netcore response parsers)")
            emit("RESULT mode=selftest errors=0")
            return 0
        }
        for failure in failures { emit("selftest: FAILED \(failure)") }
        emit("RESULT mode=selftest errors=\(failures.count)")
        return 1
    }

    private static func checkParser<Parser: ResponseParsing>(
        _: Parser.Type,
        _ name: String,
        _ chunked: [UInt8],
        _ fixed: [UInt8],
        _ interim: [UInt8],
        _ failures: inout [String]
    ) {
        let cases: [(String, [UInt8], Int, Int, Bool)] = [
            ("chunked", chunked, 200, 15, false),
            ("content-length", fixed, 404, 5, true),
            ("interim + HTTP/1.0", interim, 200, 0, true),
        ]
        for (label, bytes, status, body, close) in cases {
            for cut in 0...bytes.count {
                var parser = Parser()
                var outcome = bytes[0..<cut].withUnsafeBytes { parser.parse($0) }
                if case .needMore = outcome, cut < bytes.count {
                    outcome = bytes[cut...].withUnsafeBytes { parser.parse($0) }
                }
                guard case .complete = outcome, parser.status == status, parser.bodyBytes == body,
                    parser.connectionClose == close
                else {
                    failures.append(
                        "\(name) parser, \(label) split at \(cut): \(outcome) status \(parser.status) "
                            + "body \(parser.bodyBytes) close \(parser.connectionClose)"
                    )
                    break
                }
            }
        }
    }
}
