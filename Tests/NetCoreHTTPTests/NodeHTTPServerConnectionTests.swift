import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// Node's `http.Server` connection handling on NetCore: keep-alive timeout, closing idle connections, Unix sockets
/// with keep-alive agents, `maxRequestsPerSocket`, pipelining, aborted requests and `clientError` (the intent of
/// Node's test/parallel/test-http-server-keep-alive-timeout.js, -server-close-idle.js, -unix-socket(-keep-alive).js,
/// -keep-alive-max-requests.js, -pipeline-*.js, -aborted.js and -server-client-error.js).
@Suite(.timeLimit(.minutes(2))) struct NodeHTTPServerConnectionTests {
    // MARK: - Keep-alive timeout

    /// test-http-server-keep-alive-timeout: an idle keep-alive connection is closed `keepAliveTimeout` after its last
    /// response; a request before then starts the idle time again. Responses announce `Keep-Alive: timeout=N`.
    @Test(arguments: HTTPTransport.allCases)
    func keepAliveTimeout_closesIdleConnection_andARequestExtendsIt(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var firstAnsweredAt: UInt64?
        var secondAnsweredAt: UInt64?
        var closedAt: UInt64?
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, res in res.end("ok") }
            server.keepAliveTimeout = 1000
            server.listen(on: transport, directory: directory) { endpoint in
                let request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                rawExchange(endpoint, loop: loop, request, onData: { socket, bytes in
                    let count = splitResponses(bytes).filter { $0.body.text == "ok" }.count
                    if count == 1 && firstAnsweredAt == nil {
                        firstAnsweredAt = loop.now
                        // Well inside the keep-alive time: this request must reset the idle clock.
                        loop.setTimeout(600) { socket.write(request) }
                    } else if count == 2 && secondAnsweredAt == nil {
                        secondAnsweredAt = loop.now
                    }
                }, onClose: { bytes in
                    closedAt = loop.now
                    responses = splitResponses(bytes)
                    server.close()
                })
            }
        }
        #expect(responses.count == 2)
        for response in responses {
            #expect(response.field("Connection") == "keep-alive")
            #expect(response.field("Keep-Alive") == "timeout=1")
        }
        guard let firstAnsweredAt, let secondAnsweredAt, let closedAt else {
            Issue.record("the exchange did not complete")
            return
        }
        // Timers fire no earlier than asked, but the client sees each response a moment after the server's idle
        // clock starts, so allow for a loaded machine. Not extended, the close would come ~400 ms after the second
        // response (1000 ms after the first); extended, 1000 ms after the second (1600 ms after the first).
        #expect(closedAt - secondAnsweredAt >= 800, "closed \(closedAt - secondAnsweredAt) ms after the 2nd response")
        #expect(closedAt - secondAnsweredAt < 5000)
        #expect(closedAt - firstAnsweredAt >= 1400, "the second request did not extend the idle time")
    }

    // MARK: - closeIdleConnections / close

    /// test-http-server-close-idle: `closeIdleConnections()` closes a keep-alive connection that sits idle but not
    /// one in the middle of a response; `close()` then lets that response finish, closes its connection, and emits
    /// `close` once the last connection has gone.
    @Test(arguments: HTTPTransport.allCases)
    func closeIdleConnections_closesIdleButNotBusy_andCloseWaitsForTheLast(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        var busyBytes: [UInt8] = []
        var connectionCountAtClose: Int?
        runHTTPLoop { loop in
            var busyResponse: ServerResponse?
            let server = HTTP.createServer(loop: loop) { req, res in
                if req.url == "/idle" {
                    res.end("idle")
                } else {
                    res.writeHead(200)
                    res.write("part1;")
                    busyResponse = res
                }
            }
            server.on(.close) {
                events.append("server-close")
                connectionCountAtClose = server.connectionCount
            }
            server.listen(on: transport, directory: directory) { endpoint in
                var idleReady = false
                var busyReady = false
                var proceeded = false
                func proceed() {
                    guard idleReady && busyReady && !proceeded else { return }
                    proceeded = true
                    events.append("closeIdleConnections")
                    server.closeIdleConnections()
                }
                rawExchange(endpoint, loop: loop, "GET /idle HTTP/1.1\r\nHost: x\r\n\r\n", onData: { _, bytes in
                    if bytes.text.hasSuffix("idle") {
                        idleReady = true
                        proceed()
                    }
                }, onClose: { _ in
                    events.append("idle-closed")
                    // The busy connection is still open: its response goes on, then close() waits for it.
                    loop.setImmediate {
                        busyResponse?.write("part2;")
                        server.close { _ in events.append("close-callback") }
                        busyResponse?.end()
                    }
                })
                rawExchange(endpoint, loop: loop, "GET /busy HTTP/1.1\r\nHost: x\r\n\r\n", onData: { _, bytes in
                    if bytes.text.hasSuffix("part1;\r\n") {
                        busyReady = true
                        proceed()
                    }
                    if bytes.text.hasSuffix("0\r\n\r\n") { events.append("busy-complete") }
                }, onClose: { bytes in
                    events.append("busy-closed")
                    busyBytes = bytes
                })
            }
        }
        #expect(events == [
            "closeIdleConnections", "idle-closed", "busy-complete", "busy-closed", "server-close", "close-callback",
        ])
        #expect(connectionCountAtClose == 0)
        let busy = splitResponses(busyBytes)
        #expect(busy.count == 1)
        #expect(busy.first?.body.text == "part1;part2;")
    }

    // MARK: - Unix socket and keep-alive agents

    static let nodeKeepAliveClient = #"""
        const http = require('http');
        const [where] = process.argv.slice(1);
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        const target = /^\d+$/.test(where) ? { port: +where, host: '127.0.0.1' } : { socketPath: where };
        const out = [];
        function get(n, next) {
          const req = http.get({ ...target, path: '/r' + n, agent }, res => {
            let body = '';
            res.setEncoding('utf8');
            res.on('data', d => body += d);
            res.on('end', () => {
              out.push({ status: res.statusCode, body, reused: req.reusedSocket,
                         connection: res.headers.connection || '', keepAlive: res.headers['keep-alive'] || '' });
              setImmediate(next);  // once the agent has put the socket back in its free pool
            });
          });
          req.on('error', e => { console.log(JSON.stringify([{ status: 0, body: e.message, reused: false,
                                                              connection: '', keepAlive: '' }])); process.exit(1); });
        }
        get(1, () => get(2, () => { console.log(JSON.stringify(out)); agent.destroy(); }));
        """#

    struct NodeGet: Decodable, Equatable {
        let status: Int
        let body: String
        let reused: Bool
        let connection: String
        let keepAlive: String
    }

    /// test-http-unix-socket, test-http-unix-socket-keep-alive: Node's `http.get` with a keep-alive agent makes two
    /// requests over one connection (the second on a reused socket), and both are answered.
    @Test(arguments: HTTPTransport.allCases)
    func nodeKeepAliveAgent_makesTwoRequestsOnOneConnection(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var connections = 0
        var results: [NodeGet]?
        var nodeError = ""
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                res.setHeader("Content-Type", "text/plain")
                res.end("\(req.url) on connection \(connections)")
            }
            server.on(.connection) { _ in connections += 1 }
            server.listen(on: transport, directory: directory) { endpoint in
                runNode(Self.nodeKeepAliveClient, [endpoint.argument], loop: loop) { status, out, err in
                    nodeError = err
                    #expect(status == 0, "\(err)")
                    results = decodeJSON([NodeGet].self, out)
                    server.close()
                }
            }
        }
        #expect(nodeError.isEmpty, "\(nodeError)")
        #expect(connections == 1)
        #expect(results == [
            NodeGet(status: 200, body: "/r1 on connection 1", reused: false, connection: "keep-alive", keepAlive: "timeout=5"),
            NodeGet(status: 200, body: "/r2 on connection 1", reused: true, connection: "keep-alive", keepAlive: "timeout=5"),
        ])
    }

    /// curl with two URLs reuses its connection, over a Unix socket (`--unix-socket`) and TCP.
    @Test(arguments: HTTPTransport.allCases)
    func curl_reusesOneConnectionForTwoURLs(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var connections = 0
        var output = ""
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in res.end("[\(req.url) #\(connections)]") }
            server.on(.connection) { _ in connections += 1 }
            server.listen(on: transport, directory: directory) { endpoint in
                let urls = endpoint.curlArguments("/a") + [endpoint.curlArguments("/b").last!]
                runTool("curl", ["-sS", "--max-time", "10"] + urls, loop: loop) { status, out, err in
                    #expect(status == 0, "\(err)")
                    output = out
                    server.close()
                }
            }
        }
        #expect(output == "[/a #1][/b #1]")
        #expect(connections == 1)
    }

    // MARK: - maxRequestsPerSocket

    /// test-http-keep-alive-max-requests: with `maxRequestsPerSocket = 3`, the third response carries
    /// `Connection: close`; the fourth and fifth pipelined requests are not handed to the handler but answered
    /// `503 Service Unavailable` with `Connection: close` (an empty chunked body, as Node sends it), and the socket
    /// closes after them (Node leaves it open after the 503s; a connection that said close is closed here).
    @Test(arguments: HTTPTransport.allCases)
    func maxRequestsPerSocket_closesAfterTheNthResponse(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var handled: [String] = []
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                handled.append(req.url)
                res.end("r" + req.url)
            }
            server.maxRequestsPerSocket = 3
            server.listen(on: transport, directory: directory) { endpoint in
                let requests = (1...5).map { "GET /\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
                rawExchange(endpoint, loop: loop, requests) { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(handled == ["/1", "/2", "/3"])
        #expect(responses.map(\.status) == [200, 200, 200, 503, 503])
        #expect(responses.map(\.body.text) == ["r/1", "r/2", "r/3", "", ""])
        #expect(responses.map { $0.field("Connection") } == ["keep-alive", "keep-alive", "close", "close", "close"])
        #expect(responses.suffix(2).map { $0.field("Transfer-Encoding") } == ["chunked", "chunked"])
        // Node announces the limit: `Keep-Alive: timeout=5, max=3`.
        #expect(responses.map { $0.field("Keep-Alive") } == ["timeout=5, max=3", "timeout=5, max=3", nil, nil, nil])
    }

    /// The same, with a handler that answers on a later loop turn: the requests past the limit are queued by then
    /// and get their 503s one per tick after the last allowed response.
    @Test func maxRequestsPerSocket_answers503_whenTheHandlerAnswersLater() {
        var handled: [String] = []
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                handled.append(req.url)
                loop.setImmediate { res.end("r" + req.url) }
            }
            server.maxRequestsPerSocket = 2
            server.listen(port: 0, host: "127.0.0.1") {
                let requests = (1...5).map { "GET /\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
                rawExchange(.port(server.address()!.port), loop: loop, requests) { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(handled == ["/1", "/2"])
        #expect(responses.map(\.status) == [200, 200, 503, 503, 503])
        #expect(responses.map { $0.field("Connection") } == ["keep-alive", "close", "close", "close", "close"])
    }

    /// The same limit met one request at a time: the connection closes right after the limit's response.
    @Test func maxRequestsPerSocket_closesAfterTheNthResponse_whenRequestsAreSequential() {
        var responses: [WireResponse] = []
        var handled = 0
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, res in
                handled += 1
                res.end("n=\(handled)")
            }
            server.maxRequestsPerSocket = 2
            server.listen(port: 0, host: "127.0.0.1") {
                var sent = 1
                let request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                rawExchange(.port(server.address()!.port), loop: loop, request, onData: { socket, bytes in
                    let complete = splitResponses(bytes).filter { $0.body.text.hasPrefix("n=") }.count
                    if complete == 1 && sent == 1 {
                        sent = 2
                        socket.write(request)
                    }
                }, onClose: { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                })
            }
        }
        #expect(responses.map(\.body.text) == ["n=1", "n=2"])
        #expect(responses.map { $0.field("Connection") } == ["keep-alive", "close"])
    }

    // MARK: - Pipelining

    /// test-http-pipeline-*: three pipelined requests with bodies (Content-Length, chunked, Content-Length) sent in
    /// one write are answered in order, each with its own body, even when the first answer comes later.
    @Test(arguments: HTTPTransport.allCases)
    func pipelinedRequestsWithBodies_areAnsweredInOrder(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var handled: [String] = []
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                var body = ""
                req.on(.data) { body += $0.string }
                req.on(.end) {
                    handled.append("\(req.url)=\(body)")
                    if req.url == "/a" {
                        // Answer the first one last: the later requests must still wait their turn.
                        loop.setTimeout(50) { res.end("A:" + body) }
                    } else {
                        res.end(req.url.dropFirst().uppercased() + ":" + body)
                    }
                }
            }
            server.listen(on: transport, directory: directory) { endpoint in
                let requests =
                    "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                    + "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nt\r\n2\r\nwo\r\n0\r\n\r\n"
                    + "POST /c HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\nthree"
                rawExchange(endpoint, loop: loop, requests) { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(handled == ["/a=one", "/b=two", "/c=three"])
        #expect(responses.map(\.body.text) == ["A:one", "B:two", "C:three"])
        #expect(responses.map { $0.field("Connection") } == ["keep-alive", "keep-alive", "close"])
    }

    // MARK: - Aborted requests

    /// test-http-aborted: a client that vanishes in the middle of a request body makes the request emit `aborted`
    /// then `close`, and the response `close`; nothing crashes and the connection is gone afterwards.
    @Test(arguments: HTTPTransport.allCases)
    func clientVanishingMidBody_emitsAbortedThenClose_andFreesTheConnection(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        var bytesSeen = 0
        var countAfterClose: Int?
        var requestAborted: Bool?
        var requestComplete: Bool?
        runHTTPLoop { loop in
            let client = Later<Socket>()
            let server = HTTP.createServer(loop: loop)
            server.on(.request) { req, res in
                req.on(.data) { chunk in
                    bytesSeen += chunk.count
                    if bytesSeen >= 100 && !events.contains("destroy") {
                        events.append("destroy")
                        client.value?.destroy()
                    }
                }
                req.on(.end) { events.append("req-end") }
                req.on(.aborted) { events.append("req-aborted") }
                req.on(.close) {
                    events.append("req-close")
                    requestAborted = req.aborted
                    requestComplete = req.complete
                }
                res.on(.finish) { events.append("res-finish") }
                res.on(.close) {
                    events.append("res-close")
                    loop.setImmediate {
                        countAfterClose = server.connectionCount
                        server.close()
                    }
                }
            }
            server.listen(on: transport, directory: directory) { endpoint in
                let head = "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                client.value = rawExchange(endpoint, loop: loop, head + String(repeating: "x", count: 100)) { _ in }
            }
        }
        #expect(events == ["destroy", "req-aborted", "req-close", "res-close"])
        #expect(bytesSeen == 100)
        #expect(requestAborted == true)
        #expect(requestComplete == false)
        #expect(countAfterClose == 0)
    }

    // MARK: - clientError

    /// test-http-server-client-error: with a `clientError` listener, a malformed request goes to the listener with
    /// the error and the socket, and what the listener writes is all the client gets; the handler never runs.
    @Test(arguments: HTTPTransport.allCases)
    func clientErrorListener_getsTheErrorAndSocket_andAnswersItself(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var errors: [HTTPParseError] = []
        var handled = 0
        var received = ""
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, res in
                handled += 1
                res.end()
            }
            server.on(.clientError) { error, socket in
                errors.append(error)
                socket.end("HTTP/1.1 400 Bad Request\r\nX-Handled-By: listener\r\nConnection: close\r\n\r\n")
            }
            server.listen(on: transport, directory: directory) { endpoint in
                rawExchange(endpoint, loop: loop, "GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n") { bytes in
                    received = bytes.text
                    server.close()
                }
            }
        }
        #expect(handled == 0)
        #expect(errors.map(\.status) == [400])
        #expect(received == "HTTP/1.1 400 Bad Request\r\nX-Handled-By: listener\r\nConnection: close\r\n\r\n")
    }

    /// Without a `clientError` listener a malformed request gets `400` with `Connection: close` and the connection
    /// closes; a valid request pipelined before it is answered first.
    @Test(arguments: HTTPTransport.allCases)
    func malformedRequest_gets400AndClose_withoutClientErrorListener(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var handled: [String] = []
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                handled.append(req.url)
                res.end("fine")
            }
            server.listen(on: transport, directory: directory) { endpoint in
                let requests = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n" + "GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n"
                rawExchange(endpoint, loop: loop, requests) { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(handled == ["/ok"])
        #expect(responses.map(\.status) == [200, 400])
        #expect(responses.first?.body.text == "fine")
        #expect(responses.last?.field("Connection") == "close")
    }

    /// A malformed first request (nothing else in progress) is answered at once with `400` and the connection
    /// closes: the error must not wait for a response that will never come.
    @Test(arguments: HTTPTransport.allCases)
    func malformedFirstRequest_gets400AndClose_withoutClientErrorListener(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { _, res in res.end("unexpected") }
            server.listen(on: transport, directory: directory) { endpoint in
                rawExchange(endpoint, loop: loop, "GET / HTTP/1.1\r\nBad Header Without Colon\r\n\r\n") { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(responses.map(\.status) == [400])
        #expect(responses.first?.field("Connection") == "close")
    }

    /// Far more pipelined requests than the server parses ahead (it stops reading past its pipelining limit) are
    /// all answered, in order, from one write.
    @Test(arguments: HTTPTransport.allCases)
    func manyPipelinedRequests_areAllAnsweredInOrder(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        let count = 200
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                // Every tenth answer comes a moment later, so requests pile up behind it.
                if req.url.hasSuffix("0") {
                    loop.setTimeout(5) { res.end(req.url) }
                } else {
                    res.end(req.url)
                }
            }
            server.listen(on: transport, directory: directory) { endpoint in
                var requests = (1..<count).map { "GET /\($0) HTTP/1.1\r\nHost: x\r\n\r\n" }.joined()
                requests += "GET /\(count) HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                rawExchange(endpoint, loop: loop, requests) { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(responses.map(\.body.text) == (1...count).map { "/\($0)" })
    }

    /// A pipelined request whose body arrives while the one before it is still being answered: its body is held
    /// (the socket paused once the hold is full) and handed over whole when its turn comes.
    @Test(arguments: HTTPTransport.allCases)
    func pipelinedBodyArrivingDuringAnEarlierResponse_isHeldAndDeliveredWhole(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        let size = 300 * 1024
        var received = 0
        var bodyIsIntact = true
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                if req.url == "/slow" {
                    loop.setTimeout(100) { res.end("slow") }
                    return
                }
                req.on(.data) { chunk in
                    if chunk.contains(where: { $0 != UInt8(ascii: "z") }) { bodyIsIntact = false }
                    received += chunk.count
                }
                req.on(.end) { res.end("got \(received)") }
            }
            server.listen(on: transport, directory: directory) { endpoint in
                let requests =
                    "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"
                    + "POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: \(size)\r\nConnection: close\r\n\r\n"
                    + String(repeating: "z", count: size)
                rawExchange(endpoint, loop: loop, requests) { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
            }
        }
        #expect(responses.map(\.body.text) == ["slow", "got \(size)"])
        #expect(received == size)
        #expect(bodyIsIntact)
    }

    /// Node: a `keepAliveTimeout`, `headersTimeout` or `requestTimeout` of 0 disables that timeout. With all three
    /// 0, a slow head and a slow body are still served, an idle connection stays open (the next request, sent after
    /// a pause, is answered on it), and responses carry no `Keep-Alive` field.
    @Test func zeroTimeouts_disableTheTimeouts() {
        var responses: [WireResponse] = []
        var connections = 0
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                var body = ""
                req.on(.data) { body += $0.string }
                req.on(.end) { res.end(req.url + ":" + body) }
            }
            server.keepAliveTimeout = 0
            server.headersTimeout = 0
            server.requestTimeout = 0
            server.on(.connection) { _ in connections += 1 }
            server.listen(port: 0, host: "127.0.0.1") {
                var step = 0
                let socket = rawExchange(.port(server.address()!.port), loop: loop, "", onData: { socket, bytes in
                    let answered = splitResponses(bytes).filter { $0.body.text.contains(":") }.count
                    if answered == 1 && step == 1 {
                        step = 2
                        // Idle for a while: with keepAliveTimeout 0 the connection must still be there.
                        loop.setTimeout(150) {
                            socket.write("GET /second HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                        }
                    }
                }, onClose: { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                })
                socket.on(.connect) {
                    step = 1
                    socket.write("POST /first HTTP/1.1\r\nHost: x\r\n")
                    loop.setTimeout(50) { socket.write("Content-Length: 4\r\n\r\nab") }
                    loop.setTimeout(100) { socket.write("cd") }
                }
            }
        }
        #expect(responses.map(\.body.text) == ["/first:abcd", "/second:"])
        #expect(responses.map(\.status) == [200, 200])
        #expect(responses.first?.field("Keep-Alive") == nil)
        #expect(responses.first?.field("Connection") == "keep-alive")
        #expect(connections == 1)
    }

    /// Node's `server.close()` closes only idle connections: a request whose head is still arriving is served (with
    /// `Connection: close`), and the server's `close` follows.
    @Test(arguments: HTTPTransport.allCases)
    func close_letsARequestAlreadyArrivingFinish(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        var responses: [WireResponse] = []
        runHTTPLoop { loop in
            let client = Later<Socket>()
            let server = HTTP.createServer(loop: loop) { req, res in
                events.append("request \(req.url)")
                res.end("served")
            }
            server.on(.close) { events.append("server-close") }
            server.on(.connection) { socket in
                // The connection's own data listener came first: the partial head has been parsed by now.
                socket.once(.data) { _ in
                    events.append("close()")
                    server.close()
                    client.value?.write("Host: x\r\n\r\n")
                }
            }
            server.listen(on: transport, directory: directory) { endpoint in
                client.value = rawExchange(endpoint, loop: loop, "GET /late HTTP/1.1\r\n") { bytes in
                    events.append("client-closed")
                    responses = splitResponses(bytes)
                }
            }
        }
        #expect(events == ["close()", "request /late", "client-closed", "server-close"])
        #expect(responses.map(\.body.text) == ["served"])
        #expect(responses.first?.field("Connection") == "close")
    }

    static let nodeLoadClient = #"""
        const http = require('http');
        const [where] = process.argv.slice(1);
        const target = /^\d+$/.test(where) ? { port: +where, host: '127.0.0.1' } : { socketPath: where };
        const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
        const total = 300;
        let done = 0, ok = 0, reused = 0;
        const bad = [];
        for (let i = 0; i < total; i++) {
          const body = i % 3 === 0 ? 'x'.repeat(i * 37) : '';
          const req = http.request({ ...target, agent, method: body ? 'POST' : 'GET', path: '/n' + i }, res => {
            let got = '';
            res.setEncoding('utf8');
            res.on('data', d => got += d);
            res.on('end', () => {
              const want = (body ? 'POST' : 'GET') + ' /n' + i + ' ' + body.length;
              if (got === want && res.statusCode === 200) ok++; else bad.push(got);
              if (++done === total) { console.log(JSON.stringify({ ok, bad: bad.slice(0, 3) })); agent.destroy(); }
            });
          });
          req.on('error', e => { console.error(i, e.message); process.exit(1); });
          req.end(body);
        }
        """#

    struct LoadReport: Decodable {
        let ok: Int
        let bad: [String]
    }

    /// Node's keep-alive agent with 4 sockets sends 300 requests (every third a POST with a body of growing size)
    /// as fast as it can; every response is right, the 4 connections are reused, and all are closed afterwards.
    @Test(arguments: HTTPTransport.allCases)
    func nodeAgentLoad_allResponsesCorrectOverFourReusedConnections(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var report: LoadReport?
        var connections = 0
        var countAtClose: Int?
        runHTTPLoop(seconds: 60) { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                var length = 0
                req.on(.data) { length += $0.count }
                req.on(.end) {
                    let answer = "\(req.method) \(req.url) \(length)"
                    // Some answers come a moment later, so requests wait on busy connections.
                    if length % 2 == 1 {
                        loop.setTimeout(1) { res.end(answer) }
                    } else {
                        res.end(answer)
                    }
                }
            }
            server.on(.connection) { _ in connections += 1 }
            server.on(.close) { countAtClose = server.connectionCount }
            server.listen(on: transport, directory: directory) { endpoint in
                runNode(Self.nodeLoadClient, [endpoint.argument], loop: loop) { status, out, err in
                    #expect(status == 0, "\(err)")
                    report = decodeJSON(LoadReport.self, out)
                    server.close()
                }
            }
        }
        #expect(report?.ok == 300, "\(String(describing: report?.bad))")
        // 300 requests over at most 4 connections: kept alive and reused. (Node's `reusedSocket` stays false for
        // requests queued in the agent and handed a freed socket, so it is not counted here.)
        #expect(connections >= 1 && connections <= 4, "\(connections) connections")
        #expect(countAtClose == 0)
    }

    /// The pipelined requests with bodies, dripped one byte per loop turn (no Nagle delay, so most bytes arrive as
    /// segments of their own): the server's per-chunk handling gives the same answers as for one write.
    @Test func pipelinedRequests_drippedBytewise_areAnsweredTheSame() {
        var responses: [WireResponse] = []
        var handled: [String] = []
        runHTTPLoop(seconds: 30) { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                var body = ""
                req.setEncoding(.utf8)
                req.on(.data) { body += $0.string }
                req.on(.end) {
                    handled.append("\(req.method) \(req.url) \(body)")
                    res.end(body.uppercased())
                }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let requests = Array((
                    "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nw\u{F6}rd"
                    + "POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\ntwo\r\n0\r\nT: 1\r\n\r\n"
                    + "GET /c HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").utf8)
                let socket = rawExchange(.port(server.address()!.port), loop: loop, "") { bytes in
                    responses = splitResponses(bytes)
                    server.close()
                }
                socket.setNoDelay(true)
                var index = 0
                func drip() {
                    guard index < requests.count, !socket.destroyed else { return }
                    socket.write([requests[index]])
                    index += 1
                    loop.setImmediate(drip)
                }
                socket.on(.connect) { drip() }
            }
        }
        #expect(handled == ["POST /a w\u{F6}rd", "POST /b two", "GET /c "])
        #expect(responses.map(\.body.text) == ["W\u{D6}RD", "TWO", ""])
    }
}
