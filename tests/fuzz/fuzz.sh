#!/bin/sh
# Runs each libFuzzer target for SECONDS with its dictionary, on a copy of
# its seed corpus (new finds are not written to the tree), keeping any
# crash input in tests/fuzz/regressions/TARGET/ to be replayed by make check.
#
#	fuzz.sh BUILDDIR SRCDIR SECONDS [TARGET...]
set -eu
b=$1 s=$2 secs=$3
shift 3
[ $# -gt 0 ] || set -- reader jsonrpc dispatch fastwrite base64
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rc=0
for t in "$@"; do
	mkdir -p "$work/$t" "$s/tests/fuzz/regressions/$t"
	cp "$s/tests/fuzz/corpus/$t/"* "$work/$t/"
	echo "fuzz-$t: $secs s"
	if ! ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	    "$b/tests/fuzz/fuzz-$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
	    -dict="$s/tests/fuzz/$t.dict" -artifact_prefix="$s/tests/fuzz/regressions/$t/" \
	    -print_final_stats=1 "$work/$t" > "$work/$t.log" 2>&1; then
		tail -n 60 "$work/$t.log"
		echo "FAIL fuzz-$t: a crash input is in tests/fuzz/regressions/$t/"
		rc=1
		continue
	fi
	grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$work/$t.log" |
		sed "s/^/fuzz-$t: /"
	echo "ok fuzz-$t ran $secs s clean"
done
exit $rc
