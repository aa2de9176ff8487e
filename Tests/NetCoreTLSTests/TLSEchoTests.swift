@preconcurrency import Glibc
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

@Suite struct TLSSocketPropertiesTests {
    /// getPeerCertificate, getProtocol, getCipher, encrypted, on both sides (test-tls-peer-certificate's intent).
    @Test(.timeLimit(.minutes(1))) func properties_onBothSides() throws {
        let pki = try TestPKI.shared
        var clientView: [String] = []
        var serverView: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(
                serverOptions("localhost-chain") {
                    $0.requestCert = true
                    $0.ca = .file(pki.path("ca"))
                    $0.maxVersion = .tlsv1_2
                    $0.ciphers = "ECDHE-ECDSA-AES128-GCM-SHA256"
                },
                loop: loop
            ) { socket in
                let peer = socket.getPeerCertificate()
                serverView = [
                    peer?.subject.first("CN") ?? "-", "\(socket.authorized)", socket.getProtocol() ?? "-",
                    socket.getCipher()?.name ?? "-", "\(peer?.issuerCertificate == nil)",
                ]
                socket.end()
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(
                    clientOptions(port: server.address()!.port) {
                        $0.cert = .file(pki.path("client"))
                        $0.key = .file(pki.path("client.key"))
                    },
                    loop: loop
                )
                #expect(client.getPeerCertificate() == nil)
                #expect(client.getProtocol() == nil)
                client.on(.secureConnect) {
                    let peer = client.getPeerCertificate(true)
                    clientView = [
                        peer?.subject.first("CN") ?? "-", peer?.subjectAltName ?? "-",
                        peer?.issuerCertificate?.subject.first("CN") ?? "-", "\(peer?.raw.isEmpty == false)",
                        "\(peer?.fingerprint256.count ?? 0)", client.getProtocol() ?? "-",
                        client.getCipher()?.standardName ?? "-", "\(client.encrypted)",
                    ]
                }
                client.on(.data) { _ in }
                client.on(.error) { Issue.record("client error \($0.code): \($0.message)") }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(
            clientView == [
                "localhost", "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1",
                "NetCore Test Intermediate CA", "true", "95", "TLSv1.2", "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                "true",
            ]
        )
        #expect(serverView == ["client", "true", "TLSv1.2", "ECDHE-ECDSA-AES128-GCM-SHA256", "true"])
    }

    /// Over a Unix-domain socket: the same stream, the name checked is `servername` (or localhost).
    @Test(.timeLimit(.minutes(1))) func unixSocket_echo() throws {
        let directory = "/tmp/nctls-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        mkdir(directory, 0o700)
        defer {
            unlink(directory + "/s.sock")
            rmdir(directory)
        }
        var echoed = ""
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                socket.on(.data) { socket.end($0) }
            }
            server.listen(path: directory + "/s.sock") {
                let client = try! TLS.connect(clientOptions(port: 0) { $0.path = directory + "/s.sock" }, loop: loop)
                client.on(.secureConnect) { client.write("over a unix socket") }
                client.on(.data) { echoed += $0.string }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(echoed == "over a unix socket")
    }
}

@Suite struct TLSServerLifetimeTests {
    private func ask(_ port: Int, loop: EventLoop, then: @escaping (String) -> Void) {
        let client = try! TLS.connect(clientOptions(port: port), loop: loop)
        var answer = ""
        client.on(.data) { answer += $0.string }
        client.on(.close) { _ in then(answer) }
    }

    /// A server nobody holds keeps serving while it listens and lets itself go once closed.
    @Test(.timeLimit(.minutes(1))) func unheldServer_serves_thenGoesAway() throws {
        weak var weakServer: TLSServer?
        var answers: [String] = []
        try runLoop { loop in
            var server: TLSServer? = try TLS.createServer(serverOptions(), loop: loop) { $0.end("hello") }
            weakServer = server
            server!.listen(port: 0, host: "127.0.0.1") {
                ask(weakServer!.address()!.port, loop: loop) { answer in
                    answers.append(answer)
                    weakServer!.close()
                }
            }
            server = nil
        }
        #expect(answers == ["hello"])
        #expect(weakServer == nil)
    }

    /// A closed server listens again and still speaks TLS (its accepted sockets are TLSSockets again).
    @Test(.timeLimit(.minutes(1))) func closedServer_listensAgain_overTLS() throws {
        var answers: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { $0.end("hello") }
            server.listen(port: 0, host: "127.0.0.1") {
                ask(server.address()!.port, loop: loop) { answer in
                    answers.append(answer)
                    server.close { _ in
                        server.listen(port: 0, host: "127.0.0.1") {
                            ask(server.address()!.port, loop: loop) { answer in
                                answers.append(answer)
                                server.close()
                            }
                        }
                    }
                }
            }
        }
        #expect(answers == ["hello", "hello"])
    }
}

extension TLSServerLifetimeTests {
    /// A closed TLSSocket is freed even when its listeners (TLS ones included) capture it.
    @Test(.timeLimit(.minutes(1))) func closedSocket_isFreed_despiteListenersCapturingIt() throws {
        weak var weakClient: TLSSocket?
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { $0.end("bye") }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                weakClient = client
                client.on(.keylog) { _ in _ = client.encrypted }
                client.on(.session) { _ in _ = client.encrypted }
                client.on(.secureConnect) { _ = client.authorized }
                client.on(.data) { _ in _ = client.bytesRead }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(weakClient == nil)
    }
}
