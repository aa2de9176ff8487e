import Foundation
import Testing
@testable import NetCoreTools

/// `rest-server` end to end (the seed's restServer.js, course-spec.md): the real binary on loopback, raw sockets for
/// byte-exact checks, curl where an independent client matters, bounded waits only.
@Suite struct RestServerTests {
    static let plain = "text/plain; charset=utf-8"
    static let json = "application/json; charset=utf-8"

    /// The ids of a users JSON object, in the order they appear (a dictionary would lose the order).
    static func ids(_ usersJSON: String) -> [String] {
        usersJSON.matches(of: /"(\d+)":/).map { String($0.1) }
    }

    // MARK: - Routes

    @Test func restServer_servesTheFrontEndAndAbout_withHTMLContentType() throws {
        let (server, port) = try startCourseServer("rest-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        for (target, name) in [("/", "restFront.html"), ("/about", "about.html")] {
            let response = try connection.get(target)
            #expect(response.status == 200, "\(target)")
            #expect(response.headers["content-type"] == "text/html; charset=utf-8", "\(target)")
            #expect(response.body == WebAssets.file(named: name)?.bytes, "\(target)")
            #expect(!response.body.isEmpty)
        }
    }

    @Test func restServer_servesStaticFiles_withTheirContentTypes() throws {
        let (server, port) = try startCourseServer("rest-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        for (name, type) in [("restFront.css", "text/css; charset=utf-8"),
                             ("restFront.js", "text/javascript; charset=utf-8")] {
            let response = try connection.get("/" + name)
            #expect(response.status == 200, "\(name)")
            #expect(response.headers["content-type"] == type, "\(name)")
            #expect(response.body == WebAssets.file(named: name)?.bytes, "\(name)")
        }
        // curl agrees on the framing.
        let run = try uhRun(["curl", "-sS", "--max-time", "15", "-o", "/dev/null", "-w", "%{http_code} %{content_type}",
                             "http://127.0.0.1:\(port)/restFront.js"])
        #expect(run.status == 0 && run.stdout == "200 text/javascript; charset=utf-8", "\(run.stdout) \(run.stderr)")
    }

    @Test func restServer_postPutDeleteAndUsers_answerAsTheSpecSays() throws {
        let (server, port) = try startCourseServer("rest-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let empty = try connection.get("/users")
        #expect(empty.status == 200)
        #expect(empty.headers["content-type"] == Self.json)
        #expect(bodyText(empty) == "{}")

        for name in ["kim", "lee", "한글"] {
            let created = try connection.request(
                "POST", "/user", headers: ["Content-Type: application/json"], text: #"{"name":"\#(name)"}"#)
            #expect(created.status == 201)
            #expect(created.headers["content-type"] == Self.plain)
            #expect(bodyText(created) == "등록 성공")
        }
        // The body is logged as the seed logs it.
        #expect(server.waitForOutput(#"POST 본문(Body): {"name":"한글"}"#), "\(server.stdout)")

        let users = try connection.get("/users")
        let ids = Self.ids(bodyText(users))
        #expect(ids.count == 3)
        guard ids.count == 3 else { return }
        #expect(bodyText(users) == #"{"\#(ids[0])":"kim","\#(ids[1])":"lee","\#(ids[2])":"한글"}"#)

        let put = try connection.request("PUT", "/user/\(ids[1])", text: #"{"name":"park"}"#)
        #expect(put.status == 200)
        #expect(put.headers["content-type"] == Self.plain)
        // Replacing keeps the key where it was.
        #expect(bodyText(put) == #"{"\#(ids[0])":"kim","\#(ids[1])":"park","\#(ids[2])":"한글"}"#)

        let deleted = try connection.request("DELETE", "/user/\(ids[0])")
        #expect(deleted.status == 200)
        #expect(deleted.headers["content-type"] == Self.plain)
        #expect(bodyText(deleted) == #"{"\#(ids[1])":"park","\#(ids[2])":"한글"}"#)

        // PUT on an unknown id creates it, as the seed does; DELETE of an unknown id changes nothing.
        let putNew = try connection.request("PUT", "/user/42", text: #"{"name":"choi"}"#)
        #expect(bodyText(putNew) == #"{"\#(ids[1])":"park","\#(ids[2])":"한글","42":"choi"}"#)
        let deleteUnknown = try connection.request("DELETE", "/user/7")
        #expect(deleteUnknown.status == 200)
        #expect(bodyText(deleteUnknown) == bodyText(putNew))
        #expect(bodyText(try connection.get("/users")) == bodyText(putNew))
    }

    @Test func restServer_gives50PipelinedPOSTs_13DigitStrictlyIncreasingIds() throws {
        let (server, port) = try startCourseServer("rest-server", ["--quiet"])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        // All 50 requests in one write: the server reads them in one go and must still give each its own id.
        var burst: [UInt8] = []
        for index in 0..<50 {
            let body = #"{"name":"u\#(index)"}"#
            burst += Array("POST /user HTTP/1.1\r\nHost: localhost\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8)
        }
        try connection.send(bytes: burst)
        for index in 0..<50 {
            let response = try connection.readResponse()
            #expect(response.status == 201, "response \(index)")
        }
        let users = bodyText(try connection.get("/users"))
        let ids = Self.ids(users)
        #expect(ids.count == 50, "\(users)")
        #expect(ids.allSatisfy { $0.count == 13 }, "\(ids)")
        let numbers = ids.compactMap { Int64($0) }
        #expect(numbers.count == 50)
        #expect(zip(numbers, numbers.dropFirst()).allSatisfy { $0 < $1 }, "\(ids)")
        // Milliseconds since the epoch, near now.
        let now = Int64(Date().timeIntervalSince1970 * 1000)
        #expect(numbers.first.map { abs($0 - now) < 60_000 } == true, "\(ids.first ?? "") vs \(now)")
        // Insertion order: u0 … u49.
        let names = users.matches(of: /":"(u\d+)"/).map { String($0.1) }
        #expect(names == (0..<50).map { "u\($0)" })
    }

    @Test func restServer_answers404NotFound_forAnUnknownRoute() throws {
        let (server, port) = try startCourseServer("rest-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        for target in ["/nothing", "/users/1/x", "/restFront.cs", "/.well-known/x"] {
            let response = try connection.get(target)
            #expect(response.status == 404, "\(target)")
            #expect(bodyText(response) == "NOT FOUND", "\(target)")
        }
        let post = try connection.request("POST", "/nothing", text: "x")
        #expect(post.status == 404)
        #expect(bodyText(post) == "NOT FOUND")
    }

    @Test(arguments: [
        ("DELETE", "/users", "GET, HEAD"), ("POST", "/users", "GET, HEAD"), ("PUT", "/", "GET, HEAD"),
        ("POST", "/about", "GET, HEAD"), ("GET", "/user/1", "PUT, DELETE"), ("POST", "/user/1", "PUT, DELETE"),
        ("GET", "/user", "POST"), ("DELETE", "/user", "POST"),
    ])
    func restServer_answers405WithAllow_forAWrongMethodOnAKnownPath(_ method: String, _ target: String,
                                                                    _ allow: String) throws {
        let (server, port) = try startCourseServer("rest-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let response = try connection.request(method, target, body: method == "GET" ? nil : [])
        #expect(response.status == 405)
        #expect(response.headers["allow"] == allow)
        #expect(response.headers["content-type"] == Self.plain)
        #expect(bodyText(response).contains(method), "\(bodyText(response))")
        // Still serving on the same connection.
        #expect(try connection.get("/users").status == 200)
    }

    // MARK: - Bad input

    @Test(arguments: [
        ("{", "invalid JSON"), ("[]", #"with a string name"#), (#"{"name": 1}"#, "with a string name"),
        ("", "invalid JSON"), (#"{"nam":"kim"}"#, "with a string name"), ("null", "with a string name"),
        (#"{"name":"kim"} x"#, "invalid JSON"), ("\u{FEFF}{}", "invalid JSON"),
    ])
    func restServer_answers400ForBadJSON_andKeepsServing(_ body: String, _ message: String) throws {
        let (server, port) = try startCourseServer("rest-server", ["--quiet"])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        for (method, target) in [("POST", "/user"), ("PUT", "/user/1")] {
            let response = try connection.request(method, target, text: body)
            #expect(response.status == 400, "\(method) \(body.debugDescription)")
            #expect(response.headers["content-type"] == Self.plain)
            #expect(bodyText(response).contains(message), "\(bodyText(response))")
            #expect(bodyText(response).hasSuffix("\n"))
            // Same connection, then a new one: nothing was stored and the server is alive.
            #expect(bodyText(try connection.get("/users")) == "{}")
        }
        #expect(bodyText(try HelloConnection(port: port).get("/users")) == "{}")
        #expect(server.process.isRunning)
    }

    @Test func restServer_answers400_forABodyThatIsNotUTF8() throws {
        let (server, port) = try startCourseServer("rest-server", ["--quiet"])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let bytes: [UInt8] = Array(#"{"name":""#.utf8) + [0xFF, 0xC3, 0x28] + Array(#""}"#.utf8)
        let response = try connection.request("POST", "/user", body: bytes)
        #expect(response.status == 400)
        #expect(bodyText(response) == "request body is not valid UTF-8\n")
        #expect(bodyText(try connection.get("/users")) == "{}")
    }

    @Test func restServer_answers413_overMaxBody_declaredOrChunked() throws {
        let (server, port) = try startCourseServer("rest-server", ["--quiet", "--max-body", "1024"])
        defer { uhKill(server) }
        // Exactly at the limit is fine.
        let fits = #"{"name":""# + String(repeating: "a", count: 1024 - 11) + #""}"#
        #expect(fits.utf8.count == 1024)
        let ok = try HelloConnection(port: port).request("POST", "/user", text: fits)
        #expect(ok.status == 201)

        do {
            // Declared too long: refused from the head, the rest is not awaited.
            let declared = try HelloConnection(port: port, timeoutSeconds: 2)
            try declared.send("POST /user HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1025\r\n\r\n")
            let early = try declared.readResponse()
            #expect(early.status == 413)
            #expect(early.headers["connection"] == "close")
        }
        do {
            // Chunked, no length: refused once the chunks pass the limit.
            let chunked = try HelloConnection(port: port, timeoutSeconds: 2)
            let chunk = String(repeating: "b", count: 600)
            try chunked.send("PUT /user/1 HTTP/1.1\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n"
                             + "258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n")
            let late = try chunked.readResponse()
            #expect(late.status == 413)
        }

        // Nothing but the first user was stored, and the server still answers.
        let users = bodyText(try HelloConnection(port: port).get("/users"))
        #expect(Self.ids(users).count == 1, "\(users)")
        #expect(!users.contains("\"1\""))
    }

    @Test func restServer_survivesAClientThatVanishesMidBody_andReleasesItsDescriptor() throws {
        let (server, port) = try startCourseServer("rest-server", ["--quiet"])
        defer { uhKill(server) }
        let pid = server.process.processIdentifier
        let baseline = openDescriptorCount(pid)
        #expect(baseline > 0)
        for _ in 0..<5 {
            let vanishing = try HelloConnection(port: port)
            try vanishing.send("POST /user HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n0123456789")
            // deinit closes the socket with 990 bytes still owed.
        }
        do {
            let next = try HelloConnection(port: port)
            let response = try next.request("POST", "/user", text: #"{"name":"after"}"#)
            #expect(response.status == 201)
            let users = bodyText(try next.get("/users"))
            #expect(Self.ids(users).count == 1 && users.contains("after"), "\(users)")
            #expect(server.process.isRunning)
            // Only `next` is still open: the count comes back to the baseline plus that one connection.
            do {
                #expect(settleDescriptorCount(pid, to: baseline + 1, timeout: 5) == baseline + 1)
            }
        }
        do {
            #expect(settleDescriptorCount(pid, to: baseline, timeout: 5) == baseline)
        }
    }

    // MARK: - --root and traversal

    /// A root with the front-end files, a file outside it, and a symlink out.
    struct RootTree {
        let directory: CourseTempDirectory
        var root: String { directory.file("root") }
        static let secret = "TOP SECRET outside the root"

        init() throws {
            directory = try CourseTempDirectory()
            let files = FileManager.default
            try files.createDirectory(atPath: directory.file("root/sub"), withIntermediateDirectories: true)
            try "<h1>front from disk</h1>".write(toFile: directory.file("root/restFront.html"), atomically: false,
                                                  encoding: .utf8)
            try "<h1>about from disk</h1>".write(toFile: directory.file("root/about.html"), atomically: false,
                                                  encoding: .utf8)
            try "body { color: red }".write(toFile: directory.file("root/restFront.css"), atomically: false,
                                             encoding: .utf8)
            try "console.log(1)".write(toFile: directory.file("root/sub/app.js"), atomically: false, encoding: .utf8)
            try Self.secret.write(toFile: directory.file("secret.txt"), atomically: false, encoding: .utf8)
            try files.createSymbolicLink(atPath: directory.file("root/link.txt"),
                                         withDestinationPath: directory.file("secret.txt"))
            try files.createSymbolicLink(atPath: directory.file("root/up"), withDestinationPath: directory.path)
        }
    }

    @Test func restServer_servesFilesFromRoot() throws {
        let tree = try RootTree()
        defer { tree.directory.remove() }
        let (server, port) = try startCourseServer("rest-server", ["--root", tree.root])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let expected: [(String, String, String)] = [
            ("/", "text/html; charset=utf-8", "<h1>front from disk</h1>"),
            ("/about", "text/html; charset=utf-8", "<h1>about from disk</h1>"),
            ("/restFront.css", "text/css; charset=utf-8", "body { color: red }"),
            ("/sub/app.js", "text/javascript; charset=utf-8", "console.log(1)"),
        ]
        for (target, type, body) in expected {
            let response = try connection.get(target)
            #expect(response.status == 200, "\(target)")
            #expect(response.headers["content-type"] == type, "\(target)")
            #expect(bodyText(response) == body, "\(target)")
        }
        // The embedded front-end is not served from a --root that lacks it.
        #expect(try connection.get("/restFront.js").status == 404)
    }

    @Test(arguments: [
        "/../secret.txt", "/..%2fsecret.txt", "/%2e%2e%2fsecret.txt", "/%2E%2E/secret.txt", "/sub/../../secret.txt",
        "/link.txt", "/up/secret.txt", "//etc/passwd", "/%2Fetc%2Fpasswd", "/../../../../etc/passwd",
        "/sub/%2e%2e/%2e%2e/secret.txt",
    ])
    func restServer_refusesToLeaveTheRoot(_ target: String) throws {
        let tree = try RootTree()
        defer { tree.directory.remove() }
        let (server, port) = try startCourseServer("rest-server", ["--root", tree.root])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        // Sent raw: no client normalises the dots away.
        let response = try connection.get(target)
        #expect([400, 403, 404].contains(response.status), "\(target): \(response.status)")
        let text = bodyText(response)
        #expect(!text.contains("TOP SECRET") && !text.contains("root:x:0"), "\(target): \(text)")
        #expect(try HelloConnection(port: port).get("/users").status == 200)
    }

    /// Targets RFC 3986 does not allow (NetCore's parser refuses them; Node's lenient parser would pass them on).
    @Test(arguments: ["/..\\secret.txt", "/%zz", "/sub/../\u{7F}secret.txt"])
    func restServer_answers400AndCloses_forATargetTheParserRejects(_ target: String) throws {
        let tree = try RootTree()
        defer { tree.directory.remove() }
        let (server, port) = try startCourseServer("rest-server", ["--root", tree.root])
        defer { uhKill(server) }
        do {
            let raw = try HelloConnection(port: port, timeoutSeconds: 2).exchangeUntilClose(
                "GET \(target) HTTP/1.1\r\nHost: localhost\r\n\r\n")
            let text = String(decoding: raw, as: UTF8.self)
            #expect(text.hasPrefix("HTTP/1.1 400 Bad Request\r\n"), "\(text.debugDescription)")
            #expect(!text.contains("TOP SECRET"))
        }
        #expect(try HelloConnection(port: port).get("/users").status == 200)
        #expect(server.process.isRunning)
    }

    @Test(arguments: ["/../etc/passwd", "/%2e%2e%2fetc%2fpasswd", "//etc/passwd", "/%2Fetc%2Fpasswd",
                      "/../Package.swift"])
    func restServer_withTheEmbeddedFrontEnd_servesNoOtherFile(_ target: String) throws {
        let (server, port) = try startCourseServer("rest-server")
        defer { uhKill(server) }
        let response = try HelloConnection(port: port).get(target)
        #expect([400, 403, 404].contains(response.status), "\(target): \(response.status)")
        #expect(!bodyText(response).contains("root:x:0") && !bodyText(response).contains("PackageDescription"))
    }

    @Test func restServer_exits3_whenTheRootIsMissing() throws {
        let directory = try CourseTempDirectory()
        defer { directory.remove() }
        let server = try ToolProcess("rest-server", ["--port", "0", "--root", directory.file("missing")])
        defer { uhKill(server) }
        #expect(server.waitForExit() == 3)
        #expect(server.stderr.hasPrefix("rest-server: cannot serve from --root "), "\(server.stderr)")
        #expect(server.stderr.split(separator: "\n").count == 1)
    }

    // MARK: - Command line and process

    @Test func restServer_printsHelp_andExits0() throws {
        try expectHelp("rest-server", mentions: ["--root", "--max-body", "POST /user", "405"])
    }

    @Test(arguments: [["--bogus"], ["--port", "x"], ["--max-body", "-1"], ["--max-body"], ["extra"],
                      ["--unix", "/tmp/x.sock", "--port", "1"]])
    func restServer_exits2_onABadCommandLine(_ arguments: [String]) throws {
        try expectUsageError("rest-server", arguments)
    }

    @Test func restServer_exits3_whenThePortIsInUse() throws {
        try expectPortInUse("rest-server")
    }

    @Test func restServer_exits0_onSIGTERM() throws {
        try expectCleanExitOnSIGTERM("rest-server")
    }

    @Test func restServer_servesAUnixSocket_withCurl() throws {
        try expectServesUnixSocket("rest-server", target: "/users") { run in
            #expect(run.stdout.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(run.stdout)")
            #expect(run.stdout.lowercased().contains("content-type: application/json; charset=utf-8\r\n"))
            #expect(run.stdout.hasSuffix("\r\n\r\n{}"), "\(run.stdout)")
        }
    }
}
