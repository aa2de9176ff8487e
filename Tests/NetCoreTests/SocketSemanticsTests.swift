import Foundation
import Testing
@testable import NetCore

/// End-to-end ports of the intent of Node's `test/parallel/test-net-*` socket tests: half-open handling, exact event
/// order, resets, writes around connect/end/destroy, timeouts, flow control, encodings, state and descriptor hygiene.
/// Every test runs over TCP and Unix-domain sockets unless the behaviour is TCP-only.
@Suite struct SocketSemanticsTests {
    // MARK: - Helpers

    /// Everything one socket reported, in order. Consecutive `data` events are logged as a single "data".
    final class Log {
        var events: [String] = []
        var bytes: [UInt8] = []
        var chunks: [Buffer] = []
        var errors: [SocketError] = []

        var text: String { String(decoding: bytes, as: UTF8.self) }

        /// Adds listeners for every event to `socket`; `data: false` leaves the socket without a data listener.
        @discardableResult
        func track(_ socket: Socket, data: Bool = true, connect: Bool = false) -> Socket {
            if connect { socket.on(.connect) { [self] in events.append("connect") } }
            if data { socket.on(.data) { [self] chunk in record(chunk) } }
            socket.on(.end) { [self] in events.append("end") }
            socket.on(.finish) { [self] in events.append("finish") }
            socket.on(.timeout) { [self] in events.append("timeout") }
            socket.on(.error) { [self] error in
                errors.append(error)
                events.append("error(\(error.code))")
            }
            socket.on(.close) { [self] hadError in events.append("close(\(hadError))") }
            return socket
        }

        func record(_ chunk: Buffer) {
            chunks.append(chunk)
            bytes += chunk.bytes
            if events.last != "data" { events.append("data") }
        }
    }

    /// Runs `action` once `tick()` has been called `count` times (e.g. close the server after both sockets closed).
    final class Countdown {
        private var remaining: Int
        var action: () -> Void = {}

        init(_ count: Int) { remaining = count }

        func tick() {
            remaining -= 1
            if remaining == 0 { action() }
        }
    }

    // MARK: - allowHalfOpen (test-net-allow-half-open, test-net-connect-options-allowhalfopen)

    @Test(arguments: Transport.allCases)
    func allowHalfOpen_serverStaysWritableAfterPeerEnd_whenServerAllowsHalfOpen(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var stateOnEnd: Socket.ReadyState?
        var stateOnLaterTick: Socket.ReadyState?
        var lateWriteResult: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(allowHalfOpen: true, loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.end) {
                    stateOnEnd = socket.readyState
                    loop.setImmediate {
                        // Half-open: nothing ended our side for us.
                        stateOnLaterTick = socket.readyState
                        lateWriteResult = socket.write("still here")
                        socket.end()
                    }
                }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false))
                client.on(.connect) {
                    client.write("hello")
                    client.end()
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(serverLog.text == "hello")
        #expect(serverLog.events == ["data", "end", "finish", "close(false)"])
        #expect(stateOnEnd == .writeOnly)
        #expect(stateOnLaterTick == .writeOnly)
        #expect(lateWriteResult == true)
        #expect(clientLog.text == "still here")
        #expect(clientLog.events == ["finish", "data", "end", "close(false)"])
        #expect(serverLog.errors.isEmpty && clientLog.errors.isEmpty)
    }

    @Test(arguments: Transport.allCases)
    func allowHalfOpen_clientStaysWritableAfterServerEnd_whenClientAllowsHalfOpen(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var clientStateOnEnd: Socket.ReadyState?
        var clientWritableLater: Bool?
        var lateWriteResult: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.end(Buffer("bye"))
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(true))
                client.on(.end) {
                    clientStateOnEnd = client.readyState
                    loop.setTimeout(10) {
                        clientWritableLater = client.readyState == .writeOnly && !client.writableEnded
                        lateWriteResult = client.write("late reply")
                        client.end()
                    }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(clientLog.text == "bye")
        #expect(clientStateOnEnd == .writeOnly)
        #expect(clientWritableLater == true)
        #expect(lateWriteResult == true)
        #expect(clientLog.events == ["data", "end", "finish", "close(false)"])
        #expect(serverLog.text == "late reply")
        #expect(serverLog.events == ["finish", "data", "end", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func allowHalfOpen_bothSidesHalfOpen_whenServerEndsFirst(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(allowHalfOpen: true, loop: loop) { socket in
                serverLog.track(socket)
                socket.end()
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(true))
                client.on(.end) {
                    loop.setTimeout(10) {
                        client.write("after your FIN")
                        client.end()
                    }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(serverLog.text == "after your FIN")
        #expect(serverLog.events == ["finish", "data", "end", "close(false)"])
        #expect(clientLog.events == ["end", "finish", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func defaultHalfOpen_writeInsideEndHandlerIsDelivered_whenPeerEnded(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var writeInEnd: Bool?
        var endedInsideHandler: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.end) {
                    endedInsideHandler = socket.writableEnded
                    writeInEnd = socket.write("from the end handler")
                }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false))
                client.on(.connect) { client.end() }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(endedInsideHandler == false)
        #expect(writeInEnd == true)
        #expect(serverLog.events == ["end", "finish", "close(false)"])
        #expect(clientLog.text == "from the end handler")
        #expect(clientLog.events == ["finish", "data", "end", "close(false)"])
    }

    /// When a write comes after the socket ended itself (Node 20 checked: a nested `process.nextTick` or the `finish`
    /// handler) it fails with EPIPE. A write that comes later still, e.g. from `setImmediate`, meets a socket that has
    /// already closed itself (`end`, `finish`, autoDestroy all happen on ticks in Node too): `false`, no error, close(false).
    enum LateWrite: String, CaseIterable, CustomTestStringConvertible, Sendable {
        case tickAfterAutoEnd, finishHandler, setImmediate
        var testDescription: String { rawValue }
    }

    @Test(arguments: Transport.allCases, LateWrite.allCases)
    func defaultHalfOpen_laterWriteFailsWithEPIPEUntilClosed_whenPeerEnded(_ transport: Transport, when: LateWrite) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var endedByItself: Bool?
        var lateWrite: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                func writeLate() {
                    endedByItself = socket.writableEnded
                    lateWrite = socket.write("too late")
                }
                socket.on(.end) {
                    switch when {
                    case .tickAfterAutoEnd: loop.nextTick { loop.nextTick { writeLate() } }
                    case .finishHandler: socket.on(.finish) { writeLate() }
                    case .setImmediate: loop.setImmediate { writeLate() }
                    }
                }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false))
                client.on(.connect) { client.end() }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(endedByItself == true)
        #expect(lateWrite == false)
        switch when {
        case .tickAfterAutoEnd:
            #expect(serverLog.events == ["end", "error(EPIPE)", "close(true)"])
        case .finishHandler:
            #expect(serverLog.events == ["end", "finish", "error(EPIPE)", "close(true)"])
        case .setImmediate:
            #expect(serverLog.events == ["end", "finish", "close(false)"])
        }
        if when != .setImmediate {
            #expect(serverLog.errors.first?.code == "EPIPE")
            #expect(serverLog.errors.first?.message == "This socket has been ended by the other party")
        }
        #expect(clientLog.text == "")
        #expect(clientLog.events == ["finish", "end", "close(false)"])
    }

    // MARK: - Event order

    @Test(arguments: Transport.allCases)
    func close_eventOrderIsDataEndFinishClose_whenBothSidesEndCleanly(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    client.write("ping")
                    client.end()
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(serverLog.text == "ping")
        #expect(serverLog.events == ["data", "end", "finish", "close(false)"])
        #expect(clientLog.events == ["connect", "finish", "end", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func destroy_emitsOnlyCloseFalseAsynchronously_whenCalledWithoutError(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var returnedFromDestroy = false
        var closeSawReturn: Bool?
        var destroyedRightAway: Bool?
        var stateRightAway: Socket.ReadyState?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    client.destroy()
                    destroyedRightAway = client.destroyed
                    stateRightAway = client.readyState
                    returnedFromDestroy = true
                }
                client.on(.close) { _ in
                    closeSawReturn = returnedFromDestroy
                    closes.tick()
                }
            }
        }
        #expect(closeSawReturn == true)
        #expect(destroyedRightAway == true)
        #expect(stateRightAway == .closed)
        #expect(clientLog.events == ["connect", "close(false)"])
        #expect(serverLog.events == ["end", "finish", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func destroy_emitsErrorThenCloseTrueAsynchronously_whenCalledWithError(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var returnedFromDestroy = false
        var errorSawReturn: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    client.destroy(SocketError(code: "ETESTFAILURE", message: "made up for the test"))
                    returnedFromDestroy = true
                }
                client.on(.error) { _ in errorSawReturn = returnedFromDestroy }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(errorSawReturn == true)
        #expect(clientLog.events == ["connect", "error(ETESTFAILURE)", "close(true)"])
        #expect(clientLog.errors.first?.message == "made up for the test")
        #expect(serverLog.events == ["end", "finish", "close(false)"])
    }

    // MARK: - Peer reset

    @Test(arguments: Transport.allCases, [true, false])
    func resetAndDestroy_peerGetsECONNRESETThenCloseTrue_whenPeerHasDataListener(
        _ transport: Transport, serverResets: Bool
    ) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.data) { _ in
                    if serverResets {
                        socket.resetAndDestroy()
                    } else {
                        socket.write("ack")
                    }
                }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) { client.write("x") }
                client.on(.data) { _ in
                    if !serverResets { client.resetAndDestroy() }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        let (resetter, victim) = serverResets ? (serverLog, clientLog) : (clientLog, serverLog)
        #expect(resetter.events.filter { $0 != "connect" } == ["data", "close(false)"])
        let victimEvents = victim.events.filter { $0 != "connect" && $0 != "data" }
        switch transport {
        case .tcp:
            // The RST reaches a reader as ECONNRESET.
            #expect(victimEvents == ["error(ECONNRESET)", "close(true)"])
            #expect(victim.errors.first?.code == "ECONNRESET")
        case .unix:
            // SO_LINGER has no effect on AF_UNIX: the peer closed with an empty receive queue, so the kernel gives EOF.
            #expect(victimEvents == ["end", "finish", "close(false)"])
        }
    }

    // MARK: - Writes around connect, end and destroy

    /// test-net-socket-end-before-connect
    @Test(arguments: Transport.allCases)
    func end_closesCleanlyAndServerSeesEnd_whenCalledBeforeConnectCompletes(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var stateBeforeConnect: Socket.ReadyState?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(false)
                client.end()
                stateBeforeConnect = client.readyState
                clientLog.track(client, connect: true)
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(stateBeforeConnect == .opening)
        #expect(clientLog.events == ["connect", "finish", "end", "close(false)"])
        #expect(serverLog.events == ["end", "finish", "close(false)"])
    }

    /// Node calls an `end()` callback given after `finish` on the next tick. Ours dropped it, and unix-http starts its
    /// lingering-close timer from that callback, so a connection ended twice could stay half-closed forever.
    @Test(arguments: Transport.allCases)
    func end_callbackGivenAfterFinish_stillRuns(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        runLoop { loop in
            let server = Net.createServer(allowHalfOpen: true, loop: loop) { socket in
                socket.end {
                    events.append("first finish")
                    #expect(socket.destroyed == false, "half-open: the socket stays open after our FIN")
                    socket.end { events.append("late callback") }
                    events.append("end returned")
                }
            }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(true)
                client.on(.end) {
                    client.end()
                    server.close()
                }
            }
        }
        #expect(events == ["first finish", "end returned", "late callback"])
    }

    /// test-net-connect-buffer
    @Test(arguments: Transport.allCases)
    func write_queuedWritesAreDeliveredInOrder_whenMadeBeforeConnectCompletes(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        let parts = (0..<200).map { "chunk \($0) " + String(repeating: "#", count: $0 % 97) + ";" }
        let expected = parts.joined()
        var connectingWhileWriting: [Bool] = []
        var stateWhileWriting: Socket.ReadyState?
        var queuedBeforeConnect: Int?
        var bytesWrittenBeforeConnect: Int?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                stateWhileWriting = client.readyState
                for part in parts {
                    connectingWhileWriting.append(client.connecting)
                    client.write(part)
                }
                queuedBeforeConnect = client.writableLength
                bytesWrittenBeforeConnect = client.bytesWritten
                client.end()
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(stateWhileWriting == .opening)
        #expect(connectingWhileWriting.allSatisfy { $0 })
        #expect(queuedBeforeConnect == expected.utf8.count)
        #expect(bytesWrittenBeforeConnect == expected.utf8.count)
        #expect(serverLog.text == expected)
        #expect(serverLog.events == ["data", "end", "finish", "close(false)"])
        #expect(clientLog.events == ["connect", "finish", "end", "close(false)"])
    }

    /// test-net-socket-close-after-end: data left unread when the peer ends postpones `end` and therefore `close`.
    @Test(arguments: Transport.allCases)
    func close_waitsForEnd_whenDataIsReadLateAfterBothSidesEnded(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var eventsBeforeReading: [String]?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket, data: false)
                socket.end(Buffer("foo"))
                loop.setTimeout(100) {
                    eventsBeforeReading = serverLog.events
                    socket.on(.data) { serverLog.record($0) }
                }
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) { client.end(Buffer("bar")) }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(eventsBeforeReading == ["finish"])
        #expect(serverLog.text == "bar")
        #expect(serverLog.events == ["finish", "data", "end", "close(false)"])
        #expect(clientLog.text == "foo")
        #expect(clientLog.events == ["connect", "finish", "data", "end", "close(false)"])
    }

    /// test-net-write-after-close
    @Test(arguments: Transport.allCases)
    func write_returnsFalseWithoutError_whenSocketIsDestroyed(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var writeAfterDestroy: Bool?
        var writeAfterClose: Bool?
        var serverWriteAfterClose: Bool?
        var bytesWritten: Int?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in
                    serverWriteAfterClose = socket.write("nobody listens")
                    closes.tick()
                }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    client.destroy()
                    writeAfterDestroy = client.write("dropped")
                }
                client.on(.close) { _ in
                    writeAfterClose = client.write("dropped too")
                    bytesWritten = client.bytesWritten
                    loop.setImmediate { closes.tick() }  // let a late error surface before the loop ends
                }
            }
        }
        #expect(writeAfterDestroy == false)
        #expect(writeAfterClose == false)
        #expect(serverWriteAfterClose == false)
        #expect(bytesWritten == 0)
        #expect(clientLog.events == ["connect", "close(false)"])
        #expect(serverLog.text == "")
        #expect(serverLog.events == ["end", "finish", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func write_emitsWriteAfterEndThenCloseTrue_whenCalledAfterOwnEnd(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var writeResult: Bool?
        var returnedFromWrite = false
        var errorSawReturn: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false), connect: true)
                client.on(.connect) {
                    client.end()
                    writeResult = client.write("after end")
                    returnedFromWrite = true
                }
                client.on(.error) { _ in errorSawReturn = returnedFromWrite }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(writeResult == false)
        #expect(errorSawReturn == true)
        #expect(clientLog.events == ["connect", "error(ERR_STREAM_WRITE_AFTER_END)", "close(true)"])
        #expect(serverLog.text == "")
        #expect(serverLog.events == ["end", "finish", "close(false)"])
    }

    // MARK: - High-water mark and drain

    @Test(arguments: Transport.allCases)
    func write_returnsFalseAtHighWaterMarkAndDrainFiresOnce_whenQueuedBeforeConnect(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        let clientLog = Log()
        var results: [Bool] = []
        var lengthAtMark: Int?
        var highWaterMark: Int?
        var drains = 0
        var lengthAtDrain: Int?
        var writeAfterDrain: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = clientLog.track(connect(false))
                highWaterMark = client.writableHighWaterMark
                let mark = client.writableHighWaterMark
                results.append(client.write([UInt8](repeating: 0x61, count: mark - 1)))
                results.append(client.write([UInt8](repeating: 0x62, count: 1)))
                lengthAtMark = client.writableLength
                results.append(client.write([UInt8](repeating: 0x63, count: 1)))
                client.on(.drain) {
                    drains += 1
                    lengthAtDrain = client.writableLength
                    // Give a second, wrongly emitted drain the chance to show up before ending.
                    loop.setTimeout(20) {
                        writeAfterDrain = client.write("!")
                        client.end()
                    }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(highWaterMark == 16 * 1024)
        #expect(results == [true, false, false])
        #expect(lengthAtMark == 16 * 1024)
        #expect(drains == 1)
        #expect(lengthAtDrain == 0)
        #expect(writeAfterDrain == true)
        #expect(serverLog.bytes.count == 16 * 1024 + 2)
        #expect(serverLog.events == ["data", "end", "finish", "close(false)"])
        #expect(clientLog.events == ["finish", "end", "close(false)"])
    }

    @Test(arguments: Transport.allCases)
    func write_returnsFalseAndDrainFiresOnce_whenOneWriteExceedsHighWaterMarkWhileConnected(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let serverLog = Log()
        var bigWrite: Bool?
        var smallWrite: Bool?
        var drains = 0
        var returnedFromWrite = false
        var drainSawReturn: Bool?
        runLoop { loop in
            let closes = Countdown(2)
            let server = Net.createServer(loop: loop) { socket in
                serverLog.track(socket)
                socket.on(.close) { _ in closes.tick() }
            }
            closes.action = { server.close() }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(false)
                client.on(.connect) {
                    bigWrite = client.write([UInt8](repeating: 7, count: 64 * 1024))
                    returnedFromWrite = true
                }
                client.on(.drain) {
                    drains += 1
                    drainSawReturn = returnedFromWrite
                    loop.setTimeout(20) {
                        smallWrite = client.write([1, 2, 3])
                        client.end()
                    }
                }
                client.on(.close) { _ in closes.tick() }
            }
        }
        #expect(bigWrite == false)
        #expect(drains == 1)
        #expect(drainSawReturn == true)
        #expect(smallWrite == true)
        #expect(serverLog.bytes.count == 64 * 1024 + 3)
    }
}
