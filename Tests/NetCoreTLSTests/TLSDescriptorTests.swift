@preconcurrency import Glibc
import NetCore
import Testing

@testable import NetCoreTLS

/// RLIMIT_NOFILE as the Int32 getrlimit takes (Glibc imports it as an enum case).
let descriptorLimitResource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)

/// No leaked descriptors: every socket of every kind of TLS connection ending (clean, garbage, rejected certificate,
/// destroyed mid-handshake, reset, handshake timeout) has its descriptor closed once the loop is idle; also a burst
/// of handshakes at once (a small storm; the 1,000-connection one belongs to the benchmarks).
@Suite struct TLSDescriptorTests {
    @Test(.timeLimit(.minutes(1))) func everyEnding_closesEveryDescriptor() throws {
        let pki = try TestPKI.shared
        var records: [DescriptorRecord] = []
        var serverSockets = 0
        var clientSockets = 0
        var secureConnections = 0
        var clientErrors = 0
        let rounds = 40
        try runLoop(seconds: 40) { loop in
            let server = try TLS.createServer(serverOptions { $0.handshakeTimeout = 500 }, loop: loop) { socket in
                secureConnections += 1
                socket.on(.data) { socket.write($0) }
            }
            server.on(.connection) { socket in
                serverSockets += 1
                records.append(DescriptorRecord(socket)!)
            }
            server.on(.tlsClientError) { _, _ in clientErrors += 1 }
            var closed = 0
            func didClose() {
                closed += 1
                if closed == rounds { server.close() }
            }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                for index in 0..<rounds {
                    switch index % 5 {
                    case 0:  // clean echo and end
                        let client = try! TLS.connect(clientOptions(port: port), loop: loop)
                        client.once(.connect) { records.append(DescriptorRecord(client)!) }
                        client.on(.secureConnect) { client.write("x") }
                        client.on(.data) { _ in client.end() }
                        client.on(.close) { _ in didClose() }
                    case 1:  // garbage
                        let raw = Socket(loop: loop).connect(port: port, host: "127.0.0.1")
                        raw.on(.connect) {
                            records.append(DescriptorRecord(raw)!); raw.write("garbage garbage\r\n\r\n")
                        }
                        raw.on(.data) { _ in }
                        raw.on(.error) { _ in }
                        raw.on(.close) { _ in didClose() }
                    case 2:  // rejected certificate (the client trusts another CA)
                        let client = try! TLS.connect(
                            clientOptions(port: port) { $0.ca = .file(pki.path("other-ca")) },
                            loop: loop
                        )
                        client.once(.connect) { records.append(DescriptorRecord(client)!) }
                        client.on(.error) { _ in }
                        client.on(.close) { _ in didClose() }
                    case 3:  // destroyed mid-handshake, and a reset
                        let client = try! TLS.connect(clientOptions(port: port), loop: loop)
                        client.once(.connect) {
                            records.append(DescriptorRecord(client)!)
                            if index % 2 == 0 { client.destroy() } else { client.resetAndDestroy() }
                        }
                        client.on(.close) { _ in didClose() }
                    default:  // silent until the handshake timeout
                        let raw = Socket(loop: loop).connect(port: port, host: "127.0.0.1")
                        raw.on(.connect) { records.append(DescriptorRecord(raw)!) }
                        raw.on(.data) { _ in }
                        raw.on(.error) { _ in }
                        raw.on(.close) { _ in didClose() }
                    }
                    clientSockets += 1
                }
            }
        }
        #expect(serverSockets == rounds)
        #expect(records.count == rounds * 2)
        #expect(records.filter(\.isStillOpen).isEmpty)
        #expect(secureConnections >= rounds / 5)
        #expect(clientErrors >= rounds / 5 * 2)
    }

    /// The issue's handshake storm: 1,000 handshakes started at once against one server (fewer if the descriptor
    /// limit cannot hold two per connection): all complete, all close, no descriptor left.
    ///
    /// Runs only with NETCORE_STORM=1 (`.ci/run` runs it so, on its own): its 2,000 open descriptors, next to tests
    /// that start processes, trigger Foundation's Process.run bug (it reads past its /proc/self/fd buffer; it crashed
    /// a CI run's test process).
    @Test(
        .timeLimit(.minutes(2)),
        .enabled(if: getenv("NETCORE_STORM").map { String(cString: $0) } == "1", "set NETCORE_STORM=1 to run it")
    )
    func handshakeStorm_allCompleteAndClose() throws {
        var limit = rlimit()
        getrlimit(descriptorLimitResource, &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(descriptorLimitResource, &limit)
            getrlimit(descriptorLimitResource, &limit)
        }
        // Two descriptors per connection in this process, and room for the tests running beside this one.
        let count = max(50, min(1000, (Int(limit.rlim_cur) - 400) / 2))
        var completed = 0
        var closed = 0
        var records: [DescriptorRecord] = []
        try runLoop(seconds: 100) { loop in
            let server = try TLS.createServer(serverOptions(), loop: loop) { socket in
                socket.end()
                socket.on(.data) { _ in }
            }
            server.on(.connection) { records.append(DescriptorRecord($0)!) }
            server.listen(port: 0, host: "127.0.0.1") {
                let port = server.address()!.port
                for _ in 0..<count {
                    let client = try! TLS.connect(clientOptions(port: port), loop: loop)
                    client.on(.secureConnect) { completed += 1 }
                    client.on(.data) { _ in }
                    client.on(.error) { Issue.record("client error \($0.code)") }
                    client.on(.close) { _ in
                        closed += 1
                        if closed == count { server.close() }
                    }
                }
            }
        }
        #expect(completed == count)
        #expect(records.count == count && records.filter(\.isStillOpen).isEmpty)
    }
}
