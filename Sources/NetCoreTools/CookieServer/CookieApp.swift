import NetCore
import NetCoreHTTP

/// The seed's `cookie.js` (port 8083): logs each request's URL and `Cookie` field, answers `Hello Cookie` and sets
/// `mycookie=test`.
final class CookieApp {
    private let log: (String) -> Void

    init(log: @escaping (String) -> Void) { self.log = log }

    func handle(_ request: IncomingMessage, _ response: ServerResponse) {
        // The seed prints `req.url, req.headers.cookie`: `undefined` when there is none.
        log("\(request.url) \(request.headers["cookie"] ?? "undefined")")
        response.writeHead(200, nil, ["Set-Cookie": "mycookie=test"])
        response.end("Hello Cookie")
    }
}

/// The login flow of the seed's `cookie2.js` (port 8084) and `session.js` (8085): `/login?name=X` remembers X for 5
/// minutes and redirects to `/`; `/` greets a remembered name (`X님 안녕하세요`) or shows the login form.
///
/// `Remembering` says where the name lives: in the cookie itself (cookie2.js), or server-side under a random
/// session id (session.js). Fixed from the seeds: an id of 128 bits from the OS's CSPRNG instead of `Date.now()`
/// (guessable), a `Cookie` field with bad percent-encoding no longer crashes the process (`decodeURIComponent`
/// throws), `/login` without a name shows the form again instead of storing `undefined`, and only the path
/// `/login` logs in (the seed's `startsWith('/login')` also took `/loginx`).
final class LoginApp {
    /// Where the logged-in name is kept.
    enum Remembering {
        /// In a `name` cookie (cookie2.js).
        case inCookie
        /// Server-side, under a `session` cookie's random id (session.js).
        case inSession(SessionStore)
    }

    /// How long a login lasts: the seeds' 5 minutes.
    static let lifetimeSeconds = 5 * 60

    private let remembering: Remembering
    private let clock: () -> Int

    /// `clock` gives the wall-clock time in milliseconds (injectable for tests).
    init(remembering: Remembering, clock: @escaping () -> Int = InMemorySessionStore.wallClockMilliseconds) {
        self.remembering = remembering
        self.clock = clock
    }

    func handle(_ request: IncomingMessage, _ response: ServerResponse) {
        let target = RequestTarget(request.url)
        let cookies = Cookies.parse(request.headers["cookie"])
        if target?.path == "/login" {
            return login(name: target.flatMap { QueryString.value(of: "name", in: $0.query) } ?? nil, response)
        }
        if let name = rememberedName(cookies) {
            response.writeHead(200, nil, ["Content-Type": "text/plain; charset=utf-8"])
            response.end("\(name)님 안녕하세요")
            return
        }
        guard let page = WebAssets.file(named: "cookie2.html") else {
            response.writeHead(500, nil, ["Content-Type": "text/plain; charset=utf-8"])
            response.end("cookie2.html is missing")
            return
        }
        response.writeHead(200, nil, ["Content-Type": "text/html; charset=utf-8"])
        response.end(Buffer(page.bytes))
    }

    private func rememberedName(_ cookies: [String: String]) -> String? {
        switch remembering {
        case .inCookie:
            guard let name = cookies["name"], !name.isEmpty else { return nil }
            return name
        case .inSession(let store):
            guard let id = cookies["session"], let session = store.get(id) else { return nil }
            return session["name"]
        }
    }

    private func login(name: String?, _ response: ServerResponse) {
        guard let name, !name.isEmpty else {
            response.writeHead(302, nil, ["Location": "/"])
            response.end()
            return
        }
        let now = clock()
        let expires = now / 1000 + Self.lifetimeSeconds
        let cookie: SetCookie
        switch remembering {
        case .inCookie:
            cookie = SetCookie(name: "name", value: name, expires: expires, path: "/", httpOnly: true)
        case .inSession(let store):
            let id = SessionID.generate()
            store.set(id, ["name": name], expiresAt: now + Self.lifetimeSeconds * 1000)
            cookie = SetCookie(name: "session", value: id, expires: expires, path: "/", httpOnly: true)
        }
        guard let header = try? cookie.serialized() else {
            response.writeHead(400, nil, ["Content-Type": "text/plain; charset=utf-8"])
            response.end("cannot store that name in a cookie\n")
            return
        }
        response.writeHead(302, nil, ["Location": "/", "Set-Cookie": header])
        response.end()
    }
}
