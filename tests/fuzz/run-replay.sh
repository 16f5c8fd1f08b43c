#!/bin/sh
# Replays every fuzz target over its seed corpus and its kept crash inputs
# (tests/fuzz/regressions/TARGET): a crash found once stays a test.
# TISOCK_TEST_WRAPPER (valgrind, say) runs the targets.
set -u
b=${top_builddir:-.}
s=${top_srcdir:-.}
rc=0
for t in reader jsonrpc dispatch fastwrite base64; do
	set -- "$s/tests/fuzz/corpus/$t"
	[ -d "$s/tests/fuzz/regressions/$t" ] && set -- "$@" "$s/tests/fuzz/regressions/$t"
	# A libFuzzer build (--enable-fuzzing) replays with -runs=0.
	if grep -q LLVMFuzzerRunDriver "$b/tests/fuzz/fuzz-$t" 2>/dev/null ||
	   grep -q libFuzzer "$b/tests/fuzz/fuzz-$t" 2>/dev/null; then
		set -- -runs=0 "$@"
	fi
	if ${TISOCK_TEST_WRAPPER:-} "$b/tests/fuzz/fuzz-$t" "$@"; then
		echo "ok fuzz-$t replays its corpus and regressions"
	else
		echo "FAIL fuzz-$t"
		rc=1
	fi
done
exit $rc
