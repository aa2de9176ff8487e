import COpenSSL

/// A certificate verification failure: OpenSSL's `X509_V_ERR_*` result (`SSL_get_verify_result`,
/// `X509_STORE_CTX_get_error`) named as Node names it in `authorizationError` and in the error a rejected
/// connection gets.
///
/// `code` is Node's `X509ErrorCode` name (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `DEPTH_ZERO_SELF_SIGNED_CERT`,
/// `CERT_HAS_EXPIRED`, ...; `UNSPECIFIED` for results outside Node's table) and `message` OpenSSL's
/// `X509_verify_cert_error_string` ("unable to verify the first certificate", "self-signed certificate", ...).
///
/// Node's codes are the *last* error of a verification that never stops: Node installs a verify callback that
/// always returns 1 (`SSL_CTX_set_verify(ctx, mode, { _, _ in 1 })`) and judges `SSL_get_verify_result` after the
/// handshake. With OpenSSL's default callback verification stops at the first error, and a leaf whose issuer is
/// unknown gives UNABLE_TO_GET_ISSUER_CERT_LOCALLY where Node reports UNABLE_TO_VERIFY_LEAF_SIGNATURE.
public struct VerificationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The `X509_V_ERR_*` value (never `X509_V_OK`).
    public let result: Int
    /// Node's code.
    public var code: String { Self.code(for: result) }
    /// OpenSSL's text for the result.
    public var message: String { String(cString: X509_verify_cert_error_string(result)) }

    /// The failure for a verify result, nil for `X509_V_OK` (0).
    public init?(result: Int) {
        guard result != Int(X509_V_OK) else { return nil }
        self.result = result
    }

    /// As a `TLSError` (Node's error object: `code` and `message`, `reason` the same text as the message).
    public var tlsError: TLSError { TLSError(code: code, message: message, reason: message) }

    public var description: String { "\(code): \(message)" }

    /// Node's `VerifyPeerCertificate` after a handshake: the verify result when the peer sent a certificate; with no
    /// certificate `UNABLE_TO_GET_ISSUER_CERT` ("unable to get issuer certificate"), except for PSK ciphers and
    /// resumed TLS 1.3 sessions, which need none. Nil when verification passed.
    package static func ofPeer(ssl: OpaquePointer) -> VerificationError? {
        if let peer = SSL_get1_peer_certificate(ssl) {
            X509_free(peer)
            return VerificationError(result: SSL_get_verify_result(ssl))
        }
        if let cipher = SSL_get_current_cipher(ssl), SSL_CIPHER_get_auth_nid(cipher) == NID_auth_psk { return nil }
        if let session = SSL_get_session(ssl), SSL_SESSION_get_protocol_version(session) == TLS1_3_VERSION,
            SSL_session_reused(ssl) == 1
        {
            return nil
        }
        return VerificationError(result: Int(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT))
    }

    /// Node's `X509ErrorCode` table (src/crypto): the name of each `X509_V_ERR_*` it knows, else `"UNSPECIFIED"`.
    public static func code(for result: Int) -> String {
        switch Int32(truncatingIfNeeded: result) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT: "UNABLE_TO_GET_ISSUER_CERT"
        case X509_V_ERR_UNABLE_TO_GET_CRL: "UNABLE_TO_GET_CRL"
        case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE: "UNABLE_TO_DECRYPT_CERT_SIGNATURE"
        case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE: "UNABLE_TO_DECRYPT_CRL_SIGNATURE"
        case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY: "UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY"
        case X509_V_ERR_CERT_SIGNATURE_FAILURE: "CERT_SIGNATURE_FAILURE"
        case X509_V_ERR_CRL_SIGNATURE_FAILURE: "CRL_SIGNATURE_FAILURE"
        case X509_V_ERR_CERT_NOT_YET_VALID: "CERT_NOT_YET_VALID"
        case X509_V_ERR_CERT_HAS_EXPIRED: "CERT_HAS_EXPIRED"
        case X509_V_ERR_CRL_NOT_YET_VALID: "CRL_NOT_YET_VALID"
        case X509_V_ERR_CRL_HAS_EXPIRED: "CRL_HAS_EXPIRED"
        case X509_V_ERR_ERROR_IN_CERT_NOT_BEFORE_FIELD: "ERROR_IN_CERT_NOT_BEFORE_FIELD"
        case X509_V_ERR_ERROR_IN_CERT_NOT_AFTER_FIELD: "ERROR_IN_CERT_NOT_AFTER_FIELD"
        case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD: "ERROR_IN_CRL_LAST_UPDATE_FIELD"
        case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD: "ERROR_IN_CRL_NEXT_UPDATE_FIELD"
        case X509_V_ERR_OUT_OF_MEM: "OUT_OF_MEM"
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT: "DEPTH_ZERO_SELF_SIGNED_CERT"
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN: "SELF_SIGNED_CERT_IN_CHAIN"
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "UNABLE_TO_GET_ISSUER_CERT_LOCALLY"
        case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE: "UNABLE_TO_VERIFY_LEAF_SIGNATURE"
        case X509_V_ERR_CERT_CHAIN_TOO_LONG: "CERT_CHAIN_TOO_LONG"
        case X509_V_ERR_CERT_REVOKED: "CERT_REVOKED"
        case X509_V_ERR_INVALID_CA: "INVALID_CA"
        case X509_V_ERR_PATH_LENGTH_EXCEEDED: "PATH_LENGTH_EXCEEDED"
        case X509_V_ERR_INVALID_PURPOSE: "INVALID_PURPOSE"
        case X509_V_ERR_CERT_UNTRUSTED: "CERT_UNTRUSTED"
        case X509_V_ERR_CERT_REJECTED: "CERT_REJECTED"
        case X509_V_ERR_HOSTNAME_MISMATCH: "HOSTNAME_MISMATCH"
        default: "UNSPECIFIED"
        }
    }
}

extension TLSError {
    /// Node's error for a failed certificate verification (`code`, `message`).
    public init(_ verification: VerificationError) { self = verification.tlsError }
}
