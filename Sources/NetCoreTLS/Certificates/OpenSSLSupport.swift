import COpenSSL

/// Small helpers over OpenSSL's C API shared by the certificate types: memory BIOs, stacks, digests and strings.
enum OpenSSLSupport {
    /// Runs `body` with a read-only memory BIO over `bytes` (the bytes stay alive for the call).
    static func withMemoryBIO<T>(
        _ bytes: [UInt8],
        _ body: (OpaquePointer) throws(TLSError) -> T
    ) throws(TLSError) -> T {
        let result: Result<T, TLSError> = bytes.withUnsafeBytes { raw in
            // BIO_new_mem_buf needs a non-null pointer even for no bytes.
            let empty: UInt8 = 0
            return withUnsafePointer(to: empty) { emptyPointer in
                let base = raw.baseAddress ?? UnsafeRawPointer(emptyPointer)
                guard let bio = BIO_new_mem_buf(base, Int32(raw.count)) else {
                    return .failure(TLSError.takeErrorQueue(fallback: outOfMemory("BIO_new_mem_buf")))
                }
                defer { BIO_free(bio) }
                do throws(TLSError) { return .success(try body(bio)) } catch { return .failure(error) }
            }
        }
        return try result.get()
    }

    /// Runs `body` with a fresh writable memory BIO and returns what it wrote, or nil when `body` returns false.
    static func collectingBIO(_ body: (OpaquePointer) -> Bool) -> [UInt8]? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard body(bio) else { return nil }
        return drain(bio)
    }

    /// Everything readable from a memory BIO.
    static func drain(_ bio: OpaquePointer) -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = chunk.withUnsafeMutableBytes { BIO_read(bio, $0.baseAddress, Int32($0.count)) }
            if n <= 0 { break }
            bytes += chunk[0..<Int(n)]
        }
        return bytes
    }

    /// `collectingBIO` as text (OpenSSL prints ASCII or UTF-8 here).
    static func collectingText(_ body: (OpaquePointer) -> Bool) -> String? {
        collectingBIO(body).map { String(decoding: $0, as: UTF8.self) }
    }

    /// Upper-case hex pairs joined by colons, as Node prints fingerprints (`"AB:01:..."`).
    static func colonHex(_ bytes: some Sequence<UInt8>) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var text: [UInt8] = []
        for byte in bytes {
            if !text.isEmpty { text.append(UInt8(ascii: ":")) }
            text.append(digits[Int(byte >> 4)])
            text.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: text, as: UTF8.self)
    }

    /// The elements of an OpenSSL stack (`STACK_OF(T)*`, any element type).
    static func elements(of stack: OpaquePointer?) -> [UnsafeMutableRawPointer] {
        guard let stack else { return [] }
        let count = OPENSSL_sk_num(stack)
        guard count > 0 else { return [] }
        return (0..<count).compactMap { OPENSSL_sk_value(stack, $0) }
    }

    /// The bytes of an ASN1_STRING (IA5String, OCTET STRING, UTF8String, ...).
    static func bytes(of string: UnsafePointer<ASN1_STRING>?) -> [UInt8] {
        guard let string, let data = ASN1_STRING_get0_data(string) else { return [] }
        return Array(UnsafeBufferPointer(start: data, count: Int(ASN1_STRING_length(string))))
    }

    /// An OID as text: `numeric` gives the dotted form always (`"1.3.6.1.5.5.7.3.1"`), otherwise OpenSSL's long name
    /// when it knows one.
    static func text(ofObject object: OpaquePointer?, numeric: Bool) -> String {
        guard let object else { return "" }
        var buffer = [CChar](repeating: 0, count: 256)
        let length = OBJ_obj2txt(&buffer, Int32(buffer.count), object, numeric ? 1 : 0)
        guard length > 0 else { return "" }
        return String(
            decoding: buffer.prefix(min(Int(length), buffer.count - 1)).map { UInt8(bitPattern: $0) },
            as: UTF8.self
        )
    }

    /// The text of a NUL-terminated C buffer.
    static func string(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Frees memory OpenSSL allocated for us (`OPENSSL_free`, a macro Swift cannot import).
    static func free(_ pointer: UnsafeMutableRawPointer?) { CRYPTO_free(pointer, nil, 0) }

    /// The error for an allocation OpenSSL could not make, when its queue says nothing more precise.
    static func outOfMemory(_ function: String) -> TLSError {
        TLSError(code: "ERR_OSSL_MALLOC_FAILURE", message: "\(function) failed: out of memory")
    }
}
