import NetCore
import Testing

@testable import NetCoreTLS

/// Certificate verification with Node's codes (test-tls-client-reject, test-tls-server-verify,
/// test-tls-checkServerIdentity's intent), and client certificates (requestCert).
@Suite struct TLSVerificationTests {
    struct Case: CustomTestStringConvertible, Sendable {
        let serverCertificate: String
        let trusted: String
        let code: String
        var testDescription: String { "\(serverCertificate) trusting \(trusted) -> \(code)" }
    }

    static let failures: [Case] = [
        Case(serverCertificate: "expired", trusted: "ca", code: "CERT_HAS_EXPIRED"),
        Case(serverCertificate: "wrongname", trusted: "ca", code: "ERR_TLS_CERT_ALTNAME_INVALID"),
        Case(serverCertificate: "selfsigned", trusted: "ca", code: "DEPTH_ZERO_SELF_SIGNED_CERT"),
        Case(serverCertificate: "localhost", trusted: "other-ca", code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
        Case(serverCertificate: "localhost-chain", trusted: "other-ca", code: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"),
    ]

    /// rejectUnauthorized (the default): an `error` with Node's code, the socket destroyed, no secureConnect; the
    /// server sees its socket close.
    @Test(.timeLimit(.minutes(1)), arguments: failures)
    func rejected_errorWithNodesCode(_ failure: Case) throws {
        let pki = try TestPKI.shared
        let log = EventLog()
        var secureConnects = 0
        var records: [DescriptorRecord] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(failure.serverCertificate), loop: loop)
            server.on(.connection) { socket in records.append(DescriptorRecord(socket)!) }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(
                    clientOptions(port: server.address()!.port) { $0.ca = .file(pki.path(failure.trusted)) },
                    loop: loop
                )
                client.on(.secureConnect) { secureConnects += 1 }
                client.once(.connect) { records.append(DescriptorRecord(client)!) }
                log.record(client)
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(log.events == ["error \(failure.code)", "close true"])
        #expect(secureConnects == 0)
        #expect(records.count == 2 && records.allSatisfy { !$0.isStillOpen })
    }

    /// rejectUnauthorized false: secureConnect with authorized false and the reason in authorizationError.
    @Test(.timeLimit(.minutes(1)), arguments: failures)
    func notRejected_authorizationError(_ failure: Case) throws {
        let pki = try TestPKI.shared
        var seen: (Bool, String?)?
        var echoed = ""
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(failure.serverCertificate), loop: loop) { socket in
                socket.on(.data) { socket.write($0) }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(
                    clientOptions(port: server.address()!.port) {
                        $0.ca = .file(pki.path(failure.trusted))
                        $0.rejectUnauthorized = false
                    },
                    loop: loop
                )
                client.on(.secureConnect) {
                    seen = (client.authorized, client.authorizationError)
                    client.write("still encrypted")
                }
                client.on(.data) {
                    echoed += $0.string
                    client.end()
                }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(seen?.0 == false)
        #expect(seen?.1 == failure.code)
        #expect(echoed == "still encrypted")
    }

    /// The hostname check uses `servername` when given (SNI), else the host.
    @Test(.timeLimit(.minutes(1))) func servername_isTheNameChecked() throws {
        var results: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop)
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                let good = try! TLS.connect(clientOptions(port: port) { $0.servername = "localhost" }, loop: loop)
                good.on(.secureConnect) {
                    results.append("localhost \(good.authorized)")
                    good.end()
                    let bad = try! TLS.connect(
                        clientOptions(port: port) { $0.servername = "other.example" },
                        loop: loop
                    )
                    bad.on(.error) { results.append("other.example \($0.code)") }
                    bad.on(.close) { _ in server.close() }
                }
            }
        }
        #expect(results == ["localhost true", "other.example ERR_TLS_CERT_ALTNAME_INVALID"])
    }

    @Test(.timeLimit(.minutes(1))) func requestCert_clientWithCertificate_isAuthorized() throws {
        let pki = try TestPKI.shared
        var serverSide: (Bool, String?)?
        try runLoop { loop in
            let server = try TLS.createServer(
                serverOptions {
                    $0.requestCert = true
                    $0.ca = .file(pki.path("ca"))
                },
                loop: loop
            ) { socket in
                serverSide = (socket.authorized, socket.authorizationError)
                socket.end("welcome")
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(
                    clientOptions(port: server.address()!.port) {
                        $0.cert = .file(pki.path("client"))
                        $0.key = .file(pki.path("client.key"))
                    },
                    loop: loop
                )
                client.on(.data) { _ in }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(serverSide?.0 == true)
        #expect(serverSide?.1 == nil)
    }

    /// requestCert + rejectUnauthorized and no client certificate: the handshake fails on both sides.
    @Test(.timeLimit(.minutes(1))) func requestCert_missingClientCertificate_isRefused() throws {
        var clientErrors: [String] = []
        var clientEvents: [String] = []
        var secureConnections = 0
        try runLoop { loop in
            let pki = try TestPKI.shared
            let server = try TLS.createServer(
                serverOptions {
                    $0.requestCert = true
                    $0.ca = .file(pki.path("ca"))
                },
                loop: loop
            ) { _ in secureConnections += 1 }
            server.on(.tlsClientError) { error, _ in clientErrors.append(error.code) }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                client.on(.data) { _ in }
                client.on(.error) { clientEvents.append("error \($0.code)") }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(clientErrors == ["ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE"])
        #expect(clientEvents == ["error ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED"])
        #expect(secureConnections == 0)
    }

    /// requestCert without rejectUnauthorized: the connection goes ahead, and says why it is not authorized.
    @Test(.timeLimit(.minutes(1))) func requestCert_notRejecting_reportsWhy() throws {
        let pki = try TestPKI.shared
        var seen: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(
                serverOptions {
                    $0.requestCert = true
                    $0.rejectUnauthorized = false
                    $0.ca = .file(pki.path("ca"))
                },
                loop: loop
            ) { socket in
                seen.append("\(socket.authorized) \(socket.authorizationError ?? "-")")
                socket.end()
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                let bare = try! TLS.connect(clientOptions(port: port), loop: loop)
                bare.on(.data) { _ in }
                bare.on(.close) { _ in
                    let other = try! TLS.connect(
                        clientOptions(port: port) {
                            $0.cert = .file(pki.path("other-client"))
                            $0.key = .file(pki.path("other-client.key"))
                        },
                        loop: loop
                    )
                    other.on(.data) { _ in }
                    other.on(.close) { _ in server.close() }
                }
            }
        }
        #expect(seen == ["false UNABLE_TO_GET_ISSUER_CERT", "false UNABLE_TO_VERIFY_LEAF_SIGNATURE"])
    }

    /// A client certificate from an unknown CA with rejectUnauthorized: the server closes it after the handshake
    /// without `secureConnection` (Node's onServerSocketSecure destroys it).
    @Test(.timeLimit(.minutes(1))) func requestCert_unknownIssuer_isDestroyed() throws {
        let pki = try TestPKI.shared
        var secureConnections = 0
        var clientEnded = false
        try runLoop { loop in
            let server = try TLS.createServer(
                serverOptions {
                    $0.requestCert = true
                    $0.ca = .file(pki.path("ca"))
                },
                loop: loop
            ) { _ in secureConnections += 1 }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(
                    clientOptions(port: server.address()!.port) {
                        $0.cert = .file(pki.path("other-client"))
                        $0.key = .file(pki.path("other-client.key"))
                    },
                    loop: loop
                )
                client.on(.data) { _ in }
                client.on(.end) { clientEnded = true }
                client.on(.error) { _ in clientEnded = true }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(secureConnections == 0)
        #expect(clientEnded)
    }
}
