#!/bin/sh
# Crash recovery through systemd's fd store, the test playing systemd
# (test-fdstore.py).  The system's Python, whatever python3 is on PATH.
b=${top_builddir:-.}
s=${top_srcdir:-.}
if [ ! -x /usr/bin/python3 ]; then
	echo "1..0 # SKIP /usr/bin/python3 is not installed"
	exit 77
fi
exec /usr/bin/python3 "$s/tests/systemd/test-fdstore.py" "$b/daemon/tisockd"
