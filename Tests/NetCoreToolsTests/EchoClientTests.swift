import Foundation
import Testing

/// `echo-client` end to end: real processes and loopback sockets, bounded waits only.
@Suite struct EchoClientTests {
    /// The text between "connected to server" and "connection is closed", without line breaks and "Repeating: "
    /// markers: what the server sent back, independent of how TCP cut it into chunks.
    static func repeatedText(_ out: String) -> String {
        out.replacingOccurrences(of: "connected to server\n", with: "")
            .replacingOccurrences(of: "connection is closed\n", with: "")
            .replacingOccurrences(of: "Repeating: ", with: "")
            .replacingOccurrences(of: "\n", with: "")
    }

    static func expectCleanSession(_ client: ToolProcess, stdin: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let status = client.waitForExit(timeout: 10)
        #expect(status == 0, "exit \(status.map(String.init) ?? "none (still running)"): \(client.stdout) / \(client.stderr)",
                sourceLocation: sourceLocation)
        let out = client.stdout
        #expect(out.hasPrefix("connected to server\nRepeating: \(EchoGreeting.text)"), "\(out)", sourceLocation: sourceLocation)
        #expect(out.hasSuffix("\nconnection is closed\n"), "\(out)", sourceLocation: sourceLocation)
        #expect(repeatedText(out) == EchoGreeting.text + stdin.replacingOccurrences(of: "\n", with: ""), "\(out)",
                sourceLocation: sourceLocation)
        #expect(client.stderr.isEmpty, "\(client.stderr)", sourceLocation: sourceLocation)
    }

    @Test func echoClient_printsRepliesAndExits_whenStdinIsAClosedPipe() throws {
        let (server, port) = try startEchoServer()
        defer { echoKill(server) }
        let client = try ToolProcess("echo-client", ["localhost", String(port)])
        defer { echoKill(client) }
        client.send("a\nb\n")
        client.closeInput()
        Self.expectCleanSession(client, stdin: "a\nb\n")
        #expect(server.process.isRunning)
    }

    @Test func echoClient_printsRepliesAndExits_whenStdinIsARegularFile() throws {
        let (server, port) = try startEchoServer()
        defer { echoKill(server) }
        let dir = try EchoTempDir()
        defer { dir.remove() }
        let file = dir.path("input.txt")
        try Data("first line\nsecond line\n".utf8).write(to: URL(fileURLWithPath: file))
        let input = try #require(FileHandle(forReadingAtPath: file))
        defer { try? input.close() }
        let client = try ToolProcess("echo-client", ["localhost", String(port)], stdin: input)
        defer { echoKill(client) }
        Self.expectCleanSession(client, stdin: "first line\nsecond line\n")
    }

    @Test func echoClient_sendsOnlyTheGreetingAndExits_whenStdinIsDevNull() throws {
        let (server, port) = try startEchoServer()
        defer { echoKill(server) }
        let input = try #require(FileHandle(forReadingAtPath: "/dev/null"))
        defer { try? input.close() }
        let client = try ToolProcess("echo-client", ["localhost", String(port)], stdin: input)
        defer { echoKill(client) }
        Self.expectCleanSession(client, stdin: "")
        #expect(client.stdout == "connected to server\nRepeating: \(EchoGreeting.text)\nconnection is closed\n")
    }

    @Test func echoClient_decodesAUTF8CharacterSplitAcrossPackets() throws {
        // The server sends "€" (e2 82 ac) in two TCP segments, then ends the connection on its own.
        let peer = try echoPython(
            """
            listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            listener.bind(('127.0.0.1', 0))
            listener.listen(1)
            listener.settimeout(10)
            print('port', listener.getsockname()[1], 'ready', flush=True)
            conn, _ = listener.accept()
            conn.settimeout(10)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            greeting = read_exactly(conn, int(sys.argv[1]))
            conn.sendall(b'\\xe2\\x82')
            time.sleep(0.2)  # the peer's behaviour under test: two separate segments
            conn.sendall(b'\\xac\\n')
            conn.shutdown(socket.SHUT_WR)
            rest, eof = read_to_eof(conn)
            conn.close()
            report(greeting=greeting.decode('utf-8', 'replace'), rest=rest.hex(), eof=eof)
            """,
            [String(EchoGreeting.text.utf8.count)])
        defer { echoKill(peer) }
        #expect(peer.waitForOutput(" ready\n"), "python server did not start: \(peer.stderr)")
        let port = try #require(peer.stdout.split(separator: " ").dropFirst().first.flatMap { Int($0) },
                                "\(peer.stdout) / \(peer.stderr)")

        let client = try ToolProcess("echo-client", ["127.0.0.1", String(port)])  // stdin stays open
        defer { echoKill(client) }
        let status = client.waitForExit(timeout: 10)
        #expect(status == 0, "\(client.stdout) / \(client.stderr)")
        #expect(client.stdout == "connected to server\n€\nconnection is closed\n", "\(client.stdout.debugDescription)")
        #expect(!client.stdout.contains("\u{FFFD}"))

        let result = echoFinish(peer)
        #expect(result["greeting"] as? String == EchoGreeting.text)
        #expect(result["eof"] as? Bool == true, "echo-client did not end its side: \(result)")
    }

    @Test func echoClient_exits3_whenNobodyListens() throws {
        let reserved = try EchoReservedPort()
        let client = try ToolProcess("echo-client", ["localhost", String(reserved.port)])
        defer { echoKill(client) }
        #expect(client.waitForExit(timeout: 10) == 3, "\(client.stdout) / \(client.stderr)")
        #expect(client.stderr == "echo-client: could not connect to localhost:\(reserved.port): connection refused\n")
        #expect(!client.stdout.contains("connected to server"))
        #expect(!client.stdout.contains("connection is closed"))
    }

    @Test func echoClient_exits4_forAnUnknownHost() throws {
        let client = try ToolProcess("echo-client", ["nosuchhost.invalid", "8124"])
        defer { echoKill(client) }
        #expect(client.waitForExit(timeout: 15) == 4, "\(client.stdout) / \(client.stderr)")
        #expect(client.stderr.hasPrefix("echo-client: could not connect to nosuchhost.invalid:8124: "), "\(client.stderr)")
        #expect(client.stderr.filter { $0 == "\n" }.count == 1, "\(client.stderr)")
    }

    @Test func echoClient_exits3_forAMissingUnixSocket() throws {
        let dir = try EchoTempDir()
        defer { dir.remove() }
        let path = dir.path("missing.sock")
        let client = try ToolProcess("echo-client", ["--unix", path])
        defer { echoKill(client) }
        #expect(client.waitForExit(timeout: 10) == 3, "\(client.stdout) / \(client.stderr)")
        #expect(client.stderr.hasPrefix("echo-client: could not connect to \(path): "), "\(client.stderr)")
        #expect(client.stderr.filter { $0 == "\n" }.count == 1, "\(client.stderr)")
    }

    @Test func echoClient_talksOverAUnixSocket() throws {
        let dir = try EchoTempDir()
        defer { dir.remove() }
        let path = dir.path("echo.sock")
        let server = try startUnixEchoServer(path)
        defer { echoKill(server) }
        let client = try ToolProcess("echo-client", ["--unix", path])
        defer { echoKill(client) }
        client.send("over unix\n")
        client.closeInput()
        Self.expectCleanSession(client, stdin: "over unix\n")
        #expect(server.waitForOutput(#"over unix\n from \#(path)"#), "\(server.stdout)")
    }

    @Test func echoClient_rejectsABadCommandLine_withExit2() throws {
        for arguments in [["--bogus"], ["localhost", "0"], ["localhost", "80", "extra"], ["--unix", "/x", "localhost"]] {
            let client = try ToolProcess("echo-client", arguments)
            defer { echoKill(client) }
            #expect(client.waitForExit(timeout: 10) == 2, "\(arguments): \(client.stderr)")
            #expect(client.stderr.hasPrefix("echo-client: "), "\(arguments): \(client.stderr)")
            #expect(client.stderr.filter { $0 == "\n" }.count == 1, "\(arguments): \(client.stderr)")
            #expect(client.stdout.isEmpty, "\(arguments): \(client.stdout)")
        }
    }

    @Test func echoClient_help_printsUsageWithExitCodes() throws {
        let client = try ToolProcess("echo-client", ["--help"])
        defer { echoKill(client) }
        #expect(client.waitForExit(timeout: 10) == 0)
        #expect(client.stdout.hasPrefix("usage: echo-client"), "\(client.stdout)")
        #expect(client.stdout.contains("exit codes"))
        #expect(client.stderr.isEmpty)
    }
}

/// A loopback TCP port that is bound (IPv4 and IPv6, all addresses) but not listening, so connecting to it is
/// refused and no other process can take it while the test runs.
final class EchoReservedPort {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET6, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw POSIXError(.init(rawValue: errno) ?? .EIO) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_any
        var length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { sockaddrPointer in
                bind(fd, sockaddrPointer, length) == 0 && getsockname(fd, sockaddrPointer, &length) == 0
            }
        }
        guard bound else {
            close(fd)
            throw POSIXError(.init(rawValue: errno) ?? .EIO)
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin6_port))
    }

    deinit { close(fd) }
}
