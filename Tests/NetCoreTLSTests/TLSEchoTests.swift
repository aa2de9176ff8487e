import NetCore
import Testing

@testable import NetCoreTLS

@Suite struct TLSEchoTests {
    /// test-tls-echo-server's intent: our client to our server, bytes echoed byte-exact, then a clean close.
    @Test(.timeLimit(.minutes(1))) func ourClientAndServer_echoByteExact() throws {
        var received: [UInt8] = []
        var events: [String] = []
        var serverProtocol: String?
        let message = (0..<5000).map { UInt8(truncatingIfNeeded: $0 &* 7) }
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                serverProtocol = socket.getProtocol()
                socket.on(.data) { socket.write($0) }
                socket.on(.end) { socket.end() }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                client.on(.secureConnect) {
                    events.append("secureConnect authorized=\(client.authorized) \(client.getProtocol() ?? "-")")
                    client.write(message)
                }
                client.on(.data) { chunk in
                    received += chunk.bytes
                    if received.count == message.count { client.end() }
                }
                client.on(.end) { events.append("end") }
                client.on(.error) { events.append("error \($0.code)") }
                client.on(.close) { hadError in
                    events.append("close \(hadError)")
                    server.close()
                }
            }
        }
        #expect(received == message)
        #expect(events == ["secureConnect authorized=true TLSv1.3", "end", "close false"])
        #expect(serverProtocol == "TLSv1.3")
    }
}
