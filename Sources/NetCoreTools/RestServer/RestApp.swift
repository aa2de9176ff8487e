import NetCore
import NetCoreHTTP

/// The seed's `restServer.js` (port 8082) on the router: the users API and its front-end page.
///
/// | request | answer |
/// |---|---|
/// | `GET /` | `restFront.html` |
/// | `GET /about` | `about.html` |
/// | `GET /users` | the users as JSON, `{"id":"name",…}` in insertion order |
/// | `POST /user` `{"name":…}` | `201` `등록 성공` |
/// | `PUT /user/:id` `{"name":…}` | `200`, the users as JSON (an unknown id is created, as in the seed) |
/// | `DELETE /user/:id` | `200`, the users as JSON |
/// | other `GET` | a file of the web root (the embedded front-end, or `--root DIR`), else `404` `NOT FOUND` |
///
/// Where the seed crashes or misbehaves, this answers: bad JSON or a missing/non-string `name` → `400`, a body over
/// the limit → `413`, a known path with another method → `405` with `Allow`, and static files come only from the
/// web root (the seed serves `path.join(__dirname, req.url)`, i.e. any file). Ids are the milliseconds since the
/// epoch like the seed's `Date.now()`, but never repeat (two POSTs in one millisecond overwrote each other).
final class RestApp {
    /// The users, in insertion order.
    private(set) var users = JSONObject()
    /// `users` serialised, rebuilt on the first read after a change (GET /users is the hot path).
    private var usersJSON: Buffer?
    private var lastID: Int64 = 0
    let router = Router()
    /// The answers' fields, built once rather than per request.
    static let jsonType: HTTPHeaders = ["Content-Type": "application/json; charset=utf-8"]
    static let textType: HTTPHeaders = ["Content-Type": "text/plain; charset=utf-8"]
    private let files: StaticFiles
    private let bodyLimit: Int
    /// Where the seed's `console.log` lines go; nil (`--quiet`) builds none of them.
    private let log: ((String) -> Void)?

    init(files: StaticFiles, bodyLimit: Int = Body.defaultLimit, log: ((String) -> Void)?) {
        self.files = files
        self.bodyLimit = bodyLimit
        self.log = log
        router.get("/") { [unowned self] _, response, _ in serveFile("restFront.html", response) }
        router.get("/about") { [unowned self] _, response, _ in serveFile("about.html", response) }
        router.get("/users") { [unowned self] _, response, _ in
            response.writeHead(200, nil, Self.jsonType)
            response.end(currentUsersJSON())
        }
        router.post("/user") { [unowned self] request, response, _ in
            readName(request, response, label: "POST") { [self] name in
                let id = nextID()
                users[id] = .string(name)
                usersJSON = nil
                response.writeHead(201, nil, Self.textType)
                response.end("등록 성공")
            }
        }
        router.put("/user/:id") { [unowned self] request, response, match in
            let id = match["id"] ?? ""
            readName(request, response, label: "PUT") { [self] name in
                users[id] = .string(name)
                usersJSON = nil
                response.writeHead(200, nil, Self.textType)
                response.end(currentUsersJSON())
            }
        }
        router.delete("/user/:id") { [unowned self] _, response, match in
            users[match["id"] ?? ""] = nil
            usersJSON = nil
            response.writeHead(200, nil, Self.textType)
            response.end(currentUsersJSON())
        }
        router.fallback = { request, response, match in
            if request.method == "GET" || request.method == "HEAD", files.serve(match.path, response) { return }
            // As the seed answers: no Content-Type, the body framed as Node frames it after writeHead.
            response.writeHead(404)
            response.end("NOT FOUND")
        }
    }

    /// `/` and `/about`: the seed answers with `writeHead` then `end(data)`, so Node frames them chunked; so does this.
    private func serveFile(_ name: String, _ response: ServerResponse) {
        if !files.serve("/" + name, response, announcingLength: false) {
            response.writeHead(500, nil, ["Content-Type": "text/plain; charset=utf-8"])
            response.end("\(name) is missing from the web root")
        }
    }

    private func currentUsersJSON() -> Buffer {
        if let usersJSON { return usersJSON }
        let made = Buffer(JSONValue.object(users).serializedBytes)
        usersJSON = made
        return made
    }

    /// A new id: the current time in milliseconds, or one more than the last if the clock has not moved on.
    private func nextID() -> String {
        let now = FileSystem.wallClockNanoseconds() / 1_000_000
        lastID = max(now, lastID + 1)
        return String(lastID)
    }

    /// Reads a `{"name": "…"}` body; answers 400/413 itself when it cannot.
    private func readName(
        _ request: IncomingMessage,
        _ response: ServerResponse,
        label: String,
        _ use: @escaping (String) -> Void
    ) {
        Body.readText(request, limit: bodyLimit) { [log] result in
            switch result {
            case .failure(let error):
                error.respond(to: response)
            case .success(let text):
                log?("\(label) 본문(Body): \(text)")  // not even built when quiet
                let value: JSONValue
                do {
                    value = try JSONValue.parse(text)
                } catch {
                    return BodyError(status: 400, message: "invalid JSON: \(error)").respond(to: response)
                }
                guard case .string(let name)? = value["name"] else {
                    return BodyError(status: 400, message: #"expected {"name": "…"} with a string name"#)
                        .respond(to: response)
                }
                use(name)
            }
        }
    }
}
