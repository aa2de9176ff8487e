import Foundation
import NetCore
import NetCoreHTTP
import Testing
@testable import NetCoreTools

/// `session-server` end to end (the seed's session.js), plus `LoginApp` in process with an injected clock for
/// expiry (the program has no flag to shorten the 5 minutes).
@Suite struct SessionServerTests {
    /// The `session` id of a `Set-Cookie` value, if it has the form the spec gives: `session=<32 hex>` with
    /// `Expires=<IMF-fixdate>`, `HttpOnly` and `Path=/` (in any order), nothing else.
    static func sessionID(_ setCookie: String?) -> String? {
        guard let parts = setCookie?.components(separatedBy: "; "), parts.count == 4,
            let match = parts[0].wholeMatch(of: /session=([0-9a-f]{32})/)
        else { return nil }
        let attributes = parts.dropFirst()
        guard attributes.contains("HttpOnly"), attributes.contains("Path=/"),
            attributes.contains(where: { $0.wholeMatch(of: /Expires=\w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT/) != nil })
        else { return nil }
        return String(match.1)
    }

    /// Logs `name` in and returns the session id.
    static func login(_ connection: HelloConnection, _ name: String = "kim",
                      sourceLocation: SourceLocation = #_sourceLocation) throws -> String? {
        let response = try connection.get("/login?name=\(name)")
        #expect(response.status == 302, sourceLocation: sourceLocation)
        #expect(response.headers["location"] == "/", sourceLocation: sourceLocation)
        let id = sessionID(response.headers["set-cookie"])
        #expect(id != nil, "\(response.headers["set-cookie"] ?? "no Set-Cookie")", sourceLocation: sourceLocation)
        return id
    }

    static func isLoginForm(_ response: RawResponse) -> Bool {
        response.status == 200 && response.headers["content-type"] == "text/html; charset=utf-8"
            && bodyText(response).contains(#"action="/login""#)
    }

    @Test func sessionServer_login_setsA32HexSession_andGreetsWithIt() throws {
        let (server, port) = try startCourseServer("session-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        guard let id = try Self.login(connection, "%ED%95%9C%EA%B8%80") else { return }
        // The name stays on the server: the cookie holds nothing but the id.
        let greeting = try connection.request("GET", "/", headers: ["Cookie: session=\(id)"])
        #expect(greeting.status == 200)
        #expect(greeting.headers["content-type"] == "text/plain; charset=utf-8")
        #expect(bodyText(greeting) == "한글님 안녕하세요")
        // From another connection too, and among other cookies.
        let other = try HelloConnection(port: port).request("GET", "/", headers: ["Cookie: a=1; session=\(id); b=2"])
        #expect(bodyText(other) == "한글님 안녕하세요")
        // Without the cookie: the form.
        #expect(Self.isLoginForm(try connection.get("/")))
    }

    @Test func sessionServer_twoLogins_getTwoDifferentIds() throws {
        let (server, port) = try startCourseServer("session-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        guard let first = try Self.login(connection, "kim"), let second = try Self.login(connection, "lee") else {
            return
        }
        #expect(first != second)
        #expect(bodyText(try connection.request("GET", "/", headers: ["Cookie: session=\(first)"])) == "kim님 안녕하세요")
        #expect(bodyText(try connection.request("GET", "/", headers: ["Cookie: session=\(second)"])) == "lee님 안녕하세요")
    }

    @Test func sessionServer_showsTheLoginForm_forAnUnknownOrMalformedSession() throws {
        let (server, port) = try startCourseServer("session-server")
        defer { uhKill(server) }
        let connection = try HelloConnection(port: port)
        guard let live = try Self.login(connection) else { return }
        let guessed = SessionID.generate()
        let seedStyle = String(Int64(Date().timeIntervalSince1970 * 1000))  // session.js: `Date.now()`
        let upper = live.uppercased()
        let candidates = [
            "session=\(guessed)", "session=\(seedStyle)", "session=", "session=\(live.dropLast())",
            "session=\(live)0", "session=\(upper)", "session=../\(live.dropFirst(3))", "session=%zz", "name=kim",
            "session=\(String(repeating: "g", count: 32))",
        ]
        for cookie in candidates where cookie != "session=\(live)" {
            let response = try connection.request("GET", "/", headers: ["Cookie: \(cookie)"])
            #expect(Self.isLoginForm(response), "\(cookie): \(response.status) \(bodyText(response))")
        }
        // The live session still works after all that.
        #expect(bodyText(try connection.request("GET", "/", headers: ["Cookie: session=\(live)"])) == "kim님 안녕하세요")
    }

    @Test func sessionServer_loginWithoutAName_setsNoSession() throws {
        let (server, port) = try startCourseServer("session-server")
        defer { uhKill(server) }
        let response = try HelloConnection(port: port).get("/login")
        #expect(response.status == 302)
        #expect(response.headers["set-cookie"] == nil)
    }

    // MARK: - Expiry, in process with a fake clock

    /// A settable clock shared by the app and its store.
    final class FakeClock {
        var milliseconds: Int
        init(_ milliseconds: Int) { self.milliseconds = milliseconds }
    }

    /// GET `path` with `cookie` from `port` on `loop`; `done` gets the status, the Set-Cookie values and the body.
    static func get(
        _ loop: EventLoop, _ port: Int, _ path: String, cookie: String? = nil,
        _ done: @escaping (Int, [String], String) -> Void
    ) {
        var headers = HTTPHeaders()
        if let cookie { headers.add(name: "Cookie", value: cookie) }
        let options = ClientRequest.Options(host: "127.0.0.1", port: port, path: path, headers: headers, agent: .none,
                                            loop: loop)
        let request = HTTP.get(options) { response in
            var body: [UInt8] = []
            response.on(.data) { body += $0.bytes }
            response.on(.end) {
                done(response.statusCode, response.headers.setCookie, String(decoding: body, as: UTF8.self))
            }
        }
        request.on(.error) { error in
            Issue.record("request \(path): \(error)")
            loop.stop()
        }
    }

    @Test func loginApp_anExpiredSession_getsTheLoginForm() throws {
        let start = 1_764_662_400_000  // 2025-12-02 08:00:00 UTC
        let clock = FakeClock(start)
        let store = InMemorySessionStore(clock: { clock.milliseconds })
        let app = LoginApp(remembering: .inSession(store), clock: { clock.milliseconds })
        let loop = try EventLoop()
        var timedOut = false
        loop.setTimeout(20_000) {
            timedOut = true
            loop.stop()
        }.unref()
        var setCookie: [String] = []
        var justBefore = ""
        var justAfter = ""
        var afterStatus = 0
        let server = HTTPServer(loop: loop) { request, response in app.handle(request, response) }
        server.listen(port: 0, host: "127.0.0.1") {
            let port = server.address()?.port ?? 0
            Self.get(loop, port, "/login?name=kim") { _, cookies, _ in
                setCookie = cookies
                let id = cookies.first.flatMap(Self.sessionID) ?? "none"
                // One millisecond before the 5 minutes are up: still logged in.
                clock.milliseconds = start + LoginApp.lifetimeSeconds * 1000 - 1
                Self.get(loop, port, "/", cookie: "session=\(id)") { _, _, body in
                    justBefore = body
                    clock.milliseconds = start + LoginApp.lifetimeSeconds * 1000
                    Self.get(loop, port, "/", cookie: "session=\(id)") { status, _, body in
                        afterStatus = status
                        justAfter = body
                        server.close()
                    }
                }
            }
        }
        loop.run()
        #expect(!timedOut, "the loop was still busy after 20 s")
        #expect(setCookie.count == 1)
        // The cookie's Expires comes from the same clock: 08:05:00 GMT.
        #expect(setCookie.first?.contains("; Expires=Tue, 02 Dec 2025 08:05:00 GMT;") == true, "\(setCookie)")
        #expect(justBefore == "kim님 안녕하세요")
        #expect(afterStatus == 200)
        #expect(justAfter.contains(#"action="/login""#), "\(justAfter)")
        #expect(store.count == 0, "the expired session was not dropped on read")
    }

    // MARK: - Command line and process

    @Test func sessionServer_printsHelp_andExits0() throws {
        try expectHelp("session-server", mentions: ["--max-sessions", "32 hex"])
    }

    @Test(arguments: [["--bogus"], ["--max-sessions", "0"], ["--max-sessions", "x"], ["--port"], ["extra"]])
    func sessionServer_exits2_onABadCommandLine(_ arguments: [String]) throws {
        try expectUsageError("session-server", arguments)
    }

    @Test func sessionServer_exits3_whenThePortIsInUse() throws {
        try expectPortInUse("session-server")
    }

    @Test func sessionServer_exits0_onSIGTERM() throws {
        try expectCleanExitOnSIGTERM("session-server")
    }

    @Test func sessionServer_servesAUnixSocket_withCurl() throws {
        try expectServesUnixSocket("session-server", target: "/login?name=kim") { run in
            #expect(run.stdout.hasPrefix("HTTP/1.1 302 Found\r\n"), "\(run.stdout)")
            let field = run.stdout.components(separatedBy: "\r\n").first { $0.hasPrefix("Set-Cookie: ") }
            #expect(Self.sessionID(field.map { String($0.dropFirst("Set-Cookie: ".count)) }) != nil, "\(run.stdout)")
        }
    }
}
