import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// Node's response framing, checked against Node itself: the same handlers run in Node's `http` server and in ours,
/// the same raw requests go to both, and the status lines, header fields (in order, without `Date`) and body bytes
/// (framing included) must be identical (the intent of Node's test/parallel/test-http-content-length.js,
/// -chunked-*.js, -head-response-has-no-body*.js, -1.0.js, -204-304 and -keep-alive-close-on-header.js).
@Suite(.timeLimit(.minutes(2))) struct NodeHTTPServerFramingTests {
    /// One handler, written for both servers.
    struct Case: Sendable {
        let name: String
        let request: String
        let isHead: Bool
        /// Whether the connection stays open after the response (a closing request gets no follow-up).
        let keepsAlive: Bool

        init(_ name: String, method: String = "GET", path: String? = nil, version: String = "1.1",
             headers: String = "", body: String = "", keepsAlive: Bool = true) {
            self.name = name
            self.request = "\(method) \(path ?? "/" + name) HTTP/\(version)\r\nHost: x\r\n\(headers)\r\n\(body)"
            self.isHead = method == "HEAD"
            self.keepsAlive = keepsAlive
        }
    }

    static let cases: [Case] = [
        Case("end"),
        Case("writeHead-end"),
        Case("write-end"),
        Case("empty"),
        Case("head-end", method: "HEAD", path: "/end"),
        Case("head-write-end", method: "HEAD", path: "/write-end"),
        Case("head-empty", method: "HEAD", path: "/empty"),
        Case("204"),
        Case("304"),
        Case("http10-end", path: "/end", version: "1.0", keepsAlive: false),
        Case("http10-write-end", path: "/write-end", version: "1.0", keepsAlive: false),
        Case("http10-keep-alive-end", path: "/end", version: "1.0", headers: "Connection: keep-alive\r\n"),
        Case("close-end", path: "/end", headers: "Connection: close\r\n", keepsAlive: false),
        Case("close-write-end", path: "/write-end", headers: "Connection: close\r\n", keepsAlive: false),
        Case("setheader"),
        Case("content-length"),
        Case("writeHead-headers"),
        Case("status-message"),
        Case("handler-close"),
        Case("unread-body", method: "POST", path: "/end", headers: "Content-Length: 11\r\n", body: "hello world"),
        Case("204-with-body"),
        Case("304-with-body"),
        Case("204-content-length"),
        Case("writeHead-message"),
        Case("explicit-chunked"),
        Case("http10-keep-alive-content-length", path: "/content-length", version: "1.0",
             headers: "Connection: keep-alive\r\n"),
        Case("http10-explicit-chunked", path: "/explicit-chunked", version: "1.0", keepsAlive: false),
    ]

    /// The handlers in Node. `/bye` answers the follow-up request that ends each keep-alive exchange.
    static let nodeServer = #"""
        const http = require('http');
        const server = http.createServer((req, res) => {
          switch (req.url) {
            case '/end': res.end('x'); break;
            case '/writeHead-end': res.writeHead(200); res.end('x'); break;
            case '/write-end': res.write('x'); res.end('y'); break;
            case '/empty': res.end(); break;
            case '/204': res.statusCode = 204; res.end(); break;
            case '/304': res.writeHead(304); res.end(); break;
            case '/setheader':
              res.setHeader('Content-Type', 'text/plain'); res.setHeader('X-Multi', ['a', 'b']); res.end('hello'); break;
            case '/content-length': res.setHeader('Content-Length', '5'); res.write('hel'); res.end('lo'); break;
            case '/writeHead-headers': res.writeHead(201, { 'X-A': '1', 'Content-Type': 'text/plain' }); res.end('x'); break;
            case '/status-message': res.statusMessage = 'Fine'; res.end('x'); break;
            case '/handler-close': res.setHeader('Connection', 'close'); res.end('x'); break;
            case '/204-with-body': res.statusCode = 204; res.end('x'); break;
            case '/304-with-body': res.writeHead(304); res.write('x'); res.end('y'); break;
            case '/204-content-length': res.statusCode = 204; res.setHeader('Content-Length', '5'); res.end(); break;
            case '/writeHead-message': res.writeHead(200, 'Fine Thanks'); res.end('x'); break;
            case '/explicit-chunked': res.setHeader('Transfer-Encoding', 'chunked'); res.write('x'); res.end('y'); break;
            case '/bye': res.writeHead(299, 'Bye'); res.end(); break;
            default: res.statusCode = 404; res.end();
          }
        });
        server.listen(0, '127.0.0.1', () => console.log(server.address().port));
        """#

    /// The same handlers on NetCore.
    static func handle(_ req: IncomingMessage, _ res: ServerResponse) {
        switch req.url {
        case "/end": res.end("x")
        case "/writeHead-end":
            res.writeHead(200)
            res.end("x")
        case "/write-end":
            res.write("x")
            res.end("y")
        case "/empty": res.end()
        case "/204":
            res.statusCode = 204
            res.end()
        case "/304":
            res.writeHead(304)
            res.end()
        case "/setheader":
            res.setHeader("Content-Type", "text/plain")
            res.setHeader("X-Multi", ["a", "b"])
            res.end("hello")
        case "/content-length":
            res.setHeader("Content-Length", "5")
            res.write("hel")
            res.end("lo")
        case "/writeHead-headers":
            res.writeHead(201, headers: ["X-A": "1", "Content-Type": "text/plain"])
            res.end("x")
        case "/status-message":
            res.statusMessage = "Fine"
            res.end("x")
        case "/handler-close":
            res.setHeader("Connection", "close")
            res.end("x")
        case "/204-with-body":
            res.statusCode = 204
            res.end("x")
        case "/304-with-body":
            res.writeHead(304)
            res.write("x")
            res.end("y")
        case "/204-content-length":
            res.statusCode = 204
            res.setHeader("Content-Length", "5")
            res.end()
        case "/writeHead-message":
            res.writeHead(200, "Fine Thanks")
            res.end("x")
        case "/explicit-chunked":
            res.setHeader("Transfer-Encoding", "chunked")
            res.write("x")
            res.end("y")
        case "/bye":
            res.writeHead(299, "Bye")
            res.end()
        default:
            res.statusCode = 404
            res.end()
        }
    }

    /// Where we knowingly differ from Node: the fields we send (besides `Date`), the ones Node leaves out, and
    /// whether we keep a connection open that Node closes.
    /// - HEAD: we announce the framing the same request with GET would get (`Content-Length` for a known body,
    ///   else `Transfer-Encoding: chunked`), as RFC 9110 §9.3.2 suggests and unix-http's HEAD test expects; Node
    ///   sends neither unless the handler set them.
    /// - HTTP/1.0 with `end(body)`: we send the known `Content-Length` (Node relies on the close alone), and when the
    ///   client asked for keep-alive we honour it (RFC 9112 §9.3); Node closes any HTTP/1.0 response it did not get
    ///   a `Content-Length` for from the handler.
    static let deviations: [String: (ours: [String], extra: [String], keepsAlive: Bool)] = [
        "head-end": (["Connection: keep-alive", "Keep-Alive: timeout=5", "Content-Length: 1"], ["Content-Length"], false),
        "head-write-end": (
            ["Connection: keep-alive", "Keep-Alive: timeout=5", "Transfer-Encoding: chunked"], ["Transfer-Encoding"],
            false
        ),
        "head-empty": (["Connection: keep-alive", "Keep-Alive: timeout=5", "Content-Length: 0"], ["Content-Length"], false),
        "http10-end": (["Connection: close", "Content-Length: 1"], ["Content-Length"], false),
        "http10-keep-alive-end": (["Connection: keep-alive", "Keep-Alive: timeout=5", "Content-Length: 1"], [], true),
    ]

    /// Sends `testCase` (plus the closing `/bye` follow-up when the connection should stay open) and returns the
    /// responses through `done`.
    static func exchange(_ testCase: Case, _ endpoint: Endpoint, loop: EventLoop, done: @escaping ([WireResponse]) -> Void) {
        let followUp = testCase.keepsAlive ? "GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" : ""
        rawExchange(endpoint, loop: loop, testCase.request + followUp) { bytes in
            done(splitResponses(bytes, bodyless: [testCase.isHead, false]))
        }
    }

    @Test func responseFraming_matchesNodesOwnServer() {
        var ours: [String: [WireResponse]] = [:]
        var theirs: [String: [WireResponse]] = [:]
        var process: Process?
        runHTTPLoop(seconds: 30) { loop in
            let server = HTTP.createServer(loop: loop, Self.handle)
            var pending = 2 * Self.cases.count
            func finished() {
                pending -= 1
                if pending == 0 {
                    server.close()
                    process?.terminate()
                }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                for testCase in Self.cases {
                    Self.exchange(testCase, .port(server.address()!.port), loop: loop) {
                        ours[testCase.name] = $0
                        finished()
                    }
                }
            }
            process = startNode(Self.nodeServer, loop: loop) { port in
                for testCase in Self.cases {
                    Self.exchange(testCase, .port(Int(port) ?? 0), loop: loop) {
                        theirs[testCase.name] = $0
                        finished()
                    }
                }
            }
        }
        process?.waitUntilExit()
        for testCase in Self.cases {
            var mine = ours[testCase.name] ?? []
            let node = theirs[testCase.name] ?? []
            if let deviation = Self.deviations[testCase.name] {
                // Pin down exactly what we send, then compare the rest with Node.
                #expect(mine.first?.fieldsWithoutDate == deviation.ours, "\(testCase.name): our fields")
                if var first = mine.first {
                    first.fields.removeAll { field in deviation.extra.contains { $0 == field.name } }
                    mine[0] = first
                }
                if deviation.keepsAlive { mine = Array(mine.prefix(1)) }
            }
            let comparesFields = Self.deviations[testCase.name]?.keepsAlive != true
            #expect(!node.isEmpty, "Node gave no response for \(testCase.name)")
            #expect(mine.count == node.count, "\(testCase.name): \(mine.count) responses, Node \(node.count)")
            for (index, (a, b)) in zip(mine, node).enumerated() {
                #expect(a.statusLine == b.statusLine, "\(testCase.name) #\(index)")
                if comparesFields { #expect(a.fieldsWithoutDate == b.fieldsWithoutDate, "\(testCase.name) #\(index)") }
                #expect(a.rawBody == b.rawBody, "\(testCase.name) #\(index): \(a.rawBody.text.debugDescription) vs Node \(b.rawBody.text.debugDescription)")
                #expect((a.field("Date") != nil) == (b.field("Date") != nil), "\(testCase.name) #\(index): Date")
            }
        }
    }

    /// Node's framing rules stated directly (so they hold even where Node is not installed): `end(body)` gives
    /// `Content-Length`; `writeHead` or `write` first gives chunked; HEAD, 204 and 304 carry no body and no framing
    /// fields; HTTP/1.0 gets no chunked coding and the connection closes; `Connection: close` is echoed and closes.
    @Test func responseFraming_followsNodesRules() {
        var results: [String: [WireResponse]] = [:]
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop, Self.handle)
            var pending = Self.cases.count
            server.listen(port: 0, host: "127.0.0.1") {
                for testCase in Self.cases {
                    Self.exchange(testCase, .port(server.address()!.port), loop: loop) {
                        results[testCase.name] = $0
                        pending -= 1
                        if pending == 0 { server.close() }
                    }
                }
            }
        }
        func first(_ name: String) -> WireResponse? { results[name]?.first }
        #expect(first("end")?.field("Content-Length") == "1")
        #expect(first("end")?.field("Transfer-Encoding") == nil)
        #expect(first("writeHead-end")?.field("Transfer-Encoding") == "chunked")
        #expect(first("writeHead-end")?.rawBody.text == "1\r\nx\r\n0\r\n\r\n")
        #expect(first("write-end")?.rawBody.text == "1\r\nx\r\n1\r\ny\r\n0\r\n\r\n")
        #expect(first("empty")?.field("Content-Length") == "0")
        for name in ["head-end", "head-write-end", "head-empty"] {
            #expect(first(name)?.rawBody == [], "\(name)")
            #expect(results[name]?.last?.status == 299, "\(name): the connection must go on after HEAD")
        }
        for name in ["204", "304"] {
            #expect(first(name)?.field("Content-Length") == nil, "\(name)")
            #expect(first(name)?.field("Transfer-Encoding") == nil, "\(name)")
            #expect(results[name]?.last?.status == 299, "\(name)")
        }
        #expect(first("http10-write-end")?.field("Transfer-Encoding") == nil)
        #expect(first("http10-write-end")?.field("Connection") == "close")
        #expect(first("http10-write-end")?.rawBody.text == "xy")
        #expect(first("http10-end")?.field("Connection") == "close")
        #expect(first("http10-keep-alive-end")?.field("Connection") == "keep-alive")
        #expect(first("close-end")?.field("Connection") == "close")
        #expect(results["close-end"]?.count == 1)
        #expect(first("handler-close")?.field("Connection") == "close")
        #expect(results["handler-close"]?.count == 1, "the handler's Connection: close must close the connection")
        #expect(results["unread-body"]?.map(\.status) == [200, 299], "an unread body must be skipped, not parsed")
    }
}
