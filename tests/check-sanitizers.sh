#!/bin/sh
# Builds tisock with ASan and UBSan in a separate directory and runs the
# whole test suite there.  Usage: check-sanitizers.sh SRCDIR BUILDDIR
set -eu
src=$1
build=$2
mkdir -p "$build"
cd "$build"
"$src/configure" -q --enable-asan --enable-ubsan CC="${CC:-gcc}"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	make -j2 check
