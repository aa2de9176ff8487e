import Foundation
import Testing

/// Counts a live server's open descriptors (/proc/PID/fd) before and after every kind of connection ending: none
/// may leak. Runs against the real echo-server process, so parallel tests in this process cannot disturb the count.
@Suite struct DescriptorCountTests {
    private func openDescriptors(_ pid: Int32) -> Int {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
    }

    /// Polls (bounded) until the server's descriptor count returns to `expected`; returns the last count seen.
    private func settle(_ pid: Int32, to expected: Int, timeout: TimeInterval = 10) -> Int {
        let deadline = Date().addingTimeInterval(timeout)
        var count = openDescriptors(pid)
        while count != expected && Date() < deadline {
            usleep(10_000)
            count = openDescriptors(pid)
        }
        return count
    }

    @Test func echoServer_returnsToBaselineDescriptors_afterCleanResetAndHalfOpenClients() throws {
        let (server, port) = try startEchoServer(["--quiet"])
        defer { server.signal(SIGKILL) }
        let pid = server.process.processIdentifier
        let baseline = openDescriptors(pid)
        #expect(baseline > 0)

        let script = #"""
            import socket, struct, sys
            port = int(sys.argv[1])
            def echo(s, msg):
                s.sendall(msg)
                want = b"Repeating: " + msg
                got = b""
                while len(got) < len(want):
                    chunk = s.recv(65536)
                    if not chunk: break
                    got += chunk
                assert got == want, (got, want)
            for i in range(60):
                s = socket.create_connection(("127.0.0.1", port))
                kind = i % 4
                if kind == 0:      # clean close after an echo
                    echo(s, b"clean %d" % i); s.close()
                elif kind == 1:    # reset (RST) right after sending
                    s.sendall(b"reset"); s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)); s.close()
                elif kind == 2:    # half-close, read to EOF
                    s.sendall(b"half"); s.shutdown(socket.SHUT_WR)
                    while s.recv(65536): pass
                    s.close()
                else:              # connect and vanish without sending
                    s.close()
            print("done")
            """#
        let client = try ToolProcess("/usr/bin/env", ["python3", "-c", script, String(port)])
        #expect(client.waitForExit(timeout: 30) == 0, "client failed: \(client.stderr)")
        #expect(client.stdout.contains("done"))
        #expect(settle(pid, to: baseline) == baseline, "descriptors did not return to the baseline of \(baseline)")
    }
}
