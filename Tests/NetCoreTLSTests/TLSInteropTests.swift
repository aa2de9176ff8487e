import Foundation
import NetCore
import Testing

@testable import NetCoreTLS

/// Real peers: openssl s_client/s_server, Node's `tls`, python3's `ssl`, each against our side.
@Suite struct TLSInteropTests {
    /// A server that answers the first line with "echo: LINE" and ends (close_notify, then FIN).
    private func lineAnsweringServer(loop: EventLoop, _ configure: (inout TLSServer.Options) -> Void = { _ in }) throws
        -> TLSServer
    {
        try TLS.createServer(serverOptions("localhost", configure), loop: loop) { socket in
            var line: [UInt8] = []
            socket.on(.data) { chunk in
                line += chunk.bytes
                if line.contains(UInt8(ascii: "\n")) {
                    socket.end(Buffer("echo: " + String(decoding: line, as: UTF8.self)))
                }
            }
        }
    }

    @Test(.timeLimit(.minutes(1))) func opensslClient_toOurServer() throws {
        let pki = try TestPKI.shared
        var run: ToolRun?
        try runLoop(seconds: 30) { loop in
            let server = try lineAnsweringServer(loop: loop)
            server.listen(port: 0, host: "127.0.0.1") {
                runTool(
                    [
                        "openssl", "s_client", "-connect", "127.0.0.1:\(server.address()!.port)", "-CAfile",
                        pki.path("ca"), "-verify_return_error", "-servername", "localhost", "-quiet",
                    ],
                    input: "hello from s_client\n",
                    loop: loop
                ) {
                    run = $0
                    server.close()
                }
            }
        }
        #expect(run?.succeeded == true, "\(run?.stderr ?? "")")
        #expect(run?.stdout == "echo: hello from s_client\n")
    }

    @Test(.timeLimit(.minutes(1))) func ourClient_toOpensslServer() throws {
        let pki = try TestPKI.shared
        let port = freePort()
        var run: ToolRun?
        var received = ""
        var authorized = false
        try runLoop(seconds: 30) { loop in
            runTool(
                [
                    "openssl", "s_server", "-accept", "127.0.0.1:\(port)", "-cert", pki.path("localhost"), "-key",
                    pki.path("localhost.key"), "-naccept", "1", "-www",
                ],
                timeout: 20,
                loop: loop
            ) { run = $0 }
            connectWhenListening(try clientOptions(port: port), loop: loop) { socket in
                socket.on(.secureConnect) {
                    authorized = socket.authorized
                    socket.write("GET / HTTP/1.0\r\n\r\n")
                }
                socket.on(.data) { received += $0.string }
                socket.on(.end) { socket.end() }
            }
        }
        #expect(run?.status == 0, "\(run?.stderr ?? "")")
        #expect(authorized)
        #expect(received.hasPrefix("HTTP/1.0 200 ok"))
        #expect(received.contains("Protocol  : TLSv1.3"))
    }

    @Test(.timeLimit(.minutes(1))) func nodeClient_toOurServer() throws {
        let pki = try TestPKI.shared
        var run: ToolRun?
        try runLoop(seconds: 30) { loop in
            let server = try lineAnsweringServer(loop: loop) { $0.ALPNProtocols = ["h2", "http/1.1"] }
            server.listen(port: 0, host: "127.0.0.1") {
                let script = """
                    const tls = require('tls'), fs = require('fs');
                    const s = tls.connect({ port: \(server.address()!.port), host: '127.0.0.1', servername: 'localhost',
                      ca: fs.readFileSync('\(pki.path("ca"))'), ALPNProtocols: ['http/1.1'] }, () => {
                      console.log('authorized', s.authorized, s.alpnProtocol, s.getProtocol());
                      s.write('hello from node\\n');
                    });
                    let text = '';
                    s.on('data', d => text += d);
                    s.on('end', () => { console.log(text.trim()); });
                    s.on('error', e => { console.log('error', e.code); process.exitCode = 1; });
                    """
                runTool(["node", "-e", script], loop: loop) {
                    run = $0
                    server.close()
                }
            }
        }
        #expect(run?.succeeded == true, "\(run?.stderr ?? "")")
        #expect(run?.stdout == "authorized true http/1.1 TLSv1.3\necho: hello from node\n")
    }

    @Test(.timeLimit(.minutes(1))) func ourClient_toNodeServer() throws {
        let pki = try TestPKI.shared
        let port = freePort()
        var run: ToolRun?
        var received: [UInt8] = []
        var alpn: String?
        let message = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
        try runLoop(seconds: 30) { loop in
            let script = """
                const tls = require('tls'), fs = require('fs');
                const server = tls.createServer({ key: fs.readFileSync('\(pki.path("localhost.key"))'),
                  cert: fs.readFileSync('\(pki.path("localhost"))'), ALPNProtocols: ['x-netcore'] }, s => {
                  s.pipe(s);
                  s.on('close', () => server.close());
                });
                server.listen(\(port), '127.0.0.1');
                setTimeout(() => process.exit(3), 20000).unref();
                """
            runTool(["node", "-e", script], timeout: 25, loop: loop) { run = $0 }
            connectWhenListening(try clientOptions(port: port) { $0.ALPNProtocols = ["x-netcore"] }, loop: loop) {
                socket in
                socket.on(.secureConnect) {
                    alpn = socket.alpnProtocol
                    socket.write(message)
                }
                socket.on(.data) { chunk in
                    received += chunk.bytes
                    if received.count == message.count { socket.end() }
                }
            }
        }
        #expect(run?.status == 0, "\(run?.stderr ?? "")")
        #expect(alpn == "x-netcore")
        #expect(received == message)
    }

    @Test(.timeLimit(.minutes(1))) func pythonClient_toOurServer() throws {
        let pki = try TestPKI.shared
        var run: ToolRun?
        try runLoop(seconds: 30) { loop in
            let server = try lineAnsweringServer(loop: loop)
            server.listen(port: 0, host: "127.0.0.1") {
                let script = """
                    import socket, ssl, sys
                    context = ssl.create_default_context(cafile=sys.argv[2])
                    with socket.create_connection(("127.0.0.1", int(sys.argv[1]))) as raw:
                        with context.wrap_socket(raw, server_hostname="localhost") as s:
                            s.sendall(b"hello from python\\n")
                            data = b""
                            while True:
                                chunk = s.recv(4096)
                                if not chunk:
                                    break
                                data += chunk
                            print(s.version(), data.decode().strip())
                    """
                runTool(["python3", "-c", script, "\(server.address()!.port)", pki.path("ca")], loop: loop) {
                    run = $0
                    server.close()
                }
            }
        }
        #expect(run?.succeeded == true, "\(run?.stderr ?? "")")
        #expect(run?.stdout == "TLSv1.3 echo: hello from python\n")
    }
}
