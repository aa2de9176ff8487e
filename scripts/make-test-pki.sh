#!/usr/bin/env bash
# Builds the test PKI of NetCoreTLS's tests (issue 11) into OUTDIR with the openssl CLI (OpenSSL 3.0).
#
#   scripts/make-test-pki.sh OUTDIR
#
# Every NAME below is NAME.pem (certificate, PEM) + NAME.key (private key, PKCS#8 PEM, unencrypted).
# ECDSA P-256 and SHA-256 unless noted; serials are random (OpenSSL's default), except expired's (01).
#   ca              root CA (CA:true), subject C/ST/L/O/OU/CN
#   intermediate    CA signed by ca (CA:true, pathlen:0)
#   localhost       leaf signed by ca: SAN DNS:localhost, IP:127.0.0.1, IP:::1; serverAuth; an AIA (OCSP, caIssuers)
#   localhost-chain leaf signed by intermediate (same SANs); localhost-chain.pem = leaf + intermediate
#   wrongname       leaf signed by ca: SAN DNS:wrong.example only
#   expired         leaf signed by ca for localhost, valid 2020-01-01 .. 2021-01-01 (wholly in the past)
#   selfsigned      self-signed leaf for localhost (CA:false)
#   client          CN=client (and two OUs), clientAuth, signed by ca
#   wildcard        SAN DNS:*.example.test, signed by ca
#   sni-a, sni-b    SAN DNS:a.example.test / DNS:b.example.test, signed by ca
#   rsa-localhost   RSA 2048, the SANs of localhost, signed by ca
#   other-ca        a second, unrelated root CA
#   other-client    client (CN=other-client) signed by other-ca
# Also the config, and the CSR and throwaway `openssl ca` state of `expired`, under OUTDIR/work/ (the tests do not
# need them).
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 OUTDIR" >&2
    exit 2
fi
out=$1
mkdir -p "$out/work"
cd "$out"
umask 077

# The CLI must not read the system's openssl.cnf (its [req] defaults add CA:true to self-signed certificates).
cat >work/openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused

[ca_ext]
basicConstraints = critical, CA:true
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[intermediate_ext]
basicConstraints = critical, CA:true, pathlen:0
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[localhost_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
authorityInfoAccess = OCSP;URI:http://ocsp.example.test/, caIssuers;URI:http://ca.example.test/ca.pem
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[chain_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[rsa_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[wrongname_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:wrong.example

[expired_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1

# No keyUsage: with one, it would need keyCertSign to verify its own signature when trusted as its own CA.
[selfsigned_ext]
basicConstraints = critical, CA:false
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
subjectKeyIdentifier = hash

[client_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[wildcard_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:*.example.test

[sni_a_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:a.example.test

[sni_b_ext]
basicConstraints = critical, CA:false
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:b.example.test

# The `openssl ca` settings, used only for `expired`.
[ca]
default_ca = expired_ca
[expired_ca]
database = work/index.txt
new_certs_dir = work
serial = work/serial
default_md = sha256
policy = anything
unique_subject = no
copy_extensions = none
[anything]
commonName = supplied
EOF
export OPENSSL_CONF=$PWD/work/openssl.cnf

# One openssl run per certificate: `req -newkey ... -x509 [-CA ...]` makes the key and the certificate (OpenSSL 3.0's
# req signs with -CA; serials are then random, 20 bytes). Fewer processes keep this well under 2 s on a busy machine.
# issue NAME SUBJECT SECTION [ISSUER]: an ECDSA P-256 key and a certificate with the extensions of SECTION, signed by
# ISSUER (self-signed without one).
issue() {
    local issuer=()
    if [[ $# -ge 4 ]]; then issuer=(-CA "$4.pem" -CAkey "$4.key"); fi
    openssl req -new -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout "$1.key" -subj "$2" \
        -days "${DAYS:-825}" -sha256 -extensions "$3" "${issuer[@]}" -out "$1.pem" 2>/dev/null
}

DAYS=3650 issue ca "/C=US/ST=California/L=San Francisco/O=NetCore Test/OU=Test PKI/CN=NetCore Test Root CA" ca_ext
DAYS=3650 issue other-ca "/C=US/O=NetCore Other/CN=NetCore Other Root CA" ca_ext
issue intermediate "/C=US/O=NetCore Test/CN=NetCore Test Intermediate CA" intermediate_ext ca
issue localhost "/C=US/O=NetCore Test/CN=localhost" localhost_ext ca
issue localhost-chain "/O=NetCore Test/CN=localhost" chain_ext intermediate
cat intermediate.pem >>localhost-chain.pem
issue wrongname "/CN=wrong.example" wrongname_ext ca
issue selfsigned "/O=NetCore Test/CN=localhost" selfsigned_ext
issue client "/C=US/O=NetCore Test/OU=Clients/OU=Tests/CN=client" client_ext ca
issue other-client "/O=NetCore Other/CN=other-client" client_ext other-ca
issue wildcard "/CN=*.example.test" wildcard_ext ca
issue sni-a "/CN=a.example.test" sni_a_ext ca
issue sni-b "/CN=b.example.test" sni_b_ext ca
openssl req -new -x509 -newkey rsa:2048 -noenc -keyout rsa-localhost.key -subj "/O=NetCore Test/CN=localhost" \
    -days 825 -sha256 -extensions rsa_ext -CA ca.pem -CAkey ca.key -out rsa-localhost.pem 2>/dev/null

# `openssl ca` only for `expired`: the 3.0 CLI's way to set both validity dates.
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc -keyout expired.key -subj "/CN=localhost" \
    -out work/expired.csr 2>/dev/null
: >work/index.txt
echo 01 >work/serial
openssl ca -batch -notext -config "$OPENSSL_CONF" -name expired_ca -cert ca.pem -keyfile ca.key \
    -startdate 20200101000000Z -enddate 20210101000000Z -extensions expired_ext -extfile "$OPENSSL_CONF" \
    -in work/expired.csr -out expired.pem 2>/dev/null

chmod 644 ./*.pem ./*.key
