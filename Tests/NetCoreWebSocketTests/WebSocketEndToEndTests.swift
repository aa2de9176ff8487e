import Foundation
import Testing
@testable import NetCore
import NetCoreHTTP
@testable import NetCoreWebSocket

/// Our server and our client, over TCP and a Unix socket.
@Suite(.timeLimit(.minutes(1))) struct WebSocketEndToEndTests {
    @Test(arguments: WSTransport.allCases)
    func echo_textBinaryPingAndClose_betweenOurServerAndOurClient(transport: WSTransport) {
        let directory = WSTempDirectory()
        defer { directory.cleanup() }
        var clientGot: [WebSocket.Message] = []
        var pongs: [Buffer] = []
        var serverClose: (UInt16, String)?
        var clientClose: (UInt16, String)?
        var opened = false
        var negotiated = ""
        var serverProtocol = ""
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop)
            let wss = WebSocketServer(server: http, options: .init(path: "/echo"))
            wss.handleProtocols = { offered, _ in offered.last }
            wss.on(.connection) { ws, request in
                #expect(request.url == "/echo?x=1")
                serverProtocol = ws.protocol
                ws.on(.message) { message in ws.send(message) }
                ws.on(.close) { code, reason in
                    serverClose = (code, reason)
                    http.close()
                }
            }
            listenHTTP(http, on: transport, directory: directory) { base, _ in
                let client = WebSocket(url: base + "/echo?x=1", protocols: ["one", "two"], loop: loop)
                client.on(.open) {
                    opened = true
                    negotiated = client.protocol
                    #expect(client.readyState == .open)
                    client.send("hello κόσμε")
                    client.send(Buffer([0, 1, 2, 255]))
                    client.send(String(repeating: "x", count: 70_000))
                    client.ping(Array("p".utf8))
                }
                client.on(.pong) { pongs.append($0) }
                client.on(.message) { message in
                    clientGot.append(message)
                    if clientGot.count == 3 { client.close(code: 4000, reason: "done") }
                }
                client.on(.close) { code, reason in
                    clientClose = (code, reason)
                    #expect(client.readyState == .closed)
                }
            }
        }
        #expect(opened)
        #expect(negotiated == "two" && serverProtocol == "two")
        #expect(clientGot == [.text("hello κόσμε"), .binary(Buffer([0, 1, 2, 255])), .text(String(repeating: "x", count: 70_000))])
        #expect(clientGot[1].isBinary && !clientGot[0].isBinary)
        #expect(pongs == [Buffer("p")])
        #expect(serverClose! == (4000, "done"))
        #expect(clientClose! == (4000, "done"))
    }

    @Test func deflate_compressedEchoBetweenOurServerAndOurClient() {
        var got: [WebSocket.Message] = []
        var extensions = ("", "")
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop)
            var options = WebSocketServer.Options()
            options.connection.perMessageDeflate = PerMessageDeflateOptions()
            let wss = WebSocketServer(server: http, options: options)
            wss.on(.connection) { ws, _ in
                extensions.0 = ws.extensions
                ws.on(.message) { ws.send($0) }
                ws.on(.close) { _, _ in http.close() }
            }
            http.listen(port: 0, host: "127.0.0.1") {
                var clientOptions = WebSocket.Options()
                clientOptions.perMessageDeflate = PerMessageDeflateOptions()
                let client = WebSocket(url: "ws://127.0.0.1:\(http.address()!.port)/", options: clientOptions, loop: loop)
                client.on(.open) {
                    extensions.1 = client.extensions
                    for index in 0..<5 { client.send(String(repeating: "message \(index) ", count: 500)) }
                }
                client.on(.message) { message in
                    got.append(message)
                    if got.count == 5 { client.close(code: 1000) }
                }
            }
        }
        #expect(extensions.0 == "permessage-deflate" && extensions.1 == "permessage-deflate")
        #expect(got == (0..<5).map { .text(String(repeating: "message \($0) ", count: 500)) })
    }

    @Test func client_reportsARefusedConnectionAndABadHandshake() {
        var errors: [String] = []
        var closes: [UInt16] = []
        runWSLoop { loop in
            // A port nobody listens on.
            let reservation = Server(loop: loop)
            reservation.listen(port: 0, host: "127.0.0.1") {
                let port = reservation.address()!.port
                reservation.close()
                let refused = WebSocket(url: "ws://127.0.0.1:\(port)/", loop: loop)
                refused.on(.error) { errors.append($0.code) }
                refused.on(.close) { code, _ in closes.append(code) }
            }
            // An HTTP server that answers 200.
            let http = HTTP.createServer(loop: loop) { _, response in response.end("no") }
            http.listen(port: 0, host: "127.0.0.1") {
                let client = WebSocket(url: "ws://127.0.0.1:\(http.address()!.port)/", loop: loop)
                client.on(.error) { error in
                    errors.append(error.message)
                }
                client.on(.close) { code, _ in
                    closes.append(code)
                    http.close()
                }
            }
        }
        #expect(Set(errors) == ["ECONNREFUSED", "Unexpected server response: 200"])
        #expect(closes == [1006, 1006])
    }

    @Test func server_closeTimeoutDestroysAPeerThatNeverAnswersTheClose() {
        var closed: (UInt16, String)?
        var started: UInt64 = 0
        var elapsed: UInt64 = 0
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop)
            var options = WebSocketServer.Options()
            options.connection.closeTimeout = 200
            let wss = WebSocketServer(server: http, options: options)
            wss.on(.connection) { ws, _ in
                started = loop.now
                ws.close(code: 1001, reason: "going")
                ws.on(.close) { code, reason in
                    closed = (code, reason)
                    elapsed = loop.now - started
                    http.close()
                }
            }
            listenHTTP(http, on: .tcp, directory: WSTempDirectory()) { _, connect in
                // A raw peer that reads but never answers the close frame nor closes.
                let socket = rawWebSocketClient(connect, frames: []) { bytes in
                    #expect(closeCodes(in: bytes) == [1001])
                }
                socket.on(.end) {}
            }
        }
        #expect(closed! == (1006, ""))
        #expect(elapsed >= 190 && elapsed < 5000)
    }

    @Test func keepAlive_terminatesAPeerThatStopsAnsweringPings() {
        var closeCode: UInt16?
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop)
            var options = WebSocketServer.Options()
            options.connection.keepAliveInterval = 100
            let wss = WebSocketServer(server: http, options: options)
            wss.on(.connection) { ws, _ in
                ws.on(.close) { code, _ in
                    closeCode = code
                    http.close()
                }
            }
            listenHTTP(http, on: .tcp, directory: WSTempDirectory()) { _, connect in
                // Reads (so it sees the pings) but never pongs: a half-dead client.
                _ = rawWebSocketClient(connect, frames: []) { _ in }
            }
        }
        #expect(closeCode == 1006)
    }

    @Test func verifyClient_rejectsLaterWithItsStatus_andAcceptsOthers() {
        var statuses: [String] = []
        var connected: [String] = []
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop)
            let wss = WebSocketServer(server: http)
            // An asynchronous check, decided on a later tick: only requests with ?token=ok get in.
            wss.verifyClient = { request, decide in
                loop.setTimeout(10) {
                    decide(request.url.hasSuffix("token=ok") ? .accept : .reject(status: 401, message: "Unauthorized"))
                }
            }
            wss.on(.connection) { ws, request in
                connected.append(request.url)
                ws.close(code: 1000)
            }
            http.listen(port: 0, host: "127.0.0.1") {
                let base = "ws://127.0.0.1:\(http.address()!.port)"
                var remaining = 2
                for target in ["/?token=ok", "/?token=bad"] {
                    let client = WebSocket(url: base + target, loop: loop)
                    client.on(.open) { statuses.append("open " + target) }
                    client.on(.error) { statuses.append($0.message) }
                    client.on(.close) { _, _ in
                        remaining -= 1
                        if remaining == 0 { http.close() }
                    }
                }
            }
        }
        #expect(Set(statuses) == ["open /?token=ok", "Unexpected server response: 401"])
        #expect(connected == ["/?token=ok"])
    }
}
