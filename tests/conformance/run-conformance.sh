#!/bin/sh
# Runs the conformance suite against a freshly started tisockd.
# TISOCK_DAEMON_WRAPPER (e.g. a valgrind command) is put before the daemon.
b=${top_builddir:-.}
if [ ! -x "$b/daemon/tisockd" ]; then
	echo "run-conformance: $b/daemon/tisockd is missing" >&2
	exit 1
fi
exec "$b/tests/conformance/tisock-conform" --daemon "$b/daemon/tisockd"
