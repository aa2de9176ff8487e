import Testing

@testable import NetCoreHTTP

/// `Cookies.parse` (RFC 6265 §5.4, the `cookie` package's rules) and `SetCookie.serialized()` (RFC 6265 §4.1).
@Suite(.timeLimit(.minutes(1))) struct CookieTests {
    // MARK: - Parsing

    @Test func parse_simplePairs() {
        #expect(Cookies.parse("a=1; b=2") == ["a": "1", "b": "2"])
        #expect(Cookies.parse("mycookie=test") == ["mycookie": "test"])
    }

    @Test func parse_emptyAndNil_areEmpty() {
        #expect(Cookies.parse(nil).isEmpty)
        #expect(Cookies.parse("").isEmpty)
        #expect(Cookies.parse(";;;").isEmpty)
        #expect(Cookies.parse("  ;  ; ").isEmpty)
        #expect(Cookies.parsePairs(";;;").isEmpty)
    }

    /// The value is everything after the first `=` (RFC 6265 §5.2 step 2: "the name string consists of the
    /// characters up to, but not including, the first =").
    @Test func parse_valueMayContainEquals() {
        #expect(Cookies.parse("token=abc==; q=a=b=c") == ["token": "abc==", "q": "a=b=c"])
        #expect(Cookies.parse("e=") == ["e": ""])
    }

    /// The `cookie` package skips pairs without `=`; the seed's split-based parser would make `{flag: undefined}`.
    @Test func parse_pairWithoutEquals_isSkipped() {
        #expect(Cookies.parse("flag; a=1; other") == ["a": "1"])
        #expect(Cookies.parse("a;b=c") == ["b": "c"])
    }

    @Test func parse_emptyName_isSkipped() {
        #expect(Cookies.parse("=value; a=1; =") == ["a": "1"])
        #expect(Cookies.parse("  =x") == [:])
    }

    @Test func parse_trimsSpacesAndTabs_aroundNameAndValue() {
        #expect(Cookies.parse(" \ta \t= \t1 \t;b=2  ") == ["a": "1", "b": "2"])
        // Interior spaces are kept.
        #expect(Cookies.parse("a=hello world") == ["a": "hello world"])
    }

    @Test func parse_quotedValue_losesQuotes() {
        #expect(Cookies.parse("a=\"quoted\"; b=\"\"; c=\"x") == ["a": "quoted", "b": "", "c": "\"x"])
        #expect(Cookies.parse("d=\"") == ["d": "\""])
        // Quotes are removed before percent-decoding, as the `cookie` package does.
        #expect(Cookies.parse("e=\"%41\"") == ["e": "A"])
    }

    @Test func parse_firstOccurrenceWins_pairsKeepAll() {
        #expect(Cookies.parse("a=1; a=2; b=3; a=4") == ["a": "1", "b": "3"])
        let pairs = Cookies.parsePairs("a=1; a=2; b=3")
        #expect(pairs.map(\.name) == ["a", "a", "b"])
        #expect(pairs.map(\.value) == ["1", "2", "3"])
    }

    @Test func parse_percentEncodedValue_isDecoded() {
        #expect(Cookies.parse("name=%ED%99%8D%EA%B8%B8%EB%8F%99") == ["name": "홍길동"])
        #expect(Cookies.parse("a=%3B%20%3D") == ["a": "; ="])
        // decodeURIComponent does not turn `+` into a space.
        #expect(Cookies.parse("a=a+b") == ["a": "a+b"])
    }

    /// Invalid encodings are kept exactly as sent: where the seed's decodeURIComponent throws URIError.
    @Test(arguments: ["%E0%A4%A", "%zz", "%", "abc%", "%4", "%FF", "%C0%80", "%ED%A0%80", "100%25%", "%%41"])
    func parse_badPercentEncoding_keepsRawValue(_ raw: String) {
        #expect(Cookies.parse("a=\(raw); b=ok") == ["a": raw, "b": "ok"])
    }

    @Test func parse_nonUTF8Bytes_doNotCrash() {
        // A header with invalid UTF-8 reaches us as text with U+FFFD where the bad bytes were.
        let header = String(decoding: [0x61, 0x3D, 0xFF, 0xFE, 0x3B, 0x62, 0x3D, 0xC3, 0x28], as: UTF8.self)
        let cookies = Cookies.parse(header)
        #expect(cookies["a"] == "\u{FFFD}\u{FFFD}")
        #expect(cookies["b"] == "\u{FFFD}(")
        // Non-ASCII names and values pass through; a `;` followed by a combining mark still separates.
        #expect(Cookies.parse("이름=값;\u{301}x=y") == ["이름": "값", "\u{301}x": "y"])
    }

    @Test func parse_hugeHeader_isHandled() {
        let pairs = (0..<10_000).map { "name\($0)=value\($0)" }.joined(separator: "; ")
        #expect(pairs.utf8.count > 100_000)
        let cookies = Cookies.parse(pairs)
        #expect(cookies.count == 10_000)
        #expect(cookies["name9999"] == "value9999")

        let oneValue = String(repeating: "%zz", count: 40_000)
        #expect(Cookies.parse("big=" + oneValue)["big"] == oneValue)
        let separators = String(repeating: ";", count: 100_000)
        #expect(Cookies.parse(separators + "a=1" + separators) == ["a": "1"])
    }

    // MARK: - Serializing

    @Test func serialize_allAttributes_inDocumentedOrder() throws {
        let cookie = SetCookie(
            name: "sid",
            value: "abc",
            expires: 1_796_194_800,
            maxAge: 300,
            domain: "example.com",
            path: "/",
            secure: true,
            httpOnly: true,
            sameSite: .lax
        )
        #expect(
            try cookie.serialized()
                == "sid=abc; Expires=Wed, 02 Dec 2026 07:00:00 GMT; Max-Age=300; Domain=example.com; Path=/; Secure; "
                + "HttpOnly; SameSite=Lax"
        )
        #expect(try SetCookie(name: "a", value: "b").serialized() == "a=b")
        #expect(try SetCookie(name: "a", value: "b", sameSite: .strict).serialized() == "a=b; SameSite=Strict")
        let none = SetCookie(name: "a", value: "b", sameSite: SetCookie.SameSite.none)
        #expect(try none.serialized() == "a=b; SameSite=None")
    }

    /// The seed's login cookie: `name=${encodeURIComponent(name)}; Expires=...; HttpOnly; Path=/`.
    @Test func serialize_koreanValue_isPercentEncodedLikeEncodeURIComponent() throws {
        #expect(try SetCookie(name: "name", value: "홍").serialized() == "name=%ED%99%8D")
        #expect(try SetCookie(name: "a", value: "; =,\"\\ ").serialized() == "a=%3B%20%3D%2C%22%5C%20")
        #expect(try SetCookie(name: "a", value: "-_.!~*'()").serialized() == "a=-_.!~*'()")
    }

    @Test func serialize_thenParse_roundTrips() throws {
        let values = ["홍길동", "a=b;c", "\"quoted\"", "100%", "tab\there", "emoji 👍🏽", "", "%zz", "\u{0}\u{7F}"]
        for value in values {
            let header = try SetCookie(name: "n", value: value, path: "/").serialized()
            // A browser echoes back only `name=value`.
            let sent = String(header.prefix { $0 != ";" })
            #expect(Cookies.parse(sent) == ["n": value], "value \(String(reflecting: value))")
        }
    }

    @Test(arguments: ["", "a b", "a;b", "a=b", "이름", "a\u{0}", "a\r\n", "(x)", "a,b", "a\"", "a/b", "a@b", "{}"])
    func serialize_nonTokenName_throws(_ name: String) {
        #expect(throws: CookieError.invalidName(name)) { try SetCookie(name: name, value: "v").serialized() }
    }

    @Test func serialize_tokenNames_areAccepted() throws {
        #expect(try SetCookie(name: "!#$%&'*+-.^_`|~Az09", value: "v").serialized() == "!#$%&'*+-.^_`|~Az09=v")
    }

    @Test(arguments: ["a;b", "", "exa mple.com", "a\u{1}", "é.com", "a\u{7F}"])
    func serialize_badDomain_throws(_ domain: String) {
        #expect(throws: CookieError.invalidDomain(domain)) {
            try SetCookie(name: "a", value: "v", domain: domain).serialized()
        }
    }

    @Test(arguments: ["/a;b", "", "/\r\n", "/\u{0}", "/é", "/\u{7F}"])
    func serialize_badPath_throws(_ path: String) throws {
        #expect(throws: CookieError.invalidPath(path)) {
            try SetCookie(name: "a", value: "v", path: path).serialized()
        }
        // A path with spaces is a valid path-value.
        #expect(try SetCookie(name: "a", value: "v", path: "/a b").serialized() == "a=v; Path=/a b")
    }

    @Test func serialize_expiresOutOfRange_throws() throws {
        #expect(throws: CookieError.invalidExpires(Int.max)) {
            try SetCookie(name: "a", value: "v", expires: .max).serialized()
        }
        #expect(throws: CookieError.invalidExpires(Int.min)) {
            try SetCookie(name: "a", value: "v", expires: .min).serialized()
        }
        #expect(throws: CookieError.invalidExpires(-11_644_473_601)) {
            try SetCookie(name: "a", value: "v", expires: -11_644_473_601).serialized()
        }
        #expect(
            try SetCookie(name: "a", value: "v", expires: -11_644_473_600).serialized()
                == "a=v; Expires=Mon, 01 Jan 1601 00:00:00 GMT"
        )
        #expect(
            try SetCookie(name: "a", value: "v", expires: 253_402_300_799).serialized()
                == "a=v; Expires=Fri, 31 Dec 9999 23:59:59 GMT"
        )
        #expect(throws: CookieError.invalidExpires(253_402_300_800)) {
            try SetCookie(name: "a", value: "v", expires: 253_402_300_800).serialized()
        }
    }

    @Test func deleting_expiresAtEpoch() throws {
        #expect(
            try SetCookie.deleting("sid", path: "/").serialized()
                == "sid=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/"
        )
    }

    @Test func errors_describeThemselves() {
        #expect(CookieError.invalidName("a b").description.contains("\"a b\""))
        #expect(CookieError.invalidExpires(5).description.contains("5"))
    }

    // MARK: - Dates and encoding against JavaScript

    @Test func imfFixdate_knownDates() {
        #expect(IMFFixdate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(IMFFixdate.format(-1) == "Wed, 31 Dec 1969 23:59:59 GMT")
        #expect(IMFFixdate.format(951_782_400) == "Tue, 29 Feb 2000 00:00:00 GMT")
        #expect(IMFFixdate.format(1_796_194_800) == "Wed, 02 Dec 2026 07:00:00 GMT")
        #expect(IMFFixdate.format(-62_135_596_800) == "Mon, 01 Jan 0001 00:00:00 GMT")
        #expect(IMFFixdate.format(-62_135_596_801) == nil)
        #expect(IMFFixdate.format(.max) == nil)
    }

    /// Compares with JavaScript's `Date.prototype.toUTCString` over leap years, century rules and negative times.
    @Test func imfFixdate_matchesJavaScriptToUTCString() throws {
        var generator = SplitMix64(seed: 6265)
        var seconds: [Int] = [0, -1, 86_399, 86_400, 951_868_799, 4_107_542_400, 4_107_628_800, -2_208_988_800]
        let range = IMFFixdate.representableSeconds
        for _ in 0..<2000 {
            seconds.append(range.lowerBound + Int(generator.next() % UInt64(range.upperBound - range.lowerBound + 1)))
        }
        let script = """
            const lines = require('fs').readFileSync(0, 'utf8').trim().split('\\n');
            console.log(lines.map(s => new Date(Number(s) * 1000).toUTCString()).join('\\n'));
            """
        let output = try #require(runNodeScript(script, input: seconds.map(String.init).joined(separator: "\n")))
        let expected = output.split(separator: "\n").map(String.init)
        #expect(expected.count == seconds.count)
        for (value, javascript) in zip(seconds, expected) {
            #expect(IMFFixdate.format(value) == javascript, "\(value)")
        }
    }

    /// `encodeURIComponent` and `decodeURIComponent` (including which inputs make it throw) agree with node.
    @Test func percentEncoding_matchesJavaScript() throws {
        let samples = [
            "홍길동", "a b+c", "-_.!~*'()", "a;b=c,d/e?f#g&h", "👍🏽", "\u{0}\u{1F}\u{7F}", "%", "%zz", "%E0%A4%A",
            "%ED%99%8D", "%C0%80", "%ED%A0%80", "%F4%90%80%80", "%f0%9f%91%8D", "%2", "plain", "%EF%BB%BF",
        ]
        let script = """
            const lines = JSON.parse(require('fs').readFileSync(0, 'utf8'));
            console.log(JSON.stringify(lines.map(s => {
              let decoded = null; try { decoded = decodeURIComponent(s) } catch (e) {}
              return [encodeURIComponent(s), decoded];
            })).replace(/[\\u007f-\\uffff]/g, c => '\\\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')));
            """
        // JSON input built without our JSON serializer, so this test checks percent-encoding alone.
        let jsonInput = "[" + samples.map(Self.jsonQuote).joined(separator: ",") + "]"
        let output = try #require(runNodeScript(script, input: jsonInput))
        var expected = output
        expected.removeLast()  // newline
        let ours =
            "["
            + samples.map { sample in
                let decoded = PercentEncoding.decodeComponent(sample).map(Self.jsonQuote) ?? "null"
                return "[" + Self.jsonQuote(PercentEncoding.encodeComponent(sample)) + "," + decoded + "]"
            }.joined(separator: ",") + "]"
        #expect(ours == expected)
    }

    /// A JSON string literal with `\uXXXX` for everything outside printable ASCII; the script escapes node's output
    /// the same way, so the two are compared as plain strings.
    static func jsonQuote(_ text: String) -> String {
        var result = "\""
        for unit in text.utf16 {
            switch unit {
            case 0x22: result += "\\\""
            case 0x5C: result += "\\\\"
            case 0x20..<0x7F: result.unicodeScalars.append(Unicode.Scalar(UInt8(unit)))
            default:
                let hex = String(unit, radix: 16)
                result += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            }
        }
        return result + "\""
    }
}

/// A small deterministic generator, so failures reproduce.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE5_E9B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
