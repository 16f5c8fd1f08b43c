#!/bin/sh
# Runs the fairness tests (many busy streams of one user) against the freshly built daemon.
# TISOCK_TEST_WRAPPER (e.g. valgrind through libtool) runs the test program.
b=${top_builddir:-.}
exec ${TISOCK_TEST_WRAPPER:-} "$b/tests/integration/test-fairness" "$b/daemon/tisockd"
