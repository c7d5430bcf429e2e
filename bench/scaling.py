#!/usr/bin/env python3
"""Projected data-parallel scaling of bptrain (bench/SCALING.md).

Reads the gradient-sum times bench/allreduce measured on this machine and the
configs' measured training speed, fits the alpha-beta cost model of the
gradient sum bptrain runs to the measured sweep, and projects each config to
2..64 nodes on 10 and 100 Gbit/s links. Plain python3, no third-party modules.

    bench/scaling.py --allreduce ALLREDUCE.csv --configs CONFIGS.csv \
                     [--out bench/SCALING.md] [--run-note TEXT]

ALLREDUCE.csv is bench/allreduce's output (kind,name,floats,bytes,ranks,path,
reps,median_us,p10_us,p90_us,min_us,mpi_allreduce_median_us).

CONFIGS.csv has one row per config:
    net,layers,params,batch,train_samples,sps_1x2,sps_2x1,sps_1x1,opt_ms_1t,opt_ms_2t
sps_*: training samples per second (median) at 1 process x 2 threads,
2 processes x 1 thread, 1 x 1; opt_ms_*: `bptrain time`'s optimiser step per
batch at 1 and 2 threads (empty when unknown: taken as 0).

The model. bptrain sums a gradient of n bytes over p ranks as a reduce-scatter
(MPI_Alltoallv of each rank's 1/p part, then the parts added in rank order)
and an allgather (MPI_Allgatherv): the data movement of a ring or
Rabenseifner allreduce,
    T(n, p) = 2 (p - 1) alpha + 2 (p - 1) / p * n * beta
with the ring's latency term (Rabenseifner's is 2 log2(p) alpha; the tables
say where that would matter). Each step also sums the loss and the correct
count (2 doubles, an MPI_Allgather): ceil(log2 p) alpha more.
"""
import argparse
import csv
import math
import sys

NODES = [2, 4, 8, 16, 32, 64]
# The links projected: name, bit rate, assumed latency per message step,
# payload share of the wire (1500-byte Ethernet frames carry 1448 bytes of
# TCP payload in 1538 bytes of wire time; RDMA at 4 KB MTU about 0.97).
LINKS = [
    ("10 Gbit/s Ethernet, TCP", 10e9, 20e-6, 0.94),
    ("100 Gbit/s, RDMA (InfiniBand or RoCE)", 100e9, 5e-6, 0.97),
]
TARGET = 0.8


def fail(msg):
    sys.exit("bench/scaling.py: error: " + msg)


def num(s, what):
    try:
        return float(s)
    except (TypeError, ValueError):
        fail("%s: not a number: %r" % (what, s))


def read_rows(path):
    """A CSV file's rows as dicts; a one-line error when it cannot be read."""
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        fail("%s: %s" % (path, e.strerror))


def read_allreduce(path):
    rows = read_rows(path)
    need = {"kind", "name", "floats", "bytes", "ranks", "path", "median_us", "p10_us", "p90_us", "min_us"}
    if not rows or not need <= set(rows[0]):
        fail("%s: not bench/allreduce output (columns %s)" % (path, ", ".join(sorted(need))))
    for r in rows:
        for k in ("floats", "bytes", "ranks", "median_us", "p10_us", "p90_us", "min_us"):
            r[k] = num(r[k], "%s: %s" % (path, k))
        m = r.get("mpi_allreduce_median_us", "")
        r["mpi_us"] = num(m, path) if m not in ("", None) else None
    return rows


def read_configs(path):
    rows = read_rows(path)
    if not rows:
        fail("%s: no configs" % path)
    for r in rows:
        for k in ("params", "batch", "train_samples"):
            r[k] = int(num(r[k], "%s: %s" % (path, k)))
        for k in ("sps_1x2", "sps_2x1", "sps_1x1", "opt_ms_1t", "opt_ms_2t"):
            v = r.get(k, "")
            r[k] = num(v, "%s: %s" % (path, k)) if v not in ("", None, "n/a") else None
    return rows


def fit(points):
    """Least squares of T = a + b n over (n, T) weighted by 1/T^2 (relative
    error: the sweep spans 4 orders of magnitude). Returns a, b."""
    sw = swn = swnn = swt = swnt = 0.0
    for n, t in points:
        w = 1.0 / (t * t)
        sw += w
        swn += w * n
        swnn += w * n * n
        swt += w * t
        swnt += w * n * t
    det = sw * swnn - swn * swn
    if det <= 0:
        fail("the sweep has too few distinct sizes to fit")
    b = (sw * swnt - swn * swt) / det
    a = (swt - b * swn) / sw
    return a, b


def t_allreduce(nbytes, p, alpha, beta):
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * nbytes * beta


def t_comm(nbytes, p, alpha, beta, latency="ring"):
    """A step's collectives on p nodes: the gradient sum and the step sums."""
    if p <= 1:
        return 0.0
    steps = math.ceil(math.log2(p))
    lat = 2 * (p - 1) if latency == "ring" else 2 * steps
    return lat * alpha + 2 * (p - 1) / p * nbytes * beta + steps * alpha


def fmt_us(s):
    return "%.1f" % (s * 1e6) if s < 1e-3 else "%.0f" % (s * 1e6)


def fmt_bytes(b):
    for unit, k in (("MB", 1 << 20), ("KB", 1 << 10)):
        if b >= k:
            v = b / k
            return ("%d %s" % (v, unit)) if v == int(v) else ("%.2f %s" % (v, unit))
    return "%d B" % b


def pct(x):
    return "%.0f %%" % (100 * x) if x >= 0.095 else "%.1f %%" % (100 * x)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--allreduce", required=True)
    ap.add_argument("--configs", required=True)
    ap.add_argument("--out", default="bench/SCALING.md")
    ap.add_argument("--run-note", default="", help="a line about the run (machine, load) for the page")
    ap.add_argument("--rerun", default="sh bench/run.sh --mpi-only", help="the command that remeasures")
    a = ap.parse_args()

    ar = read_allreduce(a.allreduce)
    cfgs = read_configs(a.configs)
    ranks = int(ar[0]["ranks"])
    sweep = [r for r in ar if r["kind"] == "sweep"]
    # The sizes the model describes: one reduce-scatter + allgather's worth of
    # traffic (the shared-memory path moves the same bytes through memory);
    # shorter vectors go through MPI's own short-message collectives.
    big = [r for r in sweep if r["path"] in ("shared-memory", "alltoallv+allgatherv")]
    if len(big) < 3:
        fail("the sweep needs 3 or more sizes on the shared-memory or alltoallv+allgatherv path")
    nets = {r["name"]: r for r in ar if r["kind"] == "net"}
    step_sums = next((r for r in ar if r["kind"] == "step_sums"), None)

    # ---- the fit: T = 2(p-1) alpha + 2(p-1)/p n beta at p = ranks
    a0, b0 = fit([(r["bytes"], r["median_us"] * 1e-6) for r in big])
    alpha_shm = a0 / (2 * (ranks - 1))
    beta_shm = b0 / (2 * (ranks - 1) / ranks)
    resid = []
    for r in big:
        model = t_allreduce(r["bytes"], ranks, alpha_shm, beta_shm)
        resid.append((r, model, model / (r["median_us"] * 1e-6) - 1))
    rms = math.sqrt(sum(e * e for _, _, e in resid) / len(resid))
    worst = max(resid, key=lambda x: abs(x[2]))
    ts = [r["median_us"] * 1e-6 for r in big]
    mean_log = sum(math.log(t) for t in ts) / len(ts)
    ss_tot = sum((math.log(t) - mean_log) ** 2 for t in ts)
    ss_res = sum((math.log(m) - math.log(r["median_us"] * 1e-6)) ** 2 for r, m, _ in resid)
    r2_log = 1 - ss_res / ss_tot if ss_tot > 0 else float("nan")
    # The same fit to the 10th percentiles: the sum's speed when nothing else
    # takes the cores (on a shared machine the median includes other work).
    a2, b2 = fit([(r["bytes"], r["p10_us"] * 1e-6) for r in big])
    p10_fit = (a2 / (2 * (ranks - 1)), b2 / (2 * (ranks - 1) / ranks))
    # The same fit over the sizes of the nets' gradients (a quarter of the
    # smallest to four times the largest), where the projection matters.
    lo = min(c["params"] * 4 for c in cfgs) / 4
    hi = max(c["params"] * 4 for c in cfgs) * 4
    near = [r for r in big if lo <= r["bytes"] <= hi]
    near_fit = None
    if len(near) >= 3:
        a1, b1 = fit([(r["bytes"], r["median_us"] * 1e-6) for r in near])
        near_fit = (a1 / (2 * (ranks - 1)), b1 / (2 * (ranks - 1) / ranks), near[0]["bytes"], near[-1]["bytes"])
    if beta_shm <= 0:
        fail("the fitted beta is not positive (%.3g s/B): the sweep is too noisy; rerun it" % beta_shm)
    # The per-byte cost that stays on each node: this box's beta over the
    # nets' sizes (the whole sweep's when too few sizes are near them).
    beta_local = near_fit[1] if near_fit and near_fit[1] > 0 else beta_shm
    local_from = "the nets' range" if beta_local is not beta_shm else "the whole sweep"

    out = []
    w = out.append
    w("# Data-parallel scaling: measured and projected")
    w("")
    w("Written by `bench/scaling.py` from a run of `%s` (bench/run.sh's MPI section);" % a.rerun)
    w("rerun that to remeasure everything on this machine. %s" % a.run_note)
    w("")
    w("bptrain sums the gradients once per step, after the whole backward pass and")
    w("before the optimiser step (core/team.c); **the sum is not overlapped with the")
    w("backward pass**, so its whole time adds to every step. Every rank then runs the")
    w("optimiser over all the parameters, so that part of the step does not shrink")
    w("with the node count either. The sum (core/world.c, `bp_world_sum_f32`) adds")
    w("the ranks' vectors in rank order, so that every rank gets the same bits in")
    w("every run. Across machines it is a reduce-scatter (`MPI_Alltoallv` of each")
    w("rank's 1/p part of the vector, the parts added in rank order) followed by an")
    w("allgather (`MPI_Allgatherv`): the data movement of a ring or Rabenseifner")
    w("allreduce, which the projection below models (two ranks on two machines use")
    w("`MPI_Allreduce`: one addition per element commutes exactly). When all ranks")
    w("share one machine, as measured here, the ranks' vectors meet in an MPI")
    w("shared-memory window instead (one copy in, each rank's part summed from the")
    w("others' segments, one copy out): the same additions, without messages.")
    w("")

    # ---- measured, per net
    w("## The gradient sum measured on this machine (%d ranks, shared memory)" % ranks)
    w("")
    w("`bench/allreduce` times `bp_world_sum_f32` itself: a checked first call, warm-up,")
    w("then repetitions each started after a barrier, the slowest rank's time; median")
    w("(10th–90th percentile). For comparison, the library's `MPI_Allreduce(MPI_SUM)` of")
    w("the same vector (with more than 2 ranks its order of additions is the")
    w("library's choice, which is why bptrain does not use it there). The step time is the 1 process × 2 threads step (global batch /")
    w("samples per second); 2 × 1's step is that of 2 processes × 1 thread.")
    w("")
    w("| net | parameters | gradient | `bp_world_sum_f32` µs | `MPI_Allreduce` µs | model µs | step 1×2 µs | step 2×1 µs | sum / 2×1 step |")
    w("|---|---|---|---|---|---|---|---|---|")
    for c in cfgs:
        r = nets.get(c["net"])
        nbytes = 4 * c["params"]
        s12 = c["batch"] / c["sps_1x2"] if c["sps_1x2"] else None
        s21 = c["batch"] / c["sps_2x1"] if c["sps_2x1"] else None
        if r:
            meas = "%s (%s–%s)" % (fmt_us(r["median_us"] * 1e-6), fmt_us(r["p10_us"] * 1e-6), fmt_us(r["p90_us"] * 1e-6))
            mpi = fmt_us(r["mpi_us"] * 1e-6) if r["mpi_us"] is not None else "n/a"
            share = pct(r["median_us"] * 1e-6 / s21) if s21 else "n/a"
        else:
            meas, mpi, share = "n/a", "n/a", "n/a"
        w("| %s | %d | %s | %s | %s | %s | %s | %s | %s |" % (
            c["net"], c["params"], fmt_bytes(nbytes), meas, mpi,
            fmt_us(t_allreduce(nbytes, ranks, alpha_shm, beta_shm)),
            fmt_us(s12) if s12 else "n/a", fmt_us(s21) if s21 else "n/a", share))
    if step_sums:
        w("")
        w("The step's other collective, the loss and correct count (2 doubles, `bp_world_sum_f64`,")
        w("its %s path): %s µs." % (step_sums["path"], fmt_us(step_sums["median_us"] * 1e-6)))
    w("")

    # ---- on this box: the 2 x 1 step, predicted and measured
    w("### What 2 processes × 1 thread cost on this machine")
    w("")
    w("Predicted from the 1 × 1 run: half the batch per rank at 1 × 1's time per sample,")
    w("plus the optimiser step each rank still runs whole (`bptrain time`, 1 thread),")
    w("plus the measured sums. Measured: the 2 × 1 run.")
    w("")
    w("| net | batch | 1×1 samples/s | 1×2 | 2×1 measured | 2×1 predicted | 2×1 / 1×2 (target ≥ 0.9) |")
    w("|---|---|---|---|---|---|---|")
    for c in cfgs:
        pred = "n/a"
        if c["sps_1x1"] and c["net"] in nets:
            step1 = c["batch"] / c["sps_1x1"]
            opt1 = (c["opt_ms_1t"] or 0) * 1e-3
            comp = (step1 - opt1) / 2 + opt1
            comm = nets[c["net"]]["median_us"] * 1e-6 + (step_sums["median_us"] * 1e-6 if step_sums else 0)
            pred = "%.0f" % (c["batch"] / (comp + comm))
        rat = "%.2f" % (c["sps_2x1"] / c["sps_1x2"]) if c["sps_2x1"] and c["sps_1x2"] else "n/a"
        f = lambda v: "%.0f" % v if v else "n/a"
        w("| %s | %d | %s | %s | %s | %s | %s |" % (c["net"], c["batch"], f(c["sps_1x1"]), f(c["sps_1x2"]),
                                                 f(c["sps_2x1"]), pred, rat))
    w("")

    # ---- the fit
    w("## The α–β model fitted to the sweep")
    w("")
    w("T(n, p) = 2(p − 1)·α + 2(p − 1)/p · n·β, n the gradient's bytes, p the ranks; at")
    w("p = %d, T = %s·α + %s·n·β. Least squares on the medians of the %d sweep sizes that" % (
        ranks, "%g" % (2 * (ranks - 1)), "%g" % (2 * (ranks - 1) / ranks), len(big)))
    w("take the %s path (%s to %s; smaller vectors go through `%s`)," % (
        big[0]["path"], fmt_bytes(big[0]["bytes"]), fmt_bytes(big[-1]["bytes"]),
        "MPI_Allreduce" if ranks == 2 else "MPI_Allgather"))
    w("weighted by 1/T² so that every size counts by its relative error:")
    w("")
    w("- **α = %.2f µs** per message step, **β = %.3f ns/byte** (%.2f GB/s per rank of the" % (
        alpha_shm * 1e6, beta_shm * 1e9, 1e-9 / beta_shm))
    w("  reduce-scatter's and allgather's traffic, the rank-order sum included);")
    w("- fit quality: RMS relative error %s, worst %+.0f %% at %s; R² of log T %.3f." % (
        pct(rms), 100 * worst[2], fmt_bytes(worst[0]["bytes"]), r2_log))
    w("- fitted to the 10th percentiles instead (the sum when nothing else takes the cores):")
    w("  α = %.2f µs, β = %.3f ns/byte;" % (p10_fit[0] * 1e6, p10_fit[1] * 1e9))
    if near_fit:
        w("- over the nets' range alone (%s–%s): α = %.2f µs, β = %.3f ns/byte." % (
            fmt_bytes(near_fit[2]), fmt_bytes(near_fit[3]), near_fit[0] * 1e6, near_fit[1] * 1e9))
    w("")
    w("Shared memory is not a network: β here is memory copies (OpenMPI's `vader`")
    w("transport, single copies through the kernel's CMA above its 4 KB eager limit) and")
    w("the sum, and it grows once the vectors leave the caches, which is most of the")
    w("misfit above 4 MB. The projection below therefore takes α and the wire's β from")
    w("the link, and adds this machine's β over %s (%.3f ns/B) as the per-byte" % (local_from, beta_local * 1e9))
    w("cost of the copies and the sum that stay on each node (bptrain does not overlap")
    w("them with the transfers): a pessimistic bound, as an RDMA NIC does the copies")
    w("itself. The rows marked *wire β only* leave it out (the optimistic bound).")
    w("")
    w("| size | measured µs (p10–p90) | model µs | model / measured | `MPI_Allreduce` µs |")
    w("|---|---|---|---|---|")
    for r in sweep:
        model = t_allreduce(r["bytes"], ranks, alpha_shm, beta_shm)
        used = r["path"] in ("shared-memory", "alltoallv+allgatherv")
        w("| %s%s | %s (%s–%s) | %s | %s | %s |" % (
            fmt_bytes(r["bytes"]), "" if used else " (%s, not fitted)" % r["path"],
            fmt_us(r["median_us"] * 1e-6), fmt_us(r["p10_us"] * 1e-6), fmt_us(r["p90_us"] * 1e-6),
            fmt_us(model), "%.2f" % (model / (r["median_us"] * 1e-6)),
            fmt_us(r["mpi_us"] * 1e-6) if r["mpi_us"] is not None else "n/a"))
    w("")

    # ---- the projection
    w("## Projected scaling on 2–64 nodes")
    w("")
    w("Each node is this machine (2 cores, one rank with `--threads 2`). Per step at")
    w("global batch B on p nodes:")
    w("")
    w("- compute = (B/p)·t_sample + t_opt: t_opt is `bptrain time`'s optimiser step at 2")
    w("  threads, or at 1 when that is shorter (its 2-thread row includes the threads'")
    w("  barrier; every rank runs the step over all the parameters), t_sample the rest of the")
    w("  1 × 2 step per sample (from the measured samples/s; it includes the epoch's")
    w("  validation pass, which the ranks split too). It assumes the time per sample")
    w("  does not grow as a node's share of the batch shrinks: optimistic at small")
    w("  shares, where the GEMMs get less efficient.")
    w("- comm = T(4·parameters, p) + ⌈log₂ p⌉·α, with the ring latency term 2(p − 1)·α;")
    w("  no overlap with compute (bptrain sums after the whole backward pass).")
    w("- efficiency = (time of the step on one node) / (p × time on p nodes), i.e.")
    w("  the speed-up over one node divided by p; 100 % is perfect scaling.")
    w("")
    w("The links (assumptions, not measurements):")
    w("")
    w("| link | α (assumed, per message step) | wire β | β used (+ this box's %.3f ns/B) |" % (beta_local * 1e9))
    w("|---|---|---|---|")
    for name, rate, alpha, eff in LINKS:
        bl = 8 / (rate * eff)
        w("| %s | %.0f µs | %.3f ns/B (%.0f %% of the bit rate is payload) | %.3f ns/B |" % (
            name, alpha * 1e6, bl * 1e9, eff * 100, (bl + beta_local) * 1e9))
    w("")
    w("α: a TCP message step over 10 GbE through the kernel's stack costs some 15–30 µs,")
    w("an RDMA one a few µs (with MPI's software on top, 5 µs assumed).")
    w("")

    w("Per config, with t_sample and t_opt as measured (`bptrain time`'s optimiser step at 1 / 2 threads in brackets):")
    w("")
    w("| net | parameters | config's global batch | t_sample µs | t_opt µs (1 / 2 threads) | step on 1 node µs |")
    w("|---|---|---|---|---|---|")
    per = []
    for c in cfgs:
        if not c["sps_1x2"]:
            continue
        step1 = c["batch"] / c["sps_1x2"]
        opts = [v for v in (c["opt_ms_2t"], c["opt_ms_1t"]) if v]
        topt = min(min(opts) * 1e-3 if opts else 0.0, 0.9 * step1)
        tsamp = (step1 - topt) / c["batch"]
        per.append((c, tsamp, topt))
        f = lambda v: "%.1f" % (v * 1e3) if v else "?"
        w("| %s | %d | %d | %.2f | %.1f (%s / %s) | %.0f |" % (c["net"], c["params"], c["batch"], tsamp * 1e6,
                                                              topt * 1e6, f(c["opt_ms_1t"]), f(c["opt_ms_2t"]),
                                                              step1 * 1e6))
    w("")

    def eff(c, tsamp, topt, B, p, alpha, beta, lat="ring"):
        one = B * tsamp + topt
        return one / (p * (B / p * tsamp + topt + t_comm(4 * c["params"], p, alpha, beta, lat)))

    def b80(c, tsamp, topt, p, alpha, beta, lat="ring"):
        # B t + o >= 0.8 p (B t / p + o + comm)  <=>  B >= (0.8 p (o + comm) - o) / (0.2 t)
        comm = t_comm(4 * c["params"], p, alpha, beta, lat)
        need = (TARGET * p * (topt + comm) - topt) / ((1 - TARGET) * tsamp)
        return max(p, int(math.ceil(need / p)) * p)   # a whole number of samples per node

    head = "| net | " + " | ".join("%d nodes" % p for p in NODES) + " |"
    rule = "|---|" + "---|" * len(NODES)
    for name, rate, alpha, e in LINKS:
        beta = 8 / (rate * e) + beta_local
        w("### %s" % name)
        w("")
        w("Efficiency at the config's global batch (strong scaling: each node gets B/p):")
        w("")
        w(head)
        w(rule)
        for c, tsamp, topt in per:
            w("| %s (B = %d) | " % (c["net"], c["batch"]) + " | ".join(
                pct(eff(c, tsamp, topt, c["batch"], p, alpha, beta)) if c["batch"] >= p else "B < p"
                for p in NODES) + " |")
        w("")
        w("Efficiency keeping each node's batch at the config's (weak scaling: global batch p·B):")
        w("")
        w(head)
        w(rule)
        for c, tsamp, topt in per:
            w("| %s (%d per node) | " % (c["net"], c["batch"]) + " | ".join(
                pct(eff(c, tsamp, topt, c["batch"] * p, p, alpha, beta)) for p in NODES) + " |")
        w("")
        w("Smallest global batch that keeps the efficiency ≥ 80 % (a multiple of p; per node in")
        w("brackets). *log-latency*: the same with Rabenseifner's 2·log₂(p)·α latency term")
        w("instead of the ring's; *wire β only*: without this machine's per-byte cost:")
        w("†: more than the training set, so not even one step per epoch would reach 80 %.")
        w("")
        w(head)
        w(rule)
        for label, lat, bb in (("", "ring", beta), (", log-latency", "log", beta),
                               (", wire β only", "ring", beta - beta_local)):
            for c, tsamp, topt in per:
                cells = []
                for p in NODES:
                    b = b80(c, tsamp, topt, p, alpha, bb, lat)
                    cells.append("%d (%d)%s" % (b, b // p, " †" if b > c["train_samples"] else ""))
                w("| %s%s | " % (c["net"], label) + " | ".join(cells) + " |")
        w("")

    w("Reading the tables: a step's collectives against the step itself, in µs (the")
    w("projected comm of one step, and the one-node step at the config's batch):")
    w("")
    w("| net | step on 1 node | " + " | ".join("comm, %s, %d nodes" % (n.split(",")[0], p)
                                             for n, _, _, _ in LINKS for p in (2, 64)) + " | t_sample per parameter |")
    w("|---|---|" + "---|" * (2 * len(LINKS)) + "---|")
    for c, tsamp, topt in per:
        cells = []
        for name, rate, alpha, e in LINKS:
            beta = 8 / (rate * e) + beta_local
            for p in (2, 64):
                cells.append("%.0f" % (t_comm(4 * c["params"], p, alpha, beta) * 1e6))
        w("| %s | %.0f | %s | %.0f ps |" % (c["net"], (c["batch"] * tsamp + topt) * 1e6, " | ".join(cells),
                                          tsamp / c["params"] * 1e12))
    w("")
    w("The comm of a step barely depends on the batch, the compute grows with it: what")
    w("keeps the efficiency up is compute per node per step, i.e. samples per node, and")
    w("nets with much arithmetic per parameter (the last column: the CNN's convolutions")
    w("reuse each weight over every pixel) need the fewest. Every rank also runs the")
    w("whole optimiser step (t_opt), which does not shrink with p; it costs as much as")
    w("the compute of %s. The ring's 2(p − 1)·α latency term makes" % ", ".join(
        "%s samples on %s" % (("%.1f" if topt < 10 * tsamp else "%.0f") % (topt / tsamp), c["net"]) for c, tsamp, topt in per))
    w("the 80 % batches grow faster than p at 32–64 nodes on 10 GbE.")
    w("")
    w("What would make bptrain itself scale further (not done; measured costs above):")
    w("summing each layer's gradient as soon as its backward pass is done, overlapped")
    w("with the layers still to go (what Horovod and PyTorch DDP do, in buckets), hides")
    w("up to the backward pass's time; and updating only each rank's 1/p of the weights")
    w("after the reduce-scatter, then gathering weights instead of gradients (the same")
    w("bytes), splits t_opt over the ranks.")
    w("")

    # ---- advice
    w("## When you scale out")
    w("")
    w("Data-parallel training keeps the model's arithmetic per sample; what changes")
    w("with the number of nodes is how much of each step is communication. The advice")
    w("is that of Horovod's documentation and of Goyal et al., *Accurate, Large")
    w("Minibatch SGD: Training ImageNet in 1 Hour* (2017):")
    w("")
    w("- **Keep the per-node batch, raise the global batch with p.** `train.batch_size`")
    w("  is the global batch in bptrain: for p nodes set it to p × the per-node batch you")
    w("  would use on one (`--set train.batch_size=...`). Keeping the global batch and")
    w("  adding nodes only shrinks each node's share of the work while the sum stays")
    w("  the same size: the strong-scaling rows above. The 80 % tables give the")
    w("  smallest global batch worth running at each node count.")
    w("- **Scale the learning rate with the batch, and warm it up.** Goyal et al.'s")
    w("  linear scaling rule: multiply the batch by k, multiply `optimizer.lr` by k,")
    w("  and ramp it up over the first epochs (`optimizer.schedule.warmup_epochs`, e.g.")
    w("  5) because the large rate is unstable while the weights are still random.")
    w("  Horovod's docs give the same advice (scale the learning rate by the number of")
    w("  workers, because the effective batch grows with them; their Keras examples ramp")
    w("  it up over the first epochs, after Goyal et al.). The rule was established for SGD with momentum; with")
    w("  Adam (these configs) a factor between √k and k is the usual starting point,")
    w("  checked on the validation curve. Past some batch size (problem-dependent) the")
    w("  accuracy per epoch drops whatever the rate: scale out only as far as the")
    w("  model's useful batch size.")
    w("- **Data on every host.** Every rank loads the whole dataset from the same path")
    w("  (a shared filesystem or a copy per host); rank 0 alone writes the run folder.")
    w("- **`--bind-to none`.** OpenMPI binds each rank to one core by default, which")
    w("  would put all of a rank's threads on that core; give `--bind-to none` (or")
    w("  `--map-by slot:PE=T`) with `--threads T`.")
    w("- **Threads, not ranks, inside a node.** One rank per node with `--threads` = its")
    w("  cores: a node's threads sum their gradients in shared memory for free, and the")
    w("  network sum then runs once per node. On this 2-core machine 2 processes × 1")
    w("  thread cost what the table above shows against 1 × 2.")
    w("- **Fast links matter most for small, fast nets.** The per-step cost is mostly")
    w("  latency (2(p − 1)·α) for small gradients and bandwidth (≈ 2·n·β) for large")
    w("  ones; 100 Gbit RDMA cuts both several-fold against 10 GbE TCP.")
    w("")
    with open(a.out, "w") as f:
        f.write("\n".join(out))
    print("alpha_us %.4f" % (alpha_shm * 1e6))
    print("beta_ns_per_byte %.5f" % (beta_shm * 1e9))
    print("fit_rms_rel %.4f" % rms)
    print("beta_local_ns_per_byte %.5f" % (beta_local * 1e9))
    for name, rate, alpha, e in LINKS:
        beta = 8 / (rate * e) + beta_local
        for c, tsamp, topt in per:
            print("b80 %s %s %s" % (c["net"], "%dG" % (rate / 1e9),
                                    " ".join("%d:%d" % (p, b80(c, tsamp, topt, p, alpha, beta)) for p in NODES)))
    print("wrote %s" % a.out, file=sys.stderr)


if __name__ == "__main__":
    main()
