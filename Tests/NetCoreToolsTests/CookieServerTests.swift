import Foundation
import Testing
@testable import NetCoreTools

/// `cookie-server` end to end: plain (the seed's cookie.js) and `--login` (cookie2.js), with garbage `Cookie`
/// fields, on loopback with raw sockets; bounded waits only.
@Suite struct CookieServerTests {
    /// `한글` as `encodeURIComponent` writes it.
    static let encodedHangul = "%ED%95%9C%EA%B8%80"

    /// Parses an IMF-fixdate (`Wed, 02 Dec 2026 07:27:45 GMT`).
    static func imfDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        return formatter.date(from: text)
    }

    /// A `Set-Cookie` value split into its `name=value` and its attributes (`Expires` → date text, flags → "").
    static func splitSetCookie(_ header: String) -> (pair: String, attributes: [String: String]) {
        let parts = header.components(separatedBy: "; ")
        var attributes: [String: String] = [:]
        for part in parts.dropFirst() {
            if let equals = part.firstIndex(of: "=") {
                attributes[String(part[..<equals])] = String(part[part.index(after: equals)...])
            } else {
                attributes[part] = ""
            }
        }
        return (parts.first ?? "", attributes)
    }

    // MARK: - cookie.js

    @Test func cookieServer_logsURLAndCookie_setsMycookie_andSaysHelloCookie() throws {
        let (server, port) = try startCourseServer("cookie-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let first = try connection.get("/")
        #expect(first.status == 200)
        #expect(first.headers["set-cookie"] == "mycookie=test")
        #expect(bodyText(first) == "Hello Cookie")
        #expect(server.waitForOutput("/ undefined\n"), "\(server.stdout)")

        let second = try connection.request("GET", "/favicon.ico", headers: ["Cookie: mycookie=test; a=1"])
        #expect(second.status == 200)
        #expect(bodyText(second) == "Hello Cookie")
        #expect(server.waitForOutput("/favicon.ico mycookie=test; a=1\n"), "\(server.stdout)")
        // One line per request, nothing else between the ready line and them.
        let lines = server.stdout.split(separator: "\n")
        #expect(lines.count == 3 && lines[1] == "/ undefined", "\(server.stdout)")
    }

    @Test func cookieServer_quiet_logsNothing() throws {
        let (server, port) = try startCourseServer("cookie-server", ["--quiet"])
        defer { uhKill(server) }
        #expect(bodyText(try HelloConnection(port: port).get("/")) == "Hello Cookie")
        server.signal(SIGTERM)
        #expect(server.waitForExit() == 0)
        #expect(server.stdout.split(separator: "\n").count == 2, "\(server.stdout)")  // ready line, shutting down
    }

    @Test(arguments: [
        Array(";;;".utf8), Array("=".utf8), Array("a".utf8), Array("%E0%A4%A".utf8), Array("name=%E0%A4%A".utf8),
        Array("=;=;a=;=b".utf8), Array(repeating: UInt8(ascii: "x"), count: 8192),
        (0..<8192).map { UInt8(33 + $0 % 94) }, [0xFF, 0xFE, 0x3D, 0xC3, 0x28, 0x3B, 0x80],
        Array("mycookie=\"unterminated".utf8),
    ])
    func cookieServer_answers200_toAGarbageCookie(_ cookie: [UInt8]) throws {
        let (server, port) = try startCourseServer("cookie-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        try connection.send(bytes: Array("GET /junk HTTP/1.1\r\nHost: localhost\r\nCookie: ".utf8) + cookie
                            + Array("\r\n\r\n".utf8))
        let response = try connection.readResponse()
        #expect(response.status == 200)
        #expect(bodyText(response) == "Hello Cookie")
        #expect(server.waitForOutput("/junk "), "\(server.stdout)")
        // The same connection and the process go on.
        #expect(bodyText(try connection.get("/")) == "Hello Cookie")
        #expect(server.process.isRunning)
    }

    // MARK: - cookie2.js (--login)

    @Test func cookieServerLogin_setsANameCookieFor5Minutes_andRedirects() throws {
        let (server, port) = try startCourseServer("cookie-server", ["--login"])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let before = Date()
        let response = try connection.get("/login?name=\(Self.encodedHangul)")
        #expect(response.status == 302)
        #expect(response.headers["location"] == "/")
        let cookie = Self.splitSetCookie(response.headers["set-cookie"] ?? "")
        #expect(cookie.pair == "name=\(Self.encodedHangul)")
        #expect(Set(cookie.attributes.keys) == ["Expires", "HttpOnly", "Path"], "\(cookie.attributes)")
        #expect(cookie.attributes["Path"] == "/")
        let expires = cookie.attributes["Expires"].flatMap(Self.imfDate)
        #expect(expires != nil, "\(cookie.attributes)")
        if let expires {
            #expect(abs(expires.timeIntervalSince(before) - 300) <= 10, "\(expires) vs \(before)")
        }

        let greeting = try connection.request("GET", "/", headers: ["Cookie: name=\(Self.encodedHangul)"])
        #expect(greeting.status == 200)
        #expect(greeting.headers["content-type"] == "text/plain; charset=utf-8")
        #expect(bodyText(greeting) == "한글님 안녕하세요")
    }

    @Test func cookieServerLogin_withCurl_followsTheRedirectWithItsCookieJar() throws {
        let (server, port) = try startCourseServer("cookie-server", ["--login"])
        defer { uhKill(server) }
        let directory = try CourseTempDirectory()
        defer { directory.remove() }
        let run = try uhRun(["curl", "-sS", "--max-time", "15", "-L", "-c", directory.file("jar"), "-b",
                             directory.file("jar"), "http://127.0.0.1:\(port)/login?name=%EA%B9%80"])
        #expect(run.status == 0, "\(run.stderr)")
        #expect(run.stdout == "김님 안녕하세요", "\(run.stdout)")
    }

    @Test func cookieServerLogin_showsTheLoginForm_withoutACookie() throws {
        let (server, port) = try startCourseServer("cookie-server", ["--login"])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        for headers in [[], ["Cookie: other=1"], ["Cookie: name="], ["Cookie: ;;;"]] {
            let response = try connection.request("GET", "/", headers: headers)
            #expect(response.status == 200, "\(headers)")
            #expect(response.headers["content-type"] == "text/html; charset=utf-8", "\(headers)")
            let page = bodyText(response)
            #expect(page.contains(#"action="/login""#) && page.contains(#"name="name""#), "\(page)")
            #expect(response.body == WebAssets.file(named: "cookie2.html")?.bytes)
        }
    }

    @Test(arguments: ["/login", "/login?name=", "/login?other=1", "/login?name"])
    func cookieServerLogin_withoutAName_redirectsWithoutACookie(_ target: String) throws {
        let (server, port) = try startCourseServer("cookie-server", ["--login"])
        defer { uhKill(server) }
        let response = try HelloConnection(port: port).get(target)
        #expect(response.status == 302)
        #expect(response.headers["location"] == "/")
        #expect(response.headers["set-cookie"] == nil)
    }

    @Test(arguments: ["%E0%A4%A", "%zz", "%", "%C3%28", "abc%"])
    func cookieServerLogin_greetsABadlyEncodedName_withTheRawText(_ raw: String) throws {
        let (server, port) = try startCourseServer("cookie-server", ["--login"])
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        let response = try connection.request("GET", "/", headers: ["Cookie: name=\(raw)"])
        #expect(response.status == 200)
        #expect(bodyText(response) == "\(raw)님 안녕하세요")
        #expect(server.process.isRunning)
        #expect(try connection.get("/").status == 200)
    }

    @Test func cookieServerLogin_onlyThePathLoginLogsIn() throws {
        let (server, port) = try startCourseServer("cookie-server", ["--login"])
        defer { uhKill(server) }
        let response = try HelloConnection(port: port).get("/loginx?name=kim")
        #expect(response.status == 200)
        #expect(response.headers["set-cookie"] == nil)
        #expect(bodyText(response).contains(#"action="/login""#))
    }

    // MARK: - Command line and process

    @Test func cookieServer_printsHelp_andExits0() throws {
        try expectHelp("cookie-server", mentions: ["--login", "mycookie=test", "8084"])
    }

    @Test(arguments: [["--bogus"], ["--login=1"], ["--port", "-1"], ["extra"], ["--host", ""]])
    func cookieServer_exits2_onABadCommandLine(_ arguments: [String]) throws {
        try expectUsageError("cookie-server", arguments)
    }

    @Test(arguments: [[], ["--login"]])
    func cookieServer_exits3_whenThePortIsInUse(_ extra: [String]) throws {
        try expectPortInUse("cookie-server", extra)
    }

    @Test(arguments: [[], ["--login"]])
    func cookieServer_exits0_onSIGTERM(_ extra: [String]) throws {
        try expectCleanExitOnSIGTERM("cookie-server", extra)
    }

    @Test func cookieServer_servesAUnixSocket_withCurl() throws {
        try expectServesUnixSocket("cookie-server") { run in
            #expect(run.stdout.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(run.stdout)")
            #expect(run.stdout.lowercased().contains("set-cookie: mycookie=test\r\n"), "\(run.stdout)")
            #expect(run.stdout.hasSuffix("\r\n\r\nHello Cookie"), "\(run.stdout)")
        }
        try expectServesUnixSocket("cookie-server", ["--login"], target: "/login?name=kim") { run in
            #expect(run.stdout.hasPrefix("HTTP/1.1 302 Found\r\n"), "\(run.stdout)")
            #expect(run.stdout.contains("Set-Cookie: name=kim; Expires="), "\(run.stdout)")
        }
    }
}
