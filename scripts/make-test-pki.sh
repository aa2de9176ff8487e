#!/usr/bin/env bash
# Builds the test PKI of NetCoreTLS's tests (issue 11) into OUTDIR with the openssl CLI (OpenSSL 3.0).
#
#   scripts/make-test-pki.sh OUTDIR
#
# Every NAME below is NAME.pem (certificate, PEM) + NAME.key (private key, PKCS#8 PEM, unencrypted).
# ECDSA P-256 and SHA-256 unless noted; every serial is random (16 bytes).
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
# Also the CSRs and the throwaway `openssl ca` state of `expired` under OUTDIR/work/ (not needed by the tests).
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

# `openssl ca` only for `expired`: it is the 3.0 CLI's way to set both validity dates.
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

ec_key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null; }
serial() { echo "0x$(openssl rand -hex 16)"; }

# root NAME SUBJECT: a self-signed CA.
root() {
    ec_key "$1"
    openssl req -new -x509 -key "$1.key" -subj "$2" -days 3650 -sha256 -set_serial "$(serial)" \
        -extensions ca_ext -out "$1.pem"
}

# issue NAME SUBJECT ISSUER SECTION: a certificate for NAME.key signed by ISSUER, with the extensions of SECTION.
issue() {
    openssl req -new -key "$1.key" -subj "$2" -out "work/$1.csr"
    openssl x509 -req -in "work/$1.csr" -CA "$3.pem" -CAkey "$3.key" -set_serial "$(serial)" -days 825 -sha256 \
        -extfile "$OPENSSL_CONF" -extensions "$4" -out "$1.pem" 2>/dev/null
}

root ca "/C=US/ST=California/L=San Francisco/O=NetCore Test/OU=Test PKI/CN=NetCore Test Root CA"
root other-ca "/C=US/O=NetCore Other/CN=NetCore Other Root CA"

ec_key intermediate
issue intermediate "/C=US/O=NetCore Test/CN=NetCore Test Intermediate CA" ca intermediate_ext

ec_key localhost
issue localhost "/C=US/O=NetCore Test/CN=localhost" ca localhost_ext

ec_key localhost-chain
issue localhost-chain "/O=NetCore Test/CN=localhost" intermediate chain_ext
cat intermediate.pem >>localhost-chain.pem

ec_key wrongname
issue wrongname "/CN=wrong.example" ca wrongname_ext

ec_key selfsigned
openssl req -new -x509 -key selfsigned.key -subj "/O=NetCore Test/CN=localhost" -days 825 -sha256 \
    -set_serial "$(serial)" -extensions selfsigned_ext -out selfsigned.pem

ec_key client
issue client "/C=US/O=NetCore Test/OU=Clients/OU=Tests/CN=client" ca client_ext

ec_key other-client
issue other-client "/O=NetCore Other/CN=other-client" other-ca client_ext

ec_key wildcard
issue wildcard "/CN=*.example.test" ca wildcard_ext

ec_key sni-a
issue sni-a "/CN=a.example.test" ca sni_a_ext
ec_key sni-b
issue sni-b "/CN=b.example.test" ca sni_b_ext

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out rsa-localhost.key 2>/dev/null
issue rsa-localhost "/O=NetCore Test/CN=localhost" ca rsa_ext

ec_key expired
openssl req -new -key expired.key -subj "/CN=localhost" -out work/expired.csr
: >work/index.txt
openssl rand -hex 16 >work/serial
openssl ca -batch -notext -config "$OPENSSL_CONF" -name expired_ca -cert ca.pem -keyfile ca.key \
    -startdate 20200101000000Z -enddate 20210101000000Z -extensions expired_ext -extfile "$OPENSSL_CONF" \
    -in work/expired.csr -out expired.pem 2>/dev/null

chmod 644 ./*.pem ./*.key
