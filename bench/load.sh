#!/bin/sh
# Data loading benchmarks (issue 3): Fashion-MNIST IDX load vs zcat, and CSV
# parse speed on a generated 100 MB numeric file. Results: bench/RESULTS.md.
#   bench/load.sh [BUILD_DIR]      (default: build-bench-data, configured as release)
set -eu
cd "$(dirname "$0")/.."
build=${1:-build-bench-data}
if [ ! -d "$build" ]; then
	meson setup "$build" --buildtype=release >/dev/null
fi
ninja -C "$build" bench/bench_load >/dev/null
fm=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
echo "== IDX: $fm/train-images-idx3-ubyte.gz"
"$build/bench/bench_load" idx "$fm/train-images-idx3-ubyte.gz" "$fm/train-labels-idx1-ubyte.gz" 9
csv=${TMPDIR:-/tmp}/bptrain-bench-100mb.csv
echo "== CSV: $csv"
"$build/bench/bench_load" csv "$csv" 100 5
echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), zlib $(dpkg-query -W -f '${Version}' zlib1g 2>/dev/null || echo ?), $(gzip --version | head -1)"
