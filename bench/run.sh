#!/bin/bash
# Training speed (issue 5): bptrain against PyTorch on the same MLPs, side by
# side, and against the GEMM floor (bench/gemm_floor.c: the sgemm calls of one
# epoch and nothing else). For each network and thread count it alternates
# bptrain and PyTorch for ROUNDS rounds (the one that goes first alternates
# too), 2 epochs each on Fashion-MNIST with a 0.1 validation split, then prints
# a markdown table of medians and ratios and replaces the "Training speed"
# section of bench/RESULTS.md (between its markers).
#
#   bench/run.sh                     all networks, 1 and 2 threads, 3 rounds
#   ROUNDS=5 NETS="wide big" THREADS=2 bench/run.sh
#
# Environment (defaults in brackets):
#   ROUNDS [3]   NETS [seed wide big]   THREADS [1 2]   EPOCHS [2]
#   BUILD [build-bench]: a release build dir, set up here when missing
#   FASHION_MNIST [/usr/share/datasets/fashion-mnist]
#   PYTHON [/usr/bin/python3]: Debian's python3 with python3-torch
#   RESULTS [bench/RESULTS.md]; WRITE [1]: 0 prints the tables only
#   SKIP_BPTRAIN [0]: 1 measures PyTorch and the floor only
#
# Threads. bptrain and the floor get --threads N and set OpenBLAS themselves
# (OPENBLAS_NUM_THREADS is removed from their environment). PyTorch 1.13 on
# 2 vCPUs is fastest with 1 OpenMP thread and OpenBLAS's own pool doing the
# fp32 matmuls (set_num_threads(2) makes the pools fight, 3-4x slower), so
# "N threads" for PyTorch means OPENBLAS_NUM_THREADS=N, torch.set_num_threads(1).
# OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE are left as they are, for every program.
#
# Measures: per-epoch seconds (bptrain's metrics.csv `seconds`, PyTorch's
# epoch_seconds; the median over every epoch of every round), whole-process
# wall time and peak RSS (/usr/bin/time -f '%e %M'; medians over rounds), and
# the floor (median over rounds of gemm_floor's median of 3).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
NETS=${NETS:-seed wide big}
THREADS=${THREADS:-1 2}
EPOCHS=${EPOCHS:-2}
BUILD=${BUILD:-build-bench}
FM=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
PYTHON=${PYTHON:-/usr/bin/python3}
RESULTS=${RESULTS:-bench/RESULTS.md}
WRITE=${WRITE:-1}
SKIP_BPTRAIN=${SKIP_BPTRAIN:-0}
TIME=/usr/bin/time

die() { echo "bench/run.sh: error: $*" >&2; exit 1; }
log() { echo "$*" >&2; }

net_layers() {
	case $1 in
	seed) echo 784,64,10 ;;
	wide) echo 784,256,128,10 ;;
	big) echo 784,1024,1024,10 ;;
	*) die "unknown network '$1' (seed, wide, big)" ;;
	esac
}
net_batch() {
	case $1 in seed) echo 32 ;; wide) echo 128 ;; big) echo 256 ;; esac
}
# Targets from issue 5: PyTorch/bptrain per epoch, and bptrain/floor.
speed_target() { case $1 in seed) echo 3 ;; wide) echo 2 ;; big) echo 1.2 ;; esac; }
floor_target() { case $1 in seed) echo 2 ;; *) echo 1.3 ;; esac; }

[ -x "$TIME" ] || die "$TIME is missing: apt-get install -y time"
"$PYTHON" -c 'import torch' 2>/dev/null || die "$PYTHON cannot import torch: apt-get install -y python3-torch"
[ -r "$FM/train-images-idx3-ubyte.gz" ] || die "no Fashion-MNIST in $FM (set FASHION_MNIST)"
[ "$ROUNDS" -ge 1 ] 2>/dev/null || die "ROUNDS must be a positive integer"

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" --buildtype=release >/dev/null
fi
targets=(bench/gemm_floor)
[ "$SKIP_BPTRAIN" = 1 ] || targets+=(cmd/bptrain)
ninja -C "$BUILD" "${targets[@]}" >/dev/null
BPTRAIN=$BUILD/cmd/bptrain
FLOOR=$BUILD/bench/gemm_floor

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bptrain-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# median FILE: the median of the numbers in FILE, one per line ("" when none).
median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.6g\n", m }'
}
# best FILE: the smallest number in FILE ("" when none).
best() { sort -g "$1" | head -1; }
# sec VALUE [BEST]: seconds to 3 decimals, "(best B)" appended when given; "n/a" when missing.
sec() {
	awk -v v="$1" -v b="${2:-}" 'BEGIN {
		if (v == "") { print "n/a"; exit }
		if (b != "") printf "%.3f (%.3f)\n", v, b; else printf "%.3f\n", v }'
}
# ratio A B [DIGITS]: A/B, or "n/a" when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
		if (a == "" || b == "" || b + 0 == 0) print "n/a"; else printf "%.*f\n", d, a / b }'
}
# meets VALUE TARGET: "yes" when VALUE >= TARGET, "no", or "n/a".
meets() {
	awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else print (v + 0 >= t + 0 ? "yes" : "no") }'
}
# reach CAP TARGET: a note when even a trainer at the GEMM floor would miss TARGET.
reach() { [ "$(meets "$1" "$2")" = no ] && echo " (< $2: target out of reach)" || true; }
acc() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.4f\n", v }'; }
mb() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.0f\n", k / 1024 }'; }

# run_bptrain NET THREADS ROUND: appends to $tmp/NET-T-bp.{epoch,wall,rss,acc}
run_bptrain() {
	local net=$1 t=$2 r=$3 out=$tmp/run-$1-$2-$3 p=$tmp/$1-$2-bp
	if ! env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
		"$TIME" -f '%e %M' -o "$tmp/time" \
		"$BPTRAIN" train "bench/configs/$net.yaml" \
		--set "data.train.images=$FM/train-images-idx3-ubyte.gz" \
		--set "data.train.labels=$FM/train-labels-idx1-ubyte.gz" \
		--set "train.epochs=$EPOCHS" \
		--out "$out" --force --threads "$t" --quiet >"$tmp/bp.log" 2>&1; then
		log "  bptrain failed: $(grep -v '^Command exited' "$tmp/bp.log" | tail -1)"
		return 1
	fi
	# metrics.csv: epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds
	awk -F, 'NR > 1 { print $7 }' "$out/metrics.csv" >>"$p.epoch"
	cut -d, -f1-6 "$out/metrics.csv" >"$p.same.$r"   # all but seconds: identical every round
	awk -F, 'NR > 1 { a = $5 } END { print a }' "$out/metrics.csv" >>"$p.acc"
	awk '{ print $1 }' "$tmp/time" >>"$p.wall"
	awk '{ print $2 }' "$tmp/time" >>"$p.rss"
	log "  bptrain  epochs $(awk -F, 'NR > 1 { printf "%s ", $7 }' "$out/metrics.csv")s, process $(cut -d' ' -f1 "$tmp/time") s, rss $(mb "$(cut -d' ' -f2 "$tmp/time")") MB"
	rm -rf "$out"
}

# run_torch NET THREADS: appends to $tmp/NET-T-pt.{epoch,wall,rss,acc}
run_torch() {
	local net=$1 t=$2 p=$tmp/$1-$2-pt
	if ! OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=1 \
		"$TIME" -f '%e %M' -o "$tmp/time" \
		"$PYTHON" bench/torch_mlp.py --data "$FM" --layers "$(net_layers "$net")" \
		--batch "$(net_batch "$net")" --epochs "$EPOCHS" --split 0.1 --threads 1 \
		>"$tmp/pt.log" 2>&1; then
		log "  PyTorch failed: $(tail -1 "$tmp/pt.log")"
		return 1
	fi
	awk '$1 == "epoch_seconds" { print $3 }' "$tmp/pt.log" >>"$p.epoch"
	awk '$1 == "epoch" { for (i = 1; i < NF; i++) if ($i == "val_acc") a = $(i + 1) } END { print a }' \
		"$tmp/pt.log" >>"$p.acc"
	awk '{ print $1 }' "$tmp/time" >>"$p.wall"
	awk '{ print $2 }' "$tmp/time" >>"$p.rss"
	log "  PyTorch  epochs $(awk '$1 == "epoch_seconds" { printf "%s ", $3 }' "$tmp/pt.log")s, process $(cut -d' ' -f1 "$tmp/time") s, rss $(mb "$(cut -d' ' -f2 "$tmp/time")") MB"
}

# run_floor NET THREADS: appends to $tmp/NET-T-floor.{sec,gflops}
run_floor() {
	local net=$1 t=$2 p=$tmp/$1-$2-floor
	env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
		"$FLOOR" --layers "$(net_layers "$net")" --batch "$(net_batch "$net")" \
		--samples 54000 --val 6000 --threads "$t" --reps 3 >"$tmp/floor.log"
	awk '$1 == "floor_seconds" { print $2 }' "$tmp/floor.log" >>"$p.sec"
	awk '$1 == "gflops" { print $2 }' "$tmp/floor.log" >>"$p.gflops"
	log "  floor    $(awk '$1 == "floor_seconds" { print $2 }' "$tmp/floor.log") s, $(awk '$1 == "gflops" { print $2 }' "$tmp/floor.log") GFLOP/s"
}

bp_ok=1
[ "$SKIP_BPTRAIN" = 1 ] && bp_ok=0
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(awk '{ print $1 }' /proc/loadavg)
for net in $NETS; do
	net_layers "$net" >/dev/null
	for t in $THREADS; do
		for r in $(seq 1 "$ROUNDS"); do
			log "== $net $(net_layers "$net") batch $(net_batch "$net"), threads $t, round $r/$ROUNDS"
			if [ $((r % 2)) = 1 ]; then
				[ $bp_ok = 1 ] && { run_bptrain "$net" "$t" "$r" || bp_ok=0; }
				run_torch "$net" "$t" || die "PyTorch failed; log above"
			else
				run_torch "$net" "$t" || die "PyTorch failed; log above"
				[ $bp_ok = 1 ] && { run_bptrain "$net" "$t" "$r" || bp_ok=0; }
			fi
			run_floor "$net" "$t"
		done
	done
done
peak1=$(env -u OPENBLAS_NUM_THREADS "$FLOOR" --threads 1 --reps 3 --peak --samples 1 --val 0 | awk '$1 == "peak_gflops" { print $2 }')
peak2=$(env -u OPENBLAS_NUM_THREADS "$FLOOR" --threads 2 --reps 3 --peak --samples 1 --val 0 | awk '$1 == "peak_gflops" { print $2 }')

# ---- tables
speed="| net | threads | bptrain s/epoch (best) | PyTorch s/epoch (best) | GEMM floor s/epoch (best) | floor GFLOP/s | PyTorch/bptrain (target) | bptrain/floor (target) | PyTorch/floor at 1 thread: the most any trainer could reach |
|---|---|---|---|---|---|---|---|---|"
proc="| net | threads | bptrain process s | PyTorch process s | PyTorch/bptrain | bptrain peak RSS MB | PyTorch peak RSS MB | PyTorch/bptrain RSS | val_acc bptrain / PyTorch | bptrain metrics identical across rounds |
|---|---|---|---|---|---|---|---|---|---|"
verdicts=""
met_list=""; missed_list=""; beyond_list=""; other_list=""
# miss VERDICT WHAT: adds WHAT to the other targets missed unless VERDICT is "yes".
miss() { [ "$1" = yes ] || other_list+="${other_list:+, }$2"; }
for net in $NETS; do
	for t in $THREADS; do
		p=$tmp/$net-$t
		for f in bp.epoch bp.wall bp.rss bp.acc; do touch "$p-$f"; done
		bp_e=$(median "$p-bp.epoch"); pt_e=$(median "$p-pt.epoch"); fl=$(median "$p-floor.sec")
		gf=$(median "$p-floor.gflops")
		bp_w=$(median "$p-bp.wall"); pt_w=$(median "$p-pt.wall")
		bp_m=$(median "$p-bp.rss"); pt_m=$(median "$p-pt.rss")
		bp_a=$(median "$p-bp.acc"); pt_a=$(median "$p-pt.acc")
		same=n/a
		if ls "$p-bp.same."* >/dev/null 2>&1; then
			same=yes
			for f in "$p-bp.same."*; do cmp -s "$f" "$p-bp.same.1" || same=no; done
		fi
		sp=$(ratio "$pt_e" "$bp_e"); fr=$(ratio "$bp_e" "$fl"); pr=$(ratio "$pt_w" "$bp_w"); mr=$(ratio "$pt_m" "$bp_m" 1)
		# At 1 thread no trainer that makes these sgemm calls with this BLAS
		# beats the floor, so PyTorch/floor bounds the speed-up anyone could
		# show. At 2 threads the floor is OpenBLAS's own threading over whole
		# batches, while bptrain gives each thread half a batch: no bound.
		cap=n/a
		[ "$t" = 1 ] && cap=$(ratio "$pt_e" "$fl")
		st=$(speed_target "$net"); ft=$(floor_target "$net")
		fmet=$(awk -v v="$fr" -v t="$ft" 'BEGIN { if (v == "n/a") print "n/a"; else print (v + 0 <= t + 0 ? "yes" : "no") }')
		speed+="
| $net $(net_layers "$net" | tr , -) b$(net_batch "$net") | $t | $(sec "$bp_e" "$(best "$p-bp.epoch")") | $(sec "$pt_e" "$(best "$p-pt.epoch")") | $(sec "$fl" "$(best "$p-floor.sec")") | $gf | $sp (≥ $st: $(meets "$sp" "$st")) | $fr (≤ $ft: $fmet) | $cap$(reach "$cap" "$st") |"
		proc+="
| $net | $t | $(sec "$bp_w") | $(sec "$pt_w") | $pr | $(mb "$bp_m") | $(mb "$pt_m") | $mr | $(acc "$bp_a") / $(acc "$pt_a") | $same |"
		verdicts+="$net/$t speed:$(meets "$sp" "$st") floor:$fmet rss:$(meets "$mr" 4) deterministic:$same"
		[ "$net" = wide ] && verdicts+=" process:$(meets "$pr" 1.5)"
		verdicts+=$'\n'
		what="$net at $t thread$( [ "$t" = 1 ] || echo s) ($sp×, target $st)"
		if [ "$(meets "$sp" "$st")" = yes ]; then met_list+="${met_list:+, }$what"
		elif [ "$(meets "$cap" "$st")" = no ]; then beyond_list+="${beyond_list:+, }$what: PyTorch/floor is $cap"
		else missed_list+="${missed_list:+, }$what"; fi
		miss "$fmet" "$net/$t bptrain/floor $fr ≤ $ft"
		miss "$(meets "$mr" 4)" "$net/$t peak RSS ratio $mr ≥ 4"
		[ "$net" = wide ] && miss "$(meets "$pr" 1.5)" "wide/$t whole process $pr ≥ 1.5"
		[ "$same" = no ] && miss no "$net/$t determinism"
	done
done

blas_ver=$(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null || echo unknown)
torch_ver=$("$PYTHON" -c 'import torch; print(torch.__version__)')
bp_ver=$("$BPTRAIN" --version 2>/dev/null | awk '{ print $NF; exit }' || true)
cpu=$(lscpu | awk -F: '/Model name/ { sub(/^ +/, "", $2); print $2; exit }')
envs=""
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS OMP_NUM_THREADS; do
	[ -n "${!v:-}" ] && envs+="${envs:+, }\`$v=${!v}\`"
done
cmd="ROUNDS=$ROUNDS"
[ "$NETS" != "seed wide big" ] && cmd+=" NETS=\"$NETS\""
[ "$THREADS" != "1 2" ] && cmd+=" THREADS=\"$THREADS\""
[ "$EPOCHS" != 2 ] && cmd+=" EPOCHS=$EPOCHS"
[ "$SKIP_BPTRAIN" = 1 ] && cmd+=" SKIP_BPTRAIN=1"
cmd+=" bench/run.sh"

notes=""
if [ $bp_ok != 1 ]; then
	notes+="
bptrain columns are n/a: \`bptrain train\` did not run (not built yet, or failed); rerun this script to fill them."
fi
if awk -v l="$load_before" 'BEGIN { exit !(l > 0.5) }'; then
	notes+="
Load average (1 min) before the run: $load_before: other work shared the cores, so these numbers are noisy; rerun on a quiet machine."
else
	notes+="
Load average (1 min) before the run: $load_before (a quiet machine; during the run the load is the benchmark's own). This VM's speed still swings by up to ±20 % between periods, so compare ratios from one run."
fi

section="<!-- training-speed:begin -->
## Training speed (issue 5)

Run of \`$cmd\`, started $started.
Machine: $cpu, $(nproc) cores (\`nproc\`), $(free -g | awk '/^Mem:/ { print $2 }') GB.
Versions: bptrain ${bp_ver:-?} (\`$BUILD\`, $(meson introspect "$BUILD" --buildoptions 2>/dev/null | "$PYTHON" -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))' 2>/dev/null || echo ?)), OpenBLAS $blas_ver (pthread; PyTorch uses the same library), PyTorch $torch_ver (Debian python3-torch, \`$PYTHON\`).
Environment: ${envs:-no OPENBLAS_* variables set}; bptrain and the floor run without OPENBLAS_NUM_THREADS and set their threads with \`--threads\`.
PyTorch threads: \`OPENBLAS_NUM_THREADS=N\` and \`torch.set_num_threads(1)\`, its fastest setting on this machine.
Peak sgemm (1024³, OpenBLAS): ${peak1:-?} GFLOP/s on 1 thread, ${peak2:-?} on 2.

Each network: Fashion-MNIST, 54000 training samples, validation split 0.1 (6000), adam lr 0.001, $EPOCHS epochs,
$ROUNDS alternating rounds (bptrain first in odd rounds, PyTorch in even ones). Per epoch: median over all epochs of all rounds (training plus validation),
the smallest in brackets; process time and RSS: medians over rounds.
The GEMM floor is \`$FLOOR\`: exactly the sgemm calls of one epoch (forward, dW, dX, validation forward).

$speed

$proc

Targets (issue 5): PyTorch/bptrain per epoch ≥ 3 (seed), 2 (wide), 1.2 (big); bptrain/floor ≤ 2 (seed), 1.3 (wide, big);
whole process on wide ≥ 1.5× faster; PyTorch/bptrain peak RSS ≥ 4.

Verdict of this run (written by the script):
- per-epoch speed-up met: ${met_list:-none};
- speed-up missed although the floor allows it: ${missed_list:-none};
- speed-up no trainer could show here, because PyTorch takes less than the target's multiple of the GEMM floor: ${beyond_list:-none};
- floor, whole-process, peak-RSS and determinism targets missed: ${other_list:-none}.
$notes
<!-- training-speed:end -->"

echo "$section"
echo
echo "$verdicts"

if [ "$WRITE" = 1 ]; then
	touch "$RESULTS"
	new=$tmp/results.md
	SECTION="$section" awk '
		/<!-- training-speed:begin -->/ { skip = 1; if (!done) { print ENVIRON["SECTION"]; done = 1 } next }
		/<!-- training-speed:end -->/ { skip = 0; next }
		!skip { print }
		END { if (!done) { if (NR) print ""; print ENVIRON["SECTION"] } }' "$RESULTS" >"$new"
	cat "$new" >"$RESULTS"
	log "wrote the Training speed section of $RESULTS"
fi
