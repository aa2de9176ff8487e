@preconcurrency import Glibc
import NetCore
import NetCoreHTTP

/// The seed's first web servers as one program: `hello-server` is server1.js (every request gets a two-chunk HTML
/// greeting), `hello-server --file F` is server2.js (every request gets the file F, read fresh each time).
public enum HelloServerProgram {
    /// server1.js listens on 8080.
    public static let defaultPort = 8080

    /// The largest file `--file` serves: it is read into memory for each request, so memory stays bounded.
    public static let maxFileBytes = 64 * 1024 * 1024

    static let extraOptions: [Arguments.Option] = [
        .init(
            "file",
            .value(placeholder: "FILE"),
            help: "answer every request with FILE as text/html, read fresh each time (server2.js)"
        )
    ]

    /// The `--help` text.
    public static let usage = WebServer.usage(
        """
        usage: hello-server [--port N] [--host ADDR | --unix PATH] [--file FILE] [--quiet] [--workers N]
                            [--headers-timeout MS] [--request-timeout MS] [--keep-alive-timeout MS]
                            [--tls [--cert FILE --key FILE] [--write-cert FILE] [--keylog FILE]]

        The seed's server1.js: every request gets 200 text/html; charset=utf-8 with the body written in two chunks,
        "<h1>Hello Node!</h1>" then "Hello Server!" (chunked framing, as Node sends it).
        With --file FILE, the seed's server2.js: every request gets FILE's bytes as text/html (read on each request,
        at most \(maxFileBytes) bytes); when it cannot be read, 500 text/plain with Node's error message, e.g.
        "ENOENT: no such file or directory, open 'FILE'", and one line on stderr. Try: hello-server --file
        server2.html --port 8081
        """,
        defaultPort: defaultPort,
        extraOptions: extraOptions
    )

    /// Runs the program; returns the exit code.
    public static func main(_ arguments: [String]) -> Int32 {
        WebServer.main(
            arguments,
            name: "hello-server",
            defaultPort: defaultPort,
            extraOptions: extraOptions,
            usage: usage
        ) { parsed, settings in
            let file = parsed.values["file"]
            if file?.isEmpty == true { throw Arguments.UsageError(description: "--file needs a non-empty path") }
            return { loop in
                HTTPServer(loop: loop, configuration: settings.configuration) { _, response in
                    if let file {
                        serveFile(file, response)
                    } else {
                        greet(response)
                    }
                }
            }
        }
    }

    static let htmlHeaders: HTTPHeaders = ["Content-Type": "text/html; charset=utf-8"]
    static let greetingHead = Buffer("<h1>Hello Node!</h1>")
    static let greetingTail = Buffer("Hello Server!")

    /// server1.js: `res.write('<h1>Hello Node!</h1>'); res.end('Hello Server!')`.
    static func greet(_ response: ServerResponse) {
        response.writeHead(200, headers: htmlHeaders)
        response.write(greetingHead)
        response.end(greetingTail)
    }

    /// server2.js: `fs.readFile(F)`, then 200 with the bytes, or 500 with `err.message`.
    static func serveFile(_ path: String, _ response: ServerResponse) {
        switch readFile(path) {
        case .success(let bytes):
            // writeHead, then end(data): chunked, as Node frames the seed's response.
            response.writeHead(200, headers: htmlHeaders)
            response.end(Buffer(bytes))
        case .failure(let failure):
            Console.error("hello-server: \(failure.message)")
            let body = Buffer(failure.message)
            response.writeHead(500, headers: ["Content-Type": "text/plain; charset=utf-8"])
            response.end(body)
        }
    }

    /// A file that could not be served, worded as Node's `err.message`.
    struct ReadFailure: Error {
        let message: String
    }

    /// Reads the whole regular file at `path`, at most `maxFileBytes`. The open does not block on a FIFO.
    static func readFile(_ path: String) -> Result<[UInt8], ReadFailure> {
        let fd: Int32
        do {
            fd = try FileSystem.openWithoutBlocking(path)
        } catch {
            return .failure(ReadFailure(message: nodeMessage(error, path: path)))
        }
        defer { FileSystem.close(fd) }
        do {
            switch try FileSystem.kind(ofDescriptor: fd) {
            case .regular(let size) where size > maxFileBytes:
                return .failure(
                    ReadFailure(
                        message: "EFBIG: file too large, read '\(path)' (\(size) bytes; at most \(maxFileBytes) are served)"
                    )
                )
            case .regular(let size):
                return .success(try FileSystem.readPrefix(of: fd, limit: size))
            case .directory:
                // Node: fs.readFile on a directory fails in read(2), and its message has no path.
                return .failure(ReadFailure(message: "EISDIR: illegal operation on a directory, read"))
            case .other:
                return .failure(ReadFailure(message: "EINVAL: not a regular file, read '\(path)'"))
            }
        } catch {
            return .failure(ReadFailure(message: nodeMessage(error, path: nil)))
        }
    }

    /// Node's (libuv's) wording: `"ENOENT: no such file or directory, open 'F'"`.
    static func nodeMessage(_ error: SystemError, path: String?) -> String {
        let syscall = error.syscall == "pread" ? "read" : error.syscall
        return "\(error.code): \(libuvText(error)), \(syscall)" + (path.map { " '\($0)'" } ?? "")
    }

    /// libuv's `uv_strerror` text for the errors opening and reading a file gives (it differs from strerror's in
    /// places); others fall back to strerror in lower case.
    static func libuvText(_ error: SystemError) -> String {
        switch error.errno {
        case ENOENT: "no such file or directory"
        case EACCES: "permission denied"
        case EISDIR: "illegal operation on a directory"
        case ENOTDIR: "not a directory"
        case ELOOP: "too many symbolic links encountered"
        case ENAMETOOLONG: "name too long"
        case EMFILE: "too many open files"
        case ENFILE: "file table overflow"
        case EPERM: "operation not permitted"
        case EIO: "i/o error"
        default: error.message.prefix(1).lowercased() + error.message.dropFirst()
        }
    }
}
