#!/usr/bin/env python3
"""A version-1 checkpoint, written by the release before format version 2,
still evaluates, predicts and resumes with the same numbers (see REL below).

Usage: test_ckpt_v1.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

tests/fixtures/v1/ holds v1.ckpt (epoch 2 of config.yaml, threads 1), the
data it was trained on, and what that release printed: eval.txt
(`bptrain eval v1.ckpt --data test.csv`), eval.json (the same with --format
json), predict.csv (`bptrain predict v1.ckpt inputs.csv --proba`) and
full_metrics.csv (the first 6 columns of metrics.csv of an uninterrupted
4-epoch run of config.yaml). Each check works in a copy of that folder, so
the config's relative data paths resolve there (the checkpoint's own
config names the absolute paths of another machine's folder).
"""
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

from checks import check, need, run_checks

BPTRAIN = None
FIXTURE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "v1")
TMP = None


def fixture_copy(name):
    d = tempfile.mkdtemp(prefix=name + "-", dir=TMP)
    for f in os.listdir(FIXTURE):
        shutil.copy(os.path.join(FIXTURE, f), d)
    return d


def bp(*args, cwd=None, timeout=120):
    return subprocess.run([BPTRAIN] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout, cwd=cwd)


def ok(p, what):
    need(p.returncode == 0, "%s: exit %d: %s" % (what, p.returncode, p.stderr.strip()[-500:]))
    return p.stdout


def read(path):
    with open(path) as f:
        return f.read()


def version_of(path):
    with open(path, "rb") as f:
        head = f.read(12)
    need(head[:8] == b"BPTRAIN\x1a", "%s does not start with the checkpoint magic" % path)
    return struct.unpack("<I", head[8:12])[0]


@check
def c01_fixture_is_version_1():
    """The fixture is what it claims: format version 1, epoch 2, no state."""
    d = fixture_copy("info")
    need(version_of(os.path.join(d, "v1.ckpt")) == 1, "v1.ckpt is not format version 1")
    inf = json.loads(ok(bp("info", "v1.ckpt", "--format", "json", cwd=d), "info v1.ckpt"))
    need(inf["epoch"] == 2 and inf["format_version"] == 1, "info: epoch %r, format_version %r"
         % (inf["epoch"], inf["format_version"]))
    need(inf["params"] == 387 and inf["state"] == 0 and inf["state_tensors"] == [],
         "info: params %r, state %r" % (inf["params"], inf["state"]))
    need([l["params"] for l in inf["layers"]] == [64, 0, 272, 51], "info layers: %r" % inf["layers"])


# The fixture's numbers were printed by the release before version 2 with
# the BLAS kernels of the machine that wrote it; another machine's kernels
# (OpenBLAS picks them per CPU) round float sums differently in the last
# bits. So the numbers are compared with the fixture to within that
# rounding, and exactness is checked where it holds: within one binary, a
# version-1 checkpoint resumes exactly as the version-2 checkpoint of the
# same run does.
REL = 1e-6


def close(a, b, rel=REL, abs_=0.0):
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_)


@check
def c02_eval_same_numbers():
    """eval (text and json) gives version 1's loss to rounding, its
    accuracy and sample count exactly."""
    d = fixture_copy("eval")
    got = ok(bp("eval", "v1.ckpt", "--data", "test.csv", cwd=d), "eval").split()
    want = read(os.path.join(d, "eval.txt")).split()
    need(len(got) == len(want) == 6 and got[0::2] == want[0::2], "eval printed %r, the fixture has %r" % (got, want))
    need(close(float(got[1]), float(want[1]), abs_=1e-4) and got[3] == want[3] and got[5] == want[5],
         "eval printed %r, the fixture has %r" % (got, want))
    got = json.loads(ok(bp("eval", "v1.ckpt", "--data", "test.csv", "--format", "json", cwd=d), "eval json"))
    want = json.loads(read(os.path.join(d, "eval.json")))
    need(sorted(got) == sorted(want) and close(got["loss"], want["loss"], abs_=2e-6) and got["accuracy"] == want["accuracy"]
         and got["samples"] == want["samples"], "eval --format json printed %r, the fixture has %r" % (got, want))


@check
def c03_predict_same_numbers():
    """predict --proba: version 1's labels exactly, its probabilities to
    the printed digits (6 decimals, ±1 in the last)."""
    d = fixture_copy("predict")
    got = ok(bp("predict", "v1.ckpt", "inputs.csv", "--proba", cwd=d), "predict").strip().split("\n")
    want = read(os.path.join(d, "predict.csv")).strip().split("\n")
    need(len(got) == len(want) == 61 and got[0] == want[0], "predict wrote %d lines (%r), the fixture has %d"
         % (len(got), got[0], len(want)))
    for i, (a, b) in enumerate(zip(got[1:], want[1:])):
        a, b = a.split(","), b.split(",")
        need(a[0] == b[0] and len(a) == len(b) and all(close(float(x), float(y), 0, 2e-6) for x, y in zip(a[1:], b[1:])),
             "predict row %d is %r, the fixture's %r" % (i + 1, a, b))


def rows6(path):
    lines = read(path).strip().split("\n")
    return [l.split(",")[:6] for l in lines]


def same_row(a, b):
    return len(a) == len(b) and a[0] == b[0] and a[2] == b[2] and a[4] == b[4] and a[5] == b[5] \
        and close(float(a[1]), float(b[1])) and close(float(a[3]), float(b[3]))


@check
def c04_resume_same_numbers_and_writes_version_2():
    """Resuming the epoch-2 checkpoint gives rows 3-4 of the uninterrupted
    version-1 run (losses to rounding, accuracies and lr exactly), and
    exactly what resuming its own version-2 checkpoint of epoch 3 gives;
    the checkpoints it writes are version 2 and load."""
    d = fixture_copy("resume")
    out = os.path.join(d, "resumed")
    ok(bp("train", "config.yaml", "--resume", "v1.ckpt", "--out", out, "--force", "--quiet", "--no-progress",
          cwd=d), "train --resume v1.ckpt")
    full = rows6(os.path.join(d, "full_metrics.csv"))
    got = rows6(os.path.join(out, "metrics.csv"))
    need(got[0] == full[0], "metrics.csv header %r, expected %r" % (got[0], full[0]))
    by_epoch = {r[0]: r for r in got[1:]}
    need(sorted(by_epoch) == ["3", "4"], "the resumed run wrote epochs %r, expected 3 and 4" % sorted(by_epoch))
    for r in full[3:5]:
        need(same_row(by_epoch[r[0]], r), "epoch %s: resumed %r, uninterrupted %r" % (r[0], by_epoch[r[0]], r))
    last = os.path.join(out, "last.ckpt")
    need(version_of(last) == 2, "the resumed run's last.ckpt is version %d, expected 2" % version_of(last))
    inf = json.loads(ok(bp("info", last, "--format", "json"), "info last.ckpt"))
    need(inf["epoch"] == 4 and inf["format_version"] == 2, "info of the new last.ckpt: epoch %r, version %r"
         % (inf["epoch"], inf["format_version"]))
    e = json.loads(ok(bp("eval", last, "--data", "test.csv", "--format", "json", cwd=d), "eval last.ckpt"))
    need(e["samples"] == 60, "eval of the new last.ckpt: %r" % e)

    # The same run through a version-2 checkpoint: v1 -> epoch 3 (v2) -> epoch 4.
    mid = os.path.join(d, "mid")
    ok(bp("train", "config.yaml", "--resume", "v1.ckpt", "--set", "train.epochs=3", "--out", mid, "--force",
          "--quiet", "--no-progress", cwd=d), "train --resume v1.ckpt to epoch 3")
    need(version_of(os.path.join(mid, "last.ckpt")) == 2, "epoch 3's last.ckpt is not version 2")
    ok(bp("train", "config.yaml", "--resume", os.path.join(mid, "last.ckpt"), "--out", mid, "--quiet",
          "--no-progress", cwd=d), "train --resume (version 2) to epoch 4")
    via2 = {r[0]: r for r in rows6(os.path.join(mid, "metrics.csv"))[1:]}
    need(via2.get("4") == by_epoch["4"], "epoch 4 through the version-2 checkpoint %r, straight from version 1 %r"
         % (via2.get("4"), by_epoch["4"]))
    e2 = ok(bp("eval", os.path.join(mid, "last.ckpt"), "--data", "test.csv", "--format", "json", cwd=d), "eval")
    need(json.loads(e2) == e, "eval of the two epoch-4 checkpoints: %r and %r" % (e2, e))


def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_ckpt_v1.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="bptrain-v1-")
    return run_checks(sys.argv[2:], TMP, lambda fn: fn.__name__[1:3].lstrip("0"))


if __name__ == "__main__":
    sys.exit(main())
