/// Why a JSON text was refused, and the byte offset where it was noticed.
public struct JSONError: Error, Equatable, Sendable, CustomStringConvertible {
    /// What was wrong.
    public enum Reason: Equatable, Sendable {
        /// The input ended inside a value, or was empty or only whitespace.
        case unexpectedEnd
        /// A byte that cannot start or continue the value here (a trailing comma, a comment, a single quote, …).
        case unexpectedByte(UInt8)
        /// A number that breaks the RFC 8259 grammar: a leading zero, a bare `.`, a missing exponent digit, `+1`.
        case invalidNumber
        /// A backslash followed by something other than `" \ / b f n r t u`.
        case invalidEscape
        /// `\u` not followed by four hex digits.
        case invalidUnicodeEscape
        /// A `\u` surrogate without its other half, which a Swift `String` cannot hold.
        case loneSurrogate
        /// An unescaped control character (below U+0020) inside a string.
        case controlCharacterInString
        /// Bytes that are not UTF-8 (RFC 8259 §8.1 requires it).
        case invalidUTF8
        /// Arrays and objects nested deeper than the limit.
        case tooDeep(limit: Int)
        /// A complete value followed by more than whitespace.
        case trailingCharacters
    }

    /// What was wrong.
    public let reason: Reason
    /// The offset of the offending byte from the start of the input (the input length for `unexpectedEnd`).
    public let offset: Int

    /// An error for `reason` at byte `offset`.
    public init(_ reason: Reason, at offset: Int) {
        self.reason = reason
        self.offset = offset
    }

    /// E.g. `unexpected byte ',' (0x2C) at byte 12`.
    public var description: String {
        let what =
            switch reason {
            case .unexpectedEnd: "unexpected end of JSON input"
            case .unexpectedByte(let byte):
                (0x21..<0x7F).contains(byte)
                    ? "unexpected byte '\(Character(Unicode.Scalar(byte)))' (0x\(Self.hex(byte)))"
                    : "unexpected byte 0x\(Self.hex(byte))"
            case .invalidNumber: "invalid number"
            case .invalidEscape: "invalid escape sequence in string"
            case .invalidUnicodeEscape: "invalid \\u escape in string (four hex digits expected)"
            case .loneSurrogate: "unpaired UTF-16 surrogate in \\u escape"
            case .controlCharacterInString: "unescaped control character in string"
            case .invalidUTF8: "invalid UTF-8"
            case .tooDeep(let limit): "nesting deeper than \(limit) levels"
            case .trailingCharacters: "unexpected data after the JSON value"
            }
        return "\(what) at byte \(offset)"
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return byte < 16 ? "0" + digits : digits
    }
}

/// A recursive-descent RFC 8259 parser over a byte array. Recursion depth is bounded by `maxDepth`.
struct JSONParser {
    private let bytes: [UInt8]
    private let maxDepth: Int
    private var index = 0
    private var depth = 0

    init(bytes: [UInt8], maxDepth: Int) {
        self.bytes = bytes
        self.maxDepth = maxDepth
    }

    /// One value with optional whitespace around it, and nothing after.
    mutating func parseDocument() throws(JSONError) -> JSONValue {
        skipWhitespace()
        let value = try parseValue()
        skipWhitespace()
        guard index == bytes.count else { throw JSONError(.trailingCharacters, at: index) }
        return value
    }

    // MARK: - Values

    private mutating func parseValue() throws(JSONError) -> JSONValue {
        guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
        switch bytes[index] {
        case UInt8(ascii: "{"): return try parseObject()
        case UInt8(ascii: "["): return try parseArray()
        case UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "t"): try expectLiteral("true"); return .bool(true)
        case UInt8(ascii: "f"): try expectLiteral("false"); return .bool(false)
        case UInt8(ascii: "n"): try expectLiteral("null"); return .null
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number(try parseNumber())
        case let byte: throw JSONError(.unexpectedByte(byte), at: index)
        }
    }

    private mutating func expectLiteral(_ literal: StaticString) throws(JSONError) {
        let text = UnsafeRawBufferPointer(start: literal.utf8Start, count: literal.utf8CodeUnitCount)
        for expected in text {
            guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
            guard bytes[index] == expected else { throw JSONError(.unexpectedByte(bytes[index]), at: index) }
            index += 1
        }
    }

    private mutating func enterContainer() throws(JSONError) {
        depth += 1
        guard depth <= maxDepth else { throw JSONError(.tooDeep(limit: maxDepth), at: index) }
    }

    private mutating func parseArray() throws(JSONError) -> JSONValue {
        try enterContainer()
        index += 1  // [
        var elements: [JSONValue] = []
        skipWhitespace()
        if try peek() == UInt8(ascii: "]") {
            index += 1
            depth -= 1
            return .array(elements)
        }
        while true {
            skipWhitespace()
            elements.append(try parseValue())
            skipWhitespace()
            let byte = try peek()
            index += 1
            if byte == UInt8(ascii: "]") { break }
            guard byte == UInt8(ascii: ",") else { throw JSONError(.unexpectedByte(byte), at: index - 1) }
        }
        depth -= 1
        return .array(elements)
    }

    private mutating func parseObject() throws(JSONError) -> JSONValue {
        try enterContainer()
        index += 1  // {
        var object = JSONObject()
        skipWhitespace()
        if try peek() == UInt8(ascii: "}") {
            index += 1
            depth -= 1
            return .object(object)
        }
        while true {
            skipWhitespace()
            let keyStart = try peek()
            guard keyStart == UInt8(ascii: "\"") else { throw JSONError(.unexpectedByte(keyStart), at: index) }
            let key = try parseString()
            skipWhitespace()
            let colon = try peek()
            guard colon == UInt8(ascii: ":") else { throw JSONError(.unexpectedByte(colon), at: index) }
            index += 1
            skipWhitespace()
            object[key] = try parseValue()
            skipWhitespace()
            let byte = try peek()
            index += 1
            if byte == UInt8(ascii: "}") { break }
            guard byte == UInt8(ascii: ",") else { throw JSONError(.unexpectedByte(byte), at: index - 1) }
        }
        depth -= 1
        return .object(object)
    }

    // MARK: - Numbers

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?` (RFC 8259 §6), converted with correct rounding.
    private mutating func parseNumber() throws(JSONError) -> Double {
        let start = index
        if bytes[index] == UInt8(ascii: "-") { index += 1 }
        guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
        if bytes[index] == UInt8(ascii: "0") {
            index += 1
            // "01" is not a number: a leading zero stands alone.
            if index < bytes.count, isDigit(bytes[index]) { throw JSONError(.invalidNumber, at: index) }
        } else {
            guard isDigit(bytes[index]) else { throw JSONError(.invalidNumber, at: index) }
            skipDigits()
        }
        if index < bytes.count, bytes[index] == UInt8(ascii: ".") {
            index += 1
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONError(.invalidNumber, at: index) }
            skipDigits()
        }
        if index < bytes.count, bytes[index] | 0x20 == UInt8(ascii: "e") {
            index += 1
            if index < bytes.count, bytes[index] == UInt8(ascii: "+") || bytes[index] == UInt8(ascii: "-") {
                index += 1
            }
            guard index < bytes.count, isDigit(bytes[index]) else { throw JSONError(.invalidNumber, at: index) }
            skipDigits()
        }
        // The grammar is a subset of what Double's parser accepts, so this only fails on a bug; overflow gives ±inf
        // and underflow ±0, as in JavaScript.
        let text = String(decoding: bytes[start..<index], as: UTF8.self)
        guard let value = Double(text) else { throw JSONError(.invalidNumber, at: start) }
        return value
    }

    private func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private mutating func skipDigits() {
        while index < bytes.count, isDigit(bytes[index]) { index += 1 }
    }

    // MARK: - Strings

    /// A string starting at the opening quote. Validates UTF-8 as it goes so errors carry the exact offset.
    private mutating func parseString() throws(JSONError) -> String {
        index += 1  // "
        var output: [UInt8] = []
        while true {
            guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
            let byte = bytes[index]
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return String(decoding: output, as: UTF8.self)  // already validated
            case UInt8(ascii: "\\"):
                try parseEscape(into: &output)
            case 0..<0x20:
                throw JSONError(.controlCharacterInString, at: index)
            case 0x20..<0x80:
                output.append(byte)
                index += 1
            default:
                let length = try validUTF8SequenceLength(at: index)
                output.append(contentsOf: bytes[index..<index + length])
                index += length
            }
        }
    }

    private mutating func parseEscape(into output: inout [UInt8]) throws(JSONError) {
        let escapeStart = index
        index += 1  // backslash
        guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
        let simple: UInt8? =
            switch bytes[index] {
            case UInt8(ascii: "\""): UInt8(ascii: "\"")
            case UInt8(ascii: "\\"): UInt8(ascii: "\\")
            case UInt8(ascii: "/"): UInt8(ascii: "/")
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        if let simple {
            output.append(simple)
            index += 1
            return
        }
        guard bytes[index] == UInt8(ascii: "u") else { throw JSONError(.invalidEscape, at: escapeStart) }
        index += 1
        let unit = try parseHex4()
        var scalarValue = UInt32(unit)
        if (0xD800..<0xDC00).contains(unit) {
            // A high surrogate must be followed at once by `\u` and a low surrogate (RFC 8259 §7).
            guard index + 1 < bytes.count, bytes[index] == UInt8(ascii: "\\"), bytes[index + 1] == UInt8(ascii: "u")
            else { throw JSONError(.loneSurrogate, at: escapeStart) }
            index += 2
            let low = try parseHex4()
            guard (0xDC00..<0xE000).contains(low) else { throw JSONError(.loneSurrogate, at: escapeStart) }
            scalarValue = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
        } else if (0xDC00..<0xE000).contains(unit) {
            throw JSONError(.loneSurrogate, at: escapeStart)
        }
        guard let scalar = Unicode.Scalar(scalarValue) else { throw JSONError(.loneSurrogate, at: escapeStart) }
        UTF8.encode(scalar) { output.append($0) }
    }

    private mutating func parseHex4() throws(JSONError) -> UInt16 {
        var value: UInt16 = 0
        for _ in 0..<4 {
            guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw JSONError(.invalidUnicodeEscape, at: index)
            }
            value = value << 4 | UInt16(digit)
            index += 1
        }
        return value
    }

    /// The length of the well-formed UTF-8 sequence at `start` (Unicode Table 3-7: no overlong forms, no
    /// surrogates, nothing above U+10FFFF), or `.invalidUTF8` at the first bad byte.
    private func validUTF8SequenceLength(at start: Int) throws(JSONError) -> Int {
        let lead = bytes[start]
        let length: Int
        var secondRange: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; secondRange = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; secondRange = 0x80...0x9F
        case 0xF0: length = 4; secondRange = 0x90...0xBF
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; secondRange = 0x80...0x8F
        default: throw JSONError(.invalidUTF8, at: start)
        }
        for offset in 1..<length {
            let position = start + offset
            guard position < bytes.count else { throw JSONError(.unexpectedEnd, at: position) }
            let range = offset == 1 ? secondRange : 0x80...0xBF
            guard range.contains(bytes[position]) else { throw JSONError(.invalidUTF8, at: position) }
        }
        return length
    }

    // MARK: - Helpers

    private func peek() throws(JSONError) -> UInt8 {
        guard index < bytes.count else { throw JSONError(.unexpectedEnd, at: index) }
        return bytes[index]
    }

    /// RFC 8259 whitespace: space, tab, line feed, carriage return. Nothing else (no BOM, no NBSP).
    private mutating func skipWhitespace() {
        while index < bytes.count {
            switch bytes[index] {
            case 0x20, 0x09, 0x0A, 0x0D: index += 1
            default: return
            }
        }
    }
}
