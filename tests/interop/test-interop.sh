#!/bin/bash
# Clients nobody here wrote, against the real daemon: aiorpcx (Debian's
# python3-aiorpcx) through its newline framer.  Skipped (77) when it is
# not installed.
set -u

b=${top_builddir:-.}
s=${top_srcdir:-.}
CTL=$b/client/tisockctl
PEER=$b/tests/cli/cli-peer
DAEMON=$b/daemon/tisockd
PY=/usr/bin/python3

. "$s/tests/lib.sh"
if ! "$PY" -c 'import aiorpcx' 2>/dev/null; then
	echo "# skipped: $PY with aiorpcx (python3-aiorpcx) is needed"
	exit 77
fi
sock=$tmp/tisockd.sock
: > "$tmp/tisockd.conf"
${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground --config "$tmp/tisockd.conf" --socket "$sock" \
	2>> "$tmp/daemon.log" &
pids+=($!)
wait_until "$CTL" --socket "$sock" ping || { echo "FAIL the daemon did not start"; exit 1; }
"$PEER" echo-server "$tmp/echo.port" &
pids+=($!)
wait_until test -s "$tmp/echo.port"

"$PY" "$s/tests/interop/aiorpcx-client.py" "$sock" "$(cat "$tmp/echo.port")" > "$tmp/out" 2>&1
rc=$?
cat "$tmp/out"
check "aiorpcx moved every byte through tisockd" test "$rc" = 0
finish
