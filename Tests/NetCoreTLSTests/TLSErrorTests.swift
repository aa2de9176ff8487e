import NetCore
import Testing

@testable import NetCoreTLS

/// Errors as Node words them, and bad input: each gives a clear error and a clean close, no hang, no leaked
/// descriptor.
@Suite struct TLSErrorTests {
    /// Our client against a plaintext server (it answers with an HTTP error): ERR_SSL_WRONG_VERSION_NUMBER.
    @Test(.timeLimit(.minutes(1))) func plaintextServer_wrongVersionNumber() throws {
        let log = EventLog()
        runLoop { loop in
            let plain = Server(loop: loop) { socket in
                socket.on(.data) { _ in socket.end("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n") }
            }
            plain.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: plain.address()!.port), loop: loop)
                log.record(client)
                client.on(.close) { _ in plain.close() }
            }
        }
        #expect(log.events == ["error ERR_SSL_WRONG_VERSION_NUMBER", "close true"])
    }

    /// A server that closes before the handshake completes: ECONNRESET with Node's message.
    @Test(.timeLimit(.minutes(1))) func serverClosesMidHandshake_econnreset() throws {
        var error: SocketError?
        runLoop { loop in
            let plain = Server(loop: loop) { socket in
                socket.on(.data) { _ in socket.end() }
            }
            plain.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: plain.address()!.port), loop: loop)
                client.on(.error) { error = $0 }
                client.on(.close) { _ in plain.close() }
            }
        }
        #expect(error?.code == "ECONNRESET")
        #expect(error?.message == "Client network socket disconnected before secure TLS connection was established")
    }

    /// Our server, and raw clients that misbehave: each ends in `tlsClientError` with its code and a closed socket.
    struct RawClientCase: CustomTestStringConvertible, Sendable {
        let name: String
        let bytes: [UInt8]
        let code: String
        var testDescription: String { name }
    }

    static let rawClients: [RawClientCase] = [
        RawClientCase(
            name: "HTTP to the TLS port",
            bytes: Array("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n".utf8),
            code: "ERR_SSL_HTTP_REQUEST"
        ),
        RawClientCase(
            name: "garbage instead of a ClientHello",
            bytes: [0x16, 0x09, 0x09] + Array(repeating: 0x41, count: 64),
            code: "ERR_SSL_WRONG_VERSION_NUMBER"
        ),
        RawClientCase(
            name: "a handshake record that is not a ClientHello",
            bytes: [0x16, 0x03, 0x01, 0x00, 0x08, 0x02, 0x00, 0x00, 0x04, 0, 0, 0, 0],
            code: "ERR_SSL_UNEXPECTED_MESSAGE"
        ),
        RawClientCase(
            name: "half a record, then FIN",
            bytes: [0x16, 0x03, 0x01, 0x02, 0x00, 0x01],
            code: "ECONNRESET"
        ),
        RawClientCase(name: "nothing, then FIN", bytes: [], code: "ECONNRESET"),
    ]

    @Test(.timeLimit(.minutes(1)), arguments: rawClients)
    func rawClient_tlsClientError(_ raw: RawClientCase) throws {
        var errors: [String] = []
        var secureConnections = 0
        var clientEvents: [String] = []
        var records: [DescriptorRecord] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { _ in secureConnections += 1 }
            server.on(.connection) { records.append(DescriptorRecord($0)!) }
            server.on(.tlsClientError) { error, socket in
                errors.append(error.code)
                // As in Node: reported first, then destroyed.
                socket.on(.close) { _ in errors.append("closed") }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = Socket(loop: loop).connect(port: server.address()!.port, host: "127.0.0.1")
                client.on(.connect) {
                    if !raw.bytes.isEmpty { client.write(raw.bytes) }
                    client.end()
                }
                client.on(.data) { _ in }  // an alert, maybe
                client.on(.end) { clientEvents.append("end") }
                client.on(.error) { clientEvents.append("error \($0.code)") }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(errors == [raw.code, "closed"])
        #expect(secureConnections == 0)
        #expect(clientEvents.first == "end" || clientEvents.first == "error ECONNRESET")
        #expect(records.count == 1 && records.allSatisfy { !$0.isStillOpen })
    }

    /// test-tls-handshake-timeout's intent: a client that says nothing is dropped after `handshakeTimeout`, with
    /// ERR_TLS_HANDSHAKE_TIMEOUT.
    @Test(.timeLimit(.minutes(1))) func silentClient_handshakeTimeout() throws {
        var errors: [SocketError] = []
        var clientEnded = false
        var elapsed: UInt64 = 0
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions { $0.handshakeTimeout = 200 }, loop: loop)
            server.on(.tlsClientError) { error, _ in errors.append(error) }
            server.listen(port: 0, host: "127.0.0.1") {
                let started = loop.now
                let client = Socket(loop: loop).connect(port: server.address()!.port, host: "127.0.0.1")
                client.on(.data) { _ in }
                client.on(.end) { clientEnded = true }
                client.on(.close) { _ in
                    elapsed = loop.now - started
                    server.close()
                }
            }
        }
        #expect(errors.map(\.code) == ["ERR_TLS_HANDSHAKE_TIMEOUT"])
        #expect(errors.first?.message == "TLS handshake timeout")
        #expect(clientEnded)
        #expect(elapsed >= 190 && elapsed < 5000)
    }

    /// A client that stops in the middle of the handshake (sends its ClientHello, then nothing) times out too.
    @Test(.timeLimit(.minutes(1))) func clientStopsMidHandshake_handshakeTimeout() throws {
        var errors: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions { $0.handshakeTimeout = 300 }, loop: loop)
            server.on(.tlsClientError) { error, _ in errors.append(error.code) }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                // A real ClientHello from a real client, relayed by a plain socket that then stops relaying.
                let relay = Server(loop: loop) { inbound in
                    let outbound = Socket(loop: loop).connect(port: port, host: "127.0.0.1")
                    var relayed = false
                    inbound.on(.data) { chunk in
                        guard !relayed else { return }
                        relayed = true
                        outbound.write(chunk)
                    }
                    outbound.on(.data) { _ in }  // the ServerHello goes nowhere
                    outbound.on(.close) { _ in inbound.destroy() }
                    inbound.on(.close) { _ in outbound.destroy() }
                }
                relay.listen(port: 0, host: "127.0.0.1") {
                    let client = try! TLS.connect(clientOptions(port: relay.address()!.port), loop: loop)
                    client.on(.error) { _ in }
                    client.on(.close) { _ in
                        relay.close()
                        server.close()
                    }
                }
            }
        }
        #expect(errors == ["ERR_TLS_HANDSHAKE_TIMEOUT"])
    }

    /// ALPN with no protocol in common: the server refuses (ERR_SSL_NO_APPLICATION_PROTOCOL in tlsClientError) and
    /// the client gets the alert (ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL), as in Node.
    @Test(.timeLimit(.minutes(1))) func alpnWithoutOverlap_refused() throws {
        var serverErrors: [String] = []
        var clientErrors: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions { $0.ALPNProtocols = ["h2"] }, loop: loop)
            server.on(.tlsClientError) { error, _ in serverErrors.append(error.code) }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(
                    clientOptions(port: server.address()!.port) { $0.ALPNProtocols = ["http/1.1"] },
                    loop: loop
                )
                client.on(.error) { clientErrors.append($0.code) }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(serverErrors == ["ERR_SSL_NO_APPLICATION_PROTOCOL"])
        #expect(clientErrors == ["ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL"])
    }

    /// ALPN: the server's preference wins; a client that offers none gets none (alpnProtocol nil, Node's false).
    @Test(.timeLimit(.minutes(1))) func alpn_serverPreference_andNone() throws {
        var seen: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions { $0.ALPNProtocols = ["h2", "http/1.1"] }, loop: loop) {
                socket in
                seen.append("server \(socket.alpnProtocol ?? "false")")
                socket.end()
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                let first = try! TLS.connect(
                    clientOptions(port: port) { $0.ALPNProtocols = ["http/1.1", "h2"] },
                    loop: loop
                )
                first.on(.secureConnect) { seen.append("client \(first.alpnProtocol ?? "false")") }
                first.on(.data) { _ in }
                first.on(.close) { _ in
                    let second = try! TLS.connect(clientOptions(port: port), loop: loop)
                    second.on(.secureConnect) { seen.append("client \(second.alpnProtocol ?? "false")") }
                    second.on(.data) { _ in }
                    second.on(.close) { _ in server.close() }
                }
            }
        }
        #expect(seen == ["client h2", "server h2", "client false", "server false"])
    }

    /// Bad options are thrown with Node's codes, synchronously.
    @Test func badOptions_throwWithNodesCodes() throws {
        let pki = try TestPKI.shared
        #expect(throws: TLSError.self) { try TLS.createSecureContext(.init(cert: .text("not a certificate"))) }
        do {
            _ = try TLS.createSecureContext(.init(cert: .text("garbage")))
        } catch {
            #expect(error.code == "ERR_OSSL_PEM_NO_START_LINE")
        }
        do {
            _ = try TLS.createSecureContext(.init(key: .text(pki.keyPEM("client")), cert: .text(pki.pem("localhost"))))
            Issue.record("a mismatched key was accepted")
        } catch {
            #expect(error.code == "ERR_OSSL_X509_KEY_VALUES_MISMATCH")
        }
        do {
            _ = try TLS.createSecureContext(.init(ciphers: "NOT-A-CIPHER"))
            Issue.record("an unknown cipher list was accepted")
        } catch {
            #expect(error.code == "ERR_SSL_NO_CIPHER_MATCH")
        }
        do {
            _ = try TLS.createSecureContext(.init(cert: .file("/nonexistent/cert.pem")))
            Issue.record("a missing file was accepted")
        } catch {
            #expect(error.code == "ENOENT")
        }
    }
}

/// Bad input after the handshake, from python3's ssl over memory BIOs (so the test controls every byte sent): a
/// truncated record followed by FIN, and a record whose bytes were tampered with.
@Suite struct TLSRecordTests {
    static let script = """
        import socket, ssl, sys
        port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        context = ssl.create_default_context(cafile=ca)
        incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
        raw = socket.create_connection(("127.0.0.1", port))
        def pump():
            data = outgoing.read()
            if data: raw.sendall(data)
        while True:
            try:
                tls.do_handshake(); pump(); break
            except ssl.SSLWantReadError:
                pump(); incoming.write(raw.recv(65536))
        tls.write(b"hello, this record will not arrive whole")
        record = bytearray(outgoing.read())
        if mode == "truncated":
            raw.sendall(record[:-5])
        else:
            record[-3] ^= 0xFF
            raw.sendall(record)
        raw.shutdown(socket.SHUT_WR)
        answer = b""
        while True:
            chunk = raw.recv(65536)
            if not chunk: break
            answer += chunk
        print("closed", "with bytes" if answer else "silently")
        """

    @Test(.timeLimit(.minutes(1)), arguments: ["truncated", "tampered"])
    func badRecord_endOrClearError(_ mode: String) throws {
        let pki = try TestPKI.shared
        var run: ToolRun?
        let log = EventLog()
        var data = 0
        var records: [DescriptorRecord] = []
        try runLoop(seconds: 30) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                log.record(socket)
                socket.on(.data) { data += $0.count }
            }
            server.on(.connection) { records.append(DescriptorRecord($0)!) }
            server.listen(port: 0, host: "127.0.0.1") {
                runTool(["python3", "-c", Self.script, "\(server.address()!.port)", pki.path("ca"), mode], loop: loop) {
                    run = $0
                    server.close()
                }
            }
        }
        #expect(run?.succeeded == true, "\(run?.stderr ?? "")")
        #expect(data == 0)
        if mode == "truncated" {
            // Node's rule: a FIN after the handshake is the end, whatever part of a record came before it.
            #expect(log.events == ["end", "finish", "close false"])
        } else {
            #expect(log.events == ["error ERR_SSL_DECRYPTION_FAILED_OR_BAD_RECORD_MAC", "close true"])
        }
        #expect(records.count == 1 && !records[0].isStillOpen)
    }
}
