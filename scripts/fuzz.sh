#!/bin/sh
# Builds the libFuzzer harnesses (tests/fuzz) with clang in build-fuzz/ and
# runs each for SECONDS (default 600) on its seed corpus.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]     HARNESS: config idx csv ckpt
#
# FUZZ_PARALLEL=N runs N harnesses at a time (default 1). New corpus entries
# go to build-fuzz/fuzz-corpus/NAME (the committed seeds in
# tests/fuzz/corpus/NAME are only read); logs to build-fuzz/fuzz-logs/NAME.log;
# crashes, leaks and timeouts to build-fuzz/fuzz-artifacts/NAME/. Prints, per
# harness, the executions, the coverage (cov: edges, ft: features) and any
# crash file. Exits 1 when any harness found something.
set -u
cd "$(dirname "$0")/.."
seconds=${1:-600}
[ $# -gt 0 ] && shift
harnesses=${*:-config idx csv ckpt}
parallel=${FUZZ_PARALLEL:-1}

command -v clang >/dev/null || { echo "fuzz.sh: clang not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
if [ ! -f build-fuzz/build.ninja ]; then
	CC=clang meson setup build-fuzz -Dfuzz=true -Db_lundef=false >/dev/null || exit 1
fi
ninja -C build-fuzz >/dev/null || { echo "fuzz.sh: build failed" >&2; exit 1; }
if [ ! -f tests/fuzz/corpus/ckpt/adam-standardize ]; then
	python3 tests/fuzz/gen_corpus.py build-fuzz/cmd/bptrain || exit 1
fi

export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:${ASAN_OPTIONS:-}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

max_len() {
	case $1 in
	ckpt) echo 16384 ;;
	*) echo 4096 ;;
	esac
}

run_one() {
	name=$1
	corpus=build-fuzz/fuzz-corpus/$name
	art=build-fuzz/fuzz-artifacts/$name
	mkdir -p "$corpus" "$art" build-fuzz/fuzz-logs
	build-fuzz/tests/fuzz/fuzz_"$name" "$corpus" tests/fuzz/corpus/"$name" \
		-max_total_time="$seconds" -max_len="$(max_len "$name")" -timeout=10 \
		-rss_limit_mb=2048 -malloc_limit_mb=512 -print_final_stats=1 \
		-artifact_prefix="$art/" >build-fuzz/fuzz-logs/"$name".log 2>&1
}

report() {
	name=$1
	log=build-fuzz/fuzz-logs/$name.log
	execs=$(grep -E '^stat::number_of_executed_units' "$log" | tail -1 | awk '{print $2}')
	[ -n "$execs" ] || execs=$(grep -E '^#[0-9]+' "$log" | tail -1 | awk '{print substr($1, 2)}')
	took=$(grep -E '^Done [0-9]+ runs in' "$log" | tail -1 | awk '{print $5}')
	last=$(grep -E '^#[0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*')
	echo "fuzz_$name: ${took:+${took}s of }${seconds}s, ${execs:-?} executions, ${last:-no stats}"
	found=0
	for f in build-fuzz/fuzz-artifacts/"$name"/*; do
		[ -f "$f" ] || continue
		echo "  FINDING: $f"
		found=1
	done
	grep -E '^(==[0-9]+==ERROR|SUMMARY:|.*contract broken)' "$log" | head -5 | sed 's/^/  /'
	return $found
}

# One process per harness (a single libFuzzer job), FUZZ_PARALLEL at a time.
i=0
for name in $harnesses; do
	run_one "$name" &
	i=$((i + 1))
	if [ "$i" -ge "$parallel" ]; then
		wait
		i=0
	fi
done
wait

status=0
for name in $harnesses; do
	report "$name" || status=1
done
exit $status
