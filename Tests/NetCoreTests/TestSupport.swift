import Foundation
import Testing
@testable import NetCore

/// Runs `body` to set up sockets on a fresh loop, then runs the loop until nothing is left to do.
/// An unref'd watchdog records a failure and stops the loop after `seconds`, so a hung test fails instead of hanging.
func runLoop(seconds: Int = 20, sourceLocation: SourceLocation = #_sourceLocation, _ body: (EventLoop) throws -> Void) rethrows {
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

/// A fresh, short directory for Unix socket files (sun_path holds 107 bytes), removed by `cleanup()`.
struct TempDirectory {
    let path: String

    init() {
        var template = Array("/tmp/nct-XXXXXX".utf8CString)
        let made = template.withUnsafeMutableBufferPointer { mkdtemp($0.baseAddress!) }
        precondition(made != nil, "mkdtemp failed")
        path = String(decoding: template.dropLast().map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A path inside the directory.
    func file(_ name: String = "s.sock") -> String { path + "/" + name }

    func cleanup() { try? FileManager.default.removeItem(atPath: path) }
}

/// The transports an end-to-end test runs over.
enum Transport: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case tcp, unix
    var testDescription: String { rawValue }
}

/// Listens on `transport` (TCP 127.0.0.1:0 or a fresh Unix path) and calls `ready` with a function that connects a
/// client to it.
func listen(
    _ server: Server, on transport: Transport, directory: TempDirectory,
    ready: @escaping (_ connect: @escaping (_ allowHalfOpen: Bool) -> Socket) -> Void
) {
    let loop = server.loop
    switch transport {
    case .tcp:
        server.listen(port: 0, host: "127.0.0.1") {
            let port = server.address()!.port
            ready { Socket(loop: loop, allowHalfOpen: $0).connect(port: port, host: "127.0.0.1") }
        }
    case .unix:
        let path = directory.file()
        server.listen(path: path) {
            ready { Socket(loop: loop, allowHalfOpen: $0).connect(path: path) }
        }
    }
}

/// The kernel identity of a socket's descriptor, to check afterwards that it was closed. Comparing the inode (not
/// just the number) keeps the check valid while other tests in this process open descriptors in parallel.
struct DescriptorRecord {
    let fd: Int32
    let inode: UInt

    init?(_ socket: Socket) {
        guard let fd = socket.fd?.rawValue else { return nil }
        var info = stat()
        guard fstat(fd, &info) == 0 else { return nil }
        self.fd = fd
        self.inode = UInt(info.st_ino)
    }

    /// Whether the descriptor is still open on the same socket.
    var isStillOpen: Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && UInt(info.st_ino) == inode
    }
}

/// Runs a Node.js script with `arguments`, calling `onExit` on the loop with its exit status and output.
/// The process is launched now; the loop stays alive until it exits.
func runNode(
    _ script: String, arguments: [String] = [], stdin: String? = nil, loop: EventLoop,
    onExit: @escaping (_ status: Int32, _ stdout: String, _ stderr: String) -> Void
) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["node", "-e", script] + arguments
    let out = Pipe()
    let err = Pipe()
    let input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    let collected = OutputCollector()
    out.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData, toError: false) }
    err.fileHandleForReading.readabilityHandler = { handle in collected.append(handle.availableData, toError: true) }
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
    if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
    try? input.fileHandleForWriting.close()
}

/// Output gathered from another thread.
final class OutputCollector: @unchecked Sendable {
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
