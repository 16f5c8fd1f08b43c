#!/bin/sh
# Runs the lingering-socket attack tests against the freshly built daemon.
# TISOCK_TEST_WRAPPER (e.g. valgrind through libtool) runs the test program.
b=${top_builddir:-.}
exec ${TISOCK_TEST_WRAPPER:-} "$b/tests/integration/test-attacks-linger" "$b/daemon/tisockd"
