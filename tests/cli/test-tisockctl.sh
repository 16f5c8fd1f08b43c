#!/bin/bash
# tisockctl against a real tisockd on a temporary socket, with loopback
# peers from cli-peer: call and its exit codes, info/ping/methods, slips
# forgiven (options anywhere, suggestions, JSON positions, --json errors,
# the unreachable message), list --state/--open, connect --progress/-v,
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

# --- slips forgiven: options anywhere, suggestions, positions, --json errors --
check "an option after the command: info --json" \
	jq -se 'length == 1 and .[0].name == "tisockd"' <("$CTL" info --json)
check "an option among the arguments: call tcp.create --json '{}'" \
	jq -se 'length == 1 and .[0].state == "initialized"' <("$CTL" call tcp.create --json '{}')
check "ping -c 2 --json is ping --json -c 2" [ "$("$CTL" ping -c 2 --json | jq -s length)" = 2 ]
check "-- ends the options" bash -c "'$CTL' call -- tcp.create '{}' | jq -e .socket"
"$CTL" inof > "$tmp/out" 2> "$tmp/err"; rc=$?
check "a mistyped command: exit 2 and what was meant" \
	bash -c "[ $rc = 2 ] && grep -q 'no command \"inof\"; did you mean info?' '$tmp/err'"
"$CTL" inof --json > "$tmp/out" 2> "$tmp/err"; rc=$?
check "--json after a usage error: the error is JSON on stdout, nothing on stderr" \
	bash -c "[ $rc = 2 ] && jq -e '.error.type == \"usage\" and .error.exitStatus == 2 and
		(.error.message | test(\"did you mean info\"))' '$tmp/out' && [ ! -s '$tmp/err' ]"
"$CTL" list --stat open > "$tmp/out" 2> "$tmp/err"; rc=$?
check "a mistyped option: exit 2, the nearest option" \
	bash -c "[ $rc = 2 ] && grep -q 'unknown option --stat for list; did you mean --state?' '$tmp/err'"
"$CTL" call tcp.conect '{}' > "$tmp/out" 2> "$tmp/err"; rc=$?
check "call of a mistyped method: exit 1 and the nearest method" \
	bash -c "[ $rc = 1 ] && grep -q 'did you mean tcp.connect?' '$tmp/err'"
"$CTL" --json call tcp.conect > "$tmp/out"; rc=$?
check "call --json of a mistyped method: code -32601 and a suggestion" \
	bash -c "[ $rc = 1 ] && jq -e '.error.code == -32601 and .error.suggestion == \"tcp.connect\" and .error.type == \"daemon\"' '$tmp/out'"
check "describe of a mistyped method: the nearest one" \
	bash -c "'$CTL' describe tcp.conect 2>&1 | grep -q 'did you mean tcp.connect?'"
"$CTL" call tcp.create "$(printf '{"port": 80,\n "host": x}')" > "$tmp/out" 2> "$tmp/err"; rc=$?
check "call with bad JSON: exit 2, line 2, column 10, the line and a caret" \
	bash -c "[ $rc = 2 ] && grep -q 'params are not valid JSON: line 2, column 10' '$tmp/err' &&
		grep -q '^           \^$' '$tmp/err'"
"$CTL" --json call tcp.create '{"port" 80}' > "$tmp/out"; rc=$?
check "call --json with bad JSON: line and column in the error object" \
	bash -c "[ $rc = 2 ] && jq -e '.error.line == 1 and .error.column == 9' '$tmp/out'"
"$CTL" --socket "$tmp/none.sock" info > "$tmp/out" 2> "$tmp/err"; rc=$?
check "unreachable: exit 3, the path, and how to start the daemon" \
	bash -c "[ $rc = 3 ] && grep -q \"cannot reach tisockd at $tmp/none.sock: No such file\" '$tmp/err' &&
		grep -q 'systemctl start tisockd.socket' '$tmp/err'"
"$CTL" info --json --socket "$tmp/none.sock" > "$tmp/out" 2> "$tmp/err"; rc=$?
check "unreachable with --json: type, path, errname and hint on stdout" \
	bash -c "[ $rc = 3 ] && jq -e '.error.type == \"unreachable\" and .error.path == \"$tmp/none.sock\" and
		.error.errname == \"ENOENT\" and .error.exitStatus == 3 and (.error.hint | length > 0)' '$tmp/out'"
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	chmod 755 "$tmp" "$tmp/d"
	setpriv --reuid=65534 --regid=65534 --clear-groups "$CTL" info > "$tmp/out" 2> "$tmp/err"; rc=$?
	check "no permission: exit 3, the path, the socket's group and how to join it" \
		bash -c "[ $rc = 3 ] && grep -q \"cannot reach tisockd at $TISOCKD_SOCKET: Permission denied\" '$tmp/err' &&
			grep -q 'belongs to the group \"root\".*usermod -aG root' '$tmp/err'"
else
	echo "# skipped the permission message: not root"
fi
check "--timeout takes units: 2s" "$CTL" --timeout 2s ping
check "--timeout with a bad unit: exit 2" [ "$(status "$CTL" ping --timeout 2x)" = 2 ]
check "--help after the command: that command's help" \
	bash -c "'$CTL' list --help | grep -q -- '--state STATE' && '$CTL' list --help | grep -q -- '--open'"
check "help COMMAND is COMMAND --help" [ "$("$CTL" help connect)" = "$("$CTL" connect --help)" ]
check "help of a mistyped command: the nearest one, exit 2" \
	bash -c "'$CTL' help conect 2>&1 | grep -q 'did you mean connect?'; [ \${PIPESTATUS[0]} = 2 ]"
check "monitor --event with a mistyped kind: exit 2, the nearest kind" \
	bash -c "timeout 10 '$CTL' monitor --event creat 2>&1 | grep -q 'did you mean create?'"
check "info: the uptime with units" \
	grep -Eq '^uptime: ([0-9]+ ms|([0-9.]+ s|[0-9]+m [0-9]+s|[0-9]+h [0-9]+m|[0-9]+d [0-9]+h) \([0-9]+ ms\))$' <("$CTL" info)
check "info: durations in ms say so" grep -q '^limits.lingerMs: 60000 ms$' <("$CTL" info)
check "tisockd --help: --foreground as the README uses it, not \"the only mode\"" \
	bash -c "'$DAEMON' --help | grep -q -- '--foreground  *run in the foreground' && ! '$DAEMON' --help | grep -q 'only mode'"
check "tisockctl --help lists every command, metrics too" \
	bash -c "'$CTL' --help | grep -q '^  metrics ' && '$CTL' --help | grep -q 'anywhere on the line'"

# --- list --state and --open ----------------------------------------------------
mkfifo "$tmp/hold-list"
socat -t 30 - "UNIX-CONNECT:$TISOCKD_SOCKET" < "$tmp/hold-list" > "$tmp/hold-list.out" &
hpid=$!
pids+=("$hpid")
exec 5> "$tmp/hold-list"
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tcp.create"}' '{"jsonrpc":"2.0","id":2,"method":"tcp.create"}' >&5
wait_until bash -c "[ \$(wc -l < '$tmp/hold-list.out') = 2 ]"
hs1=$(sed -n 1p "$tmp/hold-list.out" | jq .result.socket)
hs2=$(sed -n 2p "$tmp/hold-list.out" | jq .result.socket)
printf '{"jsonrpc":"2.0","id":3,"method":"tcp.close","params":{"socket":%s}}\n' "$hs2" >&5
wait_until bash -c "[ \$(wc -l < '$tmp/hold-list.out') = 3 ]"
"$CTL" --json list > "$tmp/all.json"
check "list: the closed socket is there" jq -se "map(select(.socket == $hs2 and .state == \"closed\")) | length == 1" "$tmp/all.json"
"$CTL" list --open --json > "$tmp/open.json"
check "list --open: the open one, not the closed one" \
	jq -se "(map(select(.socket == $hs1)) | length == 1) and (map(select(.state == \"closed\" or .state == \"error\")) | length == 0)" "$tmp/open.json"
"$CTL" list --state closed --json > "$tmp/closed.json"
check "list --state closed: closed ones only, ours among them" \
	jq -se "(map(select(.state != \"closed\")) | length == 0) and (map(select(.socket == $hs2)) | length == 1)" "$tmp/closed.json"
check "list --state initialized,closed: both" \
	bash -c "[ \"\$('$CTL' list --state initialized,closed --json | jq -s 'map(select(.socket == $hs1 or .socket == $hs2)) | length')\" = 2 ]"
check "list --state in text: the header and only those rows" \
	bash -c "'$CTL' list --state closed | awk 'NR > 1 && \$3 != \"closed\" { bad = 1 } END { exit bad }'"
exec 5>&-
wait "$hpid" 2>/dev/null

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
# --- connect --progress and -v ---------------------------------------------------
"$PEER" echo-server "$tmp/echo3.port" &
pids+=($!)
wait_until test -s "$tmp/echo3.port"
head -c 3000000 "$tmp/big" > "$tmp/three"
"$CTL" connect --progress -v "127.0.0.1:$(cat "$tmp/echo3.port")" < "$tmp/three" > "$tmp/three.out" 2> "$tmp/progress.err"; rc=$?
check "connect --progress -v: exit 0, the bytes back intact" bash -c "[ $rc = 0 ] && cmp -s '$tmp/three' '$tmp/three.out'"
check "--progress: bytes, rates and elapsed time on stderr" \
	grep -Eq '^sent [0-9.]+ [KMG]?i?B \([0-9.]+ [KMG]?i?B/s\), received [0-9.]+ [KMG]?i?B \([0-9.]+ [KMG]?i?B/s\), [0-9]+:[0-9]{2}:[0-9]{2}$' "$tmp/progress.err"
check "-v: a summary with the exact byte counts" \
	grep -q "^tisockctl: 127.0.0.1:[0-9]*: sent .*(3000000 bytes sent, 3000000 received in [0-9.]* s)$" "$tmp/progress.err"
"$PEER" echo-server "$tmp/echo4.port" &
pids+=($!)
wait_until test -s "$tmp/echo4.port"
"$CTL" --json connect --channel -v --progress "127.0.0.1:$(cat "$tmp/echo4.port")" < "$tmp/three" > "$tmp/three.out" 2> "$tmp/progress.json"; rc=$?
check "connect --channel --json -v: JSON progress and summary lines on stderr" \
	bash -c "[ $rc = 0 ] && cmp -s '$tmp/three' '$tmp/three.out' &&
		jq -se 'map(select(.event == \"summary\" and .sent == 3000000 and .received == 3000000)) | length == 1' '$tmp/progress.json'"
check "connect --json to a closed port: the error is JSON on stderr, stdout stays data" \
	bash -c "'$CTL' --json connect 127.0.0.1:1 < /dev/null 2>&1 >/dev/null | jq -e '.error.exitStatus == 1'"
rm -f "$tmp/big" "$tmp/big.out" "$tmp/three" "$tmp/three.out"

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
