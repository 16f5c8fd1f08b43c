#!/bin/bash
# tisockctl against a real tisockd on a temporary socket, with loopback
# peers from cli-peer: call and its exit codes, info/ping/methods,
# connect to an HTTP server, listen with binary data both ways, a large
# file through connect, list and monitor watching another client,
# monitor permissions (run as other users when root), and a monitor that
# never reads being dropped while the daemon stays healthy.
#
# Every wait polls its condition with a deadline.  TISOCK_DAEMON_WRAPPER
# (valgrind, say) runs the daemon; the big transfer is then smaller.
set -u

b=${top_builddir:-.}
CTL=$b/client/tisockctl
PEER=$b/tests/cli/cli-peer
DAEMON=$b/daemon/tisockd
DEADLINE=${TISOCK_CLI_DEADLINE:-30}
BIG_MB=64
[ -n "${TISOCK_DAEMON_WRAPPER:-}" ] && BIG_MB=8

. "${top_srcdir:-.}/tests/lib.sh"
json_lines() { jq -se 'length > 0' "$1" >/dev/null 2>&1; }

export TISOCKD_SOCKET=$tmp/d/tisockd.sock
mkdir -p "$tmp/d"
printf '[daemon]\nlinger-ms = 60000\nresolver-lookups = f\n' > "$tmp/tisockd.conf"
${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground --config "$tmp/tisockd.conf" \
	--socket "$TISOCKD_SOCKET" 2> "$tmp/daemon.log" &
dpid=$!
pids+=("$dpid")
if ! wait_until "$CTL" ping; then
	echo "FAIL the daemon did not come up"; cat "$tmp/daemon.log"; exit 1
fi

# --- request/answer commands and exit codes -----------------------------
check "info names the daemon" grep -q '^name: tisockd$' <("$CTL" info)
"$CTL" --json info > "$tmp/info.json"
check "info --json is one JSON object with counters" \
	jq -e '.counters.clients >= 1 and .limits.clients > 0' "$tmp/info.json"
check "ping prints a round-trip time" grep -Eq 'time=[0-9.]+ ms' <("$CTL" ping -c 2)
check "ping --json gives 3 JSON lines" [ "$("$CTL" --json ping -c 3 | jq -s length)" = 3 ]
check "methods lists tcp.read and monitor.event" \
	bash -c "'$CTL' methods | grep -q '^tcp.read ' && '$CTL' methods | grep -q '^monitor.event '"
check "methods --json is JSON lines" json_lines <("$CTL" --json methods)
check "describe shows the params" grep -q 'length .*optional.*16777216' <("$CTL" describe tcp.read)
check "describe of an unknown method exits 1" [ "$(status "$CTL" describe tcp.nope)" = 1 ]
check "call prints the result" \
	[ "$("$CTL" call tcp.create '{"port":80}' | jq -r .state)" = initialized ]
check "call reads params from stdin" \
	[ "$(echo '{"host":"::1","port":1}' | "$CTL" call tcp.create - | jq -r .socket)" -gt 0 ]
"$CTL" call tcp.read '{"socket":999999}' > "$tmp/out" 2> "$tmp/err"; rc=$?
check "call: a daemon error exits 1" [ $rc = 1 ]
check "call: the error code and data on stderr" grep -q 'error -32001: no such socket {"socket":999999}' "$tmp/err"
"$CTL" --json call tcp.read '{"socket":"x"}' > "$tmp/out" 2>/dev/null; rc=$?
check "call --json: the error object on stdout, exit 1" \
	bash -c "[ $rc = 1 ] && jq -e '.error.code == -32602 and .error.data.param == \"socket\"' '$tmp/out'"
check "call: params that are not a JSON object exit 2" [ "$(status "$CTL" call tcp.create '[1]')" = 2 ]
check "call: a method that does not exist exits 1" [ "$(status "$CTL" call no.such)" = 1 ]
check "an unknown command exits 2" [ "$(status "$CTL" frobnicate)" = 2 ]
check "no daemon at the socket exits 3" [ "$(status "$CTL" --socket "$tmp/none.sock" info)" = 3 ]
check "listen without a client times out with exit 4" \
	[ "$(status "$CTL" --timeout 300 listen 0)" = 4 ]
check "--help lists every command" bash -c "'$CTL' --help | grep -q '^  monitor '"
check "call --help lists the methods and their params" \
	bash -c "'$CTL' call --help | grep -q '^  daemon.monitor '"

# --- call: Ctrl-C cancels the pending request ------------------------------
# A connect to a listener with a full backlog hangs; SIGINT makes tisockctl
# send rpc.cancel and print the -32800 answer; the daemon serves on.
exec 4> >("$PEER" blackhole "$tmp/hole.port")
wait_until test -s "$tmp/hole.port"
"$CTL" call tcp.connect "{\"port\":$(cat "$tmp/hole.port"),\"timeout\":0}" \
	> "$tmp/cancel.out" 2> "$tmp/cancel.err" &
cpid=$!
pids+=("$cpid")
connecting() { "$CTL" call tcp.list '{"all":true}' | jq -e 'any(.sockets[]; .state == "connecting")'; }
check "call: the connect is pending" wait_until connecting
kill -INT "$cpid"
wait_until gone "$cpid"; wait "$cpid"; rc=$?
check "call: SIGINT cancels, exit 1" [ $rc = 1 ]
check "call: SIGINT prints the -32800 answer" \
	grep -q 'error -32800: request cancelled {"socket":[0-9]*' "$tmp/cancel.err"
check "call: the daemon still serves after the cancel" grep -q '^name: tisockd$' <("$CTL" info)
exec 4>&-

# --- connect: an HTTP exchange, byte for byte -----------------------------
printf 'HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: 7\r\n\r\n\001\000\377abcd' > "$tmp/response"
"$PEER" http-server "$tmp/http.port" "$tmp/response" "$tmp/request" &
pids+=($!)
wait_until test -s "$tmp/http.port"
printf 'GET /x HTTP/1.0\r\nHost: localhost\r\n\r\n' > "$tmp/get"
"$CTL" connect "127.0.0.1:$(cat "$tmp/http.port")" < "$tmp/get" > "$tmp/got"; rc=$?
check "connect exits 0 after the exchange" [ $rc = 0 ]
check "connect: the response arrives byte for byte" cmp -s "$tmp/response" "$tmp/got"
check "connect: the server got the request byte for byte" cmp -s "$tmp/get" "$tmp/request"
check "connect to a closed port exits 1" [ "$(status "$CTL" connect 127.0.0.1:1 < /dev/null)" = 1 ]
check "connect with a bad endpoint exits 2" [ "$(status "$CTL" connect nowhere)" = 2 ]

# --- listen 0: binary data both ways with a real client ------------------
head -c 300000 /dev/urandom > "$tmp/a"
head -c 200000 /dev/urandom > "$tmp/b"
"$CTL" listen 0 < "$tmp/a" > "$tmp/got-b" 2> "$tmp/listen.err" &
lpid=$!
pids+=("$lpid")
check "listen 0 prints the chosen port" wait_until grep -Eq '^listening on 127.0.0.1:[0-9]+$' "$tmp/listen.err"
port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/listen.err")
"$PEER" client "$port" "$tmp/b" "$tmp/got-a"
wait "$lpid"; rc=$?
check "listen exits 0 when both directions are done" [ $rc = 0 ]
if ! cmp -s "$tmp/b" "$tmp/got-b"; then
	echo "# b: $(wc -c < "$tmp/b") bytes, got-b: $(wc -c < "$tmp/got-b") bytes"
	cmp "$tmp/b" "$tmp/got-b" 2>&1 | sed 's/^/# /'
	sed 's/^/# /' "$tmp/listen.err"
fi
check "listen: the client's bytes arrive intact" cmp -s "$tmp/b" "$tmp/got-b"
check "listen: stdin reaches the client intact" cmp -s "$tmp/a" "$tmp/got-a"

# --- a large file through connect, echoed back -----------------------------
head -c $((BIG_MB << 20)) /dev/urandom > "$tmp/big"
"$PEER" echo-server "$tmp/echo.port" &
pids+=($!)
wait_until test -s "$tmp/echo.port"
"$CTL" connect "127.0.0.1:$(cat "$tmp/echo.port")" < "$tmp/big" > "$tmp/big.out"; rc=$?
check "connect: $BIG_MB MiB through an echo server exits 0" [ $rc = 0 ]
check "connect: $BIG_MB MiB comes back with the same SHA-256" \
	[ "$(sha256sum < "$tmp/big" | cut -d' ' -f1)" = "$(sha256sum < "$tmp/big.out" | cut -d' ' -f1)" ]
rm -f "$tmp/big.out"
"$PEER" echo-server "$tmp/echo2.port" &
pids+=($!)
wait_until test -s "$tmp/echo2.port"
"$CTL" connect --channel "127.0.0.1:$(cat "$tmp/echo2.port")" < "$tmp/big" > "$tmp/big.out"; rc=$?
check "connect --channel: $BIG_MB MiB through the data channel exits 0" [ $rc = 0 ]
check "connect --channel: the same SHA-256 back" \
	[ "$(sha256sum < "$tmp/big" | cut -d' ' -f1)" = "$(sha256sum < "$tmp/big.out" | cut -d' ' -f1)" ]
rm -f "$tmp/big" "$tmp/big.out"

# --- list and monitor watch another client --------------------------------
"$CTL" --json monitor > "$tmp/mon.json" 2> "$tmp/mon.err" &
mpid=$!
pids+=("$mpid")
"$CTL" monitor --event create > "$tmp/mon-create.txt" 2>&1 &
m2pid=$!
pids+=("$m2pid")
check "monitor is registered" wait_until bash -c "[ \"\$('$CTL' --json info | jq .counters.monitors)\" = 2 ]"
"$CTL" listen 0 < /dev/null > /dev/null 2> "$tmp/l2.err" &
l2pid=$!
pids+=("$l2pid")
wait_until grep -q '^listening on' "$tmp/l2.err"
l2port=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/l2.err")
"$CTL" list > "$tmp/list.txt"
check "list shows the other client's listening socket with its pid" \
	grep -Eq "^[0-9]+ +$l2pid/$(id -u) +listening +127.0.0.1:$l2port " "$tmp/list.txt"
"$CTL" --json list > "$tmp/list.json"
check "list --json: JSON lines, the socket owned by that pid" \
	jq -se "map(select(.owner.pid == $l2pid and .state == \"listening\")) | length == 1" "$tmp/list.json"
kill "$l2pid"; wait "$l2pid" 2>/dev/null
check "monitor saw the client's create" \
	wait_until jq -se "map(select(.pid == $l2pid and .event == \"create\")) | length >= 1" "$tmp/mon.json"
check "monitor saw it listening" \
	wait_until jq -se "map(select(.pid == $l2pid and .event == \"state\" and .to == \"listening\")) | length == 1" "$tmp/mon.json"
check "monitor saw it disconnect" \
	wait_until jq -se "map(select(.pid == $l2pid and .event == \"client.disconnect\")) | length == 1" "$tmp/mon.json"
check "monitor --json output is valid JSON lines" jq -se 'length > 0' "$tmp/mon.json"
check "monitor --event create prints only creates" \
	bash -c "grep -q ' pid $l2pid uid [0-9]* socket [0-9]* create\$' '$tmp/mon-create.txt' && ! grep -vq ' create\$' '$tmp/mon-create.txt'"
kill -INT "$mpid"; wait "$mpid"; rc=$?
check "monitor exits 0 on SIGINT" [ $rc = 0 ]
kill -INT "$m2pid"; wait "$m2pid"

# --- permissions: monitor and close for root and the daemon's user only -----
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	nob=65534 other=65533
	as() { local u=$1; shift; setpriv --reuid="$u" --regid=$nob --clear-groups "$@"; }
	chmod 755 "$tmp"
	mkdir -m 755 "$tmp/d2"
	chown $nob:$nob "$tmp/d2"
	if as $nob test -x "$DAEMON" && as $nob "$CTL" --version >/dev/null 2>&1; then
		setpriv --reuid=$nob --regid=$nob --clear-groups "$DAEMON" --foreground \
			--config /dev/null --socket "$tmp/d2/s.sock" 2> "$tmp/d2.log" &
		pids+=($!)
		wait_until "$CTL" --socket "$tmp/d2/s.sock" ping
		as $other "$CTL" --socket "$tmp/d2/s.sock" monitor > /dev/null 2> "$tmp/perm.err"; rc=$?
		check "monitor by another user is refused with exit 1" [ $rc = 1 ]
		check "the refusal says -32003" grep -q 'error -32003' "$tmp/perm.err"
		check "close by another user is refused" \
			bash -c "setpriv --reuid=$other --regid=$nob --clear-groups '$CTL' --socket '$tmp/d2/s.sock' close 1 2>&1 | grep -q -- -32003"
		check "the daemon's own user may monitor" \
			[ "$(as $nob "$CTL" --socket "$tmp/d2/s.sock" call daemon.monitor | jq .monitoring)" = true ]
		check "root may monitor a daemon of another user" \
			[ "$("$CTL" --socket "$tmp/d2/s.sock" call daemon.monitor | jq .monitoring)" = true ]
	else
		echo "# skipped: the build tree is not usable by uid $nob"
	fi
else
	echo "# skipped: monitor permissions need root and setpriv"
fi

# --- a monitor that never reads is dropped; the daemon stays healthy --------
mkfifo "$tmp/hold"
exec 3<> "$tmp/hold"
"$PEER" monitor-stall "$TISOCKD_SOCKET" < "$tmp/hold" > "$tmp/stall.out" 3>&- &
spid=$!
pids+=("$spid")
wait_until grep -q monitoring "$tmp/stall.out"
wait_until bash -c "[ \"\$('$CTL' --json info | jq .counters.monitors)\" = 1 ]"
# About 400 bytes of events per create and close: 16000 of each is well past 4 MiB.
# The churning client's sockets are numbered from the next id on.
base=$("$CTL" call tcp.create | jq .socket)
awk -v base="$base" 'BEGIN { for (i = 1; i <= 16000; i++) {
	printf "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.create\"}\n", 2 * i
	printf "{\"jsonrpc\":\"2.0\",\"id\":%d,\"method\":\"tcp.close\",\"params\":{\"socket\":%d}}\n", 2 * i + 1, base + i } }' \
	> "$tmp/churn"
socat -t 30 - "UNIX-CONNECT:$TISOCKD_SOCKET" < "$tmp/churn" > "$tmp/churn.out"
check "the churn was answered in full" [ "$(wc -l < "$tmp/churn.out")" = 32000 ]
check "the stalled monitor was dropped" \
	wait_until bash -c "[ \"\$('$CTL' --json info | jq .counters.monitorsDropped)\" = 1 ]"
check "the daemon answers other clients" "$CTL" ping
check "no monitor is left" [ "$("$CTL" --json info | jq .counters.monitors)" = 0 ]
exec 3>&-
wait "$spid"
check "the dropped monitor reads a final monitor.dropped, then EOF" \
	bash -c "tail -n 1 '$tmp/stall.out' | jq -e '.params.event == \"monitor.dropped\" and .params.reason == \"fell behind\"'"
check "the daemon logged the drop" grep -q 'monitor dropped' "$tmp/daemon.log"

# --- the daemon ends cleanly ----------------------------------------------
kill -TERM "$dpid"
wait "$dpid"; rc=$?
check "the daemon exits 0 on SIGTERM" [ $rc = 0 ]

finish
