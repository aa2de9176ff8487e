import Foundation
import Testing

@testable import NetCoreTLS

/// `TLS.checkServerIdentity` against the intent of Node's test-tls-check-server-identity.js, every case also run
/// through node 20's own `tls.checkServerIdentity` with the same certificate object.
@Suite struct CertificateServerIdentityTests {
    struct Case: Sendable, CustomTestStringConvertible {
        let host: String
        let altNames: String?
        let commonNames: [String]
        /// Node's `reason`, nil when the host is valid for the certificate.
        let reason: String?

        init(_ host: String, san: String? = nil, cn: [String] = [], _ reason: String? = nil) {
            self.host = host
            altNames = san
            commonNames = cn
            self.reason = reason
        }

        var testDescription: String { "\(host) vs SAN \(altNames ?? "-") CN \(commonNames)" }
    }

    static let cases: [Case] = [
        // The CN, used only when there are no DNS names.
        Case("a.com", cn: ["a.com"]),
        Case("a.com", cn: ["A.COM"]),
        Case("A.COM", cn: ["a.com"]),
        Case("a.com", cn: ["b.com"], "Host: a.com. is not cert's CN: b.com"),
        Case("a.com", cn: ["a.com."]),
        Case("a.com", cn: [".a.com"], "Host: a.com. is not cert's CN: .a.com"),
        Case("foo.com", cn: ["foo.com", "bar.com"]),
        Case("bar.com", cn: ["foo.com", "bar.com"]),
        Case("baz.com", cn: ["foo.com", "bar.com"], "Host: baz.com. is not cert's CN: foo.com,bar.com"),
        Case("a.com", "Cert does not contain a DNS name"),
        Case("a.com", cn: [""], "Cert does not contain a DNS name"),
        // An IP address never matches the CN or DNS names.
        Case("8.8.8.8", cn: ["8.8.8.8"], "IP: 8.8.8.8 is not in the cert's list: "),
        Case("8.8.8.8", san: "DNS:8.8.8.8", "IP: 8.8.8.8 is not in the cert's list: "),
        // DNS names win over the CN.
        Case("b.com", san: "DNS:a.com", cn: ["b.com"], "Host: b.com. is not in the cert's altnames: DNS:a.com"),
        Case("a.com", san: "DNS:a.com", cn: ["b.com"]),
        Case("a.com", san: "DNS:A.COM", cn: ["b.com"]),
        Case(
            "localhost",
            san: "DNS:a.com",
            cn: ["localhost"],
            "Host: localhost. is not in the cert's altnames: DNS:a.com"
        ),
        // Wildcards: one, in the leftmost label, not for the bare domain or deeper names, not in *.tld.
        Case("a.com", san: "DNS:*", cn: ["b.com"], "Host: a.com. is not in the cert's altnames: DNS:*"),
        Case("a.com", san: "DNS:*.com", cn: ["b.com"], "Host: a.com. is not in the cert's altnames: DNS:*.com"),
        Case("a.co.uk", san: "DNS:*.co.uk", cn: ["b.com"]),
        Case("a.com", san: "DNS:*.a.com", cn: ["a.com"], "Host: a.com. is not in the cert's altnames: DNS:*.a.com"),
        Case("b.a.com", san: "DNS:*.a.com"),
        Case("c.b.a.com", san: "DNS:*.a.com", "Host: c.b.a.com. is not in the cert's altnames: DNS:*.a.com"),
        Case("b.a.com", san: "DNS:*b.a.com"),
        Case("a-cb.a.com", san: "DNS:*b.a.com"),
        Case("a.b.a.com", san: "DNS:*b.a.com", "Host: a.b.a.com. is not in the cert's altnames: DNS:*b.a.com"),
        Case("a.b.a.com", san: "DNS:*b.a.com, DNS:a.b.a.com"),
        Case("foo.example.com", san: "DNS:f*.example.com"),
        Case("foo.example.com", san: "DNS:*o.example.com"),
        Case("foo.example.com", san: "DNS:f*o.example.com"),
        Case(
            "fo.example.com",
            san: "DNS:f*oo.example.com",
            "Host: fo.example.com. is not in the cert's altnames: DNS:f*oo.example.com"
        ),
        Case(
            "foo.example.com",
            san: "DNS:**.example.com",
            "Host: foo.example.com. is not in the cert's altnames: DNS:**.example.com"
        ),
        Case(
            "foo.bar.example.com",
            san: "DNS:foo.*.example.com",
            "Host: foo.bar.example.com. is not in the cert's altnames: DNS:foo.*.example.com"
        ),
        Case("a.example.test", san: "DNS:*.example.test"),
        Case("A.EXAMPLE.TEST", san: "DNS:*.Example.Test"),
        Case(
            "example.test",
            san: "DNS:*.example.test",
            "Host: example.test. is not in the cert's altnames: DNS:*.example.test"
        ),
        Case(
            "a..example.test",
            san: "DNS:a..example.test",
            "Host: a..example.test. is not in the cert's altnames: DNS:a..example.test"
        ),
        // IDNA: A-labels match literally; no wildcard inside an A-label; U-labels (non-ASCII) never match.
        Case("xn--bcher-kva.example.com", cn: ["*.example.com"]),
        Case(
            "xn--bcher-kva.example.com",
            cn: ["xn--*.example.com"],
            "Host: xn--bcher-kva.example.com. is not cert's CN: xn--*.example.com"
        ),
        Case("xn--bcher-kva.example.com", cn: ["xn--bcher-kva.example.com"]),
        Case("xn--bcher-kva.example.com", san: "DNS:xn--bcher-kva.example.com"),
        Case(
            "bücher.example.com",
            san: "DNS:bücher.example.com",
            "Host: bücher.example.com. is not in the cert's altnames: DNS:bücher.example.com"
        ),
        // Other alt-name types never match a host name.
        Case("a.b.a.com", san: "URI:http://a.b.a.com/", "Cert does not contain a DNS name"),
        Case("a.b.a.com", san: "URI:http://*.b.a.com/", "Cert does not contain a DNS name"),
        Case("a.b.a.com", san: "IP Address:127.0.0.1", "Cert does not contain a DNS name"),
        Case("a.b.a.com", san: "email:a@a.b.a.com", cn: ["a.b.a.com"]),
        Case("a.b.a.com", san: "IP Address:127.0.0.1", cn: ["a.b.a.com"]),
        // IP addresses, compared canonicalised.
        Case("127.0.0.1", san: "IP Address:127.0.0.1"),
        Case("127.0.0.2", san: "IP Address:127.0.0.1", "IP: 127.0.0.2 is not in the cert's list: 127.0.0.1"),
        Case("127.0.0.1", san: "DNS:a.com", "IP: 127.0.0.1 is not in the cert's list: "),
        Case("::1", san: "IP Address:0:0:0:0:0:0:0:1"),
        Case("0:0:0:0:0:0:0:1", san: "IP Address:0:0:0:0:0:0:0:1"),
        Case("0::1", san: "IP Address:0:0:0:0:0:0:0:1"),
        Case(
            "::2",
            san: "IP Address:0:0:0:0:0:0:0:1, IP Address:127.0.0.1",
            "IP: ::2 is not in the cert's list: ::1, 127.0.0.1"
        ),
        Case("fe80::1:abcd", san: "IP Address:FE80:0:0:0:0:0:1:ABCD"),
        Case("FE80::1:ABCD", san: "IP Address:FE80:0:0:0:0:0:1:ABCD"),
        Case("fe80::1%eth0", san: "IP Address:FE80:0:0:0:0:0:0:1"),
        Case(
            "::ffff:127.0.0.1",
            san: "IP Address:127.0.0.1",
            "IP: ::ffff:127.0.0.1 is not in the cert's list: 127.0.0.1"
        ),
        Case("127.000.000.001", san: "IP Address:127.0.0.1", "Cert does not contain a DNS name"),
        Case("[::1]", san: "IP Address:0:0:0:0:0:0:0:1", "Cert does not contain a DNS name"),
        // One trailing dot of the host or the pattern is ignored.
        Case("a.com.", san: "DNS:a.com"),
        Case("a.com", san: "DNS:a.com."),
        Case("a.com.", cn: ["a.com"]),
        Case("a.com..", san: "DNS:a.com"),
        Case("127.0.0.1.", san: "IP Address:127.0.0.1"),
        Case("a.com.", san: "DNS:b.com", "Host: a.com. is not in the cert's altnames: DNS:b.com"),
        // Alt names quoted by Node's printer (a comma inside a value), and ones that merely look quoted.
        Case(
            "a.com",
            san: #"DNS:"evil.com\u002c DNS:a.com""#,
            "Host: a.com. is not in the cert's altnames: DNS:\"evil.com\\u002c DNS:a.com\""
        ),
        Case("a.com", san: #"DNS:"a.com", DNS:b.com"#),
        Case("b.com", san: #"DNS:"a.com", DNS:b.com"#),
        Case("a.com", san: "DNS:evil.com, DNS:a.com"),
        Case("", san: "DNS:a.com", "Host: . is not in the cert's altnames: DNS:a.com"),
    ]

    @Test(arguments: cases) func matchesNodesRule(_ c: Case) {
        let error = ServerIdentity.check(hostname: c.host, subjectAltName: c.altNames, commonNames: c.commonNames)
        #expect(error?.reason == c.reason)
        if let reason = c.reason {
            #expect(error?.code == "ERR_TLS_CERT_ALTNAME_INVALID")
            #expect(error?.message == "Hostname/IP does not match certificate's altnames: \(reason)")
        }
    }

    /// Node's own function on every case of the table: the same verdict, code, message and reason.
    @Test func everyCase_agreesWithNode() throws {
        let script = #"""
            const tls = require('tls');
            const cases = JSON.parse(require('fs').readFileSync(0, 'utf8'));
            console.log(JSON.stringify(cases.map(([host, san, cn]) => {
              const subject = cn.length === 0 ? {} : cn.length === 1 ? { CN: cn[0] } : { CN: cn };
              const cert = san === null ? { subject } : { subject, subjectaltname: san };
              try {
                const e = tls.checkServerIdentity(host, cert);
                return e ? [e.code, e.message, e.reason] : null;
              } catch (e) { return [e.code, e.message, null]; }
            })));
            """#
        let input = try JSONSerialization.data(
            withJSONObject: Self.cases.map { [$0.host, $0.altNames ?? NSNull(), $0.commonNames] as [Any] }
        )
        let node = try #require(
            CertificateTestSupport.nodeJSON(script, input: String(decoding: input, as: UTF8.self)) as? [Any]
        )
        try #require(node.count == Self.cases.count)
        for (c, theirs) in zip(Self.cases, node) {
            let ours = ServerIdentity.check(hostname: c.host, subjectAltName: c.altNames, commonNames: c.commonNames)
            let expected = theirs as? [Any]
            #expect(ours?.code == expected?[0] as? String, "\(c.testDescription)")
            #expect(ours?.message == expected?[1] as? String, "\(c.testDescription)")
            #expect(ours?.reason == expected?[2] as? String, "\(c.testDescription)")
        }
    }

    @Test func malformedQuotedAltName_isNodesFormatError() {
        let error = ServerIdentity.check(hostname: "a.com", subjectAltName: #"DNS:"a.com"#, commonNames: [])
        #expect(error == TLSError(code: "ERR_TLS_CERT_ALTNAME_FORMAT", message: "Invalid subject alternative names"))
    }

    /// The public entry point on real certificates of the test PKI.
    @Test func testPKICertificates() throws {
        let pki = try TestPKI.shared
        func check(_ host: String, _ name: String) throws -> TLSError? {
            TLS.checkServerIdentity(
                hostname: host,
                certificate: try X509Certificate(pem: pki.pem(name)).peerCertificate
            )
        }
        for host in ["localhost", "LOCALHOST", "localhost.", "127.0.0.1", "::1", "0:0::1"] {
            #expect(try check(host, "localhost") == nil, "\(host)")
            #expect(try check(host, "rsa-localhost") == nil, "\(host)")
            #expect(try check(host, "localhost-chain") == nil, "\(host)")
        }
        #expect(
            try check("127.0.0.2", "localhost")?.reason == "IP: 127.0.0.2 is not in the cert's list: 127.0.0.1, ::1"
        )
        #expect(
            try check("localhost", "wrongname")?.message
                == "Hostname/IP does not match certificate's altnames: Host: localhost. is not in the cert's altnames: DNS:wrong.example"
        )
        #expect(try check("a.example.test", "wildcard") == nil)
        #expect(try check("example.test", "wildcard")?.code == "ERR_TLS_CERT_ALTNAME_INVALID")
        #expect(try check("a.b.example.test", "wildcard")?.code == "ERR_TLS_CERT_ALTNAME_INVALID")
        #expect(try check("a.example.test", "sni-a") == nil)
        #expect(try check("b.example.test", "sni-a")?.code == "ERR_TLS_CERT_ALTNAME_INVALID")
        // No alt names: the CN is used.
        #expect(try check("client", "client") == nil)
    }
}
