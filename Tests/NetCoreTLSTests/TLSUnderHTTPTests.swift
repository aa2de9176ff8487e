import NetCore
import NetCoreHTTP
import Testing

@testable import NetCoreTLS

/// The seam holds: NetCoreHTTP's HTTPServer, unchanged, serves over TLSSockets (TLSServer over its Server), to
/// curl and to Node's https, keep-alive included.
@Suite struct TLSUnderHTTPTests {
    @Test(.timeLimit(.minutes(1))) func httpServer_overTLS_servesCurlAndNode() throws {
        let pki = try TestPKI.shared
        var curl: ToolRun?
        var node: ToolRun?
        var encryptedSockets = 0
        try runLoop(seconds: 40) { loop in
            let http = HTTPServer(loop: loop) { request, response in
                response.setHeader("Content-Type", "text/plain")
                response.end("hello over TLS: \(request.url)\n")
            }
            let tls = try TLSServer(serverOptions(), over: http.server)
            tls.on(.secureConnection) { socket in if socket.encrypted { encryptedSockets += 1 } }
            http.listen(port: 0, host: "127.0.0.1") {
                let port = http.server.address()!.port
                var finished = 0
                func done() {
                    finished += 1
                    if finished == 2 { http.close() }
                }
                runTool(
                    [
                        "curl", "-sS", "--cacert", pki.path("ca"), "--resolve", "localhost:\(port):127.0.0.1",
                        "https://localhost:\(port)/one", "https://localhost:\(port)/two",
                    ],
                    loop: loop
                ) {
                    curl = $0
                    done()
                }
                let script = """
                    const https = require('https'), fs = require('fs');
                    https.get({ host: '127.0.0.1', port: \(port), path: '/node', servername: 'localhost',
                      ca: fs.readFileSync('\(pki.path("ca"))') }, res => {
                      const protocol = res.socket.getProtocol();
                      let body = ''; res.on('data', d => body += d);
                      res.on('end', () => console.log(res.statusCode, protocol, body.trim()));
                    }).on('error', e => { console.log('error', e.code); process.exitCode = 1; });
                    """
                runTool(["node", "-e", script], loop: loop) {
                    node = $0
                    done()
                }
            }
        }
        #expect(curl?.succeeded == true, "\(curl?.stderr ?? "")")
        #expect(curl?.stdout == "hello over TLS: /one\nhello over TLS: /two\n")
        #expect(node?.succeeded == true, "\(node?.stderr ?? "")")
        #expect(node?.stdout == "200 TLSv1.3 hello over TLS: /node\n")
        #expect(encryptedSockets == 2, "curl reuses its connection for both requests")
    }
}
