import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// The client against Node's own `http` server, spawned as a peer (`node -e`): what Node's server sees of our
/// requests, and what we make of its responses.
@Suite(.timeLimit(.minutes(1))) struct HTTPClientNodeInteropTests {
    /// Node's server: `/info` answers JSON describing the request (and how many connections it has accepted),
    /// `/echo` streams the request body back chunk by chunk, `/cookies` sets two cookies.
    static let server = """
        const http = require('http');
        let connections = 0;
        const server = http.createServer((req, res) => {
          const chunks = [];
          req.on('data', c => chunks.push(c));
          req.on('end', () => {
            const body = Buffer.concat(chunks).toString();
            if (req.url === '/echo') {
              res.writeHead(200, { 'Content-Type': 'text/plain' });
              for (const part of body.split(',')) res.write(part + ';');
              res.end();
            } else if (req.url === '/cookies') {
              res.setHeader('Set-Cookie', ['a=1', 'b=2; HttpOnly']);
              res.end('cookies');
            } else {
              res.setHeader('Content-Type', 'application/json');
              res.end(JSON.stringify({ connections, method: req.method, url: req.url, headers: req.headers, body }));
            }
          });
        });
        server.on('connection', () => connections++);
        server.listen(0, '127.0.0.1', () => console.log(server.address().port));
        """

    struct Info: Decodable {
        let connections: Int
        let method: String
        let url: String
        let headers: [String: String]
        let body: String
    }

    private func fetch(
        _ options: ClientRequest.Options,
        body: [String] = [],
        endBody: String? = nil,
        _ done: @escaping (IncomingMessage, String) -> Void
    ) {
        let request = HTTP.request(options) { res in
            readBody(res) { done(res, String(decoding: $0, as: UTF8.self)) }
        }
        request.on(.error) { Issue.record("request error: \($0)") }
        for part in body { request.write(part) }
        if let endBody { request.end(endBody) } else { request.end() }
    }

    @Test func nodeServer_seesOurGetAndPost_withNodesFraming() throws {
        let node = try NodePeer(Self.server)
        defer { node.stop() }
        var infos: [Info] = []
        runClientLoop { loop, keep in
            let agent = Agent(keepAlive: true, loop: loop)
            keep(agent)
            let base = ClientRequest.Options(host: "127.0.0.1", port: node.port, agent: .agent(agent), loop: loop)
            var post = base
            post.method = "POST"
            post.path = "/info?x=1"
            post.headers = ["Content-Type": "text/plain"]
            fetch(base) { _, text in
                infos.append(try! JSONDecoder().decode(Info.self, from: Data(text.utf8)))
                fetch(post, endBody: "fixed body") { _, text in
                    infos.append(try! JSONDecoder().decode(Info.self, from: Data(text.utf8)))
                    fetch(post, body: ["chun", "ked "], endBody: "body") { _, text in
                        infos.append(try! JSONDecoder().decode(Info.self, from: Data(text.utf8)))
                        agent.destroy()
                    }
                }
            }
        }
        try #require(infos.count == 3)
        #expect(infos[0].method == "GET" && infos[0].url == "/")
        #expect(infos[0].headers["host"] == "127.0.0.1:\(node.port)")
        #expect(infos[0].headers["connection"] == "keep-alive")
        #expect(infos[0].headers["content-length"] == nil && infos[0].headers["transfer-encoding"] == nil)
        #expect(infos[1].method == "POST" && infos[1].url == "/info?x=1")
        #expect(infos[1].headers["content-length"] == "10" && infos[1].body == "fixed body")
        #expect(infos[1].headers["content-type"] == "text/plain")
        #expect(infos[2].headers["transfer-encoding"] == "chunked" && infos[2].body == "chunked body")
        // Keep-alive: Node's server accepted one connection for all three requests.
        #expect(infos.map(\.connections) == [1, 1, 1])
    }

    @Test func nodeServer_chunkedResponseAndSetCookieList() throws {
        let node = try NodePeer(Self.server)
        defer { node.stop() }
        var echoed = ""
        var transferEncoding: String?
        var cookies: [String] = []
        runClientLoop { loop, _ in
            var echo = ClientRequest.Options(host: "127.0.0.1", port: node.port, agent: .none, loop: loop)
            echo.method = "POST"
            echo.path = "/echo"
            var cookie = echo
            cookie.method = "GET"
            cookie.path = "/cookies"
            fetch(echo, endBody: "a,b,c") { res, text in
                echoed = text
                transferEncoding = res.headers["transfer-encoding"]
            }
            fetch(cookie) { res, _ in cookies = res.headers.setCookie }
        }
        #expect(echoed == "a;b;c;")
        #expect(transferEncoding == "chunked")
        #expect(cookies == ["a=1", "b=2; HttpOnly"])
    }

    /// A free keep-alive socket is unref'd, as in Node: the loop ends with it still open, and `agent.destroy()`
    /// closes it.
    @Test func freeSocket_doesNotKeepTheLoopAlive_andAgentDestroyClosesIt() throws {
        let node = try NodePeer(Self.server)
        defer { node.stop() }
        var record: ClientDescriptorRecord?
        var agent: Agent?
        var closed = false
        let loop = try EventLoop()
        let made = Agent(keepAlive: true, loop: loop)
        agent = made
        let options = ClientRequest.Options(host: "127.0.0.1", port: node.port, agent: .agent(made), loop: loop)
        HTTP.get(options) { res in
            record = ClientDescriptorRecord(res.socket)
            res.resume()
        }
        let watchdog = loop.setTimeout(20_000) { loop.stop() }.unref()
        loop.run()
        #expect(record?.isStillOpen == true)
        #expect(made.freeSockets.values.reduce(0) { $0 + $1.count } == 1)
        made.freeSockets.values.first?.first?.on(.close) { _ in closed = true }
        agent?.destroy()
        loop.run()
        watchdog.cancel()
        #expect(closed)
        #expect(record?.isStillOpen == false)
        #expect(made.freeSockets.isEmpty)
    }
}
