import COpenSSL
@preconcurrency import Glibc

// The smallest stand-ins for what the x509 branch delivers (PEMSource, the verify-code names, checkServerIdentity),
// used until it is merged; replaced by its types then.

/// Where PEM text comes from: a file, or the text itself (Node's options take either a string or a Buffer).
public enum PEMSource: Sendable, Equatable, ExpressibleByStringLiteral {
    /// A PEM file on disk.
    case file(String)
    /// PEM text.
    case pem(String)

    public init(stringLiteral value: String) { self = .pem(value) }

    /// A BIO reading the PEM text (owned; free with BIO_free).
    func bio() throws(TLSError) -> OpaquePointer {
        switch self {
        case .pem(var text):
            let bio = text.withUTF8 { bytes in
                // BIO_new_mem_buf would not copy; a fresh memory BIO with the bytes written in does.
                let bio = BIO_new(BIO_s_mem())
                if let bio { _ = BIO_write(bio, bytes.baseAddress, Int32(bytes.count)) }
                return bio
            }
            guard let bio else { throw TLSError(code: "ERR_OSSL_MALLOC_FAILURE", message: "BIO_new failed") }
            return bio
        case .file(let path):
            ERR_clear_error()
            guard let bio = BIO_new_file(path, "r") else {
                ERR_clear_error()
                throw TLSError(code: "ENOENT", message: "ENOENT: no such file or directory, open '\(path)'")
            }
            return bio
        }
    }
}

enum PEMShim {
    /// Every certificate in `text`, in order (owned references; free with X509_free).
    static func certificates(_ source: PEMSource) throws(TLSError) -> [OpaquePointer] {
        let bio = try source.bio()
        defer { BIO_free(bio) }
        var certificates: [OpaquePointer] = []
        ERR_clear_error()
        while let certificate = PEM_read_bio_X509(bio, nil, nil, nil) {
            certificates.append(certificate)
        }
        // The loop ends at the first failure; running out of PEM blocks ("no start line") is the normal end.
        let last = ERR_peek_last_error()
        if last != 0 && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE) {
            certificates.forEach { X509_free($0) }
            throw TLSError.takeErrorQueue(fallback: TLSError(code: "ERR_OSSL_PEM_BAD_END_LINE", message: "bad PEM"))
        }
        ERR_clear_error()
        guard !certificates.isEmpty else {
            throw TLSError(
                code: "ERR_OSSL_PEM_NO_START_LINE",
                message: "error:0480006C:PEM routines::no start line",
                library: "PEM routines",
                reason: "no start line")
        }
        return certificates
    }

    /// The private key in `text` (owned; free with EVP_PKEY_free).
    static func privateKey(_ source: PEMSource) throws(TLSError) -> OpaquePointer {
        let bio = try source.bio()
        defer { BIO_free(bio) }
        ERR_clear_error()
        guard let key = PEM_read_bio_PrivateKey(bio, nil, nil, nil) else {
            throw TLSError.takeErrorQueue(
                fallback: TLSError(code: "ERR_OSSL_PEM_NO_START_LINE", message: "no private key in the PEM text"))
        }
        return key
    }
}

enum VerifyShim {
    /// Node's name for an X509_V_ERR_* code (X509ErrorCode in src/crypto/crypto_common.cc) and OpenSSL's text.
    static func error(forVerifyResult result: Int) -> TLSError {
        let names: [Int32: String] = [
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: "UNABLE_TO_GET_ISSUER_CERT",
            X509_V_ERR_UNABLE_TO_GET_CRL: "UNABLE_TO_GET_CRL",
            X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE: "UNABLE_TO_DECRYPT_CERT_SIGNATURE",
            X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY",
            X509_V_ERR_CERT_SIGNATURE_FAILURE: "CERT_SIGNATURE_FAILURE",
            X509_V_ERR_CERT_NOT_YET_VALID: "CERT_NOT_YET_VALID",
            X509_V_ERR_CERT_HAS_EXPIRED: "CERT_HAS_EXPIRED",
            X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: "DEPTH_ZERO_SELF_SIGNED_CERT",
            X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: "SELF_SIGNED_CERT_IN_CHAIN",
            X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
            X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
            X509_V_ERR_CERT_CHAIN_TOO_LONG: "CERT_CHAIN_TOO_LONG",
            X509_V_ERR_CERT_REVOKED: "CERT_REVOKED",
            X509_V_ERR_INVALID_CA: "INVALID_CA",
            X509_V_ERR_PATH_LENGTH_EXCEEDED: "PATH_LENGTH_EXCEEDED",
            X509_V_ERR_INVALID_PURPOSE: "INVALID_PURPOSE",
            X509_V_ERR_CERT_UNTRUSTED: "CERT_UNTRUSTED",
            X509_V_ERR_CERT_REJECTED: "CERT_REJECTED",
            X509_V_ERR_HOSTNAME_MISMATCH: "HOSTNAME_MISMATCH",
        ]
        let code = names[Int32(result)] ?? "UNSPECIFIED"
        let message = String(cString: X509_verify_cert_error_string(result))
        return TLSError(code: code, message: message)
    }

    /// Node's checkServerIdentity, reduced to OpenSSL's own matching (DNS names and IP addresses of the subject
    /// alternative names).
    static func checkServerIdentity(hostname: String, certificate: OpaquePointer) -> TLSError? {
        let matched: Bool
        if isIPAddress(hostname) {
            matched = X509_check_ip_asc(certificate, hostname, 0) == 1
        } else {
            matched = X509_check_host(certificate, hostname, hostname.utf8.count, 0, nil) == 1
        }
        if matched { return nil }
        let kind = isIPAddress(hostname) ? "IP" : "Host"
        return TLSError(
            code: "ERR_TLS_CERT_ALTNAME_INVALID",
            message: "Hostname/IP does not match certificate's altnames: \(kind): \(hostname). is not in the cert's altnames")
    }

    static func isIPAddress(_ text: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return inet_pton(AF_INET, text, &v4) == 1 || inet_pton(AF_INET6, text, &v6) == 1
    }
}
