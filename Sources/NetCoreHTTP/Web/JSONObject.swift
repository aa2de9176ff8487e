/// The members of a JSON object in insertion order, with keyed lookup.
///
/// Setting an existing key replaces its value in place; a new key goes last; removing a key closes the gap. That is
/// the order `JSON.stringify` prints for ordinary string keys. (One difference from a JavaScript object: JavaScript
/// lists array-index keys, the canonical integers below 2^32 − 1 such as `"7"`, first in ascending order; here every
/// key keeps insertion order. Timestamps like `"1733131111111"` are above that bound and behave the same in both.)
/// Equality compares members and order.
public struct JSONObject: Sendable, Equatable, Sequence, ExpressibleByDictionaryLiteral {
    /// The members, in order.
    public private(set) var members: [(key: String, value: JSONValue)] = []
    // Position of each key in `members`, so lookups and parsing stay linear in the object size.
    private var positions: [String: Int] = [:]

    /// No members.
    public init() {}

    /// Members from a literal, in order; a repeated key keeps its first place and its last value.
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        for (key, value) in elements { self[key] = value }
    }

    /// The number of members.
    public var count: Int { members.count }

    /// Whether there are no members.
    public var isEmpty: Bool { members.isEmpty }

    /// The keys, in order.
    public var keys: [String] { members.map(\.key) }

    /// The value for `key`; assigning nil removes the member.
    public subscript(key: String) -> JSONValue? {
        get { positions[key].map { members[$0].value } }
        set {
            if let newValue {
                if let position = positions[key] {
                    members[position].value = newValue
                } else {
                    positions[key] = members.count
                    members.append((key, newValue))
                }
            } else if let position = positions.removeValue(forKey: key) {
                members.remove(at: position)
                for index in position..<members.count { positions[members[index].key] = index }
            }
        }
    }

    /// Iterates the members in order.
    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> {
        members.makeIterator()
    }

    /// Same members in the same order.
    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.members.count == rhs.members.count
            && zip(lhs.members, rhs.members).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
