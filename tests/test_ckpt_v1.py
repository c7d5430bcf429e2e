#!/usr/bin/env python3
"""A version-1 checkpoint, written by the release before format version 2,
still evaluates, predicts and resumes with the same numbers.

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


@check
def c02_eval_identical():
    """eval (text and json) prints exactly what version 1 printed."""
    d = fixture_copy("eval")
    got = ok(bp("eval", "v1.ckpt", "--data", "test.csv", cwd=d), "eval")
    need(got == read(os.path.join(d, "eval.txt")), "eval printed %r, the fixture has %r"
         % (got, read(os.path.join(d, "eval.txt"))))
    got = ok(bp("eval", "v1.ckpt", "--data", "test.csv", "--format", "json", cwd=d), "eval --format json")
    need(got == read(os.path.join(d, "eval.json")), "eval --format json printed %r, the fixture has %r"
         % (got, read(os.path.join(d, "eval.json"))))


@check
def c03_predict_identical():
    """predict --proba writes exactly version 1's probabilities."""
    d = fixture_copy("predict")
    got = ok(bp("predict", "v1.ckpt", "inputs.csv", "--proba", cwd=d), "predict")
    want = read(os.path.join(d, "predict.csv"))
    need(got.count("\n") == want.count("\n") == 61, "predict wrote %d lines, the fixture has %d"
         % (got.count("\n"), want.count("\n")))
    for i, (a, b) in enumerate(zip(got.split("\n"), want.split("\n"))):
        need(a == b, "predict line %d is %r, the fixture's %r" % (i + 1, a, b))


def rows6(path):
    lines = read(path).strip().split("\n")
    return [l.split(",")[:6] for l in lines]


@check
def c04_resume_identical_and_writes_version_2():
    """Resuming the epoch-2 checkpoint gives rows 3-4 of the uninterrupted
    run exactly; the checkpoints it writes are version 2 and load."""
    d = fixture_copy("resume")
    out = os.path.join(d, "resumed")
    ok(bp("train", "config.yaml", "--resume", "v1.ckpt", "--out", out, "--force", "--quiet", "--no-progress",
          cwd=d), "train --resume v1.ckpt")
    full = rows6(os.path.join(d, "full_metrics.csv"))
    got = rows6(os.path.join(out, "metrics.csv"))
    need(got[0] == full[0], "metrics.csv header %r, expected %r" % (got[0], full[0]))
    by_epoch = {r[0]: r for r in got[1:]}
    for r in full[3:5]:
        need(by_epoch.get(r[0]) == r, "epoch %s: resumed %r, uninterrupted %r" % (r[0], by_epoch.get(r[0]), r))
    last = os.path.join(out, "last.ckpt")
    need(version_of(last) == 2, "the resumed run's last.ckpt is version %d, expected 2" % version_of(last))
    inf = json.loads(ok(bp("info", last, "--format", "json"), "info last.ckpt"))
    need(inf["epoch"] == 4 and inf["format_version"] == 2, "info of the new last.ckpt: epoch %r, version %r"
         % (inf["epoch"], inf["format_version"]))
    e = json.loads(ok(bp("eval", last, "--data", "test.csv", "--format", "json", cwd=d), "eval last.ckpt"))
    need(e["samples"] == 60, "eval of the new last.ckpt: %r" % e)


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
