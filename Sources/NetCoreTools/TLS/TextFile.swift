@preconcurrency import Glibc
import NetCore

/// Small files the TLS options write: a saved certificate (`--write-cert`) and the key log (`--keylog`).
enum TextFile {
    /// Writes `text` to `path`, replacing it, with `mode` for a new file.
    static func write(_ text: String, to path: String, mode: mode_t) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode)
        guard fd >= 0 else { throw SystemError(errno: errno, syscall: "open") }
        defer { _ = close(fd) }
        try writeAll(Array(text.utf8), to: fd)
    }

    static func writeAll(_ bytes: [UInt8], to fd: Int32) throws(SystemError) {
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + offset, bytes.count - offset) }
            if written > 0 {
                offset += written
            } else if written < 0 && errno == EINTR {
                continue
            } else {
                throw SystemError(errno: written < 0 ? errno : EIO, syscall: "write")
            }
        }
    }
}

/// The `--keylog` file: opened once for appending (created 0600: the lines decrypt the traffic), one `write(2)` per
/// line, so lines from several loop threads never interleave.
final class KeyLogFile: Sendable {
    let descriptor: Int32

    init(path: String) throws(SystemError) {
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw SystemError(errno: errno, syscall: "open") }
        descriptor = fd
    }

    deinit { _ = close(descriptor) }

    /// Appends one line (with its newline, as the `keylog` event gives it). A failed write loses the line, not the
    /// connection.
    func append(_ line: [UInt8]) {
        try? TextFile.writeAll(line, to: descriptor)
    }
}
