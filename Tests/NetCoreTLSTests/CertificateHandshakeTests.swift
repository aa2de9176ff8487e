import COpenSSL
import Foundation
import Testing

@testable import NetCoreTLS

/// The package entry points the TLS layer calls after a handshake — `VerificationError.ofPeer(ssl:)` and
/// `PeerCertificate.peerCertificate(leaf:chain:trustStore:)` — on real OpenSSL handshakes between two in-memory SSL
/// objects (a BIO pair), client and server side (OpenSSL's peer chain holds the leaf on a client, not on a server).
@Suite struct CertificateHandshakeTests {
    /// Two SSL objects joined by a BIO pair, handshaken to completion.
    final class Handshake {
        let clientContext = SSL_CTX_new(TLS_client_method())!
        let serverContext = SSL_CTX_new(TLS_server_method())!
        var client: OpaquePointer!
        var server: OpaquePointer!

        /// `served`: the server's certificate names (leaf first); `clientCertificate`: presented when asked.
        init(served: [String], clientTrusts: [String], clientCertificate: String? = nil, serverTrusts: [String]? = nil)
            throws
        {
            let pki = try TestPKI.shared
            let alwaysContinue: @convention(c) (Int32, OpaquePointer?) -> Int32 = { _, _ in 1 }
            try Self.use(served, on: serverContext, pki)
            for name in clientTrusts { try Self.trust(name, in: clientContext, pki) }
            SSL_CTX_set_verify(clientContext, SSL_VERIFY_NONE, alwaysContinue)
            if let serverTrusts {
                for name in serverTrusts { try Self.trust(name, in: serverContext, pki) }
                SSL_CTX_set_verify(serverContext, SSL_VERIFY_PEER, alwaysContinue)
            }
            if let clientCertificate { try Self.use([clientCertificate], on: clientContext, pki) }
            client = SSL_new(clientContext)
            server = SSL_new(serverContext)
            var clientBIO: OpaquePointer?, serverBIO: OpaquePointer?
            try #require(BIO_new_bio_pair(&clientBIO, 0, &serverBIO, 0) == 1)
            SSL_set_bio(client, clientBIO, clientBIO)
            SSL_set_bio(server, serverBIO, serverBIO)
            SSL_set_connect_state(client)
            SSL_set_accept_state(server)
            var done = (false, false)
            for _ in 0..<20 where !(done.0 && done.1) {
                if !done.0 { done.0 = SSL_do_handshake(client) == 1 }
                if !done.1 { done.1 = SSL_do_handshake(server) == 1 }
            }
            // TLS 1.3 sends the session tickets (and, for a client certificate, the server's verdict) after the
            // handshake; a read on each side settles them.
            var byte: UInt8 = 0
            _ = SSL_read(client, &byte, 1)
            _ = SSL_read(server, &byte, 1)
            ERR_clear_error()
            try #require(done.0 && done.1, "handshake did not finish")
        }

        // OpenSSL takes its own references; the Swift wrappers only need to outlive each call.
        private static func trust(_ name: String, in context: OpaquePointer, _ pki: TestPKI) throws {
            _ = try X509Certificate(pem: pki.pem(name)).withPointer {
                X509_STORE_add_cert(SSL_CTX_get_cert_store(context), $0)
            }
        }

        private static func use(_ names: [String], on context: OpaquePointer, _ pki: TestPKI) throws {
            let chain = try names.flatMap { try X509Certificate.chain(pem: pki.pem($0)) }
            let key = try PrivateKey(pem: pki.keyPEM(names[0]))
            try withExtendedLifetime((chain, key)) {
                try #require(SSL_CTX_use_certificate(context, chain[0].pointer) == 1)
                try #require(
                    SSL_CTX_use_PrivateKey(context, key.pointer) == 1,
                    "\(TLSError.takeErrorQueue(fallback: TLSError(code: "", message: "")))"
                )
                for extra in chain.dropFirst() {
                    try #require(
                        SSL_CTX_ctrl(context, SSL_CTRL_CHAIN_CERT, 1, UnsafeMutableRawPointer(extra.pointer)) == 1
                    )
                }
            }
        }

        /// The client's view of the server's certificate.
        var serverCertificate: PeerCertificate? {
            PeerCertificate.peerCertificate(
                leaf: nil,
                chain: SSL_get_peer_cert_chain(client),
                trustStore: SSL_CTX_get_cert_store(clientContext)
            )
        }

        /// The server's view of the client's certificate.
        var clientCertificate: PeerCertificate? {
            let leaf = SSL_get1_peer_certificate(server)
            defer { X509_free(leaf) }
            return PeerCertificate.peerCertificate(
                leaf: leaf,
                chain: SSL_get_peer_cert_chain(server),
                trustStore: SSL_CTX_get_cert_store(serverContext)
            )
        }

        deinit {
            SSL_free(client)
            SSL_free(server)
            SSL_CTX_free(clientContext)
            SSL_CTX_free(serverContext)
        }
    }

    static func fingerprint(_ name: String) throws -> String {
        try X509Certificate(pem: TestPKI.shared.pem(name)).peerCertificate.fingerprint256
    }

    @Test func clientSeesTheServersChainUpToTheTrustedRoot() throws {
        let handshake = try Handshake(served: ["localhost-chain"], clientTrusts: ["ca"])
        #expect(VerificationError.ofPeer(ssl: handshake.client) == nil)
        let certificate = try #require(handshake.serverCertificate)
        #expect(
            certificate.chain.map(\.fingerprint256) == [
                try X509Certificate.chain(pem: TestPKI.shared.pem("localhost-chain"))[0].peerCertificate.fingerprint256,
                try Self.fingerprint("intermediate"), try Self.fingerprint("ca"),
            ]
        )
        #expect(certificate.chain.last?.issuerCertificateIsItself == true)
        #expect(TLS.checkServerIdentity(hostname: "localhost", certificate: certificate) == nil)
    }

    @Test func clientVerificationErrorsAreNodes() throws {
        let unknown = try Handshake(served: ["localhost"], clientTrusts: ["other-ca"])
        #expect(VerificationError.ofPeer(ssl: unknown.client)?.code == "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
        #expect(unknown.serverCertificate?.chain.count == 1)
        let expired = try Handshake(served: ["expired"], clientTrusts: ["ca"])
        #expect(
            VerificationError.ofPeer(ssl: expired.client)?.tlsError
                == TLSError(
                    code: "CERT_HAS_EXPIRED",
                    message: "certificate has expired",
                    reason: "certificate has expired"
                )
        )
        let selfSigned = try Handshake(served: ["selfsigned"], clientTrusts: ["ca"])
        #expect(VerificationError.ofPeer(ssl: selfSigned.client)?.code == "DEPTH_ZERO_SELF_SIGNED_CERT")
        #expect(selfSigned.serverCertificate?.issuerCertificateIsItself == true)
    }

    @Test func serverSeesTheClientCertificate_orItsAbsence() throws {
        let withCertificate = try Handshake(
            served: ["localhost"],
            clientTrusts: ["ca"],
            clientCertificate: "client",
            serverTrusts: ["ca"]
        )
        #expect(VerificationError.ofPeer(ssl: withCertificate.server) == nil)
        let client = try #require(withCertificate.clientCertificate)
        #expect(client.subject.first("CN") == "client")
        #expect(client.chain.map(\.fingerprint256) == [try Self.fingerprint("client"), try Self.fingerprint("ca")])
        // Asked for a certificate, the client sent none: Node's UNABLE_TO_GET_ISSUER_CERT.
        let without = try Handshake(served: ["localhost"], clientTrusts: ["ca"], serverTrusts: ["ca"])
        #expect(
            VerificationError.ofPeer(ssl: without.server)?.tlsError
                == TLSError(
                    code: "UNABLE_TO_GET_ISSUER_CERT",
                    message: "unable to get issuer certificate",
                    reason: "unable to get issuer certificate"
                )
        )
        #expect(without.clientCertificate == nil)
        // A client certificate from another root.
        let other = try Handshake(
            served: ["localhost"],
            clientTrusts: ["ca"],
            clientCertificate: "other-client",
            serverTrusts: ["ca"]
        )
        #expect(VerificationError.ofPeer(ssl: other.server)?.code == "UNABLE_TO_VERIFY_LEAF_SIGNATURE")
    }
}
