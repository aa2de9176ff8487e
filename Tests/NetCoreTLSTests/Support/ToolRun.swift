import Foundation

/// One run of an external program (openssl, node, the PKI script) with a bounded wait: its exit status and output.
struct ToolRun: Sendable {
    /// The exit status, or nil when the program could not start or was terminated at the deadline.
    let status: Int32?
    let stdout: String
    let stderr: String
    /// Whether the deadline passed first (the program was then terminated).
    let timedOut: Bool

    var succeeded: Bool { status == 0 && !timedOut }

    /// Runs `arguments[0]` (found on PATH) with the rest as its arguments, `input` on stdin, waiting at most `timeout`
    /// seconds. Output is read on other threads, so a chatty program cannot block past the deadline.
    static func run(
        _ arguments: [String],
        input: String = "",
        environment: [String: String]? = nil,
        currentDirectory: String? = nil,
        timeout: Double = 30
    ) -> ToolRun {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        if let environment { process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
        if let currentDirectory { process.currentDirectoryURL = URL(fileURLWithPath: currentDirectory) }
        let stdinPipe = Pipe(), stdoutPipe = Pipe(), stderrPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = stderrPipe
        let finished = DispatchSemaphore(value: 0)
        process.terminationHandler = { _ in finished.signal() }
        do { try process.run() } catch {
            return ToolRun(status: nil, stdout: "", stderr: "could not start \(arguments): \(error)", timedOut: false)
        }
        let inputData = Data(input.utf8)
        let writer = stdinPipe.fileHandleForWriting
        DispatchQueue.global().async {
            writer.write(inputData)
            try? writer.close()
        }
        let out = CollectedData(), err = CollectedData()
        let readers = DispatchGroup()
        for (pipe, sink) in [(stdoutPipe, out), (stderrPipe, err)] {
            let handle = pipe.fileHandleForReading
            DispatchQueue.global().async(group: readers) { sink.set(readToEnd(handle.fileDescriptor)) }
        }
        let deadline = DispatchTime.now() + timeout
        if finished.wait(timeout: deadline) == .timedOut {
            process.terminate()
            _ = finished.wait(timeout: .now() + 5)
            return ToolRun(status: nil, stdout: out.text, stderr: err.text, timedOut: true)
        }
        guard readers.wait(timeout: deadline) == .success else {
            return ToolRun(status: nil, stdout: out.text, stderr: err.text, timedOut: true)
        }
        return ToolRun(status: process.terminationStatus, stdout: out.text, stderr: err.text, timedOut: false)
    }
}

/// Everything until EOF from a descriptor, retrying EINTR: FileHandle.readDataToEndOfFile traps (`try!`) when a
/// signal interrupts its read, which happened here while other tests' child processes exited.
private func readToEnd(_ fd: Int32) -> Data {
    var data = Data()
    var buffer = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n > 0 {
            data.append(contentsOf: buffer[0..<n])
        } else if n == 0 || errno != EINTR {
            return data
        }
    }
}

/// Bytes handed over from a reading thread.
private final class CollectedData: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    var text: String { lock.withLock { String(decoding: data, as: UTF8.self) } }
}
