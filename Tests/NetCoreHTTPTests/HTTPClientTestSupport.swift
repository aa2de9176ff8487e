import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

/// Runs `body` on a fresh loop, then the loop until nothing is left to do. An unref'd watchdog records a failure and
/// stops the loop after `seconds`, so a hung test fails instead of hanging. `keep` holds objects (servers, agents)
/// until the loop has finished: an `HTTPServer` nobody holds is freed while its connections are still open.
func runClientLoop(
    seconds: Int = 20,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (_ loop: EventLoop, _ keep: @escaping (AnyObject) -> Void) throws -> Void
) rethrows {
    let loop = try! EventLoop()
    var timedOut = false
    loop.setTimeout(seconds * 1000) {
        timedOut = true
        loop.stop()
    }.unref()
    var kept: [AnyObject] = []
    try body(loop) { kept.append($0) }
    loop.run()
    kept.removeAll()
    #expect(!timedOut, "the loop was still busy after \(seconds) s", sourceLocation: sourceLocation)
}

/// A fresh, short directory for Unix socket files, removed by `cleanup()`.
struct ClientTempDirectory {
    let path: String

    init() {
        var template = Array("/tmp/nch-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String = "s.sock") -> String { path + "/" + name }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// Starts `server` on 127.0.0.1 port 0 and calls `ready` with the options for requests to it.
func listenLocally(_ server: HTTPServer, agent: ClientRequest.AgentChoice, ready: @escaping (ClientRequest.Options) -> Void)
{
    let loop = server.server.loop
    server.listen(port: 0, host: "127.0.0.1") {
        ready(ClientRequest.Options(host: "127.0.0.1", port: server.address()!.port, agent: agent, loop: loop))
    }
}

/// Collects a response's body and calls `done` with it at `end`.
func readBody(_ res: IncomingMessage, _ done: @escaping ([UInt8]) -> Void) {
    var body: [UInt8] = []
    res.on(.data) { body += $0.bytes }
    res.on(.end) { done(body) }
}

/// The kernel identity of a descriptor, to check that it was closed. The inode (not just the number) keeps the check
/// valid while other tests in this process open descriptors in parallel.
struct ClientDescriptorRecord {
    let fd: Int32
    let inode: UInt

    init?(_ socket: Socket) {
        guard let fd = socket.fd?.rawValue else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        self.fd = fd
        self.inode = UInt(info.st_ino)
    }

    var isStillOpen: Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && UInt(info.st_ino) == inode
    }
}

/// A Node.js program running as a peer: started before the loop runs; its first stdout line (a port) is read with a
/// bounded wait. `stop()` kills it.
final class NodePeer {
    let process = Process()
    let port: Int

    init(_ script: String, arguments: [String] = []) throws {
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["node", "-e", script] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        let firstLine = FirstLine()
        out.fileHandleForReading.readabilityHandler = { handle in firstLine.append(handle.availableData) }
        try process.run()
        guard let line = firstLine.wait(seconds: 15), let port = Int(line) else {
            process.terminate()
            throw NodePeerError.noPort
        }
        self.port = port
    }

    func stop() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    enum NodePeerError: Error { case noPort }
}

/// The first line written to a pipe, waited for from another thread.
final class FirstLine: @unchecked Sendable {
    // @unchecked: every access holds `condition`.
    private let condition = NSCondition()
    private var data = Data()

    func append(_ more: Data) {
        condition.lock()
        data.append(more)
        condition.broadcast()
        condition.unlock()
    }

    func wait(seconds: Double) -> String? {
        let deadline = Date().addingTimeInterval(seconds)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let newline = data.firstIndex(of: 0x0A) {
                return String(decoding: data[..<newline], as: UTF8.self).trimmingCharacters(in: .whitespaces)
            }
            if !condition.wait(until: deadline) { return nil }
        }
    }
}

/// A raw TCP server that answers every connection with `script(socket, received)` each time data arrives: for
/// responses our own server would never send (cut bodies, garbage, interim 1xx heads).
func rawServer(loop: EventLoop, _ onData: @escaping (Socket, String) -> Void, ready: @escaping (Int, Server) -> Void) {
    let server = Server(loop: loop)
    server.on(.connection) { socket in
        var received = ""
        socket.on(.data) { chunk in
            received += chunk.string
            onData(socket, received)
        }
        socket.on(.error) { _ in }
    }
    server.listen(port: 0, host: "127.0.0.1") { ready(server.address()!.port, server) }
}
