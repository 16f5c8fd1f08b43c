#!/bin/bash
# The Debian packages, built and used as an administrator would:
#  1. dpkg-buildpackage -us -uc -b on a copy of this tree (the files git
#     knows, or a make distdir when there is no git), as debian/ says;
#  2. lintian on the result: no error (warnings are listed; each one is
#     explained in doc/PACKAGING.md);
#  3. dpkg -i of the four packages (apt-get install -f for what they need);
#  4. the install as it should be: the user and group from sysusers.d, the
#     socket directory from tmpfiles.d, the units enabled, the conffile,
#     the manuals and the completion, the library through pkg-config;
#  5. the installed daemon, run as its user on a temporary socket, answers
#     the installed `tisockctl info`;
#  6. apt-get purge removes it all again (also when a check failed).
#
# Needs root and a Debian system with the build dependencies; CI runs it
# after the test suite (.ci/run).  It is not part of make check: it
# installs packages on the machine.  DEB_BUILD_OPTIONS defaults to nocheck
# (the suite has just run on the same tree); TISOCK_DEB_OUT=DIR keeps the
# .deb files and the lintian report.
set -u

src=$(cd "$(dirname "$0")/../.." && pwd)
DEADLINE=30
top_srcdir=$src
. "$src/tests/lib.sh"
PKGS="tisockd tisockctl libtisock-dev libtisock0"

[ "$(id -u)" = 0 ] || { echo "# skipped: dpkg -i needs root"; exit 77; }
for t in dpkg-buildpackage dh lintian; do
	command -v "$t" >/dev/null || { echo "FAIL: $t is missing (apt-get install dpkg-dev debhelper lintian)"; exit 1; }
done
for p in $PKGS; do
	if dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		echo "FAIL: $p is already installed here; purge it first"
		exit 1
	fi
done

installed=false
purge() {
	$installed || return 0
	installed=false
	DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq $PKGS > "$tmp/purge.log" 2>&1
}
trap 'purge; cleanup' EXIT

# --- 1. build -----------------------------------------------------------------
version=$(dpkg-parsechangelog -l "$src/debian/changelog" -S Version)
tree=$tmp/build/tisock-$version
mkdir -p "$tree"
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z -co --exclude-standard) |
		(cd "$src" && while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) |
		tar -C "$src" --null -T - -cf - | tar -C "$tree" -xf -
else
	make -s -C "$src" distdir distdir="$tree" >/dev/null && cp -a "$src/debian" "$tree/"
fi
echo "# building in $tree"
(cd "$tree" && DEB_BUILD_OPTIONS=${DEB_BUILD_OPTIONS:-nocheck} dpkg-buildpackage -us -uc -b) \
	> "$tmp/build.log" 2>&1; rc=$?
check "dpkg-buildpackage -us -uc -b exits 0" [ $rc = 0 ]
if [ $rc != 0 ]; then tail -n 40 "$tmp/build.log" | sed 's/^/# /'; finish; exit 1; fi
changes=$(ls "$tmp/build"/tisock_*.changes)
debs=()
for p in $PKGS; do
	f=$(ls "$tmp/build/${p}_${version}_"*.deb 2>/dev/null | head -1)
	check "built $p" test -n "$f"
	[ -n "$f" ] && debs+=("$f")
done
check "the library package has a symbols file" \
	bash -c "dpkg-deb --ctrl-tarfile '$(ls "$tmp"/build/libtisock0_*.deb)' | tar -t | grep -q symbols"
if [ -n "${TISOCK_DEB_OUT:-}" ]; then mkdir -p "$TISOCK_DEB_OUT" && cp "${debs[@]}" "$TISOCK_DEB_OUT/"; fi

# --- 2. lintian ---------------------------------------------------------------
lintian --info --display-info --pedantic "$changes" > "$tmp/lintian.txt" 2>&1
[ -n "${TISOCK_DEB_OUT:-}" ] && cp "$tmp/lintian.txt" "$TISOCK_DEB_OUT/"
echo "# lintian: $(grep -c '^E:' "$tmp/lintian.txt") errors, $(grep -c '^W:' "$tmp/lintian.txt") warnings, $(grep -c '^I:' "$tmp/lintian.txt") notes"
grep -E '^(E|W):' "$tmp/lintian.txt" | sed 's/^/# /'
check "lintian: no errors" bash -c "! grep -q '^E:' '$tmp/lintian.txt'"
# Every warning left must be explained in doc/PACKAGING.md.
for tag in $(sed -n 's/^W: [^ ]*: \([a-z0-9-]*\).*/\1/p' "$tmp/lintian.txt" | sort -u); do
	check "lintian warning $tag is explained in doc/PACKAGING.md" grep -q -- "$tag" "$src/doc/PACKAGING.md"
done

# --- 3. install -----------------------------------------------------------------
export DEBIAN_FRONTEND=noninteractive
installed=true
if ! dpkg -i "${debs[@]}" > "$tmp/install.log" 2>&1; then
	apt-get install -f -y -qq >> "$tmp/install.log" 2>&1
fi
for p in $PKGS; do
	check "$p is installed" bash -c "dpkg-query -W -f='\${Status}' $p | grep -q 'ok installed'"
done
grep -iE 'error|warning' "$tmp/install.log" | sed 's/^/# install: /'

# --- 4. the install as it should be ------------------------------------------------
check "sysusers.d applied: the user tisockd" getent passwd tisockd
check "sysusers.d applied: the group tisock" getent group tisock
check "tmpfiles.d applied: /run/tisockd is 0750 tisockd:tisock" \
	[ "$(stat -c '%a %U:%G' /run/tisockd 2>/dev/null)" = "750 tisockd:tisock" ]
check "the units are installed" test -f /lib/systemd/system/tisockd.socket -a -f /lib/systemd/system/tisockd.service
check "the unit runs /usr/sbin/tisockd" grep -q '^ExecStart=/usr/sbin/tisockd --foreground' /lib/systemd/system/tisockd.service
check "tisockd.socket is enabled (sockets.target.wants)" test -L /etc/systemd/system/sockets.target.wants/tisockd.socket
if command -v systemd-analyze >/dev/null; then
	check "systemd-analyze verify: the installed units" \
		systemd-analyze verify --man=no /lib/systemd/system/tisockd.socket /lib/systemd/system/tisockd.service
fi
check "/etc/tisockd/tisockd.conf is a conffile" bash -c "dpkg-query -W -f='\${Conffiles}' tisockd | grep -q /etc/tisockd/tisockd.conf"
check "the installed configuration is good and changes nothing" tisockd --check-config
check "the manuals are installed" bash -c "man -w tisockd && man -w tisockd.conf && man -w tisockctl && man -w 3 libtisock" 
check "bash completion for tisockctl" test -f /usr/share/bash-completion/completions/tisockctl
check "pkg-config finds the library" [ "$(pkg-config --modversion tisock)" = "$(sed -n 's/^AC_INIT(\[tisock\], \[\([^]]*\)\].*/\1/p' "$src/configure.ac")" ]
cc -std=c11 -Wall -Werror -o "$tmp/connect-read" /usr/share/doc/libtisock-dev/examples/connect-read.c \
	$(pkg-config --cflags --libs tisock) 2> "$tmp/cc.log"; rc=$?
check "an example builds against the installed library" [ $rc = 0 ]
check "... and links the installed libtisock.so.0" \
	bash -c "ldd '$tmp/connect-read' | grep -Eq 'libtisock.so.0 => (/usr)?/lib/[^ ]*/libtisock.so.0 '"

# --- 5. the installed daemon, as its user, on a temporary socket -----------------
chmod 0755 "$tmp"
mkdir -m 0750 "$tmp/run"
chown tisockd:tisock "$tmp/run"
setpriv --reuid=tisockd --regid=tisock --init-groups /usr/sbin/tisockd --foreground \
	--socket "$tmp/run/tisockd.sock" 2> "$tmp/daemon.log" &
dpid=$!
pids+=("$dpid")
check "the installed daemon comes up as tisockd" wait_until tisockctl --socket "$tmp/run/tisockd.sock" ping
tisockctl --socket "$tmp/run/tisockd.sock" info > "$tmp/info" 2>&1; rc=$?
sed 's/^/# /' "$tmp/info" | head -n 8
check "tisockctl info against it" bash -c "[ $rc = 0 ] && grep -q '^name: tisockd$' '$tmp/info' && grep -q '^version: $version' '$tmp/info'"
check "the daemon runs as the user tisockd" [ "$(ps -o user= -p "$dpid")" = tisockd ]
check "its socket is 0660 in the group tisock" [ "$(stat -c '%a %G' "$tmp/run/tisockd.sock")" = "660 tisock" ]
kill -TERM "$dpid"; wait "$dpid"; rc=$?
check "it exits 0 on SIGTERM" [ $rc = 0 ]

# --- 6. purge ----------------------------------------------------------------------
purge
for p in $PKGS; do
	check "$p is purged" bash -c "! dpkg-query -W -f='\${Status}' $p 2>/dev/null | grep -q 'ok installed'"
done
check "purge: the files are gone" \
	bash -c "! test -e /usr/sbin/tisockd -o -e /usr/bin/tisockctl -o -e /lib/systemd/system/tisockd.service -o -e /etc/tisockd"
check "purge: the units are no longer enabled" bash -c "! test -L /etc/systemd/system/sockets.target.wants/tisockd.socket"

finish
