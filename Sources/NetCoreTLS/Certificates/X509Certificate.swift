import COpenSSL

/// An X.509 certificate: one OpenSSL `X509` object, owned (reference-counted) by this value.
///
/// `@unchecked Sendable` because nothing mutates the certificate after it is made: OpenSSL's reference count is
/// atomic, and the extension data it caches lazily on first use is computed under the object's own lock (OpenSSL 3),
/// so several threads may read one certificate at once.
public final class X509Certificate: @unchecked Sendable, Hashable, CustomStringConvertible {
    /// The `X509*`. It stays valid while this object lives — and Swift may release an object right after its last
    /// use, even mid-statement (`SSL_CTX_use_certificate(ctx, X509Certificate(pem: p).pointer)` can pass a freed
    /// pointer), so prefer `withPointer`, or keep the object alive with `withExtendedLifetime`.
    package let pointer: OpaquePointer

    /// Runs `body` with the `X509*`, keeping this certificate alive until `body` returns.
    package func withPointer<T, E: Error>(_ body: (OpaquePointer) throws(E) -> T) throws(E) -> T {
        try withExtendedLifetime(self) { () throws(E) -> T in try body(pointer) }
    }

    /// Takes over a reference the caller owns (from `PEM_read_bio_X509`, `d2i_X509`, `X509_new`, ...).
    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    /// Shares an `X509*` someone else owns (for example one of `SSL_get_peer_cert_chain`), adding a reference.
    package init(retaining pointer: OpaquePointer) {
        X509_up_ref(pointer)
        self.pointer = pointer
    }

    deinit { X509_free(pointer) }

    /// The first certificate of PEM text (Node's `cert` with one certificate). Text before the first
    /// `-----BEGIN CERTIFICATE-----` is skipped, as OpenSSL does. Throws Node's error for garbage
    /// (`ERR_OSSL_PEM_NO_START_LINE`), a damaged block (`ERR_OSSL_PEM_BAD_BASE64_DECODE`, `ERR_OSSL_ASN1_...`).
    public convenience init(pem: String) throws(TLSError) {
        try self.init(pemBytes: Array(pem.utf8))
    }

    /// The first certificate of a PEM source (text or a file).
    public convenience init(_ source: PEMSource) throws(TLSError) {
        try self.init(pemBytes: source.bytes())
    }

    /// The first certificate of PEM bytes.
    public convenience init(pemBytes: [UInt8]) throws(TLSError) {
        ERR_clear_error()
        let pointer = try OpenSSLSupport.withMemoryBIO(pemBytes) { bio throws(TLSError) -> OpaquePointer in
            guard let certificate = PEM_read_bio_X509(bio, nil, nil, nil) else {
                throw TLSError.takeErrorQueue(fallback: Self.noCertificate)
            }
            return certificate
        }
        self.init(taking: pointer)
    }

    /// A certificate from its DER encoding (Node's `raw`). Bytes after the certificate are an error.
    public convenience init(der: [UInt8]) throws(TLSError) {
        ERR_clear_error()
        let pointer: OpaquePointer? = der.withUnsafeBufferPointer { buffer in
            var cursor = buffer.baseAddress
            guard let certificate = d2i_X509(nil, &cursor, buffer.count) else { return nil }
            guard cursor == buffer.baseAddress.map({ $0 + buffer.count }) else {
                X509_free(certificate)
                return nil
            }
            return certificate
        }
        guard let pointer else {
            throw TLSError.takeErrorQueue(
                fallback: TLSError(
                    code: "ERR_OSSL_ASN1_TOO_LONG",
                    message: "DER certificate has \(der.count) bytes with trailing data"
                )
            )
        }
        self.init(taking: pointer)
    }

    /// Every certificate of PEM text, in order: a `cert` chain (leaf first, then intermediates) or a `ca` list.
    /// Other PEM blocks (keys, parameters) between certificates are skipped. Throws when there is no certificate at
    /// all, or when a certificate block is damaged (never a partial list).
    public static func chain(pem: String) throws(TLSError) -> [X509Certificate] {
        try chain(pemBytes: Array(pem.utf8))
    }

    /// Every certificate of a PEM source (text or a file).
    public static func chain(_ source: PEMSource) throws(TLSError) -> [X509Certificate] {
        try chain(pemBytes: source.bytes())
    }

    /// Every certificate of PEM bytes.
    public static func chain(pemBytes: [UInt8]) throws(TLSError) -> [X509Certificate] {
        ERR_clear_error()
        return try OpenSSLSupport.withMemoryBIO(pemBytes) { bio throws(TLSError) -> [X509Certificate] in
            var certificates: [X509Certificate] = []
            while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
                certificates.append(X509Certificate(taking: certificate))
            }
            // The loop ends with "no start line" at the end of the text; anything else is a damaged block.
            let last = ERR_peek_last_error()
            let endOfText = last != 0 && ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE
            if certificates.isEmpty || !endOfText {
                throw TLSError.takeErrorQueue(fallback: noCertificate)
            }
            ERR_clear_error()
            return certificates
        }
    }

    /// The DER encoding (Node's `raw`).
    public var raw: [UInt8] {
        let length = i2d_X509(pointer, nil)
        guard length > 0 else { return [] }
        var bytes = [UInt8](repeating: 0, count: Int(length))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var cursor = buffer.baseAddress
            _ = i2d_X509(pointer, &cursor)
        }
        return bytes
    }

    /// The certificate as PEM text (`-----BEGIN CERTIFICATE-----`, 64-column base64, a final newline).
    public var pem: String {
        OpenSSLSupport.collectingText { PEM_write_bio_X509($0, pointer) == 1 } ?? ""
    }

    /// What Node's `getPeerCertificate()` reports about this certificate (without an issuer chain).
    public var peerCertificate: PeerCertificate { PeerCertificate(self) }

    /// The digest of the DER encoding with `digest` (`EVP_sha256()`, ...).
    func digest(_ digest: OpaquePointer?) -> [UInt8] {
        var md = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard X509_digest(pointer, digest, &md, &length) == 1 else { return [] }
        return Array(md.prefix(Int(length)))
    }

    /// Whether `issuer` issued this certificate (names, key identifiers and key usage agree; the signature is not
    /// checked), OpenSSL's `X509_check_issued`.
    func isIssued(by issuer: X509Certificate) -> Bool { X509_check_issued(issuer.pointer, pointer) == X509_V_OK }

    /// Whether this certificate issued itself.
    var isSelfIssued: Bool { X509_check_issued(pointer, pointer) == X509_V_OK }

    /// Equal when the DER encodings are equal.
    public static func == (lhs: X509Certificate, rhs: X509Certificate) -> Bool {
        lhs.pointer == rhs.pointer || X509_cmp(lhs.pointer, rhs.pointer) == 0
    }

    public func hash(into hasher: inout Hasher) { hasher.combine(digest(EVP_sha256())) }

    /// `X509Certificate(subject: CN=localhost, fingerprint256: AB:...)`.
    public var description: String {
        let certificate = peerCertificate
        return "X509Certificate(subject: \(certificate.subject), fingerprint256: \(certificate.fingerprint256))"
    }

    static let noCertificate = TLSError(
        code: "ERR_OSSL_PEM_NO_START_LINE",
        message: "error:0480006C:PEM routines::no start line",
        library: "PEM routines",
        reason: "no start line"
    )
}
