import Foundation
import Testing

/// `hello-server` end to end (the seed's server1.js and server2.js): the real binary on loopback, raw sockets for
/// byte-exact checks, curl for an independent client, bounded waits only.
@Suite struct HelloServerTests {
    static let body = "<h1>Hello Node!</h1>Hello Server!"

    @Test func helloServer_sendsTheGreetingAsTwoChunks_byteExact() throws {
        let (server, port) = try startHelloServer()
        defer { uhKill(server) }
        let raw = try HelloConnection(port: port).exchangeUntilClose(
            "GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
        )
        let text = String(decoding: raw, as: UTF8.self)
        guard let split = text.range(of: "\r\n\r\n") else {
            Issue.record("no end of head in \(text.debugDescription)")
            return
        }
        let lines = text[..<split.lowerBound].components(separatedBy: "\r\n")
        #expect(lines.first == "HTTP/1.1 200 OK")
        let fields = lines.dropFirst().filter { !$0.hasPrefix("Date: ") }
        // Node's order: the handler's fields, Date, Connection, then the framing.
        #expect(fields == ["Content-Type: text/html; charset=utf-8", "Connection: close", "Transfer-Encoding: chunked"],
                "\(text.debugDescription)")
        #expect(lines.contains { $0.hasPrefix("Date: ") && $0.hasSuffix(" GMT") })
        #expect(text[split.upperBound...] == "14\r\n<h1>Hello Node!</h1>\r\nd\r\nHello Server!\r\n0\r\n\r\n",
                "\(text.debugDescription)")
    }

    @Test func helloServer_answersCurl() throws {
        let (server, port) = try startHelloServer()
        defer { uhKill(server) }
        let run = try uhRun(["curl", "-sS", "--max-time", "15", "-D", "-", "http://127.0.0.1:\(port)/any/path?x=1"])
        #expect(run.status == 0, "curl: \(run.stderr)")
        #expect(run.stdout.hasSuffix("\r\n\r\n" + Self.body), "\(run.stdout.debugDescription)")
        #expect(run.stdout.lowercased().contains("content-type: text/html; charset=utf-8\r\n"))
        // IPv6 loopback too: the default host is all interfaces, both families.
        let six = try uhRun(["curl", "-sS", "--max-time", "15", "http://[::1]:\(port)/"])
        #expect(six.status == 0 && six.stdout == Self.body, "curl: \(six.stderr)")
    }

    @Test func helloServer_answersAnHTTP10Client_withoutChunking() throws {
        let (server, port) = try startHelloServer()
        defer { uhKill(server) }
        let raw = try HelloConnection(port: port).exchangeUntilClose("GET / HTTP/1.0\r\n\r\n")
        let text = String(decoding: raw, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text.debugDescription)")
        #expect(!text.lowercased().contains("transfer-encoding"), "\(text.debugDescription)")
        #expect(text.hasSuffix("\r\n\r\n" + Self.body), "\(text.debugDescription)")
    }

    @Test func helloServer_servesManyRequestsOnOneKeepAliveConnection() throws {
        let (server, port) = try startHelloServer()
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        for _ in 0..<20 {
            let response = try connection.get()
            #expect(response.status == 200)
            #expect(response.body == Array(Self.body.utf8))
        }
    }

    @Test func helloServer_servesTheFileFreshOnEachRequest_withFile() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let file = box.path("server2.html")
        try "<html><body>첫 번째</body></html>\n".write(toFile: file, atomically: false, encoding: .utf8)
        let (server, port) = try startHelloServer(["--file", file])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let first = try connection.get()
        #expect(first.status == 200)
        #expect(first.headers["content-type"] == "text/html; charset=utf-8")
        #expect(first.body == Array("<html><body>첫 번째</body></html>\n".utf8))
        // Rewritten on disk: the next request reads it again, as fs.readFile does.
        try "second".write(toFile: file, atomically: false, encoding: .utf8)
        let second = try connection.get()
        #expect(second.body == Array("second".utf8))
        // writeHead, then end(data): Node frames the seed's response chunked.
        #expect(second.headers["transfer-encoding"] == "chunked")
    }

    @Test func helloServer_answers500WithNodesMessage_whenTheFileIsMissing() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let file = box.path("missing.html")
        let (server, port) = try startHelloServer(["--file", file])
        defer { uhKill(server) }
        let response = try HelloConnection(port: port).get()
        #expect(response.status == 500)
        #expect(response.headers["content-type"] == "text/plain; charset=utf-8")
        let message = "ENOENT: no such file or directory, open '\(file)'"
        #expect(String(decoding: response.body, as: UTF8.self) == message)
        #expect(server.waitForError(message), "stderr: \(server.stderr)")
        // A directory fails like Node's readFile does, in read(2).
        let (dirServer, dirPort) = try startHelloServer(["--file", box.root])
        defer { uhKill(dirServer) }
        let directory = try HelloConnection(port: dirPort).get()
        #expect(directory.status == 500)
        #expect(String(decoding: directory.body, as: UTF8.self) == "EISDIR: illegal operation on a directory, read")
    }

    @Test func helloServer_listensOnAUnixSocket() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try ToolProcess("hello-server", ["--unix", box.socket])
        defer { uhKill(server) }
        #expect(server.waitForOutput("listening on \(box.socket)\n"), "stdout: \(server.stdout) stderr: \(server.stderr)")
        let run = try uhCurl(box, [uhURL("/")])
        #expect(run.status == 0 && run.stdout == Self.body, "curl: \(run.stderr)")
    }

    @Test func helloServer_exits3WithOneLine_whenThePortIsInUse() throws {
        let (first, port) = try startHelloServer()
        defer { uhKill(first) }
        let second = try ToolProcess("hello-server", ["--port", String(port)])
        defer { uhKill(second) }
        #expect(second.waitForExit() == 3)
        let lines = second.stderr.split(separator: "\n")
        #expect(lines.count == 1, "stderr: \(second.stderr)")
        #expect(second.stderr.contains("cannot listen on port \(port)") && second.stderr.contains("EADDRINUSE"),
                "stderr: \(second.stderr)")
        #expect(second.stdout.isEmpty)
    }

    @Test(arguments: [
        ["--bogus"], ["--port", "70000"], ["--port"], ["extra"], ["--unix", "/tmp/x.sock", "--workers", "2"],
        ["--unix", "/tmp/x.sock", "--port", "1"], ["--workers", "-1"], ["--file", ""],
    ])
    func helloServer_exits2WithOneLine_onABadCommandLine(_ arguments: [String]) throws {
        let server = try ToolProcess("hello-server", arguments)
        defer { uhKill(server) }
        #expect(server.waitForExit() == 2)
        #expect(server.stderr.hasPrefix("hello-server: ") && server.stderr.hasSuffix(" (see --help)\n"),
                "stderr: \(server.stderr)")
        #expect(server.stderr.split(separator: "\n").count == 1)
        #expect(server.stdout.isEmpty)
    }

    @Test func helloServer_printsHelp_andExits0() throws {
        let server = try ToolProcess("hello-server", ["--help"])
        defer { uhKill(server) }
        #expect(server.waitForExit() == 0)
        let help = server.stdout
        #expect(help.hasPrefix("usage: hello-server"))
        for word in ["--port", "--host", "--unix", "--quiet", "--workers", "--file", "--headers-timeout",
                     "--request-timeout", "--keep-alive-timeout", "exit codes", "per worker"] {
            #expect(help.contains(word), "missing \(word)")
        }
        #expect(server.stderr.isEmpty)
    }

    @Test(arguments: [SIGTERM, SIGINT])
    func helloServer_exits0_onSignal(_ signal: Int32) throws {
        let (server, port) = try startHelloServer()
        defer { uhKill(server) }
        // An idle keep-alive connection must not hold the shutdown up.
        let connection = try HelloConnection(port: port)
        #expect(try connection.get().status == 200)
        server.signal(signal)
        #expect(server.waitForExit() == 0)
        #expect(server.stdout.hasSuffix("shutting down\n"), "\(server.stdout)")
        #expect(server.stderr.isEmpty, "\(server.stderr)")
    }
}

// MARK: - Helpers for the HelloServer and Workers suites

/// The port in a course server's ready line `… (http://HOST:PORT/)`.
func readyPort(_ output: String) -> Int? {
    guard let match = output.firstMatch(of: /서버 대기 중입니다! \(https?:\/\/(?:\[[^\]]+\]|[^:\/]+):(\d+)\/\)/) else {
        return nil
    }
    return Int(match.1)
}

/// Starts hello-server on an ephemeral port (plus `extra`) and returns it with the port of its ready line.
func startHelloServer(_ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws
    -> (ToolProcess, Int)
{
    let server = try ToolProcess("hello-server", ["--port", "0"] + extra)
    #expect(server.waitForOutput("/)\n", timeout: 20), "hello-server did not start: \(server.stdout) \(server.stderr)",
            sourceLocation: sourceLocation)
    let port = readyPort(server.stdout) ?? 0
    #expect(port > 0, "no port in \(server.stdout)", sourceLocation: sourceLocation)
    return (server, port)
}

extension ToolProcess {
    /// Waits until stderr contains `text` (bounded, polling: stderr has no line waiter).
    func waitForError(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while !stderr.contains(text) {
            if Date() > deadline { return false }
            usleep(5000)
        }
        return true
    }
}

struct HelloConnectionError: Error, CustomStringConvertible {
    let description: String
}

/// A blocking loopback TCP client with a receive timeout: one request at a time, keep-alive, responses parsed
/// just enough (status, lower-cased headers, body by Content-Length, chunked framing or end of file).
final class HelloConnection {
    let fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw HelloConnectionError(description: "socket: errno \(errno)") }
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == 0 else {
            let error = errno
            close(fd)
            throw HelloConnectionError(description: "connect: errno \(error)")
        }
    }

    deinit { close(fd) }

    func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw HelloConnectionError(description: "send: errno \(errno)") }
            offset += n
        }
    }

    /// Reads more bytes into the buffer; false at end of file.
    private func fill() throws -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n < 0 { throw HelloConnectionError(description: "recv: errno \(errno)") }
        buffer += chunk[0..<n]
        return n > 0
    }

    /// Sends `request` and reads until the server closes.
    func exchangeUntilClose(_ request: String) throws -> [UInt8] {
        try send(request)
        while try fill() {}
        defer { buffer = [] }
        return buffer
    }

    /// One `GET /` (keep-alive) and its response.
    func get(_ target: String = "/") throws -> (status: Int, headers: [String: String], body: [UInt8]) {
        try send("GET \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n")
        return try readResponse()
    }

    func readResponse() throws -> (status: Int, headers: [String: String], body: [UInt8]) {
        let separator: [UInt8] = [13, 10, 13, 10]
        var headEnd: Int?
        while headEnd == nil {
            headEnd = buffer.count < 4 ? nil : (0...(buffer.count - 4)).first { Array(buffer[$0..<($0 + 4)]) == separator }
            if headEnd == nil, try !fill() { throw HelloConnectionError(description: "end of file in the head") }
        }
        let head = String(decoding: buffer[0..<headEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        buffer.removeFirst(headEnd! + 4)
        let status = head.first.flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") } ?? 0
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        var body: [UInt8] = []
        if let length = headers["content-length"].flatMap(Int.init) {
            while buffer.count < length {
                if try !fill() { throw HelloConnectionError(description: "end of file in the body") }
            }
            body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else if headers["transfer-encoding"] == "chunked" {
            while true {
                while !buffer.contains(10) {
                    if try !fill() { throw HelloConnectionError(description: "end of file in a chunk size") }
                }
                let lineEnd = buffer.firstIndex(of: 10)!
                let size = Int(String(decoding: buffer[0..<lineEnd], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), radix: 16) ?? -1
                guard size >= 0 else { throw HelloConnectionError(description: "bad chunk size") }
                while buffer.count < lineEnd + 1 + size + 2 {
                    if try !fill() { throw HelloConnectionError(description: "end of file in a chunk") }
                }
                body += buffer[(lineEnd + 1)..<(lineEnd + 1 + size)]
                buffer.removeFirst(lineEnd + 1 + size + 2)
                if size == 0 { break }
            }
        } else {
            while try fill() {}
            body = buffer
            buffer = []
        }
        return (status, headers, body)
    }
}
