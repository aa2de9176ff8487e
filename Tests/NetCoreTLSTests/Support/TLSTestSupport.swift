import Foundation
import Testing

@testable import NetCore
@testable import NetCoreTLS

/// Runs `body` to set up sockets on a fresh loop, then runs the loop until nothing is left to do. An unref'd watchdog
/// records a failure and stops the loop after `seconds`, so a hung test fails instead of hanging.
func runLoop(
    seconds: Int = 20,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ body: (EventLoop) throws -> Void
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

/// Server options presenting the test PKI's `name` certificate (default `localhost`, signed by `ca`).
func serverOptions(_ name: String = "localhost", _ configure: (inout TLSServer.Options) -> Void = { _ in }) throws
    -> TLSServer.Options
{
    let pki = try TestPKI.shared
    var options = TLSServer.Options(key: .text(pki.keyPEM(name)), cert: .text(pki.pem(name)))
    configure(&options)
    return options
}

/// Client options for 127.0.0.1:`port` trusting the test PKI's CA.
func clientOptions(port: Int, _ configure: (inout TLS.ConnectOptions) -> Void = { _ in }) throws -> TLS.ConnectOptions {
    let pki = try TestPKI.shared
    var options = TLS.ConnectOptions(port: port, host: "127.0.0.1", ca: .file(pki.path("ca")))
    configure(&options)
    return options
}

/// Descriptors open in this process (the count DescriptorCountTests uses: /proc/self/fd entries).
func openDescriptorCount() -> Int {
    (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd").count) ?? -1
}

/// A free TCP port on 127.0.0.1 for an external server (bound and released; the kernel does not hand it out again
/// at once).
func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = bind(fd, $0, length) }
    }
    withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { _ = getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// Runs an external program (openssl, node, python3) off the loop with a bounded wait, keeping the loop alive until
/// it exits; `onExit` runs on the loop.
func runTool(
    _ arguments: [String],
    input: String = "",
    timeout: Double = 30,
    loop: EventLoop,
    onExit: @escaping (ToolRun) -> Void
) {
    loop.beginRequest()
    let bound = LoopBound(onExit, loop: loop)
    DispatchQueue.global().async {
        let run = ToolRun.run(arguments, input: input, timeout: timeout)
        bound.loop.execute {
            bound.loop.endRequest()
            bound.value(run)
        }
    }
}

/// Connects with `TLS.connect` to a server started by another process, retrying refused connections every 50 ms for
/// up to `seconds` (the external server prints nothing we can wait on before it listens). `ready` gets the socket
/// that connected.
func connectWhenListening(
    _ options: TLS.ConnectOptions,
    loop: EventLoop,
    seconds: Double = 15,
    attempt: Int = 0,
    ready: @escaping (TLSSocket) -> Void
) {
    let socket = try! TLS.connect(options, loop: loop)
    var connected = false
    socket.once(.connect) {
        connected = true; ready(socket)
    }
    socket.once(.error) { error in
        guard !connected, error.code == "ECONNREFUSED", Double(attempt) * 0.05 < seconds else {
            if !connected { Issue.record("cannot connect: \(error.code) \(error.message)") }
            return
        }
        loop.setTimeout(50) {
            connectWhenListening(options, loop: loop, seconds: seconds, attempt: attempt + 1, ready: ready)
        }
    }
}

/// The kernel identity of a socket's descriptor, to check afterwards that it was closed (the inode too, so other
/// tests opening descriptors in parallel cannot fool the check).
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

    var isStillOpen: Bool {
        var info = stat()
        return fstat(fd, &info) == 0 && UInt(info.st_ino) == inode
    }
}

/// What happened to one socket, in order, for comparing with Node's event sequence.
final class EventLog {
    var events: [String] = []
    func record(_ socket: Socket, _ name: String = "") {
        let prefix = name.isEmpty ? "" : name + " "
        socket.on(.end) { [unowned self] in events.append(prefix + "end") }
        socket.on(.finish) { [unowned self] in events.append(prefix + "finish") }
        socket.on(.error) { [unowned self] in events.append(prefix + "error \($0.code)") }
        socket.on(.close) { [unowned self] in events.append(prefix + "close \($0)") }
    }
}
