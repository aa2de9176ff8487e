import Foundation
import Testing
@testable import NetCore
@testable import NetCoreHTTP

// Support for the end-to-end tests of Node's `http` server API (NodeHTTPServer*Tests): a loop with a watchdog,
// transports, a raw byte-exact client, an independent response splitter, and Node / curl peers as processes.

/// Runs `body` on a fresh loop, then the loop until nothing is left; an unref'd watchdog fails the test and stops the
/// loop after `seconds`, so a hang is a failure rather than a hung suite.
func runHTTPLoop(
    seconds: Int = 20, sourceLocation: SourceLocation = #_sourceLocation, _ body: (EventLoop) throws -> Void
) rethrows {
    let loop = try! EventLoop()
    var timedOut = false
    loop.setTimeout(seconds * 1000) {
        timedOut = true
        loop.stop()
    }.unref()
    try body(loop)
    loop.run()
    #expect(!timedOut, "the loop was still busy after \(seconds) s", sourceLocation: sourceLocation)
}

/// A fresh short directory for Unix socket files (sun_path holds 107 bytes), removed by `cleanup()`.
struct HTTPTempDirectory {
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

/// The transports a test runs over.
enum HTTPTransport: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case tcp, unix
    var testDescription: String { rawValue }
}

/// Where a listening server is: a TCP port on 127.0.0.1 or a Unix socket path.
enum Endpoint {
    case port(Int)
    case path(String)

    /// A NetCore client socket connected to the endpoint.
    func connect(loop: EventLoop, allowHalfOpen: Bool = true) -> Socket {
        let socket = Socket(loop: loop, allowHalfOpen: allowHalfOpen)
        switch self {
        case .port(let port): socket.connect(port: port, host: "127.0.0.1")
        case .path(let path): socket.connect(path: path)
        }
        return socket
    }

    /// As the Node scripts take it: a port number or a path.
    var argument: String {
        switch self {
        case .port(let port): String(port)
        case .path(let path): path
        }
    }

    /// `curl` arguments to reach it: the URL, with `--unix-socket` first for a path.
    func curlArguments(_ target: String) -> [String] {
        switch self {
        case .port(let port): ["http://127.0.0.1:\(port)\(target)"]
        case .path(let path): ["--unix-socket", path, "http://localhost\(target)"]
        }
    }
}

extension HTTPServer {
    /// Listens on `transport` (127.0.0.1:0, or a fresh path in `directory`) and calls `ready` with the endpoint.
    func listen(on transport: HTTPTransport, directory: HTTPTempDirectory, _ ready: @escaping (Endpoint) -> Void) {
        switch transport {
        case .tcp:
            listen(port: 0, host: "127.0.0.1") { [unowned self] in ready(.port(address()!.port)) }
        case .unix:
            let path = directory.file()
            listen(path: path) { ready(.path(path)) }
        }
    }
}

/// A raw client: writes `request` once connected and collects every byte until the server closes; `onClose` gets
/// them. `onData` sees the bytes so far after each chunk (to react mid-exchange).
@discardableResult
func rawExchange(
    _ endpoint: Endpoint, loop: EventLoop, _ request: String,
    onData: ((Socket, [UInt8]) -> Void)? = nil,
    onClose: @escaping ([UInt8]) -> Void
) -> Socket {
    let socket = endpoint.connect(loop: loop)
    var received: [UInt8] = []
    socket.on(.connect) { if !request.isEmpty { socket.write(request) } }
    socket.on(.data) { chunk in
        received += chunk.bytes
        onData?(socket, received)
    }
    socket.on(.end) { socket.end() }
    socket.on(.error) { _ in }
    socket.on(.close) { _ in onClose(received) }
    return socket
}

extension [UInt8] {
    var text: String { String(decoding: self, as: UTF8.self) }
}

/// One response as it came off the wire, split by an independent minimal parser (not the project's).
struct WireResponse: CustomStringConvertible {
    var statusLine: String
    var fields: [(name: String, value: String)]
    var body: [UInt8]
    /// The body bytes exactly as framed (chunk sizes and trailers included).
    var rawBody: [UInt8]

    func field(_ name: String) -> String? { fields.first { $0.name.lowercased() == name.lowercased() }?.value }
    func values(_ name: String) -> [String] { fields.filter { $0.name.lowercased() == name.lowercased() }.map(\.value) }
    var status: Int { Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0 }
    /// Field names in order, without `Date` (which differs between any two responses).
    var namesWithoutDate: [String] { fields.map(\.name).filter { $0.lowercased() != "date" } }
    var fieldsWithoutDate: [String] { fields.filter { $0.name.lowercased() != "date" }.map { "\($0.name): \($0.value)" } }
    var description: String { "\(statusLine) \(fieldsWithoutDate) body=\(body.text.debugDescription)" }
}

/// Splits a byte stream into responses. `bodyless` says, per response, whether it may carry no body (a HEAD
/// request); 1xx responses are returned too. A body without framing runs to the end of the bytes.
func splitResponses(_ bytes: [UInt8], bodyless: [Bool] = []) -> [WireResponse] {
    var responses: [WireResponse] = []
    var index = 0
    var finalCount = 0
    func line() -> String? {
        var end = index
        while end + 1 < bytes.count, !(bytes[end] == 13 && bytes[end + 1] == 10) { end += 1 }
        guard end + 1 < bytes.count else { return nil }
        let text = Array(bytes[index..<end]).text
        index = end + 2
        return text
    }
    while index < bytes.count {
        guard let statusLine = line() else { break }
        var fields: [(String, String)] = []
        while let fieldLine = line(), !fieldLine.isEmpty {
            let colon = fieldLine.firstIndex(of: ":") ?? fieldLine.endIndex
            let value = fieldLine[colon...].dropFirst().trimmingCharacters(in: .whitespaces)
            fields.append((String(fieldLine[..<colon]), value))
        }
        var response = WireResponse(statusLine: statusLine, fields: fields, body: [], rawBody: [])
        let status = response.status
        if status < 200 {
            responses.append(response)
            continue
        }
        let isBodyless = (finalCount < bodyless.count && bodyless[finalCount]) || status == 204 || status == 304
        finalCount += 1
        let start = index
        if isBodyless {
        } else if response.field("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            while let sizeLine = line() {
                let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) ?? 0
                if size == 0 {
                    while let trailer = line(), !trailer.isEmpty {
                        let colon = trailer.firstIndex(of: ":") ?? trailer.endIndex
                        response.fields.append(
                            ("trailer:" + trailer[..<colon], trailer[colon...].dropFirst().trimmingCharacters(in: .whitespaces)))
                    }
                    break
                }
                let end = Swift.min(index + size, bytes.count)
                response.body += bytes[index..<end]
                index = Swift.min(end + 2, bytes.count)
            }
        } else if let length = response.field("Content-Length").flatMap({ Int($0) }) {
            let end = Swift.min(index + length, bytes.count)
            response.body = Array(bytes[index..<end])
            index = end
        } else {
            response.body = Array(bytes[index...])
            index = bytes.count
        }
        response.rawBody = Array(bytes[start..<index])
        responses.append(response)
    }
    return responses
}

// MARK: - Peer processes

/// Runs `executable` (looked up on PATH) with `arguments`; `onExit` runs on the loop with the exit status and output.
/// The loop stays alive until the process exits.
func runTool(
    _ executable: String, _ arguments: [String], stdin: Data? = nil, loop: EventLoop,
    onExit: @escaping (_ status: Int32, _ stdout: String, _ stderr: String) -> Void
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [executable] + arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    let collected = ToolOutput()
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
    if let stdin { input.fileHandleForWriting.write(stdin) }
    try? input.fileHandleForWriting.close()
}

/// Runs a Node script (`node -e`), see `runTool`.
func runNode(
    _ script: String, _ arguments: [String] = [], loop: EventLoop,
    onExit: @escaping (_ status: Int32, _ stdout: String, _ stderr: String) -> Void
) {
    runTool("node", ["-e", script] + arguments, loop: loop, onExit: onExit)
}

/// Starts a long-running Node script that prints one line (e.g. its port) when ready; `ready` gets that line on the
/// loop. The caller terminates the process (`terminate()`, then `waitUntilExit()` after the loop).
func startNode(_ script: String, _ arguments: [String] = [], loop: EventLoop, ready: @escaping (String) -> Void)
    -> Process
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["node", "-e", script] + arguments
    let out = Pipe()
    process.standardOutput = out
    try! process.run()
    let stream = ReadStream(descriptor: out.fileHandleForReading.fileDescriptor, loop: loop)
    var line = ""
    var announced = false
    stream.on(.data) { chunk in
        line += chunk.string
        if !announced, let newline = line.firstIndex(of: "\n") {
            announced = true
            // Done with the pipe: a paused stream would keep the loop alive.
            stream.destroy()
            ready(String(line[..<newline]))
        }
    }
    return process
}

/// Output gathered from another thread.
final class ToolOutput: @unchecked Sendable {
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

/// Decodes a JSON line printed by a peer script.
func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String) -> T? {
    try? JSONDecoder().decode(T.self, from: Data(text.utf8))
}

/// The process's resident set size in bytes (VmRSS in /proc/self/status), or nil where unavailable.
func residentBytes() -> Int? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
        let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
        return kilobytes.map { $0 * 1024 }
    }
    return nil
}

/// A reference to a value set later, for closures made before it exists (a captured `var` assigned after capture
/// crashes the Swift 6.3 region checker in some closures).
final class Later<Value> {
    var value: Value?
}
