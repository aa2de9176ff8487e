import Foundation
import Testing
@testable import NetCore
import NetCoreHTTP
@testable import NetCoreWebSocket

/// Runs `body` on a fresh loop, then the loop until nothing is left; an unref'd watchdog fails the test and stops the
/// loop after `seconds`.
func runWSLoop(seconds: Int = 20, sourceLocation: SourceLocation = #_sourceLocation, _ body: (EventLoop) -> Void) {
    let loop = try! EventLoop()
    var timedOut = false
    loop.setTimeout(seconds * 1000) {
        timedOut = true
        loop.stop()
    }.unref()
    body(loop)
    loop.run()
    #expect(!timedOut, "the loop was still busy after \(seconds) s", sourceLocation: sourceLocation)
}

/// A fresh short directory for Unix socket files, removed by `cleanup()`.
struct WSTempDirectory {
    let path: String

    init() {
        var template = Array("/tmp/ncw-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    func file(_ name: String = "s.sock") -> String { path + "/" + name }
    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

enum WSTransport: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case tcp, unix
    var testDescription: String { rawValue }
}

/// An HTTP server listening on `transport`; `ready` gets the ws:// (or ws+unix:) URL prefix and a raw-connect
/// function.
func listenHTTP(
    _ server: HTTPServer, on transport: WSTransport, directory: WSTempDirectory,
    ready: @escaping (_ urlBase: String, _ connect: @escaping () -> Socket) -> Void
) {
    let loop = server.server.loop
    switch transport {
    case .tcp:
        server.listen(port: 0, host: "127.0.0.1") {
            let port = server.address()!.port
            ready("ws://127.0.0.1:\(port)") { Socket(loop: loop, allowHalfOpen: true).connect(port: port, host: "127.0.0.1") }
        }
    case .unix:
        let path = directory.file()
        server.listen(path: path) {
            ready("ws+unix:\(path):") { Socket(loop: loop, allowHalfOpen: true).connect(path: path) }
        }
    }
}

/// Runs `executable` with `arguments`; `onExit` runs on the loop with the status and output. The loop stays alive
/// until the process exits.
func runProcess(
    _ executable: String, _ arguments: [String], environment: [String: String] = [:], loop: EventLoop,
    onExit: @escaping (_ status: Int32, _ stdout: String, _ stderr: String) -> Void
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    // The environment goes through env(1)'s NAME=VALUE arguments, not `process.environment`: with it set, one full
    // parallel run crashed in a memcpy inside Foundation's Process.run() (the project's other runners never set it).
    process.arguments = environment.map { "\($0.key)=\($0.value)" } + [executable] + arguments
    let out = Pipe()
    let err = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = FileHandle.nullDevice
    let collected = WSToolOutput()
    out.fileHandleForReading.readabilityHandler = { collected.append($0.availableData, toError: false) }
    err.fileHandleForReading.readabilityHandler = { collected.append($0.availableData, toError: true) }
    loop.beginRequest()
    let bound = LoopBound(onExit, loop: loop)
    process.terminationHandler = { process in
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        collected.append(out.fileHandleForReading.readDataToEndOfFile(), toError: false)
        collected.append(err.fileHandleForReading.readDataToEndOfFile(), toError: true)
        let status = process.terminationStatus
        let (stdout, stderr) = collected.text
        bound.loop.execute {
            bound.loop.endRequest()
            bound.value(status, stdout, stderr)
        }
    }
    try! process.run()
}

/// Starts a long-running peer that prints one line (its port) when ready; `ready` gets the line on the loop. The
/// caller terminates the process after use.
func startPeer(_ executable: String, _ arguments: [String], environment: [String: String] = [:], loop: EventLoop,
               ready: @escaping (String) -> Void) -> Process {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    // The environment goes through env(1)'s NAME=VALUE arguments, not `process.environment`: with it set, one full
    // parallel run crashed in a memcpy inside Foundation's Process.run() (the project's other runners never set it).
    process.arguments = environment.map { "\($0.key)=\($0.value)" } + [executable] + arguments
    let out = Pipe()
    process.standardOutput = out
    process.standardError = FileHandle.nullDevice
    try! process.run()
    let stream = ReadStream(descriptor: out.fileHandleForReading.fileDescriptor, loop: loop)
    var line = ""
    var announced = false
    stream.on(.data) { chunk in
        line += chunk.string
        if !announced, let newline = line.firstIndex(of: "\n") {
            announced = true
            stream.destroy()
            ready(String(line[..<newline]))
        }
    }
    return process
}

final class WSToolOutput: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var out = Data()
    private var err = Data()

    func append(_ data: Data, toError: Bool) {
        lock.lock()
        defer { lock.unlock() }
        if toError { err.append(data) } else { out.append(data) }
    }

    var text: (String, String) {
        lock.lock()
        defer { lock.unlock() }
        return (String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}

/// Node with Debian's `node-ws` on its module path.
let nodeEnvironment = ["NODE_PATH": "/usr/share/nodejs"]

/// Whether a peer is installed (the tests that need it are skipped otherwise, with a note).
func peerAvailable(_ check: [String]) -> Bool {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = nodeEnvironment.map { "\($0.key)=\($0.value)" } + check
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    do { try process.run() } catch { return false }
    process.waitUntilExit()
    return process.terminationStatus == 0
}

let hasNodeWS = peerAvailable(["node", "-e", "require('ws')"])
let hasPythonWebsockets = peerAvailable(["python3", "-c", "import websockets"])

/// A raw client for bad-input tests: writes a valid upgrade request, then `frames` once the 101 has arrived, and
/// collects everything after the 101 until the server closes.
func rawWebSocketClient(
    _ connect: () -> Socket, path: String = "/", extraHeaders: String = "", frames: [[UInt8]],
    onClose: @escaping (_ afterHandshake: [UInt8]) -> Void
) -> Socket {
    let socket = connect()
    var received: [UInt8] = []
    var upgraded = false
    socket.on(.connect) {
        socket.write(
            "GET \(path) HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                + "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\(extraHeaders)\r\n")
    }
    socket.on(.data) { chunk in
        received += chunk.bytes
        if !upgraded, let end = WebSocket.endOfHead(received) {
            upgraded = true
            received.removeFirst(end)
            for frame in frames { socket.write(frame) }
        }
    }
    socket.on(.end) { socket.end() }
    socket.on(.error) { _ in }
    socket.on(.close) { _ in onClose(received) }
    return socket
}

/// The close frames (code) in a server's unmasked output.
func closeCodes(in bytes: [UInt8]) -> [UInt16?] {
    var parser = WebSocketFrameParser(role: .client, maxMessageBytes: 0)
    return parser.feed(bytes).compactMap { if case .close(let code, _) = $0 { code } else { nil } }
}
