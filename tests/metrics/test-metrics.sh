#!/bin/bash
# daemon.metrics, tisockctl metrics and GET /metrics on metrics-listen:
#  - the text parses with prometheus_client's own parser (Debian's
#    python3-prometheus-client), every family has HELP and TYPE, histograms
#    are cumulative (tests/metrics/parse-metrics.py);
#  - the figures move as traffic flows: bytes both ways, requests by
#    method, connect and handshake histograms, sockets by state, errors by
#    code, limit hits by name, policy denials by rule, per-uid gauges;
#  - per-uid figures are bounded: 12 uids give the top 10 and "other";
#  - daemon.metrics is for root and the daemon's uid only (-32003);
#  - HTTP: GET and HEAD /metrics, 404, 405, a request too large (431), a
#    client that sends nothing does not hold up others, more than 16 at
#    once get 503; the same families as daemon.metrics.
# Skipped (77) without python3 and its prometheus_client module.
set -u

b=${top_builddir:-.}
s=${top_srcdir:-.}
CTL=$b/client/tisockctl
PEER=$b/tests/cli/cli-peer
DAEMON=$b/daemon/tisockd
DEADLINE=30

PY=
for p in /usr/bin/python3 python3; do
	if "$p" -c 'import prometheus_client.parser' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || { echo "# skipped: no python3 with prometheus_client (python3-prometheus-client)"; exit 77; }
PARSE="$PY $s/tests/metrics/parse-metrics.py"

. "${top_srcdir:-.}/tests/lib.sh"

chmod 0755 "$tmp"
S=$tmp/m.sock
# Root lets other uids (65534's group) in, for the per-uid and privilege checks.
group=
[ "$(id -u)" = 0 ] && group="socket-group = 65534"
cat > "$tmp/tisockd.conf" <<CONF
[daemon]
resolver-lookups = f
metrics-listen = 127.0.0.1:0
$group
[limits]
client-sockets = 3
[policy]
rule = deny connect dest=127.0.0.2
CONF
"$DAEMON" --foreground --socket "$S" --config "$tmp/tisockd.conf" 2> "$tmp/daemon.log" &
dpid=$!
pids+=("$dpid")
if ! wait_until "$CTL" --socket "$S" ping; then
	echo "FAIL the daemon did not come up"; cat "$tmp/daemon.log"; exit 1
fi
check "the daemon says where the metrics are" \
	wait_until grep -q 'metrics: GET http://127.0.0.1:[0-9]*/metrics' "$tmp/daemon.log"
HTTP=$(sed -n 's|.*metrics: GET http://\(127.0.0.1:[0-9]*\)/metrics.*|\1|p' "$tmp/daemon.log" | head -1)

# snap NAME: the parsed exposition from tisockctl metrics, in $tmp/NAME.json.
snap() { "$CTL" --socket "$S" metrics | $PARSE > "$tmp/$1.json"; }
# val FILE FAMILY [LABELS-JQ]: the value of the first sample of FAMILY (matching LABELS).
val() {
	jq -r --arg f "$2" ".[\$f].samples | map(select(${3:-true})) | .[0].value // \"none\"" \
		"$tmp/$1.json"
}
# is FILE FAMILY SAMPLE-FILTER N: the sample's value is N.
is() { local x; x=$(val "$1" "$2" "$3"); [ "$x" != none ] && jq -en "$x == $4" >/dev/null; }
# grew A B FAMILY SAMPLE-FILTER MIN: the sample grew by at least MIN from A to B.
grew() {
	local x y
	x=$(val "$1" "$3" "$4"); y=$(val "$2" "$3" "$4")
	[ "$x" != none ] && [ "$y" != none ] && jq -en "$y - $x >= $5" >/dev/null
}

snap m0
check "tisockctl metrics parses with prometheus_client's parser" [ -s "$tmp/m0.json" ]
for f in tisock_info tisock_clients_connected tisock_clients tisock_sockets tisock_bytes \
	tisock_requests tisock_errors tisock_limit_hits tisock_policy_denials \
	tisock_connect_duration_seconds tisock_tcp_handshake_duration_seconds tisock_uid_sockets \
	tisock_uid_clients tisock_uids tisock_reloads tisock_start_time_seconds; do
	check "family $f is there" jq -e --arg f "$f" 'has($f)' "$tmp/m0.json"
done
check "counters are counters, histograms histograms" jq -e '.tisock_bytes.type == "counter" and
	.tisock_connect_duration_seconds.type == "histogram" and .tisock_sockets.type == "gauge"' "$tmp/m0.json"
check "tisock_info names the version" jq -e '.tisock_info.samples[0].labels.version | length > 0' "$tmp/m0.json"
check "every method has its requests sample" \
	jq -e '[.tisock_requests.samples[].labels.method] | index("tcp.connect") and index("daemon.metrics")' "$tmp/m0.json"
check "sockets by state: every state, including closing" \
	jq -e '[.tisock_sockets.samples[].labels.state] | index("connected") and index("closing") and index("listening")' "$tmp/m0.json"

# --- traffic ---------------------------------------------------------------
head -c 1000000 /dev/urandom > "$tmp/data"
"$PEER" echo-server "$tmp/echo.port" &
pids+=($!)
wait_until test -s "$tmp/echo.port"
"$CTL" --socket "$S" connect "127.0.0.1:$(cat "$tmp/echo.port")" < "$tmp/data" > "$tmp/back"
check "1 MB through an echo server" cmp -s "$tmp/data" "$tmp/back"
"$CTL" --socket "$S" call tcp.read '{"socket":424242}' > /dev/null 2>&1
"$CTL" --socket "$S" call tcp.connect '{"host":"127.0.0.2","port":9}' > /dev/null 2>&1
printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"tcp.create"}' '{"jsonrpc":"2.0","id":2,"method":"tcp.create"}' \
	'{"jsonrpc":"2.0","id":3,"method":"tcp.create"}' '{"jsonrpc":"2.0","id":4,"method":"tcp.create"}' |
	socat -t2 - "UNIX-CONNECT:$S" > "$tmp/limit.out"
check "the fourth socket of a client is refused (-32005)" grep -q '"limit":"clientSockets"' "$tmp/limit.out"
# A client holding a listening socket for the per-uid and by-state figures.
"$CTL" --socket "$S" listen 0 < /dev/null > /dev/null 2> "$tmp/listen.err" &
lpid=$!
pids+=("$lpid")
wait_until grep -q '^listening on' "$tmp/listen.err"
snap m1
check "bytes received from TCP peers grew by the 1 MB echoed" grew m0 m1 tisock_bytes '.labels.direction == "received"' 1000000
check "bytes sent to TCP peers grew by 1 MB" grew m0 m1 tisock_bytes '.labels.direction == "sent"' 1000000
check "requests of tcp.connect grew" grew m0 m1 tisock_requests '.labels.method == "tcp.connect"' 2
check "requests of tcp.write grew" grew m0 m1 tisock_requests '.labels.method == "tcp.write"' 1
check "the connect histogram counted the connect" grew m0 m1 tisock_connect_duration_seconds '.name | endswith("_count")' 1
check "the handshake histogram counted it" grew m0 m1 tisock_tcp_handshake_duration_seconds '.name | endswith("_count")' 1
check "... with a positive duration" jq -en "$(val m1 tisock_tcp_handshake_duration_seconds '.name | endswith("_sum")') > 0"
check "errors by code: -32001 for the unknown socket" grew m0 m1 tisock_errors '.labels.code == "-32001"' 1
check "errors by code: -32003 for the denied connect" grew m0 m1 tisock_errors '.labels.code == "-32003"' 1
check "limit hits by name: clientSockets" grew m0 m1 tisock_limit_hits '.labels.limit == "clientSockets"' 1
check "policy denials by rule: the rule's text and line" \
	is m1 tisock_policy_denials '.labels.rule == "deny connect dest=127.0.0.2" and .labels.line == "1"' 1
check "sockets by state: one listening" is m1 tisock_sockets '.labels.state == "listening"' 1
check "clients connected: the listener and this call" jq -en "$(val m1 tisock_clients_connected) >= 2"
check "per uid: uid $(id -u) holds the listening socket" \
	jq -en "$(val m1 tisock_uid_sockets ".labels.uid == \"$(id -u)\"") >= 1"
kill "$lpid" 2>/dev/null; wait "$lpid" 2>/dev/null

# --- per-uid cardinality and privilege (as root: other uids) ------------------
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
	upids=()
	for u in $(seq 60001 60012); do
		setpriv --reuid="$u" --regid=65534 --clear-groups \
			"$CTL" --socket "$S" listen 0 < /dev/null > /dev/null 2> "$tmp/u$u.err" &
		upids+=($!)
		pids+=($!)
	done
	for u in $(seq 60001 60012); do wait_until grep -q '^listening on' "$tmp/u$u.err"; done
	snap m2
	check "per uid: 13 uids connected" is m2 tisock_uids true 13
	check "per uid: at most 10 uids by number, then \"other\"" \
		jq -e '[.tisock_uid_sockets.samples[].labels.uid] | (length == 11) and (.[-1] == "other")' "$tmp/m2.json"
	check "per uid: \"other\" sums the rest (3 uids, 2 sockets)" is m2 tisock_uid_sockets '.labels.uid == "other"' 2
	check "per uid: \"other\" counts its clients too (3)" is m2 tisock_uid_clients '.labels.uid == "other"' 3
	setpriv --reuid=60100 --regid=65534 --clear-groups "$CTL" --socket "$S" --json metrics \
		> "$tmp/unpriv.out" 2>&1; rc=$?
	check "daemon.metrics as another user: exit 1, -32003" \
		bash -c "[ $rc = 1 ] && grep -q -- '-32003' '$tmp/unpriv.out'"
	kill "${upids[@]}" 2>/dev/null; wait "${upids[@]}" 2>/dev/null
else
	echo "# skipped the per-uid bound and the privilege check: not root"
fi

# --- HTTP -----------------------------------------------------------------------
# http REQUEST-TEXT: the raw response to one request, via socat.
http() { printf "$1" | socat -t5 - "TCP:$HTTP"; }
export -f http
export HTTP
http 'GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n' > "$tmp/get"
check "GET /metrics: 200 with the exposition's content type" \
	bash -c "head -1 '$tmp/get' | grep -q '^HTTP/1.0 200 OK' && grep -qi '^Content-Type: text/plain; version=0.0.4' '$tmp/get'"
sed '1,/^\r$/d' "$tmp/get" | $PARSE > "$tmp/h.json"
check "GET /metrics: the body parses" [ -s "$tmp/h.json" ]
check "GET /metrics: the same families as daemon.metrics" \
	[ "$(jq -c 'keys' "$tmp/h.json")" = "$(jq -c 'keys' "$tmp/m1.json")" ]
len=$(sed -n 's/^Content-Length: \([0-9]*\)\r$/\1/p' "$tmp/get")
check "GET /metrics: Content-Length is the body's length" [ "$len" = "$(sed '1,/^\r$/d' "$tmp/get" | wc -c)" ]
check "HTTP/1.1 is answered too, then closed" \
	bash -c "http 'GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\n\r\n' | head -1 | grep -q '^HTTP/1.0 200'"
http 'HEAD /metrics HTTP/1.0\r\n\r\n' > "$tmp/head"
check "HEAD /metrics: headers, no body" \
	bash -c "head -1 '$tmp/head' | grep -q 200 && [ -z \"\$(sed '1,/^\r$/d' '$tmp/head')\" ]"
check "GET /nope: 404" bash -c "http 'GET /nope HTTP/1.0\r\n\r\n' | head -1 | grep -q '^HTTP/1.0 404'"
check "POST: 405" bash -c "http 'POST /metrics HTTP/1.0\r\n\r\n' | head -1 | grep -q '^HTTP/1.0 405'"
check "garbage: 400" bash -c "http 'hello\r\n\r\n' | head -1 | grep -q '^HTTP/1.0 400'"
big=$(head -c 5000 /dev/zero | tr '\0' a)
check "a header of 5000 bytes: 431" \
	bash -c "http 'GET /metrics HTTP/1.0\r\nX: $big\r\n\r\n' | head -1 | grep -q '^HTTP/1.0 431'"
# A client that connects and says nothing does not hold up another.
exec 3<>/dev/tcp/${HTTP%:*}/${HTTP#*:}
check "a silent connection does not hold up a scrape" \
	bash -c "http 'GET /metrics HTTP/1.0\r\n\r\n' | head -1 | grep -q 200"
# 16 silent ones fill the server: the next is answered 503 at once.
for i in $(seq 4 18); do eval "exec $i<>/dev/tcp/${HTTP%:*}/${HTTP#*:}"; done
check "beyond 16 connections at once: 503" \
	wait_until bash -c "http 'GET /metrics HTTP/1.0\r\n\r\n' | head -1 | grep -q '^HTTP/1.0 503'"
for i in $(seq 3 18); do eval "exec $i>&-"; done
check "once they go, scrapes are served again" \
	wait_until bash -c "http 'GET /metrics HTTP/1.0\r\n\r\n' | head -1 | grep -q '^HTTP/1.0 200'"
check "the daemon is still up" "$CTL" --socket "$S" ping

kill -TERM "$dpid"; wait "$dpid"; rc=$?
check "the daemon exits 0 with the metrics listener open" [ $rc = 0 ]

# --- a port that is taken: the daemon refuses to start ---------------------------
printf '[daemon]\nmetrics-listen = %s\n' "$HTTP" > "$tmp/busy.conf"
"$PEER" echo-server "$tmp/busy.port" &
pids+=($!)
wait_until test -s "$tmp/busy.port"
printf '[daemon]\nmetrics-listen = 127.0.0.1:%s\n' "$(cat "$tmp/busy.port")" > "$tmp/busy.conf"
timeout 20 "$DAEMON" --foreground --socket "$tmp/b.sock" --config "$tmp/busy.conf" 2> "$tmp/busy.log"; rc=$?
check "metrics-listen on a port in use: exit 1 naming it" \
	bash -c "[ $rc = 1 ] && grep -q 'metrics-listen 127.0.0.1:$(cat "$tmp/busy.port"): Address already in use' '$tmp/busy.log'"

finish
