import Foundation
import Testing

// Helpers shared by the RestServer, CookieServer and SessionServer suites. They build on HelloServerTests.swift
// (`readyPort`, `HelloConnection`) and ToolProcess.swift / UnixHTTPEndToEndTests.swift (`ToolProcess`, `uhKill`,
// `uhRun`, `UHSandbox`).

/// Starts course server `program` on 127.0.0.1, an ephemeral port (plus `extra`), and returns it with its port.
func startCourseServer(
    _ program: String,
    _ extra: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) throws -> (ToolProcess, Int) {
    let server = try ToolProcess(program, ["--port", "0", "--host", "127.0.0.1"] + extra)
    #expect(server.waitForOutput("/)\n", timeout: 20), "\(program) did not start: \(server.stdout) \(server.stderr)",
            sourceLocation: sourceLocation)
    let port = readyPort(server.stdout) ?? 0
    #expect(port > 0, "no port in \(server.stdout)", sourceLocation: sourceLocation)
    return (server, port)
}

typealias RawResponse = (status: Int, headers: [String: String], body: [UInt8])

extension HelloConnection {
    /// Sends raw bytes (for bodies that are not UTF-8).
    func send(bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HelloConnectionError(description: "send: errno \(errno)") }
            offset += n
        }
    }

    /// One keep-alive request with `body` (Content-Length framing when there is a body) and its response.
    func request(
        _ method: String,
        _ target: String,
        headers: [String] = [],
        body: [UInt8]? = nil
    ) throws -> RawResponse {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        for field in headers { head += field + "\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        try send(bytes: Array(head.utf8) + (body ?? []))
        return try readResponse()
    }

    func request(_ method: String, _ target: String, headers: [String] = [], text: String) throws -> RawResponse {
        try request(method, target, headers: headers, body: Array(text.utf8))
    }
}

/// The body of a response as text.
func bodyText(_ response: RawResponse) -> String { String(decoding: response.body, as: UTF8.self) }

/// The number of open descriptors of process `pid` (entries of /proc/PID/fd).
func openDescriptorCount(_ pid: Int32) -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd").count) ?? -1
}

/// Polls (bounded) until `pid`'s descriptor count is `expected`; returns the last count seen.
func settleDescriptorCount(_ pid: Int32, to expected: Int, timeout: TimeInterval = 10) -> Int {
    let deadline = Date().addingTimeInterval(timeout)
    var count = openDescriptorCount(pid)
    while count != expected && Date() < deadline {
        usleep(10_000)  // polling /proc: the kernel offers no wait for "a descriptor was closed"
        count = openDescriptorCount(pid)
    }
    return count
}

/// A fresh, short temp directory (for `--unix` sockets and `--root` trees), removed by `remove()`.
struct CourseTempDirectory {
    let path: String

    init() throws {
        path = "/tmp/cs-\(UUID().uuidString.prefix(8))-\(getpid())"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

// MARK: - What every course server shares

/// `--help`: exit 0, usage on stdout, nothing on stderr.
func expectHelp(_ program: String, mentions words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
    let server = try ToolProcess(program, ["--help"])
    defer { uhKill(server) }
    #expect(server.waitForExit() == 0, sourceLocation: sourceLocation)
    #expect(server.stdout.hasPrefix("usage: \(program)"), "\(server.stdout)", sourceLocation: sourceLocation)
    for word in ["--port", "--host", "--unix", "--quiet", "--workers", "exit codes"] + words {
        #expect(server.stdout.contains(word), "--help does not mention \(word)", sourceLocation: sourceLocation)
    }
    #expect(server.stderr.isEmpty, "\(server.stderr)", sourceLocation: sourceLocation)
}

/// A bad command line: exit 2 with one line on stderr.
func expectUsageError(_ program: String, _ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    let server = try ToolProcess(program, arguments)
    defer { uhKill(server) }
    #expect(server.waitForExit() == 2, "\(arguments)", sourceLocation: sourceLocation)
    #expect(server.stderr.hasPrefix("\(program): ") && server.stderr.hasSuffix(" (see --help)\n"),
            "stderr: \(server.stderr)", sourceLocation: sourceLocation)
    #expect(server.stderr.split(separator: "\n").count == 1, "stderr: \(server.stderr)", sourceLocation: sourceLocation)
    #expect(server.stdout.isEmpty, "stdout: \(server.stdout)", sourceLocation: sourceLocation)
}

/// A port that is taken: exit 3 with one line naming the port and EADDRINUSE.
func expectPortInUse(_ program: String, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation)
    throws
{
    let (first, port) = try startCourseServer(program, extra, sourceLocation: sourceLocation)
    defer { uhKill(first) }
    let second = try ToolProcess(program, ["--port", String(port), "--host", "127.0.0.1"] + extra)
    defer { uhKill(second) }
    #expect(second.waitForExit() == 3, sourceLocation: sourceLocation)
    #expect(second.stderr.split(separator: "\n").count == 1, "stderr: \(second.stderr)", sourceLocation: sourceLocation)
    #expect(second.stderr.contains("\(port)") && second.stderr.contains("EADDRINUSE"), "stderr: \(second.stderr)",
            sourceLocation: sourceLocation)
    #expect(first.process.isRunning, sourceLocation: sourceLocation)
}

/// SIGTERM while a keep-alive connection is idle: exit 0, `shutting down` last on stdout.
func expectCleanExitOnSIGTERM(
    _ program: String,
    _ extra: [String] = [],
    sourceLocation: SourceLocation = #_sourceLocation
) throws {
    let (server, port) = try startCourseServer(program, extra, sourceLocation: sourceLocation)
    defer { uhKill(server) }
    let connection = try HelloConnection(port: port)
    #expect(try connection.get().status == 200, sourceLocation: sourceLocation)
    server.signal(SIGTERM)
    #expect(server.waitForExit() == 0, sourceLocation: sourceLocation)
    #expect(server.stdout.hasSuffix("shutting down\n"), "\(server.stdout)", sourceLocation: sourceLocation)
    #expect(server.stderr.isEmpty, "\(server.stderr)", sourceLocation: sourceLocation)
}

/// `--unix PATH` on a fresh path: the `listening on PATH` line, then curl `--unix-socket` gets `expectedBody` for
/// `target`.
func expectServesUnixSocket(
    _ program: String,
    _ extra: [String] = [],
    target: String = "/",
    sourceLocation: SourceLocation = #_sourceLocation,
    check: (UHRun) -> Void
) throws {
    let directory = try CourseTempDirectory()
    defer { directory.remove() }
    let socket = directory.file("s.sock")
    let server = try ToolProcess(program, ["--unix", socket] + extra)
    defer { uhKill(server) }
    #expect(server.waitForOutput("listening on \(socket)\n", timeout: 20), "stdout: \(server.stdout) \(server.stderr)",
            sourceLocation: sourceLocation)
    let run = try uhRun(["curl", "-sS", "-i", "--max-time", "15", "--unix-socket", socket, "http://localhost" + target])
    #expect(run.status == 0, "curl: \(run.stderr)", sourceLocation: sourceLocation)
    check(run)
}
