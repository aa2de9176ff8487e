import Foundation
@preconcurrency import Glibc
import NetCore
import Testing

@testable import NetCoreTLS

/// Backpressure through TLS: write() → false by what is queued (plaintext waiting plus ciphertext), `drain` when
/// the queue empties, a paused TLSSocket stops reading.
@Suite struct TLSBackpressureTests {
    /// The byte at `offset` of the test streams: a pattern that shifts every 256 bytes, so a dropped, repeated or
    /// reordered stretch shows.
    @inline(__always) static func byte(at offset: Int) -> UInt8 {
        UInt8(truncatingIfNeeded: offset &* 7 &+ (offset >> 8))
    }

    static func chunk(from offset: Int, count: Int) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: count) { raw, initialized in
            for index in 0..<count { raw[index] = byte(at: offset + index) }
            initialized = count
        }
    }

    /// test-tls-pause's intent: the client writes 1 MiB chunks until write() returns false while the server is
    /// paused; the server resumes later; everything echoed equals what was sent.
    @Test(.timeLimit(.minutes(1))) func pause_writesUntilFalse_thenResume_echoEqualsInput() throws {
        let megabyte = 1 << 20
        var sent = 0
        var writesBeforeFalse = 0
        var received = 0
        var mismatch: Int?
        var serverWasPaused = false
        try runLoop(seconds: 45) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                socket.pause()
                serverWasPaused = socket.isPaused
                // Echo with backpressure of its own (Node's pipe).
                socket.on(.data) { chunk in
                    if !socket.write(chunk) {
                        socket.pause()
                        socket.once(.drain) { socket.resume() }
                    }
                }
                socket.on(.end) { socket.end() }
                loop.setTimeout(200) { socket.resume() }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                client.on(.secureConnect) {
                    while client.write(Self.chunk(from: sent, count: megabyte)) {
                        sent += megabyte
                        writesBeforeFalse += 1
                        if writesBeforeFalse > 64 { break }
                    }
                    sent += megabyte
                    client.once(.drain) { client.end() }
                }
                client.on(.data) { chunk in
                    if mismatch == nil {
                        for (index, value) in chunk.bytes.enumerated() where value != Self.byte(at: received + index) {
                            mismatch = received + index
                            break
                        }
                    }
                    received += chunk.count
                }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(serverWasPaused)
        #expect(writesBeforeFalse == 0, "the first 1 MiB write is already above the 16 KiB mark")
        #expect(sent == megabyte)
        #expect(received == sent)
        #expect(mismatch == nil)
    }

    /// test-tls-fast-writing's intent, and the 200 MB drain loop: write until false, continue on `drain`, every
    /// byte checked on the other side: 200 MB (about 8 s in a debug build; NETCORE_TLS_SMALL=1 sends 24 MB).
    @Test(.timeLimit(.minutes(3))) func drainLoop_everyByteChecked() throws {
        let total = ProcessInfo.processInfo.environment["NETCORE_TLS_SMALL"] == "1" ? 24_000_000 : 200_000_000
        let piece = 64 * 1024
        var sent = 0
        var received = 0
        var mismatch: Int?
        var drains = 0
        var falseWrites = 0
        var highestQueued = 0
        try runLoop(seconds: 170) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                socket.on(.data) { chunk in
                    if mismatch == nil {
                        chunk.bytes.withUnsafeBufferPointer { bytes in
                            for index in 0..<bytes.count where bytes[index] != Self.byte(at: received + index) {
                                mismatch = received + index
                                break
                            }
                        }
                    }
                    received += chunk.count
                }
                socket.on(.end) { socket.end() }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                func pump() {
                    while sent < total {
                        let count = min(piece, total - sent)
                        let belowMark = client.write(Self.chunk(from: sent, count: count))
                        sent += count
                        highestQueued = max(highestQueued, client.writableLength)
                        if !belowMark {
                            falseWrites += 1
                            return
                        }
                    }
                    client.end()
                }
                client.on(.secureConnect) { pump() }
                client.on(.drain) {
                    drains += 1
                    pump()
                }
                client.on(.data) { _ in }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(received == total)
        #expect(mismatch == nil)
        #expect(falseWrites > 0 && drains == falseWrites)
        // One 64 KiB write past the mark, plus its records' overhead: the queue stays bounded.
        #expect(highestQueued < 16 * 1024 + piece + 4096)
    }

    /// A paused TLSSocket stops reading the descriptor: the peer's writes back up into its own queue.
    @Test(.timeLimit(.minutes(1))) func pausedSocket_stopsReading_peerSeesBackpressure() throws {
        var clientQueued = 0
        var receivedWhilePaused = 0
        var receivedTotal = 0
        let total = 8 << 20
        try runLoop(seconds: 40) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                var paused = false
                var pausedOnce = false
                socket.on(.data) { chunk in
                    receivedTotal += chunk.count
                    if paused { receivedWhilePaused += chunk.count }
                    if !pausedOnce {
                        pausedOnce = true
                        paused = true
                        socket.pause()
                        receivedWhilePaused = 0
                        // Long enough for the client to fill every buffer between them.
                        loop.setTimeout(300) {
                            paused = false
                            socket.resume()
                        }
                    }
                }
                socket.on(.end) { socket.end() }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                client.on(.secureConnect) {
                    client.write(Self.chunk(from: 0, count: total))
                    client.end()
                    loop.setTimeout(250) { clientQueued = client.writableLength }
                }
                client.on(.data) { _ in }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(receivedTotal == total)
        #expect(receivedWhilePaused == 0)
        #expect(clientQueued > 1 << 20, "the client's queue should hold what the paused server did not read")
    }
}

@Suite struct TLSFileWriteTests {
    /// write(file:) through TLS: the region is read a piece at a time as the queue drains (sendfile cannot skip
    /// user space under TLS), in order with the writes around it, and its descriptor is closed once sent.
    @Test(.timeLimit(.minutes(1))) func fileRegion_inOrder_withWritesAround() throws {
        let path = "/tmp/nctls-file-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        let size = 5_000_000
        let content = TLSBackpressureTests.chunk(from: 0, count: size)
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content)))
        defer { unlink(path) }
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        #expect(descriptor >= 0)
        var info = stat()
        fstat(descriptor, &info)
        let inode = info.st_ino
        var received: [UInt8] = []
        var maxQueued = 0
        var returned: Bool?
        try runLoop(seconds: 40) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                socket.write("head:")
                returned = socket.write(file: descriptor, offset: 1000, count: size - 2000, closesDescriptor: true)
                socket.write(":tail")
                socket.end()
                let sampler = loop.setInterval(1) { maxQueued = max(maxQueued, socket.writableLength) }
                socket.on(.close) { _ in sampler.cancel() }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let client = try! TLS.connect(clientOptions(port: server.address()!.port), loop: loop)
                client.on(.data) { received += $0.bytes }
                client.on(.close) { _ in server.close() }
            }
        }
        let expected = Array("head:".utf8) + Array(content[1000..<(size - 1000)]) + Array(":tail".utf8)
        #expect(received.count == expected.count)
        #expect(received == expected)
        #expect(returned == false)
        #expect(maxQueued <= size)
        // The region owned the descriptor and closed it once sent (the number may be reused by a parallel test, so
        // compare the file's identity).
        var after = stat()
        #expect(fstat(descriptor, &after) == -1 || after.st_ino != inode)
    }
}
