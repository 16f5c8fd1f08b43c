#!/bin/sh
# Runs the sd_notify test against the freshly built daemon.
# TISOCK_TEST_WRAPPER (e.g. valgrind through libtool) runs the test program.
b=${top_builddir:-.}
exec ${TISOCK_TEST_WRAPPER:-} "$b/tests/systemd/test-notify" "$b/daemon/tisockd"
