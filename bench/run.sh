#!/bin/bash
[ -n "${BASH_VERSION:-}" ] || exec bash "$0" "$@"   # sh bench/run.sh works too
# Training speed (issues 5 and 10): bptrain against PyTorch on the same nets,
# side by side, in one run.
#
# MLP rows (seed, wide, big): against PyTorch and against the GEMM floor
# (bench/gemm_floor.c: the sgemm calls of one epoch and nothing else), 2
# epochs each on Fashion-MNIST with a 0.1 validation split.
# CNN rows (cnn): the 2-conv net of configs/fashion_mnist_cnn.yaml
# (bench/configs/cnn.yaml, bench/torch_cnn.py) on the first CNN_SAMPLES
# training images (split 0.1), against PyTorch at its fastest setting for each
# thread count (probed first: oneDNN or im2col convolutions, NCHW or
# channels_last, which pool gets the threads), and as a fraction of the sgemm
# peak: the conv and dense multiply-adds of an epoch (forward, dW, dX; no dX for
# the first conv) over bptrain's epoch time.
#
# For each network and thread count it alternates bptrain and PyTorch for
# ROUNDS rounds (the one that goes first alternates too), then prints markdown
# tables of medians and ratios and a verdict, and replaces the "Training speed"
# section of bench/RESULTS.md (between its markers), with `bptrain time`'s
# report of the CNN.
#
#   bench/run.sh                     everything, 1 and 2 threads, 3 rounds, then the MPI section
#   ROUNDS=5 NETS="wide big" THREADS=2 bench/run.sh
#   NETS=cnn bench/run.sh            the CNN rows alone
#   bench/run.sh --mpi-only          the MPI section alone (no PyTorch needed)
#   MPI=0 bench/run.sh               everything but the MPI section
#
# MPI section (data-parallel scaling): for each of MPI_NETS, samples per second
# of 1 process × 2 threads, 2 processes × 1 thread (mpirun -np 2 --bind-to none
# ... --threads 1) and 1 × 1, the three alternating (the one that goes first
# rotates) for MPI_ROUNDS rounds; medians of the epoch seconds in metrics.csv
# (every epoch of every round, as the rows above); target (2×1)/(1×2) ≥ 0.9.
# Then bench/allreduce (the gradient sum, bp_world_sum_f32, for a sweep of
# sizes and each net's parameter count, on 2 ranks) and bench/scaling.py, which
# fits the α–β model and writes bench/SCALING.md. It replaces the
# "Data-parallel speed" section of bench/RESULTS.md (between its markers).
# Skipped, with a message, when mpirun or an MPI-enabled bptrain is missing.
#
# Environment (defaults in brackets):
#   ROUNDS [3]   NETS [seed wide big cnn]   THREADS [1 2]   EPOCHS [2]
#   CNN_SAMPLES [20000]: the CNN's data (18000 train, 2000 validation)
#   CNN_CONFIG [bench/configs/cnn.yaml]: bptrain's CNN config (the same net as torch_cnn.py)
#   TORCH_CNN [probe]: a PyTorch CNN setting by name (see torch_settings) instead of probing
#   PROBE_STEPS [40], PROBE_ROUNDS [2]: the probe of each PyTorch CNN setting
#   PEAK_SIZE [1024]: the square sgemm of the peak
#   TIMEOUT [1800]: seconds any one program may run
#   BUILD [build-bench]: a release build dir, set up here when missing
#   FASHION_MNIST [/usr/share/datasets/fashion-mnist]
#   PYTHON [/usr/bin/python3]: Debian's python3 with python3-torch
#   RESULTS [bench/RESULTS.md]; WRITE [1]: 0 prints the tables only
#   SKIP_BPTRAIN [0]: 1 measures PyTorch and the floor only
#   MPI [1]: 0 skips the MPI section; MPI_NETS [seed wide cnn]; MPI_ROUNDS [6];
#   MPI_EPOCHS [$EPOCHS]; SCALING [bench/SCALING.md]: scaling.py's page (written when WRITE=1)
#   ALLREDUCE_MAX_BYTES [67108864]: the sweep's largest vector (from 1 KB, doubling)
#
# Threads. bptrain and the floor get --threads N and set OpenBLAS themselves
# (OPENBLAS_NUM_THREADS is removed from their environment). PyTorch 1.13's MLPs
# are fastest with 1 OpenMP thread and OpenBLAS's own pool doing the fp32
# matmuls (set_num_threads(2) makes the pools fight), so for the MLP rows
# "N threads" for PyTorch means OPENBLAS_NUM_THREADS=N, torch.set_num_threads(1).
# For the CNN the probe decides. OPENBLAS_CORETYPE: a value in the environment
# is left as it is; without one, the kernel set bptrain runs (it restarts itself
# with OPENBLAS_CORETYPE set when OpenBLAS 0.3.21 takes a newer CPU for an old
# one, core/blas.h) is exported to every program, so that PyTorch's OpenBLAS
# matmuls, the floor and the sgemm peak run the same kernels as bptrain. The
# section names the core OpenBLAS runs.
#
# Measures: per-epoch seconds (bptrain's metrics.csv `seconds`, PyTorch's
# epoch_seconds; the median over every epoch of every round), whole-process
# wall time and peak RSS (/usr/bin/time -f '%e %M'; medians over rounds), the
# floor (median over rounds of gemm_floor's median of 3) and the sgemm peak
# (the best of every measurement in the run).
set -euo pipefail
cd "$(dirname "$0")/.."

MPI_ONLY=0
for arg in "$@"; do
	case $arg in
	--mpi-only) MPI_ONLY=1 ;;
	-h | --help) sed -n '3,/^set -euo/s/^# \{0,1\}//p' "$0"; exit 0 ;;
	*) echo "bench/run.sh: error: unknown argument '$arg' (--mpi-only, or none)" >&2; exit 2 ;;
	esac
done

ROUNDS=${ROUNDS:-3}
NETS=${NETS:-seed wide big cnn}
THREADS=${THREADS:-1 2}
EPOCHS=${EPOCHS:-2}
CNN_SAMPLES=${CNN_SAMPLES:-20000}
CNN_CONFIG=${CNN_CONFIG:-bench/configs/cnn.yaml}
TORCH_CNN=${TORCH_CNN:-probe}
PROBE_STEPS=${PROBE_STEPS:-40}
PROBE_ROUNDS=${PROBE_ROUNDS:-2}
PEAK_SIZE=${PEAK_SIZE:-1024}
TIMEOUT=${TIMEOUT:-1800}
BUILD=${BUILD:-build-bench}
FM=${FASHION_MNIST:-/usr/share/datasets/fashion-mnist}
PYTHON=${PYTHON:-/usr/bin/python3}
RESULTS=${RESULTS:-bench/RESULTS.md}
WRITE=${WRITE:-1}
SKIP_BPTRAIN=${SKIP_BPTRAIN:-0}
MPI=${MPI:-1}
MPI_NETS=${MPI_NETS:-seed wide cnn}
MPI_ROUNDS=${MPI_ROUNDS:-6}   # cheap rows on a VM whose 2-core speed swings: more rounds, steadier medians
MPI_EPOCHS=${MPI_EPOCHS:-$EPOCHS}
SCALING=${SCALING:-bench/SCALING.md}
ALLREDUCE_MAX_BYTES=${ALLREDUCE_MAX_BYTES:-67108864}
TIME=/usr/bin/time

die() { echo "bench/run.sh: error: $*" >&2; exit 1; }
log() { echo "$*" >&2; }

net_layers() {
	case $1 in
	seed) echo 784,64,10 ;;
	wide) echo 784,256,128,10 ;;
	big) echo 784,1024,1024,10 ;;
	cnn) echo c32-p-c64-p-128-10 ;;
	*) die "unknown network '$1' (seed, wide, big, cnn)" ;;
	esac
}
net_batch() {
	case $1 in seed) echo 32 ;; wide) echo 128 ;; big) echo 256 ;; cnn) echo 64 ;; esac
}
# Targets. MLP (issue 10): faster than PyTorch in every row, bptrain/floor
# ≤ 1.3 at 1 and 2 threads; peak RSS, whole process and determinism as in issue 5.
floor_target() { echo 1.3; }
# CNN (issue 10): PyTorch/bptrain per epoch, FLOP rate / sgemm peak, RSS ratio.
cnn_speed_target() { case $1 in 1) echo 1.5 ;; *) echo 2 ;; esac; }
CNN_PEAK_TARGET=0.6
CNN_RSS_TARGET=3

[ -x "$TIME" ] || die "$TIME is missing: apt-get install -y time"
if [ $MPI_ONLY = 1 ]; then
	[ "$MPI" != 0 ] || die "--mpi-only with MPI=0 runs nothing"
	NETS=$MPI_NETS   # the CNN's data subset below, when MPI_NETS has cnn
	SKIP_BPTRAIN=0
else
	"$PYTHON" -c 'import torch' 2>/dev/null || die "$PYTHON cannot import torch: apt-get install -y python3-torch"
fi
[ -r "$FM/train-images-idx3-ubyte.gz" ] || die "no Fashion-MNIST in $FM (set FASHION_MNIST)"
[ "$ROUNDS" -ge 1 ] 2>/dev/null || die "ROUNDS must be a positive integer"
[ "$MPI_ROUNDS" -ge 1 ] 2>/dev/null || die "MPI_ROUNDS must be a positive integer"
[ "$MPI_EPOCHS" -ge 1 ] 2>/dev/null || die "MPI_EPOCHS must be a positive integer"
for net in $MPI_NETS; do net_layers "$net" >/dev/null; done
[ "$CNN_SAMPLES" -ge 100 ] 2>/dev/null || die "CNN_SAMPLES must be a whole number ≥ 100"
[ "$PROBE_STEPS" -ge 1 ] 2>/dev/null && [ "$PROBE_ROUNDS" -ge 1 ] 2>/dev/null \
	|| die "PROBE_STEPS and PROBE_ROUNDS must be positive integers"
mlp_nets=""; has_cnn=0
for net in $NETS; do
	net_layers "$net" >/dev/null
	if [ "$net" = cnn ]; then has_cnn=1; else mlp_nets+="${mlp_nets:+ }$net"; fi
done

if [ ! -d "$BUILD" ]; then
	meson setup "$BUILD" --buildtype=release >/dev/null
fi
targets=(bench/gemm_floor)
[ "$SKIP_BPTRAIN" = 1 ] || targets+=(cmd/bptrain)
# bench/allreduce exists only in a build with MPI (meson -Dmpi).
[ "$MPI" != 0 ] && ninja -C "$BUILD" -t targets all 2>/dev/null | grep -q '^bench/allreduce:' \
	&& targets+=(bench/allreduce)
ninja -C "$BUILD" "${targets[@]}" >/dev/null
BPTRAIN=$BUILD/cmd/bptrain
FLOOR=$BUILD/bench/gemm_floor
ALLREDUCE=$BUILD/bench/allreduce
if [ -z "${OPENBLAS_CORETYPE:-}" ] && [ "$SKIP_BPTRAIN" != 1 ]; then
	kern=$("$BPTRAIN" --version | sed -n 's/.*OpenBLAS kernels: \([^;)]*\).*/\1/p')
	[ -n "$kern" ] && export OPENBLAS_CORETYPE=$kern
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/bptrain-bench.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# median FILE: the median of the numbers in FILE, one per line ("" when none).
median() {
	sort -g "$1" | awk '{ v[NR] = $1 } END {
		if (NR == 0) exit
		m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.6g\n", m }'
}
# best FILE: the smallest number in FILE ("" when none); most FILE: the largest.
best() { sort -g "$1" | head -1; }
most() { sort -g "$1" | tail -1; }
# sec VALUE [BEST]: seconds to 3 decimals, "(best B)" appended when given; "n/a" when missing.
sec() {
	awk -v v="$1" -v b="${2:-}" 'BEGIN {
		if (v == "") { print "n/a"; exit }
		if (b != "") printf "%.3f (%.3f)\n", v, b; else printf "%.3f\n", v }'
}
# ratio A B [DIGITS]: A/B, or "n/a" when either is missing.
ratio() {
	awk -v a="$1" -v b="$2" -v d="${3:-2}" 'BEGIN {
		if (a == "" || b == "" || a == "n/a" || b == "n/a" || b + 0 == 0) print "n/a"; else printf "%.*f\n", d, a / b }'
}
# meets VALUE TARGET: "yes" when VALUE >= TARGET, "no", or "n/a".
meets() {
	awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else print (v + 0 >= t + 0 ? "yes" : "no") }'
}
# above VALUE TARGET: "yes" when VALUE > TARGET, "no", or "n/a".
above() {
	awk -v v="$1" -v t="$2" 'BEGIN { if (v == "n/a" || v == "") print "n/a"; else print (v + 0 > t + 0 ? "yes" : "no") }'
}
acc() { awk -v v="$1" 'BEGIN { if (v == "") print "n/a"; else printf "%.4f\n", v }'; }
mb() { awk -v k="$1" 'BEGIN { if (k == "") print "n/a"; else printf "%.0f\n", k / 1024 }'; }
# field FILE KEY: the value after KEY on the line starting with KEY (the last such line).
field() { awk -v k="$2" '$1 == k { v = $2 } END { print v }' "$1"; }
plural() { [ "$1" = 1 ] && echo "1 thread" || echo "$1 threads"; }
plural_of() { [ "$1" = 1 ] && echo "1 $2" || echo "$1 $2s"; }

# ---- the CNN's data: the first CNN_SAMPLES training images and labels, plain IDX files
CNN_IMAGES=$tmp/cnn-train-images-idx3-ubyte
CNN_LABELS=$tmp/cnn-train-labels-idx1-ubyte
make_cnn_data() {
	"$PYTHON" bench/idx_head.py "$CNN_SAMPLES" "$FM/train-images-idx3-ubyte.gz" "$CNN_IMAGES" \
		&& "$PYTHON" bench/idx_head.py "$CNN_SAMPLES" "$FM/train-labels-idx1-ubyte.gz" "$CNN_LABELS"
}
CNN_NVAL=$((CNN_SAMPLES / 10))   # floor(n × 0.1), as bptrain and torch_cnn.py split
CNN_NTRAIN=$((CNN_SAMPLES - CNN_NVAL))

# data_args NET: the --set options that point bptrain at NET's data (into the array DATA).
data_args() {
	if [ "$1" = cnn ]; then
		DATA=(--set "data.train.images=$CNN_IMAGES" --set "data.train.labels=$CNN_LABELS")
	else
		DATA=(--set "data.train.images=$FM/train-images-idx3-ubyte.gz"
		      --set "data.train.labels=$FM/train-labels-idx1-ubyte.gz")
	fi
}

net_config() { if [ "$1" = cnn ]; then echo "$CNN_CONFIG"; else echo "bench/configs/$1.yaml"; fi; }

# run_bptrain NET THREADS ROUND: appends to $tmp/NET-T-bp.{epoch,wall,rss,acc}
run_bptrain() {
	local net=$1 t=$2 r=$3 out=$tmp/run-$1-$2-$3 p=$tmp/$1-$2-bp
	data_args "$net"
	if ! env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
		"$TIME" -f '%e %M' -o "$tmp/time" timeout "$TIMEOUT" \
		"$BPTRAIN" train "$(net_config "$net")" "${DATA[@]}" \
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

# torch_settings THREADS: PyTorch's CNN settings worth trying at THREADS, one
# a line: NAME OMP_THREADS OPENBLAS_THREADS [torch_cnn.py FLAGS]. OMP threads
# are torch.set_num_threads (oneDNN, and PyTorch's own loops); OpenBLAS does
# the dense layers, and the im2col convolutions without oneDNN.
torch_settings() {
	local t=$1
	echo "onednn $t 1"
	echo "onednn-channels-last $t 1 --channels-last"
	echo "im2col $t 1 --no-mkldnn"
	if [ "$t" -gt 1 ]; then
		echo "onednn+blas-threads $t $t"
		echo "im2col-blas-threads 1 $t --no-mkldnn"
	fi
}
# describe NAME OMP BLAS: the setting in words.
describe() {
	local what
	case $1 in
	onednn*) what="oneDNN convolutions" ;;
	im2col*) what="im2col+BLAS convolutions (torch.backends.mkldnn.enabled=False)" ;;
	esac
	case $1 in *channels-last*) what+=", channels_last" ;; *) what+=", NCHW" ;; esac
	echo "$what, torch.set_num_threads($2), OPENBLAS_NUM_THREADS=$3"
}

# torch_cmd NET THREADS [SETTING...]: the command line for PyTorch (into the array CMD).
torch_cmd() {
	local net=$1 t=$2
	shift 2
	if [ "$net" = cnn ]; then
		local omp=$2 blas=$3
		shift 3
		CMD=(env OMP_NUM_THREADS="$omp" OPENBLAS_NUM_THREADS="$blas" "$TIME" -f '%e %M' -o "$tmp/time"
		     timeout "$TIMEOUT" "$PYTHON" bench/torch_cnn.py --images "$CNN_IMAGES" --labels "$CNN_LABELS"
		     --batch 64 --split 0.1 --threads "$omp" "$@")
	else
		CMD=(env OPENBLAS_NUM_THREADS="$t" OMP_NUM_THREADS=1 "$TIME" -f '%e %M' -o "$tmp/time"
		     timeout "$TIMEOUT" "$PYTHON" bench/torch_mlp.py --data "$FM" --layers "$(net_layers "$net")"
		     --batch "$(net_batch "$net")" --split 0.1 --threads 1)
	fi
}

# run_torch NET THREADS: appends to $tmp/NET-T-pt.{epoch,wall,rss,acc}
run_torch() {
	local net=$1 t=$2 p=$tmp/$1-$2-pt setting=()
	if [ "$net" = cnn ]; then read -r -a setting <"$tmp/cnn-$t-setting"; fi
	torch_cmd "$net" "$t" "${setting[@]}"
	if ! "${CMD[@]}" --epochs "$EPOCHS" >"$tmp/pt.log" 2>&1; then
		log "  PyTorch failed: $(grep -v '^Command exited' "$tmp/pt.log" | tail -1)"
		return 1
	fi
	awk '$1 == "epoch_seconds" { print $3 }' "$tmp/pt.log" >>"$p.epoch"
	awk '$1 == "epoch" { for (i = 1; i < NF; i++) if ($i == "val_acc") a = $(i + 1) } END { print a }' \
		"$tmp/pt.log" >>"$p.acc"
	if [ "$net" = cnn ]; then cp "$tmp/pt.log" "$tmp/cnn-pt.log"; fi
	awk '{ print $1 }' "$tmp/time" >>"$p.wall"
	awk '{ print $2 }' "$tmp/time" >>"$p.rss"
	log "  PyTorch  epochs $(awk '$1 == "epoch_seconds" { printf "%s ", $3 }' "$tmp/pt.log")s, process $(cut -d' ' -f1 "$tmp/time") s, rss $(mb "$(cut -d' ' -f2 "$tmp/time")") MB"
}

# probe_torch THREADS: each CNN setting PROBE_ROUNDS times (in alternating
# order) for PROBE_STEPS steps; the fastest goes to $tmp/cnn-T-setting, every
# setting's best s/step to $tmp/cnn-T-probe (NAME OMP BLAS SECONDS).
probe_torch() {
	local t=$1 settings=() order i r line s
	mapfile -t settings < <(torch_settings "$t")
	if [ "$TORCH_CNN" != probe ]; then
		for line in "${settings[@]}"; do
			if [ "${line%% *}" = "$TORCH_CNN" ]; then echo "$line" >"$tmp/cnn-$t-setting"; return 0; fi
		done
		die "TORCH_CNN=$TORCH_CNN is none of the settings at $(plural "$t"): $(torch_settings "$t" | cut -d' ' -f1 | tr '\n' ' ')"
	fi
	: >"$tmp/cnn-$t-probe.all"
	for r in $(seq 1 "$PROBE_ROUNDS"); do
		order=$(seq 0 $((${#settings[@]} - 1)))
		[ $((r % 2)) = 0 ] && order=$(echo "$order" | tac)
		for i in $order; do
			line=${settings[$i]}
			read -r -a s <<<"$line"
			torch_cmd cnn "$t" "${s[@]}"
			"${CMD[@]}" --probe "$PROBE_STEPS" >"$tmp/probe.log" 2>&1 \
				|| die "PyTorch's probe of '$line' failed: $(grep -v '^Command exited' "$tmp/probe.log" | tail -1)"
			echo "$i $(field "$tmp/probe.log" probe_step_seconds)" >>"$tmp/cnn-$t-probe.all"
			log "  probe $(plural "$t") ${s[0]}: $(field "$tmp/probe.log" probe_step_seconds) s/step"
		done
	done
	: >"$tmp/cnn-$t-probe"
	for i in $(seq 0 $((${#settings[@]} - 1))); do
		echo "${settings[$i]} $(awk -v i="$i" '$1 == i { print $2 }' "$tmp/cnn-$t-probe.all" | sort -g | head -1)" \
			| awk '{ print $1, $2, $3, $NF }' >>"$tmp/cnn-$t-probe"
	done
	local fastest
	fastest=$(sort -g -k4 "$tmp/cnn-$t-probe" | head -1 | cut -d' ' -f1)
	for line in "${settings[@]}"; do
		if [ "${line%% *}" = "$fastest" ]; then echo "$line" >"$tmp/cnn-$t-setting"; fi
	done
}

# run_floor NET THREADS: appends to $tmp/NET-T-floor.{sec,gflops}
run_floor() {
	local net=$1 t=$2 p=$tmp/$1-$2-floor
	env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS \
		timeout "$TIMEOUT" "$FLOOR" --layers "$(net_layers "$net")" --batch "$(net_batch "$net")" \
		--samples 54000 --val 6000 --threads "$t" --reps 3 >"$tmp/floor.log"
	awk '$1 == "floor_seconds" { print $2 }' "$tmp/floor.log" >>"$p.sec"
	awk '$1 == "gflops" { print $2 }' "$tmp/floor.log" >>"$p.gflops"
	log "  floor    $(awk '$1 == "floor_seconds" { print $2 }' "$tmp/floor.log") s, $(awk '$1 == "gflops" { print $2 }' "$tmp/floor.log") GFLOP/s"
}

# run_peak THREADS: appends a square sgemm's GFLOP/s to $tmp/peak-T.
run_peak() {
	env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS timeout "$TIMEOUT" "$FLOOR" --threads "$1" --reps 3 --peak \
		--peak-size "$PEAK_SIZE" --samples 1 --val 0 | awk '$1 == "peak_gflops" { print $2 }' >>"$tmp/peak-$1"
}

# ---- MPI section: data-parallel speed on this machine, the gradient sum, the projection
MPI_LAYOUTS=(1x2 2x1 1x1)
# The plain runs' environment, and mpirun's: 2 ranks, unbound (a rank's
# threads may use every core), bounded in time.
SOLO=(env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS timeout "$TIMEOUT")
MPIRUN=(env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS)
[ "$(id -u)" = 0 ] && MPIRUN+=(OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1)
MPIRUN+=(mpirun -np 2 --bind-to none --timeout "$TIMEOUT")
# time_batches NET: `bptrain time` steps for the optimiser's share of a step.
time_batches() { case $1 in seed) echo 1000 ;; wide) echo 300 ;; big) echo 40 ;; cnn) echo 50 ;; esac; }

# run_layout NET LAYOUT ROUND: one run of NET as LAYOUT (PROCESSESxTHREADS);
# appends to $tmp/mpi-NET-LAYOUT.{epoch,acc} and writes .same.ROUND.
run_layout() {
	local net=$1 l=$2 r=$3 out=$tmp/mpi-run-$1-$2 p=$tmp/mpi-$1-$2
	local launch=("${SOLO[@]}")
	[ "${l%x*}" = 2 ] && launch=("${MPIRUN[@]}")
	data_args "$net"
	if ! "${launch[@]}" "$BPTRAIN" train "$(net_config "$net")" "${DATA[@]}" --set "train.epochs=$MPI_EPOCHS" \
		--out "$out" --force --threads "${l#*x}" --quiet >"$tmp/mpi.log" 2>&1; then
		log "  $l failed: $(grep -v '^\s*$' "$tmp/mpi.log" | tail -3)"
		return 1
	fi
	# metrics.csv: epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds
	awk -F, 'NR > 1 { print $7 }' "$out/metrics.csv" >>"$p.epoch"
	cut -d, -f1-6 "$out/metrics.csv" >"$p.same.$r"
	awk -F, 'NR > 1 { a = $5 } END { print a }' "$out/metrics.csv" >>"$p.acc"
	log "  $l  epochs $(awk -F, 'NR > 1 { printf "%s ", $7 }' "$out/metrics.csv")s"
	rm -rf "$out"
}

mpi_section() {
	local why="" net l r i t
	data_args seed
	if ! command -v mpirun >/dev/null 2>&1; then
		why="mpirun is not installed (apt-get install -y openmpi-bin libopenmpi-dev, then meson setup --reconfigure $BUILD)"
	elif [ ! -x "$ALLREDUCE" ]; then
		why="$BUILD was configured without MPI (it has no bench/allreduce): install libopenmpi-dev and run meson setup --reconfigure $BUILD"
	elif ! "${MPIRUN[@]}" "$BPTRAIN" train bench/configs/seed.yaml "${DATA[@]}" --check >"$tmp/mpi-check.log" 2>&1; then
		why="this bptrain cannot train under mpirun: $(grep -v '^\s*$' "$tmp/mpi-check.log" | tail -1)"
	fi
	if [ -n "$why" ]; then
		log "== MPI section skipped: $why"
		return 0
	fi
	case " $MPI_NETS " in
	*" cnn "*) [ -s "$CNN_LABELS" ] || make_cnn_data || die "could not write the CNN's data subset" ;;
	esac
	local started load t0
	started=$(date -u '+%Y-%m-%d %H:%M UTC'); load=$(awk '{ print $1 }' /proc/loadavg); t0=$(date +%s)

	for net in $MPI_NETS; do
		for r in $(seq 1 "$MPI_ROUNDS"); do
			log "== mpi: $net $(net_layers "$net") global batch $(net_batch "$net"), round $r/$MPI_ROUNDS"
			for i in 0 1 2; do
				l=${MPI_LAYOUTS[$(((r - 1 + i) % 3))]}
				run_layout "$net" "$l" "$r" || true
			done
		done
	done

	# Each net's parameter count and training samples (--check), and the
	# optimiser's time per step at 1 and 2 threads (`bptrain time`).
	local params ntrain opt1 opt2 net_args=()
	echo "net,layers,params,batch,train_samples,sps_1x2,sps_2x1,sps_1x1,opt_ms_1t,opt_ms_2t" >"$tmp/mpi-configs.csv"
	for net in $MPI_NETS; do
		data_args "$net"
		"${SOLO[@]}" "$BPTRAIN" train "$(net_config "$net")" "${DATA[@]}" --check >"$tmp/mpi-info.log" 2>&1 \
			|| die "bptrain train --check failed on $net: $(tail -1 "$tmp/mpi-info.log")"
		params=$(awk '$1 == "model" { print $2; exit }' "$tmp/mpi-info.log")
		ntrain=$(awk '$1 == "split" && $2 == "train" { print $3; exit }' "$tmp/mpi-info.log")
		[ -n "$params" ] && [ -n "$ntrain" ] || die "no 'model N parameters' or 'split train N' in bptrain's --check output"
		echo "$params" >"$tmp/mpi-$net.params"
		echo "$ntrain" >"$tmp/mpi-$net.ntrain"
		net_args+=(--net "$net=$params")
		for t in 1 2; do
			"${SOLO[@]}" "$BPTRAIN" time "$(net_config "$net")" "${DATA[@]}" --threads "$t" \
				--batches "$(time_batches "$net")" --format json >"$tmp/mpi-time-$net-$t.json" 2>"$tmp/time.err" \
				|| { log "  bptrain time failed: $(tail -1 "$tmp/time.err")"; : >"$tmp/mpi-time-$net-$t.json"; }
		done
		opt1=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["optimizer_ms"])' "$tmp/mpi-time-$net-1.json" 2>/dev/null || true)
		opt2=$("$PYTHON" -c 'import json, sys; print(json.load(open(sys.argv[1]))["optimizer_ms"])' "$tmp/mpi-time-$net-2.json" 2>/dev/null || true)
		local sps=()
		for l in 1x2 2x1 1x1; do
			touch "$tmp/mpi-$net-$l.epoch"
			sps+=("$(ratio "$ntrain" "$(median "$tmp/mpi-$net-$l.epoch")" 1)")
		done
		echo "$net,$(net_layers "$net" | tr , -),$params,$(net_batch "$net"),$ntrain,${sps[0]},${sps[1]},${sps[2]},$opt1,$opt2" \
			| sed 's/n\/a//g' >>"$tmp/mpi-configs.csv"
	done

	log "== mpi: bench/allreduce (the gradient sum on 2 ranks), sweep 1 KB .. $((ALLREDUCE_MAX_BYTES / 1024)) KB and each net"
	local fit="" scaling_out=$SCALING
	[ "$WRITE" = 1 ] || scaling_out=$tmp/SCALING.md
	if "${MPIRUN[@]}" "$ALLREDUCE" "${net_args[@]}" --max-bytes "$ALLREDUCE_MAX_BYTES" \
		>"$tmp/allreduce.csv" 2>"$tmp/allreduce.err"; then
		# Kept in the build dir, so bench/scaling.py can be rerun on them alone.
		cp "$tmp/allreduce.csv" "$tmp/mpi-configs.csv" "$BUILD/bench/"
		if "$PYTHON" bench/scaling.py --allreduce "$BUILD/bench/allreduce.csv" --configs "$BUILD/bench/mpi-configs.csv" \
			--out "$scaling_out" --rerun "bench/run.sh --mpi-only" \
			--run-note "Measured $started on this machine ($(lscpu | awk -F: '/Model name/ { sub(/^ +/, "", $2); print $2; exit }'), $(nproc) cores; load average $load before the section)." \
			>"$tmp/scaling.out" 2>"$tmp/scaling.err"; then
			fit=$(cat "$tmp/scaling.out")
		else
			log "  bench/scaling.py failed: $(tail -1 "$tmp/scaling.err")"
		fi
	else
		log "  bench/allreduce failed: $(tail -3 "$tmp/allreduce.err")"
	fi
	local secs=$(($(date +%s) - t0)) load_after
	load_after=$(awk '{ print $1 }' /proc/loadavg)

	# ---- tables
	local epochs="| net | global batch | 1 × 1 s/epoch (best) | 1 × 2 s/epoch (best) | 2 × 1 s/epoch (best) |
|---|---|---|---|---|"
	local speed="| net | 1 × 1 samples/s | 1 × 2 samples/s | 2 × 1 samples/s | (2 × 1) / (1 × 2) (target ≥ 0.9) | the same, best epochs | 2 × 1 / 1 × 1 | 1 × 2 / 1 × 1 | gradient sum µs (bench/allreduce) | 1 × 2 step µs | 2 × 1 step µs | val_acc 1 × 2 / 2 × 1 | 2 × 1 metrics = 1 × 2's | 2 × 1 identical across rounds |
|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
	local met="" missed="" p s12 s21 s11 rt same eq sum_us
	for net in $MPI_NETS; do
		p=$tmp/mpi-$net
		for l in 1x2 2x1 1x1; do touch "$p-$l.epoch" "$p-$l.acc"; done
		ntrain=$(cat "$p.ntrain")
		s11=$(ratio "$ntrain" "$(median "$p-1x1.epoch")" 0)
		s12=$(ratio "$ntrain" "$(median "$p-1x2.epoch")" 0)
		s21=$(ratio "$ntrain" "$(median "$p-2x1.epoch")" 0)
		rt=$(ratio "$s21" "$s12")
		same=n/a
		if ls "$p-2x1.same."* >/dev/null 2>&1; then
			same=yes
			for f in "$p-2x1.same."*; do cmp -s "$f" "$p-2x1.same.1" || same=no; done
		fi
		eq=n/a
		[ -s "$p-2x1.same.1" ] && [ -s "$p-1x2.same.1" ] && { cmp -s "$p-2x1.same.1" "$p-1x2.same.1" && eq=yes || eq=no; }
		sum_us=$(awk -F, -v n="$net" '$1 == "net" && $2 == n { printf "%.0f (%.0f–%.0f)\n", $8, $9, $10 }' \
			"$tmp/allreduce.csv" 2>/dev/null)
		epochs+="
| $net $(net_layers "$net" | tr , -) | $(net_batch "$net") | $(sec "$(median "$p-1x1.epoch")" "$(best "$p-1x1.epoch")") | $(sec "$(median "$p-1x2.epoch")" "$(best "$p-1x2.epoch")") | $(sec "$(median "$p-2x1.epoch")" "$(best "$p-2x1.epoch")") |"
		speed+="
| $net | $s11 | $s12 | $s21 | $rt ($(meets "$rt" 0.9)) | $(ratio "$(best "$p-1x2.epoch")" "$(best "$p-2x1.epoch")") | $(ratio "$s21" "$s11") | $(ratio "$s12" "$s11") | ${sum_us:-n/a} | $(ratio "$(net_batch "$net")e6" "$s12" 0) | $(ratio "$(net_batch "$net")e6" "$s21" 0) | $(acc "$(median "$p-1x2.acc")") / $(acc "$(median "$p-2x1.acc")") | $eq | $same |"
		if [ "$(meets "$rt" 0.9)" = yes ]; then met+="${met:+, }$net $rt"; else missed+="${missed:+, }$net $rt"; fi
	done
	local b80="" alpha beta
	alpha=$(awk '$1 == "alpha_us" { print $2 }' <<<"$fit"); beta=$(awk '$1 == "beta_ns_per_byte" { print $2 }' <<<"$fit")
	if [ -n "$fit" ]; then
		b80="| net | link | global batch for ≥ 80 % efficiency at 2 / 4 / 8 / 16 / 32 / 64 nodes |
|---|---|---|"
		while read -r _ net link cells; do
			b80+="
| $net | $link | $(tr ' ' '\n' <<<"$cells" | cut -d: -f2 | paste -sd/ | sed 's|/| / |g') |"
		done < <(awk '$1 == "b80"' <<<"$fit")
	fi
	local cmd="bench/run.sh --mpi-only" how="the MPI section of \`bench/run.sh\`, alone"
	[ $MPI_ONLY = 1 ] || { cmd="bench/run.sh"; how="its MPI section; \`bench/run.sh --mpi-only\` runs that alone"; }
	[ "$MPI_ROUNDS" != 3 ] && cmd="MPI_ROUNDS=$MPI_ROUNDS $cmd"
	[ "$MPI_EPOCHS" != 2 ] && cmd="MPI_EPOCHS=$MPI_EPOCHS $cmd"
	[ "$MPI_NETS" != "seed wide cnn" ] && cmd="MPI_NETS=\"$MPI_NETS\" $cmd"
	[ "$ALLREDUCE_MAX_BYTES" != 67108864 ] && cmd="ALLREDUCE_MAX_BYTES=$ALLREDUCE_MAX_BYTES $cmd"
	local quiet
	if awk -v l="$load" 'BEGIN { exit !(l > 0.5) }'; then
		quiet="Load average (1 min) before the section: $load: other work shared the 2 cores, so these numbers are noisy (MPI ranks that wait for each other suffer most when a core is taken); rerun on a quiet machine."
	else
		quiet="Load average (1 min) before the section: $load (a quiet machine at the start)."
	fi
	quiet+=" At the end: $load_after (the section's own runs account for up to 2 of it)."
	local section="<!-- mpi-scaling:begin -->
## Data-parallel speed (MPI) and scaling

Rerun: \`bench/run.sh --mpi-only\` (this section alone, about $(((secs + 59) / 60)) min here; no PyTorch needed) or
\`bench/run.sh\` (the training-speed rows, then this). Environment: MPI_ROUNDS, MPI_EPOCHS, MPI_NETS (see the script).

Run of \`$cmd\` ($how), started $started, $secs s.
Machine: $(lscpu | awk -F: '/Model name/ { sub(/^ +/, "", $2); print $2; exit }'), $(nproc) cores; $(mpirun --version 2>/dev/null | head -1); \`$BUILD\`.
Same config and global batch in the three layouts: 1 × 2 is \`bptrain train CONFIG --threads 2\`, 2 × 1
\`mpirun -np 2 --bind-to none --timeout $TIMEOUT bptrain train CONFIG --threads 1\` (each rank half of every batch), 1 × 1
\`--threads 1\`. Seed and wide on Fashion-MNIST (54000 to train, 6000 to validate), the CNN on the first $CNN_SAMPLES
images ($CNN_NTRAIN + $CNN_NVAL), $(plural_of "$MPI_EPOCHS" epoch), $(plural_of "$MPI_ROUNDS" round), the three layouts alternating (the first rotates).
s/epoch: the median over every epoch of every round (training plus validation), the smallest in brackets;
samples/s: training samples over that median; step: global batch over samples/s. The gradient sum is
\`bench/allreduce\`'s median (10th–90th percentile) time of \`bp_world_sum_f32\` on the net's parameter count, 2 ranks.

$epochs

$speed

Target: (2 × 1) / (1 × 2) ≥ 0.9 (MPI costs little on one box), on the medians.
Verdict of this run (written by the script): met: ${met:-none}; missed: ${missed:-none}.
$quiet

The gradient sum's cost model, fitted to \`bench/allreduce\`'s sweep on 2 ranks: α = ${alpha:-?} µs, β = ${beta:-?} ns/byte;
the projection to 2–64 nodes on 10 and 100 Gbit/s links, and what to change when scaling out, are in
[SCALING.md](SCALING.md). Its smallest global batches that keep ≥ 80 % efficiency:

${b80:-(bench/allreduce or bench/scaling.py failed: no projection)}
<!-- mpi-scaling:end -->"
	echo "$section"
	if [ "$WRITE" = 1 ]; then
		touch "$RESULTS"
		local new=$tmp/results-mpi.md
		SECTION="$section" awk '
			/<!-- mpi-scaling:begin -->/ { skip = 1; if (!done) { print ENVIRON["SECTION"]; done = 1 } next }
			/<!-- mpi-scaling:end -->/ { skip = 0; next }
			!skip { print }
			END { if (!done) { if (NR) print ""; print ENVIRON["SECTION"] } }' "$RESULTS" >"$new"
		cat "$new" >"$RESULTS"
		log "wrote the Data-parallel section of $RESULTS and $scaling_out"
	fi
}

bp_ok=1
[ "$SKIP_BPTRAIN" = 1 ] && bp_ok=0
cnn_bp_ok=$bp_ok
started=$(date -u '+%Y-%m-%d %H:%M UTC')
load_before=$(awk '{ print $1 }' /proc/loadavg)
blas_core=$(env -u OPENBLAS_NUM_THREADS OPENBLAS_VERBOSE=2 "$FLOOR" --samples 1 --val 0 --reps 1 2>&1 \
	| awk '$1 == "Core:" { print $2; exit }')

# Before any long run: bptrain must know the CNN's layers (conv2d, max_pool2d).
if [ $has_cnn = 1 ]; then
	make_cnn_data || die "could not write the CNN's data subset"
	if [ $bp_ok = 1 ]; then
		data_args cnn
		if ! timeout 300 "$BPTRAIN" train "$CNN_CONFIG" "${DATA[@]}" --check >"$tmp/check.log" 2>&1; then
			die "bptrain cannot train $CNN_CONFIG: $(tail -1 "$tmp/check.log")
  (the CNN rows need the conv2d and max_pool2d layers; NETS=\"$mlp_nets\" runs the MLP rows alone, SKIP_BPTRAIN=1 PyTorch alone)"
		fi
	fi
fi
if [ $MPI_ONLY = 1 ]; then
	mpi_section
	exit 0
fi

for net in $mlp_nets; do
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
if [ $has_cnn = 1 ]; then
	for t in $THREADS; do
		[ "$TORCH_CNN" = probe ] \
			&& log "== cnn: PyTorch's settings at $(plural "$t"), $PROBE_STEPS steps each, $PROBE_ROUNDS rounds"
		probe_torch "$t"
		log "   PyTorch at $(plural "$t"): $(cut -d' ' -f1 "$tmp/cnn-$t-setting")"
		for r in $(seq 1 "$ROUNDS"); do
			log "== cnn $(net_layers cnn) batch 64, $CNN_NTRAIN + $CNN_NVAL samples, threads $t, round $r/$ROUNDS"
			if [ $((r % 2)) = 1 ]; then
				[ $cnn_bp_ok = 1 ] && { run_bptrain cnn "$t" "$r" || cnn_bp_ok=0; }
				run_torch cnn "$t" || die "PyTorch failed; log above"
			else
				run_torch cnn "$t" || die "PyTorch failed; log above"
				[ $cnn_bp_ok = 1 ] && { run_bptrain cnn "$t" "$r" || cnn_bp_ok=0; }
			fi
			run_peak "$t"
		done
		if [ $cnn_bp_ok = 1 ]; then
			data_args cnn
			for f in text json; do
				env -u OPENBLAS_NUM_THREADS -u OMP_NUM_THREADS timeout "$TIMEOUT" "$BPTRAIN" time "$CNN_CONFIG" \
					"${DATA[@]}" --threads "$t" --batches 50 --format $f >"$tmp/cnn-$t-time.$f" 2>"$tmp/time.err" \
					|| { log "  bptrain time failed: $(tail -1 "$tmp/time.err")"; : >"$tmp/cnn-$t-time.$f"; }
			done
		fi
	done
fi
for t in $THREADS; do run_peak "$t"; done
peak() { most "$tmp/peak-$1"; }
peak1=$( [ -s "$tmp/peak-1" ] && peak 1 || true)
peak2=$( [ -s "$tmp/peak-2" ] && peak 2 || true)

# ---- tables
speed="| net | threads | bptrain s/epoch (best) | PyTorch s/epoch (best) | GEMM floor s/epoch (best) | floor GFLOP/s | PyTorch/bptrain (target > 1) | bptrain/floor (target) |
|---|---|---|---|---|---|---|---|"
proc="| net | threads | bptrain process s | PyTorch process s | PyTorch/bptrain | bptrain peak RSS MB | PyTorch peak RSS MB | PyTorch/bptrain RSS (target) | val_acc bptrain / PyTorch | bptrain metrics identical across rounds |
|---|---|---|---|---|---|---|---|---|---|"
cnn_speed="| net | threads | bptrain s/epoch (best) | PyTorch s/epoch (best) | PyTorch setting (fastest of the probe) | PyTorch/bptrain (target) | bptrain GFLOP/s | PyTorch GFLOP/s | sgemm peak GFLOP/s | bptrain FLOP rate / peak (target) | PyTorch / peak |
|---|---|---|---|---|---|---|---|---|---|---|"
probe="| threads | PyTorch setting | s/step (best of $PROBE_ROUNDS) | |
|---|---|---|---|"
verdicts=""
met_list=""; missed_list=""; other_list=""
# miss VERDICT WHAT: adds WHAT to the other targets missed unless VERDICT is "yes".
miss() { [ "$1" = yes ] || other_list+="${other_list:+, }$2"; }
# speed VERDICT WHAT: a speed target met or missed.
speed_verdict() { if [ "$1" = yes ]; then met_list+="${met_list:+, }$2"; else missed_list+="${missed_list:+, }$2"; fi; }
# proc_row NET THREADS RSS_TARGET: the whole-process row; sets same, mr, pr.
proc_row() {
	local net=$1 t=$2 p=$tmp/$1-$2
	for f in bp.epoch bp.wall bp.rss bp.acc pt.epoch pt.wall pt.rss pt.acc; do touch "$p-$f"; done
	local bp_w pt_w bp_m pt_m bp_a pt_a
	bp_w=$(median "$p-bp.wall"); pt_w=$(median "$p-pt.wall")
	bp_m=$(median "$p-bp.rss"); pt_m=$(median "$p-pt.rss")
	bp_a=$(median "$p-bp.acc"); pt_a=$(median "$p-pt.acc")
	same=n/a
	if ls "$p-bp.same."* >/dev/null 2>&1; then
		same=yes
		for f in "$p-bp.same."*; do cmp -s "$f" "$p-bp.same.1" || same=no; done
	fi
	pr=$(ratio "$pt_w" "$bp_w"); mr=$(ratio "$pt_m" "$bp_m" 1)
	proc+="
| $net | $t | $(sec "$bp_w") | $(sec "$pt_w") | $pr | $(mb "$bp_m") | $(mb "$pt_m") | $mr (≥ $3: $(meets "$mr" "$3")) | $(acc "$bp_a") / $(acc "$pt_a") | $same |"
}
for net in $mlp_nets; do
	for t in $THREADS; do
		p=$tmp/$net-$t
		proc_row "$net" "$t" 4
		bp_e=$(median "$p-bp.epoch"); pt_e=$(median "$p-pt.epoch"); fl=$(median "$p-floor.sec")
		gf=$(median "$p-floor.gflops")
		sp=$(ratio "$pt_e" "$bp_e"); fr=$(ratio "$bp_e" "$fl")
		ft=$(floor_target "$net")
		smet=$(above "$sp" 1)
		fmet=$(awk -v v="$fr" -v t="$ft" 'BEGIN { if (v == "n/a") print "n/a"; else print (v + 0 <= t + 0 ? "yes" : "no") }')
		speed+="
| $net $(net_layers "$net" | tr , -) b$(net_batch "$net") | $t | $(sec "$bp_e" "$(best "$p-bp.epoch")") | $(sec "$pt_e" "$(best "$p-pt.epoch")") | $(sec "$fl" "$(best "$p-floor.sec")") | $gf | $sp ($smet) | $fr (≤ $ft: $fmet) |"
		verdicts+="$net/$t faster:$smet floor:$fmet rss:$(meets "$mr" 4) deterministic:$same"
		[ "$net" = wide ] && verdicts+=" process:$(meets "$pr" 1.5)"
		verdicts+=$'\n'
		speed_verdict "$smet" "$net at $(plural "$t"): PyTorch/bptrain $sp (target > 1)"
		speed_verdict "$fmet" "$net at $(plural "$t"): bptrain/floor $fr (target ≤ $ft)"
		miss "$(meets "$mr" 4)" "$net/$t peak RSS ratio $mr ≥ 4"
		[ "$net" = wide ] && miss "$(meets "$pr" 1.5)" "wide/$t whole process $pr ≥ 1.5"
		[ "$same" = no ] && miss no "$net/$t determinism"
	done
done
cnn_times=""; flop_note=""
if [ $has_cnn = 1 ]; then
	# FLOP of one epoch: training samples × (forward, dW, dX) + validation × forward,
	# counted by torch_cnn.py from the layer shapes; `bptrain time` counts the same.
	ftrain=$(field "$tmp/cnn-pt.log" flop_per_sample_train); ffwd=$(field "$tmp/cnn-pt.log" flop_per_sample_forward)
	epoch_flop=$(awk -v a="$ftrain" -v b="$ffwd" -v n="$CNN_NTRAIN" -v v="$CNN_NVAL" 'BEGIN { printf "%.6g\n", a * n + b * v }')
	for t in $THREADS; do
		p=$tmp/cnn-$t
		proc_row cnn "$t" "$CNN_RSS_TARGET"
		bp_e=$(median "$p-bp.epoch"); pt_e=$(median "$p-pt.epoch")
		sp=$(ratio "$pt_e" "$bp_e"); st=$(cnn_speed_target "$t")
		pk=$(peak "$t")
		bp_g=$(ratio "$epoch_flop" "$(awk -v s="$bp_e" 'BEGIN { if (s != "") print s * 1e9 }')" 1)
		pt_g=$(ratio "$epoch_flop" "$(awk -v s="$pt_e" 'BEGIN { if (s != "") print s * 1e9 }')" 1)
		fr=$(ratio "$bp_g" "$pk"); pfr=$(ratio "$pt_g" "$pk")
		read -r -a s <"$tmp/cnn-$t-setting"
		cnn_speed+="
| cnn $(net_layers cnn) b64 | $t | $(sec "$bp_e" "$(best "$p-bp.epoch")") | $(sec "$pt_e" "$(best "$p-pt.epoch")") | ${s[0]}: $(describe "${s[@]:0:3}") | $sp (≥ $st: $(meets "$sp" "$st")) | $bp_g | $pt_g | $pk | $fr (≥ $CNN_PEAK_TARGET: $(meets "$fr" "$CNN_PEAK_TARGET")) | $pfr |"
		if [ -s "$p-probe" ]; then
			while read -r name omp blas secs; do
				mark=""
				if [ "$name" = "${s[0]}" ]; then mark="fastest: used"; fi
				probe+="
| $t | $name: $(describe "$name" "$omp" "$blas") | $secs | $mark |"
			done <"$p-probe"
		else
			probe+="
| $t | ${s[0]}: $(describe "${s[@]:0:3}") | (not probed: TORCH_CNN) | used |"
		fi
		verdicts+="cnn/$t speed:$(meets "$sp" "$st") peak:$(meets "$fr" "$CNN_PEAK_TARGET") rss:$(meets "$mr" "$CNN_RSS_TARGET") deterministic:$same"$'\n'
		speed_verdict "$(meets "$sp" "$st")" "cnn at $(plural "$t"): PyTorch/bptrain $sp (target ≥ $st)"
		speed_verdict "$(meets "$fr" "$CNN_PEAK_TARGET")" "cnn at $(plural "$t"): FLOP rate / sgemm peak $fr (target ≥ $CNN_PEAK_TARGET)"
		miss "$(meets "$mr" "$CNN_RSS_TARGET")" "cnn/$t peak RSS ratio $mr ≥ $CNN_RSS_TARGET"
		[ "$same" = no ] && miss no "cnn/$t determinism"
		if [ -s "$p-time.text" ]; then
			bt=$("$PYTHON" -c 'import json, sys; j = json.load(open(sys.argv[1])); print(j["flop_per_batch"] / j["batch_size"])' "$p-time.json" 2>/dev/null || true)
			if [ -n "$bt" ] && [ "$(awk -v a="$bt" -v b="$ftrain" 'BEGIN { print (a == b) }')" != 1 ]; then
				flop_note="
**FLOP counts disagree:** \`bptrain time\` counts $bt FLOP per training sample, torch_cnn.py $ftrain; the rates above use torch_cnn.py's."
			fi
			cnn_times+="
\`bptrain time $CNN_CONFIG --threads $t --batches 50\` (on the same data):

\`\`\`
$(cat "$p-time.text")
\`\`\`
"
		fi
	done
fi

blas_ver=$(dpkg-query -W -f '${Version}' libopenblas0-pthread 2>/dev/null || echo unknown)
torch_ver=$("$PYTHON" -c 'import torch; print(torch.__version__)')
bp_ver=$("$BPTRAIN" --version 2>/dev/null | awk '{ print $2; exit }' || true)
cpu=$(lscpu | awk -F: '/Model name/ { sub(/^ +/, "", $2); print $2; exit }')
envs=""
for v in OPENBLAS_CORETYPE OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS OMP_NUM_THREADS; do
	[ -n "${!v:-}" ] && envs+="${envs:+, }\`$v=${!v}\`"
done
cmd="ROUNDS=$ROUNDS"
[ "$NETS" != "seed wide big cnn" ] && cmd+=" NETS=\"$NETS\""
[ "$THREADS" != "1 2" ] && cmd+=" THREADS=\"$THREADS\""
[ "$EPOCHS" != 2 ] && cmd+=" EPOCHS=$EPOCHS"
[ "$CNN_SAMPLES" != 20000 ] && cmd+=" CNN_SAMPLES=$CNN_SAMPLES"
[ "$TORCH_CNN" != probe ] && cmd+=" TORCH_CNN=$TORCH_CNN"
[ "$PROBE_STEPS" != 40 ] && cmd+=" PROBE_STEPS=$PROBE_STEPS"
[ "$PROBE_ROUNDS" != 2 ] && cmd+=" PROBE_ROUNDS=$PROBE_ROUNDS"
[ "$PEAK_SIZE" != 1024 ] && cmd+=" PEAK_SIZE=$PEAK_SIZE"
[ "$CNN_CONFIG" != bench/configs/cnn.yaml ] && cmd+=" CNN_CONFIG=$CNN_CONFIG"
[ "$SKIP_BPTRAIN" = 1 ] && cmd+=" SKIP_BPTRAIN=1"
cmd+=" bench/run.sh"

notes=""
if [ $bp_ok != 1 ] || [ $cnn_bp_ok != 1 ]; then
	notes+="
Some bptrain columns are n/a: \`bptrain train\` did not run (skipped, or failed); rerun this script to fill them."
fi
if awk -v l="$load_before" 'BEGIN { exit !(l > 0.5) }'; then
	notes+="
Load average (1 min) before the run: $load_before: other work shared the cores, so these numbers are noisy; rerun on a quiet machine."
else
	notes+="
Load average (1 min) before the run: $load_before (a quiet machine; during the run the load is the benchmark's own). This VM's speed still swings by up to ±20 % between periods, so compare ratios from one run."
fi

mlp_part=""
if [ -n "$mlp_nets" ]; then
	mlp_part="
### MLPs

Each network: Fashion-MNIST, 54000 training samples, validation split 0.1 (6000), adam lr 0.001, $EPOCHS epochs,
$ROUNDS alternating rounds (bptrain first in odd rounds, PyTorch in even ones). Per epoch: median over all epochs of all rounds (training plus validation),
the smallest in brackets; process time and RSS: medians over rounds.
The GEMM floor is \`$FLOOR\`: exactly the sgemm calls of one epoch (forward, dW, dX, validation forward).
PyTorch threads: \`OPENBLAS_NUM_THREADS=N\` and \`torch.set_num_threads(1)\`, its fastest setting for these nets.

$speed
"
fi
cnn_part=""
if [ $has_cnn = 1 ]; then
	probe_words="PyTorch runs at the fastest of the settings probed before the rounds ($PROBE_STEPS steps each, best of $PROBE_ROUNDS):"
	[ "$TORCH_CNN" != probe ] && probe_words="PyTorch runs at the setting TORCH_CNN=$TORCH_CNN names (not probed):"
	cnn_part="
### CNN

\`$CNN_CONFIG\` and \`bench/torch_cnn.py\`: conv2d 32 3×3 same relu → max_pool2d 2 → conv2d 64 3×3 same relu →
max_pool2d 2 → dense 128 relu → dense 10 softmax, adam lr 0.001, batch 64, on the first $CNN_SAMPLES Fashion-MNIST training
images ($CNN_NTRAIN to train, $CNN_NVAL to validate), $EPOCHS epochs, $ROUNDS alternating rounds; per epoch: the median over all
epochs of all rounds (training plus validation), the smallest in brackets.
FLOP rate: an epoch's ${epoch_flop:-?} FLOP (2 × the conv and dense multiply-adds of forward, dW and dX over the training
samples, no dX for the first conv, plus the validation forward; ${ftrain:-?} FLOP per training sample) over the median epoch;
the peak is the best square ${PEAK_SIZE}³ sgemm (OpenBLAS through bp_sgemm) measured in this run at that thread count.
$probe_words

$probe

$cnn_speed
$flop_note
$cnn_times"
fi

section="<!-- training-speed:begin -->
## Training speed (issues 5 and 10)

Run of \`$cmd\`, started $started.
Machine: $cpu, $(nproc) cores (\`nproc\`), $(free -g | awk '/^Mem:/ { print $2 }') GB.
Versions: bptrain ${bp_ver:-?} (\`$BUILD\`, $(meson introspect "$BUILD" --buildoptions 2>/dev/null | "$PYTHON" -c 'import json,sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "buildtype"))' 2>/dev/null || echo ?)), OpenBLAS $blas_ver (pthread, running its ${blas_core:-?} kernels; PyTorch uses the same library), PyTorch $torch_ver (Debian python3-torch, \`$PYTHON\`).
Environment: ${envs:-no OPENBLAS_* variables set}; bptrain and the floor run without OPENBLAS_NUM_THREADS and set their threads with \`--threads\`.
Peak sgemm (${PEAK_SIZE}³, OpenBLAS, best in this run): ${peak1:-?} GFLOP/s on 1 thread, ${peak2:-?} on 2.
$mlp_part$cnn_part
$proc

Targets: MLPs (issue 10) PyTorch/bptrain per epoch > 1 in every row, bptrain/floor ≤ $(floor_target) at 1 and 2 threads;
(issue 5) whole process on wide ≥ 1.5× faster, PyTorch/bptrain peak RSS ≥ 4. CNN (issue 10): PyTorch/bptrain per epoch
≥ $(cnn_speed_target 2) at 2 threads and ≥ $(cnn_speed_target 1) at 1, FLOP rate ≥ $CNN_PEAK_TARGET of the sgemm peak, PyTorch/bptrain peak RSS ≥ $CNN_RSS_TARGET.

Verdict of this run (written by the script):
- speed targets met: ${met_list:-none};
- speed targets missed: ${missed_list:-none};
- peak-RSS, whole-process and determinism targets missed: ${other_list:-none}.
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

if [ "$MPI" != 0 ]; then
	mpi_section
fi
