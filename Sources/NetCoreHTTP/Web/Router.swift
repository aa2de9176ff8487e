import NetCore

/// What a matched route hands its handler besides the request and response: the path parameters, the path and
/// the parsed query string.
public struct RouteMatch: Sendable {
    /// Values of the pattern's `:name` segments, percent-decoded.
    public let parameters: [String: String]
    /// The request path, without the query.
    public let path: String
    /// The raw query after `?`, nil when there is none.
    public let rawQuery: String?
    /// The query's pairs in order, decoded as Node's `querystring.parse` does.
    public let query: [(key: String, value: String)]

    /// The first value of `key` in the query.
    public func query(_ key: String) -> String? { query.first { $0.key == key }?.value }

    /// The value of the path parameter `name`.
    public subscript(name: String) -> String? { parameters[name] }
}

/// Method + path-pattern routing over `HTTPServer`: what the seeds write by hand as `if (req.method === 'GET') { if
/// (req.url === '/users') … }`, done once. Patterns are `RoutePattern`s (`/user/:id`, `/files/*`).
///
/// A path no route matches goes to `fallback` (by default `404 NOT FOUND`); a path that some route matches, but not
/// with this method, gets `405` with an `Allow` field listing the methods that would match (HEAD is answered by a
/// GET route when no HEAD route exists). A query string that cannot be decoded gets `400`. Not a framework: no
/// middleware, no body parsing (see `Body`).
public final class Router {
    /// A route's handler.
    public typealias Handler = (IncomingMessage, ServerResponse, RouteMatch) -> Void

    private struct Route {
        let method: String
        let pattern: RoutePattern
        let handler: Handler
    }

    private var routes: [Route] = []

    /// Called when no route's pattern matches the path (static files, say). By default `404` with `NOT FOUND`.
    public var fallback: Handler = { _, response, _ in
        response.writeHead(404, nil, ["Content-Type": "text/plain; charset=utf-8"])
        response.end("NOT FOUND")
    }

    /// An empty router.
    public init() {}

    /// Adds a route for `method` (e.g. "GET") and `pattern` (e.g. "/user/:id"; a string literal is checked when it is
    /// made, `try RoutePattern(text)` for patterns built at run time). Routes are tried in the order added.
    @discardableResult
    public func on(_ method: String, _ pattern: RoutePattern, _ handler: @escaping Handler) -> Router {
        routes.append(Route(method: method.uppercased(), pattern: pattern, handler: handler))
        return self
    }

    /// Adds a GET route (also used for HEAD unless a HEAD route matches).
    @discardableResult
    public func get(_ pattern: RoutePattern, _ handler: @escaping Handler) -> Router { on("GET", pattern, handler) }
    /// Adds a POST route.
    @discardableResult
    public func post(_ pattern: RoutePattern, _ handler: @escaping Handler) -> Router { on("POST", pattern, handler) }
    /// Adds a PUT route.
    @discardableResult
    public func put(_ pattern: RoutePattern, _ handler: @escaping Handler) -> Router { on("PUT", pattern, handler) }
    /// Adds a PATCH route.
    @discardableResult
    public func patch(_ pattern: RoutePattern, _ handler: @escaping Handler) -> Router { on("PATCH", pattern, handler) }
    /// Adds a DELETE route.
    @discardableResult
    public func delete(_ pattern: RoutePattern, _ handler: @escaping Handler) -> Router { on("DELETE", pattern, handler) }

    /// The request handler to give `HTTP.createServer`.
    public var handler: (IncomingMessage, ServerResponse) -> Void {
        { [self] request, response in handle(request, response) }
    }

    /// Routes one request.
    public func handle(_ request: IncomingMessage, _ response: ServerResponse) {
        guard let target = RequestTarget(request.url) else {
            return Self.plain(response, 400, "unsupported request target")
        }
        var query: [(key: String, value: String)] = []
        if let raw = target.query {
            guard let pairs = QueryString.parse(raw) else {
                return Self.plain(response, 400, "malformed query string")
            }
            query = pairs
        }
        var allowed: [String] = []
        var getMatch: (Route, [String: String])?
        for route in routes {
            guard let parameters = route.pattern.match(target.path) else { continue }
            if route.method == request.method {
                let match = RouteMatch(parameters: parameters, path: target.path, rawQuery: target.query, query: query)
                return route.handler(request, response, match)
            }
            if route.method == "GET" && request.method == "HEAD" && getMatch == nil { getMatch = (route, parameters) }
            if !allowed.contains(route.method) { allowed.append(route.method) }
        }
        if let (route, parameters) = getMatch {
            let match = RouteMatch(parameters: parameters, path: target.path, rawQuery: target.query, query: query)
            return route.handler(request, response, match)
        }
        if allowed.isEmpty {
            return fallback(request, response, RouteMatch(parameters: [:], path: target.path, rawQuery: target.query, query: query))
        }
        if allowed.contains("GET") && !allowed.contains("HEAD") { allowed.append("HEAD") }
        response.setHeader("Allow", allowed.joined(separator: ", "))
        Self.plain(response, 405, "method \(request.method) not allowed for \(target.path)")
    }

    /// Answers `status` with a one-line plain-text body.
    static func plain(_ response: ServerResponse, _ status: Int, _ text: String) {
        response.statusCode = status
        response.setHeader("Content-Type", "text/plain; charset=utf-8")
        response.end(text + "\n")
    }
}

@available(*, unavailable)
extension Router: Sendable {}
