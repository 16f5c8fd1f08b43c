#!/bin/bash
# Config file errors: the first error in the file is the one reported,
# with its own line, its key and its message; the daemon refuses to start
# (status 78) and --check-config says the same; a reload (SIGHUP) with a
# bad file names file, line and key once and changes nothing; the sample
# configuration parses, and its values are the defaults.
# Every wait polls its condition with a deadline.
set -u

b=${top_builddir:-.}
s=${top_srcdir:-.}
CTL=$b/client/tisockctl
DAEMON=$b/daemon/tisockd
DEADLINE=30

. "${top_srcdir:-.}/tests/lib.sh"

# start CONF: runs the daemon in the foreground on a socket of its own; the
# exit status goes to $rc and stderr to $tmp/err.  Bounded: a daemon that
# starts is stopped at once and counts as status 0.
start() {
	rm -f "$tmp/s.sock"
	timeout 20 "$DAEMON" --foreground --socket "$tmp/s.sock" --config "$1" 2> "$tmp/err" &
	local p=$!
	# A good file would start: stop it as soon as it listens.
	while kill -0 "$p" 2>/dev/null; do
		if [ -S "$tmp/s.sock" ]; then kill "$p"; fi
		sleep 0.02
	done
	wait "$p"; rc=$?
}

# --- the first error wins, with its own line, key and message -------------
printf '[limits]\nclients = 0\nsockets = 5\nclientz = 3\n' > "$tmp/two.conf"
start "$tmp/two.conf"
check "two bad lines: the daemon refuses to start with status 78 (got $rc)" [ $rc = 78 ]
check "two bad lines: the first (line 2, [limits] clients) is reported with its message" \
	grep -q "^tisockd: config: $tmp/two.conf:2: \[limits\] clients: expected a number from 1 to 1000000, got \"0\"$" "$tmp/err"
check "two bad lines: the later one's message is not printed" bash -c "! grep -q clientz '$tmp/err'"
sed 's/^/# /' "$tmp/err"

printf '[limits]\nclientz = 3\nclients = 0\n' > "$tmp/typo.conf"
start "$tmp/typo.conf"
check "an unknown key: line 2, the key, and what it may have meant" \
	grep -q "typo.conf:2: unknown key \[limits\] clientz (did you mean \[limits\] clients?)" "$tmp/err"

printf '[daemon]\nlinger-ms = 10\nthis is no key\nclients = 7\n' > "$tmp/syntax.conf"
start "$tmp/syntax.conf"
check "a syntax error before a bad key: its line (3), status 78" \
	bash -c "[ $rc = 78 ] && grep -q 'syntax.conf:3: syntax error: expected \"key = value\" or \"\[section\]\", got \"this is no key\"' '$tmp/err'"

printf '[daemon]\nclients = 7\nthis is no key\n' > "$tmp/syntax2.conf"
start "$tmp/syntax2.conf"
check "a key in the wrong section before a syntax error: its line (2), and where it belongs" \
	grep -q 'syntax2.conf:2: \[daemon\] clients: this key belongs in \[limits\]' "$tmp/err"

{ printf '[policy]\nrule = deny connect dest='; for i in $(seq 1 40); do printf '10.0.0.%d,' "$i"; done
  printf '10.0.1.1\n[limits]\nclients = 0\n'; } > "$tmp/long.conf"
start "$tmp/long.conf"
check "a line too long for the parser is an error of its own at its line (2)" \
	grep -q 'long.conf:2: line longer than' "$tmp/err"

printf '[limits]\nclients = 8\n' > "$tmp/good.conf"
"$DAEMON" --check-config --config "$tmp/good.conf" > "$tmp/out" 2>&1; rc=$?
check "--check-config: a good file says ok, status 0" \
	bash -c "[ $rc = 0 ] && grep -qx '$tmp/good.conf: ok' '$tmp/out'"
"$DAEMON" -t --config "$tmp/two.conf" > "$tmp/out" 2>&1; rc=$?
check "-t: a bad file, status 78 and the same message" \
	bash -c "[ $rc = 78 ] && grep -q 'two.conf:2: \[limits\] clients' '$tmp/out'"
"$DAEMON" -t --config "$tmp/missing.conf" > "$tmp/out" 2>&1; rc=$?
check "--check-config: a missing --config file is an error (78)" [ $rc = 78 ]

# --- a reload with a bad file changes nothing, and says where ------------
printf '[limits]\nclients = 8\n' > "$tmp/live.conf"
"$DAEMON" --foreground --socket "$tmp/live.sock" --config "$tmp/live.conf" 2> "$tmp/live.log" &
dpid=$!
pids+=("$dpid")
check "the daemon starts with a good file" wait_until "$CTL" --socket "$tmp/live.sock" ping
printf '[limits]\nclients = 9\nsockets = x\n[daemon]\nbad-key = 1\n' > "$tmp/live.conf"
kill -HUP "$dpid"
check "reload: the first error is logged with file, line and key" \
	wait_until grep -q "reload: $tmp/live.conf:3: \[limits\] sockets: expected a number" "$tmp/live.log"
check "reload: the path is named once" bash -c "! grep -q 'live.conf: $tmp/live.conf' '$tmp/live.log'"
check "reload: nothing changed (clients still 8)" \
	bash -c "[ \"\$('$CTL' --socket '$tmp/live.sock' --json info | jq .limits.clients)\" = 8 ]"
check "reload: the daemon still runs" kill -0 "$dpid"
kill -TERM "$dpid"; wait "$dpid"

# --- the sample configuration -----------------------------------------------
sample=$s/doc/tisockd.conf.sample
"$DAEMON" --check-config --config "$sample" > /dev/null 2>&1; rc=$?
check "the sample configuration parses as it is" [ $rc = 0 ]
# Its [daemon] numbers and [limits], uncommented, are the defaults.
sed -E 's/^#((max|client|clients|sockets|uid|input|connect|linger|resolver)[a-z-]* = )/\1/' \
	"$sample" > "$tmp/sample.conf"
check "the sample's settings, uncommented, parse" "$DAEMON" -t --config "$tmp/sample.conf"
"$DAEMON" --foreground --socket "$tmp/d1.sock" --config /dev/null 2>/dev/null &
p1=$!
"$DAEMON" --foreground --socket "$tmp/d2.sock" --config "$tmp/sample.conf" 2>/dev/null &
p2=$!
pids+=("$p1" "$p2")
wait_until "$CTL" --socket "$tmp/d1.sock" ping
wait_until "$CTL" --socket "$tmp/d2.sock" ping
"$CTL" --socket "$tmp/d1.sock" --json info | jq -S .limits > "$tmp/l1"
"$CTL" --socket "$tmp/d2.sock" --json info | jq -S .limits > "$tmp/l2"
check "the sample's values are the defaults (daemon.info limits)" \
	bash -c "[ -s '$tmp/l1' ] && cmp -s '$tmp/l1' '$tmp/l2'"
for k in $(sed -n 's/^[[:space:]]*K("[a-z]*", "\([a-z-]*\)".*/\1/p' "$s/daemon/conf.c") \
	socket socket-group log-level resolver-lookups metrics-listen audit rule; do
	grep -q "^#$k = " "$sample" || missing="${missing:-} $k"
done
check "the sample shows every key the daemon knows${missing:+ (missing:$missing)}" [ -z "${missing:-}" ]
kill -TERM "$p1" "$p2"; wait "$p1" "$p2"

finish
