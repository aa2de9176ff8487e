import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// The parser's side of an HTTP upgrade (Node's `upgrade` event): with `stopsAtUpgrade`, an upgrade request's head
/// ends HTTP parsing and every byte after it comes back with it, however the input is split.
@Suite struct HTTPUpgradeParserTests {
    static let request = "GET /chat HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n\r\n"

    /// Feeds `input` split at `offset` to a parser that stops at upgrades; returns the upgrade's head and rest.
    static func upgrade(_ input: [UInt8], splitAt offset: Int) -> (HTTPRequestHead, [UInt8])? {
        var parser = HTTPRequestParser()
        parser.stopsAtUpgrade = true
        var events = parser.feed(Array(input[..<offset]))
        events += parser.feed(Array(input[offset...]))
        #expect(events.count == 1, "\(events)")
        guard case .upgrade(let head, let rest)? = events.first else { return nil }
        return (head, rest)
    }

    @Test func parser_upgradeHandsOverTheBytesAfterTheHead_whenSplitAnywhere() {
        let frame: [UInt8] = [0x81, 0x85, 1, 2, 3, 4, 0x68, 0x65, 0x6C, 0x6C, 0x6F]
        let input = Array(Self.request.utf8) + frame
        let headLength = Self.request.utf8.count
        for offset in 0...input.count {
            guard let (head, rest) = Self.upgrade(input, splitAt: offset) else {
                Issue.record("no upgrade when split at \(offset)")
                continue
            }
            #expect(head.target == "/chat")
            #expect(head.headers["Upgrade"] == "websocket")
            // A split inside the head delivers everything after it in the second feed; a split after the head
            // delivers the part of the frame that came with the head (the rest is not parsed: the parser stopped).
            let expected = offset < headLength ? frame : Array(input[headLength..<offset])
            #expect(rest == expected, "split at \(offset)")
        }
    }

    @Test func parser_ignoresInputAfterAnUpgrade() {
        var parser = HTTPRequestParser()
        parser.stopsAtUpgrade = true
        _ = parser.feed(Array(Self.request.utf8))
        #expect(parser.feed(Array("GET / HTTP/1.1\r\nHost: h\r\n\r\n".utf8)).isEmpty)
    }

    @Test func parser_upgradeIsAnOrdinaryRequest_whenNotStopping() {
        var parser = HTTPRequestParser()
        let events = parser.feed(Array(Self.request.utf8))
        #expect(events.count == 2)
        guard case .head(let head)? = events.first else {
            Issue.record("\(events)")
            return
        }
        #expect(head.target == "/chat")
    }

    @Test func parser_needsBothUpgradeAndConnectionUpgrade() {
        for request in [
            "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n\r\n",
            "GET / HTTP/1.1\r\nHost: h\r\nConnection: upgrade\r\n\r\n",
        ] {
            var parser = HTTPRequestParser()
            parser.stopsAtUpgrade = true
            let events = parser.feed(Array(request.utf8))
            #expect(events.count == 2, "\(request.debugDescription): \(events)")
            #expect(events.last == .end)
        }
    }

    @Test func parser_rejectsAMalformedUpgradeRequest() {
        var parser = HTTPRequestParser()
        parser.stopsAtUpgrade = true
        let events = parser.feed(Array("GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n".utf8))
        guard case .error(let error)? = events.last else {
            Issue.record("\(events)")
            return
        }
        #expect(error.status == 400)
    }
}

/// The server's side: Node's `server.on('upgrade', (req, socket, head))`.
@Suite(.timeLimit(.minutes(1))) struct HTTPServerUpgradeTests {
    @Test(arguments: HTTPTransport.allCases)
    func server_upgradeListenerGetsTheSocketAndTheBytesPastTheHead(transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var upgradedURL: String?
        var upgradedFlag = false
        var headBytes: [UInt8] = []
        var received: [UInt8] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, response in response.end("plain") }
            server.keepAliveTimeout = 50
            server.headersTimeout = 50
            server.on(.upgrade) { request, socket, head in
                upgradedURL = request.url
                upgradedFlag = request.upgrade
                headBytes = head.bytes
                socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n")
                socket.write(head)
                // Echo what follows, after the HTTP timeouts would have fired: they must not.
                socket.on(.data) { chunk in
                    loop.setTimeout(150) {
                        socket.write(chunk)
                        socket.end()
                    }
                }
                socket.on(.end) {}
            }
            server.listen(on: transport, directory: directory) { endpoint in
                let request = "GET /x HTTP/1.1\r\nHost: h\r\nUpgrade: echo\r\nConnection: upgrade\r\n\r\nearly"
                rawExchange(endpoint, loop: loop, request, onData: { socket, bytes in
                    if bytes.text.hasSuffix("early") { socket.write("GET / HTTP/1.1\r\n\r\n") }
                }) { bytes in
                    received = bytes
                    server.close()
                }
            }
        }
        #expect(upgradedURL == "/x")
        #expect(upgradedFlag)
        #expect(headBytes.text == "early")
        // Bytes after the head are the new protocol's, never parsed as HTTP (no 400 for the bare request).
        #expect(
            received.text
                == "HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\nearlyGET / HTTP/1.1\r\n\r\n")
    }

    @Test func server_upgradeRequestIsAnOrdinaryRequest_withoutUpgradeListeners() {
        var received: [UInt8] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { request, response in
                response.end(request.upgrade ? "upgrade" : "request")
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let request = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade, close\r\n\r\n"
                rawExchange(.port(server.address()!.port), loop: loop, request) { bytes in
                    received = bytes
                    server.close()
                }
            }
        }
        let responses = splitResponses(received)
        #expect(responses.count == 1)
        #expect(responses.first?.status == 200)
        #expect(responses.first?.body.text == "request")
    }

    @Test func server_upgradedConnectionIsNotTheServers() {
        var countAfterUpgrade = -1
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, response in response.end() }
            server.on(.upgrade) { _, socket, _ in
                countAfterUpgrade = server.connectionCount
                // closeAllConnections leaves upgraded sockets alone, as Node's does.
                server.closeAllConnections()
                #expect(!socket.destroyed)
                socket.end("bye")
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let request = "GET / HTTP/1.1\r\nHost: h\r\nUpgrade: x\r\nConnection: upgrade\r\n\r\n"
                rawExchange(.port(server.address()!.port), loop: loop, request) { bytes in
                    #expect(bytes.text == "bye")
                    server.close()
                }
            }
        }
        #expect(countAfterUpgrade == 0)
    }
}
