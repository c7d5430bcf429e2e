#!/usr/bin/env python3
"""End-to-end tests of data.shape and data.augment against the built bptrain.

Usage: test_data_e2e.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

Each check writes its own small image datasets (CSV rows of pixels, IDX
files of rank 3 and 4) in a temporary folder and runs bptrain: a CSV given
a shape with data.shape trains, and its checkpoint evaluates and predicts
on data laid out like the training data; the IDX header gives the shape
unless data.shape overrides it; augmentation is reproducible (same seed and
threads, same metrics.csv), changes only rounding between thread counts,
and resumes bit for bit after a SIGINT mid-epoch (../shared/SPEC.md, Data).
The last line is "N passed, M failed"; the exit status is 1 when any failed.
"""
import gzip
import json
import os
import random
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from checks import CheckFailed, check, need, run_checks

BPTRAIN = None
TMP = None


# ---------------------------------------------------------------- data

def bars(n, seed, c=1, h=6, w=6):
    """n images (c, h, w) in [0, 1], 3 classes: a horizontal bar, a vertical
    bar or a diagonal, at a random place, on noise; rows of c*h*w pixels in
    C, H, W order, then the label."""
    r = random.Random(seed)
    rows = []
    for _ in range(n):
        k = r.randrange(3)
        at = r.randrange(min(h, w))
        img = [[[r.uniform(0, 0.3) for _ in range(w)] for _ in range(h)] for _ in range(c)]
        for ch in range(c):
            for i in range(h):
                for j in range(w):
                    if (k == 0 and i == at) or (k == 1 and j == at) or (k == 2 and (i + j + at) % max(h, w) == 0):
                        img[ch][i][j] = r.uniform(0.7, 1.0)
        rows.append([img[ch][i][j] for ch in range(c) for i in range(h) for j in range(w)] + [k])
    return rows


def write_csv(path, rows, labels=True):
    def cell(v):
        return str(v) if isinstance(v, int) else "%.3f" % v
    text = "".join(",".join(cell(v) for v in (row if labels else row[:-1])) + "\n" for row in rows)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wt") as f:
        f.write(text)


def write_idx(path, dims, values, code=0x08):
    fmt = {0x08: "B", 0x0D: ">f"}[code]
    blob = bytes([0, 0, code, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    blob += b"".join(struct.pack(fmt, v) for v in values)
    with open(path, "wb") as f:
        f.write(blob)


# ---------------------------------------------------------------- helpers

def fresh(name):
    return tempfile.mkdtemp(prefix=name + "-", dir=TMP)


def bp(*args, timeout=120):
    return subprocess.run([BPTRAIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def train(cfg, out, *extra, threads=1):
    args = ["train", cfg, "--out", out, "--quiet", "--no-progress", "--threads", str(threads)] + list(extra)
    p = bp(*args)
    need(p.returncode == 0, "bptrain %s: exit %d; stderr: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return p


def read(path):
    with open(path) as f:
        return f.read()


def metrics(folder):
    lines = read(os.path.join(folder, "metrics.csv")).strip().split("\n")
    need(lines[0].startswith("epoch,train_loss,"), "%s: metrics.csv header %r" % (folder, lines[0]))
    return [l.split(",") for l in lines[1:]]


def no_seconds(rows):
    return [r[:-1] for r in rows]


def summary(folder):
    return json.loads(read(os.path.join(folder, "summary.json")))


def info(ckpt):
    p = bp("info", ckpt, "--format", "json")
    need(p.returncode == 0, "info %s: exit %d: %s" % (ckpt, p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


def eval_json(ckpt, *extra):
    p = bp("eval", ckpt, "--format", "json", *extra)
    need(p.returncode == 0, "eval %s: exit %d: %s" % (ckpt, p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


def config(folder, data, layers, epochs=4, batch=16, seed=7, name="c.yaml", extra=""):
    text = ("seed: %d\ndata:\n%smodel:\n  layers:\n%s"
            "optimizer: {type: adam, lr: 0.01}\ntrain: {epochs: %d, batch_size: %d}\n%s"
            % (seed, data, "".join("    - %s\n" % l for l in layers), epochs, batch, extra))
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


DENSE = ["{type: dense, units: 24, activation: relu}", "{type: dense, units: 3, activation: softmax}"]
DROPOUT = ["{type: dense, units: 24, activation: relu}", "{type: dropout, rate: 0.25}",
           "{type: dense, units: 3, activation: softmax}"]


def image_csvs(folder, n=600, c=2, h=5, w=7):
    write_csv(os.path.join(folder, "img.csv.gz"), bars(n, 1, c, h, w))
    write_csv(os.path.join(folder, "img_test.csv"), bars(150, 2, c, h, w))
    return "  train: {path: img.csv.gz}\n  test: {path: img_test.csv}\n  validation: {split: 0.2}\n"


# ---------------------------------------------------------------- checks

@check
def d01_csv_shape_trains():
    """A CSV given data.shape [2, 5, 7] trains a dense net over the (C,H,W)
    input; its checkpoint records the shape (info) and evaluates and predicts
    on CSV files laid out like the training data."""
    d = fresh("shape")
    data = image_csvs(d) + "  shape: [2, 5, 7]\n"
    cfg = config(d, data, DENSE, epochs=8)
    p = bp("train", cfg, "--check")
    need(p.returncode == 0 and "(samples 2x5x7)" in p.stdout, "--check: exit %d, %r" % (p.returncode, p.stdout))
    out = os.path.join(d, "run")
    train(cfg, out)
    s = summary(out)
    need(s["stopped"] == "completed" and s["test_accuracy"] >= 0.9,
         "stopped %r, test accuracy %r (expected >= 0.9)" % (s["stopped"], s["test_accuracy"]))
    best = os.path.join(out, "best.ckpt")
    layers = info(best)["layers"]
    need(layers[0]["input"] == [2, 5, 7], "info: layer 0 input %r, expected [2, 5, 7]" % layers[0]["input"])
    e = eval_json(best)
    need(abs(e["accuracy"] - s["test_accuracy"]) < 1e-6, "eval %r vs summary %r" % (e, s["test_accuracy"]))
    e2 = eval_json(best, "--data", os.path.join(d, "img_test.csv"))
    need(e2 == e, "eval --data of the test file %r, eval of the test split %r" % (e2, e))
    rows = bars(150, 2, 2, 5, 7)
    write_csv(os.path.join(d, "inputs.csv"), rows, labels=False)
    p = bp("predict", best, os.path.join(d, "inputs.csv"))
    need(p.returncode == 0, "predict: exit %d: %s" % (p.returncode, p.stderr.strip()))
    pred = p.stdout.strip().split("\n")
    need(pred[0] == "label" and len(pred) == 151, "predict: header %r, %d rows" % (pred[0], len(pred) - 1))
    acc = sum(int(a) == r[-1] for a, r in zip(pred[1:], rows)) / 150.0
    need(abs(acc - e["accuracy"]) < 1e-6, "predict's labels score %.4f, eval says %r" % (acc, e["accuracy"]))
    # The same file with another feature count is refused as data (exit 3).
    write_csv(os.path.join(d, "narrow.csv"), bars(20, 3, 1, 5, 7), labels=False)
    p = bp("predict", best, os.path.join(d, "narrow.csv"))
    need(p.returncode == 3 and "35 features, the model takes 70" in p.stderr,
         "predict on 35 features: exit %d, %s" % (p.returncode, p.stderr.strip()))


@check
def d02_idx_shapes():
    """IDX rank 3 (n,h,w) gives (1,h,w), rank 4 (n,c,h,w) gives (c,h,w), and
    data.shape overrides the header's shape with the same size."""
    d = fresh("idx")
    rows = bars(300, 4, 2, 4, 6)
    pix = [int(255 * v) for row in rows for v in row[:-1]]
    labels = [row[-1] for row in rows]
    write_idx(os.path.join(d, "c-idx4-ubyte"), [300, 2, 4, 6], pix)
    write_idx(os.path.join(d, "h-idx3-ubyte"), [300, 8, 6], pix)
    write_idx(os.path.join(d, "l-idx1-ubyte"), [300], labels)
    cases = [("c-idx4-ubyte", "", [2, 4, 6]), ("h-idx3-ubyte", "", [1, 8, 6]),
             ("h-idx3-ubyte", "  shape: [4, 2, 6]\n", [4, 2, 6]), ("c-idx4-ubyte", "  shape: [48, 1, 1]\n", [48, 1, 1])]
    outs = []
    for i, (images, shape, want) in enumerate(cases):
        data = "  train: {images: %s, labels: l-idx1-ubyte}\n  validation: {split: 0.2}\n%s" % (images, shape)
        cfg = config(d, data, DENSE, epochs=2, name="c%d.yaml" % i)
        out = os.path.join(d, "r%d" % i)
        train(cfg, out)
        got = info(os.path.join(out, "last.ckpt"))["layers"][0]["input"]
        need(got == want, "%s %s: input shape %r, expected %r" % (images, shape.strip(), got, want))
        outs.append(metrics(out))
    # A dense net sees the same numbers whatever the shape of its input.
    for i in range(1, len(cases)):
        need(no_seconds(outs[i]) == no_seconds(outs[0]), "shape %r changed a dense net's metrics" % cases[i][2])


def augment_config(folder, layers=DENSE, augment="{shift: 2, flip: true}", epochs=4, batch=16, n=600):
    data = image_csvs(folder, n=n) + "  shape: [2, 5, 7]\n  augment: %s\n" % augment
    return config(folder, data, layers, epochs=epochs, batch=batch)


@check
def d03_augment_reproducible():
    """With augmentation (and dropout), the same seed and threads give the
    same metrics.csv, at 1 and at 2 threads; another seed, and augmentation
    off, give other numbers; {shift: 0, flip: false} is exactly no
    augmentation."""
    d = fresh("augdet")
    cfg = augment_config(d, DROPOUT)
    runs = {}
    for name, threads, extra in [("a", 1, []), ("b", 1, []), ("c", 2, []), ("e", 2, []),
                                 ("seed", 1, ["--set", "seed=8"]),
                                 ("off", 1, ["--set", "data.augment={shift: 0, flip: false}"])]:
        out = os.path.join(d, name)
        train(cfg, out, *extra, threads=threads)
        runs[name] = no_seconds(metrics(out))
    need(len(runs["a"]) == 4, "%d rows, expected 4" % len(runs["a"]))
    need(runs["a"] == runs["b"], "two runs at 1 thread differ:\n%s\n%s" % (runs["a"], runs["b"]))
    need(runs["c"] == runs["e"], "two runs at 2 threads differ:\n%s\n%s" % (runs["c"], runs["e"]))
    need(runs["a"] != runs["seed"], "seed 7 and seed 8 gave the same metrics")
    need(runs["a"] != runs["off"], "augmentation changed nothing")
    # Off written out is the same as the key left out.
    plain = config(d, image_csvs(d) + "  shape: [2, 5, 7]\n", DROPOUT, name="plain.yaml")
    train(plain, os.path.join(d, "plain"))
    need(no_seconds(metrics(os.path.join(d, "plain"))) == runs["off"],
         "augment {shift: 0, flip: false} differs from no augment key")


@check
def d04_augment_threads():
    """Augmentation draws do not depend on the thread count: without dropout
    (whose masks do), --threads 1, 2 and 3 give the same losses up to float
    summation (1e-5 relative), while another draw changes them by far more."""
    d = fresh("augthreads")
    cfg = augment_config(d, DENSE, epochs=3)
    rows = {}
    for t in (1, 2, 3):
        out = os.path.join(d, "t%d" % t)
        train(cfg, out, threads=t)
        rows[t] = metrics(out)
    train(cfg, os.path.join(d, "other"), "--set", "seed=9")
    other = metrics(os.path.join(d, "other"))

    def close(a, b, tol):
        x, y = float(a), float(b)
        return abs(x - y) <= tol * max(abs(x), abs(y))
    for t in (2, 3):
        for a, b in zip(rows[1], rows[t]):
            for col in (1, 3):   # train_loss, val_loss
                need(close(a[col], b[col], 1e-5), "epoch %s: column %d is %s at 1 thread and %s at %d"
                     % (a[0], col, a[col], b[col], t))
    need(not all(close(a[1], b[1], 1e-3) for a, b in zip(rows[1], other)),
         "another seed moved the losses by less than 1e-3: the check could not tell")


def wait_rows(folder, n, proc, limit=60):
    path = os.path.join(folder, "metrics.csv")
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            return False
        try:
            with open(path) as f:
                if sum(1 for l in f if l.strip()) >= n + 1:
                    return True
        except OSError:
            pass
        time.sleep(0.002)
    return False


@check
def d05_augment_sigint_resume():
    """SIGINT mid-epoch with augmentation and dropout on, then --resume: the
    metrics (but seconds), summary and final weights equal those of a run
    never stopped, bit for bit."""
    d = fresh("augsigint")
    cfg = augment_config(d, DROPOUT, epochs=3, batch=2, n=6000)
    ref = os.path.join(d, "ref")
    train(cfg, ref)
    rrows = metrics(ref)
    epoch_s = max(0.02, sum(float(r[-1]) for r in rrows) / len(rrows))
    out = os.path.join(d, "run")
    notes = []
    for frac in (0.35, 0.55, 0.2, 0.7, 0.45, 0.1):
        if os.path.exists(out):
            shutil.rmtree(out)
        p = subprocess.Popen([BPTRAIN, "train", cfg, "--out", out, "--threads", "1", "--quiet", "--no-progress"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        if wait_rows(out, 1, p):
            time.sleep(frac * epoch_s)
            p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        if p.returncode == 0:
            notes.append("delay %.2f epochs: finished first" % frac)
            continue
        need(p.returncode == 130, "SIGINT gave exit %d: %s" % (p.returncode, err.strip()))
        pos = info(os.path.join(out, "last.ckpt"))["position_in_epoch"]
        if pos > 0:
            break
        notes.append("delay %.2f epochs: on an epoch boundary" % frac)
    else:
        raise CheckFailed("could not interrupt mid-epoch: " + "; ".join(notes))
    need(summary(out)["stopped"] == "interrupted", "summary after SIGINT: %r" % summary(out)["stopped"])
    train(cfg, out, "--resume", os.path.join(out, "last.ckpt"))
    need(no_seconds(metrics(out)) == no_seconds(rrows), "resumed (at position %d) vs never stopped:\n%s\n%s"
         % (pos, metrics(out), rrows))
    s, rs = summary(out), summary(ref)
    for k in ("epochs_run", "best_epoch", "best_val_accuracy", "best_val_loss", "test_loss", "test_accuracy"):
        need(s[k] == rs[k], "summary %s: %r resumed, %r never stopped" % (k, s[k], rs[k]))
    for split in ("train", "val", "test"):
        a = eval_json(os.path.join(out, "last.ckpt"), "--split", split)
        b = eval_json(os.path.join(ref, "last.ckpt"), "--split", split)
        need(a == b, "eval --split %s of last.ckpt: %r resumed, %r never stopped" % (split, a, b))


# ---------------------------------------------------------------- main

def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_data_e2e.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="bptrain-data-e2e-")
    return run_checks(sys.argv[2:], TMP, lambda fn: fn.__name__[1:3].lstrip("0"))


if __name__ == "__main__":
    sys.exit(main())
