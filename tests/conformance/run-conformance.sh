#!/bin/sh
# Runs tisock-conform against a freshly built tisockd (started by the
# suite itself on a temporary socket), recording the traffic, then checks
# the rpc.discover document (JSON Schema draft 7, strict), every answer
# and notification of the run against it, and doc/PROTOCOL.md's tables
# against it (validate-openrpc.py, with Debian's python3-jsonschema).
# top_builddir / top_srcdir come from AM_TESTS_ENVIRONMENT;
# TISOCK_DAEMON_WRAPPER (a valgrind command, say) is put before the
# daemon.  A missing daemon is a failure, not a skip.  The shell ends in
# exec, so that a wrapper around this script never sees it exit.
b=${top_builddir:-.}
s=${top_srcdir:-$(dirname "$0")/../..}
py=/usr/bin/python3
if [ ! -x "$b/daemon/tisockd" ]; then
	echo "run-conformance: $b/daemon/tisockd is missing" >&2
	exit 1
fi
if ! "$py" -c 'import jsonschema' 2>/dev/null; then
	echo "FAIL openrpc-validation: $py with jsonschema (python3-jsonschema) is needed"
	exit 1
fi
record=$b/tests/conformance/conform-record.txt
TISOCK_CONFORM_RECORD=$record "$b/tests/conformance/tisock-conform" \
	--daemon "$b/daemon/tisockd" --data "$s/tests/conformance"
exec "$py" "$s/tests/conformance/validate-openrpc.py" --status "$?" "$record" \
	"$s/doc/PROTOCOL.md"
