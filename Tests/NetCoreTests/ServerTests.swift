import Foundation
import Glibc
import Testing
@testable import NetCore

/// End-to-end tests of `Server`: closing, `maxConnections`, `pauseOnConnect`, `unref`, listening on port 0,
/// `EADDRINUSE` and `getConnections` (the intent of Node's test/parallel/test-net-server-*.js).
@Suite struct ServerTests {
    // MARK: - close()

    /// test-net-server-close: close() stops accepting at once, the open connection keeps working, and `close`
    /// fires only once that connection has closed; the callback gets nil.
    @Test(arguments: Transport.allCases)
    func close_stopsAcceptingButKeepsOpenConnection_whenClosedWithConnectionOpen(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        var callbackCalls = 0
        var callbackError: SocketError?
        var listeningAfterClose: Bool?
        var addressAfterClose: SocketAddress?
        var lateEvents: [String] = []
        var lateError: SocketError?
        var echoed = ""
        runLoop { loop in
            var connectClient: ((Bool) -> Socket)?
            var firstClient: Socket?
            let server = Net.createServer(loop: loop)
            server.on(.close) { events.append("server-close") }
            server.on(.connection) { socket in
                socket.on(.data) { socket.write($0) }
                socket.on(.close) { _ in events.append("connection-close") }
                server.close { error in
                    callbackCalls += 1
                    callbackError = error
                    events.append("close-callback")
                }
                events.append("close-called")
                listeningAfterClose = server.listening
                addressAfterClose = server.address()
                // A connection attempt after close() must be refused, while the first client keeps working.
                let late = connectClient!(false)
                late.on(.connect) { lateEvents.append("connect") }
                late.on(.error) { error in
                    lateEvents.append("error")
                    lateError = error
                }
                late.on(.close) { hadError in
                    lateEvents.append("close(\(hadError))")
                    firstClient?.write("ping")
                }
            }
            listen(server, on: transport, directory: directory) { connect in
                connectClient = connect
                let client = connect(false)
                firstClient = client
                client.on(.data) { chunk in
                    echoed += chunk.string
                    if echoed == "ping" { client.destroy() }
                }
                client.on(.close) { _ in events.append("client-close") }
            }
        }
        #expect(echoed == "ping", "the connection open before close() must stay usable")
        #expect(events == ["close-called", "client-close", "connection-close", "server-close", "close-callback"])
        #expect(callbackCalls == 1)
        #expect(callbackError == nil)
        #expect(listeningAfterClose == false)
        #expect(addressAfterClose == nil, "address() must be nil once the server stopped listening")
        // Listeners were added after connect() returned: an error emitted inside connect() would be lost here.
        #expect(lateEvents == ["error", "close(true)"])
        switch transport {
        case .tcp: #expect(lateError?.code == "ECONNREFUSED")
        case .unix: #expect(lateError?.code == "ENOENT" || lateError?.code == "ECONNREFUSED", "got \(String(describing: lateError))")
        }
    }

    /// test-net-server-close (non-listening part): the callback gets ERR_SERVER_NOT_RUNNING, `close` still fires,
    /// and neither happens inside the call.
    @Test func close_reportsNotRunningAndStillEmitsClose_whenNeverListened() {
        var events: [String] = []
        var callbackError: SocketError?
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            server.on(.close) { events.append("close") }
            server.on(.error) { error in events.append("error:\(error.code)") }
            server.close { error in
                events.append("callback")
                callbackError = error
            }
            events.append("close-returned")
        }
        #expect(events == ["close-returned", "close", "callback"])
        #expect(callbackError?.code == "ERR_SERVER_NOT_RUNNING")
    }

    // MARK: - maxConnections

    /// test-net-server-max-connections: with maxConnections 2, 4 clients give 2 `connection`s and 2 `drop`s; the
    /// dropped clients see end/close without data; once an accepted connection closes, a new client is accepted.
    @Test(arguments: Transport.allCases)
    func maxConnections_dropsExtraClientsAndAcceptsAgain_whenLimitReached(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var phase = 1
        var connectionsInPhase1 = 0
        var connectionsInPhase2 = 0
        var maxOpenSeen = 0
        var drops = 0
        var clientLogs: [[String]] = []
        var closedInPhase1: [Int] = []
        var lateClientData = ""
        runLoop { loop in
            var accepted: [Socket] = []
            var clients: [Socket] = []
            var connectClient: ((Bool) -> Socket)?
            let server = Net.createServer(loop: loop)
            server.maxConnections = 2

            func finish() {
                guard phase == 2 else { return }
                phase = 3
                for client in clients { client.destroy() }
                server.close()
            }

            // Phase 2: one accepted connection closed; a new client must be accepted.
            func startPhase2() {
                guard phase == 1, drops == 2, closedInPhase1.count == 2, accepted.count == 2 else { return }
                phase = 2
                let victim = accepted.removeFirst()
                victim.on(.close) { _ in
                    let late = connectClient!(false)
                    clients.append(late)
                    late.on(.data) { chunk in
                        lateClientData += chunk.string
                        if lateClientData == "hello" { finish() }
                    }
                    late.on(.close) { _ in finish() }
                }
                victim.destroy()
            }

            server.on(.connection) { socket in
                if phase == 1 { connectionsInPhase1 += 1 } else { connectionsInPhase2 += 1 }
                maxOpenSeen = max(maxOpenSeen, server.connections)
                accepted.append(socket)
                socket.on(.data) { _ in }
                socket.write("hello")
                startPhase2()
            }
            server.on(.drop) {
                drops += 1
                startPhase2()
            }
            listen(server, on: transport, directory: directory) { connect in
                connectClient = connect
                for index in 0..<4 {
                    clientLogs.append([])
                    let client = connect(false)
                    clients.append(client)
                    client.on(.data) { chunk in clientLogs[index].append("data:\(chunk.string)") }
                    client.on(.end) { clientLogs[index].append("end") }
                    client.on(.error) { error in clientLogs[index].append("error:\(error.code)") }
                    client.on(.close) { hadError in
                        clientLogs[index].append("close(\(hadError))")
                        if phase == 1 {
                            closedInPhase1.append(index)
                            startPhase2()
                        }
                    }
                }
            }
        }
        #expect(connectionsInPhase1 == 2)
        #expect(drops == 2)
        #expect(maxOpenSeen == 2)
        #expect(closedInPhase1.count == 2)
        for index in closedInPhase1 {
            #expect(clientLogs[index] == ["end", "close(false)"], "dropped client \(index) must close without data")
        }
        let kept = (0..<clientLogs.count).filter { !closedInPhase1.contains($0) }
        #expect(kept.count == 2)
        for index in kept {
            #expect(clientLogs[index].first == "data:hello", "accepted client \(index): \(clientLogs[index])")
        }
        #expect(connectionsInPhase2 == 1, "after a connection closed, a new client must be accepted")
        #expect(lateClientData == "hello")
    }

    // MARK: - pauseOnConnect

    /// test-net-server-pause-on-connect: a pauseOnConnect socket delivers nothing until resume().
    @Test(arguments: Transport.allCases)
    func pauseOnConnect_withholdsDataUntilResume_whenEnabled(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var pausedAtConnection: Bool?
        var resumed = false
        var beforeResume = ""
        var afterResume = ""
        runLoop { loop in
            let server = Net.createServer(pauseOnConnect: true, loop: loop) { socket in
                pausedAtConnection = socket.isPaused
                socket.on(.data) { chunk in
                    if resumed { afterResume += chunk.string } else { beforeResume += chunk.string }
                    if afterResume == "hello" { socket.end() }
                }
                loop.setTimeout(100) {
                    resumed = true
                    socket.resume()
                }
            }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(false)
                client.on(.connect) { client.write("hello") }
                client.on(.data) { _ in }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(pausedAtConnection == true)
        #expect(beforeResume == "", "a paused socket must not deliver data before resume()")
        #expect(afterResume == "hello")
    }

    /// test-net-server-pause-on-connect (control): without pauseOnConnect the data arrives at once.
    @Test(arguments: Transport.allCases)
    func pauseOnConnect_deliversDataImmediately_whenDisabled(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var pausedAtConnection: Bool?
        var events: [String] = []
        var received = ""
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                pausedAtConnection = socket.isPaused
                let guardTimer = loop.setTimeout(2000) {
                    events.append("timer")
                    socket.destroy()
                }
                socket.on(.data) { chunk in
                    if received.isEmpty { events.append("data") }
                    received += chunk.string
                    if received == "hello" {
                        guardTimer.cancel()
                        socket.end()
                    }
                }
            }
            listen(server, on: transport, directory: directory) { connect in
                let client = connect(false)
                client.on(.connect) { client.write("hello") }
                client.on(.data) { _ in }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(pausedAtConnection == false)
        #expect(events == ["data"])
        #expect(received == "hello")
    }

    // MARK: - ref / unref

    /// test-net-server-unref: an unref'd listening server does not keep the loop alive.
    @Test(arguments: Transport.allCases)
    func unref_letsLoopReturn_whenServerIsListening(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let loop = try! EventLoop()
        var timedOut = false
        loop.setTimeout(5000) {
            timedOut = true
            loop.stop()
        }.unref()
        let server = Net.createServer(loop: loop)
        var errors: [String] = []
        server.on(.error) { errors.append($0.code) }
        switch transport {
        case .tcp: server.listen(port: 0, host: "127.0.0.1")
        case .unix: server.listen(path: directory.file())
        }
        server.unref()
        loop.run()
        #expect(!timedOut, "an unref'd server must let run() return by itself")
        #expect(server.listening)
        #expect(errors == [])
        var closed = false
        server.close { _ in closed = true }
        loop.run()
        #expect(closed)
    }

    /// ref() after unref() keeps the loop alive again, until a (unref'd) timer closes the server.
    @Test(arguments: Transport.allCases)
    func ref_keepsLoopAlive_whenCalledAfterUnref(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            switch transport {
            case .tcp: server.listen(port: 0, host: "127.0.0.1")
            case .unix: server.listen(path: directory.file())
            }
            server.unref()
            server.ref()
            server.on(.close) { events.append("server-close") }
            // Unref'd: only the server can keep the loop running until this fires.
            loop.setTimeout(100) {
                events.append("timer")
                server.close()
            }.unref()
        }
        #expect(events == ["timer", "server-close"])
    }

    // MARK: - listen(port: 0)

    /// listen(port: 0) without a host: the real port is reported, `listening` fires after listen() returns, and
    /// both 127.0.0.1 and ::1 reach the (dual-stack) server.
    @Test func listen_reportsRealPortAndIsDualStack_whenPortZeroWithoutHost() {
        let hasIPv6 = Self.hasIPv6Loopback()
        let hosts = hasIPv6 ? ["127.0.0.1", "::1"] : ["127.0.0.1"]
        var events: [String] = []
        var address: SocketAddress?
        var connected: [String] = []
        var remoteAddresses: [String] = []
        var clientErrors: [String] = []
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                remoteAddresses.append(socket.remoteAddress ?? "nil")
                socket.on(.data) { _ in }
            }
            server.on(.connection) { _ in
                if remoteAddresses.count == hosts.count { server.close() }
            }
            server.on(.listening) { events.append("listening-event") }
            server.listen(port: 0) {
                events.append("listen-callback")
                address = server.address()
                let port = server.address()?.port ?? 0
                for host in hosts {
                    let client = Socket(loop: loop)
                    client.on(.connect) {
                        connected.append(host)
                        client.end()
                    }
                    client.on(.data) { _ in }
                    client.on(.error) { error in
                        clientErrors.append("\(host): \(error.code)")
                        server.close()
                    }
                    client.connect(port: port, host: host)
                }
            }
            events.append("listen-returned")
            #expect(server.address()?.port != 0, "address() must give the real port as soon as listen() bound")
        }
        #expect(events == ["listen-returned", "listening-event", "listen-callback"])
        #expect((address?.port ?? 0) > 0)
        if hasIPv6 {
            #expect(address?.family == .ipv6)
            #expect(address?.host == "::")
        }
        #expect(clientErrors == [])
        #expect(connected.sorted() == hosts.sorted())
        #expect(remoteAddresses.count == hosts.count)
        #expect(remoteAddresses.contains { $0.hasSuffix("127.0.0.1") }, "\(remoteAddresses)")
        if hasIPv6 { #expect(remoteAddresses.contains("::1"), "\(remoteAddresses)") }
    }

    /// listen(port: 0, host: "127.0.0.1") binds IPv4 with a real port.
    @Test func listen_reportsIPv4Address_whenHostIsIPv4Loopback() {
        var address: SocketAddress?
        var listeningInCallback = false
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            server.listen(port: 0, host: "127.0.0.1") {
                address = server.address()
                listeningInCallback = server.listening
                server.close()
            }
        }
        #expect(address?.family == .ipv4)
        #expect(address?.host == "127.0.0.1")
        #expect((address?.port ?? 0) > 0)
        #expect(listeningInCallback)
    }

    // MARK: - EADDRINUSE

    /// A second server on the first one's port fails asynchronously with EADDRINUSE from `listen`, naming the port;
    /// the first server keeps working.
    @Test(arguments: ["127.0.0.1", nil] as [String?])
    func listen_emitsAddressInUse_whenPortTaken(_ host: String?) {
        var port = 0
        var error: SocketError?
        var errorFiredInsideListen = false
        var secondListened = false
        var secondListening: Bool?
        var firstStillAccepts = false
        runLoop { loop in
            let first = Net.createServer(loop: loop) { socket in
                firstStillAccepts = true
                socket.destroy()
            }
            first.listen(port: 0, host: host) {
                port = first.address()!.port
                let second = Net.createServer(loop: loop)
                second.on(.listening) {
                    secondListened = true
                    second.close()
                    first.close()
                }
                var inListen = true
                second.on(.error) { failure in
                    error = failure
                    errorFiredInsideListen = inListen
                    secondListening = second.listening
                    let client = Socket(loop: loop)
                    client.on(.data) { _ in }
                    client.on(.close) { _ in first.close() }
                    client.connect(port: port, host: "127.0.0.1")
                }
                second.listen(port: port, host: host)
                inListen = false
            }
        }
        #expect(!secondListened)
        #expect(error?.code == "EADDRINUSE")
        #expect(error?.syscall == "listen")
        #expect(error?.port == port)
        if let host { #expect(error?.address == host) }
        #expect(!errorFiredInsideListen, "the error must be emitted asynchronously")
        #expect(secondListening == false)
        #expect(firstStillAccepts)
    }

    // MARK: - getConnections

    /// getConnections reports the number of open connections, asynchronously, and follows closes.
    @Test(arguments: Transport.allCases)
    func getConnections_reportsOpenCount_whenClientsConnectAndLeave(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var reported: [Int] = []
        var connectionsProperty: [Int] = []
        var callbackRanInsideCall = false
        runLoop { loop in
            var accepted: [Socket] = []
            var clients: [Socket] = []
            let server = Net.createServer(loop: loop)
            server.on(.connection) { socket in
                accepted.append(socket)
                socket.on(.data) { _ in }
                guard accepted.count == 3 else { return }
                connectionsProperty.append(server.connections)
                var inCall = true
                server.getConnections { count in
                    callbackRanInsideCall = inCall
                    reported.append(count)
                    // One connection goes; once it closed, the count must drop.
                    accepted[0].on(.close) { _ in
                        connectionsProperty.append(server.connections)
                        server.getConnections { count in
                            reported.append(count)
                            for client in clients { client.destroy() }
                            server.close()
                        }
                    }
                    accepted[0].destroy()
                }
                inCall = false
            }
            listen(server, on: transport, directory: directory) { connect in
                for _ in 0..<3 {
                    let client = connect(false)
                    client.on(.data) { _ in }
                    clients.append(client)
                }
            }
        }
        #expect(reported == [3, 2])
        #expect(connectionsProperty == [3, 2])
        #expect(!callbackRanInsideCall)
    }

    // MARK: - Helpers

    /// Whether this machine can bind ::1 (some containers have no IPv6 loopback).
    static func hasIPv6Loopback() -> Bool {
        let fd = Glibc.socket(AF_INET6, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var address = sockaddr_in6()
        address.sin6_family = sa_family_t(AF_INET6)
        address.sin6_addr = in6addr_loopback
        address.sin6_port = 0
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size))
            }
        }
        return rc == 0
    }
}
