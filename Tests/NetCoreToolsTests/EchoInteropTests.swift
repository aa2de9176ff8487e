import Foundation
import Testing

/// The command-line tools against the seed's Node originals (O'Reilly examples 3-2 and 3-3) and a raw python3 socket,
/// byte for byte.
@Suite struct EchoInteropTests {
    /// Example 3-2 as printed in the seed, with the seed's own fix (an `error` handler), listening on port 0 and
    /// announcing the port; it also logs every chunk it receives in hex so the test can check the bytes exactly.
    static let nodeEchoServer = #"""
        var net = require('net');
        var received = [];
        var server = net.createServer(function(conn){
            console.log('connected');
            conn.on('data', function(data){
                received.push(data);
                console.log('chunk ' + data.toString('hex'));
                console.log(data + ' from ' + conn.remoteAddress + '' + conn.remotePort);
                conn.write('Repeating: '+data);
            });
            conn.on('close', function(){
                console.log('received ' + Buffer.concat(received).toString('hex'));
                console.log('cliend closed connection');
            });
            conn.on('error', function(){});
        }).listen(0, function(){
            console.log('listening on port ' + server.address().port);
        });
        """#

    /// Example 3-3 as printed in the seed (greeting typo included), taking the port from the command line.
    static let nodeEchoClient = #"""
        var net = require('net');

        var client = new net.Socket();
        client.setEncoding('utf8');

        client.connect(process.argv[process.argv.length - 1],'localhost',function(){
            console.log('connected to server');
            client.write('Who needs a browser to commnicate?');
        });

        process.stdin.resume();

        process.stdin.on('data', function(data){
            client.write(data);
        });

        client.on('data', function(data){
            console.log(data);
        })

        client.on('close',function(){
            console.log('connection is closed');
        })
        """#

    @Test func echoClient_sendsGreetingThenStdinBytes_toTheSeedNodeServer() throws {
        let node = try ToolProcess("/usr/bin/env", ["node", "-e", Self.nodeEchoServer])
        defer { echoKill(node) }
        #expect(node.waitForOutput("listening on port "), "node server did not start: \(node.stderr)")
        let portLine = node.stdout.split(separator: "\n").first { $0.hasPrefix("listening on port ") } ?? ""
        let port = try #require(Int(portLine.dropFirst("listening on port ".count)))

        let stdin = "hello\nworld é\n"
        let client = try ToolProcess("echo-client", ["localhost", String(port)])
        defer { echoKill(client) }
        client.send(stdin)
        client.closeInput()
        let status = client.waitForExit(timeout: 10)
        #expect(status == 0, "echo-client: \(client.stdout) / \(client.stderr)")
        #expect(client.stderr.isEmpty)

        // The Node server logs the whole byte stream when the connection closes.
        #expect(node.waitForOutput("cliend closed connection"), "node: \(node.stdout)")
        let received = node.stdout.split(separator: "\n").first { $0.hasPrefix("received ") }.map { String($0.dropFirst(9)) }
        #expect(received == echoHex(Array((EchoGreeting.text + stdin).utf8)), "node: \(node.stdout)")

        // echo-client printed the server's replies, "Repeating: " + each chunk, one chunk per line.
        let chunks = node.stdout.split(separator: "\n").filter { $0.hasPrefix("chunk ") }
            .map { String(decoding: echoBytes(fromHex: String($0.dropFirst(6))), as: UTF8.self) }
        let out = client.stdout
        #expect(out.hasPrefix("connected to server\n"), "\(out)")
        #expect(out.hasSuffix("\nconnection is closed\n"), "\(out)")
        #expect(out.contains("Repeating: \(EchoGreeting.text)"), "\(out)")
        let body = out.dropFirst("connected to server\n".count).dropLast("connection is closed\n".count)
        // Chunk boundaries may differ on the way back; without the line breaks added between chunks the text is exact.
        let replies = chunks.map { "Repeating: " + $0 }.joined()
        #expect(body.replacingOccurrences(of: "\n", with: "") == replies.replacingOccurrences(of: "\n", with: ""),
                "body \(body.debugDescription) vs replies \(replies.debugDescription)")
    }

    @Test func seedNodeClient_getsItsGreetingRepeated_byEchoServer() throws {
        let (server, port) = try startEchoServer()
        defer { echoKill(server) }
        let node = try ToolProcess("/usr/bin/env", ["node", "-e", Self.nodeEchoClient, String(port)])
        defer { echoKill(node) }

        #expect(node.waitForOutput("connected to server\n"), "node: \(node.stdout) \(node.stderr)")
        #expect(node.waitForOutput("Repeating: Who needs a browser to commnicate?"), "node: \(node.stdout) \(node.stderr)")
        node.send("typed line\n")
        #expect(node.waitForOutput("Repeating: typed line\n"), "node: \(node.stdout) \(node.stderr)")

        #expect(server.waitForOutput("Who needs a browser to commnicate? from "), "server: \(server.stdout)")
        #expect(server.waitForOutput(#"typed line\n from "#), "server: \(server.stdout)")

        node.signal(SIGKILL)
        #expect(node.waitForExit(timeout: 10) != nil)
        // The server notices the client went away and keeps running.
        #expect(server.waitForOutput("client closed connection"), "server: \(server.stdout) \(server.stderr)")
        #expect(server.process.isRunning)
    }

    @Test func echoServer_repeatsBinaryBytesExactly_andLogsThemEscapedOnOneLine() throws {
        let (server, port) = try startEchoServer()
        defer { echoKill(server) }
        let payload: [UInt8] = [0x00, 0xFF, 0x41, 0x42, 0x01, 0x7F, 0x00]
        let peer = try echoPython(
            """
            s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=10)
            local_port = s.getsockname()[1]
            payload = bytes.fromhex(sys.argv[2])
            s.sendall(payload)
            echo = read_exactly(s, len(b'Repeating: ') + len(payload))
            s.close()
            report(port=local_port, echo=echo.hex())
            """,
            [String(port), echoHex(payload)])
        defer { echoKill(peer) }
        let result = echoFinish(peer)
        #expect(result["echo"] as? String == echoHex(Array("Repeating: ".utf8) + payload))

        let escaped = #"\x00\xffAB\x01\x7f\x00"#
        let clientPort = try #require(result["port"] as? Int)
        #expect(server.waitForOutput("\(escaped) from "), "server: \(server.stdout)")
        let line = server.stdout.split(separator: "\n").first { $0.hasPrefix(escaped) }.map(String.init)
        #expect(
            line == "\(escaped) from ::ffff:127.0.0.1 \(clientPort)" || line == "\(escaped) from 127.0.0.1 \(clientPort)",
            "log line \(line ?? "none")")
        #expect(!server.stdout.contains("\0") && !server.stdout.contains("\u{FFFD}"), "raw bytes in the log")
    }
}

// MARK: - Peers shared by the Echo* suites

enum EchoGreeting {
    /// echo-client's default greeting (the seed's, with its typo fixed).
    static let text = "Who needs a browser to communicate?"
}

/// Helpers every python3 peer script starts with.
let echoPythonPrelude = #"""
    import json, os, select, socket, struct, sys, time

    def read_exactly(s, n):
        data = b''
        while len(data) < n:
            chunk = s.recv(n - len(data))
            if not chunk:
                break
            data += chunk
        return data

    def read_to_eof(s):
        """Returns (data, saw_eof); a timeout or a reset ends the read without EOF."""
        data = b''
        while True:
            try:
                chunk = s.recv(65536)
            except (socket.timeout, ConnectionResetError):
                return data, False
            if not chunk:
                return data, True
            data += chunk

    def report(**fields):
        print(json.dumps(fields), flush=True)

    """#

/// Starts `python3 -c <prelude + script> args…`.
func echoPython(_ script: String, _ arguments: [String] = []) throws -> ToolProcess {
    try ToolProcess("/usr/bin/env", ["python3", "-c", echoPythonPrelude + script] + arguments)
}

/// Waits for a peer script to finish and returns the JSON object it reported last (empty on failure, with an issue).
func echoFinish(_ peer: ToolProcess, timeout: TimeInterval = 20, sourceLocation: SourceLocation = #_sourceLocation)
    -> [String: Any]
{
    let status = peer.waitForExit(timeout: timeout)
    #expect(status == 0, "peer script: exit \(status.map(String.init) ?? "none"); stderr: \(peer.stderr)",
            sourceLocation: sourceLocation)
    guard let last = peer.stdout.split(separator: "\n").last,
          let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
    else {
        Issue.record("peer script reported nothing: \(peer.stdout) \(peer.stderr)", sourceLocation: sourceLocation)
        return [:]
    }
    return object
}

func echoHex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func echoBytes(fromHex hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    var index = hex.startIndex
    while index < hex.endIndex, let end = hex.index(index, offsetBy: 2, limitedBy: hex.endIndex) {
        bytes.append(UInt8(hex[index..<end], radix: 16) ?? 0)
        index = end
    }
    return bytes
}

/// A fresh temporary directory for Unix sockets and input files, removed by `remove()`.
struct EchoTempDir {
    let url: URL

    init() throws {
        url = URL(fileURLWithPath: "/tmp").appendingPathComponent("echo-\(UUID().uuidString.prefix(8))-\(getpid())")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: false)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    func remove() { try? FileManager.default.removeItem(at: url) }
}

/// Starts echo-server on a Unix socket at `path` and waits for it to listen.
/// With `likeAShell`, through `echoShellLauncher` so that it can be stopped by a signal.
func startUnixEchoServer(
    _ path: String, _ extra: [String] = [], likeAShell: Bool = false, sourceLocation: SourceLocation = #_sourceLocation
) throws -> ToolProcess {
    let arguments = ["--unix", path] + extra
    let server = likeAShell ? try startEchoServerLikeAShell(arguments) : try ToolProcess("echo-server", arguments)
    #expect(server.waitForOutput("listening on \(path)\n"), "echo-server did not start: \(server.stderr)",
            sourceLocation: sourceLocation)
    return server
}

/// Runs argv[1:] the way a login shell would: every signal unblocked, SIGINT/SIGPIPE/SIGXFSZ at their default action.
/// Foundation's `Process` (used by ToolProcess) starts children with most signals blocked, SIGINT and SIGTERM
/// included; the signal tests need a server that can receive them (see also
/// `echoServer_stopsOnSIGTERM_evenWhenStartedWithSignalsBlocked`).
let echoShellLauncher = """
    import os, signal, sys
    for number in (signal.SIGINT, signal.SIGPIPE, signal.SIGXFSZ):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    os.execv(sys.argv[1], sys.argv[1:])
    """

/// Starts echo-server through `echoShellLauncher` (same pid: the launcher execs) with `arguments`.
func startEchoServerLikeAShell(_ arguments: [String]) throws -> ToolProcess {
    let executable = productsDirectory.appendingPathComponent("echo-server").path
    return try ToolProcess("/usr/bin/env", ["python3", "-c", echoShellLauncher, executable] + arguments)
}

/// `startEchoServer` through `echoShellLauncher`: on an ephemeral port, returning the port it announced.
func startTCPEchoServerLikeAShell(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation)
    throws -> (ToolProcess, Int)
{
    let server = try startEchoServerLikeAShell(["--port", "0"] + extra)
    #expect(server.waitForOutput("listening on port "), "echo-server did not start: \(server.stderr)",
            sourceLocation: sourceLocation)
    _ = server.waitForOutput("\n", timeout: 5)
    let line = server.stdout.split(separator: "\n").first { $0.hasPrefix("listening on port ") } ?? ""
    return (server, Int(line.dropFirst("listening on port ".count)) ?? 0)
}

/// Kills `process` if it is still running. ToolProcess's own clean-up sends SIGTERM, which children of Foundation's
/// `Process` have blocked, so a server or a stuck client would outlive the test run without this.
func echoKill(_ process: ToolProcess) {
    if process.process.isRunning { process.signal(SIGKILL) }
}
