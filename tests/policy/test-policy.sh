#!/bin/bash
# The [policy] rules against a real tisockd and loopback peers:
#  - the defaults: connect anywhere; listen on loopback, ports >= 1024 only;
#  - -32003 with the deciding rule, its index, the action and the address;
#  - dest= matched against the addresses actually connected to, so a host
#    name cannot reach a denied address; host= rules resolved by the
#    daemon, so an address cannot reach a denied host name;
#  - accept rules (a refused peer is reset, the accept keeps waiting);
#  - audit lines; counters.policyDenials;
#  - SIGHUP: a new policy applies at once, a broken one changes nothing;
#  - a raced connect (Happy Eyeballs) judges every address: a denied one
#    is an attempt with outcome denied.
# test-policy-uids.sh does the same with real uids and groups.
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

# --- the defaults ------------------------------------------------------------
printf '[daemon]\nresolver-lookups = f\n' > "$tmp/tisockd.conf"
start_daemon
check "default: listen on loopback, port 0" \
	jqcall '.state == "listening"' tcp.listen '{"host":"127.0.0.1","port":0}'
check "default: listen on all interfaces is denied, with the rule" \
	jqcall '.error.code == -32003 and .error.data.rule == "(default) deny listen" and
		.error.data.ruleIndex == 0 and .error.data.action == "listen" and
		.error.data.address.address == "0.0.0.0"' tcp.listen '{"host":"0.0.0.0","port":0}'
# The policy sees the port once bound; a user who may not bind port 1000
# is refused by the kernel first (EACCES, -32011).
if [ "$(id -u)" = 0 ] || [ "$(cat /proc/sys/net/ipv4/ip_unprivileged_port_start 2>/dev/null || echo 1024)" -le 1000 ]; then
	check "default: listen below port 1024 is denied" \
		jqcall '.error.code == -32003' tcp.listen '{"host":"127.0.0.1","port":1000}'
else
	check "default: listen below port 1024 is refused (by the kernel first, not root)" \
		jqcall '.error.code == -32011 and .error.data.errname == "EACCES"' tcp.listen '{"host":"127.0.0.1","port":1000}'
fi
echo_peer
check "default: connect is allowed" \
	jqcall '.state == "connected"' tcp.connect "{\"host\":\"127.0.0.1\",\"port\":$port}"
kill -TERM "$dpid"; wait "$dpid"

# --- rules ------------------------------------------------------------------------
cat > "$tmp/tisockd.conf" <<'EOF'
[daemon]
resolver-lookups = f
[policy]
audit = yes
rule = allow connect dest=127.0.0.3 port=1-65535
rule = deny connect dest=127.0.0.0/8,::1
rule = deny connect host=localhost
rule = allow listen dest=127.0.0.1 port=0-65535
rule = deny accept dest=127.0.0.1
EOF
start_daemon
echo_peer
"$CTL" --json call tcp.connect "{\"host\":\"127.0.0.1\",\"port\":$port}" > "$tmp/deny.json" 2>/dev/null
check "a dest= rule denies by address: -32003, rule 2, the address" \
	jq -e ".error.code == -32003 and .error.data.ruleIndex == 2 and
		.error.data.rule == \"deny connect dest=127.0.0.0/8,::1\" and
		.error.data.action == \"connect\" and .error.data.address.port == $port" "$tmp/deny.json"
check "a name cannot reach a denied address (localhost -> 127.0.0.1, ::1)" \
	jqcall '.error.code == -32003' tcp.connect "{\"host\":\"localhost\",\"port\":$port}"
# Rules are ordered: rule 1 allows 127.0.0.3 before rule 2 denies 127/8; the
# network then refuses (nothing listens on port 1), not the policy.
"$CTL" --json call tcp.connect '{"host":"127.0.0.3","port":1}' > "$tmp/allow.json" 2>/dev/null
check "an earlier allow wins: refused by the network (-32011), not by policy" \
	jq -e '.error.code == -32011' "$tmp/allow.json"
check "the audit log records decisions" \
	grep -q 'policy: denied connect by uid .* rule 2: deny connect dest=127.0.0.0/8,::1' "$tmp/daemon.log"
check "policyDenials counts them" \
	bash -c "[ \"\$('$CTL' --json info | jq .counters.policyDenials)\" -ge 2 ]"

# accept: a listener on 127.0.0.1 refuses peers from 127.0.0.1 and keeps waiting.
"$CTL" listen 0 > /dev/null 2> "$tmp/l.err" < /dev/null &
lpid=$!
pids+=("$lpid")
wait_until grep -q '^listening on' "$tmp/l.err"
lport=$(sed -n 's/^listening on 127.0.0.1:\([0-9]*\)$/\1/p' "$tmp/l.err")
check "listen allowed by rule 4" test -n "$lport"
before=$("$CTL" --json info | jq .counters.policyDenials)
exec 5<>"/dev/tcp/127.0.0.1/$lport"
timeout 10 cat <&5 > /dev/null 2>&1; rc=$?
exec 5<&-
check "a refused peer is reset (read fails: status $rc)" [ $rc = 1 ]
check "the refusal is counted" \
	wait_until bash -c "[ \"\$('$CTL' --json info | jq .counters.policyDenials)\" -gt $before ]"
check "the accept still waits (listen is still running)" kill -0 "$lpid"
kill "$lpid"; wait "$lpid" 2>/dev/null

# --- SIGHUP: a new policy at once; a broken one changes nothing ---------------
cat > "$tmp/tisockd.conf" <<'EOF'
[daemon]
resolver-lookups = f
[policy]
rule = deny connect port=1-1023
rule = deny connect host=localhost
EOF
kill -HUP "$dpid"
check "reload: the new rule applies" \
	wait_until jqcall '.error.code == -32003 and .error.data.ruleIndex == 1' tcp.connect '{"host":"127.0.0.1","port":9}'
check "reload: the old rules are gone (127.0.0.2 reaches the network)" \
	jqcall '.error.code == -32011' tcp.connect "{\"host\":\"127.0.0.2\",\"port\":$port}"
check "host= rules are resolved by the daemon: 127.0.0.1 is localhost, denied" \
	wait_until jqcall '.error.code == -32003 and .error.data.ruleIndex == 2' tcp.connect "{\"host\":\"127.0.0.1\",\"port\":$port}"
printf '[policy]\nrule = maybe connect\n' > "$tmp/tisockd.conf"
reloads=$("$CTL" --json info | jq .counters.reloads)
kill -HUP "$dpid"
check "a broken policy is reported" wait_until grep -q 'rule 1: a rule starts with allow or deny' "$tmp/daemon.log"
check "... and changes nothing" \
	bash -c "[ \"\$('$CTL' --json info | jq .counters.reloads)\" = $reloads ] &&
		'$CTL' --json call tcp.connect '{\"host\":\"127.0.0.1\",\"port\":9}' | jq -e '.error.code == -32003'"
kill -TERM "$dpid"; wait "$dpid"

# --- a raced connect: every address is judged; a denied one is an attempt ---
# he.test is ::1 and 127.0.0.1 in a hosts file of ours (CARES_HOSTS); the
# race tries ::1 first, the policy denies it, 127.0.0.1 connects at once.
printf '::1 he.test\n127.0.0.1 he.test\n' > "$tmp/hosts"
cat > "$tmp/tisockd.conf" <<'EOF'
[daemon]
resolver-lookups = f
[policy]
rule = deny connect dest=::1
EOF
CARES_HOSTS=$tmp/hosts start_daemon
echo_peer
check "a raced connect: ::1 denied, 127.0.0.1 connected, both reported" \
	jqcall '.state == "connected" and .remote.address == "127.0.0.1" and
		(.attempts | length) == 2 and
		.attempts[0].address.address == "::1" and .attempts[0].outcome == "denied" and
		.attempts[1].address.address == "127.0.0.1" and .attempts[1].outcome == "connected"' \
	tcp.connect "{\"host\":\"he.test\",\"port\":$port}"
echo_peer
check "one after another, the same" \
	jqcall '.state == "connected" and (.attempts | map(.outcome)) == ["denied", "connected"]' \
	tcp.connect "{\"host\":\"he.test\",\"port\":$port,\"happyEyeballs\":false}"
check "every address denied: -32003, each attempt denied" \
	jqcall '.error.code == -32003 and (.error.data.attempts | map(.outcome)) == ["denied"]' \
	tcp.connect '{"host":"::1","port":9}'
kill -TERM "$dpid"; wait "$dpid"

# A deny rule's name with as many addresses as the resolver keeps (256) or more
# could hide one more: it fails like a name that does not resolve (fail
# closed), so the daemon does not start with it.
: > "$tmp/hosts"
for i in $(seq 1 257); do echo "127.0.$((i / 256 + 1)).$((i % 256)) many.test" >> "$tmp/hosts"; done
printf '[daemon]\nresolver-lookups = f\n[policy]\nrule = deny connect host=many.test\n' \
	> "$tmp/tisockd.conf"
: > "$tmp/many.log"
CARES_HOSTS=$tmp/hosts timeout 30 ${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground \
	--config "$tmp/tisockd.conf" --socket "$tmp/many.sock" 2> "$tmp/many.log"
rc=$?
check "a deny rule's name with 257 addresses: the daemon refuses to start (exit 1)" [ $rc = 1 ]
check "... and says why, naming the rule" grep -q "rule 1: host many.test.*as many addresses" \
	"$tmp/many.log"

finish
