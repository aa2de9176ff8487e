/// Makes received bytes safe to show in a one-line log: printable UTF-8 stays as it is; `\n`, `\r`, `\t` and `\\` are
/// written as escapes; other control characters (including ESC, DEL and C1 controls) and invalid UTF-8 bytes become
/// `\xNN`, so a client can never garble the terminal or split a log line.
public enum PrintableText {
    /// The escaped form of `bytes`.
    public static func escape(_ bytes: some Collection<UInt8>) -> String {
        let bytes = Array(bytes)
        var result = ""
        result.reserveCapacity(bytes.count)
        var index = 0
        while index < bytes.count {
            let lead = bytes[index]
            let length = lead < 0x80 ? 1 : lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 0
            if length > 0, index + length <= bytes.count,
                let text = String(validating: bytes[index..<(index + length)], as: UTF8.self),
                let scalar = text.unicodeScalars.first
            {
                append(scalar, encodedAs: bytes[index..<(index + length)], to: &result)
                index += length
            } else {
                // Not valid UTF-8 here: show this one byte and resynchronise on the next.
                result += hex(lead)
                index += 1
            }
        }
        return result
    }

    private static func append(_ scalar: Unicode.Scalar, encodedAs encoded: ArraySlice<UInt8>, to result: inout String)
    {
        switch scalar {
        case "\n": result += "\\n"
        case "\r": result += "\\r"
        case "\t": result += "\\t"
        case "\\": result += "\\\\"
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F || (0x80...0x9F).contains(scalar.value) {
                for byte in encoded { result += hex(byte) }
            } else {
                result.unicodeScalars.append(scalar)
            }
        }
    }

    private static func hex(_ byte: UInt8) -> String {
        let digits = Array("0123456789abcdef")
        return "\\x" + String(digits[Int(byte >> 4)]) + String(digits[Int(byte & 0xF)])
    }
}
