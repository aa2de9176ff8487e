/// The chunked transfer coding (RFC 9112 §7.1), encoding side: pure functions over bytes.
public enum ChunkedEncoder {
    /// `<hex size>\r\n`, the line before a chunk of `count` bytes.
    public static func sizeLine(_ count: Int) -> [UInt8] {
        Array(String(count, radix: 16).utf8) + [0x0D, 0x0A]
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
