import NetCore

/// Maps a client-supplied file name to a file inside one root directory, refusing anything that would escape it:
/// absolute names, `..` components, and symlinks that resolve outside the root (checked on the canonical path).
public struct FileResolver: Sendable {
    /// Why a name was refused, with the HTTP status to answer.
    public struct Refusal: Error, Equatable, Sendable {
        public let status: Int
        public let reason: String
    }

    /// The canonical root directory.
    public let root: String

    /// A resolver for `root`, which must exist and be a directory.
    public init(root: String) throws(SystemError) {
        self.root = try FileSystem.canonicalPath(root)
        guard try FileSystem.kind(of: self.root) == .directory else {
            throw SystemError(errno: 20 /* ENOTDIR */, syscall: "stat")
        }
    }

    /// The canonical path and size of the regular file `name` names, or why not.
    public func resolve(_ name: String) -> Result<(path: String, size: Int), Refusal> {
        guard !name.isEmpty else { return .failure(.init(status: 400, reason: "empty file name")) }
        guard !name.utf8.contains(0) else {
            return .failure(.init(status: 400, reason: "file name contains a NUL byte"))
        }
        guard !name.hasPrefix("/") else {
            return .failure(.init(status: 403, reason: "absolute paths are not served: \(name)"))
        }
        if name.split(separator: "/", omittingEmptySubsequences: true).contains("..") {
            return .failure(.init(status: 403, reason: "file name escapes the served directory: \(name)"))
        }
        let candidate = root + "/" + name
        let canonical: String
        do {
            canonical = try FileSystem.canonicalPath(candidate)
        } catch {
            return .failure(Self.refusal(for: error, name: name))
        }
        guard canonical.hasPrefix(root == "/" ? "/" : root + "/") else {
            return .failure(.init(status: 403, reason: "file name escapes the served directory: \(name)"))
        }
        do {
            switch try FileSystem.kind(of: canonical) {
            case .regular(let size): return .success((canonical, size))
            case .directory: return .failure(.init(status: 404, reason: "not a file (a directory): \(name)"))
            case .other: return .failure(.init(status: 404, reason: "not a regular file: \(name)"))
            }
        } catch {
            return .failure(Self.refusal(for: error, name: name))
        }
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
