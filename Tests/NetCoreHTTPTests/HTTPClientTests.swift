import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// Node's `http.request` / `http.get` against our own `HTTPServer` on loopback: framing, headers, bodies, Unix sockets.
@Suite(.timeLimit(.minutes(1))) struct HTTPClientTests {
    /// What the server saw of one request.
    struct Seen {
        var method = ""
        var url = ""
        var headers: [String: String] = [:]
        var body = ""
    }

    /// A server that records each request and answers `200` with `echo:<body>`.
    private func recordingServer(_ loop: EventLoop, _ seen: @escaping (Seen) -> Void) -> HTTPServer {
        HTTP.createServer(loop: loop) { req, res in
            var record = Seen(method: req.method, url: req.url)
            for (name, value) in req.headers { record.headers[name] = value }
            req.on(.data) { record.body += $0.string }
            req.on(.end) {
                seen(record)
                res.setHeader("Content-Type", "text/plain")
                res.end("echo:" + record.body)
            }
        }
    }

    @Test func get_receivesStatusHeadersAndBody_andSendsNodesDefaultHead() throws {
        var seen: Seen?
        var status = 0
        var body = ""
        var events: [String] = []
        runClientLoop { loop, keep in
            let server = recordingServer(loop) { seen = $0 }
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.path = "/hello?x=1"
                let request = HTTP.get(options) { res in
                    status = res.statusCode
                    events.append("response")
                    readBody(res) { body = String(decoding: $0, as: UTF8.self) }
                }
                request.on(.socket) { _ in events.append("socket") }
                request.on(.finish) { events.append("finish") }
                request.on(.close) {
                    events.append("close")
                    server.close()
                }
            }
        }
        #expect(status == 200)
        #expect(body == "echo:")
        #expect(events == ["socket", "finish", "response", "close"])
        #expect(seen?.method == "GET")
        #expect(seen?.url == "/hello?x=1")
        #expect(seen?.headers["host"]?.hasPrefix("127.0.0.1:") == true)
        #expect(seen?.headers["connection"] == "close")  // agent: .none is Node's `agent: false`
        #expect(seen?.headers["content-length"] == nil)
        #expect(seen?.headers["transfer-encoding"] == nil)
    }

    @Test func post_endWithBody_sendsContentLength() throws {
        var seen: Seen?
        var body = ""
        runClientLoop { loop, keep in
            let server = recordingServer(loop) { seen = $0 }
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.method = "POST"
                let request = HTTP.request(options) { res in
                    readBody(res) {
                        body = String(decoding: $0, as: UTF8.self)
                        server.close()
                    }
                }
                request.end("hello")
            }
        }
        #expect(body == "echo:hello")
        #expect(seen?.headers["content-length"] == "5")
        #expect(seen?.headers["transfer-encoding"] == nil)
    }

    @Test func post_writesBeforeEnd_sendChunkedBody() throws {
        var seen: Seen?
        var body = ""
        runClientLoop { loop, keep in
            let server = recordingServer(loop) { seen = $0 }
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.method = "POST"
                let request = HTTP.request(options) { res in
                    readBody(res) {
                        body = String(decoding: $0, as: UTF8.self)
                        server.close()
                    }
                }
                #expect(request.write("ab"))
                #expect(request.headersSent)
                request.write("cd")
                request.end("ef")
            }
        }
        #expect(body == "echo:abcdef")
        #expect(seen?.headers["transfer-encoding"] == "chunked")
        #expect(seen?.headers["content-length"] == nil)
    }

    @Test func post_emptyEnd_sendsContentLengthZero_andSetHeaderIsUsedUntilTheHeadIsSent() throws {
        var seen: Seen?
        runClientLoop { loop, keep in
            let server = recordingServer(loop) { seen = $0 }
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.method = "PUT"
                options.headers = ["X-Early": "1", "X-Gone": "2"]
                let request = HTTP.request(options) { res in
                    res.resume()
                    res.on(.end) { server.close() }
                }
                request.setHeader("X-Late", "3")
                request.removeHeader("x-gone")
                #expect(request.getHeader("x-early") == "1")
                request.setHeader("X-Bad", "a\r\nInjected: yes")  // refused: CR LF in a value
                request.end()
                request.setHeader("X-After", "4")  // ignored: the head is gone
            }
        }
        #expect(seen?.method == "PUT")
        #expect(seen?.headers["content-length"] == "0")
        #expect(seen?.headers["x-early"] == "1")
        #expect(seen?.headers["x-late"] == "3")
        #expect(seen?.headers["x-gone"] == nil)
        #expect(seen?.headers["x-bad"] == nil)
        #expect(seen?.headers["injected"] == nil)
        #expect(seen?.headers["x-after"] == nil)
    }

    @Test func head_and204_endWithoutBody() throws {
        var results: [(Int, Int, Bool)] = []
        runClientLoop { loop, keep in
            let server = HTTP.createServer(loop: loop) { req, res in
                if req.url == "/none" {
                    res.statusCode = 204
                    res.end()
                } else {
                    res.end("a body that HEAD must not read")
                }
            }
            keep(server)
            listenLocally(server, agent: .agent(Agent(keepAlive: true, loop: loop))) { options in
                var head = options
                head.method = "HEAD"
                var none = options
                none.path = "/none"
                var finished = 0
                for options in [head, none] {
                    HTTP.request(options) { res in
                        readBody(res) { body in
                            results.append((res.statusCode, body.count, res.complete))
                            finished += 1
                            if finished == 2 {
                                server.close()
                                if case .agent(let agent) = options.agent { agent.destroy() }
                            }
                        }
                    }.end()
                }
            }
        }
        #expect(results.count == 2)
        #expect(results.contains { $0 == (200, 0, true) })
        #expect(results.contains { $0 == (204, 0, true) })
    }

    @Test func response_setCookieList_andNodesHeaderRules() throws {
        var cookies: [String] = []
        var json = ""
        var statusMessage = ""
        runClientLoop { loop, keep in
            let server = HTTP.createServer(loop: loop) { _, res in
                res.setHeader("Set-Cookie", ["a=1", "b=2; Path=/"])
                res.setHeader("X-Thing", "x")
                res.end("ok")
            }
            keep(server)
            listenLocally(server, agent: .none) { options in
                HTTP.get(options) { res in
                    cookies = res.headers.setCookie
                    json = res.headers.description
                    statusMessage = res.statusMessage
                    res.resume()
                    res.on(.end) { server.close() }
                }
            }
        }
        #expect(cookies == ["a=1", "b=2; Path=/"])
        #expect(json.contains(#""set-cookie":["a=1","b=2; Path=/"]"#))
        #expect(json.contains(#""x-thing":"x""#))
        #expect(statusMessage == "OK")
    }

    @Test func unixSocket_requestAndResponse_withLocalhostHost() throws {
        let directory = ClientTempDirectory()
        defer { directory.cleanup() }
        var seen: Seen?
        var body = ""
        runClientLoop { loop, keep in
            let server = recordingServer(loop) { seen = $0 }
            let path = directory.file()
            keep(server)
            server.listen(path: path) {
                let options = ClientRequest.Options(socketPath: path, method: "POST", path: "/u", agent: .none, loop: loop)
                let request = HTTP.request(options) { res in
                    readBody(res) {
                        body = String(decoding: $0, as: UTF8.self)
                        server.close()
                    }
                }
                request.end("over unix")
            }
        }
        #expect(body == "echo:over unix")
        #expect(seen?.headers["host"] == "localhost")
        #expect(seen?.url == "/u")
    }

    @Test func urlString_getsTheGivenHostPortAndPath() throws {
        var seen: Seen?
        var status = 0
        runClientLoop { loop, keep in
            let server = recordingServer(loop) { seen = $0 }
            keep(server)
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                let options = ClientRequest.Options(agent: .none, loop: loop)
                _ = try? HTTP.get("http://127.0.0.1:\(port)/p/q?r=s#frag", options) { res in
                    status = res.statusCode
                    res.resume()
                    res.on(.end) { server.close() }
                }
            }
        }
        #expect(status == 200)
        #expect(seen?.url == "/p/q?r=s")
    }

    @Test func urlOptions_parseLikeNode_andRejectBadURLs() throws {
        let plain = try ClientRequest.Options(url: "http://example.com")
        #expect(plain.host == "example.com" && plain.port == 80 && plain.path == "/")
        let full = try ClientRequest.Options(url: "HTTP://user:pw@host.test:8080/a/b?c=d")
        #expect(full.host == "host.test" && full.port == 8080 && full.path == "/a/b?c=d")
        let query = try ClientRequest.Options(url: "http://h?x=1")
        #expect(query.path == "/?x=1")
        let v6 = try ClientRequest.Options(url: "http://[::1]:9/x")
        #expect(v6.host == "::1" && v6.port == 9 && v6.path == "/x")
        #expect(throws: SocketError.self) { try ClientRequest.Options(url: "https://h/") }
        for bad in ["", "h/x", "http://", "http://h:99999/", "http://h:x/", "http://[::1/", "http://a b/"] {
            #expect(throws: SocketError.self, "\(bad)") { try ClientRequest.Options(url: bad) }
        }
        do {
            _ = try ClientRequest.Options(url: "ftp://h/")
        } catch {
            #expect(error.code == "ERR_INVALID_PROTOCOL")
        }
    }

    /// A 10 MB response read with pause/resume: the client pauses after each chunk and resumes on a later turn, and
    /// the bytes held unread never exceed the high-water mark plus one socket read.
    @Test func largeResponse_pauseResume_readsAllWithBoundedBuffering() throws {
        let total = 10 * 1024 * 1024
        var received = 0
        var maxUnread = 0
        var pauses = 0
        runClientLoop(seconds: 40) { loop, keep in
            let block = Buffer([UInt8](repeating: 0x61, count: 64 * 1024))
            let server = HTTP.createServer(loop: loop) { _, res in
                res.setHeader("Content-Length", String(total))
                var sent = 0
                func pump() {
                    while sent < total {
                        sent += block.count
                        if !res.write(block) {
                            res.once(.drain) { pump() }
                            return
                        }
                    }
                    res.end()
                }
                pump()
            }
            keep(server)
            listenLocally(server, agent: .none) { options in
                HTTP.get(options) { res in
                    res.on(.data) { chunk in
                        received += chunk.count
                        // What the socket layer has read but we have not consumed: the client must stop reading
                        // the socket while paused, so this stays bounded.
                        maxUnread = max(maxUnread, res.socket.bytesRead - received)
                        res.pause()
                        pauses += 1
                        loop.setImmediate { res.resume() }
                    }
                    res.on(.end) { server.close() }
                }
            }
        }
        #expect(received == total)
        #expect(pauses > 10)
        // 16 KiB high-water mark, plus at most one burst of socket reads (16 reads of 64 KiB) and the head.
        #expect(maxUnread < 2 * 1024 * 1024, "unread bytes reached \(maxUnread)")
    }

    /// A request body larger than the socket's buffers, written with `write` until it returns false and resumed on
    /// `drain`, arrives whole.
    @Test func write_returnsFalseUnderBackpressure_andDrainResumes() throws {
        let total = 900 * 1024
        var received = 0
        var sawFalse = false
        var drains = 0
        runClientLoop { loop, keep in
            let server = HTTP.createServer(loop: loop) { req, res in
                req.on(.data) { received += $0.count }
                req.on(.end) { res.end("got \(received)") }
            }
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.method = "POST"
                options.headers = ["Content-Length": String(total)]
                let request = HTTP.request(options) { res in
                    res.resume()
                    res.on(.end) { server.close() }
                }
                let block = Buffer([UInt8](repeating: 0x62, count: 64 * 1024))
                var sent = 0
                func pump() {
                    while sent < total {
                        let part = sent + block.count <= total ? block : Buffer(Array(block.bytes[..<(total - sent)]))
                        sent += part.count
                        if !request.write(part) {
                            sawFalse = true
                            request.once(.drain) {
                                drains += 1
                                pump()
                            }
                            return
                        }
                    }
                    request.end()
                }
                pump()
            }
        }
        #expect(received == total)
        #expect(sawFalse)
        #expect(drains > 0)
    }
}
