import Foundation
import Testing

@Suite struct TestPKITests {
    @Test func makesEveryCertificateOnceAndTheChainsVerify() throws {
        let pki = try TestPKI.shared
        #expect(try TestPKI.shared.directory == pki.directory)
        for name in TestPKI.names {
            #expect(pki.pem(name).hasPrefix("-----BEGIN CERTIFICATE-----"), "\(name).pem")
            #expect(pki.keyPEM(name).hasPrefix("-----BEGIN PRIVATE KEY-----"), "\(name).key")
        }
        #expect(pki.pem("localhost-chain").components(separatedBy: "BEGIN CERTIFICATE").count == 3)
        let ok = ToolRun.run([
            "openssl", "verify", "-CAfile", pki.path("ca"), pki.path("localhost"), pki.path("client"),
            pki.path("wrongname"), pki.path("wildcard"), pki.path("sni-a"), pki.path("sni-b"),
            pki.path("rsa-localhost"),
            pki.path("intermediate"),
        ])
        #expect(ok.succeeded, "\(ok.stdout)\(ok.stderr)")
        let chain = ToolRun.run([
            "openssl", "verify", "-CAfile", pki.path("ca"), "-untrusted", pki.path("intermediate"),
            pki.path("localhost-chain"),
        ])
        #expect(chain.succeeded, "\(chain.stdout)\(chain.stderr)")
        let expired = ToolRun.run(["openssl", "verify", "-CAfile", pki.path("ca"), pki.path("expired")])
        #expect(
            !expired.succeeded && (expired.stdout + expired.stderr).contains("certificate has expired"),
            "\(expired.stderr)"
        )
        let other = ToolRun.run(["openssl", "verify", "-CAfile", pki.path("other-ca"), pki.path("other-client")])
        #expect(other.succeeded, "\(other.stdout)\(other.stderr)")
    }
}
