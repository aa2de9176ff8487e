/// The chunked transfer coding (RFC 9112 §7.1), encoding side: pure functions over bytes.
public enum ChunkedEncoder {
    /// `<hex size>\r\n`, the line before a chunk of `count` bytes.
    public static func sizeLine(_ count: Int) -> [UInt8] {
        Array(String(count, radix: 16).utf8) + [0x0D, 0x0A]
    }

    /// Appends `<hex size>\r\n` for a chunk of `count` bytes to `bytes`, without building an intermediate string or
    /// array (the per-write path of a chunked response).
    public static func appendSizeLine(_ count: Int, to bytes: inout [UInt8]) {
        precondition(count >= 0, "a chunk size is never negative")
        var shift = 0
        while shift < Int.bitWidth - 4 && count >> (shift + 4) != 0 { shift += 4 }
        while shift >= 0 {
            let digit = UInt8((count >> shift) & 0xF)
            bytes.append(digit < 10 ? 0x30 + digit : 0x61 + digit - 10)
            shift -= 4
        }
        bytes.append(0x0D)
        bytes.append(0x0A)
    }

    /// The CRLF after chunk data.
    public static let chunkEnd: [UInt8] = [0x0D, 0x0A]

    /// The last chunk with no trailers: `0\r\n\r\n`.
    public static let lastChunk: [UInt8] = Array("0\r\n\r\n".utf8)

    /// One chunk as the three buffers a gathering write sends without copying the data.
    public static func frame(_ data: [UInt8]) -> [[UInt8]] {
        data.isEmpty ? [] : [sizeLine(data.count), data, chunkEnd]
    }

    /// The last chunk followed by `trailers`.
    public static func end(trailers: HTTPHeaders = HTTPHeaders()) -> [UInt8] {
        guard !trailers.fields.isEmpty else { return lastChunk }
        var bytes = Array("0\r\n".utf8)
        for (name, value) in trailers { bytes += Array("\(name): \(value)\r\n".utf8) }
        return bytes + [0x0D, 0x0A]
    }
}
