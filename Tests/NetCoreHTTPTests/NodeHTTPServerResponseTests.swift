import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// `ServerResponse` as a writable stream and its header API, and the server's remaining timeouts and closes (the
/// intent of Node's test/parallel/test-http-response-*.js, -outgoing-*.js, -server-headers-timeout-*.js,
/// -server-request-timeout-*.js, -server-close-all.js and -response-close.js).
@Suite(.timeLimit(.minutes(2))) struct NodeHTTPServerResponseTests {
    /// test-http-outgoing-drain / writable backpressure: a handler writing 16 MiB to a client that reads slowly sees
    /// `write` return false and waits for `drain`; the queue stays near the high-water mark and every byte arrives.
    @Test(arguments: HTTPTransport.allCases)
    func write_returnsFalseUnderBackpressure_andDrainResumes(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        let total = 16 * 1024 * 1024
        let block = Buffer((0..<(64 * 1024)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) })
        var falseReturns = 0
        var drains = 0
        var largestQueue = 0
        var receivedBody = 0
        var receivedChecksum = NodeHTTPServerBackpressureTests.Adler32()
        var finishedBeforeClose: [String] = []
        runHTTPLoop(seconds: 60) { loop in
            let server = HTTP.createServer(loop: loop) { _, res in
                res.setHeader("Content-Length", String(total))
                var written = 0
                func pump() {
                    while written < total {
                        written += block.count
                        let more = res.write(block)
                        largestQueue = max(largestQueue, res.socket.writableLength)
                        if !more {
                            falseReturns += 1
                            return
                        }
                    }
                    res.end()
                }
                res.on(.drain) {
                    drains += 1
                    pump()
                }
                res.on(.finish) { finishedBeforeClose.append("finish") }
                res.on(.close) { finishedBeforeClose.append("close") }
                pump()
            }
            server.listen(on: transport, directory: directory) { endpoint in
                var headEnd: Int?
                var bytes: [UInt8] = []
                let client = endpoint.connect(loop: loop)
                client.on(.connect) { client.write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") }
                client.on(.data) { chunk in
                    bytes += chunk.bytes
                    if headEnd == nil, let range = bytes.firstRange(of: Array("\r\n\r\n".utf8)) {
                        headEnd = range.upperBound
                    }
                    if let start = headEnd, bytes.count > start {
                        let body = start == 0 ? bytes : Array(bytes[start...])
                        receivedChecksum.update(body)
                        receivedBody += body.count
                        bytes = []
                        headEnd = 0
                    }
                    // A slow reader: stop for a moment now and then, so the server's queue fills.
                    if receivedBody % (4 * 1024 * 1024) < chunk.count {
                        client.pause()
                        loop.setTimeout(50) { client.resume() }
                    }
                }
                client.on(.end) { client.end() }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(receivedBody == total)
        var sentChecksum = NodeHTTPServerBackpressureTests.Adler32()
        for _ in 0..<(total / block.count) { sentChecksum.update(block.bytes) }
        #expect(receivedChecksum.value == sentChecksum.value, "the body bytes differ from what was written")
        #expect(falseReturns > 0, "write never reported backpressure")
        #expect(drains == falseReturns)
        #expect(largestQueue < 4 * 1024 * 1024, "the socket queue grew to \(largestQueue) bytes")
        #expect(finishedBeforeClose == ["finish", "close"])
    }

    /// test-http-response-close: a client that goes away in the middle of a streaming response gives the response
    /// `close` without `finish`, and the request `close`; writes after that are harmless. (The server keeps a
    /// half-closed connection open for the response, so it is the next writes failing that reveal the client has
    /// gone, as they do in Node.)
    @Test(arguments: HTTPTransport.allCases)
    func clientVanishingMidResponse_emitsCloseWithoutFinish(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        var countAfter: Int?
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop)
            server.on(.request) { req, res in
                req.on(.close) { events.append("req-close") }
                res.on(.finish) { events.append("res-finish") }
                res.on(.close) {
                    events.append("res-close")
                    // Writing to a response whose connection is gone must be harmless.
                    res.write("late")
                    res.end("later")
                    loop.setImmediate {
                        countAfter = server.connectionCount
                        server.close()
                    }
                }
                res.writeHead(200)
                res.write("first part")
                let ticker = loop.setInterval(10) { res.write("tick") }
                res.on(.close) { ticker.cancel() }
            }
            server.listen(on: transport, directory: directory) { endpoint in
                let client = endpoint.connect(loop: loop)
                client.on(.connect) { client.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n") }
                client.on(.data) { _ in client.destroy() }
            }
        }
        #expect(events == ["req-close", "res-close"])
        #expect(countAfter == 0)
    }

    /// Node's order for a complete exchange: request `end` then `close`; `end(callback)` then the response's
    /// `finish` (the callback being a finish listener) and `close`,, none of them inside `end()` itself.
    @Test func eventOrder_forACompleteExchange() {
        var events: [String] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                req.on(.data) { events.append("req-data:" + $0.string) }
                req.on(.end) {
                    events.append("req-end")
                    res.on(.finish) { events.append("res-finish") }
                    res.on(.close) { events.append("res-close") }
                    res.end("ok") { events.append("end-callback") }
                    events.append("end-returned")
                }
                req.on(.close) { events.append("req-close") }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
                rawExchange(.port(server.address()!.port), loop: loop, request) { _ in server.close() }
            }
        }
        // The callback is a `finish` listener added after the handler's own, so it runs second (Node: once('finish')).
        #expect(events == [
            "req-data:hi", "req-end", "end-returned", "req-close", "res-finish", "end-callback", "res-close",
        ])
    }

    /// `writeHead`'s own fields, with nothing set before (the path that takes a handler's fields whole when they
    /// are known valid): an invalid name or a value with CR LF is dropped, the rest is sent.
    @Test func writeHeadFields_withInvalidOnes_sendOnlyTheValidOnes() {
        var response: WireResponse?
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, res in
                let fields: HTTPHeaders = ["X-Good": "ok", "X-Bad": "evil\r\nInjected: yes", "Bad Name": "x"]
                res.writeHead(200, headers: fields)
                res.end("body")
            }
            server.listen(port: 0, host: "127.0.0.1") {
                rawExchange(.port(server.address()!.port), loop: loop, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") {
                    response = splitResponses($0).first
                    server.close()
                }
            }
        }
        #expect(response?.field("X-Good") == "ok")
        #expect(response?.field("X-Bad") == nil)
        #expect(response?.field("Injected") == nil)
        #expect(response?.field("Bad Name") == nil)
        #expect(response?.body.text == "body")
    }

    /// The header API (test-http-outgoing-proto / -response-setheaders): case-insensitive get/has/remove, names
    /// lower-cased in order, arrays sent as repeated fields, `writeHead` fields winning over `setHeader`, invalid
    /// values refused, nothing changing once the head is sent; and what a client receives.
    @Test func headerAPI_behavesAsNodes() {
        var observed: [String: String] = [:]
        var response: WireResponse?
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, res in
                res.setHeader("X-Keep", "1")
                res.setHeader("Content-Type", "text/html")
                res.setHeader("x-drop", "gone")
                res.setHeader("Set-Cookie", ["a=1", "b=2"])
                res.setHeader("X-Bad", "evil\r\nInjected: yes")
                res.removeHeader("X-DROP")
                observed["get"] = res.getHeader("content-type")
                observed["has"] = String(res.hasHeader("X-KEEP"))
                observed["hasDropped"] = String(res.hasHeader("x-drop"))
                observed["hasBad"] = String(res.hasHeader("x-bad"))
                observed["names"] = res.getHeaderNames().joined(separator: ",")
                observed["cookies"] = res.getHeader("set-cookie")
                res.writeHead(202, headers: ["content-type": "text/plain", "X-New": "n"])
                observed["headersSent"] = String(res.headersSent)
                res.setHeader("X-After", "late")
                res.end("body")
            }
            server.listen(port: 0, host: "127.0.0.1") {
                rawExchange(.port(server.address()!.port), loop: loop, "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n") {
                    response = splitResponses($0).first
                    server.close()
                }
            }
        }
        #expect(observed["get"] == "text/html")
        #expect(observed["has"] == "true")
        #expect(observed["hasDropped"] == "false")
        #expect(observed["hasBad"] == "false")
        #expect(observed["names"] == "x-keep,content-type,set-cookie")
        #expect(observed["cookies"] == "a=1, b=2")
        #expect(observed["headersSent"] == "true")
        #expect(response?.statusLine == "HTTP/1.1 202 Accepted")
        #expect(response?.values("Set-Cookie") == ["a=1", "b=2"])
        #expect(response?.values("Content-Type") == ["text/plain"])
        #expect(response?.field("X-Keep") == "1")
        #expect(response?.field("X-New") == "n")
        #expect(response?.field("X-After") == nil)
        #expect(response?.field("Injected") == nil)
        #expect(response?.field("Transfer-Encoding") == "chunked")
        #expect(response?.body.text == "body")
    }

    /// test-http-server-headers-timeout: a head that has not arrived within `headersTimeout` gets `408` and the
    /// connection closes; test-http-server-request-timeout: a body still incomplete after `requestTimeout` too.
    @Test(arguments: ["head", "body"])
    func slowRequest_gets408AndClose(_ which: String) {
        var responses: [WireResponse] = []
        var handled = 0
        var elapsed: UInt64 = 0
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                handled += 1
                req.on(.data) { _ in }
                req.on(.end) { res.end("done") }
            }
            server.headersTimeout = 300
            server.requestTimeout = 600
            server.listen(port: 0, host: "127.0.0.1") {
                let start = loop.now
                let partial = which == "head"
                    ? "GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "
                    : "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"
                rawExchange(.port(server.address()!.port), loop: loop, partial) { bytes in
                    elapsed = loop.now - start
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(responses.map(\.status) == [408])
        #expect(responses.first?.field("Connection") == "close")
        #expect(handled == (which == "head" ? 0 : 1))
        #expect(elapsed >= (which == "head" ? 300 : 600), "answered after \(elapsed) ms")
        #expect(elapsed < 5000)
    }

    /// test-http-server-close-all: `closeAllConnections()` destroys busy and idle connections at once; the server's
    /// `close` follows.
    @Test func closeAllConnections_destroysEveryConnection() {
        var closedClients = 0
        var serverClosed = false
        var countAfter: Int?
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                if req.url == "/busy" {
                    res.writeHead(200)
                    res.write("streaming")
                } else {
                    res.end("done")
                }
            }
            server.on(.close) {
                serverClosed = true
                countAfter = server.connectionCount
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let endpoint = Endpoint.port(server.address()!.port)
                var ready = 0
                func check(_ bytes: [UInt8]) {
                    ready += 1
                    if ready == 2 {
                        server.close()
                        server.closeAllConnections()
                    }
                }
                var sawIdle = false
                var sawBusy = false
                rawExchange(endpoint, loop: loop, "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n", onData: { _, bytes in
                    if !sawIdle && bytes.text.hasSuffix("done") {
                        sawIdle = true
                        check(bytes)
                    }
                }, onClose: { _ in closedClients += 1 })
                rawExchange(endpoint, loop: loop, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n", onData: { _, bytes in
                    if !sawBusy && bytes.text.contains("streaming") {
                        sawBusy = true
                        check(bytes)
                    }
                }, onClose: { _ in closedClients += 1 })
            }
        }
        #expect(closedClients == 2)
        #expect(serverClosed)
        #expect(countAfter == 0)
    }

    /// `server.close()` (Node 19+) closes idle keep-alive connections at once, so `close` is not held up by them
    /// for `keepAliveTimeout`.
    @Test func close_closesIdleKeepAliveConnectionsAtOnce() {
        var closedAfter: UInt64?
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, res in res.end("ok") }
            server.keepAliveTimeout = 10_000
            server.listen(port: 0, host: "127.0.0.1") {
                var asked: UInt64 = 0
                server.on(.close) { closedAfter = loop.now - asked }
                rawExchange(.port(server.address()!.port), loop: loop, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", onData: { _, bytes in
                    if bytes.text.hasSuffix("ok") && asked == 0 {
                        asked = loop.now
                        server.close()
                    }
                }, onClose: { _ in })
            }
        }
        #expect(closedAfter != nil)
        #expect((closedAfter ?? .max) < 2000, "close waited \(closedAfter ?? 0) ms for an idle connection")
    }
}
