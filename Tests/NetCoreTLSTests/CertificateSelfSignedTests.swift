import COpenSSL
import Foundation
import Testing

@testable import NetCoreTLS

/// `SelfSignedCertificate.make(hosts:)`: parsed back, verified by `openssl verify` as its own CA, and trusted by a
/// node TLS client for its DNS and IP names.
@Suite struct CertificateSelfSignedTests {
    @Test func parsesBackWithTheFieldsAsked() throws {
        let made = try SelfSignedCertificate.make(hosts: ["localhost", "127.0.0.1", "::1", "app.example.test"])
        let certificate = try X509Certificate(pem: made.certificatePEM)
        let fields = certificate.peerCertificate
        #expect(
            fields.subjectAltName
                == "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1, DNS:app.example.test"
        )
        #expect(fields.subject.description == "CN=localhost")
        #expect(fields.issuer == fields.subject)
        #expect(fields.fingerprint256 == made.fingerprint256)
        #expect(!fields.isCA)
        #expect(fields.extKeyUsage == ["1.3.6.1.5.5.7.3.1"])
        #expect(fields.bits == 256 && fields.nistCurve == "P-256")
        #expect(fields.serialNumber.count == 32)
        #expect(X509_get_version(certificate.pointer) == 2)  // v3
        #expect(X509_get_signature_nid(certificate.pointer) == NID_ecdsa_with_SHA256)
        // Valid from an hour ago for 365 days.
        var days: Int32 = 0, seconds: Int32 = 0
        #expect(ASN1_TIME_diff(&days, &seconds, nil, X509_get0_notBefore(certificate.pointer)) == 1)
        #expect(days == 0 && (-3700 ... -3590).contains(seconds), "notBefore \(days) d \(seconds) s from now")
        #expect(ASN1_TIME_diff(&days, &seconds, nil, X509_get0_notAfter(certificate.pointer)) == 1)
        #expect(
            days == 364 && seconds > 86_000 || days == 365 && seconds < 100,
            "notAfter \(days) d \(seconds) s from now"
        )
        // The key is the certificate's, and round-trips as PKCS#8.
        let key = try PrivateKey(pem: made.keyPEM)
        #expect(made.keyPEM.hasPrefix("-----BEGIN PRIVATE KEY-----\n"))
        #expect(key.matches(certificate: certificate) && made.key.matches(certificate: made.certificate))
        #expect(key.bits == 256)
        #expect(made.certificate == certificate)
        // Each one is new.
        let other = try SelfSignedCertificate.make(hosts: ["localhost"])
        #expect(other.fingerprint256 != made.fingerprint256)
        #expect(other.certificate.peerCertificate.serialNumber != fields.serialNumber)
        #expect(other.certificate.peerCertificate.subjectAltName == "DNS:localhost")
    }

    @Test func theOpenSSLCommandVerifiesItAsItsOwnCA() throws {
        let made = try SelfSignedCertificate.make(hosts: ["localhost", "127.0.0.1"])
        let directory = try TestPKI.shared.directory + "/selfsigned-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/cert.pem"
        try made.certificatePEM.write(toFile: path, atomically: true, encoding: .utf8)
        try made.keyPEM.write(toFile: directory + "/key.pem", atomically: true, encoding: .utf8)
        let verify = ToolRun.run(["openssl", "verify", "-CAfile", path, path])
        #expect(verify.succeeded && verify.stdout == "\(path): OK\n", "\(verify.stdout)\(verify.stderr)")
        for host in ["localhost", "127.0.0.1"] {
            let option = host.first!.isNumber ? "-verify_ip" : "-verify_hostname"
            let named = ToolRun.run(["openssl", "verify", "-CAfile", path, option, host, path])
            #expect(named.succeeded, "\(host): \(named.stdout)\(named.stderr)")
        }
        let wrong = ToolRun.run(["openssl", "verify", "-CAfile", path, "-verify_hostname", "other.example", path])
        #expect(!wrong.succeeded)
        let fingerprint = CertificateTestSupport.openssl(["x509", "-noout", "-fingerprint", "-sha256", "-in", path])
        #expect(fingerprint == "sha256 Fingerprint=\(made.fingerprint256)\n")
        let keyCheck = CertificateTestSupport.openssl(["pkey", "-in", directory + "/key.pem", "-noout", "-text"])
        #expect(keyCheck.contains("NIST CURVE: P-256"))
    }

    /// A node TLS server with the certificate and key, and node clients trusting only it: by name and by IP, with
    /// Node's default checkServerIdentity.
    @Test func nodeTrustsIt() throws {
        let made = try SelfSignedCertificate.make(hosts: ["localhost", "127.0.0.1", "::1"])
        let script = #"""
            const tls = require('tls');
            const { cert, key } = JSON.parse(require('fs').readFileSync(0, 'utf8'));
            const server = tls.createServer({ cert, key }, (s) => s.end('hello'));
            server.listen(0, '127.0.0.1', async () => {
              const port = server.address().port;
              const attempt = (servername) => new Promise((resolve) => {
                const socket = tls.connect({ port, host: '127.0.0.1', servername, ca: [cert] }, () => {
                  resolve({ authorized: socket.authorized, fingerprint256: socket.getPeerCertificate().fingerprint256 });
                  socket.destroy();
                });
                socket.on('error', (e) => resolve({ error: e.code }));
              });
              const byName = await attempt('localhost');
              const byIP = await attempt(undefined);
              const wrongName = await attempt('other.example');
              server.close();
              console.log(JSON.stringify({ byName, byIP, wrongName }));
            });
            """#
        let input = try JSONSerialization.data(withJSONObject: ["cert": made.certificatePEM, "key": made.keyPEM])
        let node = try #require(
            CertificateTestSupport.nodeJSON(script, input: String(decoding: input, as: UTF8.self))
                as? [String: [String: Any]]
        )
        #expect(node["byName"]?["authorized"] as? Bool == true)
        #expect(node["byName"]?["fingerprint256"] as? String == made.fingerprint256)
        #expect(node["byIP"]?["authorized"] as? Bool == true)
        #expect(node["wrongName"]?["error"] as? String == "ERR_TLS_CERT_ALTNAME_INVALID")
    }

    @Test func badHostsAreRefused() {
        for hosts in [[], [""], ["a,b.example"], ["a b"], ["tab\there"], ["localhost", ""]] {
            #expect(throws: TLSError.self, "\(hosts)") { try SelfSignedCertificate.make(hosts: hosts) }
            do {
                _ = try SelfSignedCertificate.make(hosts: hosts)
            } catch {
                #expect(error.code == "ERR_INVALID_ARG_VALUE", "\(hosts)")
            }
        }
        #expect(throws: TLSError.self) { try SelfSignedCertificate.make(hosts: ["localhost"], days: 0) }
        #expect(ERR_peek_error() == 0)
    }
}
