import Foundation
import Testing
@testable import NetCore
import NetCoreHTTP
@testable import NetCoreWebSocket

/// Bad peers against our server: each ends with the right close code, no crash, and bounded memory.
@Suite(.timeLimit(.minutes(1))) struct WebSocketBadInputTests {
    /// Runs an echo server with `options`, a raw client sending `frames`; returns the server's close codes (as sent
    /// in close frames), the server-side `close` event's code and the errors it reported.
    static func exchange(
        _ frames: [[UInt8]], options: WebSocketServer.Options = .init(), extraHeaders: String = ""
    ) -> (sent: [UInt16?], closeCode: UInt16?, errors: [String]) {
        var sent: [UInt16?] = []
        var closeCode: UInt16?
        var errors: [String] = []
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop)
            let wss = WebSocketServer(server: http, options: options)
            wss.on(.connection) { ws, _ in
                ws.on(.message) { ws.send($0) }
                ws.on(.error) { errors.append($0.code) }
                ws.on(.close) { code, _ in
                    closeCode = code
                    http.close()
                }
            }
            listenHTTP(http, on: .tcp, directory: WSTempDirectory()) { _, connect in
                _ = rawWebSocketClient(connect, extraHeaders: extraHeaders, frames: frames) { bytes in
                    sent = closeCodes(in: bytes)
                }
            }
        }
        return (sent, closeCode, errors)
    }

    @Test func unmaskedClientFrame_closesWith1002() {
        let result = Self.exchange([frame(0x1, "hi", key: nil)])
        #expect(result.sent == [1002])
        #expect(result.closeCode == 1002)
        #expect(result.errors == ["WS_ERR_EXPECTED_MASK"])
    }

    @Test func oversizedFrameAndMessage_closeWith1009() {
        var options = WebSocketServer.Options()
        options.connection.maxPayload = 1000
        // One frame over the limit: refused from its header.
        let header = Array(frame(0x2, [UInt8](repeating: 0, count: 2000)).prefix(8))
        #expect(Self.exchange([header], options: options).sent == [1009])
        // A message over the limit in fragments.
        let fragments = (0..<3).map { frame($0 == 0 ? 0x2 : 0x0, [UInt8](repeating: 1, count: 400), fin: false) }
        let result = Self.exchange(fragments, options: options)
        #expect(result.sent == [1009], "\(result)")
        #expect(result.closeCode == 1009)
    }

    @Test func invalidUTF8SplitAcrossFragments_closesWith1007_beforeTheMessageEnds() {
        // The final fragment never comes: the failure must not wait for it.
        let result = Self.exchange([frame(0x1, [0x41, 0xE2], fin: false), frame(0x0, [0x28, 0x41], fin: false)])
        #expect(result.sent == [1007])
        #expect(result.errors == ["WS_ERR_INVALID_UTF8"])
    }

    @Test func deflateBomb_closesWith1009() {
        var options = WebSocketServer.Options()
        options.connection.maxPayload = 1 << 20
        options.connection.perMessageDeflate = PerMessageDeflateOptions()
        let sender = PerMessageDeflate(options: PerMessageDeflateOptions(), isServer: false, deflateWindowBits: 15,
                                       deflateResets: false, inflateResets: false, responseValue: "")
        let bomb = sender.compress([UInt8](repeating: 0, count: 64 << 20))
        let result = Self.exchange(
            [WebSocketFrameEncoder.frame(opcode: .binary, payload: bomb, rsv1: true, maskingKey: 0x0102_0304)],
            options: options, extraHeaders: "Sec-WebSocket-Extensions: permessage-deflate\r\n")
        #expect(result.sent == [1009])
        #expect(result.closeCode == 1009)
    }

    @Test func compressedFrameWithoutNegotiation_closesWith1002() {
        let result = Self.exchange([frame(0x1, Array("x".utf8), rsv: 0x40)])
        #expect(result.sent == [1002])
    }

    /// A client that floods pings and never reads: the server stops reading once its pongs back up, so its output
    /// queue stays near the socket's high-water mark instead of growing with the flood.
    @Test func pingFloodFromAPeerThatNeverReads_keepsServerMemoryBounded() {
        var maxBuffered = 0
        var serverBytesRead = 0
        var sentByClient = 0
        runWSLoop(seconds: 30) { loop in
            let http = HTTP.createServer(loop: loop)
            let wss = WebSocketServer(server: http)
            var serverSide: WebSocket?
            wss.on(.connection) { ws, _ in
                serverSide = ws
                ws.on(.ping) { _ in maxBuffered = max(maxBuffered, ws.bufferedAmount) }
            }
            listenHTTP(http, on: .tcp, directory: WSTempDirectory()) { _, connect in
                let ping = frame(0x9, [UInt8](repeating: 0x61, count: 125))
                let socket = rawWebSocketClient(connect, frames: []) { _ in }
                var upgraded = false
                socket.on(.data) { _ in
                    guard !upgraded else { return }
                    upgraded = true
                    socket.pause()  // never read again
                    // 16 MiB of pings, written as fast as the kernel takes them.
                    func flood() {
                        while sentByClient < 16 << 20 {
                            sentByClient += ping.count
                            if !socket.write(ping) {
                                socket.once(.drain) { flood() }
                                return
                            }
                        }
                    }
                    flood()
                    // Once the pipe is stuck (nothing drains for a while), look at the server and stop.
                    loop.setTimeout(1500) {
                        serverBytesRead = serverSide?.socket?.bytesRead ?? 0
                        maxBuffered = max(maxBuffered, serverSide?.bufferedAmount ?? 0)
                        socket.destroy()
                        http.close()
                        serverSide?.terminate()
                    }
                }
            }
        }
        // The kernel buffers some megabytes either way; the server's own queue stays within a few high-water marks.
        #expect(maxBuffered < 256 * 1024, "server queued \(maxBuffered) bytes")
        #expect(serverBytesRead < sentByClient, "the server kept reading: \(serverBytesRead) of \(sentByClient)")
    }

    /// The server sends to a client that never reads: `send` starts returning false, and a sender that honours it
    /// keeps `bufferedAmount` bounded.
    @Test func sendsToAPeerThatNeverReads_returnFalse() {
        var refusedAt: Int?
        var buffered = 0
        var client: Socket?
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop)
            let wss = WebSocketServer(server: http)
            wss.on(.connection) { ws, _ in
                client?.pause()
                let message = String(repeating: "y", count: 4096)
                for index in 0..<100_000 where !ws.send(message) {
                    refusedAt = index
                    break
                }
                buffered = ws.bufferedAmount
                ws.terminate()
                client?.destroy()
                http.close()
            }
            listenHTTP(http, on: .tcp, directory: WSTempDirectory()) { _, connect in
                client = rawWebSocketClient(connect, frames: []) { _ in }
            }
        }
        #expect(refusedAt != nil)
        #expect(buffered < 1 << 20)
    }

    @Test func badUpgradeRequests_getTheirStatusFromCurl() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/curl") else {
            Issue.record("curl missing")
            return
        }
        var statuses: [String: String] = [:]
        runWSLoop { loop in
            let http = HTTP.createServer(loop: loop) { _, response in response.end("plain") }
            _ = WebSocketServer(server: http, options: .init(path: "/ws"))
            http.listen(port: 0, host: "127.0.0.1") {
                let url = "http://127.0.0.1:\(http.address()!.port)"
                let upgrade = ["-H", "Connection: Upgrade", "-H", "Upgrade: websocket"]
                let key = ["-H", "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
                let cases: [(String, [String])] = [
                    ("no key", upgrade + ["-H", "Sec-WebSocket-Version: 13", url + "/ws"]),
                    ("version 8", upgrade + key + ["-H", "Sec-WebSocket-Version: 8", url + "/ws"]),
                    ("wrong path", upgrade + key + ["-H", "Sec-WebSocket-Version: 13", url + "/other"]),
                    ("plain GET", [url + "/ws"]),
                ]
                var remaining = cases.count
                for (name, arguments) in cases {
                    runProcess("curl", ["-s", "-i", "--max-time", "5"] + arguments, loop: loop) { _, out, _ in
                        let status = out.split(separator: " ").dropFirst().first.map(String.init) ?? "none"
                        let version = out.contains("Sec-WebSocket-Version: 13") ? "+version" : ""
                        statuses[name] = status + version
                        remaining -= 1
                        if remaining == 0 { http.close() }
                    }
                }
            }
        }
        #expect(statuses == ["no key": "400", "version 8": "426+version", "wrong path": "400", "plain GET": "200"])
    }
}
