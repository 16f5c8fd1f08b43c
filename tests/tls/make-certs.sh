#!/bin/sh
# make-certs.sh DIR: a test PKI made with the openssl command, for the TLS
# tests: ca.pem (a CA), server.pem/server.key (localhost, 127.0.0.1 and
# ::1, issued by the CA), expired.pem (the same name and key, expired),
# self.pem/self.key (self-signed), other-ca.pem and stranger.pem/
# stranger.key (localhost issued by a CA nobody trusts), client.pem/
# client.key (a client certificate issued by the CA).  EC P-256 keys:
# quick to make.  Exits non-zero when openssl fails.
set -e
d=$1
mkdir -p "$d"
cd "$d"
key() { openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null; }
csr() { openssl req -new -key "$1" -subj "$2" -out "$3" 2>/dev/null; }
# sign CSR CA CAKEY DAYS EXTFILE OUT
sign() {
	openssl x509 -req -in "$1" -CA "$2" -CAkey "$3" -CAcreateserial -days "$4" \
		-extfile "$5" -out "$6" 2>/dev/null
}
ca() {
	key "$1.key"
	openssl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 30 -out "$1.pem" \
		-addext basicConstraints=critical,CA:TRUE \
		-addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
}
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
ca ca "tisock test CA"
ca other-ca "tisock stranger CA"
key server.key
csr server.key "/CN=localhost/O=tisock test" server.csr
sign server.csr ca.pem ca.key 30 server.ext server.pem
sign server.csr ca.pem ca.key -1 server.ext expired.pem
key stranger.key
csr stranger.key "/CN=localhost" stranger.csr
sign stranger.csr other-ca.pem other-ca.key 30 server.ext stranger.pem
key self.key
openssl req -x509 -new -key self.key -subj "/CN=localhost" -days 30 -out self.pem \
	-addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
key client.key
csr client.key "/CN=tisock test client" client.csr
sign client.csr ca.pem ca.key 30 client.ext client.pem
rm -f ./*.csr ./*.ext ./*.srl
