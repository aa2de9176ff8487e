import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// `Agent`: keep-alive reuse, the `maxSockets` queue, `maxFreeSockets`, and free sockets the server closes.
@Suite(.timeLimit(.minutes(1))) struct HTTPClientAgentTests {
    /// A server that answers `n<count>` on each connection and counts connections and their closes.
    final class CountingServer {
        let http: HTTPServer
        var connections = 0
        var closes = 0
        var order: [String] = []
        var onClose: (() -> Void)?

        init(loop: EventLoop, answer: ((IncomingMessage, ServerResponse) -> Void)? = nil) {
            http = HTTP.createServer(loop: loop)
            http.on(.connection) { [unowned self] socket in
                connections += 1
                socket.on(.close) { [unowned self] _ in
                    closes += 1
                    onClose?()
                }
            }
            http.on(.request) { [unowned self] req, res in
                order.append("start " + req.url)
                if let answer {
                    answer(req, res)
                } else {
                    res.end("body of " + req.url)
                }
                res.on(.finish) { [unowned self] in order.append("end " + req.url) }
            }
        }
    }

    @Test func keepAlive_twoSequentialRequests_shareOneConnection() throws {
        var bodies: [String] = []
        var ports: [Int] = []
        var reused: [Bool] = []
        var server: CountingServer?
        var freeAfter = -1
        runClientLoop { loop, keep in
            let counting = CountingServer(loop: loop)
            server = counting
            let agent = Agent(keepAlive: true, loop: loop)
            keep(agent)
            listenLocally(counting.http, agent: .agent(agent)) { options in
                func fetch(_ path: String, then next: @escaping () -> Void) {
                    var options = options
                    options.path = path
                    let request = HTTP.get(options) { res in
                        ports.append(res.socket.localPort ?? 0)
                        readBody(res) { bodies.append(String(decoding: $0, as: UTF8.self)) }
                    }
                    request.on(.close) {
                        reused.append(request.reusedSocket)
                        loop.nextTick(next)  // after the agent has taken the socket back
                    }
                }
                fetch("/one") {
                    fetch("/two") {
                        freeAfter = agent.freeSockets.values.reduce(0) { $0 + $1.count }
                        agent.destroy()
                        counting.http.close()
                    }
                }
            }
        }
        #expect(bodies == ["body of /one", "body of /two"])
        #expect(server?.connections == 1)
        #expect(ports.count == 2 && ports[0] == ports[1])
        #expect(reused == [false, true])
        #expect(freeAfter == 1)
    }

    @Test func maxSocketsOne_queuesTheSecondRequestUntilTheFirstCompletes() throws {
        var server: CountingServer?
        var queuedWhileBusy = -1
        var busyWhileBusy = -1
        var statuses: [Int] = []
        runClientLoop { loop, keep in
            var held: ServerResponse?
            let counting = CountingServer(loop: loop) { req, res in
                // The first response waits until the client has shown the second request queued.
                if req.url == "/first" { held = res } else { res.end("second") }
            }
            server = counting
            let agent = Agent(keepAlive: true, maxSockets: 1, loop: loop)
            keep(agent)
            listenLocally(counting.http, agent: .agent(agent)) { options in
                var first = options
                first.path = "/first"
                var second = options
                second.path = "/second"
                for options in [first, second] {
                    HTTP.get(options) { res in
                        statuses.append(res.statusCode)
                        res.resume()
                        res.on(.end) {
                            if statuses.count == 2 {
                                agent.destroy()
                                counting.http.close()
                            }
                        }
                    }
                }
                counting.http.once(.request) { _, _ in
                    let key = Agent.name(host: "127.0.0.1", port: options.port)
                    queuedWhileBusy = agent.requests[key]?.count ?? 0
                    busyWhileBusy = agent.sockets[key]?.count ?? 0
                    loop.setImmediate { held?.end("first") }
                }
            }
        }
        #expect(queuedWhileBusy == 1)
        #expect(busyWhileBusy == 1)
        #expect(statuses == [200, 200])
        #expect(server?.order == ["start /first", "end /first", "start /second", "end /second"])
        #expect(server?.connections == 1)
    }

    @Test func maxSocketsOne_withoutKeepAlive_opensTheNextConnectionWhenTheFirstCloses() throws {
        var server: CountingServer?
        var bodies: [String] = []
        runClientLoop { loop, keep in
            let counting = CountingServer(loop: loop)
            server = counting
            let agent = Agent(keepAlive: false, maxSockets: 1, loop: loop)
            keep(agent)
            listenLocally(counting.http, agent: .agent(agent)) { options in
                for path in ["/a", "/b", "/c"] {
                    var options = options
                    options.path = path
                    HTTP.get(options) { res in
                        readBody(res) {
                            bodies.append(String(decoding: $0, as: UTF8.self))
                            if bodies.count == 3 { counting.http.close() }
                        }
                    }
                }
            }
        }
        #expect(bodies == ["body of /a", "body of /b", "body of /c"])
        #expect(server?.connections == 3)
        #expect(server?.order == ["start /a", "end /a", "start /b", "end /b", "start /c", "end /c"])
    }

    @Test func maxFreeSockets_keepsOnlyThatManyAfterABurst() throws {
        var server: CountingServer?
        var freeCount = -1
        var busyCount = -1
        runClientLoop { loop, keep in
            var held: [ServerResponse] = []
            let counting = CountingServer(loop: loop) { _, res in
                // Hold all three so the agent must open three connections, then answer them together.
                held.append(res)
                if held.count == 3 { for res in held { res.end("x") } }
            }
            server = counting
            let agent = Agent(keepAlive: true, maxFreeSockets: 1, loop: loop)
            keep(agent)
            counting.onClose = {
                guard counting.closes == 2 else { return }
                freeCount = agent.freeSockets.values.reduce(0) { $0 + $1.count }
                busyCount = agent.sockets.values.reduce(0) { $0 + $1.count }
                agent.destroy()
                counting.http.close()
            }
            listenLocally(counting.http, agent: .agent(agent)) { options in
                for index in 0..<3 {
                    var options = options
                    options.path = "/\(index)"
                    HTTP.get(options) { res in res.resume() }
                }
            }
        }
        #expect(server?.connections == 3)
        #expect(freeCount == 1)
        #expect(busyCount == 0)
    }

    @Test func freeSocketClosedByServer_isDropped_andTheNextRequestOpensANewConnection() throws {
        var server: CountingServer?
        var errors: [String] = []
        var secondBody = ""
        var secondReused: Bool?
        var freeAfterClose = -1
        runClientLoop { loop, keep in
            let counting = CountingServer(loop: loop)
            server = counting
            let agent = Agent(keepAlive: true, loop: loop)
            keep(agent)
            listenLocally(counting.http, agent: .agent(agent)) { options in
                let first = HTTP.get(options) { res in res.resume() }
                first.on(.error) { errors.append($0.code) }
                first.on(.close) {
                    loop.nextTick {
                        let key = Agent.name(host: "127.0.0.1", port: options.port)
                        guard let free = agent.freeSockets[key]?.first else {
                            Issue.record("the socket did not go back to the free list")
                            counting.http.close()
                            return
                        }
                        free.on(.close) { _ in
                            freeAfterClose = agent.freeSockets[key]?.count ?? 0
                            let second = HTTP.get(options) { res in
                                readBody(res) {
                                    secondBody = String(decoding: $0, as: UTF8.self)
                                    agent.destroy()
                                    counting.http.close()
                                }
                            }
                            second.on(.error) { errors.append($0.code) }
                            second.on(.socket) { _ in secondReused = second.reusedSocket }
                        }
                        counting.http.closeIdleConnections()
                    }
                }
            }
        }
        #expect(errors.isEmpty)
        #expect(freeAfterClose == 0)
        #expect(secondBody == "body of /")
        #expect(secondReused == false)
        #expect(server?.connections == 2)
    }

    @Test func agentTimeout_closesAnIdleFreeSocket() throws {
        var server: CountingServer?
        var freeClosed = false
        var freeAfter = -1
        runClientLoop { loop, keep in
            let counting = CountingServer(loop: loop)
            server = counting
            let agent = Agent(keepAlive: true, timeout: 30, loop: loop)
            keep(agent)
            listenLocally(counting.http, agent: .agent(agent)) { options in
                let request = HTTP.get(options) { res in res.resume() }
                request.on(.close) {
                    loop.nextTick {
                        guard let free = agent.freeSockets.values.first?.first else {
                            Issue.record("no free socket")
                            counting.http.close()
                            return
                        }
                        free.on(.close) { _ in
                            freeClosed = true
                            freeAfter = agent.freeSockets.count
                            counting.http.close()
                        }
                    }
                }
            }
        }
        #expect(freeClosed)
        #expect(freeAfter == 0)
        #expect(server?.closes == 1)
    }

    @Test func defaultAgent_isTheLoopsGlobalKeepAliveAgent() throws {
        var server: CountingServer?
        var bodies: [String] = []
        var isGlobal = false
        runClientLoop { loop, keep in
            let counting = CountingServer(loop: loop)
            server = counting
            counting.http.listen(port: 0, host: "127.0.0.1") {
                let options = ClientRequest.Options(host: "127.0.0.1", port: counting.http.address()!.port, loop: loop)
                let first = HTTP.get(options) { res in readBody(res) { bodies.append(String(decoding: $0, as: UTF8.self)) } }
                isGlobal = first.agent === Agent.global(for: loop) && first.agent.keepAlive
                first.on(.close) {
                    loop.nextTick {
                        HTTP.get(options) { res in
                            readBody(res) {
                                bodies.append(String(decoding: $0, as: UTF8.self))
                                Agent.global(for: loop).destroy()
                                counting.http.close()
                            }
                        }
                    }
                }
            }
        }
        #expect(isGlobal)
        #expect(bodies == ["body of /", "body of /"])
        #expect(server?.connections == 1)
    }
}
