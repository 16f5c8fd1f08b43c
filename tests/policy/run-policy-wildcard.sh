#!/bin/sh
# Runs test-policy-wildcard against the freshly built daemon.
# TISOCK_TEST_WRAPPER (e.g. valgrind through libtool) runs the test program.
b=${top_builddir:-.}
exec ${TISOCK_TEST_WRAPPER:-} "$b/tests/policy/test-policy-wildcard" "$b/daemon/tisockd"
