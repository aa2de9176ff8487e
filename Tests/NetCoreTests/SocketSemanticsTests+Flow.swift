import Foundation
import Testing
@testable import NetCore

extension SocketSemanticsTests {
    // MARK: - Idle timeout (test-net-socket-timeout)

    @Test(arguments: Transport.allCases)
    func setTimeout_emitsTimeoutAndKeepsSocketOpen_whenIdle(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var connectedAt: UInt64 = 0
        var timedOutAt: UInt64 = 0
        var stateOnTimeout: Socket.ReadyState?
        var destroyedOnTimeout: Bool?
        var writeOnTimeout: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            var client: Socket!
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.data) { _ in client.destroy() }  // the write after the timeout went through
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    connectedAt = loop.now
                    client.setTimeout(50) {
                        timedOutAt = loop.now
                        stateOnTimeout = client.readyState
                        destroyedOnTimeout = client.destroyed
                        writeOnTimeout = client.write("still open")
                        client.setTimeout(0)
                    }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(timedOutAt >= connectedAt + 50)
        #expect(stateOnTimeout == .open)
        #expect(destroyedOnTimeout == false)
        #expect(writeOnTimeout == true)
        #expect(serverLog.text == "still open")
        #expect(clientLog.events == ["connect", "timeout", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func setTimeout_isPostponedByActivity_whenDataKeepsArriving(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let clientLog = Log()
        let ticks = 15
        var lastDataAt: UInt64 = 0
        var timedOutAt: UInt64 = 0
        var chunksAtTimeout: Int?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                socket.on(.data) { _ in }
                var sent = 0
                var interval: Timeout?
                interval = loop.setInterval(20) {
                    sent += 1
                    socket.write("tick")
                    if sent == ticks { interval?.cancel() }  // then stay idle and open
                }
                socket.on(.close) { _ in
                    interval?.cancel()
                    closes.tick()
                }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false))
                client.on(.data) { _ in lastDataAt = loop.now }
                client.on(.connect) {
                    client.setTimeout(200) {
                        timedOutAt = loop.now
                        chunksAtTimeout = clientLog.bytes.count / 4
                        client.destroy()
                    }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        // 15 ticks 20 ms apart span 300 ms: without postponement the timeout would fire during them.
        #expect(chunksAtTimeout == ticks)
        #expect(clientLog.text == String(repeating: "tick", count: ticks))
        #expect(timedOutAt >= lastDataAt + 200)
        #expect(clientLog.events == ["data", "timeout", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func setTimeout_zeroDisablesTimeout_whenSetAfterANonZeroTimeout(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let clientLog = Log()
        var fired = 0
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                socket.on(.data) { _ in }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    client.setTimeout(30) { fired += 1 }
                    client.setTimeout(0)
                    loop.setTimeout(200) { client.destroy() }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(fired == 0)
        #expect(clientLog.events == ["connect", "close(false)"])
    }

    // MARK: - Bulk transfer with back-pressure (test-net-write-fully-async-buffer)

    @Test(arguments: Transport.allCases)
    func write_moves200MBIntactThroughDrainLoop_whenWriterRespectsBackPressure(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let total = 200 * 1024 * 1024
        let chunkSize = 64 * 1024
        // byte i = i*31+7 repeats every 256 bytes, so every 64 KiB chunk (a multiple of 256) is identical.
        let pattern = (0..<(chunkSize + 256)).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        let chunk = Buffer(Array(pattern[0..<chunkSize]))
        var received = 0
        var firstMismatch: Int?
        var falseReturns = 0
        var drains = 0
        var clientBytesWritten = 0
        var serverBytesRead = 0
        var serverEvents: [String] = []
        runLoop(seconds: 120) { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                socket.on(.data) { data in
                    let ok = data.bytes.withUnsafeBytes { got in
                        pattern.withUnsafeBytes { want in
                            var offset = 0
                            while offset < got.count {
                                let length = min(chunkSize, got.count - offset)
                                let start = (received + offset) % 256
                                if memcmp(got.baseAddress! + offset, want.baseAddress! + start, length) != 0 { return false }
                                offset += length
                            }
                            return true
                        }
                    }
                    if !ok && firstMismatch == nil { firstMismatch = received }
                    received += data.count
                }
                socket.on(.end) { serverEvents.append("end") }
                socket.on(.error) { serverEvents.append("error(\($0.code))") }
                socket.on(.close) { hadError in
                    serverEvents.append("close(\(hadError))")
                    serverBytesRead = socket.bytesRead
                    closes.tick()
                }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(false)
                var sent = 0
                func pump() {
                    while sent < total {
                        sent += chunk.count
                        if !client.write(chunk) {
                            falseReturns += 1
                            return
                        }
                    }
                    client.end()
                }
                client.on(.connect) { pump() }
                client.on(.drain) {
                    drains += 1
                    pump()
                }
                client.on(.close) { _ in
                    clientBytesWritten = client.bytesWritten
                    closes.tick()
                }
            }
        }
        #expect(firstMismatch == nil)
        #expect(received == total)
        #expect(serverBytesRead == total)
        #expect(clientBytesWritten == total)
        #expect(falseReturns > 0)
        #expect(drains > 0)
        #expect(drains == falseReturns)
        #expect(serverEvents == ["end", "close(false)"])
    }

    // MARK: - pause() / resume()

    @Test(arguments: Transport.allCases)
    func pause_holdsDataEventsUntilResume_whenPeerWritesWhilePaused(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var pausedFlag: Bool?
        var eventsWhilePaused: [String]?
        var resumedFlag: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.pause()
                pausedFlag = socket.isPaused
                // A bound on how long "nothing arrives" is checked, not synchronisation: all data arrives after resume.
                loop.setTimeout(100) {
                    eventsWhilePaused = serverLog.events
                    socket.resume()
                    resumedFlag = !socket.isPaused
                }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    client.write("one,")
                    loop.setImmediate {
                        client.write("two,")
                        loop.setTimeout(10) {
                            client.write("three")
                            client.end()
                        }
                    }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(pausedFlag == true)
        #expect(eventsWhilePaused == [])
        #expect(resumedFlag == true)
        #expect(serverLog.text == "one,two,three")
        #expect(serverLog.events == ["data", "end", "finish", "close(false)"])
        #expect(clientLog.events == ["connect", "finish", "end", "close(false)"])
    }

    // MARK: - setEncoding(.utf8)

    @Test(arguments: Transport.allCases)
    func setEncoding_deliversWholeCharacter_whenMultibyteSequenceIsSplitAcrossWrites(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let clientLog = Log()
        var clientReadBeforeSecondWrite: Int?
        var chunksBeforeSecondWrite: Int?
        runLoop { loop in
            let closes = Countdown(2)
            var client: Socket!
            let server = Net.createServer(loop: loop) { socket in
                socket.setNoDelay()
                socket.write([0xE2])
                // Both ends share the loop: send the rest only once the client has read the first byte on its own,
                // so the split reaches the decoder for sure (a bounded wait: the runLoop watchdog ends a hang).
                var poll: Timeout?
                poll = loop.setInterval(1) {
                    guard client.bytesRead >= 1 else { return }
                    poll?.cancel()
                    clientReadBeforeSecondWrite = client.bytesRead
                    chunksBeforeSecondWrite = clientLog.chunks.count
                    loop.setImmediate {
                        socket.write([0x82, 0xAC])
                        socket.end()
                    }
                }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                client = connect(false)
                client.setEncoding(.utf8)
                clientLog.track(client)
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(clientReadBeforeSecondWrite == 1)
        #expect(chunksBeforeSecondWrite == 0)
        #expect(clientLog.chunks.map(\.string) == ["€"])
        #expect(clientLog.chunks.first?.bytes == [0xE2, 0x82, 0xAC])
        #expect(!clientLog.text.contains("\u{FFFD}"))
        #expect(clientLog.events == ["data", "end", "finish", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func setEncoding_emitsReplacementCharacterBeforeEnd_whenStreamEndsMidSequence(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let clientLog = Log()
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                socket.end(Buffer(Array("ab".utf8) + [0xE2, 0x82]))
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(false)
                client.setEncoding(.utf8)
                clientLog.track(client)
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(clientLog.text == "ab\u{FFFD}")
        #expect(clientLog.chunks.last?.string == "\u{FFFD}")
        #expect(clientLog.events == ["data", "end", "finish", "close(false)"])
    }

    // MARK: - readyState, byte counters, addresses

    @Test(arguments: Transport.allCases)
    func readyState_movesThroughOpeningOpenHalfClosedClosed_andCountersMatch(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var clientStates: [Socket.ReadyState] = []
        var serverStates: [Socket.ReadyState] = []
        var clientConnecting: [Bool] = []
        var counters: [String: Int] = [:]
        var serverPort: Int?
        var clientAddress: (remote: String?, remotePort: Int?, family: String?, local: String?, localPort: Int?)?
        var serverSideAddress: (remote: String?, remotePort: Int?, local: String?, localPort: Int?)?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(allowHalfOpen: true, loop: loop) { socket in
                serverStates.append(socket.readyState)
                serverSideAddress = (socket.remoteAddress, socket.remotePort, socket.localAddress, socket.localPort)
                socket.on(.data) { _ in }
                socket.on(.end) {
                    serverStates.append(socket.readyState)
                    socket.end(Buffer("world!!"))
                    serverStates.append(socket.readyState)
                }
                socket.on(.close) { _ in
                    serverStates.append(socket.readyState)
                    counters["serverRead"] = socket.bytesRead
                    counters["serverWritten"] = socket.bytesWritten
                    closes.tick()
                }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                serverPort = server.address()?.port
                let client = connect(false)
                clientStates.append(client.readyState)
                clientConnecting.append(client.connecting)
                client.on(.data) { _ in }
                client.on(.connect) {
                    clientStates.append(client.readyState)
                    clientConnecting.append(client.connecting)
                    clientAddress = (
                        client.remoteAddress, client.remotePort, client.remoteFamily, client.localAddress, client.localPort
                    )
                    client.write("hello")
                    client.end()
                    clientStates.append(client.readyState)
                }
                client.on(.close) { _ in
                    clientStates.append(client.readyState)
                    counters["clientRead"] = client.bytesRead
                    counters["clientWritten"] = client.bytesWritten
                    closes.tick()
                }
            }
        }
        #expect(clientStates == [.opening, .open, .readOnly, .closed])
        #expect(clientConnecting == [true, false])
        #expect(serverStates == [.open, .writeOnly, .closed, .closed])
        #expect(counters == ["clientWritten": 5, "clientRead": 7, "serverRead": 5, "serverWritten": 7])
        switch transport {
        case .tcp:
            #expect(serverPort != nil && serverPort != 0)
            #expect(clientAddress?.remote == "127.0.0.1")
            #expect(clientAddress?.remotePort == serverPort)
            #expect(clientAddress?.family == "IPv4")
            #expect(clientAddress?.local == "127.0.0.1")
            #expect(serverSideAddress?.remote == "127.0.0.1")
            #expect(serverSideAddress?.local == "127.0.0.1")
            #expect(serverSideAddress?.localPort == serverPort)
            #expect(serverSideAddress?.remotePort != nil)
            #expect(serverSideAddress?.remotePort == clientAddress?.localPort)
        case .unix:
            #expect(clientAddress?.remote == nil && clientAddress?.remotePort == nil && clientAddress?.localPort == nil)
            #expect(serverSideAddress?.remote == nil && serverSideAddress?.remotePort == nil)
        }
    }

    // MARK: - Descriptor hygiene

    @Test(arguments: Transport.allCases)
    func descriptors_areClosed_afterCleanCloseDestroyResetAndRefusedConnect(_ transport: Transport) {
        let directories = (0..<4).map { _ in TempDirectory() }
        defer { directories.forEach { $0.cleanup() } }
        var records: [DescriptorRecord] = []
        var missingRecords = 0
        var closeEvents: [String: [String]] = [:]
        var refusedError: String?
        runLoop { loop in
            func remember(_ socket: Socket) {
                if let record = DescriptorRecord(socket) { records.append(record) } else { missingRecords += 1 }
            }
            /// One connection whose client does `action` once connected.
            func scenario(_ name: String, _ directory: TempDirectory, _ action: @escaping (Socket) -> Void) {
                let closes = Countdown(2)
                let server = Net.createServer(loop: loop) { socket in
                    remember(socket)
                    socket.on(.data) { _ in }
                    socket.on(.error) { _ in }
                    socket.on(.close) { hadError in
                        closeEvents["\(name)/server", default: []].append("close(\(hadError))")
                        closes.tick()
                    }
                }
                closes.action = { server.close() }
                listen(server, on: transport, directory: directory) { connect in
                    let client = connect(false)
                    client.on(.data) { _ in }
                    client.on(.error) { _ in }
                    client.on(.connect) {
                        remember(client)
                        action(client)
                    }
                    client.on(.close) { hadError in
                        closeEvents["\(name)/client", default: []].append("close(\(hadError))")
                        closes.tick()
                    }
                }
            }
            scenario("clean", directories[0]) { $0.end(Buffer("bye")) }
            scenario("destroy", directories[1]) { $0.destroy() }
            scenario("reset", directories[2]) { $0.resetAndDestroy() }

            // Refused: a port (or path) nobody listens on.
            func refused(_ client: Socket) {
                if let record = DescriptorRecord(client) { records.append(record) }
                client.on(.error) { refusedError = $0.code }
                client.on(.close) { closeEvents["refused/client", default: []].append("close(\($0))") }
            }
            switch transport {
            case .tcp:
                let probe = Net.createServer(loop: loop)
                probe.listen(port: 0, host: "127.0.0.1") {
                    let port = probe.address()!.port
                    probe.close { _ in
                        refused(Socket(loop: loop).connect(port: port, host: "127.0.0.1"))
                    }
                }
            case .unix:
                refused(Socket(loop: loop).connect(path: directories[3].file("nobody.sock")))
            }
        }
        #expect(missingRecords == 0)
        #expect(records.count >= 6)
        for record in records {
            #expect(!record.isStillOpen, "descriptor \(record.fd) is still open")
        }
        #expect(closeEvents["clean/client"] == ["close(false)"])
        #expect(closeEvents["clean/server"] == ["close(false)"])
        #expect(closeEvents["destroy/client"] == ["close(false)"])
        #expect(closeEvents["destroy/server"] == ["close(false)"])
        #expect(closeEvents["reset/client"] == ["close(false)"])
        #expect(closeEvents["reset/server"]?.count == 1)
        #expect(closeEvents["refused/client"] == ["close(true)"])
        #expect(refusedError == (transport == .tcp ? "ECONNREFUSED" : "ENOENT"))
    }
}
