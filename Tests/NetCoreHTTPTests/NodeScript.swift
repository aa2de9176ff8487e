import Foundation

/// Runs `node -e script` with `input` on stdin and returns its stdout, or nil when node is missing, fails, or takes
/// longer than `timeout` seconds (then it is terminated). Used by the interop tests to compare with JavaScript.
func runNodeScript(_ script: String, input: String = "", timeout: Double = 30) -> String? {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["node", "-e", script]
    let output = Pipe()
    let stdin = Pipe()
    process.standardOutput = output
    process.standardInput = stdin
    process.standardError = FileHandle.nullDevice
    let finished = DispatchSemaphore(value: 0)
    process.terminationHandler = { _ in finished.signal() }
    do { try process.run() } catch { return nil }
    // stdin is written and stdout read on other threads, so neither a large input nor a large output can block us
    // past the timeout.
    let inputData = Data(input.utf8)
    let writer = stdin.fileHandleForWriting
    DispatchQueue.global().async {
        writer.write(inputData)
        try? writer.close()
    }
    let collected = CollectedOutput()
    let reader = output.fileHandleForReading
    let readDone = DispatchSemaphore(value: 0)
    DispatchQueue.global().async {
        collected.set(reader.readDataToEndOfFile())
        readDone.signal()
    }
    let deadline = DispatchTime.now() + timeout
    if finished.wait(timeout: deadline) == .timedOut {
        process.terminate()
        return nil
    }
    guard readDone.wait(timeout: deadline) == .success, process.terminationStatus == 0 else { return nil }
    return String(decoding: collected.get(), as: UTF8.self)
}

/// The stdout bytes handed from the reading thread.
private final class CollectedOutput: @unchecked Sendable {
    // @unchecked: every access holds `lock`.
    private let lock = NSLock()
    private var data = Data()
    func set(_ value: Data) { lock.withLock { data = value } }
    func get() -> Data { lock.withLock { data } }
}
