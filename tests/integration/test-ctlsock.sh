#!/bin/bash
# The control socket in the file system, and what daemon.info tells whom:
#  - a daemon that exits unlinks its socket path only while it is still
#    its own socket (not another daemon's, bound there since);
#  - a missing socket directory is created 0750 in socket-group, so the
#    group's members reach the socket (real uids, as root; skipped
#    otherwise);
#  - daemon.info shows a user outside root and the daemon's uid only its
#    own figures (scope "user"), and root everything (scope "all").
# Every wait polls its condition with a deadline.
set -u

b=${top_builddir:-.}
CTL=$b/client/tisockctl
DAEMON=$b/daemon/tisockd

. "${top_srcdir:-.}/tests/lib.sh"
chmod 755 "$tmp"
: > "$tmp/tisockd.conf"

# start_daemon SOCKET [CONFIG]: starts a daemon there; sets $dpid.
start_daemon() {
	${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground --config "${2:-$tmp/tisockd.conf}" \
		--socket "$1" 2>> "$tmp/daemon.log" &
	dpid=$!
	pids+=("$dpid")
	wait_until "$CTL" --socket "$1" ping || { echo "FAIL no daemon on $1"; cat "$tmp/daemon.log"; exit 1; }
}

# --- another daemon's socket is not unlinked at exit ------------------------------
mkdir -m 755 "$tmp/s"
sock=$tmp/s/tisockd.sock
start_daemon "$sock"
first=$dpid
rm -f "$sock"			# an administrator removes it ...
start_daemon "$sock"		# ... and a second daemon takes the path
second=$dpid
kill -TERM "$first"
wait_until gone "$first"
check "the first daemon exited" gone "$first"
check "the second daemon's socket is still there" test -S "$sock"
check "and reaches the second daemon" "$CTL" --socket "$sock" ping
kill -TERM "$second"
wait_until gone "$second"
check "a daemon unlinks its own socket at exit" test ! -e "$sock"

# --- real users: the directory's group, daemon.info's scope (root only) ------------
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null ||
   ! setpriv --reuid=65533 --regid=65533 --clear-groups test -x "$CTL" 2>/dev/null; then
	echo "# real uids skipped: they need root, setpriv and a build tree other users can read"
	finish
	exit $?
fi
as() { local u=$1 g=$2; shift 2; setpriv --reuid="$u" --regid="$g" "$@"; }
printf '[daemon]\nsocket-group = 4242\n' > "$tmp/group.conf"
sock=$tmp/new/tisockd.sock
start_daemon "$sock" "$tmp/group.conf"
check "the missing directory is made 0750 root:4242" \
	test "$(stat -c '%a %u %g' "$tmp/new")" = "750 0 4242"
check "a member of socket-group reaches the daemon" \
	as 65533 65533 --groups=4242 "$CTL" --socket "$sock" ping
check "a user outside it does not (exit 3)" \
	test "$(status as 65532 65532 --clear-groups "$CTL" --socket "$sock" ping)" = 3

as 65533 65533 --groups=4242 "$CTL" --socket "$sock" --json info > "$tmp/user.json" 2>&1
check "daemon.info for another user: scope user, its own uid, no daemon-wide counters" \
	jq -e '.scope == "user" and .user.uid == 65533 and .user.clients == 1 and
	       (has("counters") | not) and (has("limitHitsBy") | not)' "$tmp/user.json"
"$CTL" --socket "$sock" --json info > "$tmp/root.json" 2>&1
check "daemon.info for root: scope all, with counters and limitHitsBy" \
	jq -e '.scope == "all" and .user.uid == 0 and (.counters.clients >= 1) and
	       has("limitHitsBy")' "$tmp/root.json"
kill -TERM "$dpid"
wait_until gone "$dpid"

finish
