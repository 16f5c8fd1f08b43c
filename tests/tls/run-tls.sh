#!/bin/sh
# TLS through a real tisockd against TLS peers on loopback: certificates
# made at test time (tls-certs), the cases of test-tls.py (Debian's
# python3 and its ssl module), then every answer and notification of the
# run checked against the rpc.discover document (validate-openrpc.py).
b=${top_builddir:-.}
s=${top_srcdir:-$(dirname "$0")/../..}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/certs" || exit 1
if ! "$b/tests/tls/tls-certs" "$tmp/certs"; then
	echo "FAIL tls-certs"
	exit 1
fi
"$py" "$s/tests/tls/test-tls.py" "$b/daemon/tisockd" "$tmp/certs" "$tmp"
status=$?
"$py" "$s/tests/conformance/validate-openrpc.py" --status "$status" "$tmp/record.txt"
