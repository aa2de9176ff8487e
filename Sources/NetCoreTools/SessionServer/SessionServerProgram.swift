import NetCore
import NetCoreHTTP

/// The seed's `session.js` as a program: `session-server [--port 8085] …`.
public enum SessionServerProgram {
    /// session.js listens on 8085.
    public static let defaultPort = 8085

    static let extraOptions: [Arguments.Option] = [
        .init(
            "max-sessions",
            .value(placeholder: "N"),
            help: "most sessions kept at once (default 100000; the ones nearest expiry go first)"
        )
    ]

    /// The `--help` text.
    public static let usage = WebServer.usage(
        """
        usage: session-server [--port N] [--host ADDR | --unix PATH] [--max-sessions N] [--quiet] [--workers N]
                              [--headers-timeout MS] [--request-timeout MS] [--keep-alive-timeout MS]
                              [--tls [--cert FILE --key FILE] [--write-cert FILE] [--keylog FILE]]

        The seed's session.js (port 8085): GET /login?name=X keeps X on the server under a new session id (128 random
        bits from the OS, 32 hex digits) and answers 302 to / with Set-Cookie: session=ID; Expires=<in 5 minutes>;
        Path=/; HttpOnly. GET / with a live session answers "X님 안녕하세요"; an unknown, guessed or expired id gets
        the login form. Open http://localhost:8085/ in a browser.

        Sessions live in this process's memory (lost on restart). With --workers each worker has its own sessions,
        the seed's own caveat: a login made on one worker is unknown to the others.
        """,
        defaultPort: defaultPort,
        extraOptions: extraOptions
    )

    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        WebServer.main(
            arguments,
            name: "session-server",
            defaultPort: defaultPort,
            extraOptions: extraOptions,
            usage: usage
        ) { parsed, settings in
            let maxSessions = try parsed.integer("max-sessions", in: 1...10_000_000) ?? 100_000
            return { loop in
                let app = LoginApp(remembering: .inSession(InMemorySessionStore(maxEntries: maxSessions)))
                return HTTPServer(loop: loop, configuration: settings.configuration) { request, response in
                    app.handle(request, response)
                }
            }
        }
    }
}
