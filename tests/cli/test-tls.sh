#!/bin/bash
# tisockctl connect/listen --tls against a real tisockd and real TLS peers
# (tests/tls/tls-peer.py: Python's ssl module), with a PKI made at test
# time by tests/tls/tls-certs: an HTTPS-like exchange byte-exact with
# the session summed up on stderr, 64 MiB through connect --tls and
# connect --tls --channel with matching SHA-256, failed verifications
# (self-signed, expired, wrong name) giving a clear message, their reason
# in --json and exit 1, --insecure refused by the default policy and
# allowed by tls-insecure = allow, STARTTLS for SMTP and IMAP, files
# the tool cannot read, and listen --tls accepting a Python ssl client
# (with ALPN, and with a client certificate required).
#
# Every wait polls its condition with a deadline.  TISOCK_DAEMON_WRAPPER
# (valgrind, say) runs the daemon; the big transfers are then smaller.
set -u

b=${top_builddir:-.}
s=${top_srcdir:-.}
CTL=$b/client/tisockctl
DAEMON=$b/daemon/tisockd
PY=python3
[ -x /usr/bin/python3 ] && PY=/usr/bin/python3
PEER=("$PY" "$s/tests/tls/tls-peer.py" --deadline 60)
BIG_MB=64
[ -n "${TISOCK_DAEMON_WRAPPER:-}" ] && BIG_MB=8

. "$s/tests/lib.sh"
DEADLINE=60
sha() { sha256sum < "$1" | cut -d' ' -f1; }

pki=$tmp/pki
mkdir -p "$pki"
if ! "$b/tests/tls/tls-certs" "$pki"; then
	echo "FAIL the test PKI could not be made"; exit 1
fi

export TISOCKD_SOCKET=$tmp/d/tisockd.sock
mkdir -p "$tmp/d"
printf '[daemon]\nresolver-lookups = f\n' > "$tmp/tisockd.conf"
${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground --config "$tmp/tisockd.conf" \
	--socket "$TISOCKD_SOCKET" 2> "$tmp/daemon.log" &
pids+=($!)
if ! wait_until "$CTL" ping; then
	echo "FAIL the daemon did not come up"; cat "$tmp/daemon.log"; exit 1
fi

# peer NAME ARGS...: a tls-peer.py server in the background; its port in $port.
peer() {
	local name=$1
	shift
	"${PEER[@]}" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err" &
	pids+=($!)
	peer_pid=$!
	port=
	wait_until grep -q '^port ' "$tmp/$name.out" || return 1
	port=$(awk '/^port /{ print $2; exit }' "$tmp/$name.out")
}
CERT=(--cert "$pki/server.pem" --key "$pki/server.key")

# --- an HTTPS-like exchange, byte-exact ---------------------------------
peer http "${CERT[@]}" --mode http
printf 'GET /tls-path HTTP/1.1\r\nHost: localhost\r\n\r\n' |
	"$CTL" connect --tls --cafile "$pki/ca.pem" "localhost:$port" > "$tmp/http.got" \
	2> "$tmp/http.err"
rc=$?
printf 'HTTP/1.1 200 OK\r\nContent-Length: 26\r\nConnection: close\r\n\r\nhello over TLS: /tls-path\n' \
	> "$tmp/http.want"
check "connect --tls: an HTTPS exchange exits 0" [ $rc = 0 ]
check "connect --tls: the answer is byte for byte the server's" cmp "$tmp/http.want" "$tmp/http.got"
check "connect --tls: the session on stderr (version, cipher, verified)" \
	grep -Eq '^tls: TLSv1\.3 TLS_[A-Z0-9_]+, no ALPN, verified$' "$tmp/http.err"
check "connect --tls: the peer's certificate on stderr" \
	grep -q '^tls: peer .*CN=localhost.*, issuer .*CN=tisock test CA' "$tmp/http.err"
check "connect --tls: its names and fingerprint" \
	bash -c "grep -q '^tls: names .*DNS:localhost' '$tmp/http.err' &&
		 grep -Eq '^tls: valid .* sha256 [0-9a-f]{64}$' '$tmp/http.err'"
wait "$peer_pid"

peer http2 "${CERT[@]}" --mode http --alpn http/1.1
printf 'GET / HTTP/1.1\r\n\r\n' | "$CTL" --json connect --tls --cafile "$pki/ca.pem" \
	--alpn h2,http/1.1 "localhost:$port" > /dev/null 2> "$tmp/http2.err"
check "connect --tls --alpn --json: the session as a JSON line" \
	jq -se 'map(select(.event == "tls"))[0].tls | .alpn == "http/1.1" and .verified and
		(.peerCertificate.sha256 | length) == 64' "$tmp/http2.err"
wait "$peer_pid"

# --- bulk through connect --tls, JSON and channel ------------------------
head -c $((BIG_MB << 20)) /dev/urandom > "$tmp/big"
for mode in json channel; do
	flag=
	[ $mode = channel ] && flag=--channel
	peer "echo-$mode" "${CERT[@]}" --mode echo
	"$CTL" connect --tls $flag --cafile "$pki/ca.pem" "localhost:$port" < "$tmp/big" \
		> "$tmp/big.out" 2> "$tmp/big.err"
	rc=$?
	check "connect --tls ${flag:-(JSON)}: $BIG_MB MiB through a TLS echo server exits 0" [ $rc = 0 ]
	check "connect --tls ${flag:-(JSON)}: $BIG_MB MiB come back with the same SHA-256" \
		[ "$(sha "$tmp/big")" = "$(sha "$tmp/big.out")" ]
	wait "$peer_pid"
	rm -f "$tmp/big.out"
done

# --- STARTTLS: SMTP and IMAP in plaintext, then TLS -----------------------
for proto in smtp imap; do
	peer "$proto" "${CERT[@]}" --mode "$proto"
	printf 'after STARTTLS\n' | "$CTL" connect --starttls $proto --cafile "$pki/ca.pem" \
		--servername localhost "127.0.0.1:$port" > "$tmp/$proto.got" 2> "$tmp/$proto.err"
	rc=$?
	check "connect --starttls $proto: plaintext, then TLS verified, exit 0" \
		bash -c "[ $rc = 0 ] && grep -q '^tls: TLSv1.3 .*, verified' '$tmp/$proto.err'"
	check "connect --starttls $proto: the relay runs inside TLS" \
		grep -qx 'after STARTTLS' "$tmp/$proto.got"
	wait "$peer_pid"
done
peer nostarttls "${CERT[@]}" --mode imap
"$CTL" connect --starttls smtp "localhost:$port" < /dev/null > /dev/null 2> "$tmp/nostart.err"
rc=$?
check "connect --starttls smtp to an IMAP server: exit 1, its line shown" \
	bash -c "[ $rc = 1 ] && grep -q 'smtp STARTTLS refused or not understood: \"\* OK ' '$tmp/nostart.err'"
kill "$peer_pid" 2>/dev/null
wait "$peer_pid" 2>/dev/null

# --- verification failures ---------------------------------------------
peer self --cert "$pki/self.pem" --key "$pki/self.key"
"$CTL" connect --tls "localhost:$port" < /dev/null > /dev/null 2> "$tmp/self.err"
rc=$?
check "connect --tls to a self-signed server exits 1" [ $rc = 1 ]
check "connect --tls: the message says why (selfSigned, the verify error)" \
	grep -q "^tisockctl: connect to localhost:$port: TLS handshake failed: selfSigned; verify error 18: " \
	"$tmp/self.err"
wait "$peer_pid"

peer expired --cert "$pki/expired.pem" --key "$pki/expired.key"
"$CTL" --json connect --tls --cafile "$pki/ca.pem" "localhost:$port" < /dev/null \
	> /dev/null 2> "$tmp/expired.err"
rc=$?
check "connect --tls --json to an expired certificate exits 1" [ $rc = 1 ]
check "connect --tls --json: the error carries the reason" \
	jq -se 'any(.[]; .error.type == "tls" and .error.tls.reason == "certificateExpired" and
	       .error.tls.verifyError == 10 and .error.exitStatus == 1)' "$tmp/expired.err"
wait "$peer_pid"

peer name "${CERT[@]}"
"$CTL" connect --tls --cafile "$pki/ca.pem" --servername nope.example "127.0.0.1:$port" \
	< /dev/null > /dev/null 2> "$tmp/name.err"
rc=$?
check "connect --tls --servername of another name exits 1: hostnameMismatch" \
	bash -c "[ $rc = 1 ] && grep -q 'TLS handshake failed: hostnameMismatch' '$tmp/name.err'"
wait "$peer_pid"

peer insecure --cert "$pki/self.pem" --key "$pki/self.key" --deadline 5
"$CTL" connect --tls --insecure "localhost:$port" < /dev/null > /dev/null 2> "$tmp/insecure.err"
rc=$?
check "connect --tls --insecure: refused by the default policy (tls-insecure = deny), exit 1" \
	bash -c "[ $rc = 1 ] && grep -q 'not permitted by policy: .*tls-insecure = allow' '$tmp/insecure.err'"
kill "$peer_pid" 2>/dev/null
wait "$peer_pid" 2>/dev/null

# A daemon whose policy allows it.
mkdir -p "$tmp/d2"
printf '[daemon]\nresolver-lookups = f\n[policy]\ntls-insecure = allow\n' > "$tmp/allow.conf"
${TISOCK_DAEMON_WRAPPER:-} "$DAEMON" --foreground --config "$tmp/allow.conf" \
	--socket "$tmp/d2/tisockd.sock" 2> "$tmp/daemon2.log" &
pids+=($!)
if wait_until "$CTL" --socket "$tmp/d2/tisockd.sock" ping; then
	peer insecure2 --cert "$pki/self.pem" --key "$pki/self.key" --mode echo
	printf 'unverified\n' | "$CTL" --socket "$tmp/d2/tisockd.sock" connect --tls --insecure \
		"localhost:$port" > "$tmp/insecure2.got" 2> "$tmp/insecure2.err"
	rc=$?
	check "connect --tls --insecure where tls-insecure = allow: exit 0, the bytes through" \
		bash -c "[ $rc = 0 ] && grep -qx unverified '$tmp/insecure2.got'"
	check "connect --tls --insecure: the session says NOT verified" \
		grep -q '^tls: TLSv1.3 .*, NOT verified' "$tmp/insecure2.err"
	wait "$peer_pid"
else
	bad "a daemon with tls-insecure = allow did not come up"
fi

# --- the tool reads the files; usage slips -------------------------------
check "connect --tls --cafile of a missing file: exit 1, naming it" \
	bash -c "'$CTL' connect --tls --cafile '$tmp/none.pem' localhost:1 </dev/null 2>&1 >/dev/null |
		 grep -q 'cafile $tmp/none.pem: No such file'; [ \${PIPESTATUS[0]} = 1 ]"
check "connect --tls --cafile of a file with no PEM in it: exit 1" \
	[ "$(status "$CTL" connect --tls --cafile "$tmp/big" localhost:1)" = 1 ]
check "connect --cafile without --tls is a usage error (exit 2)" \
	[ "$(status "$CTL" connect --cafile "$pki/ca.pem" localhost:1)" = 2 ]
check "listen --tls without --key is a usage error (exit 2)" \
	[ "$(status "$CTL" listen --tls --cert "$pki/server.pem" 0)" = 2 ]
check "listen --insecure is not an option of listen (exit 2)" \
	[ "$(status "$CTL" listen --tls --insecure 0)" = 2 ]

# --- listen --tls, a Python ssl client ------------------------------------
# listen_start NAME ARGS...: tisockctl listen in the background; its port in $lport.
listen_start() {
	local name=$1
	shift
	printf 'from tisockd\n' | "$CTL" listen "$@" 127.0.0.1:0 > "$tmp/$name.out" \
		2> "$tmp/$name.err" &
	pids+=($!)
	listen_pid=$!
	lport=
	wait_until grep -q '^listening on ' "$tmp/$name.err" || return 1
	lport=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$tmp/$name.err")
}
listen_start lis --tls "${CERT[@]}" --alpn echo/1
printf 'hello from python\n' | "${PEER[@]}" --connect "$lport" --ca "$pki/ca.pem" \
	--alpn echo/1 --print --read-to-end > "$tmp/client.got" 2> "$tmp/client.err"
wait_until gone "$listen_pid"
wait "$listen_pid"
rc=$?
check "listen --tls: a Python ssl client gets what listen's stdin held" \
	grep -qx 'from tisockd' "$tmp/client.got"
check "listen --tls: what the client sent comes out on stdout, exit 0" \
	bash -c "[ $rc = 0 ] && grep -qx 'hello from python' '$tmp/lis.out'"
check "listen --tls: the client saw TLS 1.3 and the ALPN agreed" \
	grep -q '^client: TLSv1.3 .* alpn=echo/1' "$tmp/client.err"
check "listen --tls: the session on stderr, the client sent no certificate" \
	bash -c "grep -q '^tls: TLSv1.3 .*ALPN echo/1' '$tmp/lis.err' &&
		 grep -q '^tls: the peer sent no certificate' '$tmp/lis.err'"

listen_start mtls --tls "${CERT[@]}" --cafile "$pki/ca.pem" --require-client-cert
printf 'with a certificate\n' | "${PEER[@]}" --connect "$lport" --ca "$pki/ca.pem" \
	--cert "$pki/client.pem" --key "$pki/client.key" --print --read-to-end \
	> "$tmp/mclient.got" 2> /dev/null
wait_until gone "$listen_pid"
wait "$listen_pid"
rc=$?
check "listen --tls --require-client-cert: a client with a certificate gets through" \
	bash -c "[ $rc = 0 ] && grep -qx 'with a certificate' '$tmp/mtls.out' &&
		 grep -qx 'from tisockd' '$tmp/mclient.got'"
check "listen --tls --require-client-cert: its certificate, verified, on stderr" \
	bash -c "grep -q '^tls: TLSv1.3 .*, verified' '$tmp/mtls.err' &&
		 grep -q '^tls: peer .*CN=tisock test client' '$tmp/mtls.err'"

finish
