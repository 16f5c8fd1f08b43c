#!/bin/sh
# Builds tisock with ASan and UBSan and runs the whole test suite.
# Usage: check-sanitizers.sh TREE   (an unconfigured source tree, e.g. from make distdir)
set -eu
cd "$1"
./configure -q --enable-asan --enable-ubsan CC="${CC:-gcc}"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make -j2 check
