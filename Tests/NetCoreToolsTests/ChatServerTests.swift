import Foundation
import Testing

/// `chat-server` end to end: the real binary, python `websockets` clients (installed by scripts/install-test-deps.sh).
@Suite struct ChatServerTests {
    static let hasWebsockets = (try? uhRun(["python3", "-c", "import websockets"]).status) == 0

    @Test func chatServer_help_andUsageErrors() throws {
        try expectHelp("chat-server", mentions: ["/ws", "/echo"])
        try expectUsageError("chat-server", ["--port", "x"])
        try expectUsageError("chat-server", ["extra"])
    }

    @Test func chatServer_servesThePlaceholderPage_andRefusesBadUpgrades() throws {
        let (server, port) = try startCourseServer("chat-server", ["--quiet"])
        defer { uhKill(server) }
        let page = try uhRun(["curl", "-sS", "--max-time", "15", "http://127.0.0.1:\(port)/"])
        #expect(page.stdout.contains("Socket.IO chat") && page.stdout.contains("/ws") && page.stdout.contains("/echo"))
        let upgrade = ["-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H",
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=="]
        let version = try uhRun(["curl", "-s", "-i", "--max-time", "15"] + upgrade
                                + ["-H", "Sec-WebSocket-Version: 7", "http://127.0.0.1:\(port)/echo"])
        #expect(version.stdout.hasPrefix("HTTP/1.1 426 "), "\(version.stdout)")
        #expect(version.stdout.contains("Sec-WebSocket-Version: 13"))
        let elsewhere = try uhRun(["curl", "-s", "-i", "--max-time", "15"] + upgrade
                                  + ["-H", "Sec-WebSocket-Version: 13", "http://127.0.0.1:\(port)/nowhere"])
        #expect(elsewhere.stdout.hasPrefix("HTTP/1.1 404 "), "\(elsewhere.stdout)")
    }

    static let clients = """
        import sys
        from websockets.sync.client import connect
        base = "ws://127.0.0.1:" + sys.argv[1]
        with connect(base + "/ws") as a, connect(base + "/ws") as b, connect(base + "/echo") as e:
            a.send("안녕하세요")
            print("a", a.recv(timeout=10)); print("b", b.recv(timeout=10))
            b.send("second")
            print("a", a.recv(timeout=10)); print("b", b.recv(timeout=10))
            e.send(b"\\x00\\x01"); print("echo", list(e.recv(timeout=10)))
            e.send("x" * 100000); print("echo", len(e.recv(timeout=10)))
        """

    @Test(.enabled(if: hasWebsockets, "needs python websockets")) func chatServer_broadcastsOnWs_andEchoesOnEcho() throws {
        let (server, port) = try startCourseServer("chat-server")
        defer { uhKill(server) }
        let run = try uhRun(["python3", "-c", Self.clients, String(port)])
        #expect(run.stdout == "a 안녕하세요\nb 안녕하세요\na second\nb second\necho [0, 1]\necho 100000\n",
                "\(run.stdout) \(run.stderr)")
        #expect(server.waitForOutput("클라이언트 접속이 해제되었습니다. (/ws)\n"), "\(server.stdout)")
        #expect(server.stdout.contains("새로운 클라이언트가 접속했습니다."))
    }

    static let lingering = """
        import sys
        from websockets.sync.client import connect
        with connect("ws://127.0.0.1:" + sys.argv[1] + "/ws") as ws:
            print("connected", flush=True)
            try:
                ws.recv(timeout=20)
            except Exception as error:
                print("closed", ws.close_code, flush=True)
        """

    /// SIGTERM with a WebSocket client connected: the client is told 1001 (going away) and the server exits 0.
    @Test(.enabled(if: hasWebsockets, "needs python websockets")) func chatServer_exitsCleanlyOnSIGTERM_withAClientConnected() throws {
        let (server, port) = try startCourseServer("chat-server", ["--quiet"])
        defer { uhKill(server) }
        let client = try ToolProcess("/usr/bin/env", ["python3", "-c", Self.lingering, String(port)])
        defer { uhKill(client) }
        #expect(client.waitForOutput("connected\n", timeout: 20))
        server.signal(SIGTERM)
        #expect(server.waitForExit() == 0)
        #expect(client.waitForOutput("closed 1001\n", timeout: 20), "\(client.stdout) \(client.stderr)")
    }

    @Test func chatServer_portInUse_exits3() throws {
        try expectPortInUse("chat-server")
    }
}
