import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// One request for `routerExchange`, and what came back.
struct RouterRequest {
    var method = "GET"
    var path = "/"
    var headers: HTTPHeaders = [:]
    /// Written in these pieces, then ended (nil: no body at all).
    var pieces: [String]? = nil
}

struct RouterReply {
    var status = 0
    var headers: [String: String] = [:]
    var body = ""
}

/// Serves `handler` on a real in-process HTTPServer (127.0.0.1, port 0) and sends `requests` one after another with
/// `HTTP.request` (a fresh connection each, Node's `agent: false`); returns the replies in order.
func routerExchange(
    _ requests: [RouterRequest],
    sourceLocation: SourceLocation = #_sourceLocation,
    handler: @escaping (IncomingMessage, ServerResponse) -> Void
) -> [RouterReply] {
    var replies: [RouterReply] = []
    runClientLoop(sourceLocation: sourceLocation) { loop, keep in
        let server = HTTP.createServer(loop: loop, handler)
        keep(server)
        listenLocally(server, agent: .none) { base in
            func send(_ index: Int) {
                guard index < requests.count else { return server.close() }
                let wanted = requests[index]
                var options = base
                options.method = wanted.method
                options.path = wanted.path
                options.headers = wanted.headers
                let request = HTTP.request(options) { response in
                    var reply = RouterReply(status: response.statusCode)
                    for (name, value) in response.headers { reply.headers[name] = value }
                    readBody(response) { body in
                        reply.body = String(decoding: body, as: UTF8.self)
                        replies.append(reply)
                        send(index + 1)
                    }
                }
                request.on(.error) { error in
                    Issue.record("request \(index) \(wanted.method) \(wanted.path): \(error)", sourceLocation: sourceLocation)
                    server.close()
                }
                for piece in wanted.pieces ?? [] { request.write(piece) }
                request.end()
            }
            send(0)
        }
    }
    #expect(replies.count == requests.count, "not every request was answered", sourceLocation: sourceLocation)
    return replies
}

/// `Router` through a real server: method + pattern dispatch, parameters and query, the default 404, 405 with
/// `Allow`, HEAD by GET routes, a 400 for an undecodable query.
@Suite(.timeLimit(.minutes(1))) struct RouterTests {
    /// A router whose routes answer `<route name> <parameters> <query>`.
    static func echoingRouter() -> Router {
        let router = Router()
        func echo(_ name: String) -> Router.Handler {
            { request, response, match in
                let parameters = match.parameters.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
                let query = match.query.map { "\($0.key)=\($0.value)" }
                response.setHeader("Content-Type", "text/plain; charset=utf-8")
                response.end("\(name) \(request.method) \(match.path) [\(parameters.joined(separator: ","))] "
                             + "[\(query.joined(separator: ","))] raw=\(match.rawQuery ?? "nil")")
            }
        }
        router.get("/", echo("root"))
        router.get("/users", echo("list"))
        router.post("/user", echo("create"))
        router.put("/user/:id", echo("update"))
        router.delete("/user/:id", echo("delete"))
        router.patch("/user/:id", echo("patch"))
        router.get("/user/:id/posts/:post", echo("post"))
        router.get("/user/me/posts/:post", echo("shadowed"))  // added after a route that matches the same paths
        router.get("/files/*", echo("files"))
        router.on("options", "/users", echo("options"))
        return router
    }

    @Test func routes_byMethodAndPattern_withDecodedParametersAndQuery() {
        let router = Self.echoingRouter()
        let replies = routerExchange([
            RouterRequest(path: "/"),
            RouterRequest(path: "/users?b=x%20y&a=1&a=2&plus=a+b&flag"),
            RouterRequest(method: "POST", path: "/user", pieces: ["{}"]),
            RouterRequest(method: "PUT", path: "/user/%ED%95%9C", pieces: ["{}"]),
            RouterRequest(method: "DELETE", path: "/user/42"),
            RouterRequest(method: "PATCH", path: "/user/7"),
            RouterRequest(path: "/user/me/posts/9"),
            RouterRequest(path: "/files/a/b%2Fc.txt"),
            RouterRequest(path: "/files/"),
            RouterRequest(method: "OPTIONS", path: "/users"),
            RouterRequest(path: "/users/"),
        ], handler: router.handler)
        guard replies.count == 11 else { return }
        #expect(replies.allSatisfy { $0.status == 200 })
        #expect(replies[0].body == "root GET / [] [] raw=nil")
        #expect(replies[1].body == "list GET /users [] [b=x y,a=1,a=2,plus=a b,flag=] raw=b=x%20y&a=1&a=2&plus=a+b&flag")
        #expect(replies[2].body == "create POST /user [] [] raw=nil")
        #expect(replies[3].body == "update PUT /user/%ED%95%9C [id=한] [] raw=nil")
        #expect(replies[4].body == "delete DELETE /user/42 [id=42] [] raw=nil")
        #expect(replies[5].body == "patch PATCH /user/7 [id=7] [] raw=nil")
        // Routes are tried in the order added: the earlier, more general one wins.
        #expect(replies[6].body == "post GET /user/me/posts/9 [id=me,post=9] [] raw=nil")
        #expect(replies[7].body == "files GET /files/a/b%2Fc.txt [*=a/b/c.txt] [] raw=nil")
        #expect(replies[8].body == "files GET /files/ [*=] [] raw=nil")
        // A method registered in lower case is matched upper case.
        #expect(replies[9].body == "options OPTIONS /users [] [] raw=nil")
        // One trailing slash is ignored (RoutePattern's rule); the handler still sees the path as sent.
        #expect(replies[10].body == "list GET /users/ [] [] raw=nil")
    }

    @Test func unknownPath_getsTheDefault404() {
        let replies = routerExchange([
            RouterRequest(path: "/nothing"), RouterRequest(path: "/userss"), RouterRequest(path: "/user/1/posts"),
            RouterRequest(method: "POST", path: "/nothing?x=1", pieces: ["x"]), RouterRequest(path: "/Users"),
        ], handler: Self.echoingRouter().handler)
        for reply in replies {
            #expect(reply.status == 404)
            #expect(reply.body == "NOT FOUND")
            #expect(reply.headers["content-type"] == "text/plain; charset=utf-8")
            #expect(reply.headers["allow"] == nil)
        }
    }

    @Test func knownPathWithAnotherMethod_gets405WithAllow() {
        let replies = routerExchange([
            RouterRequest(method: "POST", path: "/users", pieces: ["x"]),
            RouterRequest(method: "GET", path: "/user/1"),
            RouterRequest(method: "DELETE", path: "/user"),
            RouterRequest(method: "PUT", path: "/files/x"),
            RouterRequest(method: "DELETE", path: "/"),
        ], handler: Self.echoingRouter().handler)
        guard replies.count == 5 else { return }
        #expect(replies.allSatisfy { $0.status == 405 })
        #expect(replies.allSatisfy { $0.headers["content-type"] == "text/plain; charset=utf-8" })
        // In the order the routes were added, HEAD after GET when a GET route matches.
        #expect(replies[0].headers["allow"] == "GET, OPTIONS, HEAD")
        #expect(replies[1].headers["allow"] == "PUT, DELETE, PATCH")
        #expect(replies[2].headers["allow"] == "POST")
        #expect(replies[3].headers["allow"] == "GET, HEAD")
        #expect(replies[4].headers["allow"] == "GET, HEAD")
        #expect(replies[0].body == "method POST not allowed for /users\n")
        #expect(replies[1].body == "method GET not allowed for /user/1\n")
    }

    @Test func head_isAnsweredByTheGETRoute_unlessAHEADRouteMatches() {
        let router = Self.echoingRouter()
        var heads = 0
        router.on("HEAD", "/only-head") { _, response, _ in
            heads += 1
            response.setHeader("X-Head", "yes")
            response.end()
        }
        var getRuns = 0
        router.get("/counted") { _, response, _ in
            getRuns += 1
            response.end("body not sent")
        }
        let replies = routerExchange([
            RouterRequest(method: "HEAD", path: "/counted"),
            RouterRequest(method: "HEAD", path: "/only-head"),
            RouterRequest(method: "GET", path: "/only-head"),
        ], handler: router.handler)
        guard replies.count == 3 else { return }
        #expect(replies[0].status == 200 && replies[0].body.isEmpty)
        #expect(getRuns == 1)
        #expect(replies[1].status == 200 && replies[1].headers["x-head"] == "yes")
        #expect(heads == 1)
        #expect(replies[2].status == 405 && replies[2].headers["allow"] == "HEAD")
    }

    @Test func customFallback_getsThePathAndQuery() {
        let router = Self.echoingRouter()
        router.fallback = { request, response, match in
            response.statusCode = 418
            response.end("fallback \(request.method) \(match.path) \(match.query("q") ?? "-") \(match.parameters.count)")
        }
        let replies = routerExchange([
            RouterRequest(path: "/static/app.css?q=%EA%B9%80"), RouterRequest(method: "POST", path: "/x"),
            RouterRequest(method: "POST", path: "/users"),
        ], handler: router.handler)
        guard replies.count == 3 else { return }
        #expect(replies[0].status == 418 && replies[0].body == "fallback GET /static/app.css 김 0")
        #expect(replies[1].status == 418 && replies[1].body == "fallback POST /x - 0")
        // A known path with another method is still a 405, not the fallback.
        #expect(replies[2].status == 405)
    }

    @Test func anUndecodableQuery_gets400_andNoRouteRuns() {
        let router = Router()
        var runs = 0
        router.get("/users") { _, response, _ in
            runs += 1
            response.end("ran")
        }
        let replies = routerExchange([
            RouterRequest(path: "/users?name=%FF"), RouterRequest(path: "/users?%C3%28=1"), RouterRequest(path: "/users?ok=1"),
        ], handler: router.handler)
        guard replies.count == 3 else { return }
        #expect(replies[0].status == 400 && replies[0].body == "malformed query string\n")
        #expect(replies[1].status == 400)
        #expect(replies[2].status == 200 && replies[2].body == "ran")
        #expect(runs == 1)
    }

    @Test func aHandlerThatReadsTheBody_seesItWhole() {
        let router = Router()
        router.post("/echo") { request, response, _ in
            var body = ""
            request.on(.data) { body += $0.string }
            request.on(.end) { response.end("got \(body)") }
        }
        let replies = routerExchange([
            RouterRequest(method: "POST", path: "/echo", pieces: ["one ", "two ", "three"]),
        ], handler: router.handler)
        #expect(replies.first?.body == "got one two three")
    }
}
