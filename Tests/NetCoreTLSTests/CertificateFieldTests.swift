import COpenSSL
import Foundation
import Testing

@testable import NetCoreTLS

/// Every PeerCertificate field, compared with node 20 (`new crypto.X509Certificate(pem)` and its
/// `toLegacyObject()`, which is exactly `getPeerCertificate()`'s object) and with the openssl CLI.
@Suite struct CertificateFieldTests {
    /// Prints, for each PEM file, Node's legacy object (names and infoAccess as ordered entries, Buffers as hex) and
    /// the X509Certificate properties.
    static let nodeScript = #"""
        const { X509Certificate } = require('crypto');
        const fs = require('fs');
        const hex = (b) => (b === undefined ? null : Buffer.from(b).toString('hex'));
        const entries = (o) => (o === undefined || o === null ? null : Object.entries(o));
        const out = process.argv.slice(1).map((path) => {
          const x = new X509Certificate(fs.readFileSync(path));
          const l = x.toLegacyObject();
          return {
            legacyKeys: Object.keys(l),
            subject: entries(l.subject), issuer: entries(l.issuer),
            subjectaltname: l.subjectaltname ?? null, infoAccess: entries(l.infoAccess),
            ca: l.ca, bits: l.bits ?? null, modulus: l.modulus ?? null, exponent: l.exponent ?? null,
            pubkey: hex(l.pubkey), asn1Curve: l.asn1Curve ?? null, nistCurve: l.nistCurve ?? null,
            valid_from: l.valid_from, valid_to: l.valid_to,
            fingerprint: l.fingerprint, fingerprint256: l.fingerprint256, fingerprint512: l.fingerprint512,
            ext_key_usage: l.ext_key_usage ?? null, serialNumber: l.serialNumber, raw: hex(l.raw),
            x509: {
              subjectAltName: x.subjectAltName ?? null, infoAccess: x.infoAccess ?? null,
              validFrom: x.validFrom, validTo: x.validTo, fingerprint: x.fingerprint,
              fingerprint256: x.fingerprint256, fingerprint512: x.fingerprint512,
              serialNumber: x.serialNumber, ca: x.ca, keyUsage: x.keyUsage ?? null,
            },
          };
        });
        console.log(JSON.stringify(out));
        """#

    /// Node's object for a name: `[[key, value-or-array], ...]`.
    static func nodeEntries(_ fields: PeerCertificate.Fields?) -> [[Any]]? {
        fields.map { $0.fields.map { [$0.key, $0.values.count == 1 ? $0.values[0] as Any : $0.values as Any] } }
    }

    static func sameEntries(_ ours: [[Any]]?, _ node: Any?) -> Bool {
        guard let ours else { return node is NSNull || node == nil }
        guard let node = node as? [[Any]], node.count == ours.count else { return false }
        return zip(ours, node).allSatisfy { a, b in
            (a[0] as? String) == (b[0] as? String)
                && ((a[1] as? String).map { $0 == b[1] as? String } ?? ((a[1] as? [String]) == (b[1] as? [String])))
        }
    }

    static func compareWithNode(paths: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let node = try #require(
            CertificateTestSupport.nodeJSON(nodeScript, paths, sourceLocation: sourceLocation) as? [[String: Any]],
            sourceLocation: sourceLocation
        )
        try #require(node.count == paths.count, sourceLocation: sourceLocation)
        for (path, theirs) in zip(paths, node) {
            let ours = try X509Certificate(.file(path)).peerCertificate
            func check(_ field: String, _ value: Any?, _ equal: Bool) {
                #expect(
                    equal,
                    "\(path): \(field): ours \(String(describing: value)), node \(String(describing: theirs[field]))",
                    sourceLocation: sourceLocation
                )
            }
            func string(_ field: String, _ value: String?) { check(field, value, value == theirs[field] as? String) }
            check("subject", ours.subject, sameEntries(nodeEntries(ours.subject), theirs["subject"]))
            check("issuer", ours.issuer, sameEntries(nodeEntries(ours.issuer), theirs["issuer"]))
            string("subjectaltname", ours.subjectAltName)
            check(
                "infoAccess",
                ours.infoAccess,
                sameEntries(
                    nodeEntries(ours.infoAccess).map { $0.map { [$0[0], ($0[1] as? String).map { [$0] } ?? $0[1]] } },
                    theirs["infoAccess"]
                )
            )
            check("ca", ours.isCA, ours.isCA == theirs["ca"] as? Bool)
            check("bits", ours.bits, ours.bits == theirs["bits"] as? Int)
            string("modulus", ours.modulus)
            string("exponent", ours.exponent)
            string("pubkey", ours.publicKey.map(CertificateTestSupport.hex))
            string("asn1Curve", ours.asn1Curve)
            string("nistCurve", ours.nistCurve)
            string("valid_from", ours.validFrom)
            string("valid_to", ours.validTo)
            string("fingerprint", ours.fingerprint)
            string("fingerprint256", ours.fingerprint256)
            string("fingerprint512", ours.fingerprint512)
            check("ext_key_usage", ours.extKeyUsage, ours.extKeyUsage == theirs["ext_key_usage"] as? [String])
            string("serialNumber", ours.serialNumber)
            string("raw", CertificateTestSupport.hex(ours.raw))
            // Node's X509Certificate properties are the same texts.
            let x509 = try #require(theirs["x509"] as? [String: Any], sourceLocation: sourceLocation)
            #expect(x509["subjectAltName"] as? String == ours.subjectAltName, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["validFrom"] as? String == ours.validFrom, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["validTo"] as? String == ours.validTo, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["fingerprint"] as? String == ours.fingerprint, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["fingerprint256"] as? String == ours.fingerprint256, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["fingerprint512"] as? String == ours.fingerprint512, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["serialNumber"] as? String == ours.serialNumber, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["ca"] as? Bool == ours.isCA, "\(path)", sourceLocation: sourceLocation)
            #expect(x509["keyUsage"] as? [String] == ours.extKeyUsage, "\(path)", sourceLocation: sourceLocation)
        }
    }

    @Test func everyTestPKICertificate_matchesNode() throws {
        let pki = try TestPKI.shared
        try Self.compareWithNode(paths: TestPKI.names.map { pki.path($0) })
    }

    @Test func oddCertificates_matchNode() throws {
        let odd = try CertificateTestSupport.oddCertificates.get()
        try Self.compareWithNode(paths: odd.names.map { odd.path($0) })
        // And what the comparison covers, spelled out (Node's escaping of ambiguous alt names, CVE-2021-44532). The
        // CLI writes the [dir] section's UTF-8 bytes as Latin-1 characters, hence "NÃ¤me", which node prints too.
        let certificate = try X509Certificate(.file(odd.path("odd"))).peerCertificate
        #expect(
            certificate.subjectAltName
                == #"DNS:odd.example, DNS:"comma\u002cinside.example", DNS:*.wild.example, IP Address:10.1.2.3, "#
                + #"IP Address:FE80:0:0:0:0:0:1:ABCD, IP Address:2001:DB8:0:0:0:0:0:0, email:someone@odd.example, "#
                + #"URI:"https://odd.example/a\u002cb?c=d", Registered ID:1.2.3.4, "#
                + #"DirName:"CN=Directory NÃ¤me\u002cO=Dir\\\u002c Inc\u002cC=US", othername:UPN:upn@odd.example, "#
                + #"othername:<unsupported>"#
        )
        #expect(certificate.subject["OU"] == ["First", "Second"])
        #expect(certificate.subject.first("O") == #"Zürich, "Quoted" & Co \ back"#)
        #expect(certificate.subject.first("1.2.3.4.5") == "unnamed attribute")
        #expect(
            certificate.infoAccess?["CA Issuers - URI"] == [
                "http://ca.odd.example/a,b.pem", "http://ca.odd.example/second.pem",
            ]
        )
        #expect(
            certificate.extKeyUsage == [
                "1.3.6.1.5.5.7.3.1", "1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.3", "1.3.6.1.4.1.99999.1",
            ]
        )
        #expect(certificate.serialNumber == "FF01")
        #expect(certificate.isCA)
    }

    /// The openssl CLI's view of the same files: fingerprints, serial, dates, subjectAltName.
    @Test func everyTestPKICertificate_matchesTheOpenSSLCommand() throws {
        let pki = try TestPKI.shared
        // One shell for every file (not ~100 processes): per file a block of "key=value" lines ending in "--".
        let script = #"""
            for f in "$@"; do
              openssl x509 -noout -in "$f" -fingerprint -sha256 | sed 's/^[^=]*=/sha256=/'
              openssl x509 -noout -in "$f" -fingerprint -sha1 | sed 's/^[^=]*=/sha1=/'
              openssl x509 -noout -in "$f" -fingerprint -sha512 | sed 's/^[^=]*=/sha512=/'
              openssl x509 -noout -in "$f" -serial -startdate -enddate
              printf 'san=%s\n' "$(openssl x509 -noout -in "$f" -ext subjectAltName 2>/dev/null | sed -n '2s/^ *//p')"
              printf 'der=%s\n' "$(openssl x509 -in "$f" -outform DER | od -An -v -tx1 | tr -d ' \n')"
              echo --
            done
            """#
        let run = ToolRun.run(["bash", "-c", script, "-"] + TestPKI.names.map { pki.path($0) }, timeout: 60)
        try #require(run.succeeded, "\(run.stderr)")
        let blocks = run.stdout.components(separatedBy: "--\n").filter { !$0.isEmpty }
        try #require(blocks.count == TestPKI.names.count)
        for (name, block) in zip(TestPKI.names, blocks) {
            var values: [String: String] = [:]
            for line in block.split(separator: "\n") {
                let parts = line.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                values[String(parts[0])] = parts.count > 1 ? String(parts[1]) : ""
            }
            #expect(values.count == 8, "\(name): \(block)")
            let ours = try X509Certificate(.file(pki.path(name))).peerCertificate
            #expect(values["sha256"] == ours.fingerprint256, "\(name)")
            #expect(values["sha1"] == ours.fingerprint, "\(name)")
            #expect(values["sha512"] == ours.fingerprint512, "\(name)")
            #expect(values["serial"] == ours.serialNumber, "\(name)")
            #expect(values["notBefore"] == ours.validFrom, "\(name)")
            #expect(values["notAfter"] == ours.validTo, "\(name)")
            #expect(values["san"] == (ours.subjectAltName ?? ""), "\(name)")
            #expect(values["der"] == CertificateTestSupport.hex(ours.raw), "\(name)")
        }
    }

    @Test func localhostCertificate_hasTheFieldsTheTLSLayerReports() throws {
        let pki = try TestPKI.shared
        let localhost = try X509Certificate(pem: pki.pem("localhost")).peerCertificate
        #expect(localhost.subjectAltName == "DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1")
        #expect(localhost.subject.description == "C=US, O=NetCore Test, CN=localhost")
        #expect(localhost.issuer.first("CN") == "NetCore Test Root CA")
        #expect(localhost.infoAccess?["OCSP - URI"] == ["http://ocsp.example.test/"])
        #expect(localhost.extKeyUsage == ["1.3.6.1.5.5.7.3.1"])
        #expect(!localhost.isCA && localhost.bits == 256 && localhost.nistCurve == "P-256")
        #expect(localhost.publicKey?.count == 65)
        #expect(localhost.fingerprint256.count == 32 * 3 - 1)
        #expect(try X509Certificate(pem: pki.pem("ca")).peerCertificate.isCA)
        let expired = try X509Certificate(pem: pki.pem("expired")).peerCertificate
        #expect(expired.validFrom == "Jan  1 00:00:00 2020 GMT" && expired.validTo == "Jan  1 00:00:00 2021 GMT")
        #expect(try X509Certificate(pem: pki.pem("client")).peerCertificate.subjectAltName == nil)
        let rsa = try X509Certificate(pem: pki.pem("rsa-localhost")).peerCertificate
        #expect(rsa.bits == 2048 && rsa.exponent == "0x10001" && rsa.asn1Curve == nil)
    }

    @Test func derRoundTripsAndPEMChainsSplit() throws {
        let pki = try TestPKI.shared
        let leaf = try X509Certificate(pem: pki.pem("localhost"))
        let again = try X509Certificate(der: leaf.raw)
        #expect(again == leaf)
        #expect(again.raw == leaf.raw)
        #expect(try X509Certificate(pem: leaf.pem) == leaf)
        let chain = try X509Certificate.chain(pem: pki.pem("localhost-chain"))
        #expect(chain.count == 2)
        #expect(chain[1] == (try X509Certificate(pem: pki.pem("intermediate"))))
        #expect(chain[0].peerCertificate.issuer.first("CN") == "NetCore Test Intermediate CA")
        // A key block between certificates is skipped; text around them is ignored as by OpenSSL.
        let mixed = "leading text\n" + pki.pem("ca") + pki.keyPEM("ca") + pki.pem("other-ca") + "trailing\n"
        #expect(
            try X509Certificate.chain(pem: mixed).map(\.peerCertificate.subject) == [
                try X509Certificate(pem: pki.pem("ca")).peerCertificate.subject,
                try X509Certificate(pem: pki.pem("other-ca")).peerCertificate.subject,
            ]
        )
        #expect(try X509Certificate.chain(.file(pki.path("localhost-chain"))).count == 2)
        #expect(ERR_peek_error() == 0)
    }
}
