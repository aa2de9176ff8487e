import Foundation
import Testing
@testable import NetCore

/// `ReadStream` over every kind of descriptor standard input can be.
@Suite struct ReadStreamTests {
    private func readAll(_ fd: Int32, encoding: Bool = false) -> (text: String, events: [String]) {
        var text = ""
        var events: [String] = []
        runLoop { loop in
            let stream = ReadStream(descriptor: fd, closesDescriptor: true, loop: loop)
            if encoding { stream.setEncoding(.utf8) }
            stream.on(.data) { text += $0.string }
            stream.on(.end) { events.append("end") }
            stream.on(.close) { events.append("close(\($0))") }
        }
        return (text, events)
    }

    /// Listeners that capture their own stream (as a file streamed into a response does: `pause()` from `data`)
    /// must not keep it alive once it has closed.
    @Test func readStream_isFreed_afterClose_evenWhenItsListenersCaptureIt() {
        weak var freed: ReadStream?
        var closed = false
        runLoop { loop in
            let stream = ReadStream(descriptor: open("/dev/null", O_RDONLY | O_CLOEXEC), closesDescriptor: true, loop: loop)
            freed = stream
            stream.on(.data) { _ in stream.pause() }
            stream.on(.end) { _ = stream }
            stream.on(.close) { _ in closed = true }
        }
        #expect(closed)
        #expect(freed == nil, "a closed ReadStream was kept alive by its own listeners")
    }

    @Test func readStream_readsToEnd_fromAPipe() {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        let writer = FileHandle(fileDescriptor: fds[1], closeOnDealloc: true)
        Thread.detachNewThread {
            for line in ["a\n", "b\n", "c\n"] { writer.write(Data(line.utf8)) }
            try? writer.close()
        }
        let result = readAll(fds[0])
        #expect(result.text == "a\nb\nc\n")
        #expect(result.events == ["end", "close(false)"])
    }

    @Test func readStream_readsToEnd_fromARegularFile() throws {
        let directory = TempDirectory()
        defer { directory.cleanup() }
        let path = directory.file("input.txt")
        // Larger than one read, so the file is read over several loop turns.
        let content = String(repeating: "line of text €\n", count: 20_000)
        try content.write(toFile: path, atomically: false, encoding: .utf8)
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        let result = readAll(fd, encoding: true)
        #expect(result.text == content)
        #expect(result.events == ["end", "close(false)"])
    }

    @Test func readStream_endsAtOnce_onDevNull() {
        let fd = open("/dev/null", O_RDONLY | O_CLOEXEC)
        let result = readAll(fd)
        #expect(result.text == "")
        #expect(result.events == ["end", "close(false)"])
    }

    @Test func readStream_doesNotKeepLoopAlive_whilePaused() throws {
        var fds: [Int32] = [0, 0]
        #expect(pipe(&fds) == 0)
        defer { close(fds[1]) }
        let loop = try EventLoop()
        let stream = ReadStream(descriptor: fds[0], closesDescriptor: true, loop: loop)
        stream.on(.end) {}  // no data listener: the stream stays paused
        loop.run()  // returns although the pipe's writer is still open
        withExtendedLifetime(loop) { stream.destroy() }
        #expect(stream.isPaused)
    }
}
