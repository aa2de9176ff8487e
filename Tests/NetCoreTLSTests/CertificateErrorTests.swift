import COpenSSL
import Foundation
import Testing

@testable import NetCoreTLS

/// Bad input gets Node's error, never a crash, a hang or a prompt: garbage and damaged PEM, wrong and missing
/// passphrases, a key that is not the certificate's, missing/empty/odd files. Codes and messages compared with
/// node 20's `new X509Certificate(...)` and `tls.createSecureContext({ key, passphrase })`.
@Suite struct CertificateErrorTests {
    static func encryptedKey() throws -> String {
        let pki = try TestPKI.shared
        let run = ToolRun.run(
            ["openssl", "pkey", "-in", pki.path("localhost.key"), "-aes256", "-passout", "pass:correct horse"])
        try #require(run.succeeded, "\(run.stderr)")
        return run.stdout
    }

    /// Inputs for certificates and keys, each with node's code and message for it.
    @Test func garbageAndDamagedInput_matchNode() throws {
        let pki = try TestPKI.shared
        let certificate = pki.pem("localhost")
        let lines = certificate.split(separator: "\n", omittingEmptySubsequences: false)
        let truncated = lines.prefix(4).joined(separator: "\n") + "\n-----END CERTIFICATE-----\n"
        let badBase64 = certificate.replacingOccurrences(
            of: lines[2],
            with: String(repeating: "!", count: lines[2].count)
        )
        let noEnd = lines.prefix(4).joined(separator: "\n") + "\n"
        let certificateInputs = [
            "garbage", "", truncated, badBase64, noEnd, pki.keyPEM("localhost"), String(repeating: "A", count: 100_000),
        ]
        let encrypted = try Self.encryptedKey()
        let keyInputs: [(String, String?)] = [
            ("garbage", nil), (encrypted, "wrong"), (encrypted, nil), (encrypted, ""), (certificate, nil),
            (pki.keyPEM("localhost").replacingOccurrences(of: "M", with: "*"), nil),
        ]
        let script = #"""
            const { X509Certificate } = require('crypto');
            const tls = require('tls');
            const { certificates, keys } = JSON.parse(require('fs').readFileSync(0, 'utf8'));
            const attempt = (f) => { try { f(); return null; } catch (e) { return [e.code, e.message]; } };
            console.log(JSON.stringify({
              certificates: certificates.map((c) => attempt(() => new X509Certificate(c))),
              keys: keys.map(([key, passphrase]) =>
                attempt(() => tls.createSecureContext(passphrase === null ? { key } : { key, passphrase }))),
            }));
            """#
        let input = try JSONSerialization.data(withJSONObject: [
            "certificates": certificateInputs, "keys": keyInputs.map { [$0.0, $0.1 ?? NSNull()] as [Any] },
        ])
        let node = try #require(
            CertificateTestSupport.nodeJSON(script, input: String(decoding: input, as: UTF8.self)) as? [String: [Any]]
        )
        for (index, text) in certificateInputs.enumerated() {
            let theirs = try #require(node["certificates"]?[index] as? [String], "certificate input \(index)")
            #expect(
                throws: TLSError(
                    code: theirs[0],
                    message: theirs[1],
                    library: libraryAndReason(theirs[1]).0,
                    reason: libraryAndReason(theirs[1]).1
                ),
                "certificate input \(index)"
            ) {
                try X509Certificate(pem: text)
            }
            #expect(ERR_peek_error() == 0)
        }
        for (index, (key, passphrase)) in keyInputs.enumerated() {
            let theirs = try #require(node["keys"]?[index] as? [String], "key input \(index)")
            do {
                _ = try PrivateKey(pem: key, passphrase: passphrase)
                Issue.record("key input \(index) was accepted; node: \(theirs)")
            } catch {
                #expect(error.code == theirs[0], "key input \(index)")
                #expect(error.message == theirs[1], "key input \(index)")
            }
            #expect(ERR_peek_error() == 0)
        }
        // Node takes `key: ''` as no key at all (the TLS layer's choice); as a key it is an error.
        #expect(throws: TLSError.self) { try PrivateKey(pem: "") }
    }

    /// "error:0480006C:PEM routines::no start line" -> ("PEM routines", "no start line").
    func libraryAndReason(_ message: String) -> (String?, String?) {
        let parts = message.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count >= 5 else { return (nil, nil) }
        return (String(parts[2]), parts[4...].joined(separator: ":"))
    }

    @Test func passphrases() throws {
        let pki = try TestPKI.shared
        let encrypted = try Self.encryptedKey()
        let key = try PrivateKey(pem: encrypted, passphrase: "correct horse")
        #expect(key.matches(certificate: try X509Certificate(pem: pki.pem("localhost"))))
        #expect(throws: TLSError.self) { try PrivateKey(pem: encrypted, passphrase: "correct horse!") }
        // An unencrypted key ignores a passphrase, as in Node.
        #expect(try PrivateKey(pem: pki.keyPEM("localhost"), passphrase: "unused").bits == 256)
        // A passphrase longer than OpenSSL's buffer (PEM_BUFSIZE, 1024) is refused, not truncated.
        #expect(throws: TLSError.self) {
            try PrivateKey(pem: encrypted, passphrase: String(repeating: "x", count: 5000))
        }
        #expect(ERR_peek_error() == 0)
    }

    @Test func keyNotMatchingTheCertificate() throws {
        let pki = try TestPKI.shared
        let certificate = try X509Certificate(pem: pki.pem("localhost"))
        let otherKey = try PrivateKey(pem: pki.keyPEM("client"))
        #expect(!otherKey.matches(certificate: certificate))
        #expect(ERR_peek_error() == 0)
        #expect(
            throws: TLSError(
                code: "ERR_OSSL_X509_KEY_VALUES_MISMATCH",
                message: "error:05800074:x509 certificate routines::key values mismatch",
                library: "x509 certificate routines",
                reason: "key values mismatch"
            )
        ) { try otherKey.checkMatches(certificate: certificate) }
        // RSA key against an EC certificate.
        let rsa = try PrivateKey(pem: pki.keyPEM("rsa-localhost"))
        #expect(!rsa.matches(certificate: certificate))
        #expect(throws: TLSError.self) { try rsa.checkMatches(certificate: certificate) }
        #expect(rsa.matches(certificate: try X509Certificate(pem: pki.pem("rsa-localhost"))))
        try PrivateKey(.file(pki.path("localhost.key"))).checkMatches(certificate: certificate)
        #expect(ERR_peek_error() == 0)
    }

    @Test func files() throws {
        let pki = try TestPKI.shared
        let directory = pki.directory + "/files-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Missing: Node's fs message.
        let missing = directory + "/missing.pem"
        #expect(throws: TLSError(code: "ENOENT", message: "ENOENT: no such file or directory, open '\(missing)'")) {
            try PEMSource.file(missing).bytes()
        }
        #expect(throws: TLSError(code: "ENOENT", message: "ENOENT: no such file or directory, open '\(missing)'")) {
            try X509Certificate(.file(missing))
        }
        // A directory.
        #expect(throws: TLSError(code: "EISDIR", message: "EISDIR: illegal operation on a directory, read")) {
            try PrivateKey(.file(directory))
        }
        // Empty: no certificate.
        let empty = directory + "/empty.pem"
        #expect(FileManager.default.createFile(atPath: empty, contents: Data()))
        #expect(try PEMSource.file(empty).bytes() == [])
        #expect(throws: TLSError.self) { try X509Certificate(.file(empty)) }
        #expect(throws: TLSError.self) { try X509Certificate.chain(.file(empty)) }
        #expect(throws: TLSError.self) { try PrivateKey(.file(empty)) }
        // A FIFO nobody writes to: refused at once, not waited on.
        let fifo = directory + "/fifo"
        #expect(mkfifo(fifo, 0o600) == 0)
        #expect(throws: TLSError(code: "EINVAL", message: "EINVAL: not a regular file, read '\(fifo)'")) {
            try PEMSource.file(fifo).bytes()
        }
        // Larger than the limit (a sparse file, no disk used): refused before reading.
        let huge = directory + "/huge.pem"
        #expect(FileManager.default.createFile(atPath: huge, contents: Data()))
        #expect(truncate(huge, off_t(PEMSource.maximumFileSize + 1)) == 0)
        #expect(throws: TLSError.self) { try PEMSource.file(huge).bytes() }
        // Unreadable (unless the tests run as root, which bypasses permissions).
        let locked = directory + "/locked.pem"
        #expect(
            FileManager.default.createFile(
                atPath: locked,
                contents: Data(pki.pem("ca").utf8),
                attributes: [.posixPermissions: 0]
            )
        )
        if getuid() != 0 {
            #expect(throws: TLSError(code: "EACCES", message: "EACCES: permission denied, open '\(locked)'")) {
                try PEMSource.file(locked).bytes()
            }
        }
        // The same text from a file and as text.
        #expect(try PEMSource.file(pki.path("ca")).bytes() == Array(pki.pem("ca").utf8))
        #expect(try X509Certificate(.file(pki.path("ca"))) == X509Certificate(.text(pki.pem("ca"))))
        let literal: PEMSource = "-----BEGIN CERTIFICATE-----"
        #expect(literal == .text("-----BEGIN CERTIFICATE-----"))
    }

    /// node's message for the missing file is the one we give.
    @Test func missingFile_messageIsNodes() throws {
        let missing = try TestPKI.shared.directory + "/no-such-dir/cert.pem"
        let node = try #require(
            CertificateTestSupport.nodeJSON(
                "try { require('fs').readFileSync(process.argv[1]) } catch (e) { console.log(JSON.stringify([e.code, e.message])) }",
                [missing]
            ) as? [String]
        )
        #expect(throws: TLSError(code: node[0], message: node[1])) { try PEMSource.file(missing).bytes() }
    }

    @Test func chainsAndDER() throws {
        let pki = try TestPKI.shared
        #expect(throws: TLSError.self) { try X509Certificate.chain(pem: "") }
        #expect(throws: TLSError.self) { try X509Certificate.chain(pem: "no certificates here") }
        // A damaged second block fails the whole list rather than dropping it.
        let second = pki.pem("intermediate")
        let damaged =
            pki.pem("ca")
            + second.replacingOccurrences(of: "\n", with: "\n!", options: [], range: second.range(of: "\n"))
        #expect(throws: TLSError.self) { try X509Certificate.chain(pem: damaged) }
        // DER: garbage, truncated, trailing bytes.
        let der = try X509Certificate(pem: pki.pem("ca")).raw
        #expect(throws: TLSError.self) { try X509Certificate(der: [0x30, 0x03, 0x02, 0x01]) }
        #expect(throws: TLSError.self) { try X509Certificate(der: Array(der.dropLast(10))) }
        #expect(throws: TLSError.self) { try X509Certificate(der: der + [0]) }
        #expect(throws: TLSError.self) { try X509Certificate(der: []) }
        #expect(try X509Certificate(der: der).raw == der)
        // Random bytes in any of the parsers: an error, never a crash.
        var generator = SystemRandomNumberGenerator()
        for length in [1, 2, 17, 300, 5000] {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(throws: TLSError.self) { try X509Certificate(der: bytes) }
            #expect(throws: TLSError.self) { try X509Certificate(pemBytes: bytes) }
            #expect(throws: TLSError.self) { try PrivateKey(pemBytes: bytes) }
        }
        #expect(ERR_peek_error() == 0)
    }
}
