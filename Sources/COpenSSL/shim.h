#ifndef NETCORE_COPENSSL_SHIM_H
#define NETCORE_COPENSSL_SHIM_H

// The system OpenSSL 3 (Debian's libssl-dev), coded to the 3.0 API.
// Swift cannot import function-like macros, so the few NetCore needs are wrapped here as static inline functions.
#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <openssl/pem.h>
#include <openssl/evp.h>
#include <openssl/bio.h>
#include <openssl/rand.h>
#include <openssl/core_names.h>
#include <string.h>

static inline long netcore_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline uint64_t netcore_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t options) { return SSL_CTX_set_options(ctx, options); }
static inline int netcore_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
static inline int netcore_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
static inline int netcore_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
static inline size_t netcore_BIO_pending(BIO *bio) { return (size_t)BIO_pending(bio); }

// SSL_OP_* are SSL_OP_BIT(n) casts, which Swift cannot import.
static inline uint64_t netcore_SSL_OP_NO_RENEGOTIATION(void) { return SSL_OP_NO_RENEGOTIATION; }
static inline uint64_t netcore_SSL_OP_NO_COMPRESSION(void) { return SSL_OP_NO_COMPRESSION; }
static inline uint64_t netcore_SSL_OP_NO_TICKET(void) { return SSL_OP_NO_TICKET; }

static inline long netcore_BIO_set_mem_eof_return(BIO *bio, int value) { return BIO_set_mem_eof_return(bio, value); }
static inline int netcore_SSL_CTX_add1_chain_cert(SSL_CTX *ctx, X509 *cert) { return (int)SSL_CTX_add1_chain_cert(ctx, cert); }
static inline long netcore_SSL_CTX_set_session_cache_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_session_cache_mode(ctx, mode); }

// Session tickets under a server's own 48-byte keys (Node's ticketKeys: a 16-byte name, a 16-byte HMAC-SHA256 key,
// a 16-byte AES-128-CBC key), so servers given the same keys resume each other's sessions. Called by the Swift
// ticket callback with the keys it found for the connection; returns what OpenSSL's ticket_key_evp_cb expects
// (1 ok, 0 not our key name: a full handshake, -1 failure).
static inline int netcore_ticket_key_setup(const unsigned char *keys, unsigned char *key_name, unsigned char *iv,
                                           EVP_CIPHER_CTX *cipher, EVP_MAC_CTX *mac, int encrypt) {
    OSSL_PARAM params[3];
    params[0] = OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, (void *)(keys + 16), 16);
    params[1] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0);
    params[2] = OSSL_PARAM_construct_end();
    if (encrypt) {
        memcpy(key_name, keys, 16);
        if (RAND_bytes(iv, 16) <= 0) return -1;
        if (EVP_EncryptInit_ex(cipher, EVP_aes_128_cbc(), NULL, keys + 32, iv) != 1) return -1;
        if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
        return 1;
    }
    if (memcmp(key_name, keys, 16) != 0) return 0;
    if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
    if (EVP_DecryptInit_ex(cipher, EVP_aes_128_cbc(), NULL, keys + 32, iv) != 1) return -1;
    return 1;
}
static inline long netcore_SSL_CTX_set_ticket_key_evp_cb(
    SSL_CTX *ctx, int (*callback)(SSL *, unsigned char *, unsigned char *, EVP_CIPHER_CTX *, EVP_MAC_CTX *, int)) {
    return SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, callback);
}

// SNI: SSL_CTX_set_tlsext_servername_callback is a macro over SSL_CTX_callback_ctrl.
static inline long netcore_SSL_CTX_set_servername_callback(SSL_CTX *ctx, int (*callback)(SSL *, int *, void *)) {
    return SSL_CTX_set_tlsext_servername_callback(ctx, callback);
}

// A server's ALPN choice (Node's SelectALPNCallback): `arg` points at a uint32_t length followed by the server's
// protocols in wire format. The first server protocol the client also offers wins; when the client offered
// protocols and none match, the handshake fails with a no_application_protocol alert, as in Node.
static inline int netcore_alpn_select(SSL *ssl, const unsigned char **out, unsigned char *outlen,
                                      const unsigned char *in, unsigned int inlen, void *arg) {
    (void)ssl;
    const uint32_t length = *(const uint32_t *)arg;
    const unsigned char *protocols = (const unsigned char *)arg + sizeof(uint32_t);
    unsigned char *selected = NULL;
    int status = SSL_select_next_proto(&selected, outlen, protocols, length, in, inlen);
    if (status != OPENSSL_NPN_NEGOTIATED) return SSL_TLSEXT_ERR_ALERT_FATAL;
    *out = selected;
    return SSL_TLSEXT_ERR_OK;
}
static inline void netcore_SSL_CTX_set_alpn_select(SSL_CTX *ctx, void *arg) {
    SSL_CTX_set_alpn_select_cb(ctx, netcore_alpn_select, arg);
}

// Node's verify callback: always continue, so the handshake completes and the verdict is read afterwards from
// SSL_get_verify_result (`authorized` / `authorizationError`, or an error when rejectUnauthorized).
static inline int netcore_verify_continue(int preverify_ok, X509_STORE_CTX *store) { (void)preverify_ok; (void)store; return 1; }
static inline void netcore_SSL_set_verify_continue(SSL *ssl, int mode) {
    SSL_set_verify(ssl, mode, netcore_verify_continue);
}

#endif
