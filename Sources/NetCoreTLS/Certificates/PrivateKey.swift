import COpenSSL

/// A private key: one OpenSSL `EVP_PKEY`, owned by this value (RSA, ECDSA, Ed25519: whatever OpenSSL decodes).
///
/// `@unchecked Sendable` for the reason `X509Certificate` is: the key is never changed after it is made, and
/// OpenSSL's reference count is atomic.
public final class PrivateKey: @unchecked Sendable {
    /// The `EVP_PKEY*`. It stays valid while this object lives (see `X509Certificate.pointer`: prefer
    /// `withPointer`).
    package let pointer: OpaquePointer

    /// Runs `body` with the `EVP_PKEY*`, keeping this key alive until `body` returns.
    package func withPointer<T, E: Error>(_ body: (OpaquePointer) throws(E) -> T) throws(E) -> T {
        try withExtendedLifetime(self) { () throws(E) -> T in try body(pointer) }
    }

    /// Takes over a reference the caller owns.
    init(taking pointer: OpaquePointer) { self.pointer = pointer }

    deinit { EVP_PKEY_free(pointer) }

    /// A key from PEM text (PKCS#8 `PRIVATE KEY` or `ENCRYPTED PRIVATE KEY`, or the traditional `RSA/EC PRIVATE KEY`
    /// forms), like Node's `key` and `passphrase` options. An encrypted key with a wrong or missing passphrase throws
    /// Node's `ERR_OSSL_BAD_DECRYPT`; garbage throws `ERR_OSSL_UNSUPPORTED` (OpenSSL's decoders found no key), as
    /// Node reports them. Never prompts on a terminal.
    public convenience init(pem: String, passphrase: String? = nil) throws(TLSError) {
        try self.init(pemBytes: Array(pem.utf8), passphrase: passphrase)
    }

    /// A key from a PEM source (text or a file).
    public convenience init(_ source: PEMSource, passphrase: String? = nil) throws(TLSError) {
        try self.init(pemBytes: source.bytes(), passphrase: passphrase)
    }

    /// A key from PEM bytes.
    public convenience init(pemBytes: [UInt8], passphrase: String? = nil) throws(TLSError) {
        ERR_clear_error()
        // No passphrase is the empty one, as in Node (its callback copies an empty buffer): an encrypted key then
        // fails with "bad decrypt" rather than OpenSSL's "interrupted or cancelled".
        let box = PassphraseBox(Array((passphrase ?? "").utf8))
        let pointer = try OpenSSLSupport.withMemoryBIO(pemBytes) { bio throws(TLSError) -> OpaquePointer in
            let key = withExtendedLifetime(box) {
                PEM_read_bio_PrivateKey(bio, nil, passphraseCallback, Unmanaged.passUnretained(box).toOpaque())
            }
            guard let key else {
                throw TLSError.takeErrorQueue(
                    fallback: TLSError(
                        code: "ERR_OSSL_UNSUPPORTED",
                        message: "error:1E08010C:DECODER routines::unsupported",
                        library: "DECODER routines",
                        reason: "unsupported"
                    )
                )
            }
            return key
        }
        self.init(taking: pointer)
    }

    /// A new ECDSA key on P-256 (prime256v1).
    public static func makeP256() throws(TLSError) -> PrivateKey {
        ERR_clear_error()
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "EC", nil) else {
            throw TLSError.takeErrorQueue(fallback: OpenSSLSupport.outOfMemory("EVP_PKEY_CTX_new_from_name"))
        }
        defer { EVP_PKEY_CTX_free(context) }
        var key: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_CTX_set_group_name(context, "P-256") == 1,
            EVP_PKEY_generate(context, &key) == 1, let key
        else {
            throw TLSError.takeErrorQueue(
                fallback: TLSError(code: "ERR_OSSL_EVP_KEYGEN_FAILURE", message: "P-256 key generation failed")
            )
        }
        return PrivateKey(taking: key)
    }

    /// Whether `certificate` holds this key's public half (OpenSSL's `X509_check_private_key`, the check
    /// `SSL_CTX_use_PrivateKey` makes). Leaves OpenSSL's error queue empty.
    public func matches(certificate: X509Certificate) -> Bool {
        ERR_clear_error()
        defer { ERR_clear_error() }
        return X509_check_private_key(certificate.pointer, pointer) == 1
    }

    /// Throws Node's error for a key that does not belong to `certificate`:
    /// `ERR_OSSL_X509_KEY_VALUES_MISMATCH`, "error:05800074:x509 certificate routines::key values mismatch".
    public func checkMatches(certificate: X509Certificate) throws(TLSError) {
        ERR_clear_error()
        guard X509_check_private_key(certificate.pointer, pointer) == 1 else {
            throw TLSError.takeErrorQueue(
                fallback: TLSError(
                    code: "ERR_OSSL_X509_KEY_VALUES_MISMATCH",
                    message: "error:05800074:x509 certificate routines::key values mismatch",
                    library: "x509 certificate routines",
                    reason: "key values mismatch"
                )
            )
        }
    }

    /// The key as unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
    public var pem: String {
        OpenSSLSupport.collectingText { PEM_write_bio_PrivateKey($0, pointer, nil, nil, 0, nil, nil) == 1 } ?? ""
    }

    /// The key's size in bits (256 for P-256, 2048 for RSA 2048).
    public var bits: Int { Int(EVP_PKEY_get_bits(pointer)) }
}

/// The passphrase handed to OpenSSL's password callback through its `u` pointer.
private final class PassphraseBox {
    let bytes: [UInt8]
    init(_ bytes: [UInt8]) { self.bytes = bytes }
}

/// Node's `PasswordCallback`: the passphrase if it fits the buffer, else -1 (fail); never a terminal prompt, which
/// OpenSSL's default callback would do.
private func passphraseCallback(
    _ buffer: UnsafeMutablePointer<CChar>?,
    _ size: Int32,
    _ writing: Int32,
    _ user: UnsafeMutableRawPointer?
) -> Int32 {
    guard let buffer, let user else { return -1 }
    let box = Unmanaged<PassphraseBox>.fromOpaque(user).takeUnretainedValue()
    let bytes = box.bytes
    guard bytes.count <= Int(size) else { return -1 }
    bytes.withUnsafeBytes { raw in
        if let base = raw.baseAddress { UnsafeMutableRawPointer(buffer).copyMemory(from: base, byteCount: raw.count) }
    }
    return Int32(bytes.count)
}
