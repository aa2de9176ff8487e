import COpenSSL
import NetCore

/// An ephemeral self-signed certificate, for `--tls` without `--cert`/`--key`: made with OpenSSL's API at start,
/// printed by its SHA-256 fingerprint, optionally saved for clients (`curl --cacert FILE`).
public struct SelfSignedCertificate: Sendable {
    /// The certificate, PEM.
    public let certificatePEM: String
    /// The private key, unencrypted PKCS#8 PEM.
    public let keyPEM: String
    /// The certificate's SHA-256 fingerprint as Node prints `fingerprint256` (`"AB:CD:..."`).
    public let fingerprint256: String
    /// The certificate.
    public let certificate: X509Certificate
    /// The private key.
    public let key: PrivateKey

    /// A new ECDSA P-256 key and an X.509 v3 certificate for `hosts`, signed with SHA-256 by its own key: subject
    /// `CN=` the first host, subjectAltName one `DNS:` or `IP Address:` entry per host (IP addresses are recognised
    /// as `net.isIP` does), valid from an hour ago (clock skew) for `days` days, a random positive 128-bit serial,
    /// `basicConstraints` critical `CA:FALSE`, `extendedKeyUsage` serverAuth and a subject key identifier. It has
    /// no keyUsage extension, so it verifies as its own trust anchor (`openssl verify -CAfile cert.pem cert.pem`,
    /// Node's `ca: [cert]`, `curl --cacert`).
    ///
    /// Throws `ERR_INVALID_ARG_VALUE` for no hosts, an empty host, or one with a comma, a space or a control
    /// character (which no DNS name has).
    public static func make(hosts: [String] = ["localhost", "127.0.0.1", "::1"], days: Int = 365) throws(TLSError)
        -> SelfSignedCertificate
    {
        guard let first = hosts.first else {
            throw TLSError(code: "ERR_INVALID_ARG_VALUE", message: "The argument 'hosts' must name at least one host")
        }
        for host in hosts where host.isEmpty || host.utf8.contains(where: { $0 <= 0x20 || $0 == 0x7F || $0 == 0x2C }) {
            throw TLSError(
                code: "ERR_INVALID_ARG_VALUE",
                message: "The argument 'hosts' has an invalid host \"\(host)\""
            )
        }
        guard days > 0, days <= 36500 else {
            throw TLSError(
                code: "ERR_OUT_OF_RANGE",
                message: "The value of \"days\" is out of range. It must be >= 1 && <= 36500. Received \(days)"
            )
        }
        ERR_clear_error()
        let key = try PrivateKey.makeP256()
        guard let x509 = X509_new() else {
            throw TLSError.takeErrorQueue(fallback: OpenSSLSupport.outOfMemory("X509_new"))
        }
        let certificate = X509Certificate(taking: x509)
        func check(_ ok: Bool, _ step: String) throws(TLSError) {
            guard ok else {
                throw TLSError.takeErrorQueue(
                    fallback: TLSError(
                        code: "ERR_OSSL_X509_CERTIFICATE_FAILED",
                        message: "self-signed certificate: \(step) failed"
                    )
                )
            }
        }
        try check(X509_set_version(x509, Int(X509_VERSION_3)) == 1, "X509_set_version")
        try check(setRandomSerial(x509), "serial number")
        try check(X509_gmtime_adj(X509_getm_notBefore(x509), -3600) != nil, "notBefore")
        try check(X509_gmtime_adj(X509_getm_notAfter(x509), days * 86400) != nil, "notAfter")
        try check(X509_set_pubkey(x509, key.pointer) == 1, "X509_set_pubkey")
        let name = X509_get_subject_name(x509)
        let cn = Array(first.utf8)
        try check(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, cn, Int32(cn.count), -1, 0) == 1, "subject CN")
        try check(X509_set_issuer_name(x509, name) == 1, "X509_set_issuer_name")
        try check(addSubjectAltName(x509, hosts), "subjectAltName")
        var context = X509V3_CTX()
        X509V3_set_ctx(&context, x509, x509, nil, nil, 0)
        for (nid, value) in [
            (NID_basic_constraints, "critical,CA:FALSE"), (NID_ext_key_usage, "serverAuth"),
            (NID_subject_key_identifier, "hash"),
        ] {
            let ext = X509V3_EXT_nconf_nid(nil, &context, nid, value)
            defer { X509_EXTENSION_free(ext) }
            try check(ext != nil && X509_add_ext(x509, ext, -1) == 1, "extension \(value)")
        }
        try check(X509_sign(x509, key.pointer, EVP_sha256()) > 0, "X509_sign")
        return SelfSignedCertificate(
            certificatePEM: certificate.pem,
            keyPEM: key.pem,
            fingerprint256: OpenSSLSupport.colonHex(certificate.digest(EVP_sha256())),
            certificate: certificate,
            key: key
        )
    }

    /// 16 random bytes with the top bit clear: a positive serial of up to 128 bits (RFC 5280 allows 20 octets).
    private static func setRandomSerial(_ x509: OpaquePointer) -> Bool {
        var bytes = [UInt8](repeating: 0, count: 16)
        guard RAND_bytes(&bytes, Int32(bytes.count)) == 1 else { return false }
        bytes[0] &= 0x7F
        bytes[0] |= 0x40  // sixteen significant bytes, so every serial prints the same length
        guard let number = BN_bin2bn(bytes, Int32(bytes.count), nil) else { return false }
        defer { BN_free(number) }
        return BN_to_ASN1_INTEGER(number, X509_get_serialNumber(x509)) != nil
    }

    /// One GENERAL_NAME per host, built directly (no config-string parsing, so no host can inject other entries).
    private static func addSubjectAltName(_ x509: OpaquePointer, _ hosts: [String]) -> Bool {
        guard let names = OPENSSL_sk_new_null() else { return false }
        defer { GENERAL_NAMES_free(names) }
        for host in hosts {
            guard let general = GENERAL_NAME_new() else { return false }
            if let ip = ServerIdentity.canonicalIP(host), !host.contains("%"), let octets = a2i_IPADDRESS(ip) {
                GENERAL_NAME_set0_value(general, GEN_IPADD, UnsafeMutableRawPointer(octets))
            } else {
                guard let dns = ASN1_IA5STRING_new() else {
                    GENERAL_NAME_free(general)
                    return false
                }
                let bytes = Array(host.utf8)
                guard ASN1_STRING_set(dns, bytes, Int32(bytes.count)) == 1 else {
                    ASN1_IA5STRING_free(dns)
                    GENERAL_NAME_free(general)
                    return false
                }
                GENERAL_NAME_set0_value(general, GEN_DNS, UnsafeMutableRawPointer(dns))
            }
            guard OPENSSL_sk_push(names, UnsafeRawPointer(general)) > 0 else {
                GENERAL_NAME_free(general)
                return false
            }
        }
        return X509_add1_ext_i2d(
            x509,
            NID_subject_alt_name,
            UnsafeMutableRawPointer(names),
            0,
            UInt(X509V3_ADD_DEFAULT)
        ) == 1
    }
}
