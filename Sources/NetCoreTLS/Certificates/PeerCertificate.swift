import COpenSSL

/// What Node's `tlsSocket.getPeerCertificate()` returns, as a Swift value: the fields of Node's `X509ToObject`,
/// formatted exactly as Node formats them (compare with `new crypto.X509Certificate(pem).toLegacyObject()`).
///
/// The properties have Swift names; each one's documentation gives Node's name where it differs
/// (`subjectAltName` is Node's `subjectaltname`, `validFrom` is `valid_from`, `isCA` is `ca`, ...).
/// `getPeerCertificate(true)`'s `issuerCertificate` chain is `issuerCertificate`, built by
/// `peerCertificate(leaf:chain:trustStore:)`.
public struct PeerCertificate: Sendable, Hashable {
    /// Node's `subject`: the subject's attributes by OpenSSL's short names (`C`, `ST`, `L`, `O`, `OU`, `CN`, ...,
    /// or the dotted OID for attributes OpenSSL does not name), values as UTF-8, a repeated attribute with every value
    /// (Node then gives an array).
    public var subject: Fields
    /// Node's `issuer`, formatted like `subject`.
    public var issuer: Fields
    /// Node's `subjectaltname`: `"DNS:localhost, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1"`; entries whose
    /// value holds a comma, quote or control character are JSON string literals, as Node escapes them
    /// (CVE-2021-44532). Nil when the certificate has no subjectAltName extension (or it cannot be decoded).
    public var subjectAltName: String?
    /// Node's `infoAccess`: the authorityInfoAccess extension by access method and kind
    /// (`["OCSP - URI": ["http://ocsp.example/"], "CA Issuers - URI": [...]]`), nil without the extension.
    public var infoAccess: Fields?
    /// Node's `ca`: whether OpenSSL considers the certificate a CA (`X509_check_ca`).
    public var isCA: Bool
    /// Node's `bits`: the RSA modulus size or the EC group order size.
    public var bits: Int?
    /// Node's `modulus` (RSA keys only): upper-case hex.
    public var modulus: String?
    /// Node's `exponent` (RSA keys only): `"0x10001"`.
    public var exponent: String?
    /// Node's `pubkey`: for RSA the DER SubjectPublicKeyInfo, for EC the encoded point (uncompressed, 65 bytes on
    /// P-256). Nil for other key types.
    public var publicKey: [UInt8]?
    /// Node's `asn1Curve` (EC keys only): `"prime256v1"`.
    public var asn1Curve: String?
    /// Node's `nistCurve` (EC keys only): `"P-256"`.
    public var nistCurve: String?
    /// Node's `valid_from`: `"Jan  1 00:00:00 2020 GMT"` (OpenSSL's `ASN1_TIME_print`).
    public var validFrom: String
    /// Node's `valid_to`, formatted like `validFrom`.
    public var validTo: String
    /// Node's `fingerprint`: SHA-1 of the DER, upper-case hex pairs joined by colons.
    public var fingerprint: String
    /// Node's `fingerprint256`: SHA-256 of the DER, formatted like `fingerprint`.
    public var fingerprint256: String
    /// Node's `fingerprint512`: SHA-512 of the DER, formatted like `fingerprint`.
    public var fingerprint512: String
    /// Node's `ext_key_usage`: the extendedKeyUsage OIDs in dotted form (`"1.3.6.1.5.5.7.3.1"` is serverAuth),
    /// nil without the extension.
    public var extKeyUsage: [String]?
    /// Node's `serialNumber`: upper-case hex, two digits per byte (`"0A1B..."`).
    public var serialNumber: String
    /// Node's `raw`: the DER encoding.
    public var raw: [UInt8]

    /// The issuer chain as an array so the struct can hold a value of its own type: empty or one element.
    private var issuerStorage: [PeerCertificate] = []

    /// Node's `issuerCertificate` (only from `getPeerCertificate(true)`): the certificate that issued this one, as
    /// far as the peer's chain and the trust store go. Where Node's self-signed root refers to itself
    /// (`root.issuerCertificate === root`) this is nil and `issuerCertificateIsItself` is true, so walking the chain
    /// ends.
    public var issuerCertificate: PeerCertificate? {
        get { issuerStorage.first }
        set { issuerStorage = newValue.map { [$0] } ?? [] }
    }

    /// True at the end of a detailed chain that reaches a self-issued certificate: where Node sets
    /// `issuerCertificate` to the certificate itself.
    public var issuerCertificateIsItself = false

    /// This certificate followed by each `issuerCertificate` in turn.
    public var chain: [PeerCertificate] {
        var result = [self]
        while let next = result[result.count - 1].issuerCertificate { result.append(next) }
        return result
    }

    /// The fields of `certificate` (Node's `getPeerCertificate()` without `detailed`).
    public init(_ certificate: X509Certificate) {
        let x509 = certificate.pointer
        subject = Fields(name: X509_get_subject_name(x509))
        issuer = Fields(name: X509_get_issuer_name(x509))
        subjectAltName = AltNamePrinter.subjectAltName(of: x509)
        infoAccess = AltNamePrinter.infoAccess(of: x509).map(Fields.init(infoAccessText:))
        isCA = X509_check_ca(x509) == 1
        validFrom = OpenSSLSupport.collectingText { ASN1_TIME_print($0, X509_get0_notBefore(x509)) == 1 } ?? ""
        validTo = OpenSSLSupport.collectingText { ASN1_TIME_print($0, X509_get0_notAfter(x509)) == 1 } ?? ""
        fingerprint = OpenSSLSupport.colonHex(certificate.digest(EVP_sha1()))
        fingerprint256 = OpenSSLSupport.colonHex(certificate.digest(EVP_sha256()))
        fingerprint512 = OpenSSLSupport.colonHex(certificate.digest(EVP_sha512()))
        extKeyUsage = Self.extendedKeyUsage(of: x509)
        serialNumber = Self.serialNumber(of: x509)
        raw = certificate.raw
        if let key = X509_get0_pubkey(x509) { readPublicKey(key) }
        withExtendedLifetime(certificate) {}  // `x509` is used up to here
    }

    /// Node's `getPeerCertificate(true)`: the leaf with its `issuerCertificate` chain, built as Node builds it —
    /// first from the certificates the peer sent (each one's issuer found among the rest by `X509_check_issued`),
    /// then from `trustStore` (an `X509_STORE*`, the context's) until a self-issued certificate or no issuer.
    ///
    /// `leaf` is the peer's certificate when OpenSSL gives it apart from the chain (on a server,
    /// `SSL_get1_peer_certificate`); `chain` is `SSL_get_peer_cert_chain` (`STACK_OF(X509)*`, which on a client
    /// already starts with the leaf). Neither is consumed. Nil when there is no certificate at all.
    package static func peerCertificate(
        leaf: OpaquePointer?,
        chain: OpaquePointer?,
        trustStore: OpaquePointer? = nil
    ) -> PeerCertificate? {
        var remaining = OpenSSLSupport.elements(of: chain).map { X509Certificate(retaining: OpaquePointer($0)) }
        if let leaf { remaining.insert(X509Certificate(retaining: leaf), at: 0) }
        guard !remaining.isEmpty else { return nil }
        var path = [remaining.removeFirst()]
        while let index = remaining.firstIndex(where: { path[path.count - 1].isIssued(by: $0) }) {
            path.append(remaining.remove(at: index))
        }
        if let trustStore {
            while !path[path.count - 1].isSelfIssued,
                let issuer = issuer(of: path[path.count - 1], in: trustStore)
            {
                let repeated = issuer == path[path.count - 1]
                path.append(issuer)
                if repeated { break }
            }
        }
        var certificate = PeerCertificate(path[path.count - 1])
        certificate.issuerCertificateIsItself = path[path.count - 1].isSelfIssued
        for link in path.dropLast().reversed() {
            var subject = PeerCertificate(link)
            subject.issuerCertificate = certificate
            certificate = subject
        }
        return certificate
    }

    /// The issuer of `certificate` in an `X509_STORE`, if it holds one.
    private static func issuer(of certificate: X509Certificate, in store: OpaquePointer) -> X509Certificate? {
        guard let context = X509_STORE_CTX_new() else { return nil }
        defer { X509_STORE_CTX_free(context) }
        guard X509_STORE_CTX_init(context, store, nil, nil) == 1 else {
            ERR_clear_error()
            return nil
        }
        var found: OpaquePointer?
        guard X509_STORE_CTX_get1_issuer(&found, context, certificate.pointer) == 1, let found else {
            ERR_clear_error()
            return nil
        }
        return X509Certificate(taking: found)
    }

    private static func extendedKeyUsage(of x509: OpaquePointer) -> [String]? {
        guard let decoded = X509_get_ext_d2i(x509, NID_ext_key_usage, nil, nil) else { return nil }
        let stack = OpaquePointer(decoded)
        defer { EXTENDED_KEY_USAGE_free(stack) }
        return OpenSSLSupport.elements(of: stack).map {
            OpenSSLSupport.text(ofObject: OpaquePointer($0), numeric: true)
        }
    }

    private static func serialNumber(of x509: OpaquePointer) -> String {
        guard let serial = X509_get_serialNumber(x509), let number = ASN1_INTEGER_to_BN(serial, nil) else { return "" }
        defer { BN_free(number) }
        guard let hex = BN_bn2hex(number) else { return "" }
        defer { OpenSSLSupport.free(hex) }
        return String(cString: hex)
    }

    private mutating func readPublicKey(_ key: OpaquePointer) {
        switch EVP_PKEY_get_base_id(key) {
        case EVP_PKEY_RSA:
            var n: OpaquePointer?, e: OpaquePointer?
            defer {
                BN_free(n)
                BN_free(e)
            }
            guard EVP_PKEY_get_bn_param(key, "n", &n) == 1, EVP_PKEY_get_bn_param(key, "e", &e) == 1, let n, let e
            else { break }
            modulus = OpenSSLSupport.collectingText { BN_print($0, n) == 1 }
            bits = Int(BN_num_bits(n))
            exponent = "0x" + String(BN_get_word(e), radix: 16)
            let length = i2d_PUBKEY(key, nil)
            if length > 0 {
                var der = [UInt8](repeating: 0, count: Int(length))
                der.withUnsafeMutableBufferPointer { buffer in
                    var cursor = buffer.baseAddress
                    _ = i2d_PUBKEY(key, &cursor)
                }
                publicKey = der
            }
        case EVP_PKEY_EC:
            bits = Int(EVP_PKEY_get_bits(key))
            var length = 0
            if EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", nil, 0, &length) == 1, length > 0 {
                var point = [UInt8](repeating: 0, count: length)
                if EVP_PKEY_get_octet_string_param(key, "encoded-pub-key", &point, length, &length) == 1 {
                    publicKey = Array(point.prefix(length))
                }
            }
            var group = [CChar](repeating: 0, count: 80)
            if EVP_PKEY_get_utf8_string_param(key, "group", &group, group.count, nil) == 1 {
                let name = OpenSSLSupport.string(group)
                let nid = OBJ_txt2nid(name)
                if nid != NID_undef {
                    asn1Curve = OBJ_nid2sn(nid).map { String(cString: $0) }
                    nistCurve = EC_curve_nid2nist(nid).map { String(cString: $0) }
                }
            }
        default:
            break
        }
        ERR_clear_error()
    }
}

extension PeerCertificate {
    /// An ordered multimap of text, as Node's certificate objects hold names and info access: each key once, in the
    /// order first seen, with all its values. Node gives a single value as a string and several as an array (for
    /// `subject`/`issuer`), and always an array for `infoAccess`.
    public struct Fields: Sendable, Hashable, CustomStringConvertible {
        /// One key and its values (never empty).
        public struct Field: Sendable, Hashable {
            public let key: String
            public var values: [String]
        }

        /// The keys in the order first seen, each with its values.
        public private(set) var fields: [Field] = []

        /// No fields.
        public init() {}

        /// Fields from key-value pairs; a repeated key collects its values in order.
        public init(_ pairs: [(key: String, value: String)]) {
            for pair in pairs { append(key: pair.key, value: pair.value) }
        }

        /// Adds a value under `key` (after the values it has).
        public mutating func append(key: String, value: String) {
            if let index = fields.firstIndex(where: { $0.key == key }) {
                fields[index].values.append(value)
            } else {
                fields.append(Field(key: key, values: [value]))
            }
        }

        /// All values of `key`, empty when absent: `subject["OU"]`.
        public subscript(key: String) -> [String] { fields.first { $0.key == key }?.values ?? [] }

        /// The first value of `key`: `subject.first("CN")`.
        public func first(_ key: String) -> String? { self[key].first }

        public var isEmpty: Bool { fields.isEmpty }

        /// `C=US, O=NetCore Test, OU=Clients, OU=Tests, CN=client` (grouped by key, in first-seen order).
        public var description: String {
            fields.flatMap { field in field.values.map { "\(field.key)=\($0)" } }.joined(separator: ", ")
        }

        /// Node's `GetX509NameObject`: each entry by short name (or dotted OID), value converted to UTF-8, nothing
        /// escaped.
        init(name: OpaquePointer?) {
            guard let name else { return }
            for index in 0..<max(0, X509_NAME_entry_count(name)) {
                guard let entry = X509_NAME_get_entry(name, index) else { continue }
                let object = X509_NAME_ENTRY_get_object(entry)
                let nid = OBJ_obj2nid(object)
                let key =
                    nid != NID_undef
                    ? OBJ_nid2sn(nid).map { String(cString: $0) } ?? ""
                    : OpenSSLSupport.text(ofObject: object, numeric: true)
                var utf8: UnsafeMutablePointer<UInt8>?
                let length = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(entry))
                guard length >= 0, let utf8 else { continue }
                defer { OpenSSLSupport.free(utf8) }
                append(
                    key: key,
                    value: String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
                )
            }
            ERR_clear_error()
        }

        /// Node's `translatePeerCertificate` parse of the info access text: each line `KEY:VALUE` (the key up to the
        /// first colon), a value starting with a quote read as a JSON string literal.
        init(infoAccessText text: String) {
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                guard let colon = line.firstIndex(of: ":") else { continue }
                let key = String(line[..<colon])
                var value = String(line[line.index(after: colon)...])
                if value.hasPrefix("\""), let (decoded, length) = JSONStringLiteral.parse(Array(value.utf8)),
                    length == value.utf8.count
                {
                    value = decoded
                }
                append(key: key, value: value)
            }
        }
    }
}
