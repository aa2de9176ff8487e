import COpenSSL

/// An error from TLS, named the way Node names it.
///
/// OpenSSL failures carry Node's derived code: `ERR_SSL_<REASON>` for the SSL library (`ERR_SSL_WRONG_VERSION_NUMBER`),
/// `ERR_OSSL_<LIB>_<REASON>` for the others (`ERR_OSSL_PEM_NO_START_LINE`), with `library` and `reason` as OpenSSL
/// prints them. Certificate verification failures carry OpenSSL's verify code names as Node does
/// (`UNABLE_TO_VERIFY_LEAF_SIGNATURE`, `DEPTH_ZERO_SELF_SIGNED_CERT`, ...), and Node's own conditions their `ERR_TLS_*`
/// or errno codes (`ERR_TLS_CERT_ALTNAME_INVALID`, `ECONNRESET`).
public struct TLSError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Node's `err.code`.
    public var code: String
    /// Node's `err.message`.
    public var message: String
    /// OpenSSL's library name (`"SSL routines"`), when the error came from OpenSSL's error queue.
    public var library: String?
    /// OpenSSL's reason text (`"wrong version number"`), when the error came from OpenSSL's error queue.
    public var reason: String?

    /// An error with a code and message of its own (not from OpenSSL's error queue).
    public init(code: String, message: String, library: String? = nil, reason: String? = nil) {
        self.code = code
        self.message = message
        self.library = library
        self.reason = reason
    }

    public var description: String { "\(code): \(message)" }

    /// Takes every error on this thread's OpenSSL error queue, leaving it empty, and names the earliest one as Node
    /// does (Node reports the first error of the queue). Returns `fallback` when the queue was empty.
    package static func takeErrorQueue(fallback: @autoclosure () -> TLSError) -> TLSError {
        let first = ERR_get_error()
        guard first != 0 else { return fallback() }
        while ERR_get_error() != 0 {}
        return TLSError(openSSLError: first)
    }

    /// Names one packed OpenSSL error code (from `ERR_get_error`).
    package init(openSSLError packed: UInt) {
        var text = [CChar](repeating: 0, count: 256)
        ERR_error_string_n(packed, &text, text.count)
        let line = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let library = ERR_lib_error_string(packed).map { String(cString: $0) }
        let reason = ERR_reason_error_string(packed).map { String(cString: $0) }
        self.init(
            code: TLSError.nodeCode(
                libraryNumber: ERR_GET_LIB(packed), library: library, reason: reason),
            message: line, library: library, reason: reason)
    }

    /// Node's rule (its crypto error decoration, `error::Decorate`): `ERR_SSL_` for the SSL library; `ERR_OSSL_` and
    /// Node's name for the libraries in its table (`X509_`, `X509V3_`, `PEM_`, `EVP_`, ...); just `ERR_OSSL_` for the
    /// others (OpenSSL 3's `Provider`, `DECODER`, ... routines: `ERR_OSSL_BAD_DECRYPT`, `ERR_OSSL_UNSUPPORTED`); then
    /// the reason, upper-cased with spaces as underscores. `library` is not used: Node names by number, and OpenSSL's
    /// library texts ("x509 certificate routines") do not give Node's names.
    static func nodeCode(libraryNumber: Int32, library: String?, reason: String?) -> String {
        let reasonPart = String((reason ?? "unknown error").uppercased().map { $0 == " " ? "_" : $0 })
        if libraryNumber == ERR_LIB_SSL { return "ERR_SSL_" + reasonPart }
        return "ERR_OSSL_" + (nodeLibraryNames[libraryNumber].map { $0 + "_" } ?? "") + reasonPart
    }

    /// Node's `OSSL_ERROR_CODES_MAP`: the libraries whose name goes into the code.
    private static let nodeLibraryNames: [Int32: String] = [
        ERR_LIB_SYS: "SYS", ERR_LIB_BN: "BN", ERR_LIB_RSA: "RSA", ERR_LIB_DH: "DH", ERR_LIB_EVP: "EVP",
        ERR_LIB_BUF: "BUF", ERR_LIB_OBJ: "OBJ", ERR_LIB_PEM: "PEM", ERR_LIB_DSA: "DSA", ERR_LIB_X509: "X509",
        ERR_LIB_ASN1: "ASN1", ERR_LIB_CONF: "CONF", ERR_LIB_CRYPTO: "CRYPTO", ERR_LIB_EC: "EC", ERR_LIB_BIO: "BIO",
        ERR_LIB_PKCS7: "PKCS7", ERR_LIB_X509V3: "X509V3", ERR_LIB_PKCS12: "PKCS12", ERR_LIB_RAND: "RAND",
        ERR_LIB_DSO: "DSO", ERR_LIB_ENGINE: "ENGINE", ERR_LIB_OCSP: "OCSP", ERR_LIB_UI: "UI", ERR_LIB_COMP: "COMP",
        ERR_LIB_ECDSA: "ECDSA", ERR_LIB_ECDH: "ECDH", ERR_LIB_OSSL_STORE: "OSSL_STORE", ERR_LIB_FIPS: "FIPS",
        ERR_LIB_CMS: "CMS", ERR_LIB_TS: "TS", ERR_LIB_HMAC: "HMAC", ERR_LIB_CT: "CT", ERR_LIB_ASYNC: "ASYNC",
        ERR_LIB_KDF: "KDF", ERR_LIB_SM2: "SM2", ERR_LIB_USER: "USER",
    ]
}
