# Shared by the shell tests (sourced, bash): a temporary directory and
# the background processes to stop at exit, ok/FAIL reporting, and
# waiting on a condition with a deadline.  The sourcing script may add
# to `pids` and set DEADLINE (seconds, 30 by default) before waiting.
#
#	. "${top_srcdir:-.}/tests/lib.sh"
#	check "what" COMMAND...     ok when COMMAND succeeds (its stdout is dropped)
#	wait_until COMMAND...       polls every 20 ms until COMMAND succeeds; false at the deadline
#	finish                      prints the totals; the script's exit status

DEADLINE=${DEADLINE:-30}
tmp=$(mktemp -d)
pids=()
pass=0
fail=0

cleanup() {
	exec 3>&- 2>/dev/null
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT

ok() { echo "ok $*"; pass=$((pass + 1)); }
bad() { echo "FAIL $*"; fail=$((fail + 1)); }
check() { local d=$1; shift; if "$@" >/dev/null; then ok "$d"; else bad "$d"; fi; }

wait_until() {
	local end=$((SECONDS + DEADLINE))
	until "$@" >/dev/null 2>&1; do
		[ $SECONDS -ge $end ] && return 1
		sleep 0.02
	done
}

# Exit status of a command, as a string.
status() { "$@" >/dev/null 2>&1; echo $?; }
# Whether process $1 has exited.
gone() { ! kill -0 "$1" 2>/dev/null; }

finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
}
