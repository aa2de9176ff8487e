import NetCore
import Testing

@testable import NetCoreTLS

/// Session resumption (test-tls-session-cache / test-tls-ticket's intent): the `session` event, the `session:`
/// option, isSessionReused() on both sides, and ticketKeys shared across servers.
@Suite struct TLSSessionTests {
    /// Connects to `port`, optionally resuming `session`; `done` gets whether it was reused and the first session
    /// the server sent.
    private func connect(
        port: Int,
        session: [UInt8]?,
        loop: EventLoop,
        done: @escaping (Bool, [UInt8]?) -> Void
    ) {
        let client = try! TLS.connect(clientOptions(port: port) { $0.session = session }, loop: loop)
        var first: [UInt8]?
        var reused = false
        client.on(.session) { if first == nil { first = $0 } }
        client.on(.secureConnect) { reused = client.isSessionReused() }
        client.on(.data) { _ in }
        client.on(.error) { Issue.record("client error \($0.code)") }
        client.on(.close) { _ in done(reused, first) }
    }

    @Test(.timeLimit(.minutes(1))) func sessionEvent_thenResumed_onBothSides() throws {
        var results: [String] = []
        var serverReused: [Bool] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                serverReused.append(socket.isSessionReused())
                socket.end("x")
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                connect(port: port, session: nil, loop: loop) { reused, session in
                    results.append("first reused=\(reused) session=\(session != nil)")
                    connect(port: port, session: session, loop: loop) { reused, _ in
                        results.append("second reused=\(reused)")
                        server.close()
                    }
                }
            }
        }
        #expect(results == ["first reused=false session=true", "second reused=true"])
        #expect(serverReused == [false, true])
    }

    /// Two servers with the same ticketKeys resume each other's sessions; one with other keys does not.
    @Test(.timeLimit(.minutes(1))) func ticketKeys_sharedAcrossServers() throws {
        let keys = (0..<48).map { UInt8($0 &* 5 &+ 1) }
        var results: [Bool] = []
        try runLoop { loop in
            let a = try TLS.createServer(serverOptions { $0.ticketKeys = keys }, loop: loop) { $0.end("a") }
            let b = try TLS.createServer(serverOptions { $0.ticketKeys = keys }, loop: loop) { $0.end("b") }
            let c = try TLS.createServer(serverOptions(), loop: loop) { $0.end("c") }
            #expect(a.getTicketKeys() == keys)
            #expect(c.getTicketKeys().count == 48 && c.getTicketKeys() != keys)
            a.listen(port: 0, host: "127.0.0.1") {
                b.listen(port: 0, host: "127.0.0.1") {
                    c.listen(port: 0, host: "127.0.0.1") {
                        connect(port: a.address()!.port, session: nil, loop: loop) { _, session in
                            connect(port: b.address()!.port, session: session, loop: loop) { reused, _ in
                                results.append(reused)
                                connect(port: c.address()!.port, session: session, loop: loop) { reused, _ in
                                    results.append(reused)
                                    a.close()
                                    b.close()
                                    c.close()
                                }
                            }
                        }
                    }
                }
            }
        }
        #expect(results == [true, false])
    }

    @Test func badTicketKeysAndSession_throw() throws {
        #expect(throws: TLSError.self) { try TLS.createServer(serverOptions { $0.ticketKeys = [1, 2, 3] }) }
        #expect(throws: TLSError.self) { try TLS.connect(clientOptions(port: 1) { $0.session = [1, 2, 3] }) }
    }
}

@Suite struct TLSClientOptionTests {
    /// A custom checkServerIdentity replaces the default: its error fails the connection with its code, its nil
    /// accepts a certificate the default would refuse (test-tls-check-server-identity's intent).
    @Test(.timeLimit(.minutes(1))) func checkServerIdentity_custom() throws {
        var results: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions("wrongname"), loop: loop) { socket in
                socket.end(Buffer(socket.getSession() == nil ? "no session" : "session"))
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                let lenient = try! TLS.connect(
                    clientOptions(port: port) {
                        $0.checkServerIdentity = { _, peer in
                            peer.subjectAltName == "DNS:wrong.example" ? nil : TLSError(code: "NOPE", message: "no")
                        }
                    },
                    loop: loop
                )
                lenient.on(.data) { results.append("lenient \(lenient.authorized) \($0.string)") }
                lenient.on(.close) { _ in
                    let strict = try! TLS.connect(
                        clientOptions(port: port) {
                            $0.checkServerIdentity = { host, _ in
                                TLSError(code: "ERR_CUSTOM", message: "refused \(host)")
                            }
                        },
                        loop: loop
                    )
                    strict.on(.error) { results.append("strict \($0.code) \($0.message)") }
                    strict.on(.close) { _ in server.close() }
                }
            }
        }
        #expect(results == ["lenient true session", "strict ERR_CUSTOM refused 127.0.0.1"])
    }
}
