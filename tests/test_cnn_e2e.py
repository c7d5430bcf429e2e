#!/usr/bin/env python3
"""End-to-end convolutional training against the built bptrain.

Usage: test_cnn_e2e.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

Each check writes a tiny IDX image set (12x12 uint8 images of three
patterns at random places, with noise), trains a small conv net on it and
looks at what the run leaves behind: the accuracy clearly beats chance at 1
and 2 threads, a run is reproducible, and eval, predict and info work on its
checkpoint. The last line is "N passed, M failed".
"""
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
SIDE = 12
CLASSES = 3


def write_idx(path, dims, data, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data))


def pattern(r, c):
    """A 12x12 image of class c: a horizontal bar (0), a vertical bar (1)
    or a small square outline (2), at a random place, on noise."""
    img = [[min(255, max(0, int(r.gauss(40, 20)))) for _ in range(SIDE)] for _ in range(SIDE)]
    y, x = r.randrange(1, SIDE - 5), r.randrange(1, SIDE - 5)
    cells = []
    if c == 0:
        cells = [(y + 2, x + k) for k in range(5)]
    elif c == 1:
        cells = [(y + k, x + 2) for k in range(5)]
    else:
        cells = [(y + a, x + b) for a in range(4) for b in range(4) if a in (0, 3) or b in (0, 3)]
    for (a, b) in cells:
        img[a][b] = min(255, max(0, int(r.gauss(220, 20))))
    return [v for row in img for v in row]


def image_set(folder, prefix, n, seed):
    r = random.Random(seed)
    pix, labels = [], []
    for _ in range(n):
        c = r.randrange(CLASSES)
        pix += pattern(r, c)
        labels.append(c)
    images = os.path.join(folder, prefix + "-images-idx3-ubyte")
    lab = os.path.join(folder, prefix + "-labels-idx1-ubyte")
    write_idx(images, [n, SIDE, SIDE], pix, 0x00000803)
    write_idx(lab, [n], labels, 0x00000801)
    return images, lab, labels


def fresh(name):
    folder = os.path.join(TMP, name)
    os.makedirs(folder)
    return folder


def bp(*args, timeout=120):
    return subprocess.run([BPTRAIN] + list(args), capture_output=True, timeout=timeout)


def cnn_config(folder, epochs=6):
    tr = image_set(folder, "train", 480, 1)
    te = image_set(folder, "test", 150, 2)
    cfg = os.path.join(folder, "c.yaml")
    with open(cfg, "w") as f:
        f.write("""name: shapes
data:
  train: {images: %s, labels: %s}
  test: {images: %s, labels: %s}
  validation: {split: 0.1}
model:
  layers:
    - {type: conv2d, filters: 16, kernel_size: 3, padding: same, activation: relu}
    - {type: max_pool2d, pool_size: 2}
    - {type: conv2d, filters: 16, kernel_size: [3, 3], activation: relu}
    - {type: global_avg_pool2d}
    - {type: dense, units: 16, activation: relu}
    - {type: dropout, rate: 0.1}
    - {type: dense, units: %d, activation: softmax}
loss: cross_entropy
optimizer: {type: adam, lr: 0.01}
train: {epochs: %d, batch_size: 16}
seed: 7
""" % (tr[0], tr[1], te[0], te[1], CLASSES, epochs))
    return cfg, te


def train(cfg, out, threads):
    p = bp("train", cfg, "--out", out, "--threads", str(threads), "--no-progress", "--quiet")
    need(p.returncode == 0, "train --threads %d: exit %d: %s" % (threads, p.returncode, p.stderr.decode()))
    with open(os.path.join(out, "summary.json")) as f:
        return json.load(f)


def metrics(out):
    with open(os.path.join(out, "metrics.csv")) as f:
        return [",".join(row.split(",")[:-1]) for row in f.read().splitlines()]   # without seconds


@check
def c01_learns_at_one_and_two_threads():
    folder = fresh("learns")
    cfg, _ = cnn_config(folder)
    for threads in (1, 2):
        out = os.path.join(folder, "run%d" % threads)
        s = train(cfg, out, threads)
        need(s["stopped"] == "completed", "threads %d: stopped %s" % (threads, s["stopped"]))
        # chance is 1/3
        need(s["test_accuracy"] is not None and s["test_accuracy"] >= 0.9,
             "threads %d: test accuracy %s, want >= 0.9 (chance 0.33)" % (threads, s["test_accuracy"]))
        again = os.path.join(folder, "again%d" % threads)
        train(cfg, again, threads)
        need(metrics(out) == metrics(again), "threads %d: a second run's metrics.csv differs" % threads)


@check
def c02_eval_predict_info_on_the_checkpoint():
    folder = fresh("tools")
    cfg, (images, labels, truth) = cnn_config(folder, epochs=4)
    out = os.path.join(folder, "run")
    s = train(cfg, out, 2)
    ckpt = os.path.join(out, "best.ckpt")

    p = bp("eval", ckpt, "--format", "json")
    need(p.returncode == 0, "eval: exit %d: %s" % (p.returncode, p.stderr.decode()))
    ev = json.loads(p.stdout)
    need(ev["samples"] == 150, "eval samples %s" % ev["samples"])
    need(abs(ev["accuracy"] - s["test_accuracy"]) < 1e-9, "eval accuracy %s, summary %s"
         % (ev["accuracy"], s["test_accuracy"]))
    p = bp("eval", ckpt, "--data", images, labels)
    need(p.returncode == 0 and p.stdout.decode().startswith("loss "), "eval --data: %s" % p.stderr.decode())

    p = bp("predict", ckpt, images, "--proba")
    need(p.returncode == 0, "predict: exit %d: %s" % (p.returncode, p.stderr.decode()))
    rows = p.stdout.decode().splitlines()
    need(rows[0] == "label,p0,p1,p2", "predict header %r" % rows[0])
    need(len(rows) == 151, "predict wrote %d rows" % (len(rows) - 1))
    got = [int(r.split(",")[0]) for r in rows[1:]]
    agree = sum(g == t for g, t in zip(got, truth)) / len(truth)
    need(abs(agree - ev["accuracy"]) < 1e-9, "predict agrees with %.4f of labels, eval says %.4f"
         % (agree, ev["accuracy"]))
    for r in rows[1:]:
        ps = [float(v) for v in r.split(",")[1:]]
        need(abs(sum(ps) - 1) < 1e-4, "probabilities %s do not sum to 1" % ps)

    p = bp("info", ckpt, "--format", "json")
    need(p.returncode == 0, "info: exit %d: %s" % (p.returncode, p.stderr.decode()))
    info = json.loads(p.stdout)
    kinds = [(l["type"], l["input"], l["output"], l["params"]) for l in info["layers"]]
    want = [("conv2d", [1, 12, 12], [16, 12, 12], 16 * 9 + 16), ("max_pool2d", [16, 12, 12], [16, 6, 6], 0),
            ("conv2d", [16, 6, 6], [16, 4, 4], 16 * 16 * 9 + 16), ("global_avg_pool2d", [16, 4, 4], [16, 1, 1], 0),
            ("dense", [16, 1, 1], [16, 1, 1], 16 * 16 + 16), ("dropout", [16, 1, 1], [16, 1, 1], 0),
            ("dense", [16, 1, 1], [3, 1, 1], 16 * 3 + 3)]
    need(kinds == want, "info layers %s" % kinds)
    need(info["params"] == sum(k[3] for k in want), "info params %s" % info["params"])
    p = bp("info", ckpt)
    need(p.returncode == 0 and "conv2d" in p.stdout.decode() and "16x12x12" in p.stdout.decode(),
         "info text: %s" % p.stdout.decode())


def bn_config(folder, n=2400, epochs=3, batch=8):
    """conv → batch_norm relu blocks, dropout and augmentation: every source
    of randomness and every whole-batch statistic at once."""
    tr = image_set(folder, "train", n, 3)
    te = image_set(folder, "test", 120, 4)
    cfg = os.path.join(folder, "bn.yaml")
    with open(cfg, "w") as f:
        f.write("""name: shapes-bn
data:
  train: {images: %s, labels: %s}
  test: {images: %s, labels: %s}
  validation: {split: 0.1}
  augment: {shift: 2, flip: true}
model:
  layers:
    - {type: conv2d, filters: 8, kernel_size: 3, padding: same, use_bias: false}
    - {type: batch_norm, activation: relu}
    - {type: max_pool2d, pool_size: 2}
    - {type: conv2d, filters: 8, kernel_size: 3, strides: 2}
    - {type: batch_norm, activation: relu}
    - {type: dropout, rate: 0.2}
    - {type: dense, units: 16}
    - {type: batch_norm, activation: relu}
    - {type: dense, units: %d, activation: softmax}
loss: cross_entropy
optimizer: {type: adam, lr: 0.005}
train: {epochs: %d, batch_size: %d}
seed: 11
""" % (tr[0], tr[1], te[0], te[1], CLASSES, epochs, batch))
    return cfg


def info_json(ckpt):
    p = bp("info", ckpt, "--format", "json")
    need(p.returncode == 0, "info: exit %d: %s" % (p.returncode, p.stderr.decode()))
    return json.loads(p.stdout)


def eval_split(ckpt, split):
    p = bp("eval", ckpt, "--split", split, "--format", "json")
    need(p.returncode == 0, "eval: exit %d: %s" % (p.returncode, p.stderr.decode()))
    return json.loads(p.stdout)


def rows_written(out):
    try:
        with open(os.path.join(out, "metrics.csv")) as f:
            return sum(1 for l in f if l.strip()) - 1
    except OSError:
        return -1


@check
def c03_bn_dropout_augment_deterministic_and_resumed_exactly():
    """conv + batch_norm + dropout + augmentation at 2 threads: the same seed
    and threads give the same metrics.csv twice; SIGINT mid-epoch and
    --resume give the numbers of a run never stopped, bit for bit (metrics,
    summary, and eval of last.ckpt, whose running statistics must match)."""
    folder = fresh("bn")
    cfg = bn_config(folder)
    ref = os.path.join(folder, "ref")
    t0 = time.time()
    s_ref = train(cfg, ref, 2)
    epoch_s = (time.time() - t0) / 3
    again = os.path.join(folder, "again")
    train(cfg, again, 2)
    need(metrics(ref) == metrics(again), "two runs at 2 threads differ:\n%s\n%s" % (metrics(ref), metrics(again)))
    need(s_ref["test_accuracy"] > 0.5, "test accuracy %s (chance 0.33)" % s_ref["test_accuracy"])
    out = os.path.join(folder, "run")
    notes = []
    for frac in (0.4, 0.6, 0.25, 0.75, 0.5, 0.15):
        if os.path.exists(out):
            shutil.rmtree(out)
        p = subprocess.Popen([BPTRAIN, "train", cfg, "--out", out, "--threads", "2", "--quiet", "--no-progress"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        end = time.time() + 60
        while rows_written(out) < 1 and p.poll() is None and time.time() < end:
            time.sleep(0.002)
        time.sleep(frac * epoch_s)
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        if p.returncode == 0:
            notes.append("delay %.2f epochs: finished first" % frac)
            continue
        need(p.returncode == 130, "SIGINT gave exit %d: %s" % (p.returncode, err.decode().strip()))
        pos = info_json(os.path.join(out, "last.ckpt"))["position_in_epoch"]
        if pos > 0:
            break
        notes.append("delay %.2f epochs: on an epoch boundary" % frac)
    else:
        raise CheckFailed("could not interrupt mid-epoch: " + "; ".join(notes))
    p = bp("train", cfg, "--out", out, "--threads", "2", "--quiet", "--no-progress", "--resume",
           os.path.join(out, "last.ckpt"))
    need(p.returncode == 0, "resume: exit %d: %s" % (p.returncode, p.stderr.decode()))
    need(metrics(out) == metrics(ref), "resumed at batch %d vs never stopped:\n%s\n%s" % (pos, metrics(out), metrics(ref)))
    with open(os.path.join(out, "summary.json")) as f:
        s = json.load(f)
    for k in ("epochs_run", "best_epoch", "best_val_accuracy", "best_val_loss", "test_loss", "test_accuracy"):
        need(s[k] == s_ref[k], "summary %s: %r resumed, %r never stopped" % (k, s[k], s_ref[k]))
    for split in ("val", "test"):
        a, b = eval_split(os.path.join(out, "last.ckpt"), split), eval_split(os.path.join(ref, "last.ckpt"), split)
        need(a == b, "eval --split %s of last.ckpt: %r resumed, %r never stopped" % (split, a, b))
    st = info_json(os.path.join(ref, "last.ckpt"))
    need(st["state"] == 2 * (8 + 8 + 16) and len(st["state_tensors"]) == 6, "info state: %r %r"
         % (st["state"], st["state_tensors"]))


def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_cnn_e2e.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="bptrain-cnn-")
    return run_checks(sys.argv[2:], TMP, lambda fn: fn.__name__.split("_")[0][1:])


if __name__ == "__main__":
    sys.exit(main())
