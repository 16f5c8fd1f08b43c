#!/bin/sh
# libtisock exports exactly the symbols its version script lists, each
# with the version node it is listed under (LIBTISOCK_0.1, LIBTISOCK_0.2,
# ...), so names never move between nodes and new ones get a new node.
b=${top_builddir:-.}
s=${top_srcdir:-.}
lib=$b/client/.libs/libtisock.so
[ -f "$lib" ] || { echo "test-symbols: $lib is missing"; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ && $3 ~ /^tisock_/ {
	split($3, p, "@"); v = p[3] != "" ? p[3] : p[2]; print p[1], v }' | sort -u)
listed=$(awk '
	/^[A-Z0-9_.]+[ \t]*\{/ { node = $1 }
	/^[ \t]*tisock_[a-z0-9_]*;/ { sub(/^[ \t]*/, ""); sub(/;.*/, ""); print $0, node }
	' "$s/client/libtisock.sym" | sort -u)
if [ "$exported" != "$listed" ]; then
	echo "exported symbols (name, version) differ from client/libtisock.sym:"
	printf '%s\n' "$exported" > exported.tmp
	printf '%s\n' "$listed" > listed.tmp
	diff listed.tmp exported.tmp
	rm -f exported.tmp listed.tmp
	echo "0 passed, 1 failed"
	exit 1
fi
echo "$(printf '%s\n' "$exported" | wc -l) symbols match the version script, node by node:"
printf '%s\n' "$exported" | awk '{ n[$2]++ } END { for (v in n) print "  " v ": " n[v] }' | sort
echo "1 passed, 0 failed"
