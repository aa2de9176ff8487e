extension Array where Element == UInt8 {
    /// Appends a literal's UTF-8 bytes straight from the binary's constant data. `append(contentsOf: "…".utf8)`
    /// builds a String and walks its UTF8View generically: about 170 instructions per call (callgrind), and a
    /// response head makes a dozen of them.
    @inline(__always)
    mutating func append(literal: StaticString) {
        literal.withUTF8Buffer { append(contentsOf: $0) }
    }

    /// Appends a string's UTF-8 bytes with one copy from its contiguous storage (native strings need no conversion).
    @inline(__always)
    mutating func append(utf8 string: String) {
        var string = string
        string.withUTF8 { append(contentsOf: $0) }
    }
}
