/// JavaScript's `encodeURIComponent` / `decodeURIComponent`, shared by cookies and route parameters.
///
/// Decoding is strict the way JavaScript's is (a `%` not followed by two hex digits, or bytes that are not UTF-8,
/// make the whole component invalid) but reports that as `nil` instead of throwing `URIError`, so callers choose
/// what to do with bad input. `+` is not a space here: that is form encoding, not URI component encoding.
enum PercentEncoding {
    /// `encodeURIComponent(text)`: every byte of the UTF-8 form except `A–Z a–z 0–9 - _ . ! ~ * ' ( )` becomes `%XX`
    /// with upper-case hex. (A Swift `String` has no lone surrogates, so this cannot fail as JavaScript's can.)
    static func encodeComponent(_ text: String) -> String {
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if isUnreservedInComponent(byte) {
                output.append(byte)
            } else {
                output.append(UInt8(ascii: "%"))
                output.append(hexDigits[Int(byte >> 4)])
                output.append(hexDigits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// `decodeURIComponent(text)`, or nil where JavaScript would throw `URIError`.
    static func decodeComponent(_ text: Substring) -> String? {
        let utf8 = text.utf8
        guard utf8.contains(UInt8(ascii: "%")) else { return String(text) }
        var output: [UInt8] = []
        output.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            guard byte == UInt8(ascii: "%") else {
                output.append(byte)
                index = utf8.index(after: index)
                continue
            }
            let high = utf8.index(after: index)
            guard high != utf8.endIndex, let highValue = hexValue(utf8[high]) else { return nil }
            let low = utf8.index(after: high)
            guard low != utf8.endIndex, let lowValue = hexValue(utf8[low]) else { return nil }
            output.append(highValue << 4 | lowValue)
            index = utf8.index(after: low)
        }
        // JavaScript rejects overlong forms, encoded surrogates and truncated sequences; so does `String(validating:)`.
        return String(validating: output, as: UTF8.self)
    }

    /// `decodeURIComponent` over a whole string.
    static func decodeComponent(_ text: String) -> String? { decodeComponent(text[...]) }

    private static let hexDigits: [UInt8] = Array("0123456789ABCDEF".utf8)

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }

    private static func isUnreservedInComponent(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: "."), UInt8(ascii: "!"), UInt8(ascii: "~"),
            UInt8(ascii: "*"), UInt8(ascii: "'"), UInt8(ascii: "("), UInt8(ascii: ")"):
            true
        default: false
        }
    }
}
