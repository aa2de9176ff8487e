import NetCore

/// Why a request body could not be had, with the status to answer.
public struct BodyError: Error, Sendable, Equatable, CustomStringConvertible {
    /// `413` (over the limit), `400` (not valid JSON / not UTF-8), `499`-style 0 when the client went away.
    public let status: Int
    /// One line saying what was wrong.
    public let message: String

    /// An error answered with `status` (0: the client went away) and a one-line `message`.
    public init(status: Int, message: String) {
        self.status = status
        self.message = message
    }

    /// The client went away before the body was complete: there is nobody to answer.
    public var isAborted: Bool { status == 0 }

    /// `413 request body over 1048576 bytes`.
    public var description: String { isAborted ? message : "\(status) \(message)" }

    /// Answers the error on `response` (plain text, `Connection: close` for 413 so the rest is not read), unless the
    /// client is gone.
    public func respond(to response: ServerResponse) {
        guard !isAborted, !response.headersSent else { return }
        response.statusCode = status
        response.setHeader("Content-Type", "text/plain; charset=utf-8")
        if status == 413 { response.setHeader("Connection", "close") }
        response.end(message + "\n")
    }
}

/// Reading a whole request body, bounded: what the seeds do with `let body = ''; req.on('data', d => body += d)`,
/// without their unbounded string and with a clear error instead of a crash.
public enum Body {
    /// The default limit, as unix-http's `--max-body`: 1 MiB.
    public static let defaultLimit = 1024 * 1024

    /// Collects `request`'s body, at most `limit` bytes. `completion` runs once: with the bytes, or with a 413 as
    /// soon as the limit is passed (the rest is then dropped), or with an aborted error if the client went away.
    public static func read(
        _ request: IncomingMessage,
        limit: Int = defaultLimit,
        _ completion: @escaping (Result<[UInt8], BodyError>) -> Void
    ) {
        var bytes: [UInt8] = []
        var done = false
        let finish: (Result<[UInt8], BodyError>) -> Void = { result in
            guard !done else { return }
            done = true
            completion(result)
        }
        if let declared = request.fields["Content-Length"].flatMap(Int.init), declared > limit {
            return finish(.failure(BodyError(status: 413, message: "request body over \(limit) bytes")))
        }
        request.on(.data) { chunk in
            guard !done else { return }
            if bytes.count + chunk.count > limit {
                bytes = []
                finish(.failure(BodyError(status: 413, message: "request body over \(limit) bytes")))
                return
            }
            bytes.append(contentsOf: chunk.bytes)
        }
        request.on(.end) { finish(.success(bytes)) }
        request.on(.aborted) {
            finish(.failure(BodyError(status: 0, message: "the client went away before the body was complete")))
        }
    }

    /// Collects the body as UTF-8 text (400 if it is not valid UTF-8).
    public static func readText(
        _ request: IncomingMessage,
        limit: Int = defaultLimit,
        _ completion: @escaping (Result<String, BodyError>) -> Void
    ) {
        read(request, limit: limit) { result in
            completion(
                result.flatMap { bytes in
                    guard let text = String(validating: bytes, as: UTF8.self) else {
                        return .failure(BodyError(status: 400, message: "request body is not valid UTF-8"))
                    }
                    return .success(text)
                }
            )
        }
    }

    /// Collects the body and parses it as JSON (400 with the parser's message if it is not valid JSON). The seed's
    /// `JSON.parse(body)` runs outside its `try` and a bad body kills the Node process.
    public static func readJSON(
        _ request: IncomingMessage,
        limit: Int = defaultLimit,
        _ completion: @escaping (Result<JSONValue, BodyError>) -> Void
    ) {
        read(request, limit: limit) { result in
            completion(
                result.flatMap { bytes in
                    do {
                        return .success(try JSONValue.parse(bytes))
                    } catch {
                        return .failure(BodyError(status: 400, message: "invalid JSON: \(error)"))
                    }
                }
            )
        }
    }
}
