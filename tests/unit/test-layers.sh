#!/bin/sh
# The socket engine knows nothing above it (doc/ARCHITECTURE.md): no engine
# file includes, even through another header, a header of the layers above
# (control connections, dispatch and answers, monitors, the daemon,
# systemd glue, limits), and the compiled engine calls none of their
# functions.
b=${top_builddir:-.}
s=${top_srcdir:-.}
d=$s/daemon
engine="tcp.c tcp-io.c tcp-accept.c tcp-connect.c tcp-channel.c tcp-close.c tcp.h tcp-events.h"
forbidden="ctl.h rpc.h rpc-handlers.h monitor.h daemon.h sdnotify.h quota.h metrics.h"
pass=0
fail=0

# The daemon headers f includes directly ("..." includes found in daemon/).
includes() {
	sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([^"]*\)".*/\1/p' "$d/$1" |
	while read -r h; do
		[ -f "$d/$h" ] && echo "$h"
	done
}

for f in $engine; do
	if [ ! -f "$d/$f" ]; then
		echo "FAIL: $f: missing"
		fail=$((fail + 1))
		continue
	fi
	# Every daemon header f reaches, with the chain that reaches it.
	seen=" "
	todo="$f"
	bad=""
	while [ -n "$todo" ]; do
		next=""
		for x in $todo; do
			for h in $(includes "$x"); do
				case "$seen" in *" $h "*) continue ;; esac
				seen="$seen$h "
				next="$next $h"
				for no in $forbidden; do
					[ "$h" = "$no" ] && bad="$bad $h (via $x)"
				done
			done
		done
		todo=$next
	done
	if [ -n "$bad" ]; then
		echo "FAIL: $f includes a layer above the engine:$bad"
		fail=$((fail + 1))
	else
		echo "ok: $f includes only:$seen"
		pass=$((pass + 1))
	fi
done

# The compiled engine: no call into a layer above (skipped when the objects
# are elsewhere, e.g. another build type).
for f in tcp tcp-io tcp-accept tcp-connect tcp-channel tcp-close; do
	o=""
	for c in "$b/daemon/.libs/libtisockd_la-$f.o" "$b/daemon/libtisockd_la-$f.o"; do
		[ -f "$c" ] && { o=$c; break; }
	done
	[ -n "$o" ] || continue
	calls=$(nm -u "$o" | awk '{print $NF}' |
		grep -E '^(rpc|ctl|monitor|daemon|sdnotify|notify|quota|metrics)_' | tr '\n' ' ')
	if [ -n "$calls" ]; then
		echo "FAIL: $f.c calls a layer above the engine: $calls"
		fail=$((fail + 1))
	else
		echo "ok: $f.c calls nothing above the engine"
		pass=$((pass + 1))
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
