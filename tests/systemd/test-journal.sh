#!/bin/bash
# Logging for the journal.  With JOURNAL_STREAM naming the daemon's stderr
# (as systemd sets it), lines go through sd_journal_send with structured
# fields and a MESSAGE_ID per kind of event; without, or when it names
# something else, they are plain on stderr.
#
#  - As root with mount namespaces: the daemon runs with a private /run
#    whose /run/systemd/journal/socket is tests/systemd/fake-journald.py,
#    which decodes the journal's native protocol: a policy denial (audit),
#    a limit hit and an administrator's close arrive with their fields.
#    With no journal socket at all, lines fall back to <N> prefixes.
#  - With journald running: the same denial is found with journalctl.
#  - Always: JOURNAL_STREAM naming another file gives plain lines.
# The field building itself is unit-tested in tests/unit/test-log.c.
set -u

b=${top_builddir:-.}
s=${top_srcdir:-.}
CTL=$b/client/tisockctl
DAEMON=$(cd "$(dirname "$b/daemon/tisockd")" && pwd)/tisockd
FAKE=$(cd "$s/tests/systemd" && pwd)/fake-journald.py
DEADLINE=30

. "${top_srcdir:-.}/tests/lib.sh"

cat > "$tmp/tisockd.conf" <<'CONF'
[daemon]
resolver-lookups = f
[limits]
client-sockets = 2
[policy]
audit = yes
rule = deny connect dest=127.0.0.2
CONF

# The events: a denied connect, a limit hit, an administrator's close.
events() {
	local sock=$1
	"$CTL" --socket "$sock" --json call tcp.connect '{"host":"127.0.0.2","port":9}' > "$tmp/deny.out" 2>&1
	printf '%s\n' \
		'{"jsonrpc":"2.0","id":1,"method":"tcp.create"}' \
		'{"jsonrpc":"2.0","id":2,"method":"tcp.create"}' \
		'{"jsonrpc":"2.0","id":3,"method":"tcp.create"}' |
		socat -t2 - "UNIX-CONNECT:$sock" > "$tmp/limit.out" 2>&1
	"$CTL" --socket "$sock" listen 0 < /dev/null > /dev/null 2> "$tmp/listen.err" &
	local lp=$!
	wait_until grep -q listening "$tmp/listen.err"
	id=$("$CTL" --socket "$sock" --json list | jq 'select(.state == "listening") | .socket')
	"$CTL" --socket "$sock" close "$id" > /dev/null 2>&1
	wait_until gone "$lp"
	kill "$lp" 2>/dev/null
	wait "$lp" 2>/dev/null
}

# field FILE MESSAGE_ID JQ: an entry with that id for which JQ holds.
field() { jq -e --arg id "$2" "select(.MESSAGE_ID == \$id) | $3" "$1" 2>/dev/null | grep -q true; }

MID_DENIED=$(sed -n 's/^#define LOG_MID_POLICY_DENIED[[:space:]]*"\(.*\)"/\1/p' "$s/daemon/log.h")
MID_LIMIT=$(sed -n 's/^#define LOG_MID_LIMIT_HIT[[:space:]]*"\(.*\)"/\1/p' "$s/daemon/log.h")
MID_ADMIN=$(sed -n 's/^#define LOG_MID_ADMIN_CLOSE[[:space:]]*"\(.*\)"/\1/p' "$s/daemon/log.h")
MID_STARTED=$(sed -n 's/^#define LOG_MID_STARTED[[:space:]]*"\(.*\)"/\1/p' "$s/daemon/log.h")

# --- a stand-in journal in a private /run ----------------------------------
if [ "$(id -u)" = 0 ] && unshare -m --propagation private true 2>/dev/null; then
	: > "$tmp/j.err"
	export JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/j.err")
	unshare -m --propagation private bash -c '
		mount -t tmpfs none /run || exit 1
		mkdir -p /run/systemd/journal
		python3 "$1" /run/systemd/journal/socket "$2/journal.jsonl" 60 &
		for i in $(seq 500); do [ -S /run/systemd/journal/socket ] && break; sleep 0.02; done
		echo $$ > "$2/ns.pid"
		exec "$3" --foreground --socket "$2/j.sock" --config "$2/tisockd.conf" 2>> "$2/j.err"
	' ns "$FAKE" "$tmp" "$DAEMON" &
	jpid=$!
	pids+=("$jpid")
	unset JOURNAL_STREAM
	check "the daemon comes up with JOURNAL_STREAM set" wait_until "$CTL" --socket "$tmp/j.sock" ping
	events "$tmp/j.sock"
	J=$tmp/journal.jsonl
	check "journal: the start is logged with its MESSAGE_ID" \
		wait_until field "$J" "$MID_STARTED" '.SYSLOG_IDENTIFIER == "tisockd" and .PRIORITY == "5"'
	check "journal: a policy denial with TISOCK_RULE, TISOCK_DEST, TISOCK_SOCKET, the client's uid and pid" \
		wait_until field "$J" "$MID_DENIED" '.TISOCK_RULE == "deny connect dest=127.0.0.2" and
			.TISOCK_DEST == "127.0.0.2:9" and (.TISOCK_SOCKET | tonumber) > 0 and
			.TISOCK_CLIENT_UID == "0" and (.TISOCK_CLIENT_PID | tonumber) > 0 and
			(.MESSAGE | startswith("policy: denied connect"))'
	check "journal: a limit hit with TISOCK_LIMIT and the client" \
		wait_until field "$J" "$MID_LIMIT" '.TISOCK_LIMIT == "clientSockets" and .TISOCK_CLIENT_UID == "0" and .PRIORITY == "4"'
	check "journal: an administrator's close with TISOCK_SOCKET" \
		wait_until field "$J" "$MID_ADMIN" '(.TISOCK_SOCKET | tonumber) > 0'
	check "journal: nothing went to stderr meanwhile" [ ! -s "$tmp/j.err" ]
	[ -s "$tmp/j.err" ] && sed 's/^/# stderr: /' "$tmp/j.err"
	kill -TERM "$(cat "$tmp/ns.pid")" 2>/dev/null; wait "$jpid"
	echo "# $(wc -l < "$J") journal entries"

	# No journal socket at all: the stream still gets <N> prefixes.
	: > "$tmp/k.err"
	export JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/k.err")
	unshare -m --propagation private bash -c '
		mount -t tmpfs none /run || exit 1
		echo $$ > "$2/ns2.pid"
		exec "$3" --foreground --socket "$2/k.sock" --config "$2/tisockd.conf" 2>> "$2/k.err"
	' ns "$FAKE" "$tmp" "$DAEMON" &
	kpid=$!
	pids+=("$kpid")
	unset JOURNAL_STREAM
	check "no journal socket: the daemon comes up" wait_until "$CTL" --socket "$tmp/k.sock" ping
	events "$tmp/k.sock"
	check "no journal socket: lines carry <N> priority prefixes (<5> for the start)" \
		wait_until grep -q '^<5>listening on ' "$tmp/k.err"
	check "no journal socket: the denial at notice, <5>" grep -q '^<5>policy: denied connect' "$tmp/k.err"
	check "no journal socket: no line without its prefix" bash -c "! grep -qv '^<[0-7]>' '$tmp/k.err'"
	kill -TERM "$(cat "$tmp/ns2.pid")" 2>/dev/null; wait "$kpid"
else
	echo "# skipped the stand-in journal: needs root and mount namespaces"
fi

# --- the real journal, when journald runs -------------------------------------
if [ -S /run/systemd/journal/socket ] && command -v journalctl >/dev/null &&
   journalctl -n 0 >/dev/null 2>&1; then
	: > "$tmp/r.err"
	JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/r.err") "$DAEMON" --foreground \
		--socket "$tmp/r.sock" --config "$tmp/tisockd.conf" 2>> "$tmp/r.err" &
	rpid=$!
	pids+=("$rpid")
	wait_until "$CTL" --socket "$tmp/r.sock" ping
	events "$tmp/r.sock"
	check "journalctl: the denial with its fields" \
		wait_until bash -c "journalctl -o json _PID=$rpid MESSAGE_ID=$MID_DENIED |
			jq -e 'select(.TISOCK_DEST == \"127.0.0.2:9\")' >/dev/null"
	kill -TERM "$rpid"; wait "$rpid"
else
	echo "# skipped journalctl: journald is not running here (the stand-in above covers the fields)"
fi

# --- JOURNAL_STREAM naming another file: plain lines --------------------------
: > "$tmp/other"
JOURNAL_STREAM=$(stat -c '%d:%i' "$tmp/other") "$DAEMON" --foreground \
	--socket "$tmp/p.sock" --config "$tmp/tisockd.conf" 2> "$tmp/p.err" &
ppid_=$!
pids+=("$ppid_")
check "JOURNAL_STREAM for another file: plain lines" \
	wait_until grep -q '^tisockd: listening on ' "$tmp/p.err"
kill -TERM "$ppid_"; wait "$ppid_"
check "JOURNAL_STREAM for another file: no <N> prefixes" bash -c "! grep -q '^<[0-7]>' '$tmp/p.err'"

finish
