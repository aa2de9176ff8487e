@preconcurrency import Glibc
import NetCore
import NetCoreHTTP

/// The unix-http server: `GET /?file=NAME` streams the counter lines and then the file, chunked, with backpressure.
final class FileServer {
    /// The seed's preamble, `0\n` … `99\n`, built once.
    static let counterLines = Buffer((0..<100).map { "\($0)\n" }.joined())

    /// The 200 response's own fields, built once.
    static let headers: HTTPHeaders = ["Content-Type": "text/plain; charset=utf-8"]

    /// Files up to this size are read in one call instead of streamed.
    static let smallFileLimit = 64 * 1024

    let rootPath: String
    let quiet: Bool
    let configuration: HTTPServer.Configuration

    init(root: String, quiet: Bool, configuration: HTTPServer.Configuration) {
        self.rootPath = root
        self.quiet = quiet
        self.configuration = configuration
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
        let place = socketPath ?? "127.0.0.1 port \(port ?? 0)"
        http.server.on(.error) { error in
            if http.server.listening {
                Console.error("unix-http: accepting connections: \(error.code) (\(error.reason))")
            } else {
                Console.error("unix-http: cannot listen on \(place): \(error.reason) (\(error.code))")
                exitCode = .cannotListen
            }
        }
        let announce = {
            let where_ = socketPath ?? "http://127.0.0.1:\(http.server.address()?.port ?? 0)/"
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
        _ request: HTTPServerRequest,
        _ response: HTTPServerResponse,
        resolver: FileResolver,
        loop: EventLoop
    ) {
        if !quiet {
            let started = loop.now
            response.onFinish {
                let body = request.bodyByteCount > 0 ? " (request body \(request.bodyByteCount) bytes, discarded)" : ""
                Console.line(
                    "\(request.method) \(request.target) \(response.status) \(response.bodyBytesSent) bytes \(loop.now - started) ms\(body)"
                )
            }
        }
        guard let target = RequestTarget(request.target) else {
            return fail(response, 400, "unsupported request target: \(request.target)")
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
                let contents = try FileSystem.readPrefix(of: fd, limit: file.size)
                FileSystem.close(fd)
                response.end(Buffer(contents))
            } catch {
                FileSystem.close(fd)
                Console.error("unix-http: reading \(name) failed: \(error.code)")
                response.abort()
            }
            return
        }
        stream(fd, to: response, loop: loop)
    }

    /// Streams the file with backpressure: reading pauses while the connection's queue is full, so memory stays
    /// bounded whatever the file size and however slow the reader.
    private func stream(_ fd: Int32, to response: HTTPServerResponse, loop: EventLoop) {
        let file = ReadStream(descriptor: fd, closesDescriptor: true, loop: loop)
        // 256 KiB per loop turn: fewer turns and syscalls per byte, while backpressure still bounds memory to a few
        // chunks per slow client.
        file.fileChunkSize = 256 * 1024
        file.on(.data) { chunk in
            if !response.write(chunk) { file.pause() }
        }
        response.onDrain { file.resume() }
        file.on(.end) { response.end() }
        file.on(.error) { error in
            // The status is already sent; cutting the connection is the only honest signal left.
            Console.error("unix-http: reading file failed mid-response: \(error.code)")
            response.abort()
        }
        response.onClose { file.destroy() }
    }

    private func fail(
        _ response: HTTPServerResponse,
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
