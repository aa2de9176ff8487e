import Foundation
import Testing
@testable import NetCore

/// NetCore against Node's own `net` module, both directions, over TCP and Unix sockets.
@Suite struct InteropTests {
    /// A Node client: connects, writes its messages, optionally ends, prints what it got and the events it saw.
    static let nodeClient = #"""
        const net = require('net');
        const [target, mode] = process.argv.slice(1);
        const opts = /^\d+$/.test(target) ? { port: +target, host: '127.0.0.1' } : { path: target };
        opts.allowHalfOpen = mode === 'half-open';
        const events = []; let got = '';
        const c = net.connect(opts, () => {
          c.write('ping');
          if (mode !== 'server-ends') c.end();
        });
        c.on('data', d => { got += d; events.push('data'); });
        c.on('end', () => { events.push('end'); if (mode === 'half-open') { c.end('late'); } });
        c.on('finish', () => events.push('finish'));
        c.on('error', e => events.push('error:' + e.code));
        c.on('close', h => { events.push('close:' + h); console.log(JSON.stringify({ got, events })); });
        """#

    struct NodeReport: Decodable {
        let got: String
        let events: [String]
    }

    private func target(_ server: Server, _ transport: Transport) -> String {
        transport == .tcp ? String(server.address()!.port) : server.address()!.path!
    }

    private func listen(_ server: Server, _ transport: Transport, _ directory: TempDirectory, _ ready: @escaping () -> Void) {
        switch transport {
        case .tcp: server.listen(port: 0, host: "127.0.0.1", ready)
        case .unix: server.listen(path: directory.file(), ready)
        }
    }

    @Test(arguments: Transport.allCases)
    func nodeClient_getsEcho_andCleanClose_fromNetCoreServer(_ transport: Transport) throws {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var serverEvents: [String] = []
        var report: NodeReport?
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                socket.on(.data) { socket.write("Repeating: ", $0) }
                socket.on(.end) { serverEvents.append("end") }
                socket.on(.finish) { serverEvents.append("finish") }
                socket.on(.close) { serverEvents.append("close:\($0)") }
            }
            listen(server, transport, directory) {
                runNode(Self.nodeClient, arguments: [target(server, transport), "client-ends"], loop: loop) { status, out, err in
                    #expect(status == 0, "\(err)")
                    report = try? JSONDecoder().decode(NodeReport.self, from: Data(out.utf8))
                    server.close()
                }
            }
        }
        #expect(report?.got == "Repeating: ping")
        // The client ends right after writing, so its finish precedes the echo.
        #expect(report?.events == ["finish", "data", "end", "close:false"])
        #expect(serverEvents == ["end", "finish", "close:false"])
    }

    @Test(arguments: Transport.allCases)
    func nodeClient_halfOpen_receivesServerDataAfterItsFIN(_ transport: Transport) throws {
        // The Node client writes and ends at once; the NetCore server (allowHalfOpen true) is still writable after
        // that FIN and sends a line 20 ms later, then ends. Node must receive that line before its `end`.
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var report: NodeReport?
        var serverEvents: [String] = []
        runLoop { loop in
            let server = Net.createServer(allowHalfOpen: true, loop: loop) { socket in
                socket.on(.data) { _ in }
                socket.on(.end) {
                    serverEvents.append("end")
                    socket.setTimeout(0)
                    loop.setTimeout(20) {  // well after the FIN: only half-open keeps this writable
                        socket.write("after your FIN")
                        socket.end()
                    }
                }
                socket.on(.close) { serverEvents.append("close:\($0)") }
            }
            listen(server, transport, directory) {
                runNode(Self.nodeClient, arguments: [target(server, transport), "client-ends"], loop: loop) { _, out, _ in
                    report = try? JSONDecoder().decode(NodeReport.self, from: Data(out.utf8))
                    server.close()
                }
            }
        }
        #expect(report?.got == "after your FIN")
        #expect(report?.events == ["finish", "data", "end", "close:false"])
        #expect(serverEvents == ["end", "close:false"])
    }

    /// A Node server: echoes with the prefix; in half-open mode it answers the client's FIN with one last line.
    static let nodeServer = #"""
        const net = require('net');
        const [where, mode] = process.argv.slice(1);
        const server = net.createServer({ allowHalfOpen: mode === 'half-open' }, c => {
          let n = 0;
          c.on('data', d => { n += d.length; c.write('Repeating: ' + d); });
          c.on('end', () => { if (mode === 'half-open') setTimeout(() => c.end('bytes=' + n), 20); });
          c.on('error', () => {});
          c.on('close', () => server.close());
        });
        server.listen(/^\d+$/.test(where) ? { port: 0, host: '127.0.0.1' } : { path: where }, () => {
          const a = server.address();
          console.log(typeof a === 'string' ? a : a.port);
        });
        """#

    /// Starts the Node server and calls `ready` with its port or path once it is listening.
    private func startNodeServer(
        _ transport: Transport, mode: String, directory: TempDirectory, loop: EventLoop,
        ready: @escaping (String) -> Void
    ) -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", "-e", Self.nodeServer, transport == .tcp ? "0" : directory.file(), mode]
        let out = Pipe()
        process.standardOutput = out
        try! process.run()
        // Read the first line (the port or path) on the loop, from the pipe, with NetCore itself.
        let stream = ReadStream(descriptor: out.fileHandleForReading.fileDescriptor, loop: loop)
        var line = ""
        var announced = false
        stream.on(.data) { chunk in
            line += chunk.string
            if !announced, let newline = line.firstIndex(of: "\n") {
                announced = true
                stream.pause()
                ready(String(line[..<newline]))
            }
        }
        return process
    }

    @Test(arguments: Transport.allCases)
    func netCoreClient_talksToNodeServer_andSeesItsFinalLineAfterHalfClose(_ transport: Transport) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var received = ""
        var events: [String] = []
        var process: Process?
        runLoop { loop in
            process = startNodeServer(transport, mode: "half-open", directory: directory, loop: loop) { where_ in
                let client = Socket(loop: loop)
                if transport == .tcp { client.connect(port: Int(where_)!, host: "127.0.0.1") } else { client.connect(path: where_) }
                client.setEncoding(.utf8)
                client.on(.connect) { client.write("hello") }
                client.on(.data) { chunk in
                    received += chunk.string
                    if received == "Repeating: hello" { client.end() }  // half-close: we still read
                }
                client.on(.finish) { events.append("finish") }
                client.on(.end) { events.append("end") }
                client.on(.close) { events.append("close:\($0)") }
            }
        }
        process?.waitUntilExit()
        #expect(received == "Repeating: hellobytes=5")
        #expect(events == ["finish", "end", "close:false"])
        #expect(process?.terminationStatus == 0)
    }

    @Test(arguments: Transport.allCases)
    func netCoreClient_withDefaultHalfOpen_endsAfterNodeServerEnds(_ transport: Transport) {
        // Node's server (no half-open) ends as soon as we end: our client gets finish, end, close in Node's order.
        let directory = TempDirectory()
        defer { directory.cleanup() }
        var events: [String] = []
        var process: Process?
        runLoop { loop in
            process = startNodeServer(transport, mode: "plain", directory: directory, loop: loop) { where_ in
                let client = transport == .tcp
                    ? Net.createConnection(port: Int(where_)!, host: "127.0.0.1", loop: loop)
                    : Net.createConnection(path: where_, loop: loop)
                client.on(.connect) { client.end("bye") }
                client.on(.data) { events.append("data:\($0.string)") }
                client.on(.finish) { events.append("finish") }
                client.on(.end) { events.append("end") }
                client.on(.close) { events.append("close:\($0)") }
            }
        }
        process?.waitUntilExit()
        #expect(events.first == "finish" || events.first == "data:Repeating: bye")
        #expect(events.filter { $0.hasPrefix("data") } == ["data:Repeating: bye"])
        #expect(Array(events.suffix(2)) == ["end", "close:false"])
    }
}
