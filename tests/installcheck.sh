#!/bin/sh
# The installed library as a user meets it: builds the example programs
# with nothing but `pkg-config --cflags --libs tisock` (and -lev for the
# libev chat server) against
# the installed headers and library, then runs them against the
# installed daemon with loopback peers (tests/integration/test-examples).
#
#	installcheck.sh DESTDIR PREFIX LIBDIR SBINDIR SRCDIR TEST-EXAMPLES
set -eu
destdir=$1 prefix=$2 libdir=$3 sbindir=$4 srcdir=$5 runner=$6
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export PKG_CONFIG_PATH="$destdir$libdir/pkgconfig"
[ -n "$destdir" ] && export PKG_CONFIG_SYSROOT_DIR="$destdir"
flags=$(pkg-config --cflags --libs tisock)
echo "pkg-config --cflags --libs tisock: $flags"
for ex in connect-read write listen-accept forward http-get chat; do
	extra=
	[ "$ex" = chat ] && extra=-lev
	${CC:-cc} -std=c11 -Wall -Wextra -Werror -o "$tmp/$ex" "$srcdir/examples/$ex.c" $flags $extra
done
export LD_LIBRARY_PATH="$destdir$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The programs must run on the installed library, not the build tree's.
ldd "$tmp/listen-accept" | grep -q "$destdir$libdir/libtisock.so" || {
	echo "listen-accept is not linked to the installed libtisock" >&2
	exit 1
}
exec "$runner" "$destdir$sbindir/tisockd" "$tmp"
