@preconcurrency import Glibc
import NetCore
import NetCoreHTTP
import NetCoreTLS

/// The unix-http server: `GET /?file=NAME` streams the counter lines and then the file, chunked, with backpressure.
final class FileServer {
    /// The seed's preamble, `0\n` … `99\n`, built once.
    static let counterLines = Buffer((0..<100).map { "\($0)\n" }.joined())

    /// The 200 response's own fields, built once.
    static let headers: HTTPHeaders = ["Content-Type": "text/plain; charset=utf-8"]

    /// Files up to this size are read in one call and sent with the head in one write; larger ones are sent with
    /// sendfile(2), which costs a few more system calls but never copies the file through user space.
    static let smallFileLimit = 64 * 1024

    /// Small files served before, revalidated with one fstatat per request (see `SmallFileCache`).
    private var cache = SmallFileCache()

    let rootPath: String
    let quiet: Bool
    let configuration: HTTPServer.Configuration
    /// With `--tls`: the certificate the server presents.
    let tls: ServerTLS?

    init(root: String, quiet: Bool, configuration: HTTPServer.Configuration, tls: ServerTLS? = nil) {
        self.rootPath = root
        self.quiet = quiet
        self.configuration = configuration
        self.tls = tls
    }

    func run(socketPath: String?, port: Int?, mode: UInt32?) -> Int32 {
        let resolver: FileResolver
        do {
            resolver = try FileResolver(root: rootPath)
        } catch {
            Console.error("unix-http: cannot serve from --root \(rootPath): \(error.message.lowercased())")
            return UnixHTTPProgram.ExitCode.cannotListen.rawValue
        }
        let loop = EventLoop.main
        var exitCode = UnixHTTPProgram.ExitCode.success
        let http = HTTPServer(loop: loop, configuration: configuration) { [self] request, response in
            handle(request, response, resolver: resolver, loop: loop)
        }
        if let tls {
            // Checked by `prepare`: a context from the same PEM cannot fail here.
            do { try tls.attach(to: http.server, name: "unix-http", quiet: quiet) } catch {
                preconditionFailure("unix-http: TLS set-up failed after its check: \(error)")
            }
        }
        let place = socketPath ?? "127.0.0.1 port \(port ?? 0)"
        http.on(.error) { error in
            if http.server.listening {
                Console.error("unix-http: accepting connections: \(error.code) (\(error.reason))")
            } else {
                Console.error("unix-http: cannot listen on \(place): \(error.reason) (\(error.code))")
                exitCode = .cannotListen
            }
        }
        let announce = {
            let scheme = self.tls == nil ? "http" : "https"
            let where_ = socketPath ?? "\(scheme)://127.0.0.1:\(http.server.address()?.port ?? 0)/"
            Console.line("listening on \(where_) (serving files from \(resolver.root))")
        }
        if let socketPath {
            http.listen(path: socketPath, mode: mode, announce)
        } else {
            http.listen(port: port ?? 0, host: "127.0.0.1", announce)
        }
        var stopping = false
        let stop = {
            guard !stopping else { return }
            stopping = true
            Console.line("shutting down")
            http.close()
            // In-flight responses get a bounded time to finish; then connections are cut.
            loop.setTimeout(5000) { http.closeAllConnections() }.unref()
        }
        let interrupt = loop.onSignal(SIGINT, stop)
        let terminate = loop.onSignal(SIGTERM, stop)
        loop.run()
        interrupt.cancel()
        terminate.cancel()
        return exitCode.rawValue
    }

    private func handle(
        _ request: IncomingMessage,
        _ response: ServerResponse,
        resolver: FileResolver,
        loop: EventLoop
    ) {
        if !quiet {
            let started = loop.now
            response.onFinish {
                let body = request.bodyByteCount > 0 ? " (request body \(request.bodyByteCount) bytes, discarded)" : ""
                Console.line(
                    "\(request.method) \(request.url) \(response.status) \(response.bodyBytesSent) bytes \(loop.now - started) ms\(body)"
                )
            }
        }
        guard let target = RequestTarget(request.url) else {
            return fail(response, 400, "unsupported request target: \(request.url)")
        }
        if !quiet { Console.line(target.query ?? "null") }  // the seed logs the raw query (`null` when absent)
        guard request.method == "GET" || request.method == "HEAD" else {
            return fail(
                response,
                405,
                "method \(request.method) not allowed; use GET or HEAD",
                extra: ["Allow": "GET, HEAD"]
            )
        }
        guard target.path == "/" else { return fail(response, 404, "not found: \(target.path) (only / is served)") }
        guard let fileParameter = QueryString.value(of: "file", in: target.query) else {
            return fail(response, 400, "malformed query string")
        }
        let headers = Self.headers
        guard let name = fileParameter else {
            response.writeHead(200, headers: headers)
            response.write(Self.counterLines)
            response.end(Buffer("usage: add ?file=NAME to stream a file from \(resolver.root)\n"))
            return
        }
        if request.method == "GET",
            let cached = cache.contents(of: name, current: { resolver.status(ofPlainName: name) })
        {
            // Still the very file read before (same inode, size and times): no open, read or close.
            response.writeHead(200, headers: headers)
            response.write(Self.counterLines)
            response.end(cached)
            return
        }
        let file: FileResolver.OpenFile
        switch resolver.open(name) {
        case .success(let opened): file = opened
        case .failure(let refusal): return fail(response, refusal.status, refusal.reason)
        }
        let fd = file.descriptor
        // Everything that can be refused was checked: the status line goes out now.
        response.writeHead(200, headers: headers)
        response.write(Self.counterLines)
        guard request.method == "GET" else {
            FileSystem.close(fd)
            response.end()
            return
        }
        if file.size <= Self.smallFileLimit {
            // Small files go out with the head and the counter lines in one gathering write.
            do {
                let contents = Buffer(try FileSystem.readPrefix(of: fd, limit: file.size))
                FileSystem.close(fd)
                // Only entries directly in the root can ever hit (the lookup is an fstatat of the name itself, symlinks
                // not followed), so names with "/" and symlinks are not stored to be dropped again on the next request.
                let plain = !name.utf8.contains(UInt8(ascii: "/"))
                if plain && file.path == (resolver.root == "/" ? "/" : resolver.root + "/") + name {
                    let readAt = FileSystem.wallClockNanoseconds()
                    cache.store(name, status: file.status, contents: contents, readAt: readAt)
                }
                response.end(contents)
            } catch {
                FileSystem.close(fd)
                Console.error("unix-http: reading \(name) failed: \(error.code)")
                response.abort()
            }
            return
        }
        // Larger files go out with sendfile(2) as one chunk: no read into memory at all, so memory stays bounded
        // whatever the file size and however slow the reader (the queue holds the region, not its bytes).
        response.write(file: fd, count: file.size)
        response.end()
    }

    private func fail(
        _ response: ServerResponse,
        _ status: Int,
        _ reason: String,
        extra: HTTPHeaders = HTTPHeaders()
    ) {
        let body = reason + "\n"
        var headers = extra
        headers.add(name: "Content-Type", value: "text/plain; charset=utf-8")
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        response.writeHead(status, headers: headers)
        response.end(Buffer(body))
    }
}
