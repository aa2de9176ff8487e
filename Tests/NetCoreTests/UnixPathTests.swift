import Foundation
import Glibc
import Testing
@testable import NetCore

/// End-to-end tests of Unix-domain socket paths: the socket file's lifetime, stale files, conflicts, long paths,
/// permissions, the abstract namespace and connect errors (the intent of Node's test-net-server-listen-path,
/// test-net-pipe-with-long-path and test-net-pipe-connect-errors).
@Suite struct UnixPathTests {
    // MARK: - The socket file

    /// test-net-server-listen-path: the socket file exists while listening and is removed by close().
    @Test func listen_createsSocketFileAndCloseRemovesIt_whenPathIsFresh() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        var typeWhileListening: mode_t?
        var addressPath: String?
        var typeAfterCloseCall: mode_t? = S_IFSOCK
        var closeError: SocketError?
        var closed = false
        #expect(Self.fileType(path) == nil)
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            server.listen(path: path) {
                typeWhileListening = Self.fileType(path)
                addressPath = server.address()?.path
                server.close { error in
                    closed = true
                    closeError = error
                }
                typeAfterCloseCall = Self.fileType(path)
            }
        }
        #expect(typeWhileListening == S_IFSOCK)
        #expect(addressPath == path)
        #expect(typeAfterCloseCall == nil, "close() must remove the socket file")
        #expect(closed)
        #expect(closeError == nil)
        #expect(Self.fileType(path) == nil)
    }

    // MARK: - Stale socket files

    /// A socket file left by a dead server (bound, then closed without unlink) is replaced.
    @Test func listen_replacesStaleSocketFile_whenNobodyListens() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        #expect(Self.makeStaleSocketFile(at: path))
        #expect(Self.fileType(path) == S_IFSOCK)
        var errors: [String] = []
        var echoed = ""
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                socket.on(.data) { socket.write($0) }
            }
            server.on(.error) { error in errors.append(error.code) }
            server.listen(path: path) {
                let client = Net.createConnection(path: path, loop: loop)
                client.on(.connect) { client.write("over the stale file") }
                client.on(.data) { chunk in
                    echoed += chunk.string
                    if echoed == "over the stale file" { client.end() }
                }
                client.on(.error) { error in errors.append("client:\(error.code)") }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(errors == [])
        #expect(echoed == "over the stale file")
        #expect(Self.fileType(path) == nil)
    }

    /// The real thing: a Node server listening on the path is killed with SIGKILL; its socket file stays behind
    /// and listening there must still succeed.
    @Test func listen_replacesSocketFile_whenPreviousServerWasKilled() throws {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()

        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "node", "-e", "require('net').createServer().listen(process.argv[1], () => console.log('ready'))", path,
        ]
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = FileHandle.nullDevice
        let collected = OutputCollector()
        let arrived = DispatchSemaphore(value: 0)
        out.fileHandleForReading.readabilityHandler = { handle in
            collected.append(handle.availableData, toError: false)
            arrived.signal()
        }
        err.fileHandleForReading.readabilityHandler = { handle in
            collected.append(handle.availableData, toError: true)
            arrived.signal()
        }
        try process.run()
        let deadline = DispatchTime.now() + .seconds(15)
        while !collected.text.0.contains("ready") && process.isRunning {
            if arrived.wait(timeout: deadline) == .timedOut { break }
        }
        let ready = collected.text.0.contains("ready")
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        out.fileHandleForReading.readabilityHandler = nil
        err.fileHandleForReading.readabilityHandler = nil
        try #require(ready, "node did not report ready: \(collected.text)")
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(process.terminationStatus == SIGKILL)
        try #require(Self.fileType(path) == S_IFSOCK, "the killed server should have left its socket file")

        var errors: [String] = []
        var serverConnections = 0
        var events: [String] = []
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                serverConnections += 1
                socket.end("hi")
            }
            server.on(.error) { error in errors.append(error.code) }
            server.listen(path: path) {
                events.append("listening")
                let client = Net.createConnection(path: path, loop: loop)
                client.on(.connect) { events.append("connect") }
                client.on(.data) { events.append("data:\($0.string)") }
                client.on(.error) { error in errors.append("client:\(error.code)") }
                client.on(.close) { hadError in
                    events.append("close(\(hadError))")
                    server.close()
                }
            }
        }
        #expect(errors == [])
        #expect(serverConnections == 1)
        #expect(events == ["listening", "connect", "data:hi", "close(false)"])
    }

    // MARK: - Conflicts

    /// A live server's path gives EADDRINUSE (asynchronously); the live server keeps its file and its clients.
    @Test func listen_emitsAddressInUse_whenLiveServerHoldsPath() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        var error: SocketError?
        var errorInsideListen = false
        var secondListened = false
        var firstConnections = 0
        var clientEvents: [String] = []
        var typeAfterConflict: mode_t?
        runLoop { loop in
            let first = Net.createServer(loop: loop) { socket in
                firstConnections += 1
                // The failed listen's liveness probe may show up here as a connection that is gone at once.
                socket.on(.error) { _ in }
                socket.end("from the first server")
            }
            first.listen(path: path) {
                let second = Net.createServer(loop: loop)
                second.on(.listening) {
                    secondListened = true
                    second.close()
                }
                second.on(.connection) { socket in socket.destroy() }
                var inListen = true
                second.on(.error) { failure in
                    error = failure
                    errorInsideListen = inListen
                    typeAfterConflict = Self.fileType(path)
                    let client = Net.createConnection(path: path, loop: loop)
                    client.on(.data) { clientEvents.append("data:\($0.string)") }
                    client.on(.error) { clientEvents.append("error:\($0.code)") }
                    client.on(.close) { hadError in
                        clientEvents.append("close(\(hadError))")
                        first.close()
                    }
                }
                second.listen(path: path)
                inListen = false
            }
        }
        #expect(!secondListened)
        #expect(error?.code == "EADDRINUSE")
        #expect(!errorInsideListen, "the error must be emitted asynchronously")
        #expect(typeAfterConflict == S_IFSOCK, "the live server's socket file must stay")
        #expect(firstConnections >= 1, "the live server must still accept")
        #expect(clientEvents == ["data:from the first server", "close(false)"])
    }

    /// A regular file at the path gives EADDRINUSE and is left exactly as it was.
    @Test func listen_emitsAddressInUseAndKeepsFile_whenPathIsRegularFile() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        let content = "precious data, not a socket\n"
        #expect(FileManager.default.createFile(atPath: path, contents: Data(content.utf8)))
        var error: SocketError?
        var listened = false
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            server.on(.listening) {
                listened = true
                server.close()
            }
            server.on(.error) { error = $0 }
            server.listen(path: path)
        }
        #expect(!listened)
        #expect(error?.code == "EADDRINUSE")
        #expect(Self.fileType(path) == S_IFREG)
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == content)
    }

    // MARK: - Path length

    /// test-net-pipe-with-long-path: 108 bytes do not fit sun_path: ENAMETOOLONG, and nothing is created at the
    /// truncated path.
    @Test func listen_failsWithNameTooLong_whenPathExceeds107Bytes() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = Self.path(in: directory, totalLength: 108)
        let truncated = String(decoding: Array(path.utf8.prefix(107)), as: UTF8.self)
        var error: SocketError?
        var errorInsideListen = false
        var listened = false
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            server.on(.listening) {
                listened = true
                server.close()
            }
            var inListen = true
            server.on(.error) { failure in
                error = failure
                errorInsideListen = inListen
            }
            server.listen(path: path)
            inListen = false
        }
        #expect(path.utf8.count == 108)
        #expect(!listened)
        #expect(error?.code == "ENAMETOOLONG")
        #expect(!errorInsideListen)
        #expect(Self.fileType(truncated) == nil, "the path must not be truncated")
        #expect(Self.fileType(path) == nil)
        #expect((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) == [])
    }

    /// A path of exactly 107 bytes (the most sun_path holds with its NUL) works.
    @Test func listen_acceptsConnections_whenPathIsExactly107Bytes() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = Self.path(in: directory, totalLength: 107)
        var errors: [String] = []
        var typeWhileListening: mode_t?
        var received = ""
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in socket.end("ok") }
            server.on(.error) { errors.append($0.code) }
            server.listen(path: path) {
                typeWhileListening = Self.fileType(path)
                let client = Net.createConnection(path: path, loop: loop)
                client.on(.data) { received += $0.string }
                client.on(.error) { errors.append("client:\($0.code)") }
                client.on(.close) { _ in server.close() }
            }
        }
        #expect(path.utf8.count == 107)
        #expect(errors == [])
        #expect(typeWhileListening == S_IFSOCK)
        #expect(received == "ok")
        #expect(Self.fileType(path) == nil)
    }

    /// Connecting to a 108-byte path fails with ENAMETOOLONG instead of reaching the server at its 107-byte prefix.
    @Test func connect_failsWithNameTooLong_whenPathExceeds107Bytes() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let listenPath = Self.path(in: directory, totalLength: 107)
        let tooLong = listenPath + "x"
        var serverConnections = 0
        var events: [String] = []
        var error: SocketError?
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                serverConnections += 1
                socket.destroy()
            }
            server.listen(path: listenPath) {
                let client = Socket(loop: loop)
                client.on(.connect) { events.append("connect") }
                client.on(.error) { failure in
                    events.append("error")
                    error = failure
                }
                client.on(.close) { hadError in
                    events.append("close(\(hadError))")
                    server.close()
                }
                client.connect(path: tooLong)
                events.append("connect-returned")
            }
        }
        #expect(events == ["connect-returned", "error", "close(true)"])
        #expect(error?.code == "ENAMETOOLONG")
        #expect(serverConnections == 0, "a truncated path must not reach the server at the prefix")
    }

    // MARK: - Permissions

    /// listen(path:mode:) sets the socket file's permission bits.
    @Test(arguments: [0o600, 0o640] as [mode_t])
    func listen_setsPermissionBits_whenModeGiven(_ mode: mode_t) {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        var permissions: mode_t?
        var type: mode_t?
        var errors: [String] = []
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            server.on(.error) { errors.append($0.code) }
            server.listen(path: path, mode: mode) {
                var info = stat()
                if lstat(path, &info) == 0 {
                    permissions = info.st_mode & 0o7777
                    type = info.st_mode & S_IFMT
                }
                server.close()
            }
        }
        #expect(errors == [])
        #expect(type == S_IFSOCK)
        #expect(permissions == mode, "got \(String(permissions ?? 0, radix: 8)), want \(String(mode, radix: 8))")
    }

    // MARK: - Abstract namespace

    /// A leading NUL names an abstract socket: data round-trips, no file is created, and the name is free again
    /// after close.
    @Test func listen_roundTripsWithoutFile_whenPathIsAbstract() {
        let name = "netcore-test-\(UUID().uuidString)"
        let abstract = "\0" + name
        let cwd = FileManager.default.currentDirectoryPath
        var errors: [String] = []
        var addressPath: String?
        var echoed = ""
        var fileCreated = true
        var relistened = false
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                socket.on(.data) { socket.write("echo:", $0) }
            }
            server.on(.error) { errors.append($0.code) }
            server.listen(path: abstract) {
                addressPath = server.address()?.path
                fileCreated = Self.fileType(name) != nil || Self.fileType(cwd + "/" + name) != nil
                    || Self.fileType("/" + name) != nil || Self.fileType("/tmp/" + name) != nil
                let client = Net.createConnection(path: abstract, loop: loop)
                client.on(.connect) { client.write("abstract") }
                client.on(.data) { chunk in
                    echoed += chunk.string
                    if echoed == "echo:abstract" { client.end() }
                }
                client.on(.error) { errors.append("client:\($0.code)") }
                client.on(.close) { _ in
                    server.close {_ in
                        // The name is released with the socket.
                        let again = Net.createServer(loop: loop)
                        again.on(.error) { errors.append("again:\($0.code)") }
                        again.listen(path: abstract) {
                            relistened = true
                            again.close()
                        }
                    }
                }
            }
        }
        #expect(errors == [])
        #expect(addressPath == abstract)
        #expect(echoed == "echo:abstract")
        #expect(!fileCreated, "an abstract socket must not create a file")
        #expect(relistened)
    }

    // MARK: - connect errors (test-net-pipe-connect-errors)

    /// A missing path: error ENOENT (from connect, naming the path), then close(true), never synchronously.
    @Test func connect_failsWithNoEntry_whenPathMissing() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file("missing.sock")
        let outcome = Self.connectOutcome(path)
        #expect(outcome.events == ["connect-returned", "error:ENOENT", "close(true)"])
        #expect(outcome.error?.syscall == "connect")
        #expect(outcome.error?.address == path)
    }

    /// A socket file nobody listens on: ECONNREFUSED.
    @Test func connect_failsWithConnectionRefused_whenSocketFileStale() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        #expect(Self.makeStaleSocketFile(at: path))
        let outcome = Self.connectOutcome(path)
        #expect(outcome.events == ["connect-returned", "error:ECONNREFUSED", "close(true)"])
        #expect(outcome.error?.syscall == "connect")
        #expect(Self.fileType(path) == S_IFSOCK, "a client must not remove anything")
    }

    /// A regular file: Linux answers ECONNREFUSED (ENOTSOCK is accepted too); the file is untouched.
    @Test func connect_failsWithConnectionRefused_whenPathIsRegularFile() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file("plain.txt")
        #expect(FileManager.default.createFile(atPath: path, contents: Data("text".utf8)))
        let outcome = Self.connectOutcome(path)
        #expect(
            outcome.events == ["connect-returned", "error:ECONNREFUSED", "close(true)"]
                || outcome.events == ["connect-returned", "error:ENOTSOCK", "close(true)"], "\(outcome.events)")
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "text")
    }

    /// A socket inside a directory without search permission: EACCES. Root bypasses permission checks, so there
    /// the connection must succeed instead.
    @Test func connect_failsWithAccessDenied_whenDirectoryNotSearchable() {
        let directory = TempDirectory()
        defer {
            chmod(directory.path + "/locked", 0o700)
            directory.cleanup()
        }
        let locked = directory.path + "/locked"
        #expect(mkdir(locked, 0o700) == 0)
        let path = locked + "/s.sock"
        let isRoot = getuid() == 0
        var events: [String] = []
        var error: SocketError?
        var serverConnections = 0
        runLoop { loop in
            let server = Net.createServer(loop: loop) { socket in
                serverConnections += 1
                socket.destroy()
            }
            server.listen(path: path) {
                #expect(chmod(locked, 0) == 0)
                let client = Socket(loop: loop)
                client.on(.connect) {
                    events.append("connect")
                    client.destroy()
                }
                client.on(.error) { failure in
                    events.append("error:\(failure.code)")
                    error = failure
                }
                client.on(.close) { hadError in
                    events.append("close(\(hadError))")
                    chmod(locked, 0o700)
                    server.close()
                }
                client.connect(path: path)
                events.append("connect-returned")
            }
        }
        if isRoot {
            // Root ignores directory permissions (CAP_DAC_OVERRIDE): the connection goes through.
            #expect(events == ["connect-returned", "connect", "close(false)"])
        } else {
            #expect(events == ["connect-returned", "error:EACCES", "close(true)"])
            #expect(error?.syscall == "connect")
            #expect(serverConnections == 0)
        }
    }

    // MARK: - Unlink on close only if ours

    /// If the socket file was replaced by a regular file while listening, close() leaves the new file alone.
    @Test func close_keepsReplacementFile_whenSocketFileWasReplaced() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        var replaced = false
        var closed = false
        runLoop { loop in
            let server = Net.createServer(loop: loop)
            server.listen(path: path) {
                replaced = unlink(path) == 0
                    && FileManager.default.createFile(atPath: path, contents: Data("replacement".utf8))
                server.close { _ in closed = true }
            }
        }
        #expect(replaced)
        #expect(closed)
        #expect(Self.fileType(path) == S_IFREG, "close() must not delete a file that is no longer ours")
        #expect((try? String(contentsOfFile: path, encoding: .utf8)) == "replacement")
    }

    /// If another server took over the path, closing the first one leaves the second one's socket file and
    /// clients alone; the second removes its own file on close.
    @Test func close_keepsOtherServersSocketFile_whenPathWasTakenOver() {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file()
        var errors: [String] = []
        var typeAfterFirstClosed: mode_t?
        var secondConnections = 0
        var received = ""
        runLoop { loop in
            let first = Net.createServer(loop: loop) { socket in socket.end("first") }
            let second = Net.createServer(loop: loop) { socket in
                secondConnections += 1
                socket.end("second")
            }
            first.on(.error) { errors.append("first:\($0.code)") }
            second.on(.error) { errors.append("second:\($0.code)") }
            first.listen(path: path) {
                unlink(path)
                second.listen(path: path) {
                    first.close { _ in
                        typeAfterFirstClosed = Self.fileType(path)
                        let client = Net.createConnection(path: path, loop: loop)
                        client.on(.data) { received += $0.string }
                        client.on(.error) { errors.append("client:\($0.code)") }
                        client.on(.close) { _ in second.close() }
                    }
                }
            }
        }
        #expect(errors == [])
        #expect(typeAfterFirstClosed == S_IFSOCK, "the first server must not unlink the second one's socket")
        #expect(secondConnections == 1)
        #expect(received == "second")
        #expect(Self.fileType(path) == nil, "the second server removes its own file")
    }

    // MARK: - Helpers

    /// The file type bits (`S_IFSOCK`, `S_IFREG`, …) of `path` without following symlinks, nil if absent.
    static func fileType(_ path: String) -> mode_t? {
        var info = stat()
        guard lstat(path, &info) == 0 else { return nil }
        return info.st_mode & S_IFMT
    }

    /// What a kill -9'd server leaves: a socket file that was bound and listened on, closed without unlink.
    static func makeStaleSocketFile(at path: String) -> Bool {
        let fd = Glibc.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { Glibc.close(fd) }
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: address.sun_path) else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let rc = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        return rc == 0 && Glibc.listen(fd, 1) == 0
    }

    /// A path of exactly `totalLength` bytes inside `directory`, made with a long file name.
    static func path(in directory: TempDirectory, totalLength: Int) -> String {
        let prefix = directory.path + "/"
        return prefix + String(repeating: "p", count: totalLength - prefix.utf8.count)
    }

    /// Connects a fresh client to `path` and records its events (with "connect-returned" after the call).
    static func connectOutcome(_ path: String) -> (events: [String], error: SocketError?) {
        var events: [String] = []
        var error: SocketError?
        runLoop { loop in
            let client = Socket(loop: loop)
            client.on(.connect) {
                events.append("connect")
                client.destroy()
            }
            client.on(.error) { failure in
                events.append("error:\(failure.code)")
                error = failure
            }
            client.on(.close) { hadError in events.append("close(\(hadError))") }
            client.connect(path: path)
            events.append("connect-returned")
        }
        return (events, error)
    }
}
