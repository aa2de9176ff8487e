/// Node's `tls` module on NetCore, over the system OpenSSL 3.
public enum TLS {
    /// The linked OpenSSL's version text, e.g. `"OpenSSL 3.0.19 27 Jan 2026"`.
    public static var openSSLVersion: String { String(cString: COpenSSL.OpenSSL_version(Int32(COpenSSL.OPENSSL_VERSION))) }
}

import COpenSSL
