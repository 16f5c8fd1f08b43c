#!/bin/bash
# `make install` with a prefix in a temporary directory, as a user who is
# not root (uid 65534 through setpriv when the test runs as root): it must
# succeed, put the units, the sysusers.d and tmpfiles.d snippets, the
# documents, the sample configuration, the manuals and the completion
# under the prefix, and write nothing outside it.
#
# The build tree's configured directories are used with prefix= given to
# make, which is what a default ./configure --prefix=DIR gives (they are
# all ${prefix}-relative then).  A tree configured with explicit absolute
# directories (a distribution build) is skipped (77).
set -u

b=${top_builddir:-.}
. "${top_srcdir:-.}/tests/lib.sh"

# What configure was given: explicit directories are the builder's choice
# (a distribution build), and then this test has nothing to say (77).
given=$(cd "$b" && ./config.status --config 2>/dev/null)
for v in systemdsystemunitdir sysusersdir tmpfilesdir sysconfdir datarootdir; do
	case $given in *"--with-$v"*|*"--$v"*)
		echo "# skipped: configured with an explicit $v ($given)"; exit 77 ;;
	esac
done
for v in systemdsystemunitdir sysusersdir tmpfilesdir; do
	val=$(sed -n "s/^$v = //p" "$b/Makefile")
	case $val in
	'${prefix}'*) ok "by default $v follows the prefix ($val)" ;;
	*) bad "by default $v follows the prefix (it is $val)" ;;
	esac
done

run_as=()
if [ "$(id -u)" = 0 ]; then
	command -v setpriv >/dev/null || { echo "# skipped: root without setpriv"; exit 77; }
	run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	chmod 0755 "$tmp"
fi
prefix=$tmp/prefix
mkdir -p "$prefix" "$tmp/home"
[ "$(id -u)" = 0 ] && chown 65534:65534 "$prefix" "$tmp/home"
touch "$tmp/stamp"
sleep 0.01	# the stamp's mtime must be older than anything installed

# The install itself; make's own variables from a make check above must
# not leak into it (its jobserver, its level).
env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL HOME="$tmp/home" "${run_as[@]}" \
	make -s -C "$b" install prefix="$prefix" > "$tmp/install.log" 2>&1; rc=$?
check "make install prefix=DIR as uid $("${run_as[@]}" id -u) exits 0" [ $rc = 0 ]
[ $rc = 0 ] || sed 's/^/# /' "$tmp/install.log" | tail -n 20

for f in lib/systemd/system/tisockd.service lib/systemd/system/tisockd.socket \
	lib/sysusers.d/tisockd.conf lib/tmpfiles.d/tisockd.conf \
	sbin/tisockd bin/tisockctl include/tisock/tisock.h include/tisock/tls.h \
	lib/pkgconfig/tisock.pc \
	share/doc/tisock/SYSTEMD.md share/doc/tisock/SECURITY.md \
	share/doc/tisock/tisockd.conf.sample share/man/man1/tisockctl.1 \
	share/man/man8/tisockd.8 share/bash-completion/completions/tisockctl; do
	check "installed under the prefix: $f" test -e "$prefix/$f"
done

# Nothing of ours anywhere else: every place an install could stray to.
outside=$(find /etc /lib/systemd /usr/lib/systemd /usr/lib/sysusers.d /usr/lib/tmpfiles.d \
	/usr/local /usr/share/bash-completion /usr/share/man /usr/share/doc /usr/include \
	/usr/lib/pkgconfig /usr/sbin /usr/bin -xdev -newer "$tmp/stamp" \
	\( -name '*tisock*' -o -name 'libtisock*' \) 2>/dev/null)
check "nothing was written outside the prefix${outside:+: $outside}" [ -z "$outside" ]
inside=$(find "$prefix" -type f | wc -l)
echo "# $inside files under the prefix"

env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL HOME="$tmp/home" "${run_as[@]}" \
	make -s -C "$b" uninstall prefix="$prefix" > "$tmp/uninstall.log" 2>&1
check "make uninstall prefix=DIR leaves no file behind" \
	[ "$(find "$prefix" -type f | wc -l)" = 0 ]

finish
