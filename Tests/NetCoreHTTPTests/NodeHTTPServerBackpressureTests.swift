import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// A request body read with `pause()`/`resume()`: backpressure reaches the socket, so a client uploading as fast as
/// it can cannot make the server buffer the body (the intent of Node's test/parallel/test-http-pause.js and
/// test-http-incoming-pipelined-socket-destroy / readable highWaterMark behaviour).
@Suite(.timeLimit(.minutes(3))) struct NodeHTTPServerBackpressureTests {
    /// Node uploads `size` bytes with Content-Length, writing as fast as its socket takes them (honouring its own
    /// `drain`), and prints the Adler-32 of what it sent and the response body.
    static let nodeUploader = #"""
        const http = require('http');
        const [where, total] = process.argv.slice(1);
        const size = +total;
        const target = /^\d+$/.test(where) ? { port: +where, host: '127.0.0.1' } : { socketPath: where };
        const block = Buffer.alloc(64 * 1024);
        for (let i = 0; i < block.length; i++) block[i] = (i * 7 + (i >> 8)) & 0xff;
        let a = 1, b = 0, sent = 0, index = 0;
        const req = http.request({ ...target, method: 'POST', path: '/upload',
                                   headers: { 'Content-Length': size, 'Connection': 'close' } }, res => {
          let body = '';
          res.setEncoding('utf8');
          res.on('data', d => body += d);
          res.on('end', () => console.log(JSON.stringify({ status: res.statusCode, body, sent,
                                                          adler: ((b << 16) | a) >>> 0 })));
        });
        req.on('error', e => { console.error(e.message); process.exit(1); });
        function pump() {
          while (sent < size) {
            const n = Math.min(block.length, size - sent);
            const chunk = Buffer.from(block.subarray(0, n));
            chunk[0] = index & 0xff; chunk[n - 1] = (index >> 8) & 0xff;  // every block differs: order matters
            index++;
            for (let i = 0; i < n; i++) { a = (a + chunk[i]) % 65521; b = (b + a) % 65521; }
            sent += n;
            if (!req.write(chunk)) { req.once('drain', pump); return; }
          }
          req.end();
        }
        pump();
        """#

    struct UploadReport: Decodable {
        let status: Int
        let body: String
        let sent: Int
        let adler: UInt32
    }

    /// Adler-32, incrementally (order-sensitive, so a reordered or lost chunk changes it).
    struct Adler32 {
        var a: UInt32 = 1
        var b: UInt32 = 0

        mutating func update(_ bytes: [UInt8]) {
            bytes.withUnsafeBufferPointer { buffer in
                var index = 0
                while index < buffer.count {
                    // 5552 bytes is the most that can be summed before the 32-bit sums could overflow.
                    let end = Swift.min(index + 5552, buffer.count)
                    while index < end {
                        a &+= UInt32(buffer[index])
                        b &+= a
                        index += 1
                    }
                    a %= 65521
                    b %= 65521
                }
            }
        }

        var value: UInt32 { (b << 16) | a }
    }

    /// 100 MiB uploaded as fast as Node can send it, while the handler pauses twice for 400 ms: during each pause
    /// the server's socket stops being read (a few tens of KiB at most arrive after `pause()`, against the hundreds
    /// of MiB per second loopback carries), process memory stays flat, and after `resume()` every byte arrives in
    /// order (same length and Adler-32 as sent).
    @Test(arguments: HTTPTransport.allCases)
    func pausedRequestBody_stopsReadingTheSocket_andDeliversEveryByteInOrder(_ transport: HTTPTransport) {
        let directory = HTTPTempDirectory()
        defer { directory.cleanup() }
        let size = 100 * 1024 * 1024
        let pauseAt = [1024 * 1024, 50 * 1024 * 1024]
        var received = 0
        var checksum = Adler32()
        var readDuringPauses: [Int] = []
        var dataWhilePaused = 0
        var residentAtStart: Int?
        var residentPeak = 0
        var report: UploadReport?
        runHTTPLoop(seconds: 150) { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                residentAtStart = residentBytes()
                var nextPause = 0
                var isPaused = false
                req.on(.data) { chunk in
                    if isPaused { dataWhilePaused += chunk.count }
                    received += chunk.count
                    checksum.update(chunk.bytes)
                    guard nextPause < pauseAt.count, received >= pauseAt[nextPause] else { return }
                    nextPause += 1
                    isPaused = true
                    req.pause()
                    let readBefore = req.socket.bytesRead
                    loop.setTimeout(400) {
                        readDuringPauses.append(req.socket.bytesRead - readBefore)
                        residentPeak = max(residentPeak, residentBytes() ?? 0)
                        isPaused = false
                        req.resume()
                    }
                }
                req.on(.end) {
                    residentPeak = max(residentPeak, residentBytes() ?? 0)
                    res.end("\(received)")
                }
            }
            server.maxBodyBytes = 1 << 30
            server.listen(on: transport, directory: directory) { endpoint in
                runNode(Self.nodeUploader, [endpoint.argument, String(size)], loop: loop) { status, out, err in
                    #expect(status == 0, "\(err)")
                    report = decodeJSON(UploadReport.self, out)
                    server.close()
                }
            }
        }
        #expect(report?.status == 200)
        #expect(report?.sent == size)
        #expect(report?.body == String(size))
        #expect(received == size)
        #expect(report?.adler == checksum.value, "the bytes arrived changed or out of order")
        #expect(dataWhilePaused == 0, "data was delivered while paused")
        #expect(readDuringPauses.count == 2)
        for read in readDuringPauses {
            // What was in flight when pause() ran: the parser's current chunk plus at most the high-water mark
            // and one more read. Without backpressure this would be most of the upload.
            #expect(read < 1024 * 1024, "\(read) bytes read from the socket while the body was paused")
        }
        if let residentAtStart {
            let growth = residentPeak - residentAtStart
            #expect(growth < 64 * 1024 * 1024, "resident memory grew by \(growth >> 20) MiB during a 100 MiB upload")
        }
    }

    /// A paused body, resumed: the bytes that were held are delivered before any that arrive later, and `end`
    /// only after all of them (one connection, small, exact).
    @Test func pausedRequestBody_resumeDeliversHeldBytesFirst_thenEnd() {
        var events: [String] = []
        runHTTPLoop { loop in
            let server = HTTP.createServer(loop: loop) { req, res in
                req.pause()
                #expect(req.isPaused)
                req.on(.data) { events.append("data:" + $0.string) }
                req.on(.end) {
                    events.append("end")
                    res.end()
                }
                loop.setTimeout(100) {
                    events.append("resume")
                    req.resume()
                }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let request = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nConnection: close\r\n\r\nabcdef"
                rawExchange(.port(server.address()!.port), loop: loop, request) { _ in server.close() }
            }
        }
        #expect(events.first == "resume", "data was delivered while paused")
        #expect(events.dropFirst().dropLast().joined().replacingOccurrences(of: "data:", with: "") == "abcdef")
        #expect(events.last == "end")
    }
}
