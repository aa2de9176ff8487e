/// `JSON.stringify` without indentation (ECMA-262 §25.5.2), over `JSONValue`.
enum JSONSerializer {
    static func write(_ value: JSONValue, into output: inout [UInt8]) {
        switch value {
        case .null: output.append(contentsOf: "null".utf8)
        case .bool(let flag): output.append(contentsOf: (flag ? "true" : "false").utf8)
        case .number(let number): output.append(contentsOf: javaScriptString(number).utf8)
        case .string(let text): writeString(text, into: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (position, element) in elements.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                write(element, into: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let object):
            output.append(UInt8(ascii: "{"))
            for (position, member) in object.members.enumerated() {
                if position > 0 { output.append(UInt8(ascii: ",")) }
                writeString(member.key, into: &output)
                output.append(UInt8(ascii: ":"))
                write(member.value, into: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    /// `QuoteJSONString` (ECMA-262 §25.5.2.3): `"` and `\` escaped, `\b \f \n \r \t` by name, other controls as
    /// `\u00xx` (lower-case hex), everything else, `/`, DEL, U+2028 and non-ASCII, as UTF-8. (The lone-surrogate
    /// case of the spec cannot occur: a Swift `String` has none.)
    static func writeString(_ text: String, into output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\"")])
            case UInt8(ascii: "\\"): output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "\\")])
            case 0x08: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "b")])
            case 0x0C: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "f")])
            case 0x0A: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "n")])
            case 0x0D: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "r")])
            case 0x09: output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "t")])
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                output.append(contentsOf: [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")])
                output.append(hex[Int(byte >> 4)])
                output.append(hex[Int(byte & 0x0F)])
            default: output.append(byte)
            }
        }
        output.append(UInt8(ascii: "\""))
    }

    /// JavaScript's `Number::toString` (ECMA-262 §6.1.6.1.20) for a finite number, `null` otherwise (as
    /// `JSON.stringify` prints NaN and infinities).
    ///
    /// Swift's `description` already gives the shortest digits that round-trip, which is also what JavaScript
    /// requires; only the layout differs (Swift writes `1e+16`, `1e-07` and `5.0` where JavaScript writes
    /// `10000000000000000`, `1e-7` and `5`), so the digits and exponent are taken from it and laid out again.
    static func javaScriptString(_ number: Double) -> String {
        guard number.isFinite else { return "null" }
        if number == 0 { return "0" }  // also -0, which JavaScript prints as "0"
        let (digits, pointPosition) = shortestDigits(of: number.magnitude)
        let sign = number < 0 ? "-" : ""
        let k = digits.count
        let n = pointPosition  // value = 0.digits × 10^n, i.e. digits × 10^(n − k)
        if k <= n && n <= 21 {
            return sign + digits + String(repeating: "0", count: n - k)
        }
        if 0 < n && n <= 21 {
            let split = digits.index(digits.startIndex, offsetBy: n)
            return sign + digits[..<split] + "." + digits[split...]
        }
        if -6 < n && n <= 0 {
            return sign + "0." + String(repeating: "0", count: -n) + digits
        }
        let exponent = n - 1
        let exponentText = (exponent < 0 ? "-" : "+") + String(exponent.magnitude)
        if k == 1 { return sign + digits + "e" + exponentText }
        return sign + digits.prefix(1) + "." + digits.dropFirst() + "e" + exponentText
    }

    /// The significant digits of a positive finite `value` (no leading or trailing zeros) and the position of the
    /// decimal point relative to them, read from Swift's shortest round-trip `description` (`123.45`, `1e-07`,
    /// `1.2345678901234568e+29`).
    static func shortestDigits(of value: Double) -> (digits: String, pointPosition: Int) {
        let text = value.description
        let mantissa: Substring
        var exponent = 0
        if let e = text.firstIndex(of: "e") {
            mantissa = text[..<e]
            exponent = Int(text[text.index(after: e)...]) ?? 0
        } else {
            mantissa = text[...]
        }
        let integerPart: Substring
        let fractionPart: Substring
        if let dot = mantissa.firstIndex(of: ".") {
            integerPart = mantissa[..<dot]
            fractionPart = mantissa[mantissa.index(after: dot)...]
        } else {
            integerPart = mantissa
            fractionPart = ""
        }
        var digits = String(integerPart) + fractionPart
        var pointPosition = integerPart.count + exponent
        // Leading zeros ("0.001") move the point left; trailing zeros ("100.0") carry no information.
        while digits.first == "0" {
            digits.removeFirst()
            pointPosition -= 1
        }
        while digits.last == "0" { digits.removeLast() }
        return (digits, pointPosition)
    }
}
