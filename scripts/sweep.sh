#!/usr/bin/env bash
# A grid sweep over config keys:
#   scripts/sweep.sh CONFIG KEY=V1,V2 [KEY=V1,V2]... [-- EXTRA TRAIN ARGS]
# Each grid point trains into its own folder under $SWEEP_DIR (default
# sweeps/<config name>), named after its values. Points that already
# finished are skipped, interrupted ones resume from last.ckpt, failed ones
# are reported and the rest carry on. results.csv gets one row per point,
# best first (by best_val_accuracy, or best_val_loss when there is none),
# and report.html (bptrain report) shows the runs side by side.
set -u
usage() { echo "usage: scripts/sweep.sh CONFIG KEY=V1,V2 [KEY=V1,V2]... [-- TRAIN ARGS]" >&2; exit 2; }
[ $# -ge 2 ] || usage
here=$(cd "$(dirname "$0")/.." && pwd)
bptrain=${BPTRAIN:-$here/build/cmd/bptrain}
config=$1; shift
[ -f "$config" ] || { echo "sweep: error: $config: no such config" >&2; exit 2; }
keys=(); values=(); extra=()
while [ $# -gt 0 ]; do
	if [ "$1" = "--" ]; then shift; extra=("$@"); break; fi
	case "$1" in
	*=*) keys+=("${1%%=*}"); values+=("${1#*=}") ;;
	*) usage ;;
	esac
	shift
done
name=$(basename "$config"); name=${name%.yaml}; name=${name%.yml}
root=${SWEEP_DIR:-sweeps/$name}
mkdir -p "$root" || exit 1

# The grid: every combination, one "k1=v1 k2=v2" line per point.
points=("")
for i in "${!keys[@]}"; do
	IFS=, read -r -a vs <<< "${values[$i]}"
	next=()
	for p in "${points[@]}"; do
		for v in "${vs[@]}"; do next+=("${p:+$p }${keys[$i]}=$v"); done
	done
	points=("${next[@]}")
done

field() {   # field FILE KEY: a value of our one-key-per-line summary.json
	sed -n "s/^ *\"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}$/\1/p" "$1" | head -n 1
}

failed=0
for p in "${points[@]}"; do
	dir="$root/$(echo "$p" | tr ' /' ',_')"
	sets=()
	for kv in $p; do sets+=(--set "$kv"); done
	if [ -f "$dir/summary.json" ] && grep -q '"stopped": "\(completed\|early_stopping\)"' "$dir/summary.json"; then
		echo "sweep: $p: done, skipped"
		continue
	fi
	if [ -f "$dir/last.ckpt" ]; then
		how=(--resume "$dir/last.ckpt")
	else
		how=(--force)
	fi
	echo "sweep: $p: training"
	"$bptrain" train "$config" "${sets[@]}" --out "$dir" "${how[@]}" --quiet --no-progress "${extra[@]}"
	rc=$?
	if [ $rc -ne 0 ]; then
		echo "sweep: $p: failed with exit status $rc" >&2
		failed=$((failed + 1))
	fi
done

# results.csv: the varied values, then the run's numbers; best first.
{
	header=$(IFS=,; echo "${keys[*]}")
	echo "$header,best_val_accuracy,best_val_loss,test_accuracy,epochs_run,seconds,stopped"
	for p in "${points[@]}"; do
		dir="$root/$(echo "$p" | tr ' /' ',_')"
		row=""
		for kv in $p; do row="$row${row:+,}${kv#*=}"; done
		s="$dir/summary.json"
		if [ -f "$s" ]; then
			row="$row,$(field "$s" best_val_accuracy),$(field "$s" best_val_loss),$(field "$s" test_accuracy)"
			row="$row,$(field "$s" epochs_run),$(field "$s" seconds),$(field "$s" stopped)"
		else
			row="$row,,,,,,failed"
		fi
		echo "$row" | sed 's/null//g'
	done | awk -F, -v n="${#keys[@]}" '{
		acc = $(n + 1); loss = $(n + 2)
		key = (acc != "") ? -acc : ((loss != "") ? loss : 1e300)
		printf "%.12g\t%s\n", key, $0 }' | sort -g -k1,1 | cut -f2-
} > "$root/results.csv.tmp" && mv "$root/results.csv.tmp" "$root/results.csv"
# report.html: the runs side by side (bptrain report), every point that has a run.
runs=()
for p in "${points[@]}"; do
	dir="$root/$(echo "$p" | tr ' /' ',_')"
	[ -f "$dir/metrics.csv" ] && [ -f "$dir/config.yaml" ] && runs+=("$dir")
done
report=""
if [ ${#runs[@]} -gt 0 ]; then
	if "$bptrain" report "${runs[@]}" --output "$root/report.html"; then
		report="; report in $root/report.html"
	else
		echo "sweep: the report could not be written" >&2
		failed=$((failed + 1))
	fi
fi
echo "sweep: $((${#points[@]} - failed)) of ${#points[@]} points ok; results in $root/results.csv$report"
[ $failed -eq 0 ]
