#!/bin/sh
# Runs test-libtisock-tls against the freshly built daemon, with real TLS
# peers (python3's ssl) and a PKI made by tests/tls/tls-certs.
# TISOCK_TEST_WRAPPER (e.g. valgrind through libtool) runs the test program.
b=${top_builddir:-.}
top_builddir=$b
export top_builddir
s=${top_srcdir:-.}
exec ${TISOCK_TEST_WRAPPER:-} "$b/tests/integration/test-libtisock-tls" "$b/daemon/tisockd" "$s"
