import CNetCoreShims
@preconcurrency import Glibc

/// Cryptographically secure random bytes from the kernel, for session ids, tokens and keys.
///
/// Reads the `getrandom(2)` urandom pool (flags 0): the call blocks only during early boot, until the pool has been
/// seeded once, and never returns predictable bytes. EINTR and short reads (possible for requests over 256 bytes) are
/// retried until the buffer is full. On a kernel without `getrandom` (ENOSYS, before Linux 3.17) it falls back to the
/// standard library's `SystemRandomNumberGenerator`, which reads `/dev/urandom`; that generator traps rather than
/// return weak bytes, so neither path can hand back guessable output.
public enum SystemRandom {
    /// `count` random bytes; an empty array for `count <= 0`.
    public static func bytes(_ count: Int) -> [UInt8] {
        guard count > 0 else { return [] }
        var result = [UInt8](repeating: 0, count: count)
        result.withUnsafeMutableBytes { fill($0) }
        return result
    }

    /// Fills `buffer` completely with random bytes.
    public static func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        guard let base = buffer.baseAddress else { return }
        var filled = 0
        while filled < buffer.count {
            let rest = UnsafeMutableRawBufferPointer(start: base + filled, count: buffer.count - filled)
            do {
                let n = try Posix.getrandom(rest)
                // 0 cannot happen for a non-empty request, but would loop forever; treat it like a failure.
                guard n > 0 else { return fillFromStandardLibrary(rest) }
                filled += n
            } catch {
                return fillFromStandardLibrary(rest)
            }
        }
    }

    private static func fillFromStandardLibrary(_ buffer: UnsafeMutableRawBufferPointer) {
        var generator = SystemRandomNumberGenerator()
        for index in buffer.indices { buffer[index] = generator.next() }
    }
}

extension Posix {
    /// getrandom(2) from the urandom pool, retrying EINTR. May return fewer bytes than asked for.
    static func getrandom(_ buffer: UnsafeMutableRawBufferPointer) throws(SystemError) -> Int {
        try syscallChecked("getrandom") { netcore_getrandom(buffer.baseAddress, UInt(buffer.count), 0) }
    }
}
