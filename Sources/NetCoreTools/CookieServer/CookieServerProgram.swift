import NetCore
import NetCoreHTTP

/// The seed's `cookie.js` and, with `--login`, `cookie2.js` as a program.
public enum CookieServerProgram {
    /// cookie.js listens on 8083, cookie2.js on 8084.
    public static let defaultPort = 8083
    /// The port of `--login` (cookie2.js).
    public static let loginPort = 8084

    static let extraOptions: [Arguments.Option] = [
        .init("login", help: "cookie2.js: a login form; /login?name=X keeps X in a cookie for 5 minutes (port 8084)")
    ]

    /// The `--help` text.
    public static let usage = WebServer.usage(
        """
        usage: cookie-server [--login] [--port N] [--host ADDR | --unix PATH] [--quiet] [--workers N]
                             [--headers-timeout MS] [--request-timeout MS] [--keep-alive-timeout MS]
                             [--tls [--cert FILE --key FILE] [--write-cert FILE] [--keylog FILE]]

        The seed's cookie.js (port 8083): logs "URL COOKIE" for every request and answers "Hello Cookie" with
        Set-Cookie: mycookie=test. Try: curl -i localhost:8083/ -H 'Cookie: a=1'

        With --login, the seed's cookie2.js (port 8084): GET /login?name=X answers 302 to / with
        Set-Cookie: name=X (URI-encoded); Expires=<in 5 minutes>; Path=/; HttpOnly. GET / with that cookie answers
        "X님 안녕하세요", without it the login form. Open http://localhost:8084/ in a browser.
        """,
        defaultPort: defaultPort,
        extraOptions: extraOptions,
        optionsNote: "\n  (--port defaults to \(loginPort) with --login)"
    )

    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        let login = arguments.contains("--login")
        return WebServer.main(
            arguments,
            name: "cookie-server",
            defaultPort: login ? loginPort : defaultPort,
            extraOptions: extraOptions,
            usage: usage
        ) { parsed, settings in
            let quiet = settings.quiet
            if parsed.has("login") {
                return { loop in
                    let app = LoginApp(remembering: .inCookie)
                    return HTTPServer(loop: loop, configuration: settings.configuration) { request, response in
                        app.handle(request, response)
                    }
                }
            }
            return { loop in
                let app = CookieApp { line in if !quiet { Console.line(line) } }
                return HTTPServer(loop: loop, configuration: settings.configuration) { request, response in
                    app.handle(request, response)
                }
            }
        }
    }
}
