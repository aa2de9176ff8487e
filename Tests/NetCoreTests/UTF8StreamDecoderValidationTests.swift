import Testing
@testable import NetCore

/// `UTF8StreamDecoder.validate`: the validate-only mode WebSocket text messages use (RFC 6455 §8.1).
@Suite struct UTF8StreamDecoderValidationTests {
    /// Validates `bytes` split at `cut`; true when valid and complete.
    static func isValid(_ bytes: [UInt8], cut: Int) -> Bool {
        var decoder = UTF8StreamDecoder()
        let first = bytes[..<cut].withUnsafeBytes { decoder.validate($0) }
        guard first else { return false }
        let second = bytes[cut...].withUnsafeBytes { decoder.validate($0) }
        return second && decoder.pendingByteCount == 0
    }

    static let samples: [[UInt8]] = [
        [], Array("hello, world 12345678".utf8), Array("κόσμε".utf8), Array("😀 a 😀".utf8),
        [0xC2, 0x80], [0xDF, 0xBF], [0xE0, 0xA0, 0x80], [0xEF, 0xBF, 0xBF], [0xF0, 0x90, 0x80, 0x80], [0xF4, 0x8F, 0xBF, 0xBF],
        [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80], [0xF0, 0x80, 0x80, 0x80],
        [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xE2, 0x82], [0x41, 0xF0, 0x9F, 0x98],
        Array("abcdefghijklmnop".utf8) + [0xCE] + Array("abcdefgh".utf8),
    ]

    @Test func validate_agreesWithTheStandardLibrary_atEverySplit() {
        for sample in Self.samples {
            let expected = String(validating: sample, as: UTF8.self) != nil
            for cut in 0...sample.count {
                #expect(Self.isValid(sample, cut: cut) == expected, "\(sample) cut at \(cut)")
            }
        }
    }

    @Test func validate_failsAtTheFirstImpossibleByte() {
        var decoder = UTF8StreamDecoder()
        #expect([UInt8]([0xF4]).withUnsafeBytes { decoder.validate($0) })
        #expect(decoder.pendingByteCount == 1)
        #expect(![UInt8]([0x90]).withUnsafeBytes { decoder.validate($0) })  // F4 90: past U+10FFFF
    }
}
