#!/bin/bash
# tisockd as a systemd service, without systemd as PID 1:
#  - the units pass `systemd-analyze verify`, and the service's exposure
#    (`systemd-analyze security --offline`) is 2.0 or lower;
#  - socket activation through systemd-socket-activate: the first client
#    starts the daemon and is served; the passed socket file is left alone;
#  - a passed fd that is not a listening AF_UNIX stream socket is refused
#    with a clear error;
#  - a stale socket file is replaced; a live one is not stolen.
# Every wait polls its condition with a deadline.
set -u

b=${top_builddir:-.}
s=${top_srcdir:-.}
CTL=$b/client/tisockctl
DAEMON=$(cd "$(dirname "$b/daemon/tisockd")" && pwd)/tisockd
DEADLINE=30

. "${top_srcdir:-.}/tests/lib.sh"

# --- the units --------------------------------------------------------------
if command -v systemd-analyze >/dev/null; then
	mkdir "$tmp/units"
	# ExecStart must name an executable that exists: this build's daemon.
	sed "s|@sbindir@|$(dirname "$DAEMON")|" "$s/systemd/tisockd.service.in" \
		> "$tmp/units/tisockd.service"
	cp "$s/systemd/tisockd.socket" "$tmp/units/"
	check "systemd-analyze verify: tisockd.socket and tisockd.service" \
		systemd-analyze verify --man=no "$tmp/units/tisockd.socket" "$tmp/units/tisockd.service"
	exposure=$(systemd-analyze security --offline=true "$tmp/units/tisockd.service" 2>/dev/null |
		sed -n 's/.*Overall exposure level for tisockd.service: \([0-9.]*\).*/\1/p')
	echo "# systemd-analyze security: exposure $exposure"
	check "systemd-analyze security: exposure ${exposure:-?} is 2.0 or lower" \
		systemd-analyze security --offline=true --threshold=20 "$tmp/units/tisockd.service"
else
	echo "# skipped: systemd-analyze is not installed"
fi

# --- socket activation --------------------------------------------------------
if command -v systemd-socket-activate >/dev/null; then
	act=$tmp/act.sock
	systemd-socket-activate -l "$act" "$DAEMON" --foreground --config /dev/null \
		2> "$tmp/act.log" &
	apid=$!
	pids+=("$apid")
	check "systemd-socket-activate listens" wait_until test -S "$act"
	check "before any client, no daemon runs" bash -c "! grep -q 'listening on' '$tmp/act.log'"
	"$CTL" --socket "$act" --json info > "$tmp/act.info"; rc=$?
	check "the first client starts the daemon and is served" \
		bash -c "[ $rc = 0 ] && jq -e '.name == \"tisockd\"' '$tmp/act.info'"
	check "the daemon says it uses the passed socket" \
		grep -q 'listening on (socket activation)' "$tmp/act.log"
	check "a second client is served by the same daemon" \
		[ "$("$CTL" --socket "$act" --json info | jq .pid)" = "$(jq .pid "$tmp/act.info")" ]
	kill -TERM "$apid"
	wait "$apid"; rc=$?
	check "the activated daemon exits 0 on SIGTERM" [ $rc = 0 ]
	check "the passed socket file is not unlinked by the daemon" test -S "$act"
else
	echo "# skipped: systemd-socket-activate is not installed"
fi

# A passed fd of the wrong kind: a clear error, exit 1.
: > "$tmp/plain"
LISTEN_FDS=1 bash -c 'export LISTEN_PID=$$; exec "$0" --foreground --config /dev/null 3<"$1"' \
	"$DAEMON" "$tmp/plain" 2> "$tmp/wrongfd.log"; rc=$?
check "a passed fd that is not a listening unix socket: exit 1" [ $rc = 1 ]
check "... with a clear error" grep -q 'not a listening AF_UNIX stream socket' "$tmp/wrongfd.log"

# --- stale and live socket files --------------------------------------------
stale=$tmp/stale.sock
socat "UNIX-LISTEN:$stale,unlink-close=0" /dev/null &
spid=$!
wait_until test -S "$stale"
kill -KILL "$spid"; wait "$spid" 2>/dev/null
check "a stale socket file is left behind" test -S "$stale"
"$DAEMON" --foreground --config /dev/null --socket "$stale" 2> "$tmp/stale.log" &
dpid=$!
pids+=("$dpid")
check "a daemon replaces the stale socket and serves" wait_until "$CTL" --socket "$stale" ping
"$DAEMON" --foreground --config /dev/null --socket "$stale" 2> "$tmp/live.log" &
d2=$!
wait_until gone "$d2"
wait "$d2"; rc=$?
check "a second daemon on a live socket exits 1" [ $rc = 1 ]
check "... saying another daemon listens there" grep -q 'another daemon is listening there' "$tmp/live.log"
check "the first daemon still serves" "$CTL" --socket "$stale" ping
kill -TERM "$dpid"; wait "$dpid"; rc=$?
check "the first daemon exits 0 and removes its own socket" bash -c "[ $rc = 0 ] && ! test -e '$stale'"

finish
