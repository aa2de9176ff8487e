import Testing
@testable import NetCoreHTTP

/// The interim-response scanner behind `information` / `continue` (RFC 9110 §15.2: a client must accept any number
/// of 1xx responses before the final one), fed whole, byte by byte and split at every offset.
@Suite struct HTTPClientInterimTests {
    private func scan(_ input: String) -> ([InterimResponseScanner.Head], Bool) {
        let bytes = Array(input.utf8)
        func run(_ pieces: [[UInt8]]) -> ([InterimResponseScanner.Head], Bool) {
            var scanner = InterimResponseScanner()
            let heads = pieces.flatMap { scanner.feed($0) }
            return (heads, scanner.isDone)
        }
        let whole = run([bytes])
        let drip = run(bytes.map { [$0] })
        #expect(drip.0 == whole.0 && drip.1 == whole.1)
        for split in 0...bytes.count {
            let two = run([Array(bytes[..<split]), Array(bytes[split...])])
            #expect(two.0 == whole.0 && two.1 == whole.1, "split at \(split)")
        }
        return whole
    }

    @Test func interimHeads_areReported_untilTheFinalHead() {
        let (heads, done) = scan(
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\nLink: </b>\r\n\r\n"
                + "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc")
        #expect(heads.map(\.status) == [100, 103])
        #expect(heads[1].reason == "Early Hints")
        #expect(heads[1].headers.values(for: "link") == ["</a>", "</b>"])
        #expect(done)
    }

    @Test func finalHeadFirst_reportsNothing() {
        let (heads, done) = scan("HTTP/1.1 204 No Content\r\n\r\n")
        #expect(heads.isEmpty)
        #expect(done)
    }

    @Test func incompleteInterimHead_waits() {
        let (heads, done) = scan("HTTP/1.1 100 Continue\r\n")
        #expect(heads.isEmpty)
        #expect(!done)
    }

    @Test func garbage_stopsScanning_withoutReporting() {
        let (heads, done) = scan("XTTP/1.1 100 Continue\r\n\r\n")
        #expect(heads.isEmpty)
        #expect(done)
    }

    @Test func oversizedHead_stopsScanning() {
        var scanner = InterimResponseScanner()
        _ = scanner.feed(Array("HTTP/1.1 100 Continue\r\nX: ".utf8) + [UInt8](repeating: 0x61, count: 70_000))
        #expect(scanner.isDone)
    }
}
