import COpenSSL

/// Node's text for the subjectAltName and authorityInfoAccess extensions (its `SafeX509SubjectAltNamePrint` and
/// `SafeX509InfoAccessPrint`, which emulate OpenSSL's `i2v_GENERAL_NAME` but quote ambiguous values as JSON string
/// literals since CVE-2021-44532). Written from Node's documented format; the tests compare it with node.
enum AltNamePrinter {
    /// `"DNS:a, IP Address:127.0.0.1"`, nil without the extension or when it cannot be decoded.
    static func subjectAltName(of x509: OpaquePointer) -> String? {
        guard let names = decodedExtension(x509, NID_subject_alt_name) else { return nil }
        defer { GENERAL_NAMES_free(names) }
        var out: [UInt8] = []
        for (index, element) in OpenSSLSupport.elements(of: names).enumerated() {
            if index > 0 { out += Array(", ".utf8) }
            guard print(element.assumingMemoryBound(to: GENERAL_NAME.self), into: &out) else { return nil }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `"OCSP - URI:http://ocsp.example/\nCA Issuers - URI:http://ca.example/ca.pem"`, nil without the extension.
    static func infoAccess(of x509: OpaquePointer) -> String? {
        guard let descriptions = decodedExtension(x509, NID_info_access) else { return nil }
        defer { AUTHORITY_INFO_ACCESS_free(descriptions) }
        var out: [UInt8] = []
        for (index, element) in OpenSSLSupport.elements(of: descriptions).enumerated() {
            if index > 0 { out.append(UInt8(ascii: "\n")) }
            let description = element.assumingMemoryBound(to: ACCESS_DESCRIPTION.self).pointee
            var method = [CChar](repeating: 0, count: 80)
            i2t_ASN1_OBJECT(&method, Int32(method.count), description.method)
            out += Array((OpenSSLSupport.string(method) + " - ").utf8)
            guard let location = description.location, print(location, into: &out) else { return nil }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Node's `kX509NameFlagsRFC2253WithinUtf8JSON`: XN_FLAG_RFC2253 without escaping non-ASCII or control
    /// characters (the JSON quoting that follows escapes them).
    private static let directoryNameFlags: UInt =
        UInt(ASN1_STRFLGS_ESC_2253 | ASN1_STRFLGS_UTF8_CONVERT | ASN1_STRFLGS_DUMP_UNKNOWN | ASN1_STRFLGS_DUMP_DER)
        | UInt(XN_FLAG_SEP_COMMA_PLUS) | UInt(XN_FLAG_DN_REV) | UInt(XN_FLAG_FN_SN) | UInt(XN_FLAG_DUMP_UNKNOWN_FIELDS)

    /// The first extension `nid` decoded (`X509V3_EXT_d2i`): a `STACK_OF(...)`.
    private static func decodedExtension(_ x509: OpaquePointer, _ nid: Int32) -> OpaquePointer? {
        let index = X509_get_ext_by_NID(x509, nid, -1)
        guard index >= 0, let ext = X509_get_ext(x509, index), let decoded = X509V3_EXT_d2i(ext) else {
            ERR_clear_error()
            return nil
        }
        return OpaquePointer(decoded)
    }

    /// One GENERAL_NAME as Node 20 prints it; false where Node gives up (the whole extension is then null).
    private static func print(_ name: UnsafeMutablePointer<GENERAL_NAME>, into out: inout [UInt8]) -> Bool {
        let d = name.pointee.d
        switch name.pointee.type {
        case GEN_DNS:
            out += Array("DNS:".utf8)
            appendAltName(OpenSSLSupport.bytes(of: d.dNSName), utf8: false, prefix: nil, into: &out)
        case GEN_EMAIL:
            out += Array("email:".utf8)
            appendAltName(OpenSSLSupport.bytes(of: d.rfc822Name), utf8: false, prefix: nil, into: &out)
        case GEN_URI:
            out += Array("URI:".utf8)
            appendAltName(OpenSSLSupport.bytes(of: d.uniformResourceIdentifier), utf8: false, prefix: nil, into: &out)
        case GEN_DIRNAME:
            // RFC 2253 text (last RDN first, comma-separated), UTF-8 kept and control characters unescaped, then
            // quoted like any other value when it holds a comma: `DirName:"CN=x\u002cC=US"`.
            out += Array("DirName:".utf8)
            var printed = true
            let text = OpenSSLSupport.collectingBIO { bio in
                printed = X509_NAME_print_ex(bio, d.directoryName, 0, directoryNameFlags) >= 0
                return printed
            }
            guard printed, let text else { return false }
            appendAltName(text, utf8: true, prefix: nil, into: &out)
        case GEN_IPADD:
            out += Array("IP Address:".utf8)
            let bytes = OpenSSLSupport.bytes(of: d.iPAddress)
            switch bytes.count {
            case 4:
                out += Array(bytes.map { String($0) }.joined(separator: ".").utf8)
            case 16:
                // Eight groups, upper-case hex without leading zeros and no "::" compression ("0:0:0:0:0:0:0:1").
                let groups = (0..<8).map {
                    String(UInt16(bytes[2 * $0]) << 8 | UInt16(bytes[2 * $0 + 1]), radix: 16, uppercase: true)
                }
                out += Array(groups.joined(separator: ":").utf8)
            default:
                out += Array("<invalid length=\(bytes.count)>".utf8)
            }
        case GEN_RID:
            out += Array(("Registered ID:" + OpenSSLSupport.text(ofObject: d.registeredID, numeric: true)).utf8)
        case GEN_OTHERNAME:
            printOtherName(d.otherName, into: &out)
        case GEN_X400:
            out += Array("X400Name:<unsupported>".utf8)
        case GEN_EDIPARTY:
            out += Array("EdiPartyName:<unsupported>".utf8)
        default:
            return false
        }
        return true
    }

    /// The otherName forms OpenSSL 3's `i2v_GENERAL_NAME` knows, with Node's prefixes; others `<unsupported>`.
    private static func printOtherName(_ otherName: UnsafeMutablePointer<OTHERNAME>?, into out: inout [UInt8]) {
        guard let otherName, let value = otherName.pointee.value else {
            out += Array("othername:<unsupported>".utf8)
            return
        }
        let prefix: String?
        var unicode = true
        switch OBJ_obj2nid(otherName.pointee.type_id) {
        case NID_id_on_SmtpUTF8Mailbox: prefix = "SmtpUTF8Mailbox:"
        case NID_XmppAddr: prefix = "XmppAddr:"
        case NID_SRVName:
            prefix = "SRVName:"
            unicode = false
        case NID_ms_upn: prefix = "UPN:"
        case NID_NAIRealm: prefix = "NAIRealm:"
        default: prefix = nil
        }
        let type = value.pointee.type
        guard let prefix, unicode ? type == V_ASN1_UTF8STRING : type == V_ASN1_IA5STRING else {
            out += Array("othername:<unsupported>".utf8)
            return
        }
        out += Array("othername:".utf8)
        // For both string types the union member is an ASN1_STRING.
        appendAltName(
            OpenSSLSupport.bytes(of: value.pointee.value.asn1_string),
            utf8: unicode,
            prefix: prefix,
            into: &out
        )
    }

    /// Node's `PrintAltName`: a "safe" value as is (after `prefix:`), otherwise a JSON string literal in which
    /// commas, quotes, backslashes, control characters and (outside UTF-8 strings) non-ASCII bytes are escaped, each
    /// byte read as Latin-1.
    static func appendAltName(_ bytes: [UInt8], utf8: Bool, prefix: String?, into out: inout [UInt8]) {
        let safe = bytes.allSatisfy { byte in
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: ","), UInt8(ascii: "'"): return false
            default: return utf8 ? byte >= 0x20 && byte != 0x7F : byte >= 0x20 && byte <= 0x7E
            }
        }
        if safe {
            if let prefix { out += Array(prefix.utf8) }
            out += bytes
            return
        }
        let hex = Array("0123456789abcdef".utf8)
        out.append(UInt8(ascii: "\""))
        if let prefix { out += Array(prefix.utf8) }
        for byte in bytes {
            if byte == UInt8(ascii: "\\") {
                out += Array("\\\\".utf8)
            } else if byte == UInt8(ascii: "\"") {
                out += Array("\\\"".utf8)
            } else if (byte >= 0x20 && byte != UInt8(ascii: ",") && byte <= 0x7E) || (utf8 && byte & 0x80 != 0) {
                out.append(byte)
            } else {
                out += Array("\\u00".utf8) + [hex[Int(byte >> 4)], hex[Int(byte & 0x0F)]]
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// A JSON string literal (RFC 8259) at the start of some bytes, as Node's `jsonStringPattern` accepts it.
enum JSONStringLiteral {
    /// The decoded string and the literal's length in bytes, or nil when the bytes do not start with a valid literal.
    static func parse(_ bytes: [UInt8]) -> (String, Int)? {
        guard bytes.first == UInt8(ascii: "\"") else { return nil }
        var scalars = String.UnicodeScalarView()
        var utf8Run: [UInt8] = []
        var index = 1
        func flushRun() {
            scalars.append(contentsOf: String(decoding: utf8Run, as: UTF8.self).unicodeScalars)
            utf8Run.removeAll()
        }
        var pendingHighSurrogate: UInt32?
        while index < bytes.count {
            let byte = bytes[index]
            if byte == UInt8(ascii: "\"") {
                flushRun()
                if pendingHighSurrogate != nil { scalars.append("\u{FFFD}") }
                return (String(scalars), index + 1)
            }
            if byte < 0x20 { return nil }
            if byte != UInt8(ascii: "\\") {
                if pendingHighSurrogate != nil {
                    scalars.append("\u{FFFD}")
                    pendingHighSurrogate = nil
                }
                utf8Run.append(byte)
                index += 1
                continue
            }
            flushRun()
            guard index + 1 < bytes.count else { return nil }
            let escape = bytes[index + 1]
            var simple: Unicode.Scalar?
            switch escape {
            case UInt8(ascii: "\""): simple = "\""
            case UInt8(ascii: "\\"): simple = "\\"
            case UInt8(ascii: "/"): simple = "/"
            case UInt8(ascii: "b"): simple = "\u{08}"
            case UInt8(ascii: "f"): simple = "\u{0C}"
            case UInt8(ascii: "n"): simple = "\n"
            case UInt8(ascii: "r"): simple = "\r"
            case UInt8(ascii: "t"): simple = "\t"
            case UInt8(ascii: "u"):
                guard index + 6 <= bytes.count,
                    let unit = UInt32(String(decoding: bytes[(index + 2)..<(index + 6)], as: UTF8.self), radix: 16),
                    bytes[(index + 2)..<(index + 6)].allSatisfy({
                        ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x66)
                    })
                else { return nil }
                index += 6
                if let high = pendingHighSurrogate {
                    pendingHighSurrogate = nil
                    if (0xDC00...0xDFFF).contains(unit) {
                        scalars.append(Unicode.Scalar(0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00))!)
                        continue
                    }
                    scalars.append("\u{FFFD}")
                }
                if (0xD800...0xDBFF).contains(unit) {
                    pendingHighSurrogate = unit
                } else {
                    scalars.append(Unicode.Scalar(unit) ?? "\u{FFFD}")
                }
                continue
            default:
                return nil
            }
            if pendingHighSurrogate != nil {
                scalars.append("\u{FFFD}")
                pendingHighSurrogate = nil
            }
            scalars.append(simple!)
            index += 2
        }
        return nil
    }
}
