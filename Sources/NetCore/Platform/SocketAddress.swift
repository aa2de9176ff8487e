// See Server.swift: the shim module can own SOCK_STREAM in a compile job, so import it where the constant is used.
import CNetCoreShims
@preconcurrency import Glibc

/// An address a socket can bind or connect to: IPv4, IPv6 or a Unix-domain path.
///
/// Unix paths starting with a NUL byte (`"\0name"`) are Linux abstract-namespace names: no file is created.
public struct SocketAddress: Sendable, Equatable, CustomStringConvertible {
    /// The address family, named as Node names it (`"IPv4"`, `"IPv6"`, `"unix"`).
    public enum Family: String, Sendable {
        case ipv4 = "IPv4"
        case ipv6 = "IPv6"
        case unix
    }

    enum Storage: Sendable {
        case v4(sockaddr_in)
        case v6(sockaddr_in6)
        case unix([UInt8])  // path bytes, without a terminating NUL
    }

    let storage: Storage

    init(storage: Storage) { self.storage = storage }

    /// The largest Unix-domain path (in bytes) that fits `sun_path` with its terminating NUL.
    public static let maxUnixPathLength = MemoryLayout.size(ofValue: sockaddr_un().sun_path) - 1

    /// An IPv4 or IPv6 address from a numeric host (`"127.0.0.1"`, `"::1"`) and a port; nil if `host` is not numeric.
    public init?(ip host: String, port: Int) {
        guard (0...65535).contains(port) else { return nil }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, host, &v4) == 1 {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = in_port_t(UInt16(port).bigEndian)
            address.sin_addr = v4
            storage = .v4(address)
        } else if inet_pton(AF_INET6, host, &v6) == 1 {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = in_port_t(UInt16(port).bigEndian)
            address.sin6_addr = v6
            storage = .v6(address)
        } else {
            return nil
        }
    }

    /// A Unix-domain address. Throws ENAMETOOLONG rather than truncating a path that does not fit.
    public init(unixPath path: String) throws(SystemError) {
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty else { throw SystemError(errno: ENOENT, syscall: "bind") }
        // An abstract name has no terminating NUL, so it may use the whole of sun_path.
        let limit = bytes.first == 0 ? Self.maxUnixPathLength + 1 : Self.maxUnixPathLength
        guard bytes.count <= limit else { throw SystemError(errno: ENAMETOOLONG, syscall: "bind") }
        storage = .unix(bytes)
    }

    /// The family of this address.
    public var family: Family {
        switch storage {
        case .v4: .ipv4
        case .v6: .ipv6
        case .unix: .unix
        }
    }

    /// The numeric host (`"127.0.0.1"`, `"::1"`), or the path for a Unix-domain address.
    public var host: String {
        switch storage {
        case .v4(var address):
            var text = [CChar](repeating: 0, count: Int(INET_ADDRSTRLEN))
            inet_ntop(AF_INET, &address.sin_addr, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .v6(var address):
            var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
            inet_ntop(AF_INET6, &address.sin6_addr, &text, socklen_t(text.count))
            return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        case .unix(let bytes):
            return String(decoding: bytes, as: UTF8.self)
        }
    }

    /// The port, or 0 for a Unix-domain address.
    public var port: Int {
        switch storage {
        case .v4(let address): Int(UInt16(bigEndian: address.sin_port))
        case .v6(let address): Int(UInt16(bigEndian: address.sin6_port))
        case .unix: 0
        }
    }

    /// The path of a Unix-domain address, nil for IP addresses. Abstract names keep their leading NUL.
    public var path: String? {
        if case .unix = storage { return host }
        return nil
    }

    /// `127.0.0.1:8124`, `[::1]:8124` or the Unix path.
    public var description: String {
        switch storage {
        case .v4: "\(host):\(port)"
        case .v6: "[\(host)]:\(port)"
        case .unix: host.first == "\0" ? "@" + host.dropFirst() : host
        }
    }

    public static func == (lhs: SocketAddress, rhs: SocketAddress) -> Bool {
        lhs.family == rhs.family && lhs.host == rhs.host && lhs.port == rhs.port
    }

    var domain: Int32 {
        switch storage {
        case .v4: AF_INET
        case .v6: AF_INET6
        case .unix: AF_UNIX
        }
    }

    func withSockAddr<R>(_ body: (UnsafePointer<sockaddr>, socklen_t) -> R) -> R {
        switch storage {
        case .v4(var address):
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in>.size))
                }
            }
        case .v6(var address):
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    body($0, socklen_t(MemoryLayout<sockaddr_in6>.size))
                }
            }
        case .unix(let bytes):
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in
                raw.copyBytes(from: bytes)
            }
            let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
            // Abstract names are exactly their bytes; filesystem paths include the terminating NUL.
            let length = pathOffset + bytes.count + (bytes.first == 0 ? 0 : 1)
            return withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(length)) }
            }
        }
    }

    /// Reads an address the kernel fills in (getsockname, getpeername).
    static func fromKernel(_ fill: (UnsafeMutablePointer<sockaddr>, UnsafeMutablePointer<socklen_t>) -> Int32)
        -> SocketAddress?
    {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let rc = withUnsafeMutablePointer(to: &storage) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { fill($0, &length) }
        }
        guard rc == 0 else { return nil }
        return withUnsafePointer(to: &storage) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { SocketAddress(sockaddr: $0, length: length) }
        }
    }

    init?(sockaddr pointer: UnsafePointer<sockaddr>, length: socklen_t) {
        switch Int32(pointer.pointee.sa_family) {
        case AF_INET:
            storage = .v4(UnsafeRawPointer(pointer).load(as: sockaddr_in.self))
        case AF_INET6:
            storage = .v6(UnsafeRawPointer(pointer).load(as: sockaddr_in6.self))
        case AF_UNIX:
            let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \sockaddr_un.sun_path)!
            let count = max(0, Int(length) - pathOffset)
            var bytes = Array(UnsafeRawBufferPointer(start: UnsafeRawPointer(pointer) + pathOffset, count: count))
            // Filesystem paths come back NUL-terminated (and unnamed peers empty); abstract names start with NUL.
            if bytes.first != 0, let end = bytes.firstIndex(of: 0) { bytes.removeSubrange(end...) }
            storage = .unix(bytes)
        default:
            return nil
        }
    }

    /// Resolves `host` with getaddrinfo (blocking: call off the loop thread). Numeric hosts resolve without DNS.
    static func resolve(host: String, port: Int) -> Result<[SocketAddress], SystemError> {
        if let numeric = SocketAddress(ip: host, port: port) { return .success([numeric]) }
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_family = AF_UNSPEC
        var list: UnsafeMutablePointer<addrinfo>?
        let rc = getaddrinfo(host, String(port), &hints, &list)
        guard rc == 0, let first = list else {
            // EAI_* codes are not errnos; Node reports an unknown host as ENOTFOUND.
            return .failure(SystemError(errno: rc == EAI_SYSTEM ? errno : SystemError.notFound, syscall: "getaddrinfo"))
        }
        defer { freeaddrinfo(list) }
        var addresses: [SocketAddress] = []
        var cursor: UnsafeMutablePointer<addrinfo>? = first
        while let entry = cursor {
            if let sa = entry.pointee.ai_addr,
                let address = SocketAddress(sockaddr: sa, length: entry.pointee.ai_addrlen),
                !addresses.contains(address)
            {
                addresses.append(address)
            }
            cursor = entry.pointee.ai_next
        }
        return addresses.isEmpty
            ? .failure(SystemError(errno: SystemError.notFound, syscall: "getaddrinfo")) : .success(addresses)
    }
}

extension SystemError {
    /// A pseudo-errno for "host not found", reported with code `ENOTFOUND` as Node does.
    static let notFound: Int32 = -3008
}
