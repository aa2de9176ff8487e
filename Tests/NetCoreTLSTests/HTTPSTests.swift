import Foundation
import NetCore
import NetCoreHTTP
import Testing

@testable import NetCoreHTTPS
@testable import NetCoreTLS

/// Reads a response's whole body, then calls `done` with it.
private func readBody(_ res: IncomingMessage, _ done: @escaping (String) -> Void) {
    var body: [UInt8] = []
    res.on(.data) { body += $0.bytes }
    res.on(.end) { done(String(decoding: body, as: UTF8.self)) }
}

/// A short fresh Unix socket path (sun_path holds 107 bytes).
private func freshSocketPath() -> String {
    "/tmp/nc-https-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).sock"
}

/// Node's `https` server, client, and curl and python3 against `HTTPS.createServer`; `HTTPS.request` against
/// servers of ours and Node's, over TCP and Unix sockets, with Node's certificate errors.
@Suite(.timeLimit(.minutes(1))) struct HTTPSTests {
    /// An HTTPS server answering "hello <url> <servername>" with the test PKI's `name` certificate.
    private func helloServer(
        _ loop: EventLoop,
        _ name: String = "localhost",
        _ configure: (inout TLSServer.Options) -> Void = { _ in }
    ) throws -> HTTPSServer {
        try HTTPS.createServer(serverOptions(name, configure), loop: loop) { req, res in
            let servername = (req.socket as? TLSSocket)?.servername ?? "-"
            res.setHeader("Content-Type", "text/plain")
            res.end("hello \(req.url) \(servername)\n")
        }
    }

    @Test func createServer_servesCurl_withCACert_overTCPAndUnixSocket() throws {
        let pki = try TestPKI.shared
        let path = freshSocketPath()
        var tcp: ToolRun?
        var unix: ToolRun?
        try runLoop(seconds: 40) { loop in
            let server = try helloServer(loop)
            let unixServer = try helloServer(loop)
            var finished = 0
            func done() {
                finished += 1
                if finished == 2 {
                    server.close()
                    unixServer.close()
                }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                runTool(
                    [
                        "curl", "-sS", "--cacert", pki.path("ca"), "--resolve", "localhost:\(port):127.0.0.1",
                        "https://localhost:\(port)/tcp",
                    ],
                    loop: loop
                ) {
                    tcp = $0
                    done()
                }
            }
            unixServer.listen(path: path) {
                runTool(
                    [
                        "curl", "-sS", "--unix-socket", path, "--cacert", pki.path("ca"),
                        "https://localhost/unix?file=x",
                    ],
                    loop: loop
                ) {
                    unix = $0
                    done()
                }
            }
        }
        #expect(tcp?.succeeded == true, "\(tcp?.stderr ?? "")")
        #expect(tcp?.stdout == "hello /tcp localhost\n")
        #expect(unix?.succeeded == true, "\(unix?.stderr ?? "")")
        #expect(unix?.stdout == "hello /unix?file=x localhost\n")
    }

    @Test func createServer_servesNodeHTTPSAndPythonHTTPClient() throws {
        let pki = try TestPKI.shared
        var node: ToolRun?
        var python: ToolRun?
        var secureConnections = 0
        try runLoop(seconds: 40) { loop in
            let server = try helloServer(loop)
            server.on(.secureConnection) { _ in secureConnections += 1 }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                var finished = 0
                func done() {
                    finished += 1
                    if finished == 2 { server.close() }
                }
                let script = """
                    const https = require('https'), fs = require('fs');
                    https.get({ host: 'localhost', port: \(port), path: '/node', ca: fs.readFileSync('\(pki.path("ca"))') },
                      res => {
                        const authorized = res.socket.authorized;
                        let body = ''; res.on('data', d => body += d);
                        res.on('end', () => console.log(res.statusCode, authorized, body.trim()));
                      }).on('error', e => { console.log('error', e.code); process.exitCode = 1; });
                    """
                runTool(["node", "-e", script], loop: loop) {
                    node = $0
                    done()
                }
                let pythonScript = """
                    import http.client, ssl
                    context = ssl.create_default_context(cafile='\(pki.path("ca"))')
                    connection = http.client.HTTPSConnection('localhost', \(port), context=context)
                    connection.request('GET', '/python')
                    response = connection.getresponse()
                    print(response.status, response.read().decode().strip(), connection.sock.version())
                    """
                runTool(["python3", "-c", pythonScript], loop: loop) {
                    python = $0
                    done()
                }
            }
        }
        #expect(node?.succeeded == true, "\(node?.stderr ?? "")")
        #expect(node?.stdout == "200 true hello /node localhost\n")
        #expect(python?.succeeded == true, "\(python?.stderr ?? "")")
        #expect(python?.stdout == "200 hello /python localhost TLSv1.3\n")
        #expect(secureConnections == 2)
    }

    @Test func request_toNodeHTTPSServer_verifiesAndReadsTheResponse() throws {
        let pki = try TestPKI.shared
        let port = freePort()
        var status = 0
        var body = ""
        var protocolName = ""
        var nodeRun: ToolRun?
        runLoop(seconds: 40) { loop in
            let script = """
                const https = require('https'), fs = require('fs');
                const server = https.createServer({ key: fs.readFileSync('\(pki.path("localhost.key"))'),
                  cert: fs.readFileSync('\(pki.path("localhost"))') }, (req, res) => {
                  res.end('node saw ' + req.url + ' ' + req.socket.servername + ' ' + req.headers.host);
                  server.close();
                });
                server.listen(\(port), '127.0.0.1');
                setTimeout(() => process.exit(3), 20000).unref();
                """
            runTool(["node", "-e", script], loop: loop) { nodeRun = $0 }
            func attempt(_ count: Int) {
                let request = HTTPS.get(
                    HTTPS.RequestOptions(
                        host: "localhost",
                        port: port,
                        path: "/from-swift",
                        agent: .none,
                        loop: loop,
                        ca: .file(pki.path("ca"))
                    )
                ) { res in
                    status = res.statusCode
                    protocolName = (res.socket as? TLSSocket)?.getProtocol() ?? ""
                    readBody(res) { body = $0 }
                }
                request.on(.error) { error in
                    if error.code == "ECONNREFUSED" && count < 300 {
                        loop.setTimeout(50) { attempt(count + 1) }
                    } else {
                        Issue.record("request failed: \(error.code) \(error.message)")
                    }
                }
            }
            attempt(0)
        }
        #expect(nodeRun?.succeeded == true, "\(nodeRun?.stderr ?? "")")
        #expect(status == 200)
        #expect(protocolName == "TLSv1.3")
        #expect(body == "node saw /from-swift localhost localhost:\(port)")
    }

    @Test func request_keepAlive_reusesOneTLSConnection_andSetsServernameFromHost() throws {
        let pki = try TestPKI.shared
        var bodies: [String] = []
        var reused: [Bool] = []
        var secureConnections = 0
        var protocols: [String] = []
        try runLoop { loop in
            let server = try helloServer(loop)
            server.on(.secureConnection) { _ in secureConnections += 1 }
            let agent = Agent(keepAlive: true, loop: loop)
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                func fetch(_ host: String, _ path: String, then next: @escaping () -> Void) {
                    let request = HTTPS.get(
                        HTTPS.RequestOptions(
                            host: host,
                            port: port,
                            path: path,
                            agent: .agent(agent),
                            loop: loop,
                            ca: .text(pki.pem("ca"))
                        )
                    ) { res in readBody(res) { bodies.append($0) } }
                    protocols.append(request.protocol)
                    request.on(.error) { Issue.record("\($0.code) \($0.message)") }
                    request.on(.close) {
                        reused.append(request.reusedSocket)
                        loop.nextTick(next)
                    }
                }
                fetch("localhost", "/one") {
                    fetch("localhost", "/two") {
                        // An IP address: a connection of its own (another pool key), no SNI, the IP SAN checked.
                        fetch("127.0.0.1", "/ip") {
                            agent.destroy()
                            server.close()
                        }
                    }
                }
            }
        }
        #expect(bodies == ["hello /one localhost\n", "hello /two localhost\n", "hello /ip -\n"])
        #expect(reused == [false, true, false])
        #expect(secureConnections == 2)
        #expect(protocols == ["https:", "https:", "https:"])
    }

    /// Node's https.Agent caches the server's session: a new connection of the same agent resumes it.
    @Test func request_newConnectionOfTheSameAgent_resumesTheTLSSession() throws {
        let pki = try TestPKI.shared
        var resumed: [Bool] = []
        try runLoop { loop in
            let server = try helloServer(loop)
            let agent = Agent(keepAlive: false, loop: loop)  // a connection per request
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                func fetch(_ remaining: Int) {
                    guard remaining > 0 else {
                        server.close()
                        return
                    }
                    let request = HTTPS.get(
                        HTTPS.RequestOptions(
                            host: "localhost",
                            port: port,
                            agent: .agent(agent),
                            loop: loop,
                            ca: .file(pki.path("ca"))
                        )
                    ) { res in
                        resumed.append((res.socket as? TLSSocket)?.isSessionReused() ?? false)
                        readBody(res) { _ in }
                    }
                    request.on(.error) { Issue.record("\($0.code) \($0.message)") }
                    request.on(.close) { loop.nextTick { fetch(remaining - 1) } }
                }
                fetch(3)
            }
        }
        #expect(resumed == [false, true, true])
    }

    @Test func request_overUnixSocket_checksTheHostName() throws {
        let pki = try TestPKI.shared
        let path = freshSocketPath()
        var body = ""
        try runLoop { loop in
            let server = try helloServer(loop)
            server.listen(path: path) {
                let request = HTTPS.get(
                    HTTPS.RequestOptions(socketPath: path, path: "/over-unix", loop: loop, ca: .file(pki.path("ca")))
                ) { res in
                    readBody(res) {
                        body = $0
                        HTTPS.globalAgent(for: loop).destroy()
                        server.close()
                    }
                }
                request.on(.error) {
                    Issue.record("\($0.code) \($0.message)")
                    server.close()
                }
            }
        }
        #expect(body == "hello /over-unix localhost\n")
    }

    /// Node's codes for certificates that do not verify; `rejectUnauthorized: false` gets the response anyway.
    @Test(arguments: [
        ("expired", true, "CERT_HAS_EXPIRED"),
        ("wrongname", true, "ERR_TLS_CERT_ALTNAME_INVALID"),
        ("selfsigned", true, "DEPTH_ZERO_SELF_SIGNED_CERT"),
        ("selfsigned", false, "200"),
    ])
    func request_badCertificate_failsWithNodesCode(name: String, reject: Bool, expected: String) throws {
        let pki = try TestPKI.shared
        var outcome = ""
        var message = ""
        try runLoop { loop in
            let server = try helloServer(loop, name)
            server.listen(port: 0, host: "127.0.0.1") {
                let request = HTTPS.get(
                    HTTPS.RequestOptions(
                        port: server.address()!.port,
                        agent: .none,
                        loop: loop,
                        ca: .file(pki.path("ca")),
                        rejectUnauthorized: reject
                    )
                ) { res in
                    outcome = String(res.statusCode)
                    readBody(res) { _ in server.close() }
                }
                request.on(.error) { error in
                    outcome = error.code
                    message = error.message
                    server.close()
                }
            }
        }
        #expect(outcome == expected, "\(message)")
    }

    @Test func request_missingCAFile_failsWithENOENT_andUnknownCAFailsTheRequest() throws {
        var missing = ""
        var untrusted = ""
        try runLoop { loop in
            let server = try helloServer(loop)
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                var finished = 0
                func done() {
                    finished += 1
                    if finished == 2 { server.close() }
                }
                HTTPS.get(HTTPS.RequestOptions(port: port, agent: .none, loop: loop, ca: .file("/nonexistent/ca.pem")))
                    .on(.error) { error in
                        missing = error.code
                        done()
                    }
                // The system's CAs do not include the test CA.
                HTTPS.get(HTTPS.RequestOptions(port: port, agent: .none, loop: loop)).on(.error) { error in
                    untrusted = error.code
                    done()
                }
            }
        }
        #expect(missing == "ENOENT")
        #expect(untrusted == "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    }

    @Test func createServer_handshakeTimeout_reportsTLSClientErrorAndCloses() throws {
        var clientError = ""
        var clientClosed = false
        var requests = 0
        try runLoop { loop in
            let server = try helloServer(loop) { $0.handshakeTimeout = 200 }
            server.on(.request) { _, _ in requests += 1 }
            server.on(.tlsClientError) { error, _ in clientError = error.code }
            server.listen(port: 0, host: "127.0.0.1") {
                let silent = Socket(loop: loop)
                silent.on(.close) { _ in
                    clientClosed = true
                    server.close()
                }
                silent.on(.error) { _ in }
                silent.connect(port: server.address()!.port, host: "127.0.0.1")
            }
        }
        #expect(clientError == "ERR_TLS_HANDSHAKE_TIMEOUT")
        #expect(clientClosed)
        #expect(requests == 0)
    }

    @Test func createServer_plaintextHTTPRequest_getsACleanClose() throws {
        var clientError = ""
        var answer: [UInt8] = []
        try runLoop { loop in
            let server = try helloServer(loop)
            server.on(.tlsClientError) { error, _ in clientError = error.code }
            server.listen(port: 0, host: "127.0.0.1") {
                let plain = Socket(loop: loop)
                plain.on(.data) { answer += $0.bytes }
                plain.on(.error) { _ in }
                plain.on(.close) { _ in server.close() }
                plain.connect(port: server.address()!.port, host: "127.0.0.1")
                plain.write("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n")
            }
        }
        // OpenSSL recognises an HTTP request line where a ClientHello belongs (Node reports the same code).
        #expect(clientError == "ERR_SSL_HTTP_REQUEST")
        #expect(!String(decoding: answer, as: UTF8.self).contains("hello"))
    }

    @Test func urls_httpsSchemeAndDefaultPort443() throws {
        let options = try HTTPS.RequestOptions(url: "https://example.test/a?b=1")
        #expect(options.host == "example.test" && options.port == 443 && options.path == "/a?b=1")
        let explicit = try HTTPS.RequestOptions(url: "https://[::1]:8443/")
        #expect(explicit.host == "::1" && explicit.port == 8443)
        #expect(throws: SocketError.self) { try HTTPS.RequestOptions(url: "http://example.test/") }
        do {
            _ = try HTTPS.RequestOptions(url: "http://example.test/")
        } catch {
            #expect(error.code == "ERR_INVALID_PROTOCOL")
            #expect(error.message == "Protocol \"http:\" not supported. Expected \"https:\"")
        }
    }

    @Test func servername_followsNodesRule() {
        #expect(HTTPS.RequestOptions(host: "localhost").effectiveServername == "localhost")
        #expect(HTTPS.RequestOptions(host: "127.0.0.1").effectiveServername == nil)
        #expect(HTTPS.RequestOptions(host: "::1").effectiveServername == nil)
        #expect(
            HTTPS.RequestOptions(host: "10.0.0.1", headers: ["Host": "api.example:8443"]).effectiveServername
                == "api.example"
        )
        #expect(HTTPS.RequestOptions(host: "a.example", headers: ["Host": "[::1]:8443"]).effectiveServername == nil)
        #expect(HTTPS.RequestOptions(host: "a.example", servername: "").effectiveServername == nil)
        #expect(HTTPS.RequestOptions(host: "127.0.0.1", servername: "b.example").effectiveServername == "b.example")
    }
}
