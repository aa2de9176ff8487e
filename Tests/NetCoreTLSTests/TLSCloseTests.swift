import NetCore
import Testing

@testable import NetCoreTLS

/// How TLS streams end: close_notify vs a bare FIN vs destroy, in both directions, and allowHalfOpen over TLS.
/// python3's ssl (with suppress_ragged_eofs off) is the observer that tells a close_notify from a bare FIN.
@Suite struct TLSCloseTests {
    /// The observer: connects, sends "go\n", reads to the end, prints what it read and how the stream ended
    /// (`close_notify`, `ragged` for a FIN without close_notify, `reset`), or, in the `peer-*` modes, ends the
    /// stream itself after reading the reply ("peer-notify": close_notify via unwrap; "peer-fin": a bare FIN).
    static let observer = """
        import socket, ssl, sys
        port, ca, mode = int(sys.argv[1]), sys.argv[2], sys.argv[3]
        context = ssl.create_default_context(cafile=ca)
        raw = socket.create_connection(("127.0.0.1", port))
        s = context.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
        s.sendall(b"go\\n")
        data = b""
        if mode.startswith("peer-"):
            while not data.endswith(b"\\n"):
                data += s.recv(4096)
            if mode == "peer-notify":
                s.unwrap()   # sends close_notify, waits for the server's
                print(data.decode().strip(), "unwrapped")
            else:
                s.shutdown(socket.SHUT_WR)   # drops the TLS layer: a bare FIN, no close_notify
                rest = s.recv(4096)          # now the raw socket: what the server answers, undecrypted
                print(data.decode().strip(), "server answered the FIN with", "close_notify+FIN" if rest else "FIN")
            sys.exit(0)
        try:
            while True:
                chunk = s.recv(4096)
                if not chunk:
                    print(data.decode().strip(), "close_notify"); break
                data += chunk
        except ssl.SSLEOFError:
            print(data.decode().strip(), "ragged")
        except ConnectionResetError:
            print(data.decode().strip(), "reset")
        """

    enum ServerAction: String, CaseIterable, Sendable {
        case end, destroy, endInsideSecureConnection
    }

    @Test(.timeLimit(.minutes(1)), arguments: ServerAction.allCases)
    func serverEnds_observedByPython(_ action: ServerAction) throws {
        let pki = try TestPKI.shared
        var run: ToolRun?
        let log = EventLog()
        try runLoop(seconds: 30) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                log.record(socket)
                if action == .endInsideSecureConnection {
                    socket.end("bye\n")
                    socket.on(.data) { _ in }  // "go" arrives after our end; read it so `end` can follow
                    return
                }
                socket.on(.data) { _ in
                    socket.write("reply\n")
                    switch action {
                    case .end: socket.end()
                    case .destroy: loop.setTimeout(50) { socket.destroy() }  // after the reply left
                    case .endInsideSecureConnection: break
                    }
                }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                runTool(
                    ["python3", "-c", Self.observer, "\(server.address()!.port)", pki.path("ca"), "read"],
                    loop: loop
                ) {
                    run = $0
                    server.close()
                }
            }
        }
        #expect(run?.succeeded == true, "\(run?.stderr ?? "")")
        switch action {
        case .end:
            #expect(run?.stdout == "reply close_notify\n")
            #expect(log.events == ["finish", "end", "close false"])
        case .destroy:
            #expect(run?.stdout == "reply ragged\n")
            #expect(log.events == ["close false"])
        case .endInsideSecureConnection:
            #expect(run?.stdout == "bye close_notify\n")
            #expect(log.events.last == "close false")
        }
    }

    /// A peer's close_notify, and a bare FIN after the handshake, are both `end` with no error (Node's rule); the
    /// server then ends its side too (allowHalfOpen false): close_notify, then FIN.
    @Test(.timeLimit(.minutes(1)), arguments: ["peer-notify", "peer-fin"])
    func peerEnds_isEndWithoutError(_ mode: String) throws {
        let pki = try TestPKI.shared
        var run: ToolRun?
        let log = EventLog()
        try runLoop(seconds: 30) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                log.record(socket)
                socket.on(.data) { _ in socket.write("reply\n") }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                runTool(
                    ["python3", "-c", Self.observer, "\(server.address()!.port)", pki.path("ca"), mode],
                    loop: loop
                ) {
                    run = $0
                    server.close()
                }
            }
        }
        #expect(run?.succeeded == true, "\(run?.stderr ?? "")")
        #expect(log.events == ["end", "finish", "close false"])
        if mode == "peer-notify" {
            #expect(run?.stdout == "reply unwrapped\n")
        } else {
            #expect(run?.stdout == "reply server answered the FIN with close_notify+FIN\n")
        }
    }

    /// test-tls-connect-allow-half-open-option's intent, both ways: the side that ends first can still read, the
    /// other can still write after its `end`, and both close cleanly.
    @Test(.timeLimit(.minutes(1)), arguments: [true, false])
    func allowHalfOpen_bothDirections(_ serverEndsFirst: Bool) throws {
        var serverLog: [String] = []
        var clientLog: [String] = []
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions { $0.allowHalfOpen = true }, loop: loop) { socket in
                socket.on(.data) { serverLog.append("data \($0.string)") }
                socket.on(.end) {
                    serverLog.append("end")
                    if !serverEndsFirst { socket.end("late reply") }
                }
                socket.on(.close) { serverLog.append("close \($0)") }
                if serverEndsFirst { socket.end("first") }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(
                    clientOptions(port: server.address()!.port) { $0.allowHalfOpen = true },
                    loop: loop
                )
                client.on(.secureConnect) { if !serverEndsFirst { client.end("client done") } }
                client.on(.data) { clientLog.append("data \($0.string)") }
                client.on(.end) {
                    clientLog.append("end")
                    if serverEndsFirst {
                        client.write("after your end")
                        client.end()
                    }
                }
                client.on(.close) {
                    clientLog.append("close \($0)")
                    server.close()
                }
            }
        }
        if serverEndsFirst {
            #expect(clientLog == ["data first", "end", "close false"])
            #expect(serverLog == ["data after your end", "end", "close false"])
        } else {
            #expect(serverLog == ["data client done", "end", "close false"])
            #expect(clientLog == ["data late reply", "end", "close false"])
        }
    }

    /// `end()` before the handshake completes (writes queued, then close_notify) still delivers everything.
    @Test(.timeLimit(.minutes(1))) func clientWritesAndEndsBeforeHandshake_allDelivered() throws {
        var received = ""
        var serverEnded = false
        try runLoop { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                socket.on(.data) { received += $0.string }
                socket.on(.end) { serverEnded = true }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                #expect(client.write("one "))
                client.write("two")
                #expect(client.writableLength == 7)
                client.end()
                client.on(.data) { _ in }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(received == "one two")
        #expect(serverEnded)
    }
}
