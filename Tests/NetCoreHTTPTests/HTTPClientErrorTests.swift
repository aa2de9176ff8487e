import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// Failures with Node's codes and wording, timeouts, abort and destroy, against servers that misbehave on purpose.
@Suite(.timeLimit(.minutes(1))) struct HTTPClientErrorTests {
    /// Runs one request against a raw server whose reply to the request head is `reply(socket)`, and records events.
    private func exchange(
        reply: @escaping (Socket) -> Void,
        configure: @escaping (ClientRequest, IncomingMessage?) -> Void = { _, _ in }
    ) -> [String] {
        var events: [String] = []
        runClientLoop { loop, keep in
            rawServer(loop: loop, { socket, received in
                if received.contains("\r\n\r\n") { reply(socket) }
            }) { port, server in
                keep(server)
                let options = ClientRequest.Options(host: "127.0.0.1", port: port, agent: .none, loop: loop)
                var requestRef: ClientRequest?
                let request = HTTP.get(options) { res in
                    events.append("response \(res.statusCode)")
                    res.on(.data) { events.append("data \($0.string)") }
                    res.on(.aborted) { events.append("res aborted") }
                    res.on(.error) { events.append("res error \($0.code) \($0.message)") }
                    res.on(.end) { events.append("res end") }
                    res.on(.close) { events.append("res close") }
                    if let requestRef { configure(requestRef, res) }
                }
                requestRef = request
                request.on(.error) { events.append("error \($0.code) \($0.message)") }
                request.on(.close) {
                    events.append("close")
                    server.close()
                }
                configure(request, nil)
            }
        }
        return events
    }

    @Test func connectionRefused_emitsECONNREFUSEDWithNodesMessage_thenClose() throws {
        var events: [String] = []
        var error: SocketError?
        runClientLoop { loop, _ in
            let options = ClientRequest.Options(host: "127.0.0.1", port: 1, agent: .none, loop: loop)
            let request = HTTP.get(options) { _ in events.append("response") }
            request.on(.error) {
                error = $0
                events.append("error")
            }
            request.on(.close) { events.append("close") }
        }
        #expect(events == ["error", "close"])
        #expect(error?.code == "ECONNREFUSED")
        #expect(error?.message == "connect ECONNREFUSED 127.0.0.1:1")
        #expect(error?.syscall == "connect")
        #expect(error?.port == 1)
    }

    @Test func missingSocketPath_emitsENOENT() throws {
        let directory = ClientTempDirectory()
        defer { directory.cleanup() }
        let path = directory.file("absent.sock")
        var error: SocketError?
        var closed = false
        runClientLoop { loop, _ in
            let request = HTTP.get(ClientRequest.Options(socketPath: path, agent: .none, loop: loop))
            request.on(.error) { error = $0 }
            request.on(.close) { closed = true }
        }
        #expect(error?.code == "ENOENT")
        #expect(error?.message == "connect ENOENT \(path)")
        #expect(closed)
    }

    @Test func serverClosesBeforeTheHead_emitsSocketHangUp() throws {
        let events = exchange(reply: { $0.end() })
        #expect(events == ["error ECONNRESET socket hang up", "close"])
    }

    @Test func serverClosesInTheHead_emitsSocketHangUp() throws {
        let events = exchange(reply: { $0.end("HTTP/1.1 200 OK\r\nContent-Le") })
        #expect(events == ["error ECONNRESET socket hang up", "close"])
    }

    @Test func malformedStatusLine_emitsHPEInvalidConstant() throws {
        let events = exchange(reply: { $0.end("XTTP/1.1 200 OK\r\n\r\n") })
        #expect(events.count == 2)
        #expect(events.first?.hasPrefix("error HPE_INVALID_CONSTANT Parse Error:") == true, "\(events)")
        #expect(events.last == "close")
    }

    @Test func invalidContentLength_emitsHPEInvalidContentLength() throws {
        let events = exchange(reply: { $0.end("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n") })
        #expect(events.first?.hasPrefix("error HPE_INVALID_CONTENT_LENGTH") == true, "\(events)")
        #expect(events.last == "close")
    }

    @Test func responseCutMidBody_emitsAbortedAndErrorAbortedOnTheResponse() throws {
        for reply in [
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n",
        ] {
            let events = exchange(reply: { $0.end(Buffer(reply)) })
            #expect(
                events == [
                    "response 200", "data abc", "res aborted", "res error ECONNRESET aborted", "close", "res close",
                ],
                "\(reply.debugDescription)"
            )
        }
    }

    @Test func closeDelimitedBody_endsNormallyAtTheConnectionsEnd() throws {
        let events = exchange(reply: { $0.end("HTTP/1.1 200 OK\r\n\r\nuntil close") })
        #expect(events == ["response 200", "data until close", "res end", "close", "res close"])  // Node's order
    }

    @Test func interimResponses_emitContinueAndInformation_thenTheFinalResponse() throws {
        var informations: [Int] = []
        var links: [String] = []
        var continues = 0
        let events = exchange(
            reply: { socket in
                socket.write("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </s.css>\r\n\r\n")
                socket.end("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            },
            configure: { request, res in
                guard res == nil else { return }
                request.on(.information) { info in
                    informations.append(info.statusCode)
                    if let link = info.headers["link"] { links.append(link) }
                }
                request.on(.continue) { continues += 1 }
            }
        )
        #expect(informations == [100, 103])
        #expect(links == ["</s.css>"])
        #expect(continues == 1)
        #expect(events == ["response 200", "data ok", "res end", "close", "res close"])
    }

    @Test func timeoutOption_emitsTimeout_andDestroyGivesSocketHangUp() throws {
        var events: [String] = []
        runClientLoop { loop, keep in
            rawServer(loop: loop, { _, _ in }) { port, server in  // never answers
                keep(server)
                let options = ClientRequest.Options(
                    host: "127.0.0.1", port: port, agent: .none, timeout: 50, loop: loop)
                let request = HTTP.get(options)
                request.on(.timeout) {
                    events.append("timeout")
                    request.destroy()
                }
                request.on(.error) { events.append("error \($0.message)") }
                request.on(.close) {
                    events.append("close")
                    server.close()
                }
            }
        }
        #expect(events == ["timeout", "error socket hang up", "close"])
    }

    @Test func destroyBeforeConnecting_emitsSocketHangUpAndClose_destroyWithErrorEmitsIt() throws {
        var events: [String] = []
        runClientLoop { loop, _ in
            let options = ClientRequest.Options(host: "127.0.0.1", port: 1, agent: .none, loop: loop)
            let plain = HTTP.get(options)
            plain.on(.error) { events.append("plain error \($0.message)") }
            plain.on(.close) { events.append("plain close") }
            plain.destroy()
            let failing = HTTP.get(options)
            failing.on(.error) { events.append("failing error \($0.code)") }
            failing.on(.close) { events.append("failing close") }
            failing.destroy(SocketError(code: "EBOOM", message: "boom"))
            let aborted = HTTP.get(options)
            aborted.on(.error) { events.append("aborted error \($0.code)") }
            aborted.on(.abort) { events.append("aborted abort") }
            aborted.on(.close) { events.append("aborted close") }
            aborted.abort()
        }
        #expect(events.contains("plain error socket hang up"))
        #expect(events.contains("plain close"))
        #expect(events.contains("failing error EBOOM"))
        #expect(events.contains("failing close"))
        #expect(events.contains("aborted abort") && events.contains("aborted close"))
        #expect(!events.contains { $0.hasPrefix("aborted error") })
        #expect(events.count == 6, "\(events)")
    }

    /// abort() in the middle of a response that never finishes: no crash, the response is aborted, and the
    /// client's descriptor is closed.
    @Test func abortMidResponse_abortsTheResponse_andClosesTheDescriptor() throws {
        var events: [String] = []
        var record: ClientDescriptorRecord?
        runClientLoop { loop, keep in
            let server = HTTP.createServer(loop: loop) { _, res in
                res.write("part of a body that never ends")
            }
            keep(server)
            listenLocally(server, agent: .agent(Agent(keepAlive: true, loop: loop))) { options in
                var requestRef: ClientRequest?
                let request = HTTP.get(options) { res in
                    record = ClientDescriptorRecord(res.socket)
                    res.on(.data) { _ in
                        events.append("data")
                        requestRef?.abort()
                    }
                    res.on(.aborted) { events.append("res aborted") }
                    res.on(.close) { events.append("res close") }
                }
                requestRef = request
                request.on(.abort) { events.append("abort") }
                request.on(.error) { events.append("error \($0.message)") }
                request.on(.close) {
                    events.append("close")
                    // The server's response never ends; its connection would stay half-open.
                    server.closeAllConnections()
                    server.close()
                }
            }
        }
        #expect(events.first == "data")
        #expect(Set(events) == ["data", "abort", "res aborted", "res close", "close"], "\(events)")
        #expect(record != nil)
        #expect(record?.isStillOpen == false)
    }

    @Test func writeAfterEnd_emitsErrStreamWriteAfterEnd() throws {
        var codes: [String] = []
        runClientLoop { loop, keep in
            let server = HTTP.createServer(loop: loop) { _, res in res.end() }
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.method = "POST"
                let request = HTTP.request(options) { res in
                    res.resume()
                    res.on(.end) { server.close() }
                }
                request.on(.error) { codes.append($0.code) }
                request.end("x")
                #expect(request.write("more") == false)
            }
        }
        #expect(codes == ["ERR_STREAM_WRITE_AFTER_END"])
    }

    @Test func invalidPathOrMethod_emitsNodesCodes_andSendsNothing() throws {
        var codes: [String] = []
        var closes = 0
        var connections = 0
        runClientLoop { loop, keep in
            let server = HTTP.createServer(loop: loop) { _, res in res.end() }
            keep(server)
            server.on(.connection) { _ in connections += 1 }
            listenLocally(server, agent: .none) { options in
                var badPath = options
                badPath.path = "/a b\r\nX-Injected: 1"
                var badMethod = options
                badMethod.method = "GE T"
                for options in [badPath, badMethod] {
                    let request = HTTP.request(options) { _ in Issue.record("no response expected") }
                    request.end()
                    request.on(.error) { codes.append($0.code) }
                    request.on(.close) {
                        closes += 1
                        if closes == 2 { server.close() }
                    }
                }
            }
        }
        #expect(codes.sorted() == ["ERR_INVALID_HTTP_TOKEN", "ERR_UNESCAPED_CHARACTERS"])
        #expect(closes == 2)
        #expect(connections == 0)
    }
}
