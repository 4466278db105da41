#!/bin/sh
# Install the build and test dependencies of jbus (json-c, Check, pkg-config,
# and curl for the HTTP tests) with the system package manager. Called by the
# Makefile when pkg-config cannot find a dependency; safe to run by hand at
# any time.
set -eu

# --fuzz: also the compiler and runtime for make fuzz (clang, libFuzzer)
# --valgrind: also valgrind, for make check-valgrind
# --peers: also the peers of make bench-peers (redis, mosquitto, their C clients)
# --systemd: also systemd-socket-activate, for the socket activation test
# --man: also mandoc (make check-man lints the man pages with it) and zsh
#        (the tests check the zsh completion's syntax with zsh -n)
fuzz=0
valgrind=0
peers=0
systemd=0
man=0
for arg in "$@"; do
	case $arg in
	--fuzz) fuzz=1 ;;
	--valgrind) valgrind=1 ;;
	--peers) peers=1 ;;
	--systemd) systemd=1 ;;
	--man) man=1 ;;
	*) echo "usage: install-deps.sh [--fuzz] [--valgrind] [--peers] [--systemd] [--man]" >&2; exit 2 ;;
	esac
done

need_sudo() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null 2>&1; then
		sudo "$@"
	else
		echo "install-deps: need root (or sudo) to run: $*" >&2
		exit 1
	fi
}

if command -v apt-get >/dev/null 2>&1; then
	export DEBIAN_FRONTEND=noninteractive
	need_sudo apt-get update -q
	extra=""
	[ "$fuzz" = 1 ] && extra="clang libclang-rt-dev"
	[ "$valgrind" = 1 ] && extra="$extra valgrind"
	[ "$peers" = 1 ] && extra="$extra redis-server mosquitto libhiredis-dev libmosquitto-dev"
	# the tool is in the systemd package itself (nothing is started by installing it)
	[ "$systemd" = 1 ] && extra="$extra systemd"
	[ "$man" = 1 ] && extra="$extra mandoc zsh"
	# shellcheck disable=SC2086 # extra is a word list
	need_sudo apt-get install -y -q --no-install-recommends \
		pkg-config libjson-c-dev check gcc make curl $extra
elif command -v dnf >/dev/null 2>&1; then
	extra=""
	[ "$fuzz" = 1 ] && extra="clang compiler-rt"
	[ "$valgrind" = 1 ] && extra="$extra valgrind"
	[ "$peers" = 1 ] && extra="$extra redis mosquitto hiredis-devel mosquitto-devel"
	[ "$systemd" = 1 ] && extra="$extra systemd"
	[ "$man" = 1 ] && extra="$extra mandoc zsh"
	# shellcheck disable=SC2086 # extra is a word list
	need_sudo dnf install -y pkgconf-pkg-config json-c-devel check-devel gcc make curl $extra
else
	echo "install-deps: no supported package manager (apt-get, dnf) found." >&2
	echo "install-deps: install pkg-config, json-c (>= 0.13), Check (>= 0.11) and curl by hand." >&2
	exit 1
fi
