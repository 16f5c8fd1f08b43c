#!/bin/bash
# tisockctl with no daemon: a usage error is still a usage error (exit 2,
# its own message), as with a daemon; only a command that is right exits
# 3 ("cannot reach tisockd").  Before, every command exited 3 first.
#
# tisockctl connect when the daemon dies under the relay, with stdin
# still open (a fifo held by a writer that sends nothing more): the
# relay ends at once with exit status 3 (the daemon gone) and says so,
# in both modes: JSON (the pump) and --channel (a plain fd, which before
# spun on POLLHUP until stdin ended and then exited 0).  The same before
# the relay: the daemon dying while listen waits for a client, or while a
# connect is under way, exits 3 too (it was 1).
#
# Every wait polls its condition with a deadline.

b=${top_builddir:-.}
CTL=$b/client/tisockctl
PEER=$b/tests/cli/cli-peer
DAEMON=$b/daemon/tisockd

. "${top_srcdir:-.}/tests/lib.sh"

export TISOCKD_SOCKET=$tmp/d/tisockd.sock
mkdir -p "$tmp/d"
printf '[daemon]\nresolver-lookups = f\n' > "$tmp/tisockd.conf"

# Starts a daemon; its pid in dpid.
start_daemon() {
	${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground --config "$tmp/tisockd.conf" \
		--socket "$TISOCKD_SOCKET" 2>> "$tmp/daemon.log" &
	dpid=$!
	pids+=("$dpid")
	wait_until "$CTL" ping
}

# One relay through an echo server, the daemon killed under it: $1 is the
# mode's name, the rest connect's options.
relay_daemon_dies() {
	local mode=$1 port cpid wpid rc
	shift
	if ! start_daemon; then
		bad "$mode: the daemon did not come up"; cat "$tmp/daemon.log"; return
	fi
	rm -f "$tmp/echo.port" "$tmp/in" "$tmp/out" "$tmp/err"	# nothing from the round before
	"$PEER" echo-server "$tmp/echo.port" &
	pids+=($!)
	wait_until test -s "$tmp/echo.port"
	port=$(cat "$tmp/echo.port")
	mkfifo "$tmp/in"
	"$CTL" connect "$@" "127.0.0.1:$port" < "$tmp/in" > "$tmp/out" 2> "$tmp/err" &
	cpid=$!
	pids+=("$cpid")
	# The writer sends a line, then holds the fifo open and silent.
	{ echo hello; exec sleep 120; } > "$tmp/in" &
	wpid=$!
	pids+=("$wpid")
	check "$mode: the echo comes back" wait_until grep -qx hello "$tmp/out"
	kill -9 "$dpid"
	wait "$dpid" 2>/dev/null
	check "$mode: tisockctl ends though stdin is still open" wait_until gone "$cpid"
	if gone "$cpid"; then
		wait "$cpid"; rc=$?
	else
		kill "$cpid"; rc=timeout
	fi
	check "$mode: exit status 3, the daemon gone (got $rc)" [ "$rc" = 3 ]
	check "$mode: it says the daemon went away" grep -q 'the daemon went away' "$tmp/err"
	kill "$wpid" 2>/dev/null
	wait "$wpid" 2>/dev/null
}

# --- no daemon yet -------------------------------------------------------------
usage_without_daemon() {
	local rc
	"$CTL" "$@" > /dev/null 2> "$tmp/err"; rc=$?
	check "no daemon: tisockctl $* exits 2 (got $rc)" [ $rc = 2 ]
	check "no daemon: tisockctl $* says what is wrong, not that tisockd is away" \
		eval '! grep -q "cannot reach" "$tmp/err"'
}
usage_without_daemon connect
usage_without_daemon connect nowhere
usage_without_daemon listen 99999
usage_without_daemon call
usage_without_daemon call tcp.list '{not json'
usage_without_daemon close abc
usage_without_daemon ping extra
usage_without_daemon daemon restart
for cmd in "ping" "info" "connect 127.0.0.1:1" "listen 0" "call daemon.info" "monitor" \
	   "daemon upgrade" "methods" "close 3"; do
	"$CTL" $cmd < /dev/null > /dev/null 2> "$tmp/err"; rc=$?
	check "no daemon: tisockctl $cmd exits 3 (got $rc)" [ $rc = 3 ]
	check "no daemon: tisockctl $cmd says tisockd cannot be reached" \
		grep -q "cannot reach tisockd at $TISOCKD_SOCKET" "$tmp/err"
done

relay_daemon_dies "connect"
relay_daemon_dies "connect --channel" --channel

# Killed while tisockctl waits for the daemon's answer ($1: what, the rest:
# tisockctl's arguments); listening says when to kill ("" : at once).
waiting_daemon_dies() {
	local what=$1 ready=$2 cpid rc
	shift 2
	if ! start_daemon; then
		bad "$what: the daemon did not come up"; return
	fi
	rm -f "$tmp/err"
	"$CTL" "$@" < /dev/null > /dev/null 2> "$tmp/err" &
	cpid=$!
	pids+=("$cpid")
	if [ -n "$ready" ]; then
		wait_until grep -q "$ready" "$tmp/err"
	else
		# The connect is under way once the daemon lists it.
		wait_until eval '"$CTL" list | grep -q connecting'
	fi
	kill -9 "$dpid"
	wait "$dpid" 2>/dev/null
	check "$what: tisockctl ends" wait_until gone "$cpid"
	if gone "$cpid"; then wait "$cpid"; rc=$?; else kill "$cpid"; rc=timeout; fi
	check "$what: exit status 3, the daemon gone (got $rc)" [ "$rc" = 3 ]
	check "$what: it says the daemon went away" grep -q 'the daemon went away' "$tmp/err"
}
waiting_daemon_dies "listen, waiting for a client" "listening on" listen 0
exec 4> >("$PEER" blackhole "$tmp/hole.port")
wait_until test -s "$tmp/hole.port"
waiting_daemon_dies "connect, under way" "" connect "127.0.0.1:$(cat "$tmp/hole.port")"
exec 4>&-

finish
