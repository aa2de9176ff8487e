import Foundation

/// The test PKI of scripts/make-test-pki.sh, made once per test process into a fresh temporary directory (removed at
/// exit). See the script for the certificates: `ca`, `intermediate`, `localhost`, `localhost-chain`, `wrongname`,
/// `expired`, `selfsigned`, `client`, `wildcard`, `sni-a`, `sni-b`, `rsa-localhost`, `other-ca`, `other-client`.
///
///     let pki = try TestPKI.shared
///     let caFile = pki.path("ca.pem")
///     let certText = pki.pem("localhost"), keyText = pki.keyPEM("localhost")
struct TestPKI: Sendable {
    /// Every certificate name the script makes (each has NAME.pem and NAME.key).
    static let names = [
        "ca", "intermediate", "localhost", "localhost-chain", "wrongname", "expired", "selfsigned", "client",
        "wildcard", "sni-a", "sni-b", "rsa-localhost", "other-ca", "other-client",
    ]

    /// The directory holding NAME.pem and NAME.key.
    let directory: String
    private let certificates: [String: String]
    private let keys: [String: String]

    /// The PKI, made on first use (thread-safe: a `static let` is initialised once), or the reason it could not be.
    static var shared: TestPKI {
        get throws(TestPKIError) { try made.get() }
    }

    private static let made: Result<TestPKI, TestPKIError> = {
        let result = Result { () throws(TestPKIError) in try TestPKI.make() }
        if case .success(let pki) = result {
            removeAtExit = pki.directory
            atexit { if let path = TestPKI.removeAtExit { try? FileManager.default.removeItem(atPath: path) } }
        }
        return result
    }()
    nonisolated(unsafe) private static var removeAtExit: String?

    /// The path of a file in `directory`: `path("ca.pem")`, or `path("ca")` for `ca.pem`.
    func path(_ name: String) -> String {
        directory + "/" + (name.hasSuffix(".pem") || name.hasSuffix(".key") ? name : name + ".pem")
    }

    /// The certificate NAME.pem as text (for `localhost-chain`, the leaf and the intermediate).
    func pem(_ name: String) -> String {
        guard let text = certificates[name] else { preconditionFailure("the test PKI has no certificate \(name)") }
        return text
    }

    /// The private key NAME.key as text (PKCS#8 PEM, unencrypted).
    func keyPEM(_ name: String) -> String {
        guard let text = keys[name] else { preconditionFailure("the test PKI has no key \(name)") }
        return text
    }

    /// The script, found from this file's place in the repository.
    static var scriptPath: String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("scripts/make-test-pki.sh").path
    }

    private static func make() throws(TestPKIError) -> TestPKI {
        var template = Array((NSTemporaryDirectory() + "/netcore-pki-XXXXXX").utf8CString)
        guard let made = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw TestPKIError(message: "mkdtemp failed: errno \(errno)")
        }
        let directory = String(cString: made)
        let run = ToolRun.run(["bash", scriptPath, directory], timeout: 60)
        guard run.succeeded else {
            try? FileManager.default.removeItem(atPath: directory)
            throw TestPKIError(
                message:
                    "\(scriptPath) \(run.timedOut ? "took longer than 60 s" : "exited with \(run.status.map(String.init) ?? "no status")"): \(run.stderr)"
            )
        }
        var certificates: [String: String] = [:], keys: [String: String] = [:]
        for name in names {
            guard let pem = try? String(contentsOfFile: directory + "/\(name).pem", encoding: .utf8),
                let key = try? String(contentsOfFile: directory + "/\(name).key", encoding: .utf8)
            else { throw TestPKIError(message: "\(scriptPath) made no \(name).pem/\(name).key in \(directory)") }
            certificates[name] = pem
            keys[name] = key
        }
        return TestPKI(directory: directory, certificates: certificates, keys: keys)
    }
}

/// Why the test PKI could not be made (the script's stderr included).
struct TestPKIError: Error, CustomStringConvertible {
    let message: String
    var description: String { "test PKI: \(message)" }
}
