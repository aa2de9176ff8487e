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
                libraryNumber: Int32(truncatingIfNeeded: (packed >> 23) & 0xFF), library: library, reason: reason),
            message: line, library: library, reason: reason)
    }

    /// Node's rule (its crypto error decoration): `ERR_SSL_` for the SSL library, else `ERR_OSSL_` and the library's
    /// name without " routines"; then the reason; both upper-cased with spaces as underscores.
    static func nodeCode(libraryNumber: Int32, library: String?, reason: String?) -> String {
        func part(_ text: String) -> String { String(text.uppercased().map { $0 == " " ? "_" : $0 }) }
        let reasonPart = part(reason ?? "unknown error")
        if libraryNumber == ERR_LIB_SSL { return "ERR_SSL_" + reasonPart }
        guard var name = library else { return "ERR_OSSL_" + reasonPart }
        if name.hasSuffix(" routines") { name.removeLast(" routines".count) }
        return "ERR_OSSL_" + part(name) + "_" + reasonPart
    }
}
