import Foundation
import Testing

/// unix-http end to end: the real server binary over a Unix socket, driven by curl, the seed's Node client and
/// server (O'Reilly examples 3-4 and 3-5), the `get` client, and python3 (`http.client` and raw sockets).
@Suite struct UnixHTTPCurlTests {
    @Test func unixHTTP_streamsCounterLinesThenFile_toCurl() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }

        let run = try uhCurl(box, ["-D", box.path("head.txt"), "-o", box.path("body.bin"), uhURL("/?file=main.txt")])
        #expect(run.status == 0, "curl: \(run.stderr)")
        let head = uhParseHead(uhText(box.path("head.txt")))
        #expect(head.statusLine == "HTTP/1.1 200 OK")
        #expect(head.headers["content-type"] == "text/plain; charset=utf-8")
        #expect(head.headers["transfer-encoding"] == "chunked")
        #expect(head.headers["content-length"] == nil)
        #expect(head.headers["date"] != nil)
        let body = uhBytes(box.path("body.bin"))
        #expect(body == uhExpected(UHSandbox.mainText), "body: \(String(decoding: body, as: UTF8.self).debugDescription)")

        // Like the seed, the query is logged first; then the access log line.
        #expect(server.waitForOutput("GET /?file=main.txt 200 \(uhExpected(UHSandbox.mainText).count) bytes "),
                "server: \(server.stdout)")
        let lines = server.stdout.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let access = lines.firstIndex { $0.hasPrefix("GET /?file=main.txt 200 ") }
        #expect(access.map { $0 > 0 && lines[$0 - 1] == "file=main.txt" } == true, "server: \(server.stdout)")

        // Without a file parameter: the 100 lines, then one usage line; the seed's `null` query is logged.
        let bare = try uhCurl(box, ["-o", box.path("bare.bin"), uhURL("/")])
        #expect(bare.status == 0, "curl: \(bare.stderr)")
        let bareText = uhText(box.path("bare.bin"))
        #expect(bareText.hasPrefix(uhCounterLines), "\(bareText.debugDescription)")
        let hint = bareText.dropFirst(uhCounterLines.count)
        #expect(hint.hasPrefix("usage:") && hint.hasSuffix("\n") && hint.filter { $0 == "\n" }.count == 1,
                "hint: \(hint.debugDescription)")
        #expect(server.waitForOutput("null\nGET / 200 "), "server: \(server.stdout)")
    }

    @Test func unixHTTP_framesTheBodyAsChunks_visibleWithCurlRaw() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }

        let run = try uhCurl(box, ["--raw", "-o", box.path("raw.bin"), uhURL("/?file=main.txt")])
        #expect(run.status == 0, "curl: \(run.stderr)")
        let raw = uhBytes(box.path("raw.bin"))
        let text = String(decoding: raw, as: UTF8.self)
        #expect(text.hasSuffix("\r\n0\r\n\r\n"), "raw: \(text.debugDescription)")
        #expect(text.first?.isHexDigit == true, "raw: \(text.debugDescription)")
        let decoded = uhDechunk(raw)
        #expect(decoded?.body == uhExpected(UHSandbox.mainText), "raw: \(text.debugDescription)")
        #expect(decoded?.rest == [], "bytes after the last chunk: \(text.debugDescription)")
        #expect((decoded?.chunkCount ?? 0) >= 2, "expected the counter lines and the file as separate chunks")
    }

    /// Files above the small-file limit go out with sendfile(2): byte-exact, one chunk, and the keep-alive
    /// connection still frames the next response correctly. A file rewritten on disk is served as it is now.
    @Test func unixHTTP_sendsALargeFileByteExact_withSendfile_andServesItFreshAfterAChange() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        var big = [UInt8](repeating: 0, count: 3 * 1024 * 1024 + 17)
        for index in big.indices { big[index] = UInt8(truncatingIfNeeded: (index &* 2_654_435_761) >> 13) }
        try Data(big).write(to: URL(fileURLWithPath: box.root + "/big.bin"))
        let server = try uhStartServer(box, ["--quiet"])
        defer { uhKill(server) }

        // Two URLs in one curl: the big file, then a small one on the same connection.
        let run = try uhCurl(box, ["--raw", "-o", box.path("raw1.bin"), uhURL("/?file=big.bin"),
                                   "-o", box.path("raw2.bin"), uhURL("/?file=main.txt")])
        #expect(run.status == 0, "curl: \(run.stderr)")
        #expect(run.stderr.isEmpty, "curl: \(run.stderr)")
        let decoded = uhDechunk(uhBytes(box.path("raw1.bin")))
        #expect(decoded?.body == Array(uhCounterLines.utf8) + big, "the large file differs")
        #expect(decoded?.chunkCount == 2, "the counter lines, then the file as one chunk")
        #expect(decoded?.rest == [])
        #expect(uhDechunk(uhBytes(box.path("raw2.bin")))?.body == uhExpected(UHSandbox.mainText))

        // Rewritten with other bytes and another size: the next request sees the new file.
        let changed = Array(big.reversed().prefix(2 * 1024 * 1024 + 5))
        try Data(changed).write(to: URL(fileURLWithPath: box.root + "/big.bin"))
        let again = try uhCurl(box, ["--raw", "-o", box.path("raw3.bin"), uhURL("/?file=big.bin")])
        #expect(again.status == 0, "curl: \(again.stderr)")
        #expect(uhDechunk(uhBytes(box.path("raw3.bin")))?.body == Array(uhCounterLines.utf8) + changed,
                "the rewritten file was not served fresh")
    }

    @Test func unixHTTP_answersHEADWithHeadersAndNoBody() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }

        let run = try uhCurl(box, ["-I", uhURL("/?file=main.txt")])
        #expect(run.status == 0, "curl: \(run.stderr)")
        let head = uhParseHead(run.stdout)
        #expect(head.statusLine == "HTTP/1.1 200 OK", "\(run.stdout)")
        #expect(head.headers["content-type"] == "text/plain; charset=utf-8", "\(run.stdout)")
        #expect(head.headers["transfer-encoding"] == "chunked", "\(run.stdout)")

        // On the wire: the head and not one byte more (curl -I would not notice stray body bytes).
        let peer = try uhPython(
            """
            s = connect(sys.argv[1])
            s.sendall(b'HEAD /?file=main.txt HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: close\\r\\n\\r\\n')
            data, eof = read_to_eof(s)
            report(data=data.decode('latin-1'), eof=eof)
            """, [box.socket])
        defer { uhKill(peer) }
        let result = uhFinish(peer)
        let data = result["data"] as? String ?? ""
        #expect(result["eof"] as? Bool == true)
        #expect(data.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(data.debugDescription)")
        #expect(data.hasSuffix("\r\n\r\n") && data.components(separatedBy: "\r\n\r\n").count == 2, "\(data.debugDescription)")
        #expect(data.lowercased().contains("\r\ntransfer-encoding: chunked\r\n"), "\(data.debugDescription)")
        // A missing file is refused for HEAD as for GET.
        let missing = try uhCurl(box, ["-I", uhURL("/?file=nope.txt")])
        #expect(uhParseHead(missing.stdout).statusLine == "HTTP/1.1 404 Not Found", "\(missing.stdout)")
    }

    @Test func unixHTTP_answersHTTP10WithoutChunking_andClosesTheConnection() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }

        let run = try uhCurl(box, ["--http1.0", "-D", box.path("head.txt"), "-o", box.path("body.bin"), uhURL("/?file=main.txt")])
        #expect(run.status == 0, "curl: \(run.stderr)")
        let head = uhParseHead(uhText(box.path("head.txt")))
        #expect(head.statusLine.hasSuffix(" 200 OK"), "\(head)")
        #expect(head.headers["transfer-encoding"] == nil, "\(head)")
        #expect(head.headers["connection"]?.lowercased() == "close", "\(head)")
        #expect(head.headers["content-type"] == "text/plain; charset=utf-8", "\(head)")
        #expect(uhBytes(box.path("body.bin")) == uhExpected(UHSandbox.mainText), "body: \(uhText(box.path("body.bin")).debugDescription)")
    }

    @Test func unixHTTP_reusesTheKeepAliveConnection_forTwoURLsInOneCurl() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        try box.write("other.txt", "another file\n")
        let server = try uhStartServer(box)
        defer { uhKill(server) }

        let run = try uhCurl(box, [
            "-v", uhURL("/?file=main.txt"), "-o", box.path("one.bin"), uhURL("/?file=other.txt"), "-o", box.path("two.bin"),
        ])
        #expect(run.status == 0, "curl: \(run.stderr)")
        let reused = run.stderr.contains("Re-using existing connection") || run.stderr.contains("Reusing existing")
        #expect(reused, "curl -v: \(run.stderr)")
        #expect(run.stderr.components(separatedBy: "left intact").count - 1 == 2, "curl -v: \(run.stderr)")
        #expect(run.stderr.components(separatedBy: "Connected to").count - 1 == 1, "curl -v: \(run.stderr)")
        #expect(!run.stderr.contains("Closing connection"), "curl -v: \(run.stderr)")
        #expect(uhBytes(box.path("one.bin")) == uhExpected(UHSandbox.mainText))
        #expect(uhBytes(box.path("two.bin")) == uhExpected("another file\n"))
        #expect(server.waitForOutput("GET /?file=other.txt 200 "), "server: \(server.stdout)")
    }

    @Test func unixHTTP_refusesBadRequests_withOneLineErrors_andNeverEscapesTheRoot() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }
        let secret = box.base.appendingPathComponent("secret.txt").path
        try FileManager.default.createSymbolicLink(atPath: box.root + "/escape", withDestinationPath: secret)
        try FileManager.default.createSymbolicLink(atPath: box.root + "/escape-rel", withDestinationPath: "../secret.txt")
        try FileManager.default.createSymbolicLink(atPath: box.root + "/etc-dir", withDestinationPath: "/etc")

        let cases: [(method: String, target: String, status: Int)] = [
            ("GET", "/?file=missing.txt", 404),
            ("GET", "/elsewhere?file=main.txt", 404),
            ("GET", "/?file=sub", 404),  // a directory
            ("GET", "/?file=", 400),
            ("GET", "/?file=%zz", 400),
            ("GET", "/?file=..%2fetc%2fpasswd", 403),
            ("GET", "/?file=..%2fsecret.txt", 403),
            ("GET", "/?file=%2e%2e/x", 403),
            ("GET", "/?file=%2e%2e%2fsecret.txt", 403),
            ("GET", "/?file=sub/../../secret.txt", 403),
            ("GET", "/?file=/etc/passwd", 403),
            ("GET", "/?file=\(secret)", 403),
            ("GET", "/?file=escape", 403),  // a symlink inside the root pointing outside it
            ("GET", "/?file=escape-rel", 403),
            ("GET", "/?file=etc-dir/passwd", 403),
            ("POST", "/?file=main.txt", 405),
            ("PUT", "/?file=main.txt", 405),
            ("DELETE", "/?file=main.txt", 405),
        ]
        for (index, item) in cases.enumerated() {
            let head = box.path("head\(index).txt")
            let body = box.path("body\(index).bin")
            let run = try uhCurl(box, ["-X", item.method, "-D", head, "-o", body, uhURL(item.target)])
            #expect(run.status == 0, "\(item.method) \(item.target): curl: \(run.stderr)")
            let parsed = uhParseHead(uhText(head))
            let text = uhText(body)
            let label = "\(item.method) \(item.target) → \(parsed.statusLine) \(text.debugDescription)"
            #expect(parsed.statusLine.hasPrefix("HTTP/1.1 \(item.status) "), "\(label)")
            #expect(text.hasSuffix("\n") && text.filter { $0 == "\n" }.count == 1 && text.count > 1, "not one line: \(label)")
            #expect(!text.contains(UHSandbox.secretText) && !text.contains("root:"), "leaked: \(label)")
            #expect(parsed.headers["content-type"] == "text/plain; charset=utf-8", "\(label)")
            #expect(parsed.headers["content-length"] == String(text.utf8.count), "\(label)")
            if item.status == 405 { #expect(parsed.headers["allow"] == "GET, HEAD", "\(label)") }
        }
        #expect(server.process.isRunning, "server died: \(server.stderr)")
        #expect(!server.stdout.contains(UHSandbox.secretText))
        // Still serving normally afterwards.
        let ok = try uhCurl(box, ["-o", box.path("ok.bin"), uhURL("/?file=main.txt")])
        #expect(ok.status == 0 && uhBytes(box.path("ok.bin")) == uhExpected(UHSandbox.mainText), "curl: \(ok.stderr)")
    }
}

@Suite struct UnixHTTPInteropTests {
    /// Example 3-5 as printed in the seed, except that the socket path comes from the command line.
    static let nodeSeedClient = #"""
        var http = require('http');

        var options = {
            method: 'GET',
            socketPath : process.argv[process.argv.length - 1],
            path: "/?file=main.txt"
        };

        var req = http.request(options,function(res){
            console.log('STATUS: ' + res.statusCode);
            console.log('HEADERS: ' + JSON.stringify(res.headers));
            res.setEncoding('utf8');
            res.on('data', function(chunk){
                console.log('chunk o\' data : ' + chunk);
            });
        })

        req.on('error', function(e){
            console.log('problem with request: ' + e.message);
        });

        //요청 본문에 데이터를 쓴다
        req.write('data\n');
        req.write('data\n');
        req.end();
        """#

    /// Example 3-4 as printed in the seed, listening on the path given on the command line (the file is read relative
    /// to the working directory, which the test sets).
    static let nodeSeedServer = #"""
        //서버와 콜백 함수를 생성
        var http = require('http');
        var fs = require('fs');

        http.createServer(function(req,res){
            var query = require('url').parse(req.url).query;
            console.log(query);
            file = require('querystring').parse(query).file;

            //컨텐츠 헤더
            res.writeHead(200, {'Content-Type' : 'text/plain'});

            //전역으로 증가시키면서 클라이언트에 쓴다
            for(var i = 0; i < 100; i++){
                res.write(i + '\n');
            }
            //파일 컨텐츠를 열어서 읽음
            var data = fs.readFileSync(file, 'utf8');
            res.write(data);
            res.end();
        }).listen(process.argv[process.argv.length - 1]);
        """#

    @Test func unixHTTP_seedNodeClient_getsStatus200AndTheExactBody() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }

        let node = try ToolProcess("/usr/bin/env", ["node", "-e", Self.nodeSeedClient, box.socket])
        defer { uhKill(node) }
        let status = node.waitForExit(timeout: 15)
        #expect(status == 0, "node client did not exit by itself: \(node.stdout) \(node.stderr)")
        let out = node.stdout
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "STATUS: 200", "node: \(out)")
        #expect(!out.contains("problem with request"), "node: \(out)")
        let headersLine = lines.dropFirst().first.map(String.init) ?? ""
        #expect(headersLine.hasPrefix("HEADERS: {"), "node: \(out)")
        let headers = (try? JSONSerialization.jsonObject(with: Data(headersLine.dropFirst("HEADERS: ".count).utf8))) as? [String: String]
        #expect(headers?["content-type"] == "text/plain; charset=utf-8", "\(headersLine)")
        #expect(headers?["transfer-encoding"] == "chunked", "\(headersLine)")
        let body = uhChunkLines(out)
        #expect(body.map { Array($0.utf8) } == uhExpected(UHSandbox.mainText), "node: \(out.debugDescription)")
        #expect(server.waitForOutput("GET /?file=main.txt 200 "), "server: \(server.stdout)")
        #expect(server.process.isRunning)
    }

    @Test func unixHTTP_getClient_printsTheSeedNodeServersResponse() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let node = try ToolProcess(
            "/bin/sh", ["-c", #"cd "$1" && exec node -e "$2" "$3""#, "sh", box.root, Self.nodeSeedServer, box.socket])
        defer { uhKill(node) }
        #expect(uhWaitForFile(box.socket, timeout: 10), "node server did not listen: \(node.stderr)")
        usleep(100_000)

        let client = try ToolProcess("unix-http", ["get", "/?file=main.txt", "--socket", box.socket])
        defer { uhKill(client) }
        let status = client.waitForExit(timeout: 15)
        #expect(status == 0, "get: \(client.stdout) \(client.stderr)")
        #expect(client.stderr.isEmpty, "get: \(client.stderr)")
        let out = client.stdout
        let lines = out.split(separator: "\n", omittingEmptySubsequences: false)
        #expect(lines.first == "STATUS: 200", "get: \(out)")
        let headersLine = lines.dropFirst().first.map(String.init) ?? ""
        #expect(headersLine.hasPrefix("HEADERS: {"), "get: \(out)")
        let headers = (try? JSONSerialization.jsonObject(with: Data(headersLine.dropFirst("HEADERS: ".count).utf8))) as? [String: String]
        #expect(headers?["content-type"] == "text/plain", "\(headersLine)")
        #expect(headers?["transfer-encoding"] == "chunked", "\(headersLine)")
        #expect(out.contains("\nchunk o' data : "), "get: \(out)")
        let body = uhChunkLines(out)
        #expect(body.map { Array($0.utf8) } == uhExpected(UHSandbox.mainText), "get: \(out.debugDescription)")
        #expect(node.waitForOutput("file=main.txt\n"), "node server: \(node.stdout) \(node.stderr)")
    }

    @Test func unixHTTP_pythonHTTPClientOverAFUNIX_getsTheExactBody() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }
        let peer = try uhPython(
            """
            conn = UnixHTTPConnection(sys.argv[1])
            conn.request('GET', '/?file=main.txt')
            resp = conn.getresponse()
            body = resp.read()
            conn.request('GET', '/?file=main.txt')
            again = conn.getresponse().read()
            report(status=resp.status, body=body.hex(), again=again.hex(), type=resp.getheader('Content-Type'),
                   te=resp.getheader('Transfer-Encoding'))
            """, [box.socket])
        defer { uhKill(peer) }
        let result = uhFinish(peer)
        #expect(result["status"] as? Int == 200)
        #expect(result["type"] as? String == "text/plain; charset=utf-8")
        #expect(result["te"] as? String == "chunked")
        #expect(uhBytes(fromHex: result["body"] as? String ?? "") == uhExpected(UHSandbox.mainText))
        #expect(uhBytes(fromHex: result["again"] as? String ?? "") == uhExpected(UHSandbox.mainText))
    }

    /// Node's client sends `data\ndata\n` after a GET head without any framing: the server answers the GET, then
    /// sees garbage where the next request should start and answers 400 and closes.
    @Test func unixHTTP_seedClientsUnframedBody_getsTheResponseThen400AndClose() throws {
        let box = try UHSandbox()
        defer { box.remove() }
        let server = try uhStartServer(box)
        defer { uhKill(server) }
        let peer = try uhPython(
            """
            s = connect(sys.argv[1])
            s.sendall(b'GET /?file=main.txt HTTP/1.1\\r\\nHost: localhost\\r\\nConnection: keep-alive\\r\\n\\r\\ndata\\ndata\\n')
            data, eof = read_to_eof(s)
            responses, rest = parse_responses(data, ['GET', 'GET'])
            report(responses=responses, rest=rest.hex(), eof=eof, raw=data.decode('latin-1'))
            """, [box.socket])
        defer { uhKill(peer) }
        let result = uhFinish(peer)
        let responses = uhResponses(result)
        let raw = result["raw"] as? String ?? ""
        #expect(result["eof"] as? Bool == true, "connection not closed: \(raw.debugDescription)")
        #expect(responses.count == 2, "\(raw.debugDescription)")
        #expect(result["rest"] as? String == "", "\(raw.debugDescription)")
        if responses.count == 2 {
            #expect(responses[0].status == 200)
            #expect(responses[0].headers["transfer-encoding"] == "chunked")
            #expect(responses[0].body == uhExpected(UHSandbox.mainText))
            #expect(responses[1].status == 400)
            #expect(responses[1].headers["connection"]?.lowercased() == "close")
            let text = String(decoding: responses[1].body, as: UTF8.self)
            #expect(text.hasSuffix("\n") && text.filter { $0 == "\n" }.count == 1, "\(text.debugDescription)")
        }
        #expect(raw.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(raw.debugDescription)")
        #expect(server.process.isRunning)
    }
}

// MARK: - Helpers for the UnixHTTP* suites

let uhCounterLines = (0..<100).map { "\($0)\n" }.joined()

/// The body unix-http (and the seed's server) sends for a file with `content`.
func uhExpected(_ content: String) -> [UInt8] { Array((uhCounterLines + content).utf8) }

func uhURL(_ target: String) -> String { "http://localhost" + target }

/// A fresh directory for one test: `root/` (served, with main.txt and sub/), `secret.txt` outside it, and the socket.
struct UHSandbox {
    static let mainText = "hello from main.txt\nsecond line: é € 😀\nlast line without a newline"
    static let secretText = "TOP SECRET outside the root"
    let base: URL

    init() throws {
        base = URL(fileURLWithPath: "/tmp").appendingPathComponent("uh-\(UUID().uuidString.prefix(8))-\(getpid())")
        try FileManager.default.createDirectory(at: base.appendingPathComponent("root/sub"), withIntermediateDirectories: true)
        try Self.mainText.write(toFile: root + "/main.txt", atomically: false, encoding: .utf8)
        try "in a subdirectory\n".write(toFile: root + "/sub/inner.txt", atomically: false, encoding: .utf8)
        try (Self.secretText + "\n").write(toFile: base.path + "/secret.txt", atomically: false, encoding: .utf8)
    }

    var root: String { base.path + "/root" }
    var socket: String { base.path + "/http.sock" }
    func path(_ name: String) -> String { base.path + "/" + name }

    /// Writes a file in the served root.
    func write(_ name: String, _ text: String) throws {
        try text.write(toFile: root + "/" + name, atomically: false, encoding: .utf8)
    }

    func remove() { try? FileManager.default.removeItem(at: base) }
}

/// Starts unix-http on the sandbox's socket, serving its root, and waits for it to listen.
func uhStartServer(_ box: UHSandbox, _ extra: [String] = [], sourceLocation: SourceLocation = #_sourceLocation) throws
    -> ToolProcess
{
    let server = try ToolProcess("unix-http", ["--socket", box.socket, "--root", box.root] + extra)
    #expect(server.waitForOutput("listening on \(box.socket) "), "unix-http did not start: \(server.stdout) \(server.stderr)",
            sourceLocation: sourceLocation)
    return server
}

/// Kills `process` if it still runs and reaps it (bounded).
func uhKill(_ process: ToolProcess) {
    if process.process.isRunning {
        process.signal(SIGKILL)
        _ = process.waitForExit(timeout: 5)
    }
}

struct UHRun {
    let status: Int32?
    let stdout: String
    let stderr: String
}

/// Runs a command found on PATH to completion (bounded).
func uhRun(_ arguments: [String], timeout: TimeInterval = 20) throws -> UHRun {
    let process = try ToolProcess("/usr/bin/env", arguments)
    let status = process.waitForExit(timeout: timeout)
    uhKill(process)
    return UHRun(status: status, stdout: process.stdout, stderr: process.stderr)
}

/// `curl -sS --unix-socket <socket> …`.
func uhCurl(_ box: UHSandbox, _ arguments: [String]) throws -> UHRun {
    try uhRun(["curl", "-sS", "--max-time", "15", "--unix-socket", box.socket] + arguments)
}

func uhBytes(_ path: String) -> [UInt8] {
    (try? Data(contentsOf: URL(fileURLWithPath: path))).map { Array($0) } ?? []
}

func uhText(_ path: String) -> String { String(decoding: uhBytes(path), as: UTF8.self) }

func uhBytes(fromHex hex: String) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(hex.utf8.count / 2)
    var high: UInt8?
    for byte in hex.utf8 {
        let value: UInt8 = byte >= 0x61 ? byte - 0x61 + 10 : byte - 0x30
        if let first = high {
            bytes.append(first << 4 | value)
            high = nil
        } else {
            high = value
        }
    }
    return bytes
}

/// The status line and headers (lower-cased names) of a response head as curl prints it.
func uhParseHead(_ text: String) -> (statusLine: String, headers: [String: String]) {
    let lines = text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
    var headers: [String: String] = [:]
    for line in lines.dropFirst() {
        guard let colon = line.firstIndex(of: ":") else { continue }
        headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
    }
    return (lines.first ?? "", headers)
}

/// Decodes a chunked body; nil if malformed.
func uhDechunk(_ raw: [UInt8]) -> (body: [UInt8], chunkCount: Int, rest: [UInt8])? {
    var body: [UInt8] = []
    var index = 0
    var count = 0
    while true {
        guard let lineEnd = (index..<max(index, raw.count - 1)).first(where: { raw[$0] == 13 && raw[$0 + 1] == 10 }),
              let size = Int(String(decoding: raw[index..<lineEnd], as: UTF8.self), radix: 16)
        else { return nil }
        index = lineEnd + 2
        guard index + size + 2 <= raw.count, raw[index + size] == 13, raw[index + size + 1] == 10 else { return nil }
        if size == 0 { return (body, count, Array(raw[(index + 2)...])) }
        body += raw[index..<(index + size)]
        count += 1
        index += size + 2
    }
}

/// Reassembles the body from the seed client's output: each chunk is printed as `chunk o' data : TEXT` + newline.
func uhChunkLines(_ output: String) -> String? {
    let marker = "chunk o' data : "
    let pieces = output.components(separatedBy: marker)
    guard pieces.count > 1 else { return nil }
    var body = ""
    for piece in pieces.dropFirst() {
        guard piece.hasSuffix("\n") else { return nil }
        body += piece.dropLast()
    }
    return body
}

func uhWaitForFile(_ path: String, timeout: TimeInterval) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline {
        if FileManager.default.fileExists(atPath: path) { return true }
        usleep(10_000)
    }
    return FileManager.default.fileExists(atPath: path)
}

/// Helpers every python3 peer of the UnixHTTP suites starts with.
let uhPythonPrelude = #"""
    import http.client, json, os, socket, sys, threading, time

    COUNTER = ''.join('%d\n' % i for i in range(100)).encode()

    def report(**fields):
        print(json.dumps(fields), flush=True)

    def connect(path, rcvbuf=None, timeout=10):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if rcvbuf:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        s.settimeout(timeout)
        s.connect(path)
        return s

    class UnixHTTPConnection(http.client.HTTPConnection):
        """http.client over AF_UNIX: only connect() differs."""
        def __init__(self, path, rcvbuf=None, timeout=10):
            super().__init__('localhost', timeout=timeout)
            self.unix_path = path
            self.rcvbuf = rcvbuf

        def connect(self):
            self.sock = connect(self.unix_path, self.rcvbuf, self.timeout)

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

    def parse_responses(data, methods):
        """Splits a byte stream into complete HTTP/1.x responses (methods: of the requests, in order).
        Returns (responses, unparsed rest)."""
        responses = []
        pos = 0
        while pos < len(data):
            end = data.find(b'\r\n\r\n', pos)
            if end < 0:
                break
            lines = data[pos:end].decode('latin-1').split('\r\n')
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(':')
                headers[name.strip().lower()] = value.strip()
            status = int(lines[0].split(' ')[1])
            method = methods[len(responses)] if len(responses) < len(methods) else 'GET'
            cursor = end + 4
            body = b''
            complete = True
            if method == 'HEAD' or status in (204, 304) or status < 200:
                pass
            elif headers.get('transfer-encoding', '').lower() == 'chunked':
                while True:
                    line_end = data.find(b'\r\n', cursor)
                    if line_end < 0:
                        complete = False
                        break
                    size = int(data[cursor:line_end].split(b';')[0], 16)
                    cursor = line_end + 2
                    if cursor + size + 2 > len(data):
                        complete = False
                        break
                    if data[cursor + size:cursor + size + 2] != b'\r\n':
                        raise ValueError('bad chunk framing at %d' % cursor)
                    body += data[cursor:cursor + size]
                    cursor += size + 2
                    if size == 0:
                        break
            elif 'content-length' in headers:
                n = int(headers['content-length'])
                if cursor + n > len(data):
                    complete = False
                body = data[cursor:cursor + n]
                cursor += n
            else:
                body = data[cursor:]
                cursor = len(data)
            if not complete:
                break
            responses.append({'status': status, 'status_line': lines[0], 'headers': headers, 'body': body.hex()})
            pos = cursor
        return responses, data[pos:]

    """#

/// Starts `python3 -c <prelude + script> args…`.
func uhPython(_ script: String, _ arguments: [String] = []) throws -> ToolProcess {
    try ToolProcess("/usr/bin/env", ["python3", "-c", uhPythonPrelude + script] + arguments)
}

/// Waits for a peer script to finish and returns the JSON object it reported last (empty on failure, with an issue).
func uhFinish(_ peer: ToolProcess, timeout: TimeInterval = 30, sourceLocation: SourceLocation = #_sourceLocation)
    -> [String: Any]
{
    let status = peer.waitForExit(timeout: timeout)
    #expect(status == 0, "peer script: exit \(status.map(String.init) ?? "none (killed)"); stderr: \(peer.stderr)",
            sourceLocation: sourceLocation)
    uhKill(peer)
    guard let last = peer.stdout.split(separator: "\n").last,
          let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
    else {
        Issue.record("peer script reported nothing: \(peer.stdout) \(peer.stderr)", sourceLocation: sourceLocation)
        return [:]
    }
    return object
}

struct UHResponse {
    let status: Int
    let headers: [String: String]
    let body: [UInt8]
}

/// The `responses` a peer reported from `parse_responses`.
func uhResponses(_ result: [String: Any], key: String = "responses") -> [UHResponse] {
    (result[key] as? [[String: Any]] ?? []).map {
        UHResponse(
            status: $0["status"] as? Int ?? 0, headers: $0["headers"] as? [String: String] ?? [:],
            body: uhBytes(fromHex: $0["body"] as? String ?? ""))
    }
}
