import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// A server the program does not hold: `http.createServer(…).listen(8080)` keeps serving in Node, and must here.
@Suite struct NodeHTTPServerLifetimeTests {
    @Test func serverNotHeldByTheProgram_keepsServingWhileListening() throws {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var reply: [UInt8] = []
        weak var created: HTTPServer?
        runHTTPLoop { loop in
            // Nothing keeps a reference but the server itself: without that, it was freed here and the first
            // connection crashed on an unowned reference.
            do {
                let server = HTTP.createServer(loop: loop) { _, res in res.end("alive") }
                created = server
                server.listen(on: .tcp, directory: directory) { endpoint in
                    rawExchange(
                        endpoint, loop: loop, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n"
                    ) { bytes in
                        reply = bytes
                        created?.close()
                    }
                }
            }
        }
        let text = String(decoding: reply, as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200 OK\r\n"), "\(text.debugDescription)")
        #expect(text.hasSuffix("\r\n\r\nalive"), "\(text.debugDescription)")
        // Closed and its last connection gone: the server lets itself go.
        #expect(created == nil, "a closed server is still alive")
    }

    @Test func serverWithoutARequestListener_answers500() throws {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var reply: [UInt8] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop)
            server.listen(on: .tcp, directory: directory) { endpoint in
                rawExchange(endpoint, loop: loop, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") { bytes in
                    reply = bytes
                    server.close()
                }
            }
        }
        #expect(String(decoding: reply, as: UTF8.self).hasPrefix("HTTP/1.1 500 "))
    }

    /// A request holds its connection strongly (as Node's `req.socket` does) until it closes; the connection must
    /// still be freed once the socket has closed and the program lets go of the request: no cycle outlives it.
    @Test func aRequestKeptAfterItsConnectionClosed_doesNotKeepTheConnectionForever() throws {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        var kept: IncomingMessage?
        weak var connection: HTTPConnection?
        var sourceAfterClose: IncomingMessageSource? = nil
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                kept = req
                connection = res.connection
                res.end("bye")
            }
            server.listen(on: .tcp, directory: directory) { endpoint in
                rawExchange(endpoint, loop: loop, "GET / HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n") { _ in
                    server.close()
                }
            }
        }
        sourceAfterClose = kept?.source
        #expect(kept != nil)
        #expect(sourceAfterClose == nil, "a closed request still holds its connection")
        kept = nil
        #expect(connection == nil, "the connection outlived its socket and every request")
    }
}
