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
        let bio = BIO_new_mem_buf("not a certificate", -1)
        defer { BIO_free(bio) }
        #expect(PEM_read_bio_X509(bio, nil, nil, nil) == nil)
        let error = TLSError.takeErrorQueue(fallback: TLSError(code: "NONE", message: ""))
        #expect(error.code == "ERR_OSSL_PEM_NO_START_LINE")
        #expect(error.library == "PEM routines")
        #expect(error.reason == "no start line")
        #expect(ERR_peek_error() == 0)
    }
}
