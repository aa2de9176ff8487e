import Testing

@testable import NetCoreHTTP

/// `JSONValue`: the strict RFC 8259 parser and the `JSON.stringify`-compatible serializer.
@Suite(.timeLimit(.minutes(1))) struct JSONTests {
    static func parse(_ text: String) throws(JSONError) -> JSONValue { try JSONValue.parse(text) }

    static func error(_ text: String) -> JSONError? {
        do {
            _ = try JSONValue.parse(text)
            return nil
        } catch {
            return error
        }
    }

    // MARK: - Parsing valid texts

    @Test func parse_scalars() throws {
        #expect(try Self.parse("null") == .null)
        #expect(try Self.parse("true") == .bool(true))
        #expect(try Self.parse("false") == .bool(false))
        #expect(try Self.parse("0") == .number(0))
        #expect(try Self.parse("-0").numberValue?.sign == .minus)
        #expect(try Self.parse("12.5e-1") == .number(1.25))
        #expect(try Self.parse("1E+2") == .number(100))
        #expect(try Self.parse("\"hi\"") == .string("hi"))
        #expect(try Self.parse(" \t\r\n 7 \n") == .number(7))
    }

    @Test func parse_restServerBody() throws {
        let body = try JSONValue.parse(Array(#"{"name": "kim", "age": 30, "tags": ["a", null, true]}"#.utf8))
        #expect(body["name"]?.stringValue == "kim")
        #expect(body["age"]?.intValue == 30)
        #expect(body["tags"]?[1]?.isNull == true)
        #expect(body["tags"]?[2]?.boolValue == true)
        #expect(body["tags"]?[3] == nil)
        #expect(body["missing"] == nil)
        #expect(body.objectValue?.keys == ["name", "age", "tags"])
    }

    /// RFC 8259 §7: escapes, including a surrogate pair for a character outside the BMP.
    @Test func parse_stringEscapes() throws {
        #expect(try Self.parse(#""\" \\ \/ \b \f \n \r \t""#) == .string("\" \\ / \u{8} \u{C} \n \r \t"))
        #expect(try Self.parse(#""\u0041\u00e9\u4E2D\uD83D\uDE00""#) == .string("Aé中😀"))
        #expect(try Self.parse(#""\u0000""#) == .string("\u{0}"))
        #expect(try Self.parse("\"홍길동 😀\"") == .string("홍길동 😀"))
        #expect(try Self.parse("\"\u{7F}\u{2028}\"") == .string("\u{7F}\u{2028}"))
    }

    @Test func parse_keepsKeyOrder_duplicateKeyKeepsFirstPlaceLastValue() throws {
        let value = try Self.parse(#"{"b":1,"a":2,"c":3,"a":4}"#)
        #expect(value.objectValue?.keys == ["b", "a", "c"])
        #expect(value["a"] == .number(4))
        #expect(value.serialized == #"{"b":1,"a":4,"c":3}"#)
    }

    @Test func parse_bigNumbers_behaveAsJavaScript() throws {
        #expect(try Self.parse("1e400") == .number(.infinity))
        #expect(try Self.parse("-1e400") == .number(-.infinity))
        #expect(try Self.parse("1e-400") == .number(0))
        #expect(try Self.parse("12345678901234567890").serialized == "12345678901234567000")
        #expect(try Self.parse("[1e400]").serialized == "[null]")
    }

    // MARK: - Malformed texts (RFC 8259)

    @Test(arguments: [
        // Empty, whitespace only, truncated.
        "", " ", "\n", "[", "{", "[1", "[1,", "{\"a\"", "{\"a\":", "{\"a\":1", "\"abc", "\"\\", "\"\\u12", "tru", "nul",
        // Trailing commas, missing commas and colons (§4, §5).
        "[1,]", "{\"a\":1,}", "[,1]", "[1 2]", "{\"a\" 1}", "{\"a\":1 \"b\":2}", "{,}", "[,]", ",", "{\"a\"::1}",
        // Keys must be strings (§4).
        "{a:1}", "{1:1}", "{'a':1}", "{null:1}",
        // Literals are lower case and exact (§3).
        "True", "NULL", "nulls", "truex", "undefined", "NaN", "Infinity", "-Infinity",
        // Numbers (§6).
        "01", "-01", "00", "+1", ".5", "1.", "1.e5", "1e", "1e+", "1E-", "-", "--1", "0x10", "1_000", "1.5.5", "- 1",
        // Strings (§7): single quotes, bad escapes, raw controls.
        "'a'", "\"\\x41\"", "\"\\a\"", "\"\\U0041\"", "\"\\u00G0\"", "\"\\u 041\"",
        "\"a\tb\"", "\"a\nb\"", "\"\u{1F}\"",
        // Lone surrogates: valid to JavaScript, unrepresentable in a Swift String.
        "\"\\uD800\"", "\"\\uDC00\"", "\"\\uD800\\u0041\"", "\"\\uD800x\"", "\"\\uDBFF\\uDBFF\"",
        // Comments, trailing data, several values, a byte order mark, non-JSON whitespace.
        "// c\n1", "/* c */ 1", "1 // c", "[1] x", "1 2", "{}{}", "\u{FEFF}1", "\u{A0}1", "\u{C}1", "[1]\u{0}",
    ])
    func parse_malformed_throws(_ text: String) {
        #expect(Self.error(text) != nil, "accepted \(String(reflecting: text))")
    }

    @Test func parse_errors_carryReasonAndOffset() {
        #expect(Self.error("") == JSONError(.unexpectedEnd, at: 0))
        #expect(Self.error("[1,]") == JSONError(.unexpectedByte(UInt8(ascii: "]")), at: 3))
        #expect(Self.error("[1 2]") == JSONError(.unexpectedByte(UInt8(ascii: "2")), at: 3))
        #expect(Self.error("01") == JSONError(.invalidNumber, at: 1))
        #expect(Self.error("1.") == JSONError(.invalidNumber, at: 2))
        #expect(Self.error("\"a\\qb\"") == JSONError(.invalidEscape, at: 2))
        #expect(Self.error("\"\\u12G4\"") == JSONError(.invalidUnicodeEscape, at: 5))
        #expect(Self.error("\"\\uD800\"") == JSONError(.loneSurrogate, at: 1))
        #expect(Self.error("\"a\u{1}\"") == JSONError(.controlCharacterInString, at: 2))
        #expect(Self.error("[1] x") == JSONError(.trailingCharacters, at: 4))
        #expect(Self.error("{\"a\":1,}") == JSONError(.unexpectedByte(UInt8(ascii: "}")), at: 7))
        let comma = JSONError(.unexpectedByte(UInt8(ascii: ",")), at: 12)
        #expect(comma.description == "unexpected byte ',' (0x2C) at byte 12")
        #expect(JSONError(.unexpectedEnd, at: 3).description == "unexpected end of JSON input at byte 3")
        #expect(JSONError(.tooDeep(limit: 512), at: 512).description == "nesting deeper than 512 levels at byte 512")
    }

    /// RFC 8259 §8.1: JSON text is UTF-8. Overlong forms, surrogates, truncated sequences and stray continuation
    /// bytes are refused where they occur.
    @Test func parse_invalidUTF8_isRefusedWithOffset() throws {
        let cases: [([UInt8], Int)] = [
            ([0x22, 0xFF, 0x22], 1), ([0x22, 0x80, 0x22], 1), ([0x22, 0xC0, 0x80, 0x22], 1),
            ([0x22, 0xE0, 0x80, 0x80, 0x22], 2), ([0x22, 0xED, 0xA0, 0x80, 0x22], 2),
            ([0x22, 0xF4, 0x90, 0x80, 0x80, 0x22], 2), ([0x22, 0xE4, 0xB8, 0x22], 3), ([0x22, 0xF5, 0x80, 0x22], 1),
            ([0xFF], 0),
        ]
        for (bytes, offset) in cases {
            #expect(throws: JSONError.self) { try JSONValue.parse(bytes) }
            do {
                _ = try JSONValue.parse(bytes)
            } catch {
                #expect(error.reason == .invalidUTF8 || error.reason == .unexpectedByte(0xFF), "\(bytes)")
                #expect(error.offset == offset, "\(bytes)")
            }
        }
        #expect(try JSONValue.parse([0x22, 0xE4, 0xB8, 0xAD, 0xF0, 0x9F, 0x98, 0x80, 0x22]) == .string("中😀"))
    }

    /// Every proper prefix of a document that ends in a container is incomplete, and the parser says so rather than
    /// crash or accept it (the "split at every offset" check for a whole-document parser).
    @Test func parse_everyPrefix_ofValidDocument_isRefused() throws {
        let document = Array(#"{"a":[1,-2.5e3,"x\u00e9\n",true,false,null,{}],"b":{"c":"홍"}}"#.utf8)
        #expect(try JSONValue.parse(document)["b"]?["c"]?.stringValue == "홍")
        for end in 0..<document.count {
            #expect(throws: JSONError.self) { try JSONValue.parse(Array(document[..<end])) }
        }
    }

    @Test func parse_nestingLimit_refusesDeepInputWithoutCrashing() throws {
        let ok = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(try Self.parse(ok).serialized == ok)
        let over = String(repeating: "[", count: 513) + String(repeating: "]", count: 513)
        #expect(Self.error(over) == JSONError(.tooDeep(limit: 512), at: 512))
        #expect(Self.error(String(repeating: "[", count: 1_000_000))?.reason == .tooDeep(limit: 512))
        #expect(Self.error(String(repeating: "{\"a\":", count: 100_000))?.reason == .tooDeep(limit: 512))
        #expect(try JSONValue.parse("[[1]]", maxDepth: 2) == [[1]])
        #expect(throws: JSONError(.tooDeep(limit: 1), at: 1)) { try JSONValue.parse("[[1]]", maxDepth: 1) }
        #expect(throws: JSONError(.tooDeep(limit: 0), at: 0)) { try JSONValue.parse("[]", maxDepth: 0) }
        #expect(try JSONValue.parse("1", maxDepth: 0) == 1)
    }

    /// Random bytes and random mutations of a valid document: no crash, and anything accepted round-trips.
    @Test func parse_randomInput_neverCrashes() throws {
        var generator = SplitMix64(seed: 8259)
        let alphabet = Array("{}[]\",:-+.eE0123456789tfnrulsa\\/u \n\t".utf8) + [0x00, 0x1F, 0x80, 0xC3, 0xFF, 0xED]
        let seed = Array(#"{"a":[1,-2.5e3,"x\u00e9\n",true,false,null,{}],"b":{"c":"\uD83D\uDE00"}}"#.utf8)
        var accepted = 0
        for round in 0..<20_000 {
            var input: [UInt8]
            switch round % 3 {
            case 0:
                input = (0..<Int(generator.next() % 40)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
            case 1:
                input = (0..<Int(generator.next() % 40)).map { _ in
                    alphabet[Int(generator.next() % UInt64(alphabet.count))]
                }
            default:
                input = seed
                for _ in 0..<(1 + Int(generator.next() % 3)) {
                    let position = Int(generator.next() % UInt64(input.count))
                    switch generator.next() % 3 {
                    case 0: input[position] = alphabet[Int(generator.next() % UInt64(alphabet.count))]
                    case 1: input.remove(at: position)
                    default: input.insert(alphabet[Int(generator.next() % UInt64(alphabet.count))], at: position)
                    }
                }
            }
            if let value = try? JSONValue.parse(input) {
                accepted += 1
                let reparsed = try JSONValue.parse(value.serializedBytes)
                // NaN cannot come out of parsing, so equality is meaningful.
                #expect(reparsed == value, "\(input)")
            }
        }
        #expect(accepted > 0)
    }

    // MARK: - Serializing

    @Test func serialize_likeJSONStringify() {
        let users: JSONValue = ["1733131111111": "kim", "1733131111112": "lee"]
        #expect(users.serialized == #"{"1733131111111":"kim","1733131111112":"lee"}"#)
        #expect(JSONValue.object([:]).serialized == "{}")
        #expect(JSONValue.array([]).serialized == "[]")
        #expect(([1, 2.5, -0.0, nil, true, "a/b"] as JSONValue).serialized == #"[1,2.5,0,null,true,"a/b"]"#)
        #expect(
            JSONValue.string("\"\\\u{8}\u{C}\n\r\t\u{0}\u{1F}\u{7F}é\u{2028}").serialized
                == "\"\\\"\\\\\\b\\f\\n\\r\\t\\u0000\\u001f\u{7F}é\u{2028}\""
        )
        #expect(JSONValue.number(.nan).serialized == "null")
        #expect(JSONValue.number(.infinity).serialized == "null")
        #expect(users.description == users.serialized)
    }

    @Test func serialize_numbers_likeJavaScriptNumberToString() {
        let cases: [(Double, String)] = [
            (0, "0"), (-0.0, "0"), (1, "1"), (-1, "-1"), (100, "100"), (1_733_131_111_111, "1733131111111"),
            (0.1, "0.1"), (0.1 + 0.2, "0.30000000000000004"), (1e21, "1e+21"), (1e20, "100000000000000000000"),
            (123e18, "123000000000000000000"), (1.5e21, "1.5e+21"), (1e-6, "0.000001"), (1e-7, "1e-7"),
            (1.5e-7, "1.5e-7"), (123.456, "123.456"), (-2.5e-5, "-0.000025"),
            (Double(9_007_199_254_740_993 as Int), "9007199254740992"), (.leastNonzeroMagnitude, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"), (1e16, "10000000000000000"),
            (4.35, "4.35"), (0.000001234, "0.000001234"), (1234.5e-10, "1.2345e-7"),
        ]
        for (number, expected) in cases {
            #expect(JSONSerializer.javaScriptString(number) == expected, "\(number)")
        }
    }

    @Test func object_editing_keepsOrder() {
        var object: JSONObject = ["a": 1, "b": 2, "c": 3]
        object["b"] = 20
        object["d"] = 4
        object["a"] = nil
        object["zz"] = nil
        #expect(object.keys == ["b", "c", "d"])
        #expect(object["c"] == 3)
        object["a"] = 1
        #expect(JSONValue.object(object).serialized == #"{"b":20,"c":3,"d":4,"a":1}"#)
        #expect(object.count == 4 && !object.isEmpty)
        #expect(Array(object).map(\.key) == ["b", "c", "d", "a"])
        let xy: JSONObject = ["x": 1, "y": 2]
        #expect(xy != ["y": 2, "x": 1])
        #expect(xy == ["x": 1, "y": 2])
    }

    // MARK: - Against node

    /// Random doubles by bit pattern (plus edge cases) printed by node's JSON.stringify and by us.
    @Test func serialize_randomDoubles_matchNode() throws {
        var generator = SplitMix64(seed: 262)
        var numbers: [Double] = [
            0, 1, 1e21, 1e-7, 9.999999999999999e20, 1e-6, .leastNonzeroMagnitude, .leastNormalMagnitude,
            .greatestFiniteMagnitude,
        ]
        for index in 0..<3000 {
            let bits = generator.next()
            switch index % 3 {
            case 0: numbers.append(Double(bitPattern: bits))
            case 1: numbers.append(Double(Int64(bitPattern: bits) >> Int64(bits % 60)))  // integers of all sizes
            default: numbers.append(Double(Int64(bits % 2_000_000) - 1_000_000) / Double(1 << (bits % 40)))
            }
        }
        numbers = numbers.filter(\.isFinite)
        let script = """
            const lines = require('fs').readFileSync(0, 'utf8').trim().split('\\n');
            const view = new DataView(new ArrayBuffer(8));
            console.log(lines.map(hex => {
              view.setBigUint64(0, BigInt('0x' + hex));
              return JSON.stringify(view.getFloat64(0));
            }).join('\\n'));
            """
        let input = numbers.map { String($0.bitPattern, radix: 16) }.joined(separator: "\n")
        let output = try #require(runNodeScript(script, input: input))
        let expected = output.split(separator: "\n").map(String.init)
        #expect(expected.count == numbers.count)
        var mismatches = 0
        for (number, javascript) in zip(numbers, expected) where JSONValue.number(number).serialized != javascript {
            mismatches += 1
            if mismatches < 10 { Issue.record("\(number): ours \(JSONValue.number(number)), node \(javascript)") }
        }
        #expect(mismatches == 0)
    }

    /// Texts that node's JSON.parse accepts we accept too, and print identically with JSON.stringify; texts node
    /// rejects we reject. (Lone surrogates and array-index keys are the documented differences, left out here.)
    @Test func parseAndSerialize_agreeWithNode() throws {
        var texts = [
            #"{"name":"kim","age":30}"#, #"[1,2.50,-0,1E2,1e-7,123456789012345678901234567890]"#,
            #"{"a":{"b":{"c":[[],{},"",null]}}}"#, #""\u0000\u001f\u007f\u00e9\u2028\ud83d\ude00\/""#,
            #" { "b" : 1 , "a" : 2 , "b" : 3 } "#, "\"홍길동\"", #"{"":""}"#, "-0.0e0", "0.1e1", "1e400",
            #"{"x":"a\"b\\c\nd\te\rf\bg\fh"}"#, "[true,false,null]",
        ]
        texts += ["[1,]", "{a:1}", "01", "'x'", "[1 2]", "\"\\x\"", "", "1.", "+1", "\"\t\"", "[", "nul", "{\"a\"}"]
        var generator = SplitMix64(seed: 42)
        let alphabet = Array(#"{}[]",:-.e0123456789tnul a\"#)
        for _ in 0..<300 {
            texts.append(String((0..<Int(generator.next() % 12)).map { _ in alphabet[Int(generator.next() % 27)] }))
        }
        let script = """
            const texts = JSON.parse(require('fs').readFileSync(0, 'utf8'));
            console.log(JSON.stringify(texts.map(t => {
              try { return JSON.stringify(JSON.parse(t)) } catch (e) { return null }
            })));
            """
        let input = JSONValue.array(texts.map { .string($0) }).serialized
        let output = try #require(runNodeScript(script, input: input))
        let expected = try #require(try JSONValue.parse(output).arrayValue)
        #expect(expected.count == texts.count)
        for (text, javascript) in zip(texts, expected) {
            let ours = (try? Self.parse(text)).map { JSONValue.string($0.serialized) } ?? .null
            #expect(ours == javascript, "\(String(reflecting: text))")
        }
    }

    /// Every code point below U+0800 and a sample above, as strings, printed by node's JSON.stringify and by us.
    @Test func serialize_strings_matchNode() throws {
        var scalars = (0..<0x800).compactMap(Unicode.Scalar.init)
        scalars += [0x2028, 0x2029, 0xFEFF, 0xFFFD, 0xFFFF, 0x1F600, 0x10FFFF].compactMap(Unicode.Scalar.init)
        let script = """
            const points = require('fs').readFileSync(0, 'utf8').trim().split(',').map(Number);
            process.stdout.write(points.map(p => JSON.stringify(String.fromCodePoint(p) + 'x')).join('\\n'));
            """
        let input = scalars.map { String($0.value) }.joined(separator: ",")
        let output = try #require(runNodeScript(script, input: input))
        let ours = scalars.map { JSONValue.string(String(Character($0)) + "x").serialized }.joined(separator: "\n")
        #expect(ours == output)
    }
}
