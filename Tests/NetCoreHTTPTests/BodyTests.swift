import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// `Body.read`, `readText` and `readJSON` through a real in-process server: whole bodies in any framing, the limit
/// (declared and streamed), bad UTF-8 and JSON, and a client that goes away mid-body.
@Suite(.timeLimit(.minutes(1))) struct BodyTests {
    /// A handler that reads the body with `Body.read` (limit 16) and answers what it got; `results` records each
    /// completion call (to show it runs once).
    static func readingHandler(limit: Int = 16, _ results: @escaping (Result<[UInt8], BodyError>) -> Void)
        -> (IncomingMessage, ServerResponse) -> Void
    {
        { request, response in
            Body.read(request, limit: limit) { result in
                results(result)
                switch result {
                case .success(let bytes): response.end("ok \(bytes.count): " + String(decoding: bytes, as: UTF8.self))
                case .failure(let error): error.respond(to: response)
                }
            }
        }
    }

    @Test func read_collectsTheWholeBody_inEveryFraming() {
        var results: [Result<[UInt8], BodyError>] = []
        let replies = routerExchange([
            RouterRequest(method: "POST", path: "/", headers: ["Content-Length": "5"], pieces: ["he", "llo"]),
            RouterRequest(method: "POST", path: "/", pieces: ["chu", "nk", "ed"]),  // chunked: no length given
            RouterRequest(method: "POST", path: "/", pieces: [String(repeating: "x", count: 16)]),  // exactly the limit
            RouterRequest(method: "GET", path: "/"),  // no body at all
            RouterRequest(method: "POST", path: "/", headers: ["Content-Length": "0"], pieces: []),
            RouterRequest(method: "POST", path: "/", pieces: ["한글"]),
        ], handler: Self.readingHandler { results.append($0) })
        #expect(replies.map(\.status) == [200, 200, 200, 200, 200, 200])
        #expect(replies.map(\.body) == [
            "ok 5: hello", "ok 7: chunked", "ok 16: " + String(repeating: "x", count: 16), "ok 0: ", "ok 0: ",
            "ok 6: 한글",
        ])
        #expect(results.count == 6)
    }

    @Test func read_over413_declaredOrStreamed_answersOnceWithConnectionClose() {
        var results: [Result<[UInt8], BodyError>] = []
        let replies = routerExchange([
            // Declared over the limit: refused before any byte of the body is read.
            RouterRequest(method: "POST", path: "/", headers: ["Content-Length": "17"],
                          pieces: [String(repeating: "a", count: 17)]),
            // No length: refused as soon as the chunks pass the limit, though more keep coming.
            RouterRequest(method: "POST", path: "/", pieces: ["0123456789", "0123456789", "0123456789"]),
            // The server is fine afterwards.
            RouterRequest(method: "POST", path: "/", pieces: ["small"]),
        ], handler: Self.readingHandler { results.append($0) })
        guard replies.count == 3 else { return }
        for reply in replies.prefix(2) {
            #expect(reply.status == 413)
            #expect(reply.body == "request body over 16 bytes\n")
            #expect(reply.headers["connection"] == "close")
            #expect(reply.headers["content-type"] == "text/plain; charset=utf-8")
        }
        #expect(replies[2].body == "ok 5: small")
        let errors = results.compactMap { result -> BodyError? in
            if case .failure(let error) = result { return error }
            return nil
        }
        #expect(errors == [BodyError(status: 413, message: "request body over 16 bytes"),
                           BodyError(status: 413, message: "request body over 16 bytes")])
        #expect(results.count == 3, "completion ran more than once per request")
    }

    @Test(arguments: [[0xFF], [0x63, 0x61, 0x66, 0xC3], [0xED, 0xA0, 0x80]] as [[UInt8]])  // last: a surrogate
    func readText_answers400_forInvalidUTF8(_ bytes: [UInt8]) throws {
        var status = 0
        var body = ""
        runClientLoop { loop, keep in
            let server = HTTP.createServer(loop: loop) { request, response in
                Body.readText(request) { result in
                    if case .failure(let error) = result { error.respond(to: response) } else { response.end("ok") }
                }
            }
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.method = "POST"
                let request = HTTP.request(options) { response in
                    status = response.statusCode
                    readBody(response) {
                        body = String(decoding: $0, as: UTF8.self)
                        server.close()
                    }
                }
                request.end(Buffer(bytes))
            }
        }
        #expect(status == 400)
        #expect(body == "request body is not valid UTF-8\n")
    }

    @Test func readJSON_parsesValidJSON_andAnswers400WithTheReasonOtherwise() {
        var values: [JSONValue] = []
        let replies = routerExchange([
            RouterRequest(method: "POST", path: "/", pieces: [#"{"name":"kim","n":[1,2]}"#]),
            RouterRequest(method: "POST", path: "/", pieces: ["{"]),
            RouterRequest(method: "POST", path: "/", pieces: [""]),
            RouterRequest(method: "POST", path: "/", pieces: [#"{"a":1}"#, " trailing"]),
            RouterRequest(method: "POST", path: "/", pieces: ["[1, 2"]),
            RouterRequest(method: "POST", path: "/", pieces: ["  \"text\"  "]),
        ]) { request, response in
            Body.readJSON(request) { result in
                switch result {
                case .success(let value):
                    values.append(value)
                    response.end("json")
                case .failure(let error): error.respond(to: response)
                }
            }
        }
        guard replies.count == 6 else { return }
        #expect(replies.map(\.status) == [200, 400, 400, 400, 400, 200])
        for reply in replies where reply.status == 400 {
            #expect(reply.body.hasPrefix("invalid JSON: ") && reply.body.hasSuffix("\n"), "\(reply.body)")
        }
        #expect(values.count == 2)
        #expect(values.first?["name"] == .string("kim"))
        #expect(values.last == .string("text"))
    }

    @Test func read_reportsAbortedOnce_whenTheClientGoesAwayMidBody_andAnswersNothing() {
        var results: [Result<[UInt8], BodyError>] = []
        var responded: [Bool] = []
        var clientSawResponse = false
        runClientLoop { loop, keep in
            // Set by the client: destroys its request. Called by the server once the first body bytes are in, so
            // the client vanishes mid-body for certain, with 990 of its declared 1000 bytes never sent.
            var vanish: (() -> Void)?
            var serverRef: HTTPServer?
            let server = HTTP.createServer(loop: loop) { request, response in
                request.on(.data) { _ in
                    vanish?()
                    vanish = nil
                }
                Body.read(request, limit: 10_000) { result in
                    results.append(result)
                    if case .failure(let error) = result {
                        error.respond(to: response)
                        responded.append(response.headersSent)
                    }
                    serverRef?.close()
                    serverRef?.closeAllConnections()
                    serverRef = nil
                }
            }
            serverRef = server
            keep(server)
            listenLocally(server, agent: .none) { options in
                var options = options
                options.method = "POST"
                options.headers = ["Content-Length": "1000"]
                let request = HTTP.request(options) { _ in clientSawResponse = true }
                request.on(.error) { _ in }  // the request is destroyed on purpose
                request.write("0123456789")
                vanish = { request.destroy() }
            }
        }
        #expect(results.count == 1)
        if case .failure(let error)? = results.first {
            #expect(error.isAborted)
            #expect(error.status == 0)
        } else {
            Issue.record("expected an aborted error, got \(results)")
        }
        #expect(responded == [false], "nothing is answered to a client that is gone")
        #expect(!clientSawResponse)
    }

    @Test func bodyError_respond_doesNothingOnceHeadersAreSent() {
        let replies = routerExchange([RouterRequest(method: "POST", path: "/", pieces: ["x"])]) { request, response in
            response.writeHead(200, nil, ["Content-Type": "text/plain"])
            response.write("started ")
            Body.read(request, limit: 0) { result in
                if case .failure(let error) = result { error.respond(to: response) }
                response.end("and finished")
            }
        }
        #expect(replies.first?.status == 200)
        #expect(replies.first?.body == "started and finished")
        #expect(BodyError(status: 413, message: "too big").description == "413 too big")
        #expect(BodyError(status: 0, message: "gone").description == "gone")
        #expect(BodyError(status: 0, message: "gone").isAborted)
    }
}
