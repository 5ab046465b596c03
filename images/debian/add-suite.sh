#!/bin/sh
# add-suite.sh SUITE CHECK_VALID_UNTIL [PACKAGE...]
#
# Adds the Debian suite SUITE (e.g. sid) as an apt source of this image, from
# the same archive the image's own sources name (so a mirror configured in the
# base image is used for it too), then runs `apt-get update`.
#
# With PACKAGEs, only those packages may come from SUITE: everything else is
# pinned to priority -1 there, so the image stays on its own release. Without,
# SUITE gets the default priority, for `apt-get install -t SUITE`.
#
# CHECK_VALID_UNTIL=false accepts an expired Release file for SUITE alone (a
# dated snapshot of the archive has one); its signature is still checked.
#
# Used by the Dockerfiles of the agent and of the PostgreSQL 18 test fixture.
set -eu

if [ $# -lt 2 ]; then
	echo "usage: add-suite.sh SUITE CHECK_VALID_UNTIL [PACKAGE...]" >&2
	exit 2
fi
suite=$1
check=$2
shift 2

# The archive: the first URI of the image's deb822 sources, or of a
# one-line sources.list (as debootstrap writes it).
uri=""
for f in /etc/apt/sources.list.d/*.sources; do
	[ -f "$f" ] || continue
	uri=$(awk '$1 == "URIs:" && $2 !~ /-security/ { print $2; exit }' "$f")
	[ -n "$uri" ] && break
done
if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
	uri=$(awk '$1 == "deb" && $2 !~ /-security/ { print $2; exit }' /etc/apt/sources.list)
fi
if [ -z "$uri" ]; then
	echo "add-suite.sh: no Debian archive found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2
	exit 1
fi

{
	echo "Types: deb"
	echo "URIs: $uri"
	echo "Suites: $suite"
	echo "Components: main"
	echo "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg"
	if [ "$check" = "false" ]; then
		echo "Check-Valid-Until: no"
	fi
} > "/etc/apt/sources.list.d/pgbackup-$suite.sources"

if [ $# -gt 0 ]; then
	cat > "/etc/apt/preferences.d/pgbackup-$suite" <<PIN
Package: $*
Pin: release n=$suite
Pin-Priority: 500

Package: *
Pin: release n=$suite
Pin-Priority: -1
PIN
fi

log=$(mktemp)
if ! apt-get update > "$log" 2>&1 || grep -q '^E:' "$log"; then
	cat "$log" >&2
	echo "add-suite.sh: apt-get update failed for suite $suite from $uri; if its Release file has expired (a dated snapshot of the archive), build with APT_CHECK_VALID_UNTIL=false" >&2
	exit 1
fi
rm -f "$log"
