/// A JSON value (RFC 8259), as JavaScript's `JSON.parse` produces and `JSON.stringify` prints it.
///
/// Numbers are `Double`, as in JavaScript, so integers up to 2^53 are exact and print without a fraction
/// (`1733131111111`, not `1733131111111.0`). Objects keep their keys in insertion order (`JSONObject`).
///
/// ```swift
/// let body = try JSONValue.parse(bytes)           // {"name": "kim"}
/// let name = body["name"]?.stringValue            // "kim"
/// let users: JSONValue = ["1733131111111": "kim"]
/// users.serialized                                // {"1733131111111":"kim"}
/// ```
public enum JSONValue: Sendable, Equatable {
    /// `null`.
    case null
    /// `true` or `false`.
    case bool(Bool)
    /// A number. Non-finite values cannot come from parsing except by overflow (`1e400` is infinity, as in
    /// JavaScript) and serialize as `null`, as `JSON.stringify` does.
    case number(Double)
    /// A string.
    case string(String)
    /// An array.
    case array([JSONValue])
    /// An object, keys in insertion order.
    case object(JSONObject)

    /// The default nesting limit of `parse`: arrays and objects deeper than this are refused.
    public static let defaultMaxDepth = 512

    /// Parses one JSON text (RFC 8259): any value, surrounded by optional whitespace, and nothing else.
    ///
    /// Strict: no trailing commas, comments, single quotes, leading zeros, `NaN`, byte order mark or invalid UTF-8.
    /// A duplicate key keeps its first position and takes the last value, as `JSON.parse` does. A `\u` escape of
    /// a lone surrogate is an error, since a Swift `String` cannot hold one. Nesting deeper than `maxDepth` is an
    /// error, not a stack overflow. Every failure is a `JSONError` with the byte offset where it was found.
    public static func parse(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws(JSONError) -> JSONValue {
        var parser = JSONParser(bytes: bytes, maxDepth: maxDepth)
        return try parser.parseDocument()
    }

    /// Parses the UTF-8 form of `text`; see `parse(_:maxDepth:)` for bytes.
    public static func parse(_ text: String, maxDepth: Int = defaultMaxDepth) throws(JSONError) -> JSONValue {
        try parse(Array(text.utf8), maxDepth: maxDepth)
    }

    /// The text `JSON.stringify` gives for the same value: no whitespace, keys in order, strings escaped only where
    /// JSON requires (`"`, `\`, control characters; `/` and non-ASCII are kept), numbers as JavaScript prints them.
    public var serialized: String {
        var output: [UInt8] = []
        JSONSerializer.write(self, into: &output)
        return String(decoding: output, as: UTF8.self)
    }

    /// `serialized` as UTF-8 bytes, ready for a response body.
    public var serializedBytes: [UInt8] {
        var output: [UInt8] = []
        JSONSerializer.write(self, into: &output)
        return output
    }

    // MARK: - Reading

    /// The member `key` of an object; nil for a missing key or a value that is not an object.
    public subscript(key: String) -> JSONValue? {
        if case .object(let object) = self { return object[key] }
        return nil
    }

    /// The element at `index` of an array; nil when out of range or not an array.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let elements) = self, elements.indices.contains(index) { return elements[index] }
        return nil
    }

    /// The string, if this is one.
    public var stringValue: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    /// The number, if this is one.
    public var numberValue: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// The number as an `Int`, if this is a number with no fractional part that fits.
    public var intValue: Int? {
        guard case .number(let value) = self else { return nil }
        return Int(exactly: value)
    }

    /// The Boolean, if this is one.
    public var boolValue: Bool? {
        if case .bool(let value) = self { return value }
        return nil
    }

    /// The elements, if this is an array.
    public var arrayValue: [JSONValue]? {
        if case .array(let value) = self { return value }
        return nil
    }

    /// The members, if this is an object.
    public var objectValue: JSONObject? {
        if case .object(let value) = self { return value }
        return nil
    }

    /// Whether this is `null`.
    public var isNull: Bool { self == .null }
}

// MARK: - Literals

extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral
{
    /// `null`.
    public init(nilLiteral: ()) { self = .null }
    /// A Boolean.
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    /// A number from an integer literal.
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    /// A number.
    public init(floatLiteral value: Double) { self = .number(value) }
    /// A string.
    public init(stringLiteral value: String) { self = .string(value) }
    /// An array.
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    /// An object with the literal's keys in order (a repeated key keeps its first place and its last value).
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        var object = JSONObject()
        for (key, value) in elements { object[key] = value }
        self = .object(object)
    }
}

extension JSONValue: CustomStringConvertible {
    /// The serialized form.
    public var description: String { serialized }
}
