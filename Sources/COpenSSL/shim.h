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

static inline long netcore_SSL_CTX_set_mode(SSL_CTX *ctx, long mode) { return SSL_CTX_set_mode(ctx, mode); }
static inline uint64_t netcore_SSL_CTX_set_options(SSL_CTX *ctx, uint64_t options) { return SSL_CTX_set_options(ctx, options); }
static inline int netcore_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_min_proto_version(ctx, version); }
static inline int netcore_SSL_CTX_set_max_proto_version(SSL_CTX *ctx, int version) { return (int)SSL_CTX_set_max_proto_version(ctx, version); }
static inline int netcore_SSL_set_tlsext_host_name(SSL *ssl, const char *name) { return (int)SSL_set_tlsext_host_name(ssl, name); }
static inline size_t netcore_BIO_pending(BIO *bio) { return (size_t)BIO_pending(bio); }

#endif
