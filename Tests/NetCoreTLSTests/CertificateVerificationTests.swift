import COpenSSL
import Foundation
import Testing

@testable import NetCoreTLS

/// Verification results of the test PKI's chains (X509_STORE + X509_STORE_CTX, as a TLS client verifies), named by
/// `VerificationError` as Node names them, and compared with node's `authorizationError` for the same chains over
/// real TLS connections.
@Suite struct CertificateVerificationTests {
    /// One chain a server presents and what the client trusts.
    struct Scenario: Sendable, CustomTestStringConvertible {
        let name: String
        /// The certificates the server sends (leaf first), as test PKI names; "localhost-chain" is the leaf alone.
        let served: [String]
        let trusted: [String]
        /// Node's code, nil when the chain verifies.
        let code: String?
        var testDescription: String { name }
    }

    static let scenarios: [Scenario] = [
        Scenario(name: "valid leaf", served: ["localhost"], trusted: ["ca"], code: nil),
        Scenario(name: "valid RSA leaf", served: ["rsa-localhost"], trusted: ["ca"], code: nil),
        Scenario(
            name: "leaf and intermediate",
            served: ["localhost-chain", "intermediate"],
            trusted: ["ca"],
            code: nil
        ),
        Scenario(name: "expired", served: ["expired"], trusted: ["ca"], code: "CERT_HAS_EXPIRED"),
        Scenario(
            name: "self-signed leaf",
            served: ["selfsigned"],
            trusted: ["ca"],
            code: "DEPTH_ZERO_SELF_SIGNED_CERT"
        ),
        Scenario(name: "self-signed leaf trusted", served: ["selfsigned"], trusted: ["selfsigned"], code: nil),
        Scenario(
            name: "missing intermediate",
            served: ["localhost-chain"],
            trusted: ["ca"],
            code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
        ),
        Scenario(
            name: "unknown CA",
            served: ["localhost"],
            trusted: ["other-ca"],
            code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
        ),
        Scenario(
            name: "untrusted root in chain",
            served: ["localhost", "ca"],
            trusted: ["other-ca"],
            code: "SELF_SIGNED_CERT_IN_CHAIN"
        ),
        Scenario(
            name: "intermediate, unknown CA",
            served: ["localhost-chain", "intermediate"],
            trusted: ["other-ca"],
            code: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
        ),
    ]

    static func certificate(_ name: String) throws -> X509Certificate {
        try X509Certificate(pem: TestPKI.shared.pem(name == "localhost-chain" ? "localhost-chain" : name))
    }

    static func result(_ scenario: Scenario) throws -> Int {
        let served = try scenario.served.map(certificate)
        let store = TrustStore(try scenario.trusted.map(certificate))
        // A TLS client verifies the leaf with the whole peer chain (leaf included) as untrusted certificates.
        return store.verify(served[0], untrusted: served)
    }

    @Test(arguments: scenarios) func namesTheResultAsNodeDoes(_ scenario: Scenario) throws {
        let result = try Self.result(scenario)
        let error = VerificationError(result: result)
        #expect(error?.code == scenario.code, "result \(result)")
        if let error {
            #expect(error.message == String(cString: X509_verify_cert_error_string(result)))
            #expect(TLSError(error) == TLSError(code: error.code, message: error.message, reason: error.message))
        }
    }

    @Test func messagesAreOpenSSLs() throws {
        #expect(VerificationError(result: Int(X509_V_ERR_CERT_HAS_EXPIRED))?.message == "certificate has expired")
        #expect(
            VerificationError(result: Int(X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE))?.message
                == "unable to verify the first certificate"
        )
        #expect(
            VerificationError(result: Int(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT))?.message == "self-signed certificate"
        )
        #expect(
            VerificationError(result: Int(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN))?.tlsError
                == TLSError(
                    code: "SELF_SIGNED_CERT_IN_CHAIN",
                    message: "self-signed certificate in certificate chain",
                    reason: "self-signed certificate in certificate chain"
                )
        )
        #expect(VerificationError(result: 0) == nil)
    }

    /// Node's whole X509ErrorCode table, and UNSPECIFIED outside it.
    @Test func codeTableIsNodes() {
        let table: [(Int32, String)] = [
            (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT, "UNABLE_TO_GET_ISSUER_CERT"),
            (X509_V_ERR_UNABLE_TO_GET_CRL, "UNABLE_TO_GET_CRL"),
            (X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE, "UNABLE_TO_DECRYPT_CERT_SIGNATURE"),
            (X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE, "UNABLE_TO_DECRYPT_CRL_SIGNATURE"),
            (X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY, "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY"),
            (X509_V_ERR_CERT_SIGNATURE_FAILURE, "CERT_SIGNATURE_FAILURE"),
            (X509_V_ERR_CRL_SIGNATURE_FAILURE, "CRL_SIGNATURE_FAILURE"),
            (X509_V_ERR_CERT_NOT_YET_VALID, "CERT_NOT_YET_VALID"), (X509_V_ERR_CERT_HAS_EXPIRED, "CERT_HAS_EXPIRED"),
            (X509_V_ERR_CRL_NOT_YET_VALID, "CRL_NOT_YET_VALID"), (X509_V_ERR_CRL_HAS_EXPIRED, "CRL_HAS_EXPIRED"),
            (X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD, "ERROR_IN_CERT_NOT_BEFORE_FIELD"),
            (X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD, "ERROR_IN_CERT_NOT_AFTER_FIELD"),
            (X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD, "ERROR_IN_CRL_LAST_UPDATE_FIELD"),
            (X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD, "ERROR_IN_CRL_NEXT_UPDATE_FIELD"),
            (X509_V_ERR_OUT_OF_MEM, "OUT_OF_MEM"),
            (X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT, "DEPTH_ZERO_SELF_SIGNED_CERT"),
            (X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN, "SELF_SIGNED_CERT_IN_CHAIN"),
            (X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY, "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"),
            (X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE, "UNABLE_TO_VERIFY_LEAF_SIGNATURE"),
            (X509_V_ERR_CERT_CHAIN_TOO_LONG, "CERT_CHAIN_TOO_LONG"), (X509_V_ERR_CERT_REVOKED, "CERT_REVOKED"),
            (X509_V_ERR_INVALID_CA, "INVALID_CA"), (X509_V_ERR_PATH_LENGTH_EXCEEDED, "PATH_LENGTH_EXCEEDED"),
            (X509_V_ERR_INVALID_PURPOSE, "INVALID_PURPOSE"), (X509_V_ERR_CERT_UNTRUSTED, "CERT_UNTRUSTED"),
            (X509_V_ERR_CERT_REJECTED, "CERT_REJECTED"), (X509_V_ERR_HOSTNAME_MISMATCH, "HOSTNAME_MISMATCH"),
        ]
        #expect(table.count == 28)
        for (value, name) in table { #expect(VerificationError.code(for: Int(value)) == name) }
        for value in [X509_V_ERR_UNSPECIFIED, X509_V_ERR_KEYUSAGE_NO_CERTSIGN, X509_V_ERR_EE_KEY_TOO_SMALL, 9999] {
            #expect(VerificationError.code(for: Int(value)) == "UNSPECIFIED")
        }
    }

    @Test func notYetValid_andWrongPurpose() throws {
        let store = TrustStore([try Self.certificate("ca")])
        let localhost = try Self.certificate("localhost")
        // Verified as of 2001-09-09 (before it was issued).
        #expect(
            VerificationError(result: store.verify(localhost, untrusted: [localhost], at: 1_000_000_000))?.code
                == "CERT_NOT_YET_VALID"
        )
        // A client certificate (clientAuth only) presented by a server.
        let client = try Self.certificate("client")
        #expect(VerificationError(result: store.verify(client, untrusted: [client]))?.code == "INVALID_PURPOSE")
        #expect(store.verify(client, untrusted: [client], purpose: X509_PURPOSE_SSL_CLIENT) == 0)
        // The other root's client is unknown to this store.
        let otherClient = try Self.certificate("other-client")
        #expect(
            VerificationError(
                result: store.verify(otherClient, untrusted: [otherClient], purpose: X509_PURPOSE_SSL_CLIENT)
            )?.code
                == "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
        )
    }

    /// node's TLS client on the same chains: its `authorizationError` equals our code for every scenario; for the
    /// full chain its `getPeerCertificate(true)` issuer chain has the fingerprints `peerCertificate(leaf:chain:)`
    /// builds from the same peer chain and trust store.
    @Test func nodeReportsTheSameCodes() throws {
        let pki = try TestPKI.shared
        let script = #"""
            const tls = require('tls');
            const scenarios = JSON.parse(require('fs').readFileSync(0, 'utf8'));
            const key = (name) => require('fs').readFileSync(process.argv[1] + '/' + name + '.key');
            const pem = (name) => require('fs').readFileSync(process.argv[1] + '/' + name + '.pem', 'utf8');
            // localhost-chain.pem holds leaf + intermediate; the leaf alone is its first block.
            const leafOnly = (name) => name === 'localhost-chain' ? pem(name).split(/(?<=-----END CERTIFICATE-----\n)/)[0] : pem(name);
            function run([served, trusted]) {
              return new Promise((resolve, reject) => {
                const server = tls.createServer({ key: key(served[0]), cert: served.map(leafOnly).join('') }, (s) => s.end());
                server.listen(0, '127.0.0.1', () => {
                  const socket = tls.connect({
                    port: server.address().port, host: '127.0.0.1', servername: 'localhost',
                    ca: trusted.map(pem), rejectUnauthorized: false, checkServerIdentity: () => undefined,
                  }, () => {
                    const chain = [];
                    for (let c = socket.getPeerCertificate(true); c && c.fingerprint256; c = c.issuerCertificate) {
                      chain.push(c.fingerprint256);
                      if (c.issuerCertificate === c) { chain.push('itself'); break; }
                    }
                    resolve({ code: socket.authorizationError ?? null, chain });
                    socket.destroy();
                    server.close();
                  });
                  socket.on('error', (e) => { server.close(); reject(e); });
                });
              });
            }
            (async () => {
              const out = [];
              for (const s of scenarios) out.push(await run(s));
              console.log(JSON.stringify(out));
            })().catch((e) => { console.error(e); process.exit(1); });
            """#
        let input = try JSONSerialization.data(withJSONObject: Self.scenarios.map { [$0.served, $0.trusted] })
        let node = try #require(
            CertificateTestSupport.nodeJSON(script, [pki.directory], input: String(decoding: input, as: UTF8.self))
                as? [[String: Any]]
        )
        try #require(node.count == Self.scenarios.count)
        for (scenario, theirs) in zip(Self.scenarios, node) {
            let code = VerificationError(result: try Self.result(scenario))?.code
            #expect(code == theirs["code"] as? String, "\(scenario.name): node \(theirs["code"] ?? "nil")")
            // The detailed chain, built from what the server sent and what the client trusts.
            let served = CertificateStack(try scenario.served.map(Self.certificate))
            let store = TrustStore(try scenario.trusted.map(Self.certificate))
            // The wrappers stay alive while OpenSSL uses their pointers.
            let detailed = try #require(
                withExtendedLifetime((served, store)) {
                    PeerCertificate.peerCertificate(leaf: nil, chain: served.pointer, trustStore: store.pointer)
                }
            )
            let ours =
                detailed.chain.map(\.fingerprint256)
                + (detailed.chain.last!.issuerCertificateIsItself ? ["itself"] : [])
            #expect(ours == theirs["chain"] as? [String], "\(scenario.name)")
        }
    }

    @Test func detailedChain_followsThePeerChainThenTheStore() throws {
        let leaf = try Self.certificate("localhost-chain")
        let intermediate = try Self.certificate("intermediate")
        let ca = try Self.certificate("ca")
        // Server side: the leaf apart, the chain without it; intermediates out of order are still linked.
        let stack = CertificateStack([try Self.certificate("other-ca"), intermediate])
        let store = TrustStore([ca])
        // Every wrapper stays alive while OpenSSL uses its pointer.
        let detailed = try #require(
            withExtendedLifetime((leaf, stack, store)) {
                PeerCertificate.peerCertificate(leaf: leaf.pointer, chain: stack.pointer, trustStore: store.pointer)
            }
        )
        #expect(detailed.chain.map(\.subject) == [leaf, intermediate, ca].map(\.peerCertificate.subject))
        #expect(detailed.issuerCertificate?.issuerCertificate?.issuerCertificateIsItself == true)
        #expect(!detailed.issuerCertificateIsItself)
        // Without a store the chain stops at the last certificate the peer sent.
        let short = try #require(
            withExtendedLifetime((leaf, stack)) {
                PeerCertificate.peerCertificate(leaf: leaf.pointer, chain: stack.pointer)
            }
        )
        #expect(short.chain.count == 2 && !short.chain[1].issuerCertificateIsItself)
        // A self-signed leaf is its own issuer, as in Node.
        let selfSigned = try Self.certificate("selfsigned")
        let alone = try #require(
            withExtendedLifetime(selfSigned) { PeerCertificate.peerCertificate(leaf: selfSigned.pointer, chain: nil) }
        )
        #expect(alone.chain.count == 1 && alone.issuerCertificateIsItself)
        #expect(PeerCertificate.peerCertificate(leaf: nil, chain: nil) == nil)
        let empty = CertificateStack([])
        #expect(withExtendedLifetime(empty) { PeerCertificate.peerCertificate(leaf: nil, chain: empty.pointer) } == nil)
    }
}
