import Foundation
import Testing

/// `echo-client` typed at through a real terminal (a pseudo-terminal driven by python3's `pty` module).
@Suite struct EchoTerminalTests {
    /// Forks argv[1] (echo-client) on a pty with the remaining arguments, types two lines and Ctrl-D, and reports
    /// which steps were seen, the exit status and the terminal output. Every wait is select()-bounded.
    static let typist = #"""
        import pty
        pid, fd = pty.fork()
        if pid == 0:
            try:
                os.execv(sys.argv[1], sys.argv[1:])
            finally:
                os._exit(127)

        output = b''

        def pump(timeout):
            """Reads what arrives within timeout; False once the terminal is gone."""
            global output
            ready, _, _ = select.select([fd], [], [], max(timeout, 0))
            if not ready:
                return True
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                return False
            if not chunk:
                return False
            output += chunk
            return True

        def wait_for(text, timeout=10):
            deadline = time.monotonic() + timeout
            while text not in output:
                left = deadline - time.monotonic()
                if left <= 0 or not pump(left):
                    return text in output
            return True

        steps = {}
        steps['connected'] = wait_for(b'Repeating: Who needs a browser to communicate?')
        os.write(fd, b'one\r')
        steps['one'] = wait_for(b'Repeating: one')
        os.write(fd, b'two\r')
        steps['two'] = wait_for(b'Repeating: two')
        os.write(fd, b'\x04')
        steps['closed'] = wait_for(b'connection is closed')

        status = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            done, raw = os.waitpid(pid, os.WNOHANG)
            if done:
                status = os.waitstatus_to_exitcode(raw)
                break
            if not pump(0.05):
                time.sleep(0.01)  # terminal closed, the exit status is due at once
        else:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        report(steps=steps, status=status, output=output.decode('utf-8', 'replace'))
        """#

    @Test func echoClient_interactiveSession_throughATerminal() throws {
        let (server, port) = try startEchoServer()
        defer { echoKill(server) }
        let echoClient = productsDirectory.appendingPathComponent("echo-client").path
        let result = echoFinish(try echoPython(Self.typist, [echoClient, "localhost", String(port)]), timeout: 45)
        let output = result["output"] as? String ?? ""
        let steps = result["steps"] as? [String: Bool] ?? [:]
        #expect(steps["connected"] == true, "\(output.debugDescription)")
        #expect(steps["one"] == true, "\(output.debugDescription)")
        #expect(steps["two"] == true, "\(output.debugDescription)")
        #expect(steps["closed"] == true, "\(output.debugDescription)")
        #expect(result["status"] as? Int == 0, "status \(String(describing: result["status"])): \(output.debugDescription)")
        #expect(output.contains("Repeating: one\r\n") && output.contains("Repeating: two\r\n"), "\(output.debugDescription)")

        #expect(server.waitForOutput("client closed connection"), "\(server.stdout)")
        #expect(server.stdout.contains(#"one\n from "#) && server.stdout.contains(#"two\n from "#), "\(server.stdout)")
    }
}
