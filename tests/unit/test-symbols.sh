#!/bin/sh
# libtisock exports exactly the symbols its version script lists.
b=${top_builddir:-.}
s=${top_srcdir:-.}
lib=$b/client/.libs/libtisock.so
[ -f "$lib" ] || { echo "test-symbols: $lib is missing"; exit 1; }
exported=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ {print $3}' | sed 's/@.*//' | sort -u)
listed=$(sed -n 's/^[[:space:]]*\(tisock_[a-z0-9_]*\);.*/\1/p' "$s/client/libtisock.sym" | sort -u)
if [ "$exported" != "$listed" ]; then
	echo "exported symbols differ from client/libtisock.sym:"
	printf '%s\n' "$exported" > exported.tmp
	printf '%s\n' "$listed" > listed.tmp
	diff listed.tmp exported.tmp
	rm -f exported.tmp listed.tmp
	echo "0 passed, 1 failed"
	exit 1
fi
echo "$(printf '%s\n' "$exported" | wc -l) symbols match the version script"
echo "1 passed, 0 failed"
