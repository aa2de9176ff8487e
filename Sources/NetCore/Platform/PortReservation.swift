import CNetCoreShims
@preconcurrency import Glibc

/// A TCP port held without listening, so it gets no connections: a socket bound *exclusively* (no `SO_REUSEPORT`
/// yet, so the bind fails with `EADDRINUSE` if anyone holds the port, even another `SO_REUSEPORT` group of the same
/// user), which then turns `SO_REUSEPORT` on. From then on servers with `reusePort = true` in processes of the same
/// user can bind the port and share it, while anyone else gets `EADDRINUSE`. A supervisor uses it to pick a
/// concrete port for `--port 0` before its workers start, to refuse a port another server already uses, and to
/// keep the port between worker restarts.
public final class PortReservation {
    private var descriptor: Int32?
    /// The address bound, with the concrete port.
    public let address: SocketAddress

    /// The reserved port.
    public var port: Int { address.port }

    /// Binds `port` (0 picks a free one) on `host`, or where `Server.listen(port:host: nil)` listens: `::` with IPv4
    /// mapped in, or `0.0.0.0` without IPv6. A host name is resolved here, blocking, and its first address is used,
    /// as `Server.listen` does.
    public init(host: String?, port: Int) throws(SystemError) {
        guard (0...65535).contains(port) else { throw SystemError(errno: EINVAL, syscall: "bind") }
        let candidates: [SocketAddress]
        if let host {
            switch SocketAddress.resolve(host: host, port: port) {
            case .success(let addresses): candidates = Array(addresses.prefix(1))
            case .failure(let error): throw error
            }
        } else {
            candidates = [SocketAddress(ip: "::", port: port)!, SocketAddress(ip: "0.0.0.0", port: port)!]
        }
        var lastError = SystemError(errno: EINVAL, syscall: "bind")
        for (index, candidate) in candidates.enumerated() {
            do {
                let (fd, bound) = try Self.bind(candidate)
                descriptor = fd
                address = bound
                return
            } catch {
                lastError = error
                // Only the all-interfaces case falls back, and only when IPv6 is missing.
                if host != nil || index > 0 || error.errno != EAFNOSUPPORT { break }
            }
        }
        throw lastError
    }

    private static func bind(_ address: SocketAddress) throws(SystemError) -> (Int32, SocketAddress) {
        let fd = try Posix.socket(domain: address.domain, type: Int32(SOCK_STREAM.rawValue))
        do {
            try Posix.setOption(fd, SOL_SOCKET, SO_REUSEADDR, 1)
            if address.family == .ipv6 && address.host == "::" {
                try Posix.setOption(fd, Int32(IPPROTO_IPV6), IPV6_V6ONLY, 0)
            }
            try Posix.bind(fd, address)
            // Only now: with SO_REUSEPORT set before bind, a second supervisor of the same user would silently join
            // the first one's port instead of failing. Linux checks the flag of bound sockets when others bind.
            try Posix.setOption(fd, SOL_SOCKET, SO_REUSEPORT, 1)
        } catch {
            Posix.close(fd)
            throw error
        }
        return (fd, Posix.localAddress(fd) ?? address)
    }

    /// Gives the port back. Called at most once; later calls do nothing.
    public func release() {
        if let descriptor { Posix.close(descriptor) }
        descriptor = nil
    }

    deinit { release() }
}

@available(*, unavailable)
extension PortReservation: Sendable {}
