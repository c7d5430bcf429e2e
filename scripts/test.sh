#!/bin/sh
# Sets everything up, then runs the whole suite twice: on the release build
# (build/) and on an AddressSanitizer + UndefinedBehaviorSanitizer build
# (build-asan/), plus valgrind runs of the math and network unit tests.
# Ends with one line "N passed, M failed"; exits non-zero when anything failed.
set -u
cd "$(dirname "$0")/.."
sh scripts/setup.sh --tests valgrind || { echo "0 passed, 1 failed"; exit 1; }

if [ ! -f build-asan/build.ninja ]; then
	meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null || {
		echo "0 passed, 1 failed"; exit 1; }
fi
ninja -C build-asan >/dev/null || { echo "0 passed, 1 failed"; exit 1; }

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1"

passed=0
failed=0
tally() {   # reads meson's summary from testlog of build dir $1
	log="$1/meson-logs/testlog.json"
	p=$(grep -c '"result": "OK"' "$log" 2>/dev/null || true)
	f=$(grep -c -E '"result": "(FAIL|TIMEOUT|ERROR|UNEXPECTEDPASS)"' "$log" 2>/dev/null || true)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
}

for dir in build build-asan; do
	echo "== meson test in $dir"
	meson test -C "$dir" --print-errorlogs -q
	tally "$dir"
done

# valgrind hides AVX-512 from the program, so on an AVX-512 machine these
# runs also check the AVX2+FMA clones of the hot loops (core/simd.h).
for t in test_net test_act test_loss test_optim test_team test_gradcheck; do
	echo "== valgrind: $t"
	if valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --error-exitcode=1 \
		"build/tests/$t" >/tmp/bptrain-valgrind.log 2>&1; then
		passed=$((passed + 1))
	else
		failed=$((failed + 1))
		cat /tmp/bptrain-valgrind.log
	fi
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
