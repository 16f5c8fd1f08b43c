#!/bin/sh
# Installs the Debian packages tisock needs to build, test and run.
# Usage: tools/deps.sh           install them (as root, or through sudo)
#        tools/deps.sh --list    print their names
set -eu

PACKAGES="build-essential autoconf automake libtool pkg-config
	libev-dev libcjson-dev libsystemd-dev libc-ares-dev libinih-dev
	libcmocka-dev libssl-dev openssl socat jq systemd valgrind clang python3-jsonschema python3-aiorpcx
	python3-prometheus-client"

if [ "${1:-}" = "--list" ]; then
	echo $PACKAGES
	exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq $PACKAGES >/dev/null
