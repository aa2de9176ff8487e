import NetCore
import NetCoreHTTP

/// The seed's `restServer.js` as a program: `rest-server [--port 8082] [--root DIR] …`.
public enum RestServerProgram {
    /// restServer.js listens on 8082.
    public static let defaultPort = 8082

    static let extraOptions: [Arguments.Option] = [
        .init(
            "root",
            .value(placeholder: "DIR"),
            help: "serve the front-end and other static files from DIR (default: the built-in front-end)"
        ),
        .init("max-body", .value(placeholder: "BYTES"), help: "largest request body accepted (default 1048576; then 413)"),
    ]

    /// The `--help` text.
    public static let usage = WebServer.usage(
        """
        usage: rest-server [--port N] [--host ADDR | --unix PATH] [--root DIR] [--max-body BYTES] [--quiet]
                           [--workers N] [--headers-timeout MS] [--request-timeout MS] [--keep-alive-timeout MS]
                           [--tls [--cert FILE --key FILE] [--write-cert FILE] [--keylog FILE]]

        The seed's restServer.js: a users API and its front-end page (open http://localhost:8082/).
          GET /             the front-end (restFront.html)          GET /about   about.html
          GET /users        the users as JSON {"id":"name",...}      other GETs   static files of the web root
          POST /user        {"name":"kim"} -> 201 등록 성공
          PUT /user/ID      {"name":"lee"} -> 200 and the users       DELETE /user/ID -> 200 and the users
          anything else     404 NOT FOUND (a known path with another method: 405 with Allow)
        Bad JSON or a missing string "name" gets 400, a body over --max-body 413. Static files come only from the web
        root. Try: curl -X POST -d '{"name":"kim"}' localhost:8082/user; curl localhost:8082/users
        """,
        defaultPort: defaultPort,
        extraOptions: extraOptions
    )

    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        WebServer.main(
            arguments,
            name: "rest-server",
            defaultPort: defaultPort,
            extraOptions: extraOptions,
            usage: usage
        ) { parsed, settings in
            let limit = try parsed.integer("max-body", in: 0...Int(Int32.max)) ?? Body.defaultLimit
            var files = StaticFiles.embedded
            if let root = parsed.values["root"] {
                do throws(SystemError) {
                    files = .directory(try FileResolver(root: root))
                } catch {
                    throw WebServer.StartupFailure(.cannotListen, "cannot serve from --root \(root): \(error.message)")
                }
            }
            let quiet = settings.quiet
            return { loop in
                var configuration = settings.configuration
                configuration.limits.maxBodyBytes = limit
                let app = RestApp(files: files, bodyLimit: limit) { line in if !quiet { Console.line(line) } }
                // The server keeps the app: the handler is its only owner.
                return HTTPServer(loop: loop, configuration: configuration) { request, response in
                    app.router.handle(request, response)
                }
            }
        }
    }
}
