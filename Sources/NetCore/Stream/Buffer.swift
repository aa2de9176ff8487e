/// A chunk of bytes, as Node's `Buffer`: what `data` events carry and what `write` accepts.
///
/// Interpolating a buffer in a string decodes it as UTF-8 (invalid bytes become U+FFFD), as `data + ''` does in
/// Node. Use `bytes` for the exact bytes.
public struct Buffer: Sendable, Hashable, RandomAccessCollection, CustomStringConvertible, ExpressibleByStringLiteral {
    /// The bytes.
    public var bytes: [UInt8]

    /// Wraps `bytes` without copying.
    public init(_ bytes: [UInt8]) { self.bytes = bytes }

    /// The UTF-8 encoding of `string`.
    public init(_ string: String) { self.bytes = Array(string.utf8) }

    /// The UTF-8 encoding of a string literal, so `socket.write("Repeating: ", chunk)` reads naturally.
    public init(stringLiteral value: String) { self.init(value) }

    /// Copies the bytes of a raw buffer.
    public init(copying raw: UnsafeRawBufferPointer) { self.bytes = Array(raw) }

    /// The bytes decoded as UTF-8; invalid sequences become U+FFFD.
    public var string: String { String(decoding: bytes, as: UTF8.self) }

    /// Same as `string`.
    public var description: String { string }

    /// The first byte's index (always 0).
    public var startIndex: Int { 0 }
    /// One past the last byte's index.
    public var endIndex: Int { bytes.count }
    /// The byte at `position`.
    public subscript(position: Int) -> UInt8 { bytes[position] }
}
