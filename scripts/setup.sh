#!/bin/sh
# Installs what bptrain needs (Debian packages, via apt-get) and builds a
# release build in build/. Idempotent: quiet when everything is there.
set -eu
cd "$(dirname "$0")/.."

PACKAGES="gcc libc6-dev meson ninja-build pkg-config libyaml-dev zlib1g-dev libopenblas-dev libcmocka-dev dataset-fashion-mnist python3"
[ $# -gt 0 ] && PACKAGES="$PACKAGES $*"

missing=""
for p in $PACKAGES; do
	status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$status" in
	*" installed") ;;
	*) missing="$missing $p" ;;
	esac
done
if [ -n "$missing" ]; then
	echo "setup: installing$missing"
	SUDO=""
	[ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi

if [ ! -f build/build.ninja ]; then
	meson setup build --buildtype=release >/dev/null
fi
ninja -C build >/dev/null
