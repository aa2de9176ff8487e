import COpenSSL
import Foundation
import Testing

@testable import NetCoreTLS

/// Helpers shared by the Certificate*Tests: node and openssl as real peers, and a directory of odd certificates.
enum CertificateTestSupport {
    /// Runs a node script (`node -e SCRIPT -- ARGS`: the arguments are `process.argv.slice(1)`) and returns its stdout parsed as JSON, recording an issue
    /// (and returning nil) when node fails.
    static func nodeJSON(
        _ script: String,
        _ arguments: [String] = [],
        input: String = "",
        sourceLocation: SourceLocation = #_sourceLocation
    ) -> Any? {
        let run = ToolRun.run(["node", "-e", script, "--"] + arguments, input: input, timeout: 60)
        guard run.succeeded else {
            Issue.record(
                "node failed (\(run.status.map(String.init) ?? "timeout")): \(run.stderr)",
                sourceLocation: sourceLocation
            )
            return nil
        }
        do {
            return try JSONSerialization.jsonObject(with: Data(run.stdout.utf8), options: [.fragmentsAllowed])
        } catch {
            Issue.record("node printed no JSON: \(run.stdout)", sourceLocation: sourceLocation)
            return nil
        }
    }

    /// Runs openssl and returns its stdout, recording an issue when it fails.
    static func openssl(_ arguments: [String], sourceLocation: SourceLocation = #_sourceLocation) -> String {
        let run = ToolRun.run(["openssl"] + arguments)
        if !run.succeeded {
            Issue.record(
                "openssl \(arguments.joined(separator: " ")) failed: \(run.stderr)",
                sourceLocation: sourceLocation
            )
        }
        return run.stdout
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// Certificates with the unusual contents the printing has to get right (comma, quote and non-ASCII values,
    /// every alt-name type, a repeated and an unnamed subject attribute, an RSA key), made once per process.
    static let oddCertificates: Result<OddCertificates, TestPKIError> = Result { () throws(TestPKIError) in
        try OddCertificates.make()
    }
}

/// The odd certificates' directory: `odd.pem` (self-signed, EC) and `odd-rsa.pem` (self-signed, RSA 2048).
struct OddCertificates: Sendable {
    let directory: String
    var names: [String] { ["odd", "odd-rsa"] }
    func path(_ name: String) -> String { directory + "/\(name).pem" }

    static func make() throws(TestPKIError) -> OddCertificates {
        // Inside the PKI's directory, so it goes when that is removed at exit.
        let directory = try TestPKI.shared.directory + "/odd"
        do { try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true) } catch {
            throw TestPKIError(message: "mkdir \(directory): \(error)")
        }
        let config = """
            oid_section = oids
            [oids]
            unnamedAttribute = 1.2.3.4.5
            [req]
            distinguished_name = dn
            prompt = no
            utf8 = yes
            string_mask = utf8only
            [dn]
            C = DE
            O = Zürich, \\"Quoted\\" & Co \\\\ back
            0.OU = First
            1.OU = Second
            CN = odd.example
            unnamedAttribute = unnamed attribute
            [ext]
            basicConstraints = critical, CA:true, pathlen:1
            subjectAltName = @alt
            authorityInfoAccess = @aia
            extendedKeyUsage = serverAuth, clientAuth, codeSigning, 1.3.6.1.4.1.99999.1
            [alt]
            DNS.1 = odd.example
            DNS.2 = comma,inside.example
            DNS.3 = *.wild.example
            IP.1 = 10.1.2.3
            IP.2 = fe80::1:abcd
            IP.3 = 2001:db8::
            email.1 = someone@odd.example
            URI.1 = https://odd.example/a,b?c="d"
            RID.1 = 1.2.3.4
            dirName.1 = dir
            otherName.1 = 1.3.6.1.4.1.311.20.2.3;UTF8:upn@odd.example
            otherName.2 = 1.2.3.4.5.6;UTF8:unknown
            [dir]
            C = US
            O = Dir, Inc
            CN = Directory Näme
            [aia]
            OCSP;URI.1 = http://ocsp.odd.example/
            caIssuers;URI.2 = http://ca.odd.example/a,b.pem
            caIssuers;URI.3 = http://ca.odd.example/second.pem
            """
        let configPath = directory + "/odd.cnf"
        do { try config.write(toFile: configPath, atomically: true, encoding: .utf8) } catch {
            throw TestPKIError(message: "write \(configPath): \(error)")
        }
        for (name, algorithm) in [
            ("odd", ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256"]), ("odd-rsa", ["-newkey", "rsa:2048"]),
        ] {
            let run = ToolRun.run(
                ["openssl", "req", "-x509", "-config", configPath, "-extensions", "ext", "-nodes", "-days", "30"]
                    + algorithm
                    + [
                        "-keyout", directory + "/\(name).key", "-out", directory + "/\(name).pem", "-set_serial",
                        "0x00ff01",
                    ],
                environment: ["OPENSSL_CONF": configPath]
            )
            guard run.succeeded else { throw TestPKIError(message: "openssl req for \(name): \(run.stderr)") }
        }
        return OddCertificates(directory: directory)
    }
}

/// A STACK_OF(X509) built in a test (as the TLS layer gets one from SSL_get_peer_cert_chain); frees itself, so keep
/// it alive (`withExtendedLifetime`) while OpenSSL uses `pointer`.
final class CertificateStack {
    let pointer: OpaquePointer
    init(_ certificates: [X509Certificate]) {
        pointer = OPENSSL_sk_new_null()!
        for certificate in certificates {
            X509_up_ref(certificate.pointer)
            _ = OPENSSL_sk_push(pointer, UnsafeRawPointer(certificate.pointer))
        }
    }
    deinit {
        for element in (0..<OPENSSL_sk_num(pointer)).compactMap({ OPENSSL_sk_value(pointer, $0) }) {
            X509_free(OpaquePointer(element))
        }
        OPENSSL_sk_free(pointer)
    }
}

/// An X509_STORE holding some trusted certificates; frees itself (keep it alive while `pointer` is used).
final class TrustStore {
    let pointer: OpaquePointer
    init(_ certificates: [X509Certificate]) {
        pointer = X509_STORE_new()!
        for certificate in certificates { X509_STORE_add_cert(pointer, certificate.pointer) }
    }
    deinit { X509_STORE_free(pointer) }

    /// Verifies `leaf` with `untrusted` intermediates as a Node TLS client does (`X509_verify_cert` with a verify
    /// callback that always continues, Node's `VerifyCallback`, so the result is the last error found: a leaf with
    /// no known issuer ends as UNABLE_TO_VERIFY_LEAF_SIGNATURE, not the first error UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
    /// returns the X509_V_ERR_* result (0 when it verifies).
    func verify(
        _ leaf: X509Certificate,
        untrusted: [X509Certificate] = [],
        purpose: Int32 = X509_PURPOSE_SSL_SERVER,
        at time: time_t? = nil
    ) -> Int {
        let context = X509_STORE_CTX_new()!
        defer { X509_STORE_CTX_free(context) }
        let stack = CertificateStack(untrusted)
        X509_STORE_CTX_init(context, pointer, leaf.pointer, stack.pointer)
        defer { withExtendedLifetime((leaf, stack)) {} }
        X509_STORE_CTX_set_purpose(context, purpose)
        if let time { X509_STORE_CTX_set_time(context, 0, time) }
        X509_STORE_CTX_set_verify_cb(context) { _, _ in 1 }
        // With the callback always continuing, X509_verify_cert succeeds; the error is what the TLS layer's
        // SSL_get_verify_result reports.
        _ = withExtendedLifetime(stack) { X509_verify_cert(context) }
        ERR_clear_error()
        return Int(X509_STORE_CTX_get_error(context))
    }
}
