import Testing
@testable import NetCoreTools

@Suite struct ArgumentsTests {
    let options: [Arguments.Option] = [
        .init("port", .value(placeholder: "N"), help: "port"),
        .init("quiet", help: "quiet"),
    ]

    @Test func parse_acceptsOptionsBeforeAndAfterPositionals() throws {
        let parsed = try Arguments(["host", "--port", "9", "--quiet", "x", "--port=10"], options: options)
        #expect(parsed.positionals == ["host", "x"])
        #expect(parsed.values["port"] == "10")
        #expect(parsed.allValues["port"] == ["9", "10"])
        #expect(parsed.has("quiet"))
    }

    @Test func parse_treatsEverythingAfterDoubleDashAsPositional() throws {
        let parsed = try Arguments(["--", "--quiet"], options: options)
        #expect(parsed.positionals == ["--quiet"])
        #expect(!parsed.has("quiet"))
    }

    @Test func parse_rejectsUnknownOptionsAndMissingValues() {
        #expect(throws: Arguments.UsageError.self) { try Arguments(["--nope"], options: options) }
        #expect(throws: Arguments.UsageError.self) { try Arguments(["--port"], options: options) }
        #expect(throws: Arguments.UsageError.self) { try Arguments(["--quiet=1"], options: options) }
        #expect(throws: Arguments.UsageError.self) { try Arguments(["-x"], options: options) }
    }

    @Test func integer_rejectsOutOfRangeValues() throws {
        let parsed = try Arguments(["--port", "70000"], options: options)
        #expect(throws: Arguments.UsageError.self) { try parsed.integer("port", in: 0...65535) }
        #expect(try Arguments(["--port", "80"], options: options).integer("port", in: 0...65535) == 80)
    }

    @Test func help_isRecognisedEverywhere() throws {
        #expect(try Arguments(["x", "-h"], options: options).has("help"))
        #expect(try Arguments(["--help"], options: options).has("help"))
    }
}

@Suite struct PrintableTextTests {
    @Test func escape_keepsPrintableUTF8() {
        #expect(PrintableText.escape(Array("héllo € 😀".utf8)) == "héllo € 😀")
    }

    @Test func escape_escapesControlBytesAndInvalidUTF8() {
        #expect(PrintableText.escape(Array("a\nb\r\t\\".utf8)) == #"a\nb\r\t\\"#)
        #expect(PrintableText.escape([0x1B, 0x5B, 0x32, 0x4A]) == #"\x1b[2J"#)  // ESC [2J would clear the screen
        #expect(PrintableText.escape([0x00, 0x7F, 0xFF, 0x41]) == #"\x00\x7f\xffA"#)
        #expect(PrintableText.escape([0xC2, 0x85]) == #"\xc2\x85"#)  // NEL, a C1 control
        #expect(PrintableText.escape([0xE2, 0x82]) == #"\xe2\x82"#)  // truncated €
    }
}
