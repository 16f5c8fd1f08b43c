#!/bin/sh
# Runs the data channel buffer budget tests against the freshly built daemon.
# TISOCK_TEST_WRAPPER (e.g. valgrind through libtool) runs the test program.
b=${top_builddir:-.}
exec ${TISOCK_TEST_WRAPPER:-} "$b/tests/integration/test-chanbuf" "$b/daemon/tisockd"
