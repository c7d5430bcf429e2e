#!/bin/sh
# Installs what bptrain needs (Debian packages, via apt-get) and builds a
# release build in build/. Idempotent: quiet when everything is there.
#
#   scripts/setup.sh [--tests] [PACKAGE...]
#
# --tests also installs what the test suite runs bptrain against (ONNX's
# checker and NumPy for Debian's python3, Node.js and the npm package
# onnxruntime-node, chromium for the browser test of the pictures); extra
# arguments are more Debian packages.
set -eu
cd "$(dirname "$0")/.."
tests=0
if [ "${1:-}" = "--tests" ]; then
	tests=1
	shift
fi

PACKAGES="gcc libc6-dev meson ninja-build pkg-config libyaml-dev zlib1g-dev libopenblas-dev libcmocka-dev dataset-fashion-mnist python3"
# Data-parallel training under mpirun (meson -Dmpi=auto finds it).
PACKAGES="$PACKAGES openmpi-bin libopenmpi-dev"
# tests/test_export.py: onnx.checker and NumPy for Debian's python3, Node.js
# for ONNX Runtime (a machine whose Node.js came from elsewhere keeps it).
if [ "$tests" = 1 ]; then
	PACKAGES="$PACKAGES python3-onnx python3-numpy"
	# tests/test_browser.py: headless screenshots of a report and a curves.svg.
	PACKAGES="$PACKAGES chromium"
	command -v npm >/dev/null 2>&1 || PACKAGES="$PACKAGES nodejs npm"
fi
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

# ONNX Runtime for tests/test_export.py: onnxruntime-node as
# tests/onnx/package-lock.json pins it. --ignore-scripts keeps the CPU library
# the package ships and skips its install script, which would download more.
want=$(sed -n 's/^ *"onnxruntime-node": "\(.*\)".*/\1/p' tests/onnx/package.json)
if [ "$tests" = 1 ] && ! grep -q "^  \"version\": \"$want\"" tests/onnx/node_modules/onnxruntime-node/package.json 2>/dev/null; then
	echo "setup: installing onnxruntime-node $want (npm, into tests/onnx)"
	(cd tests/onnx && npm ci --ignore-scripts --no-audit --no-fund --silent >/dev/null)
fi

if [ ! -f build/build.ninja ]; then
	meson setup build --buildtype=release >/dev/null
fi
ninja -C build >/dev/null
