#!/usr/bin/env python3
"""End-to-end tests of `bptrain time` (SPEC: bptrain time).

Usage: test_time.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

Each check writes a small generated dataset and config into a temporary
folder, runs `bptrain time` and checks its text and JSON reports: every
layer listed with positive times, the FLOP counts, the totals adding up,
no run folder written, and one-line usage errors (exit 2) for bad options.
"""
import json
import math
import os
import random
import re
import subprocess
import sys
import tempfile

from checks import check, need, run_checks

BPTRAIN = None
TMP = None

LAYERS = [("dense", 48, "relu"), ("dropout", None, None), ("dense", 3, "softmax")]
FEATURES, SAMPLES, SPLIT, BATCH = 20, 700, 0.2, 32


def make_config(folder, extra=""):
    """Blobs in FEATURES dimensions, 3 classes; the config beside them."""
    r = random.Random(3)
    with open(os.path.join(folder, "blobs.csv"), "w") as f:
        for _ in range(SAMPLES):
            c = r.randrange(3)
            xs = [2.0 * math.cos(2 * math.pi * c / 3 + j) + r.gauss(0, 0.7) for j in range(FEATURES)]
            f.write(",".join("%.5f" % x for x in xs) + ",%d\n" % c)
    layers = ""
    for kind, units, act in LAYERS:
        if kind == "dense":
            layers += "    - {type: dense, units: %d, activation: %s}\n" % (units, act)
        else:
            layers += "    - {type: dropout, rate: 0.2}\n"
    path = os.path.join(folder, "c.yaml")
    with open(path, "w") as f:
        f.write("seed: 7\n"
                "data:\n  train: {path: blobs.csv}\n  validation: {split: %s}\n"
                "model:\n  layers:\n%s"
                "loss: cross_entropy\n"
                "optimizer: {type: adam, lr: 0.01}\n"
                "train: {epochs: 3, batch_size: %d}\n%s" % (SPLIT, layers, BATCH, extra))
    return path


def fresh():
    return tempfile.mkdtemp(dir=TMP)


def bp(*args, cwd=None):
    return subprocess.run([BPTRAIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, cwd=cwd)


def ok(p, what):
    need(p.returncode == 0, "%s: exit %d, stderr %r" % (what, p.returncode, p.stderr))


def time_json(cfg, *extra, cwd=None):
    p = bp("time", cfg, "--format", "json", *extra, cwd=cwd)
    ok(p, "time --format json")
    try:
        return json.loads(p.stdout)
    except ValueError as e:
        raise AssertionError("not JSON (%s): %r" % (e, p.stdout))


def ntrain():
    return SAMPLES - int(SAMPLES * SPLIT)


def close(a, b, rel=2e-5, abs_=2e-6):
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


@check
def c01_json_report():
    cfg = make_config(fresh())
    j = time_json(cfg, "--threads", "1", "--batches", "7")
    need(j["name"] == "c" and j["threads"] == 1 and j["batches"] == 7 and j["warmup"] == 3,
         "header fields: %r" % {k: j[k] for k in ("name", "threads", "batches", "warmup")})
    need(j["batch_size"] == BATCH and j["train_samples"] == ntrain(), "batch %r samples %r" % (
        j["batch_size"], j["train_samples"]))
    need(j["batches_per_epoch"] == -(-ntrain() // BATCH), "batches_per_epoch %r" % j["batches_per_epoch"])
    need(len(j["layers"]) == len(LAYERS), "%d layers listed, the config has %d" % (len(j["layers"]), len(LAYERS)))
    width = FEATURES
    for i, (l, (kind, units, _)) in enumerate(zip(j["layers"], LAYERS)):
        need(l["index"] == i and l["type"] == kind, "layer %d: %r" % (i, l))
        need(l["forward_ms"] > 0 and l["backward_ms"] > 0, "layer %d times not positive: %r" % (i, l))
        out = units if kind == "dense" else width
        need(l["output"] == [out, 1, 1], "layer %d output %r, expected [%d, 1, 1]" % (i, l["output"], out))
        if kind == "dense":
            fwd = 2 * BATCH * width * units
            need(l["forward_flop"] == fwd, "layer %d forward_flop %r, expected %d" % (i, l["forward_flop"], fwd))
            # dW and dX; layer 0 computes no dX
            bwd = fwd * (1 if i == 0 else 2)
            need(l["backward_flop"] == bwd, "layer %d backward_flop %r, expected %d" % (i, l["backward_flop"], bwd))
            need(close(l["forward_gflops"], fwd / (l["forward_ms"] * 1e-3) / 1e9, rel=1e-4),
                 "layer %d forward_gflops %r" % (i, l["forward_gflops"]))
            need(close(l["backward_gflops"], bwd / (l["backward_ms"] * 1e-3) / 1e9, rel=1e-4),
                 "layer %d backward_gflops %r" % (i, l["backward_gflops"]))
        else:
            need(l["forward_flop"] is None and l["forward_gflops"] is None and l["backward_gflops"] is None,
                 "dropout has no FLOP count: %r" % l)
        width = out
    flop = sum(l["forward_flop"] + l["backward_flop"] for l in j["layers"] if l["forward_flop"] is not None)
    need(j["flop_per_batch"] == flop, "flop_per_batch %r, layers add up to %r" % (j["flop_per_batch"], flop))
    need(close(j["forward_ms"], sum(l["forward_ms"] for l in j["layers"]))
         and close(j["backward_ms"], sum(l["backward_ms"] for l in j["layers"])), "layer totals")
    parts = ["forward_ms", "backward_ms", "gather_ms", "loss_ms", "wait_ms", "gradient_sum_ms", "optimizer_ms",
             "other_ms"]
    for k in parts:
        need(j[k] >= 0, "%s negative: %r" % (k, j[k]))
    need(j["gather_ms"] > 0 and j["optimizer_ms"] > 0 and j["batch_ms"] > 0, "gather, optimiser, batch > 0")
    need(close(sum(j[k] for k in parts), j["batch_ms"], rel=1e-4),
         "the parts add up to %r ms, the batch takes %r" % (sum(j[k] for k in parts), j["batch_ms"]))
    need(close(j["epoch_seconds"], j["batch_ms"] * 1e-3 * j["batches_per_epoch"], rel=1e-4),
         "epoch_seconds %r, batch_ms × batches %r" % (j["epoch_seconds"], j["batch_ms"] * j["batches_per_epoch"]))
    need(close(j["gflops"], flop / (j["batch_ms"] * 1e-3) / 1e9, rel=1e-4), "gflops %r" % j["gflops"])


NUM = r"([0-9]+(?:\.[0-9]+)?)"
GNUM = r"([0-9.]+(?:e[-+][0-9]+)?)"   # printf %g


@check
def c02_text_report():
    cfg = make_config(fresh())
    p = bp("time", cfg, "--threads", "1", "--batches", "5")
    ok(p, "time")
    lines = p.stdout.splitlines()
    need(re.match(r"time c: batch %d on 1 thread, 5 steps after 3 warm-up" % BATCH, lines[0]), lines[0])
    rows = {}
    for line in lines:
        m = re.match(r"(\d+)\s+(\w+)\s+(\S+)\s+%s\s+%s(.*)$" % (NUM, NUM), line)
        if m:
            rows[int(m.group(1))] = m
    need(sorted(rows) == list(range(len(LAYERS))), "layer rows %r in %r" % (sorted(rows), p.stdout))
    for i, (kind, units, _) in enumerate(LAYERS):
        m = rows[i]
        need(m.group(2) == kind, "row %d type %r" % (i, m.group(2)))
        need(float(m.group(4)) >= 0 and float(m.group(5)) >= 0, "row %d times" % i)
        gf = m.group(6).split()
        need(len(gf) == (2 if kind == "dense" else 0), "row %d GFLOP/s columns %r" % (i, gf))
        need(all(float(g) > 0 for g in gf), "row %d GFLOP/s %r" % (i, gf))
    for part in ("layers", "gather", "loss", "wait", "gradient sum", "optimiser step", "other"):
        need(any(re.match(r"\s+%s\s+%s" % (part, NUM), l) for l in lines), "no '%s' row in %r" % (part, p.stdout))
    mb = re.search(r"total per batch: %s ms" % GNUM, p.stdout)
    me = re.search(r"total per epoch: %s s \((\d+) batches of %d for %d training samples\)" % (GNUM, BATCH, ntrain()),
                   p.stdout)
    need(mb and me, "totals missing: %r" % p.stdout)
    batches = int(me.group(2))
    need(batches == -(-ntrain() // BATCH), "batches per epoch %d" % batches)
    per_batch, per_epoch = float(mb.group(1)), float(me.group(1))
    need(per_batch > 0, "per batch %r" % per_batch)
    # both printed to 4 significant digits
    need(abs(per_epoch - per_batch * 1e-3 * batches) <= 1.2e-3 * per_epoch,
         "per epoch %r s, per batch %r ms × %d batches" % (per_epoch, per_batch, batches))


@check
def c03_no_run_folder():
    d = fresh()
    cfg = make_config(d)
    work = os.path.join(d, "cwd")
    os.mkdir(work)
    before = sorted(os.listdir(d))
    ok(bp("time", cfg, "--batches", "2", cwd=work), "time")
    ok(bp("time", cfg, "--batches", "2", "--set", "output.dir=" + os.path.join(d, "out"), cwd=work),
       "time with output.dir")
    need(sorted(os.listdir(d)) == before and os.listdir(work) == [],
         "files appeared: %r, in the working folder %r" % (sorted(set(os.listdir(d)) - set(before)),
                                                           os.listdir(work)))


@check
def c04_threads_and_sets():
    cfg = make_config(fresh())
    j = time_json(cfg, "--threads", "2", "--batches", "3", "--set", "model.layers.0.units=16")
    need(j["threads"] == 2, "threads %r with --threads 2" % j["threads"])
    need(j["layers"][0]["forward_flop"] == 2 * BATCH * FEATURES * 16, "--set units=16: %r" % j["layers"][0])
    need(all(l["forward_ms"] > 0 and l["backward_ms"] > 0 for l in j["layers"]), "times at 2 threads")
    j = time_json(cfg, "--batches", "3", "--set", "train.threads=1", "--set", "train.batch_size=1000")
    # a training set smaller than a batch is timed as one short batch
    need(j["threads"] == 1 and j["batch_size"] == ntrain() and j["batches_per_epoch"] == 1,
         "batch larger than the data: %r" % {k: j[k] for k in ("threads", "batch_size", "batches_per_epoch")})


def one_line_error(p, status, what, pattern=None):
    need(p.returncode == status, "%s: exit %d, expected %d (stderr %r)" % (what, p.returncode, status, p.stderr))
    lines = p.stderr.splitlines()
    need(len(lines) == 1 and lines[0].startswith("bptrain: error: "), "%s: stderr %r" % (what, p.stderr))
    need(p.stdout == "", "%s: stdout %r" % (what, p.stdout))
    if pattern:
        need(re.search(pattern, lines[0]), "%s: %r does not match %r" % (what, lines[0], pattern))


@check
def c05_usage_errors():
    cfg = make_config(fresh())
    cases = [
        (["--batches", "0"], "--batches"), (["--batches", "abc"], "--batches"), (["--batches", "2x"], "--batches"),
        (["--batches", "-3"], "--batches"), (["--batches", "99999999999999999999"], "--batches"),
        (["--batches"], "needs a value"), (["--format", "xml"], "--format"), (["--format"], "needs a value"),
        (["--threads", "-1"], "--threads"), (["--threads", "two"], "--threads"), (["--bogus"], "unknown option"),
        (["extra.yaml"], "one config"),
    ]
    for extra, pattern in cases:
        one_line_error(bp("time", cfg, *extra), 2, "time %s" % " ".join(extra), pattern)
    one_line_error(bp("time"), 2, "time without a config", "one config")
    p = bp("time", "--help")
    need(p.returncode == 0 and "--batches N" in p.stdout, "--help: %r" % p.stdout)
    p = bp("--help")
    need(re.search(r"^\s+time\s", p.stdout, re.M), "bptrain --help lists no 'time': %r" % p.stdout)


@check
def c06_config_and_data_errors():
    d = fresh()
    cfg = make_config(d, extra="")
    with open(cfg) as f:
        text = f.read()
    bad = os.path.join(d, "bad.yaml")
    with open(bad, "w") as f:
        f.write(text.replace("units: 48", "unit: 48"))
    one_line_error(bp("time", bad), 2, "a misspelt layer key", r"bad\.yaml:\d+:\d+: .*unit")
    one_line_error(bp("time", cfg, "--set", "train.batch_size=0"), 2, "batch_size 0", r"batch_size")
    one_line_error(bp("time", os.path.join(d, "missing.yaml")), 2, "a missing config")
    one_line_error(bp("time", cfg, "--set", "data.train.path=nothere.csv"), 3, "missing data", "nothere")


def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_time.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="bptrain-time-")
    return run_checks(sys.argv[2:], TMP, lambda fn: fn.__name__[1:3].lstrip("0"))


if __name__ == "__main__":
    sys.exit(main())
