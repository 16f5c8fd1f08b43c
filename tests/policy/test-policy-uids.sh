#!/bin/bash
# The policy with real users, as root (skipped, 77, otherwise): clients
# run under other uids and groups with setpriv.  A user outside the
# control socket's group (socket-group) cannot reach the daemon at all;
# inside it, user= and group= rules (supplementary groups included, from
# SO_PEERGROUPS) decide; tisockctl list shows each owner's uid, gid and
# groups.
# Every wait polls its condition with a deadline.
set -u

b=${top_builddir:-.}
CTL=$b/client/tisockctl
PEER=$b/tests/cli/cli-peer
DAEMON=$b/daemon/tisockd
DEADLINE=30

. "${top_srcdir:-.}/tests/lib.sh"
# jqcall FILTER METHOD PARAMS: true when the --json answer matches FILTER.
jqcall() { "$CTL" --json call "$2" "$3" 2>/dev/null | jq -e "$1"; }

export TISOCKD_SOCKET=$tmp/d/tisockd.sock
mkdir -m 755 "$tmp/d"
chmod 755 "$tmp"

start_daemon() {
	${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground --config "$tmp/tisockd.conf" \
		--socket "$TISOCKD_SOCKET" 2>> "$tmp/daemon.log" &
	dpid=$!
	pids+=("$dpid")
	wait_until "$CTL" ping || { echo "FAIL the daemon did not start"; cat "$tmp/daemon.log"; exit 1; }
}

# A loopback echo peer; sets $port.
echo_peer() {
	rm -f "$tmp/echo.port"
	"$PEER" echo-server "$tmp/echo.port" &
	pids+=($!)
	wait_until test -s "$tmp/echo.port"
	port=$(cat "$tmp/echo.port")
}

# --- real users and groups (root only) -------------------------------------------
if [ "$(id -u)" != 0 ] || ! command -v setpriv >/dev/null ||
   ! setpriv --reuid=65533 --regid=65533 --clear-groups test -x "$CTL" 2>/dev/null; then
	echo "# skipped: real uids need root, setpriv and a build tree other users can read"
	exit 77
fi
if true; then
	cat > "$tmp/tisockd.conf" <<'EOF'
[daemon]
resolver-lookups = f
socket-group = 4242
[policy]
rule = allow connect group=4343
rule = deny connect user=65533
EOF
	start_daemon
	echo_peer
	as() { local u=$1 g=$2; shift 2; setpriv --reuid="$u" --regid="$g" "$@"; }
	as 65533 65533 --clear-groups "$CTL" info > /dev/null 2>&1; rc=$?
	check "a user outside socket-group cannot reach the control socket (exit 3)" [ $rc = 3 ]
	as 65533 4242 --clear-groups "$CTL" --json call tcp.connect \
		"{\"host\":\"127.0.0.1\",\"port\":$port}" > "$tmp/u.json" 2>/dev/null
	check "inside the group, uid 65533 is denied by its user rule" \
		jq -e '.error.code == -32003 and .error.data.ruleIndex == 2' "$tmp/u.json"
	as 65533 4242 --groups=4343 "$CTL" --json call tcp.connect \
		"{\"host\":\"127.0.0.1\",\"port\":$port}" > "$tmp/g.json" 2>/dev/null
	check "a supplementary group's allow comes first" jq -e '.state == "connected"' "$tmp/g.json"
	echo_peer	# one connection per peer
	as 65532 4242 --clear-groups "$CTL" --json call tcp.connect \
		"{\"host\":\"127.0.0.1\",\"port\":$port}" > "$tmp/o.json" 2>/dev/null
	check "another uid falls through to the default allow" jq -e '.state == "connected"' "$tmp/o.json"
	as 65533 4242 --groups=4343 "$CTL" listen 0 < /dev/null > /dev/null 2> "$tmp/ul.err" &
	ulpid=$!
	pids+=("$ulpid")
	wait_until grep -q '^listening on' "$tmp/ul.err"
	check "list shows the owner's uid, gid and supplementary groups" \
		bash -c "'$CTL' --json list | jq -se 'map(select(.owner.uid == 65533 and .owner.gid == 4242 and (.owner.groups | index(4343)))) | length == 1'"
	kill "$ulpid"; wait "$ulpid" 2>/dev/null
	kill -TERM "$dpid"; wait "$dpid"
fi

finish
