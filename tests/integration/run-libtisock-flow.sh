#!/bin/sh
# Runs test-libtisock-flow against the freshly built daemon.
# TISOCK_TEST_WRAPPER (e.g. valgrind through libtool) runs the test program.
b=${top_builddir:-.}
exec ${TISOCK_TEST_WRAPPER:-} "$b/tests/integration/test-libtisock-flow" "$b/daemon/tisockd"
