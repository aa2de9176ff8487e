import NetCore
import Testing

@testable import NetCoreTLS

/// SNI (test-tls-sni-server-client's intent): addContext with exact and `*.` names, SNICallback, a wrong name, and
/// the keylog event.
@Suite struct TLSSNITests {
    /// Connects with `servername` trusting the test CA and reports the certificate's verdict and the server's view.
    private func connect(
        _ servername: String?,
        port: Int,
        loop: EventLoop,
        done: @escaping (String) -> Void
    ) {
        let client = try! TLS.connect(clientOptions(port: port) { $0.servername = servername }, loop: loop)
        var verdict = ""
        client.on(.secureConnect) { verdict = "authorized" }
        client.on(.data) { verdict += " served " + $0.string }
        client.on(.error) { verdict = $0.code }
        client.on(.close) { _ in done(verdict) }
    }

    @Test(.timeLimit(.minutes(1))) func addContext_exactAndWildcard_wrongNameGetsTheDefault() throws {
        let pki = try TestPKI.shared
        var verdicts: [String] = []
        let names: [String?] = [
            "a.example.test", "b.example.test", "x.example.test", "A.EXAMPLE.TEST", "nope.example", nil,
        ]
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                socket.end(Buffer(socket.servername ?? "-"))
            }
            try server.addContext(
                "*.example.test",
                .init(key: .text(pki.keyPEM("wildcard")), cert: .text(pki.pem("wildcard")))
            )
            try server.addContext(
                "a.example.test",
                .init(key: .text(pki.keyPEM("sni-a")), cert: .text(pki.pem("sni-a")))
            )
            try server.addContext(
                "b.example.test",
                .init(key: .text(pki.keyPEM("sni-b")), cert: .text(pki.pem("sni-b")))
            )
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                var remaining = names
                func next() {
                    guard !remaining.isEmpty else { return server.close() }
                    let name = remaining.removeFirst()
                    connect(name, port: port, loop: loop) { verdict in
                        verdicts.append(verdict)
                        next()
                    }
                }
                next()
            }
        }
        #expect(
            verdicts == [
                "authorized served a.example.test",  // sni-a (newer than the wildcard)
                "authorized served b.example.test",
                "authorized served x.example.test",  // the wildcard
                "authorized served A.EXAMPLE.TEST",
                "ERR_TLS_CERT_ALTNAME_INVALID",  // unknown name: the default localhost certificate
                "authorized served -",  // no SNI at all; checked against the host 127.0.0.1
            ]
        )
    }

    @Test(.timeLimit(.minutes(1))) func sniCallback_picksTheContext() throws {
        let pki = try TestPKI.shared
        let sniB = try TLS.createSecureContext(.init(key: .text(pki.keyPEM("sni-b")), cert: .text(pki.pem("sni-b"))))
        var verdicts: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(
                serverOptions { $0.SNICallback = { name in name == "b.example.test" ? sniB : nil } },
                loop: loop
            ) { socket in socket.end("hi") }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                connect("b.example.test", port: port, loop: loop) { verdict in
                    verdicts.append(verdict)
                    connect("a.example.test", port: port, loop: loop) { verdict in
                        verdicts.append(verdict)
                        server.close()
                    }
                }
            }
        }
        #expect(verdicts == ["authorized served hi", "ERR_TLS_CERT_ALTNAME_INVALID"])
    }

    @Test func serverNamePattern_matchesAsNode() {
        #expect(ServerNamePattern("*.example.test").matches("a.example.test"))
        #expect(ServerNamePattern("*.example.test").matches(".example.test"))  // Node's [^.]* matches nothing too
        #expect(!ServerNamePattern("*.example.test").matches("a.b.example.test"))
        #expect(!ServerNamePattern("*.example.test").matches("example.test"))
        #expect(ServerNamePattern("w*.example.test").matches("www.example.test"))
        #expect(!ServerNamePattern("w*.example.test").matches("mail.example.test"))
        #expect(ServerNamePattern("exact.test").matches("EXACT.test"))
    }

    /// The keylog event, client and server: NSS lines with their newline, the same secrets on both sides, and
    /// enough of them for TLS 1.3 (handshake and traffic secrets of both directions).
    @Test(.timeLimit(.minutes(1))) func keylog_sameNSSLinesOnBothSides() throws {
        var serverLines: [String] = []
        var clientLines: [String] = []
        var socketsMatch = true
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in socket.end("x") }
            server.on(.keylog) { line, socket in
                serverLines.append(line.string)
                socketsMatch = socketsMatch && socket.encrypted
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                client.on(.keylog) { clientLines.append($0.string) }
                client.on(.data) { _ in }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(serverLines.count == 5)
        #expect(Set(serverLines) == Set(clientLines))
        #expect(serverLines.allSatisfy { $0.hasSuffix("\n") && $0.split(separator: " ").count == 3 })
        let labels = Set(serverLines.map { String($0.split(separator: " ")[0]) })
        #expect(
            labels == [
                "CLIENT_HANDSHAKE_TRAFFIC_SECRET", "SERVER_HANDSHAKE_TRAFFIC_SECRET", "CLIENT_TRAFFIC_SECRET_0",
                "SERVER_TRAFFIC_SECRET_0", "EXPORTER_SECRET",
            ]
        )
        #expect(socketsMatch)
    }
}
