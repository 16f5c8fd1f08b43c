#!/bin/sh
# The soak test, short: 8 clients x 8 sockets for 5 s (20 s of work under a
# wrapper such as valgrind is too slow to be useful: 2 x 4 for 3 s there).
b=${top_builddir:-.}
if [ -n "${TISOCK_DAEMON_WRAPPER:-}" ]; then
	exec "$b/tests/soak/soak" "$b/daemon/tisockd" 3 2 4
fi
exec "$b/tests/soak/soak" "$b/daemon/tisockd" 5 8 8
