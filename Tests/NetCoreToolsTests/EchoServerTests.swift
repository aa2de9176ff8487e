import Foundation
import Testing

/// `echo-server` end to end: real processes and loopback sockets, bounded waits only.
@Suite struct EchoServerTests {
    /// A python3 client that sends argv[2], half-closes, and reads to EOF.
    static let halfClosingClient = """
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
        s.sendall(sys.argv[2].encode())
        s.shutdown(socket.SHUT_WR)
        data, eof = read_to_eof(s)
        s.close()
        report(data=data.decode('utf-8', 'replace'), eof=eof)
        """

    /// A python3 client that sends argv[2] and reads the echo.
    static let oneShotClient = """
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
        s.sendall(sys.argv[2].encode())
        echo = read_exactly(s, len('Repeating: ') + len(sys.argv[2].encode()))
        s.close()
        report(echo=echo.decode('utf-8', 'replace'))
        """

    @Test func echoServer_endsAtOnce_afterAClientHalfCloses() throws {
        let (server, port) = try startEchoServer()
        defer { echoKill(server) }
        let result = echoFinish(try echoPython(Self.halfClosingClient, [String(port), "hello"]))
        #expect(result["data"] as? String == "Repeating: hello")
        #expect(result["eof"] as? Bool == true)
        #expect(server.waitForOutput("client closed connection"), "\(server.stdout)")
    }

    @Test func echoServer_sendsASummaryBeforeEnding_withAllowHalfOpen() throws {
        let (server, port) = try startEchoServer(["--allow-half-open"])
        defer { echoKill(server) }
        let result = echoFinish(try echoPython(Self.halfClosingClient, [String(port), "hello"]))
        #expect(result["data"] as? String == "Repeating: hello" + "received 5 bytes in 1 messages\n")
        #expect(result["eof"] as? Bool == true)
        #expect(server.waitForOutput("client closed connection"), "\(server.stdout)")
    }

    @Test func echoServer_keepsServing_whenAClientResets() throws {
        let (server, port) = try startTCPEchoServerLikeAShell()
        defer { echoKill(server) }
        // Sends, waits for its echo (so the server holds the connection), then closes with SO_LINGER 0: a RST.
        let reset = echoFinish(try echoPython(
            """
            s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
            s.sendall(b'doomed')
            echo = read_exactly(s, len(b'Repeating: doomed'))
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
            s.close()
            report(echo=echo.decode())
            """,
            [String(port)]))
        #expect(reset["echo"] as? String == "Repeating: doomed")

        let next = echoFinish(try echoPython(Self.oneShotClient, [String(port), "still there?"]))
        #expect(next["echo"] as? String == "Repeating: still there?")

        // Stop the server so its stderr is complete, then look at what the reset produced.
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0, "\(server.stdout) / \(server.stderr)")
        let errors = server.stderr.split(separator: "\n")
        #expect(errors.count <= 1, "\(server.stderr)")
        for line in errors {
            #expect(line.hasPrefix("echo-server: connection from ") && line.contains("ECONNRESET"), "\(line)")
        }
    }

    /// A python3 client that sends an 'R'-free random stream without reading until the server stops taking it (no
    /// progress for 1 s) or 128 MiB went out, prints `stalled <bytes>`, waits for a line on stdin, then half-closes,
    /// reads every reply, strips the `Repeating: ` prefixes (unambiguous: the data has no 'R') and compares.
    static let floodingClient = """
        import hashlib, random
        s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=20)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        s.setblocking(False)
        rng = random.Random(7)
        sent_hash, sent, block, last_progress = hashlib.sha256(), 0, b'', time.monotonic()
        while sent < (128 << 20) and time.monotonic() - last_progress < 1.0:
            if not block:
                block = rng.randbytes(1 << 16).replace(b'R', b'r')
            select.select([], [s], [], 0.05)
            try:
                n = s.send(block)
            except BlockingIOError:
                continue
            sent_hash.update(block[:n]); sent += n; block = block[n:]
            last_progress = time.monotonic()
        print('stalled', sent, flush=True)
        sys.stdin.readline()
        s.setblocking(True)
        s.shutdown(socket.SHUT_WR)
        got_hash, got, pending = hashlib.sha256(), 0, b''
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            pending = (pending + chunk).replace(b'Repeating: ', b'')
            keep = pending.rfind(b'R')
            tail = pending[keep:] if keep >= 0 else b''
            data = pending[:keep] if keep >= 0 else pending
            got_hash.update(data); got += len(data); pending = tail
        report(sent=sent, got=got, same=(sent == got and sent_hash.digest() == got_hash.digest() and not pending))
        """

    @Test func echoServer_stopsReadingAFloodingClientThatDoesNotRead_andLosesNothing() throws {
        let (server, port) = try startEchoServer(["--quiet"])
        defer { echoKill(server) }
        let baseline = uhRSSKiB(server.process.processIdentifier) ?? 0
        let client = try echoPython(Self.floodingClient, [String(port)])
        defer { echoKill(client) }
        #expect(client.waitForOutput("stalled ", timeout: 60), "\(client.stdout) \(client.stderr)")
        let rss = uhRSSKiB(server.process.processIdentifier) ?? 0
        client.send("go\n")
        let result = echoFinish(client, timeout: 60)
        let sent = result["sent"] as? Int ?? 0
        // Without backpressure the server would read all 128 MiB and queue the replies in memory (its VmRSS grew by
        // ~130 MiB). The bound leaves room for AddressSanitizer's 16 MiB quarantine when the suite runs under ASan.
        #expect(sent < 128 << 20, "the server never stopped reading (\(sent) bytes taken)")
        #expect(rss - baseline < 48 * 1024,
                "server VmRSS \(baseline) -> \(rss) KiB after taking \(sent) bytes from a client that does not read")
        #expect(result["same"] as? Bool == true, "\(result)")
    }

    @Test func echoServer_keepsServing_whenAClientResetsBeforeReadingItsEcho() throws {
        let (server, port) = try startTCPEchoServerLikeAShell()
        defer { echoKill(server) }
        // Several clients send and reset at once: the server's echo goes to a dead connection (no SIGPIPE death).
        _ = echoFinish(try echoPython(
            """
            for i in range(5):
                s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
                s.sendall(b'gone %d' % i)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))
                s.close()
            report(done=True)
            """,
            [String(port)]))
        let next = echoFinish(try echoPython(Self.oneShotClient, [String(port), "anyone?"]))
        #expect(next["echo"] as? String == "Repeating: anyone?")

        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0, "\(server.stdout) / \(server.stderr)")
        let errors = server.stderr.split(separator: "\n")
        #expect(errors.count <= 5, "\(server.stderr)")
        for line in errors {
            #expect(line.hasPrefix("echo-server: connection from ") && (line.contains("ECONNRESET") || line.contains("EPIPE")),
                    "\(line)")
        }
    }

    @Test func echoServer_exits3_whenThePortIsInUse() throws {
        let (first, port) = try startEchoServer()
        defer { echoKill(first) }
        let second = try ToolProcess("echo-server", ["--port", String(port)])
        defer { echoKill(second) }
        #expect(second.waitForExit(timeout: 10) == 3, "\(second.stdout) / \(second.stderr)")
        let lines = second.stderr.split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 1, "\(second.stderr)")
        #expect(second.stderr.contains("address already in use"), "\(second.stderr)")
        #expect(!second.stdout.contains("listening"), "\(second.stdout)")
        #expect(first.process.isRunning)
    }

    @Test func echoServer_exits3_whenTheUnixPathIsUnusable() throws {
        let dir = try EchoTempDir()
        defer { dir.remove() }
        let server = try ToolProcess("echo-server", ["--unix", dir.path("no-such-dir/echo.sock")])
        defer { echoKill(server) }
        #expect(server.waitForExit(timeout: 10) == 3, "\(server.stdout) / \(server.stderr)")
        #expect(server.stderr.filter { $0 == "\n" }.count == 1, "\(server.stderr)")
    }

    @Test(arguments: [["--bogus"], ["--port", "70000"], ["--port"], ["stray"], ["--unix", "/x", "--port", "1"], ["--max-connections", "0"]])
    func echoServer_rejectsABadCommandLine_withExit2(_ arguments: [String]) throws {
        let server = try ToolProcess("echo-server", arguments)
        defer { echoKill(server) }
        #expect(server.waitForExit(timeout: 10) == 2, "\(server.stdout) / \(server.stderr)")
        #expect(server.stderr.hasPrefix("echo-server: "), "\(server.stderr)")
        #expect(server.stderr.filter { $0 == "\n" }.count == 1, "\(server.stderr)")
        #expect(server.stdout.isEmpty, "\(server.stdout)")
    }

    @Test func echoServer_help_printsUsageWithExitCodes() throws {
        let server = try ToolProcess("echo-server", ["--help"])
        defer { echoKill(server) }
        #expect(server.waitForExit(timeout: 10) == 0)
        #expect(server.stdout.hasPrefix("usage: echo-server"), "\(server.stdout)")
        #expect(server.stdout.contains("exit codes"))
        #expect(server.stderr.isEmpty)
    }

    /// An idle python3 client on `address` ("tcp:PORT" or "unix:PATH") that reports when it sees EOF.
    static let idleClient = """
        kind, where = sys.argv[1].split(':', 1)
        if kind == 'tcp':
            s = socket.create_connection(('127.0.0.1', int(where)), timeout=10)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(10)
            s.connect(where)
        print('idle', flush=True)
        data, eof = read_to_eof(s)
        s.close()
        report(data=data.decode('utf-8', 'replace'), eof=eof)
        """

    @Test(arguments: [SIGTERM, SIGINT])
    func echoServer_exits0AndEndsConnections_onSignal(_ signal: Int32) throws {
        let (server, port) = try startTCPEchoServerLikeAShell()
        defer { echoKill(server) }
        let client = try echoPython(Self.idleClient, ["tcp:\(port)"])
        defer { echoKill(client) }
        #expect(client.waitForOutput("idle"), "\(client.stderr)")
        #expect(server.waitForOutput("connected\n"), "\(server.stdout)")

        server.signal(signal)
        #expect(server.waitForExit(timeout: 5) == 0, "\(server.stdout) / \(server.stderr)")
        #expect(server.stdout.contains("shutting down"), "\(server.stdout)")
        let result = echoFinish(client, timeout: 10)
        #expect(result["eof"] as? Bool == true, "\(result)")
        #expect(result["data"] as? String == "")
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func echoServer_removesItsUnixSocket_onSignal(_ signal: Int32) throws {
        let dir = try EchoTempDir()
        defer { dir.remove() }
        let path = dir.path("echo.sock")
        let server = try startUnixEchoServer(path, likeAShell: true)
        defer { echoKill(server) }
        #expect(FileManager.default.fileExists(atPath: path))
        let client = try echoPython(Self.idleClient, ["unix:\(path)"])
        defer { echoKill(client) }
        #expect(client.waitForOutput("idle"), "\(client.stderr)")
        #expect(server.waitForOutput("connected\n"), "\(server.stdout)")

        server.signal(signal)
        #expect(server.waitForExit(timeout: 5) == 0, "\(server.stdout) / \(server.stderr)")
        #expect(!FileManager.default.fileExists(atPath: path), "socket file left behind")
        let result = echoFinish(client, timeout: 10)
        #expect(result["eof"] as? Bool == true, "\(result)")
    }

    @Test func echoServer_closesConnectionsBeyondTheLimit_withMaxConnections() throws {
        let (server, port) = try startEchoServer(["--max-connections", "1"])
        defer { echoKill(server) }
        let result = echoFinish(try echoPython(
            """
            port = int(sys.argv[1])
            first = socket.create_connection(('127.0.0.1', port), timeout=10)
            first.sendall(b'one')
            before = read_exactly(first, len(b'Repeating: one'))
            second = socket.create_connection(('127.0.0.1', port), timeout=5)
            second_data, second_eof = read_to_eof(second)
            second.close()
            first.sendall(b'two')
            after = read_exactly(first, len(b'Repeating: two'))
            first.close()
            report(before=before.decode(), after=after.decode(), second=second_data.hex(), second_eof=second_eof)
            """,
            [String(port)]))
        #expect(result["before"] as? String == "Repeating: one")
        #expect(result["second"] as? String == "", "the second client got data")
        #expect(result["second_eof"] as? Bool == true, "the second client was not closed at once")
        #expect(result["after"] as? String == "Repeating: two")
        #expect(server.waitForOutput("connection refused: --max-connections 1 reached\n"), "\(server.stdout)")
    }

    @Test func echoServer_logsNoPerMessageLines_withQuiet() throws {
        let (server, port) = try startTCPEchoServerLikeAShell(["--quiet"])
        defer { echoKill(server) }
        let result = echoFinish(try echoPython(Self.oneShotClient, [String(port), "hush"]))
        #expect(result["echo"] as? String == "Repeating: hush")
        server.signal(SIGTERM)
        #expect(server.waitForExit(timeout: 10) == 0)
        #expect(server.stdout == "listening on port \(port)\nshutting down\n", "\(server.stdout)")
        #expect(server.stderr.isEmpty, "\(server.stderr)")
    }

    /// Foundation's `Process` starts children with SIGINT and SIGTERM blocked; Node clears the mask at startup and
    /// still stops on SIGTERM. The server should not depend on how its parent left the signal mask.
    @Test func echoServer_stopsOnSIGTERM_evenWhenStartedWithSignalsBlocked() throws {
        let (server, _) = try startEchoServer()
        defer { echoKill(server) }
        server.signal(SIGTERM)
        let status = server.waitForExit(timeout: 5)
        #expect(status == 0, "exit \(status.map(String.init) ?? "none (still running)"): \(server.stdout) / \(server.stderr)")
        #expect(server.stdout.contains("shutting down"), "\(server.stdout)")
    }
}
