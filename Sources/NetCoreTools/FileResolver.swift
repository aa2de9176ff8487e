import NetCore

/// Maps a client-supplied file name to a file inside one root directory, refusing anything that would escape it:
/// absolute names, `..` components, and symlinks that resolve outside the root (checked on the canonical path).
public struct FileResolver: Sendable {
    /// Why a name was refused, with the HTTP status to answer.
    public struct Refusal: Error, Equatable, Sendable {
        /// The HTTP status to answer (400, 403, 404 or 500).
        public let status: Int
        /// One line saying why.
        public let reason: String
    }

    /// The canonical root directory.
    public let root: String

    /// The root directory, held open so plain names can be opened relative to it (see `open(_:)`).
    private let directory: Directory

    /// Owns the root's descriptor for as long as any copy of the resolver exists.
    private final class Directory: Sendable {
        let descriptor: Int32
        init(_ descriptor: Int32) { self.descriptor = descriptor }
        deinit { FileSystem.close(descriptor) }
    }

    /// A resolver for `root`, which must exist and be a directory.
    public init(root: String) throws(SystemError) {
        self.root = try FileSystem.canonicalPath(root)
        guard try FileSystem.kind(of: self.root) == .directory else {
            throw SystemError(errno: 20 /* ENOTDIR */, syscall: "stat")
        }
        self.directory = Directory(try FileSystem.openDirectory(self.root))
    }

    /// An open regular file inside the root: its descriptor (the caller closes it), canonical path and size.
    public struct OpenFile: Sendable {
        /// The open descriptor; the caller closes it.
        public let descriptor: Int32
        /// The canonical path of the opened file.
        public let path: String
        /// The size in bytes when opened.
        public let size: Int
        /// The file's status when opened (identity and change times, for caches to revalidate against).
        public let status: FileSystem.Status
    }

    /// The status of `name` if it is a plain name (no "/", not "." or "..") of an entry directly inside the root,
    /// symlinks not followed; nil otherwise or if there is no such entry. One fstatat: what a cache of files opened
    /// through `open(_:)` compares with to know that the entry is still the very file it read.
    public func status(ofPlainName name: String) -> FileSystem.Status? {
        guard !name.isEmpty, name != ".", name != "..",
            !name.utf8.contains(where: { $0 == UInt8(ascii: "/") || $0 == 0 })
        else { return nil }
        return try? FileSystem.status(of: name, in: directory.descriptor)
    }

    /// Opens the regular file `name` names, or says why not.
    ///
    /// A plain name (no "/") — the common case — is opened relative to the root's descriptor without following a
    /// symlink (openat with O_NOFOLLOW): what opens is then necessarily an entry directly inside the root, so no
    /// path needs reading back. Anything else (a name with "/", or a plain name that is a symlink) is opened by
    /// path and checked on the file actually opened (its canonical path read back from the descriptor), so a
    /// symlink swapped in between cannot escape the root either way.
    public func open(_ name: String) -> Result<OpenFile, Refusal> {
        guard !name.isEmpty else { return .failure(.init(status: 400, reason: "empty file name")) }
        guard !name.utf8.contains(0) else {
            return .failure(.init(status: 400, reason: "file name contains a NUL byte"))
        }
        guard !name.hasPrefix("/") else {
            return .failure(.init(status: 403, reason: "absolute paths are not served: \(name)"))
        }
        if Self.hasDotDotComponent(name) {
            return .failure(.init(status: 403, reason: "file name escapes the served directory: \(name)"))
        }
        if !name.utf8.contains(UInt8(ascii: "/")) {
            do {
                let fd = try FileSystem.openWithoutBlocking(name, in: directory.descriptor)
                return checkKind(fd, path: root == "/" ? "/" + name : root + "/" + name, name: name)
            } catch  where error.code == "ELOOP" {
                // A symlink: followed and checked by path below (one inside the root is served).
            } catch {
                return .failure(Self.refusal(for: error, name: name))
            }
        }
        let fd: Int32
        do {
            fd = try FileSystem.openWithoutBlocking(root + "/" + name)
        } catch {
            return .failure(Self.refusal(for: error, name: name))
        }
        let canonical: String
        do {
            canonical = try FileSystem.path(ofDescriptor: fd)
        } catch {
            FileSystem.close(fd)
            return .failure(Self.refusal(for: error, name: name))
        }
        guard canonical.hasPrefix(root == "/" ? "/" : root + "/") else {
            FileSystem.close(fd)
            return .failure(.init(status: 403, reason: "file name escapes the served directory: \(name)"))
        }
        return checkKind(fd, path: canonical, name: name)
    }

    /// Accepts `fd` if it is a regular file; otherwise closes it and says why not.
    private func checkKind(_ fd: Int32, path canonical: String, name: String) -> Result<OpenFile, Refusal> {
        do {
            let status = try FileSystem.status(ofDescriptor: fd)
            switch status.kind {
            case .regular(let size):
                return .success(OpenFile(descriptor: fd, path: canonical, size: size, status: status))
            case .directory:
                FileSystem.close(fd)
                return .failure(.init(status: 404, reason: "not a file (a directory): \(name)"))
            case .other:
                FileSystem.close(fd)
                return .failure(.init(status: 404, reason: "not a regular file: \(name)"))
            }
        } catch {
            FileSystem.close(fd)
            return .failure(Self.refusal(for: error, name: name))
        }
    }

    /// The canonical path and size of the regular file `name` names, or why not (opens and closes it).
    public func resolve(_ name: String) -> Result<(path: String, size: Int), Refusal> {
        open(name).map { file in
            FileSystem.close(file.descriptor)
            return (file.path, file.size)
        }
    }

    /// Whether some "/"-separated component of `name` is exactly "..": a byte scan, since this runs per request
    /// (splitting into substrings cost more than opening the file).
    static func hasDotDotComponent(_ name: String) -> Bool {
        var run = 0  // dots since the start of the component; -1 once it holds anything else
        for byte in name.utf8 {
            if byte == UInt8(ascii: "/") {
                if run == 2 { return true }
                run = 0
            } else if byte == UInt8(ascii: "."), run >= 0 {
                run += 1
            } else {
                run = -1
            }
        }
        return run == 2
    }

    static func refusal(for error: SystemError, name: String) -> Refusal {
        switch error.code {
        case "ENOENT", "ENOTDIR": .init(status: 404, reason: "no such file: \(name)")
        case "EACCES", "EPERM": .init(status: 403, reason: "permission denied: \(name)")
        case "ELOOP": .init(status: 403, reason: "too many symbolic links: \(name)")
        case "ENAMETOOLONG": .init(status: 400, reason: "file name too long")
        default: .init(status: 500, reason: "cannot open \(name): \(error.code)")
        }
    }
}
