#!/bin/sh
# Runs tisock-conform against a freshly built tisockd (started by the
# suite itself on a temporary socket).  top_builddir / top_srcdir come from
# AM_TESTS_ENVIRONMENT; TISOCK_DAEMON_WRAPPER (a valgrind command, say) is
# put before the daemon.  A missing daemon is a failure, not a skip.
b=${top_builddir:-.}
s=${top_srcdir:-$(dirname "$0")/../..}
if [ ! -x "$b/daemon/tisockd" ]; then
	echo "run-conformance: $b/daemon/tisockd is missing" >&2
	exit 1
fi
exec "$b/tests/conformance/tisock-conform" --daemon "$b/daemon/tisockd" \
	--data "$s/tests/conformance"
