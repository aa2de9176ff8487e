import NetCore
import NetCoreHTTP

/// Where a course server's static files come from: the front-end embedded in the program (`WebAssets`), or a
/// directory given with `--root`, served with unix-http's confinement (no `..`, no absolute names, no symlink out).
enum StaticFiles {
    case embedded
    case directory(FileResolver)

    /// Content types by extension, for files from a directory.
    static func contentType(of name: String) -> String {
        let lowered = name.lowercased()
        if lowered.hasSuffix(".html") || lowered.hasSuffix(".htm") { return "text/html; charset=utf-8" }
        if lowered.hasSuffix(".css") { return "text/css; charset=utf-8" }
        if lowered.hasSuffix(".js") { return "text/javascript; charset=utf-8" }
        if lowered.hasSuffix(".json") { return "application/json; charset=utf-8" }
        if lowered.hasSuffix(".txt") { return "text/plain; charset=utf-8" }
        if lowered.hasSuffix(".png") { return "image/png" }
        if lowered.hasSuffix(".svg") { return "image/svg+xml" }
        if lowered.hasSuffix(".ico") { return "image/x-icon" }
        return "application/octet-stream"
    }

    /// Answers `path` (e.g. `/restFront.css`) if it names a file; false when there is none (the caller answers 404).
    /// A name that tries to leave the root gets `403` here. With `announcingLength` (the seed's `res.end(data)`) the
    /// body goes with `Content-Length`; without (its `writeHead` then `end(data)`) it is chunked, as Node frames them.
    func serve(_ path: String, _ response: ServerResponse, announcingLength: Bool = true) -> Bool {
        guard let decoded = QueryString.decode(Substring(path)), decoded.hasPrefix("/") else { return false }
        let name = String(decoded.dropFirst())
        guard !name.isEmpty else { return false }
        switch self {
        case .embedded:
            guard let file = WebAssets.file(named: name) else { return false }
            respond(response, file.contentType, file.bytes, announcingLength)
            return true
        case .directory(let resolver):
            switch resolver.open(name) {
            case .failure(let refusal):
                if refusal.status == 404 { return false }
                response.writeHead(refusal.status, nil, ["Content-Type": "text/plain; charset=utf-8"])
                response.end(refusal.reason + "\n")
                return true
            case .success(let file):
                defer { FileSystem.close(file.descriptor) }
                guard file.size <= Self.sizeLimit,
                    let bytes = try? FileSystem.readPrefix(of: file.descriptor, limit: file.size)
                else {
                    response.writeHead(500, nil, ["Content-Type": "text/plain; charset=utf-8"])
                    response.end("cannot read \(name)\n")
                    return true
                }
                respond(response, Self.contentType(of: name), bytes, announcingLength)
                return true
            }
        }
    }

    private func respond(_ response: ServerResponse, _ type: String, _ bytes: [UInt8], _ announcingLength: Bool) {
        if announcingLength {
            response.setHeader("Content-Type", type)
        } else {
            response.writeHead(200, nil, ["Content-Type": type])
        }
        response.end(Buffer(bytes))
    }

    /// Files larger than this are refused (the course's front-end files are a few KiB).
    static let sizeLimit = 16 * 1024 * 1024
}
