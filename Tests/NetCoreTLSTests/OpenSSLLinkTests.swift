import COpenSSL
import Testing

@testable import NetCoreTLS

@Suite struct OpenSSLLinkTests {
    @Test func linksOpenSSL3() {
        #expect(OpenSSL_version_num() >= 0x3000_0000)
        #expect(TLS.openSSLVersion.hasPrefix("OpenSSL 3."))
    }

    @Test func pemGarbage_isNamedTheWayNodeNamesIt() {
        ERR_clear_error()
        // BIO_new_mem_buf keeps the pointer without copying, so the bytes must outlive the BIO (a string literal
        // passed directly is a temporary C string, freed after the call: AddressSanitizer caught it).
        let text = Array("not a certificate".utf8)
        text.withUnsafeBytes { bytes in
            let bio = BIO_new_mem_buf(bytes.baseAddress, Int32(bytes.count))
            defer { BIO_free(bio) }
            #expect(PEM_read_bio_X509(bio, nil, nil, nil) == nil)
        }
        let error = TLSError.takeErrorQueue(fallback: TLSError(code: "NONE", message: ""))
        #expect(error.code == "ERR_OSSL_PEM_NO_START_LINE")
        #expect(error.library == "PEM routines")
        #expect(error.reason == "no start line")
        #expect(ERR_peek_error() == 0)
    }
}
