import COpenSSL

/// A TLS protocol version, named as Node names them (`minVersion: "TLSv1.2"`).
public enum TLSVersion: String, Sendable, Comparable, CaseIterable {
    /// TLS 1.0 (refused by OpenSSL 3's default security level).
    case tlsv1 = "TLSv1"
    /// TLS 1.1 (refused by OpenSSL 3's default security level).
    case tlsv1_1 = "TLSv1.1"
    /// TLS 1.2, Node's default `minVersion`.
    case tlsv1_2 = "TLSv1.2"
    /// TLS 1.3, Node's default `maxVersion`.
    case tlsv1_3 = "TLSv1.3"

    var openSSLValue: Int32 {
        switch self {
        case .tlsv1: TLS1_VERSION
        case .tlsv1_1: TLS1_1_VERSION
        case .tlsv1_2: TLS1_2_VERSION
        case .tlsv1_3: TLS1_3_VERSION
        }
    }

    public static func < (lhs: TLSVersion, rhs: TLSVersion) -> Bool { lhs.openSSLValue < rhs.openSSLValue }
}

/// The options of Node's `tls.createSecureContext`: the certificate and key to present, the CAs to trust, and the
/// versions and ciphers allowed.
public struct SecureContextOptions: Sendable {
    /// The private key of `cert` (PEM).
    public var key: PEMSource?
    /// The passphrase of an encrypted `key`.
    public var passphrase: String?
    /// The certificate to present, optionally followed by its intermediates (PEM; the leaf first).
    public var cert: PEMSource?
    /// The CAs to trust instead of the system's (PEM, one or more certificates). A server that requests client
    /// certificates also names these CAs to the client.
    public var ca: PEMSource?
    /// OpenSSL cipher names separated by colons; `TLS_*` names set the TLS 1.3 suites, the rest the TLS 1.2 list (as
    /// Node splits them). nil: OpenSSL's defaults.
    public var ciphers: String?
    /// The lowest version allowed (Node's default `TLSv1.2`).
    public var minVersion: TLSVersion = .tlsv1_2
    /// The highest version allowed (Node's default `TLSv1.3`).
    public var maxVersion: TLSVersion = .tlsv1_3

    /// Options with Node's defaults for everything not given.
    public init(
        key: PEMSource? = nil,
        passphrase: String? = nil,
        cert: PEMSource? = nil,
        ca: PEMSource? = nil,
        ciphers: String? = nil,
        minVersion: TLSVersion = .tlsv1_2,
        maxVersion: TLSVersion = .tlsv1_3
    ) {
        self.key = key
        self.passphrase = passphrase
        self.cert = cert
        self.ca = ca
        self.ciphers = ciphers
        self.minVersion = minVersion
        self.maxVersion = maxVersion
    }
}

/// Node's `SecureContext`: an OpenSSL `SSL_CTX` holding the certificate, key, trusted CAs and protocol settings that
/// connections made from it share. Made by `TLS.createSecureContext(_:)`; immutable once made, so it can be shared
/// by servers on several loops.
public final class SecureContext: @unchecked Sendable {
    /// The `SSL_CTX*`.
    package let pointer: OpaquePointer
    /// The server's ALPN protocols in wire format, behind a 32-bit length (what `netcore_alpn_select` reads).
    private var alpnSelection: UnsafeMutableRawPointer?

    /// Makes a context from `options`; errors carry Node's codes (`ERR_OSSL_PEM_NO_START_LINE`,
    /// `ERR_OSSL_X509_KEY_VALUES_MISMATCH`, `ERR_SSL_NO_CIPHER_MATCH`, ...).
    public init(_ options: SecureContextOptions = SecureContextOptions()) throws(TLSError) {
        ERR_clear_error()
        guard let context = SSL_CTX_new(TLS_method()) else {
            throw TLSError.takeErrorQueue(
                fallback: TLSError(code: "ERR_OSSL_SSL_CTX_NEW", message: "SSL_CTX_new failed")
            )
        }
        pointer = context
        // Release the read and write buffers of idle connections (~49 KB -> ~16 KB each, issue 11); no
        // renegotiation (Node refuses it too: a client-initiated renegotiation is a denial-of-service lever).
        // No SSL_MODE_ENABLE_PARTIAL_WRITE or ACCEPT_MOVING_WRITE_BUFFER: SSL_write goes into a memory BIO, which
        // grows, so it never writes part of a buffer or asks to be retried with the same one.
        _ = netcore_SSL_CTX_set_mode(context, Int(SSL_MODE_RELEASE_BUFFERS))
        _ = netcore_SSL_CTX_set_options(context, netcore_SSL_OP_NO_RENEGOTIATION() | netcore_SSL_OP_NO_COMPRESSION())
        guard options.minVersion <= options.maxVersion else {
            throw TLSError(
                code: "ERR_TLS_PROTOCOL_VERSION_CONFLICT",
                message: "TLS protocol version \(options.minVersion.rawValue) conflicts with secureProtocol"
            )
        }
        _ = netcore_SSL_CTX_set_min_proto_version(context, options.minVersion.openSSLValue)
        _ = netcore_SSL_CTX_set_max_proto_version(context, options.maxVersion.openSSLValue)
        if let ciphers = options.ciphers { try setCiphers(ciphers) }
        if let cert = options.cert { try useCertificateChain(cert) }
        if let key = options.key { try usePrivateKey(key, passphrase: options.passphrase) }
        if options.cert != nil && options.key != nil {
            ERR_clear_error()
            guard SSL_CTX_check_private_key(context) == 1 else {
                throw TLSError.takeErrorQueue(
                    fallback: TLSError(code: "ERR_OSSL_X509_KEY_VALUES_MISMATCH", message: "key values mismatch")
                )
            }
        }
        if let ca = options.ca {
            try trust(ca)
        } else {
            ERR_clear_error()
            _ = SSL_CTX_set_default_verify_paths(context)
            ERR_clear_error()
        }
    }

    deinit {
        SSL_CTX_free(pointer)
        alpnSelection?.deallocate()
    }

    private func setCiphers(_ ciphers: String) throws(TLSError) {
        let names = ciphers.split(separator: ":").map(String.init)
        let suites = names.filter { $0.hasPrefix("TLS_") }.joined(separator: ":")
        let list = names.filter { !$0.hasPrefix("TLS_") }.joined(separator: ":")
        ERR_clear_error()
        // As Node: an empty part leaves that version with no ciphers of its own, and a list matching nothing fails.
        let suitesOK = SSL_CTX_set_ciphersuites(pointer, suites) == 1
        let listOK =
            list.isEmpty
            ? SSL_CTX_set_cipher_list(pointer, "") == 1 || true : SSL_CTX_set_cipher_list(pointer, list) == 1
        guard suitesOK && listOK, !(suites.isEmpty && list.isEmpty) else {
            throw TLSError.takeErrorQueue(
                fallback: TLSError(
                    code: "ERR_SSL_NO_CIPHER_MATCH",
                    message: "error:0A0000B9:SSL routines::no cipher match",
                    library: "SSL routines",
                    reason: "no cipher match"
                )
            )
        }
        ERR_clear_error()
    }

    private func useCertificateChain(_ source: PEMSource) throws(TLSError) {
        let certificates = try X509Certificate.chain(source)
        ERR_clear_error()
        // withPointer: Swift may release a wrapper right after its last use, before the C call that uses it.
        guard certificates[0].withPointer({ SSL_CTX_use_certificate(pointer, $0) }) == 1 else {
            throw TLSError.takeErrorQueue(fallback: TLSError(code: "ERR_SSL_CERT", message: "bad certificate"))
        }
        for intermediate in certificates.dropFirst() {
            guard intermediate.withPointer({ netcore_SSL_CTX_add1_chain_cert(pointer, $0) }) == 1 else {
                throw TLSError.takeErrorQueue(
                    fallback: TLSError(code: "ERR_SSL_CERT", message: "bad chain certificate")
                )
            }
        }
    }

    private func usePrivateKey(_ source: PEMSource, passphrase: String?) throws(TLSError) {
        let key = try PrivateKey(source, passphrase: passphrase)
        ERR_clear_error()
        guard key.withPointer({ SSL_CTX_use_PrivateKey(pointer, $0) }) == 1 else {
            throw TLSError.takeErrorQueue(
                fallback: TLSError(code: "ERR_OSSL_X509_KEY_VALUES_MISMATCH", message: "key values mismatch")
            )
        }
    }

    private func trust(_ source: PEMSource) throws(TLSError) {
        let certificates = try X509Certificate.chain(source)
        let store = SSL_CTX_get_cert_store(pointer)
        for certificate in certificates {
            ERR_clear_error()
            certificate.withPointer { raw in
                _ = X509_STORE_add_cert(store, raw)
                // Named to clients as acceptable issuers when the server requests a certificate (as Node does).
                _ = SSL_CTX_add_client_CA(pointer, raw)
            }
        }
        ERR_clear_error()
    }

    /// Sets the protocols a server picks from (its order wins) with the ALPN select callback; see `netcore_alpn_select`.
    package func setServerALPN(_ protocols: [String]) throws(TLSError) {
        let wire = try Self.alpnWireFormat(protocols)
        alpnSelection?.deallocate()
        let storage = UnsafeMutableRawPointer.allocate(byteCount: 4 + wire.count, alignment: 4)
        storage.storeBytes(of: UInt32(wire.count), as: UInt32.self)
        wire.withUnsafeBytes { (storage + 4).copyMemory(from: $0.baseAddress!, byteCount: wire.count) }
        alpnSelection = storage
        netcore_SSL_CTX_set_alpn_select(pointer, storage)
    }

    /// ALPN's wire format: each name behind a one-byte length (Node: ERR_OUT_OF_RANGE beyond 255 bytes).
    static func alpnWireFormat(_ protocols: [String]) throws(TLSError) -> [UInt8] {
        var wire: [UInt8] = []
        for name in protocols {
            let bytes = Array(name.utf8)
            guard (1...255).contains(bytes.count) else {
                throw TLSError(
                    code: "ERR_OUT_OF_RANGE",
                    message:
                        "The byte length of the protocol at index 0 exceeds the maximum length. It must be <= 255. Received \(bytes.count)"
                )
            }
            wire.append(UInt8(bytes.count))
            wire += bytes
        }
        return wire
    }
}

extension TLS {
    /// Node's `tls.createSecureContext(options)`.
    public static func createSecureContext(_ options: SecureContextOptions = SecureContextOptions()) throws(TLSError)
        -> SecureContext
    {
        try SecureContext(options)
    }
}
