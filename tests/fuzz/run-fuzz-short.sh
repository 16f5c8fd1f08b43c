#!/bin/sh
# A short libFuzzer run of every target, in a separate clang build of the
# distributed tree (build-fuzz/src), TISOCK_FUZZ_SECONDS per target (10 by
# default; CI sets 60).  Skipped (77) without clang's libFuzzer.
set -u
b=${top_builddir:-.}
secs=${TISOCK_FUZZ_SECONDS:-10}
# Under valgrind (make check-valgrind) the fuzzers would not be under it
# anyway; the replay test covers the corpora there.
[ -n "${TISOCK_DAEMON_WRAPPER:-}" ] && { echo "# skipped under a wrapper"; exit 77; }
command -v clang >/dev/null || { echo "# skipped: no clang"; exit 77; }
printf 'int LLVMFuzzerTestOneInput(const char *d, long n) { return 0; }\n' > "$b/fuzz-probe.c"
if ! clang -fsanitize=fuzzer -o "$b/fuzz-probe" "$b/fuzz-probe.c" 2>/dev/null; then
	rm -f "$b/fuzz-probe.c" "$b/fuzz-probe"
	echo "# skipped: clang has no libFuzzer"
	exit 77
fi
rm -f "$b/fuzz-probe.c" "$b/fuzz-probe"
# A copy of the distributed tree, configured on its own (the tree under
# test may be configured in place, which forbids a second build from it).
dir=$(cd "$b" && pwd)/build-fuzz
rm -rf "$dir" && mkdir -p "$dir" || exit 1
make -s -C "$b" distdir distdir="$dir/src" > "$dir/distdir.log" 2>&1 ||
	{ cat "$dir/distdir.log"; exit 1; }
src=$dir/src
cd "$src" || exit 1
./configure -q CC=clang --enable-fuzzing > configure.log 2>&1 || { cat configure.log; exit 1; }
make -j2 protocol/proto-errno-list.h tests/fuzz/fuzz-reader tests/fuzz/fuzz-jsonrpc \
	tests/fuzz/fuzz-dispatch tests/fuzz/fuzz-fastwrite tests/fuzz/fuzz-base64 > build.log 2>&1 ||
	{ tail -n 40 build.log; exit 1; }
sh "$src/tests/fuzz/fuzz.sh" "$(pwd)" "$src" "$secs"
