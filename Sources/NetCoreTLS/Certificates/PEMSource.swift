import NetCore

/// PEM text given directly or as a file to read, for the `key`, `cert` and `ca` options.
///
/// Node's options take PEM strings (or Buffers); NetCore's also take a path, so a program can pass `--cert FILE`
/// straight through. A string literal is PEM text: `"-----BEGIN CERTIFICATE-----\n..."`.
public enum PEMSource: Sendable, Hashable, ExpressibleByStringLiteral {
    /// PEM text.
    case text(String)
    /// The path of a file holding PEM text (read when the source is used).
    case file(String)

    public init(stringLiteral value: String) { self = .text(value) }

    /// The largest file read (a CA bundle of every public root is ~250 KB).
    public static let maximumFileSize = 16 << 20

    /// The PEM bytes: the text, or the file's contents. A file that cannot be read throws Node's `fs` error
    /// (`ENOENT` with "ENOENT: no such file or directory, open 'PATH'", `EACCES`, `EISDIR`, ...); one that is not a
    /// regular file or is larger than `maximumFileSize` throws `EINVAL`/`EFBIG` rather than blocking or reading
    /// without bound.
    public func bytes() throws(TLSError) -> [UInt8] {
        switch self {
        case .text(let text):
            return Array(text.utf8)
        case .file(let path):
            return try Self.read(path)
        }
    }

    /// A short name for messages: the path, or "PEM text".
    var label: String {
        switch self {
        case .text: "PEM text"
        case .file(let path): path
        }
    }

    private static func read(_ path: String) throws(TLSError) -> [UInt8] {
        let fd: Int32
        // Non-blocking, so a FIFO at the path cannot hang the open; it is refused below as not a regular file.
        do { fd = try FileSystem.openWithoutBlocking(path) } catch { throw fileError(error, "open", path) }
        defer { FileSystem.close(fd) }
        let kind: FileSystem.Kind
        do { kind = try FileSystem.kind(ofDescriptor: fd) } catch { throw fileError(error, "fstat", path) }
        let size: Int
        switch kind {
        case .regular(let length): size = length
        case .directory: throw TLSError(code: "EISDIR", message: "EISDIR: illegal operation on a directory, read")
        case .other: throw TLSError(code: "EINVAL", message: "EINVAL: not a regular file, read '\(path)'")
        }
        guard size <= maximumFileSize else {
            throw TLSError(
                code: "EFBIG",
                message: "EFBIG: file too large (\(size) bytes, at most \(maximumFileSize)), read '\(path)'"
            )
        }
        do { return try FileSystem.readPrefix(of: fd, limit: size) } catch { throw fileError(error, "read", path) }
    }

    /// Node's `fs` error text: `"ENOENT: no such file or directory, open '/x'"` (libuv's lower-case messages).
    private static func fileError(_ error: SystemError, _ call: String, _ path: String) -> TLSError {
        var text = error.message
        if let first = text.first { text = first.lowercased() + text.dropFirst() }
        return TLSError(code: error.code, message: "\(error.code): \(text), \(call) '\(path)'")
    }
}
