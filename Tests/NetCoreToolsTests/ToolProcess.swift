import Foundation
import Testing

/// The directory holding the built executables (next to the test bundle).
let productsDirectory: URL = {
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return executable.deletingLastPathComponent()
}()

/// A child process whose output is collected on background threads and can be awaited line by line,
/// with bounded waits only.
final class ToolProcess: @unchecked Sendable {
    // @unchecked: mutable state is guarded by `condition`.
    let process = Process()
    private let condition = NSCondition()
    private var stdoutData = Data()
    private var stderrData = Data()
    private var stdoutClosed = false
    private var stderrClosed = false
    let stdinPipe = Pipe()

    /// Starts `executable` (a product name like "echo-server", or an absolute path) with `arguments`.
    /// `stdin` may be a FileHandle to read from; by default a pipe the test can write to.
    init(_ executable: String, _ arguments: [String], stdin: FileHandle? = nil) throws {
        process.executableURL = executable.hasPrefix("/")
            ? URL(fileURLWithPath: executable) : productsDirectory.appendingPathComponent(executable)
        process.arguments = arguments
        let out = Pipe()
        let err = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = stdin ?? stdinPipe
        try process.run()
        collect(out.fileHandleForReading, isError: false)
        collect(err.fileHandleForReading, isError: true)
    }

    private func collect(_ handle: FileHandle, isError: Bool) {
        Thread.detachNewThread { [self] in
            while true {
                let data = handle.availableData
                condition.lock()
                if data.isEmpty {
                    if isError { stderrClosed = true } else { stdoutClosed = true }
                } else if isError {
                    stderrData.append(data)
                } else {
                    stdoutData.append(data)
                }
                condition.broadcast()
                condition.unlock()
                if data.isEmpty { return }
            }
        }
    }

    var stdout: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: stdoutData, as: UTF8.self)
    }

    var stderr: String {
        condition.lock()
        defer { condition.unlock() }
        return String(decoding: stderrData, as: UTF8.self)
    }

    /// Waits until stdout contains `text` (or `timeout` passes); returns whether it did.
    @discardableResult
    func waitForOutput(_ text: String, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while !String(decoding: stdoutData, as: UTF8.self).contains(text) {
            if stdoutClosed || !condition.wait(until: deadline) {
                return String(decoding: stdoutData, as: UTF8.self).contains(text)
            }
        }
        return true
    }

    /// Waits for the process to exit and its output to be fully read; nil if it is still running after `timeout`.
    func waitForExit(timeout: TimeInterval = 10) -> Int32? {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        while !(stdoutClosed && stderrClosed) {
            if !condition.wait(until: deadline) { break }
        }
        condition.unlock()
        while process.isRunning {
            if Date() > deadline { return nil }
            usleep(2000)  // polling the exit status: Process offers no bounded wait
        }
        return process.terminationStatus
    }

    /// Writes to the child's stdin.
    func send(_ text: String) {
        stdinPipe.fileHandleForWriting.write(Data(text.utf8))
    }

    /// Closes the child's stdin (EOF).
    func closeInput() {
        try? stdinPipe.fileHandleForWriting.close()
    }

    /// Sends `signal` to the child.
    func signal(_ signal: Int32) {
        kill(process.processIdentifier, signal)
    }

    deinit {
        if process.isRunning { process.terminate() }
    }
}

/// Starts echo-server on an ephemeral port and returns it with the port it announced.
func startEchoServer(_ extra: [String] = []) throws -> (ToolProcess, Int) {
    let server = try ToolProcess("echo-server", ["--port", "0"] + extra)
    #expect(server.waitForOutput("listening on port "), "echo-server did not start: \(server.stderr)")
    let line = server.stdout.split(separator: "\n").first { $0.hasPrefix("listening on port ") } ?? ""
    return (server, Int(line.dropFirst("listening on port ".count)) ?? 0)
}
