import Foundation
import Testing

/// `--tls` on the programs, end to end with the real binaries and real peers (openssl s_client, curl, our own
/// clients): the ephemeral certificate and `--write-cert`, `--keylog`, plaintext to a TLS port, and set-up errors
/// with their documented exit codes.
@Suite(.timeLimit(.minutes(2))) struct TLSProgramTests {
    /// A fresh directory for certificates, key logs and sockets (short: Unix socket paths hold 107 bytes).
    private struct Sandbox {
        let path = "/tmp/tp-\(UUID().uuidString.prefix(8))-\(getpid())"
        init() throws { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) }
        func file(_ name: String) -> String { path + "/" + name }
        func remove() { try? FileManager.default.removeItem(atPath: path) }
    }

    /// The fingerprint line a server prints on stderr for its self-signed certificate.
    private func printedFingerprint(_ stderr: String) -> String? {
        stderr.firstMatch(of: /SHA-256 fingerprint ((?:[0-9A-F]{2}:){31}[0-9A-F]{2})\n/).map { String($0.1) }
    }

    /// `openssl x509 -fingerprint -sha256` of a PEM file, in Node's format.
    private func fileFingerprint(_ path: String) throws -> String? {
        let run = try uhRun(["openssl", "x509", "-in", path, "-noout", "-fingerprint", "-sha256"])
        return run.stdout.split(separator: "=").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
    }

    /// An NSS key log line for TLS 1.3 (or 1.2's CLIENT_RANDOM): label, 32-byte client random, secret.
    private func isKeyLogLine(_ line: Substring) -> Bool {
        line.wholeMatch(
            of:
                /(CLIENT_HANDSHAKE_TRAFFIC_SECRET|SERVER_HANDSHAKE_TRAFFIC_SECRET|CLIENT_TRAFFIC_SECRET_0|SERVER_TRAFFIC_SECRET_0|EXPORTER_SECRET|CLIENT_RANDOM) [0-9a-f]{64} [0-9a-f]{64,128}/
        ) != nil
    }

    // MARK: - echo-server

    @Test func echoServer_tls_servesOpenSSLSClient_andWritesTheCertificateItPrints() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let (server, port) = try startEchoServer(["--tls", "--write-cert", sandbox.file("echo.pem")])
        defer { uhKill(server) }
        #expect(server.waitForError("SHA-256 fingerprint "), "\(server.stderr)")
        let printed = printedFingerprint(server.stderr)
        let saved = try fileFingerprint(sandbox.file("echo.pem"))
        #expect(printed != nil && printed == saved)
        #expect(server.stderr.split(separator: "\n").count == 1, "one line: \(server.stderr)")
        let client = try ToolProcess(
            "/usr/bin/openssl",
            ["s_client", "-connect", "127.0.0.1:\(port)", "-CAfile", sandbox.file("echo.pem"), "-verify_return_error"]
        )
        defer { uhKill(client) }
        client.send("ping over tls\n")
        #expect(client.waitForOutput("Repeating: ping over tls"), "\(client.stdout) \(client.stderr)")
        #expect(client.stdout.contains("Verify return code: 0 (ok)"))
        client.closeInput()
        #expect(server.waitForOutput("ping over tls\\n from "), "\(server.stdout)")
    }

    @Test func echoClient_tls_withCA_echoes_andRefusesWithoutItWithExitCode7() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let (server, port) = try startEchoServer(["--tls", "--write-cert", sandbox.file("echo.pem")])
        defer { uhKill(server) }
        #expect(server.waitForError("SHA-256 fingerprint "))

        let trusted = try ToolProcess(
            "echo-client",
            ["--tls", "--ca", sandbox.file("echo.pem"), "127.0.0.1", "\(port)"]
        )
        defer { uhKill(trusted) }
        #expect(trusted.waitForOutput("Who needs a browser to communicate?"), "\(trusted.stdout) \(trusted.stderr)")
        trusted.send("hello tls\n")
        #expect(trusted.waitForOutput("Repeating: hello tls"), "\(trusted.stdout)")
        trusted.closeInput()
        #expect(trusted.waitForExit() == 0, "\(trusted.stderr)")
        #expect(trusted.stdout.hasPrefix("connected to server\n"))

        // Options after the positionals work as well as before them.
        let untrusted = try ToolProcess("echo-client", ["localhost", "\(port)", "--tls"])
        defer { uhKill(untrusted) }
        #expect(untrusted.waitForExit() == 7)
        #expect(untrusted.stderr.contains("DEPTH_ZERO_SELF_SIGNED_CERT"), "\(untrusted.stderr)")
        #expect(untrusted.stderr.split(separator: "\n").count == 1, "\(untrusted.stderr)")
        #expect(!untrusted.stdout.contains("connected to server"))

        let wrongName = try ToolProcess(
            "echo-client",
            ["--tls", "--ca", sandbox.file("echo.pem"), "--servername", "wrong.example", "127.0.0.1", "\(port)"]
        )
        defer { uhKill(wrongName) }
        #expect(wrongName.waitForExit() == 7)
        #expect(wrongName.stderr.contains("ERR_TLS_CERT_ALTNAME_INVALID"), "\(wrongName.stderr)")

        let insecure = try ToolProcess("echo-client", ["--tls", "--insecure", "127.0.0.1", "\(port)", "--no-greeting"])
        defer { uhKill(insecure) }
        #expect(insecure.waitForOutput("connected to server"), "\(insecure.stderr)")
        insecure.send("anyway\n")
        #expect(insecure.waitForOutput("Repeating: anyway"))
        insecure.closeInput()
        #expect(insecure.waitForExit() == 0)
    }

    @Test func echoServer_keylog_appendsNSSKeyLogLines_asDoesEchoClient() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let serverLog = sandbox.file("server.keys")
        let clientLog = sandbox.file("client.keys")
        let (server, port) = try startEchoServer([
            "--tls", "--write-cert", sandbox.file("echo.pem"), "--keylog", serverLog,
        ])
        defer { uhKill(server) }
        let client = try ToolProcess(
            "echo-client",
            ["--tls", "--ca", sandbox.file("echo.pem"), "--keylog", clientLog, "127.0.0.1", "\(port)"]
        )
        defer { uhKill(client) }
        #expect(client.waitForOutput("Repeating: Who needs"))
        client.closeInput()
        #expect(client.waitForExit() == 0)
        for path in [serverLog, clientLog] {
            let lines = (try? String(contentsOfFile: path, encoding: .utf8))?.split(separator: "\n") ?? []
            #expect(lines.count == 5, "TLS 1.3 logs five secrets per connection: \(lines)")
            #expect(lines.allSatisfy(isKeyLogLine), "\(lines)")
            #expect(lines.contains { $0.hasPrefix("CLIENT_HANDSHAKE_TRAFFIC_SECRET ") })
        }
        let serverLines = try String(contentsOfFile: serverLog, encoding: .utf8).split(separator: "\n")
        let clientLines = try String(contentsOfFile: clientLog, encoding: .utf8).split(separator: "\n")
        #expect(Set(serverLines) == Set(clientLines), "both ends log the same secrets")
    }

    @Test func echoServer_plaintextToTheTLSPort_getsACleanClose_andTheServerGoesOn() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let (server, port) = try startEchoServer(["--tls", "--write-cert", sandbox.file("echo.pem")])
        defer { uhKill(server) }
        let plain = try ToolProcess("echo-client", ["127.0.0.1", "\(port)"])
        defer { uhKill(plain) }
        plain.closeInput()
        #expect(plain.waitForExit() != nil, "the plaintext client was not let go")
        #expect(!plain.stdout.contains("Repeating"))
        #expect(server.waitForError("TLS handshake with "), "\(server.stderr)")
        #expect(server.process.isRunning)
        let client = try ToolProcess(
            "echo-client",
            ["--tls", "--ca", sandbox.file("echo.pem"), "127.0.0.1", "\(port)"]
        )
        defer { uhKill(client) }
        #expect(client.waitForOutput("Repeating: Who needs"))
        client.closeInput()
        #expect(client.waitForExit() == 0)
    }

    /// Bad input at a TLS port, many times over: garbage, plaintext HTTP, half a ClientHello, a close before any byte,
    /// a client that rejects the certificate mid-handshake. Each ends in a clean close: the server keeps serving and
    /// holds no descriptor afterwards.
    @Test func helloServer_tls_badClients_leaveNoDescriptorBehind() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let certificate = sandbox.file("b.pem")
        let (server, port) = try startCourseServer("hello-server", ["--tls", "--write-cert", certificate, "--quiet"])
        defer { uhKill(server) }
        let pid = server.process.processIdentifier
        let baseline = openDescriptorCount(pid)
        let script = """
            import os, socket, ssl
            def connect():
                return socket.create_connection(('127.0.0.1', \(port)), timeout=10)
            def ignore(action):
                try:
                    action()
                except (OSError, ssl.SSLError):
                    pass
            for _ in range(10):
                s = connect(); s.sendall(os.urandom(300)); ignore(lambda: s.recv(100)); s.close()
                s = connect(); s.sendall(b'GET / HTTP/1.1\\r\\nHost: localhost\\r\\n\\r\\n'); ignore(lambda: s.recv(100)); s.close()
                s = connect(); s.sendall(bytes([0x16, 3, 1, 0, 200, 1, 0, 0, 196, 3, 3])); s.close()
                s = connect(); s.close()
                context = ssl.create_default_context()
                ignore(lambda: context.wrap_socket(connect(), server_hostname='localhost').close())
            print('done')
            """
        let bad = try uhRun(["python3", "-c", script], timeout: 60)
        #expect(bad.status == 0 && bad.stdout == "done\n", "\(bad.stderr)")
        let curl = try uhRun(["curl", "-sS", "--cacert", certificate, "https://127.0.0.1:\(port)/"])
        #expect(curl.stdout == "<h1>Hello Node!</h1>Hello Server!", "still serving: \(curl.stderr)")
        #expect(server.process.isRunning)
        #expect(settleDescriptorCount(pid, to: baseline) == baseline, "descriptors left open")
    }

    // MARK: - Set-up errors

    @Test(arguments: [("echo-server", Int32(4)), ("hello-server", 4), ("session-server", 4), ("unix-http", 6)])
    func missingCertificateFile_exitsWithTheDocumentedCode_andOneLine(program: String, code: Int32) throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let missing = sandbox.file("missing.pem")
        var arguments = ["--tls", "--cert", missing, "--key", sandbox.file("missing.key")]
        if program == "unix-http" {
            arguments += ["--socket", sandbox.file("s")]
        } else {
            arguments += ["--port", "0"]
        }
        let server = try ToolProcess(program, arguments)
        defer { uhKill(server) }
        #expect(server.waitForExit() == code, "\(server.stdout) \(server.stderr)")
        #expect(server.stderr.split(separator: "\n").count == 1, "\(server.stderr)")
        #expect(
            server.stderr.hasPrefix("\(program): ") && server.stderr.contains("ENOENT")
                && server.stderr.contains(missing)
        )
        let help = try ToolProcess(program, ["--help"])
        defer { uhKill(help) }
        #expect(help.waitForExit() == 0)
        #expect(help.stdout.contains("  \(code)  TLS set-up failed"), "\(program) --help documents exit code \(code)")
        for option in ["--tls", "--cert FILE", "--key FILE", "--write-cert FILE", "--keylog FILE"] {
            #expect(help.stdout.contains(option), "\(program) --help mentions \(option)")
        }
    }

    @Test func keyOfAnotherCertificate_exits4_namingTheMismatch() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        for name in ["a", "b"] {
            let made = try uhRun([
                "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj",
                "/CN=localhost", "-days", "1", "-keyout", sandbox.file("\(name).key"), "-out",
                sandbox.file("\(name).pem"),
            ])
            #expect(made.status == 0, "\(made.stderr)")
        }
        let server = try ToolProcess(
            "hello-server",
            ["--port", "0", "--tls", "--cert", sandbox.file("a.pem"), "--key", sandbox.file("b.key")]
        )
        defer { uhKill(server) }
        #expect(server.waitForExit() == 4)
        #expect(server.stderr.contains("KEY_VALUES_MISMATCH"), "\(server.stderr)")
        #expect(server.stderr.split(separator: "\n").count == 1, "\(server.stderr)")
    }

    @Test func tlsOptionsWithoutTLS_orCertWithoutKey_areUsageErrors() throws {
        try expectUsageError("hello-server", ["--cert", "/tmp/x.pem", "--key", "/tmp/x.key"])
        try expectUsageError("hello-server", ["--tls", "--cert", "/tmp/x.pem"])
        try expectUsageError("echo-server", ["--keylog", "/tmp/x.keys"])
        try expectUsageError(
            "rest-server",
            ["--tls", "--cert", "/tmp/x.pem", "--key", "/tmp/x.key", "--write-cert", "/tmp/y"]
        )
        let client = try ToolProcess("echo-client", ["--ca", "/tmp/x.pem"])
        defer { uhKill(client) }
        #expect(client.waitForExit() == 2)
        #expect(client.stderr == "echo-client: --ca needs --tls (see --help)\n")
    }

    // MARK: - The web servers and unix-http

    @Test func helloServer_tls_writeCert_servesCurlWithCACert() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let certificate = sandbox.file("h.pem")
        let (server, port) = try startCourseServer("hello-server", ["--tls", "--write-cert", certificate])
        defer { uhKill(server) }
        #expect(server.stdout.contains("(https://127.0.0.1:\(port)/)"), "\(server.stdout)")
        let saved = try fileFingerprint(certificate)
        #expect(server.waitForError("SHA-256 fingerprint "))
        #expect(printedFingerprint(server.stderr) != nil && printedFingerprint(server.stderr) == saved)
        let curl = try uhRun([
            "curl", "-sS", "--cacert", certificate, "https://localhost:\(port)/", "--resolve",
            "localhost:\(port):127.0.0.1",
        ])
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(curl.stdout == "<h1>Hello Node!</h1>Hello Server!")
        // The plaintext request is refused at the TLS layer, and the server goes on.
        let plain = try uhRun(["curl", "-sS", "http://127.0.0.1:\(port)/"])
        #expect(plain.status != 0)
        #expect(server.waitForError("ERR_SSL_HTTP_REQUEST"), "\(server.stderr)")
        let again = try uhRun(["curl", "-sS", "--cacert", certificate, "https://127.0.0.1:\(port)/"])
        #expect(again.stdout == "<h1>Hello Node!</h1>Hello Server!", "\(again.stderr)")
    }

    @Test func helloServer_tlsWithWorkers_everyWorkerPresentsTheOneCertificate() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let certificate = sandbox.file("w.pem")
        let (server, port) = try startCourseServer(
            "hello-server",
            ["--tls", "--workers", "2", "--write-cert", certificate]
        )
        defer {
            server.signal(SIGTERM)
            _ = server.waitForExit(timeout: 15)
            uhKill(server)
        }
        #expect(
            server.stderr.components(separatedBy: "SHA-256 fingerprint").count == 2,
            "printed once: \(server.stderr)"
        )
        // Fresh connections land on either worker (SO_REUSEPORT); each must verify against the one saved file.
        for _ in 0..<8 {
            let curl = try uhRun(["curl", "-sS", "--cacert", certificate, "https://127.0.0.1:\(port)/"])
            #expect(curl.status == 0 && curl.stdout == "<h1>Hello Node!</h1>Hello Server!", "\(curl.stderr)")
        }
    }

    /// The shared runner gives every course server `--tls` (the cookie and session servers' cookies over HTTPS too).
    @Test(arguments: ["rest-server", "cookie-server", "session-server"])
    func courseServer_tls_servesCurl(program: String) throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let certificate = sandbox.file("c.pem")
        let (server, port) = try startCourseServer(program, ["--tls", "--write-cert", certificate])
        defer { uhKill(server) }
        #expect(server.stdout.contains("(https://127.0.0.1:\(port)/)"), "\(server.stdout)")
        let curl = try uhRun([
            "curl", "-sS", "-o", "/dev/null", "-w", "%{http_code} %{ssl_verify_result}", "--cacert", certificate,
            "https://localhost:\(port)/", "--resolve", "localhost:\(port):127.0.0.1",
        ])
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(curl.stdout.hasSuffix(" 0") && !curl.stdout.hasPrefix("000"), "status and verification: \(curl.stdout)")
    }

    @Test func echoServer_tlsWithWorkerThreads_servesEveryConnection() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let (server, port) = try startEchoServer(["--tls", "--workers", "2", "--write-cert", sandbox.file("e.pem")])
        defer { uhKill(server) }
        for index in 0..<6 {
            let client = try ToolProcess(
                "echo-client",
                ["--tls", "--ca", sandbox.file("e.pem"), "127.0.0.1", "\(port)", "--greeting", "n\(index)"]
            )
            defer { uhKill(client) }
            #expect(client.waitForOutput("Repeating: n\(index)"), "\(client.stdout) \(client.stderr)")
            client.closeInput()
            #expect(client.waitForExit() == 0)
        }
    }

    @Test func echoClient_help_documentsTheTLSOptionsAndExitCode7() throws {
        let help = try ToolProcess("echo-client", ["--help"])
        defer { uhKill(help) }
        #expect(help.waitForExit() == 0)
        for text in ["--tls", "--ca FILE", "--servername NAME", "--insecure", "--keylog FILE", "  7  TLS failed"] {
            #expect(help.stdout.contains(text), "echo-client --help mentions \(text)")
        }
    }

    @Test func unixHTTP_tls_servesCurlOverTheUnixSocket_andItsOwnGet() throws {
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        try "file over tls\n".write(toFile: sandbox.file("f.txt"), atomically: true, encoding: .utf8)
        let socket = sandbox.file("s")
        let certificate = sandbox.file("u.pem")
        let server = try ToolProcess(
            "unix-http",
            ["--tls", "--socket", socket, "--root", sandbox.path, "--write-cert", certificate]
        )
        defer { uhKill(server) }
        #expect(server.waitForOutput("listening on \(socket)"), "\(server.stderr)")
        let curl = try uhRun([
            "curl", "-sS", "--unix-socket", socket, "--cacert", certificate, "https://localhost/?file=f.txt",
        ])
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(curl.stdout.hasPrefix("0\n1\n") && curl.stdout.hasSuffix("99\nfile over tls\n"))
        let get = try ToolProcess(
            "unix-http",
            ["get", "/?file=f.txt", "--socket", socket, "--tls", "--ca", certificate]
        )
        defer { uhKill(get) }
        #expect(get.waitForExit() == 0, "\(get.stderr)")
        #expect(get.stdout.hasPrefix("STATUS: 200\n") && get.stdout.contains("chunk o' data : "), "\(get.stdout)")
        let untrusted = try ToolProcess("unix-http", ["get", "/?file=f.txt", "--socket", socket, "--tls"])
        defer { uhKill(untrusted) }
        #expect(untrusted.waitForExit() == 4)
        #expect(untrusted.stderr.contains("self-signed certificate"), "\(untrusted.stderr)")
    }

    // MARK: - A capture decrypted with the key log

    @Test func helloServer_keylog_letsTsharkDecryptACapture() throws {
        guard FileManager.default.isExecutableFile(atPath: "/usr/bin/tshark") else {
            print("skipped: tshark is not installed (apt-get install tshark), so no capture can be decrypted")
            return
        }
        let sandbox = try Sandbox()
        defer { sandbox.remove() }
        let certificate = sandbox.file("c.pem")
        let keys = sandbox.file("keys")
        let (server, port) = try startCourseServer(
            "hello-server",
            ["--tls", "--write-cert", certificate, "--keylog", keys]
        )
        defer { uhKill(server) }
        // tshark live, decrypting with the key log as it goes: it prints the request's target once it has seen and
        // decrypted it, so the test waits on that line (no capture file to flush). Started through python3 to
        // unblock and un-ignore SIGTERM first: the test process's threads block the signals its loops watch, and a
        // child inherits the mask, so tshark could not otherwise be stopped.
        let unblocked = """
            import os, signal, sys
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.execv('/usr/bin/tshark', ['tshark'] + sys.argv[1:])
            """
        let tshark = try ToolProcess(
            "/usr/bin/env",
            [
                "python3", "-c", unblocked, "-l", "-i", "lo", "-f", "tcp port \(port)", "-o", "tls.keylog_file:\(keys)",
                "-Y", "http.request", "-T", "fields", "-e", "http.request.uri",
            ]
        )
        defer { uhKill(tshark) }
        guard tshark.waitForError("Capture started", timeout: 30) else {
            print("skipped: tshark cannot capture on lo here: \(tshark.stderr)")
            return
        }
        let curl = try uhRun(["curl", "-sS", "--cacert", certificate, "https://127.0.0.1:\(port)/decrypt-me"])
        #expect(curl.status == 0, "\(curl.stderr)")
        #expect(
            tshark.waitForOutput("/decrypt-me\n", timeout: 30),
            "tshark decrypted: \(tshark.stdout) \(tshark.stderr)"
        )
        let lines = (try? String(contentsOfFile: keys, encoding: .utf8))?.split(separator: "\n") ?? []
        #expect(!lines.isEmpty && lines.allSatisfy(isKeyLogLine), "\(lines)")
        tshark.signal(SIGTERM)
        #expect(tshark.waitForExit(timeout: 20) != nil)
    }
}
