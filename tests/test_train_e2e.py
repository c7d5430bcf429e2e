#!/usr/bin/env python3
"""End-to-end training tests against the built bptrain.

Usage: test_train_e2e.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

Every check generates its own small datasets (CSV, gzipped or not, and a
tiny IDX pair) in a temporary folder, runs bptrain, and compares what it
leaves behind with ../shared/SPEC.md (A run's folder, Checkpoints,
Determinism, Details). Each check is named and independent; the last line is
"N passed, M failed" and the exit status is 1 when any check failed.
Optional extra arguments run only the checks whose number or name they match.
"""
import gzip
import json
import math
import os
import random
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time

from checks import FM, CheckFailed, check, fashion_subset, need, run_checks

BPTRAIN = None
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TMP = None

HEADER = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds"


# ---------------------------------------------------------------- datasets

def write_csv(path, rows, header=None):
    text = "".join(",".join(fmt(v) for v in r) + "\n" for r in rows)
    if header:
        text = header + "\n" + text
    if path.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)


def fmt(v):
    return str(v) if isinstance(v, int) else "%.5f" % v


def blobs(n, k=3, d=2, seed=1, spread=0.6):
    """k well separated Gaussian clusters in d dimensions; label last."""
    r = random.Random(seed)
    centers = [[3.0 * math.cos(2 * math.pi * c / k + j) for j in range(d)] for c in range(k)]
    rows = []
    for _ in range(n):
        c = r.randrange(k)
        rows.append([centers[c][j] + r.gauss(0, spread) for j in range(d)] + [c])
    return rows


def xor_quadrants(n, seed=1):
    """2-D XOR: class = (x > 0) != (y > 0), kept 0.15 away from the axes;
    not linearly separable, so the hidden layer has to learn."""
    r = random.Random(seed)
    rows = []
    for _ in range(n):
        x = r.choice((-1, 1)) * r.uniform(0.15, 1.5)
        y = r.choice((-1, 1)) * r.uniform(0.15, 1.5)
        rows.append([x, y, int((x > 0) != (y > 0))])
    return rows


def linear_binary(n, d=20, seed=1):
    r = random.Random(seed)
    rows = []
    for _ in range(n):
        xs = [r.gauss(0, 1) for _ in range(d)]
        rows.append(xs + [int(sum(xs[:5]) > 0)])
    return rows


def regression(n, seed=1, targets=1):
    """x1, x2 -> targets real values (columns after the features)."""
    r = random.Random(seed)
    rows = []
    for _ in range(n):
        x, y = r.uniform(-1, 1), r.uniform(-1, 1)
        ts = [3 * x - y + 1, x * y][:targets]
        rows.append([x, y] + [t + r.gauss(0, 0.05) for t in ts])
    return rows


def write_idx(path, dims, data, magic):
    blob = struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data)
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(blob)


def idx_pair(folder, prefix, n, seed=1):
    """n 6x6 uint8 images, 4 classes: a bright quadrant per class, plus noise."""
    r = random.Random(seed)
    pix, labels = [], []
    for _ in range(n):
        c = r.randrange(4)
        qy, qx = divmod(c, 2)
        for y in range(6):
            for x in range(6):
                on = (y // 3 == qy) and (x // 3 == qx)
                pix.append(min(255, max(0, int((200 if on else 30) + r.gauss(0, 25)))))
        labels.append(c)
    images = os.path.join(folder, prefix + "-images-idx3-ubyte.gz")
    lab = os.path.join(folder, prefix + "-labels-idx1-ubyte.gz")
    write_idx(images, [n, 6, 6], pix, 0x00000803)
    write_idx(lab, [n], labels, 0x00000801)
    return images, lab, labels


# ---------------------------------------------------------------- helpers

def fresh(name):
    d = tempfile.mkdtemp(prefix=name + "-", dir=TMP)
    return d


def yaml_config(folder, text, name="c.yaml"):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def bp(*args, timeout=120, cwd=None):
    p = subprocess.run([BPTRAIN] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, universal_newlines=True, timeout=timeout, cwd=cwd)
    return p


def train(cfg, out, *extra, threads=1, expect=0, timeout=120):
    args = ["train", cfg, "--out", out, "--quiet", "--no-progress"]
    if threads is not None:
        args += ["--threads", str(threads)]
    p = bp(*(args + list(extra)), timeout=timeout)
    if expect is not None:
        need(p.returncode == expect, "bptrain %s: exit %d, expected %d; stderr: %s"
             % (" ".join(map(str, args + list(extra))), p.returncode, expect, p.stderr.strip()[-500:]))
    return p


def read_text(path):
    with open(path) as f:
        return f.read()


def metrics_rows(folder):
    """The rows of metrics.csv as lists of cells (header checked)."""
    text = read_text(os.path.join(folder, "metrics.csv"))
    lines = text.split("\n")
    need(text.endswith("\n"), "%s/metrics.csv does not end with a newline" % folder)
    need(lines[0] == HEADER, "%s/metrics.csv header is %r, expected %r" % (folder, lines[0], HEADER))
    rows = [l.split(",") for l in lines[1:] if l]
    for r in rows:
        need(len(r) == 7, "%s/metrics.csv row %r does not have 7 cells" % (folder, ",".join(r)))
    return rows


def no_seconds(rows):
    return [r[:6] for r in rows]


def summary(folder):
    path = os.path.join(folder, "summary.json")
    need(os.path.exists(path), "%s has no summary.json" % folder)
    s = json.loads(read_text(path))
    for k in ("name", "epochs_run", "best_epoch", "best_val_accuracy", "best_val_loss",
              "test_loss", "test_accuracy", "seconds", "stopped"):
        need(k in s, "summary.json lacks key %r: %s" % (k, s))
    return s


def info(ckpt):
    p = bp("info", ckpt, "--format", "json")
    need(p.returncode == 0, "bptrain info %s: exit %d: %s" % (ckpt, p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


def eval_json(ckpt, *extra):
    p = bp("eval", ckpt, "--format", "json", *extra)
    need(p.returncode == 0, "bptrain eval %s: exit %d: %s" % (ckpt, p.returncode, p.stderr.strip()))
    return json.loads(p.stdout)


def same5(a, b):
    """Equal to 5 significant digits (None == None)."""
    if a is None or b is None:
        return a is None and b is None
    if a == b:
        return True
    return abs(a - b) <= 1e-5 * max(abs(a), abs(b)) or float("%.5g" % a) == float("%.5g" % b)


def check_identical(a, b, what):
    """Two metrics tables equal but for seconds; name the first differing row."""
    na, nb = no_seconds(a), no_seconds(b)
    if na == nb:
        return
    for i, (ra, rb) in enumerate(zip(na, nb)):
        if ra != rb:
            raise CheckFailed("%s: row %d differs: %s vs %s" % (what, i + 1, ",".join(ra), ",".join(rb)))
    raise CheckFailed("%s: %d rows vs %d rows" % (what, len(na), len(nb)))


def wait_rows(folder, n, proc, limit=60):
    """Wait until metrics.csv holds n data rows (or proc ended)."""
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


def tmp_files(folder):
    return sorted(f for f in os.listdir(folder) if f.endswith(".tmp"))


# ---------------------------------------------------------------- configs

def blob_config(folder, optimizer="adam", lr=0.01, epochs=15, extra_opt="", extra="", dropout=True,
                seed=5):
    train_csv = os.path.join(folder, "blobs.csv.gz")
    test_csv = os.path.join(folder, "blobs_test.csv")
    if not os.path.exists(train_csv):
        write_csv(train_csv, blobs(600, seed=11))
        write_csv(test_csv, blobs(200, seed=12))
    layers = "    - {type: dense, units: 16, activation: relu}\n"
    if dropout:
        layers += "    - {type: dropout, rate: 0.2}\n"
    layers += "    - {type: dense, units: 3, activation: softmax}\n"
    return ("seed: %d\n"
            "data:\n  train: {path: blobs.csv.gz}\n  test: {path: blobs_test.csv}\n"
            "  validation: {split: 0.2}\n"
            "model:\n  layers:\n%s"
            "loss: cross_entropy\n"
            "optimizer: {type: %s, lr: %s%s}\n"
            "train: {epochs: %d, batch_size: 16}\n%s" % (seed, layers, optimizer, lr, extra_opt, epochs, extra))


# ---------------------------------------------------------------- checks

@check
def c01_determinism():
    """Same config, seed and --threads 1: identical metrics.csv but seconds
    (CSV.gz and IDX data, with dropout); another seed gives other numbers."""
    d = fresh("determinism")
    cfg = yaml_config(d, blob_config(d, epochs=5))
    runs = [os.path.join(d, n) for n in ("a", "b", "c")]
    train(cfg, runs[0])
    train(cfg, runs[1])
    train(cfg, runs[2], "--set", "seed=6")
    a, b, c = (metrics_rows(r) for r in runs)
    need(len(a) == 5, "expected 5 rows, got %d" % len(a))
    check_identical(a, b, "csv: two runs with seed 5")
    need(no_seconds(a) != no_seconds(c), "csv: seed 5 and seed 6 gave the same metrics.csv")
    # IDX, gzipped
    images, labels, _ = idx_pair(d, "train", 400, seed=3)
    icfg = yaml_config(d, "seed: 9\ndata:\n  train: {images: %s, labels: %s}\n  validation: {split: 0.25}\n"
                          "model:\n  layers:\n    - {type: dense, units: 12, activation: relu}\n"
                          "    - {type: dropout, rate: 0.3}\n"
                          "    - {type: dense, units: 4, activation: softmax}\n"
                          "optimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 4, batch_size: 8}\n"
                          % (os.path.basename(images), os.path.basename(labels)), "idx.yaml")
    train(icfg, os.path.join(d, "i1"))
    train(icfg, os.path.join(d, "i2"))
    train(icfg, os.path.join(d, "i3"), "--set", "seed=10")
    i1, i2, i3 = (metrics_rows(os.path.join(d, n)) for n in ("i1", "i2", "i3"))
    check_identical(i1, i2, "idx: two runs with seed 9")
    need(no_seconds(i1) != no_seconds(i3), "idx: seed 9 and seed 10 gave the same metrics.csv")
    need(float(i1[-1][4]) >= 0.9, "idx: the quadrant problem reached val_accuracy %s only" % i1[-1][4])


def big_config(folder, epochs=3):
    """An epoch of a few tenths of a second at --threads 1 (batch 2, 18000 samples)."""
    data = os.path.join(folder, "big.csv")
    if not os.path.exists(data):
        write_csv(data, linear_binary(20000, seed=4))
        write_csv(os.path.join(folder, "big_test.csv"), linear_binary(500, seed=5))
    return yaml_config(folder, "seed: 3\ndata:\n  train: {path: big.csv}\n  test: {path: big_test.csv}\n"
                               "  validation: {split: 0.1}\n"
                               "model:\n  layers:\n    - {type: dense, units: 256, activation: relu}\n"
                               "    - {type: dropout, rate: 0.3}\n"
                               "    - {type: dense, units: 2, activation: softmax}\n"
                               "optimizer: {type: momentum, lr: 0.005}\n"
                               "train: {epochs: %d, batch_size: 2}\n" % epochs, "big.yaml")


SIGINT_RESUMED = []   # the folder check 2 resumed, for check 3


def interrupt_mid_epoch(cfg, out, epoch_seconds, extra=(), fracs=(0.35, 0.55, 0.2, 0.7, 0.45, 0.1)):
    """Start a run, wait for its first metrics row, SIGINT it a fraction of an
    epoch later; retry until last.ckpt says position_in_epoch > 0. Returns
    (exit status, info of last.ckpt, the attempts' notes)."""
    notes = []
    for frac in fracs:
        if os.path.exists(out):
            shutil.rmtree(out)
        p = subprocess.Popen([BPTRAIN, "train", cfg, "--out", out, "--threads", "1", "--quiet",
                              "--no-progress"] + list(extra),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
        started = wait_rows(out, 1, p)
        if started:
            time.sleep(frac * epoch_seconds)
            p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
        if p.returncode == 0:
            notes.append("delay %.2f epochs: finished before the signal" % frac)
            continue
        need(p.returncode == 130, "SIGINT gave exit %d, expected 130; stderr: %s" % (p.returncode, err.strip()))
        last = os.path.join(out, "last.ckpt")
        need(os.path.exists(last), "no last.ckpt after SIGINT")
        inf = info(last)
        need("position_in_epoch" in inf, "info --format json has no position_in_epoch: %s" % inf)
        if inf["position_in_epoch"] > 0:
            return p.returncode, inf, notes
        notes.append("delay %.2f epochs: landed on an epoch boundary" % frac)
    raise CheckFailed("could not interrupt mid-epoch: " + "; ".join(notes))


@check
def c02_sigint_resume():
    """SIGINT mid-epoch -> exit 130, summary 'interrupted', position_in_epoch > 0;
    --resume last.ckpt -> 'completed' and metrics.csv equal to a run never stopped."""
    d = fresh("sigint")
    cfg = big_config(d)
    ref = os.path.join(d, "ref")
    train(cfg, ref)
    rrows = metrics_rows(ref)
    need(len(rrows) == 3, "reference run: %d rows, expected 3" % len(rrows))
    epoch_s = max(0.02, sum(float(r[6]) for r in rrows) / len(rrows))
    out = os.path.join(d, "run")
    rc, inf, _ = interrupt_mid_epoch(cfg, out, epoch_s)
    s = summary(out)
    need(s["stopped"] == "interrupted", "after SIGINT summary.json stopped is %r" % s["stopped"])
    mid = inf["epoch"]
    rows = metrics_rows(out)
    need(len(rows) == mid, "after SIGINT metrics.csv has %d rows but last.ckpt is at epoch %d" % (len(rows), mid))
    p = train(cfg, out, "--resume", os.path.join(out, "last.ckpt"))
    s = summary(out)
    need(s["stopped"] == "completed", "after --resume summary.json stopped is %r" % s["stopped"])
    check_identical(metrics_rows(out), rrows, "resumed (interrupted in epoch %d at position %d) vs never stopped"
                    % (mid + 1, inf["position_in_epoch"]))
    ref_s = summary(ref)
    for k in ("epochs_run", "best_epoch", "best_val_accuracy", "best_val_loss", "test_loss", "test_accuracy"):
        need(s[k] == ref_s[k], "summary.json %s: %r after resume, %r never stopped" % (k, s[k], ref_s[k]))
    SIGINT_RESUMED.append(out)


@check
def c03_no_second_header():
    """metrics.csv after resumes holds one header and epochs 1..E once: after a
    SIGINT resume, after raising train.epochs, and after resuming from an
    older last.ckpt (rows beyond its epoch are cut)."""
    for folder in SIGINT_RESUMED:
        text = read_text(os.path.join(folder, "metrics.csv"))
        need(text.count("epoch,") == 1, "SIGINT-resumed metrics.csv holds %d headers" % text.count("epoch,"))
        need([r[0] for r in metrics_rows(folder)] == ["1", "2", "3"], "SIGINT-resumed rows are not epochs 1..3")
    d = fresh("header")
    cfg = yaml_config(d, blob_config(d, epochs=2, optimizer="momentum", lr=0.05))
    straight = os.path.join(d, "straight")
    train(cfg, straight, "--set", "train.epochs=4")
    run = os.path.join(d, "run")
    train(cfg, run)
    shutil.copy(os.path.join(run, "last.ckpt"), os.path.join(d, "epoch2.ckpt"))
    train(cfg, run, "--resume", os.path.join(run, "last.ckpt"), "--set", "train.epochs=4")
    for label in ("raised epochs 2 -> 4", "resumed again from the epoch-2 checkpoint"):
        text = read_text(os.path.join(run, "metrics.csv"))
        need(text.count(HEADER) == 1, "%s: metrics.csv holds %d headers:\n%s" % (label, text.count(HEADER), text))
        rows = metrics_rows(run)
        need([r[0] for r in rows] == ["1", "2", "3", "4"],
             "%s: metrics.csv epochs are %s, expected 1..4" % (label, [r[0] for r in rows]))
        check_identical(rows, metrics_rows(straight), label + " vs a straight 4-epoch run")
        train(cfg, run, "--resume", os.path.join(d, "epoch2.ckpt"), "--set", "train.epochs=4")


@check
def c04_sigkill_storm():
    """>= 22 SIGKILLs at random moments (checkpoint_every 1, resume if
    last.ckpt exists else --force): last.ckpt always loads; a stale *.tmp never
    survives the next start; each finished cycle equals a run never killed."""
    d = fresh("sigkill")
    data = os.path.join(d, "k.csv")
    write_csv(data, linear_binary(250, d=10, seed=8))
    # ~6 MB checkpoints (700x700 weights + Adam moments) written each short
    # epoch, so that kills often land inside a checkpoint write
    cfg = yaml_config(d, "seed: 4\ndata:\n  train: {path: k.csv}\n  validation: {split: 0.2}\n"
                         "model:\n  layers:\n    - {type: dense, units: 700, activation: relu}\n"
                         "    - {type: dropout, rate: 0.2}\n"
                         "    - {type: dense, units: 700, activation: relu}\n"
                         "    - {type: dense, units: 2, activation: softmax}\n"
                         "optimizer: {type: adam, lr: 0.001}\n"
                         "train: {epochs: 12, batch_size: 32}\noutput: {checkpoint_every: 1}\n")
    ref = os.path.join(d, "ref")
    t = time.time()
    train(cfg, ref)
    total = time.time() - t
    rrows = metrics_rows(ref)
    print("    reference run: %.2fs" % total)
    rnd = random.Random(1234)
    kills, cycles, checked_ckpts, stale_checked, left_tmp, starts = 0, 0, 0, 0, 0, 0
    deadline = time.time() + 40
    while kills < 22 and time.time() < deadline:
        cycles += 1
        run = os.path.join(d, "cycle%d" % cycles)
        os.makedirs(run)
        while kills < 22 and time.time() < deadline:
            last = os.path.join(run, "last.ckpt")
            how = ["--resume", last] if os.path.exists(last) else ["--force"]
            if starts % 3 == 2 and not tmp_files(run):
                # kills seldom land inside a write here; plant what one leaves
                with open(os.path.join(run, "last.ckpt.tmp"), "wb") as f:
                    f.write(b"BPCK" + bytes(1000))
            starts += 1
            before = {f: os.stat(os.path.join(run, f)) for f in tmp_files(run)}
            conf = os.path.join(run, "config.yaml")
            conf_before = os.stat(conf).st_ino if os.path.exists(conf) else None
            p = subprocess.Popen([BPTRAIN, "train", cfg, "--out", run, "--threads", "1", "--quiet",
                                  "--no-progress"] + how, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(rnd.uniform(0.0, min(0.8, total * 0.4)))
            if p.poll() is None:
                p.kill()
                kills += 1
            _, err = p.communicate()
            if p.returncode == 0:
                need(not tmp_files(run), "cycle %d: a finished run left %s" % (cycles, tmp_files(run)))
                check_identical(metrics_rows(run), rrows, "cycle %d (after kills) vs never killed" % cycles)
                need(summary(run)["stopped"] == "completed", "cycle %d: summary not completed" % cycles)
                break
            need(p.returncode == -signal.SIGKILL,
                 "cycle %d: the run exited %d before the kill: %s" % (cycles, p.returncode, err.decode().strip()))
            left_tmp += bool(tmp_files(run))
            if os.path.exists(last):
                q = bp("info", last)
                need(q.returncode == 0, "after kill %d, last.ckpt fails to load: exit %d: %s"
                     % (kills, q.returncode, q.stderr.strip()))
                checked_ckpts += 1
            # A stale temporary from before this start must be gone once the
            # run got as far as rewriting config.yaml (a rename: a new inode).
            wrote = os.path.exists(conf) and os.stat(conf).st_ino != conf_before
            for f, st in before.items():
                path = os.path.join(run, f)
                stale_checked += wrote
                if wrote and os.path.exists(path):
                    st2 = os.stat(path)
                    need((st2.st_ino, st2.st_mtime_ns, st2.st_size) != (st.st_ino, st.st_mtime_ns, st.st_size),
                         "cycle %d: stale %s survived a start that wrote the run folder" % (cycles, f))
    need(kills >= 20, "only %d kills landed in the time allowed" % kills)
    # finish the last cycle, then nothing may be left over
    run = os.path.join(d, "cycle%d" % cycles)
    last = os.path.join(run, "last.ckpt")
    train(cfg, run, *(["--resume", last] if os.path.exists(last) else ["--force"]))
    need(not tmp_files(run), "after a completed start, %s remain" % tmp_files(run))
    check_identical(metrics_rows(run), rrows, "last cycle (after kills) vs never killed")
    print("    %d kills over %d cycles, %d checkpoints loaded, %d kills left a *.tmp, "
          "%d stale temporaries checked" % (kills, cycles, checked_ckpts, left_tmp, stale_checked))


@check
def c05_divergence():
    """sgd with a warm-up that ramps lr to 2-3 on mse data diverges after some
    good epochs: exit 4, one error line naming the epoch and batch, the rows
    before kept, summary stopped 'diverged'."""
    d = fresh("diverge")
    write_csv(os.path.join(d, "r.csv"), regression(200, seed=1, targets=2))
    cfg = yaml_config(d, "data:\n  train: {path: r.csv}\n  label_column: [2, 3]\n  validation: {split: 0.25}\n"
                         "model:\n  layers:\n    - {type: dense, units: 2, activation: linear}\n"
                         "loss: mse\n"
                         "optimizer: {type: sgd, lr: 10, schedule: {type: constant, warmup_epochs: 99}}\n"
                         "train: {epochs: 80, batch_size: 8}\n")
    out = os.path.join(d, "run")
    p = train(cfg, out, expect=4)
    lines = p.stderr.strip().split("\n")
    need(len(lines) == 1, "expected one error line, got %d: %r" % (len(lines), p.stderr))
    m = re.match(r"bptrain: error: .*epoch (\d+)", lines[0])
    need(m and "batch" in lines[0], "the error line does not name the epoch and batch: %r" % lines[0])
    ep = int(m.group(1))
    rows = metrics_rows(out)
    need(len(rows) >= 3, "only %d metrics rows kept before divergence" % len(rows))
    need([r[0] for r in rows] == [str(i) for i in range(1, len(rows) + 1)], "rows are not epochs 1..n")
    need(ep == len(rows) + 1, "diverged in epoch %d but %d rows kept" % (ep, len(rows)))
    s = summary(out)
    need(s["stopped"] == "diverged", "summary.json stopped is %r, expected 'diverged'" % s["stopped"])
    need(s["epochs_run"] == len(rows), "summary epochs_run %r, %d rows" % (s["epochs_run"], len(rows)))
    need(os.path.exists(os.path.join(out, "best.ckpt")), "best.ckpt of the good epochs was not kept")
    need(info(os.path.join(out, "last.ckpt"))["epoch"] == len(rows), "last.ckpt is not the last good epoch")


@check
def c05b_metrics_cells_faithful():
    """Every metrics.csv loss cell is the number the epoch line shows, even
    for a huge (finite) loss just before divergence."""
    d = fresh("hugeloss")
    write_csv(os.path.join(d, "r.csv"), regression(200, seed=1, targets=2))
    cfg = yaml_config(d, "data:\n  train: {path: r.csv}\n  label_column: [2, 3]\n  validation: {split: 0.25}\n"
                         "model:\n  layers:\n    - {type: dense, units: 2, activation: linear}\n"
                         "loss: mse\n"
                         "optimizer: {type: sgd, lr: 10, schedule: {type: constant, warmup_epochs: 99}}\n"
                         "train: {epochs: 80, batch_size: 8}\n")
    out = os.path.join(d, "run")
    p = bp("train", cfg, "--out", out, "--threads", "1", "--no-progress")
    need(p.returncode in (0, 4), "exit %d: %s" % (p.returncode, p.stderr))
    shown = {}
    for line in p.stdout.split("\n"):
        m = re.match(r"epoch (\d+)/\d+ loss (\S+) val_loss (\S+)", line)
        if m:
            shown[int(m.group(1))] = (float(m.group(2)), float(m.group(3)))
    rows = metrics_rows(out)
    need(len(shown) == len(rows), "%d epoch lines, %d rows" % (len(shown), len(rows)))
    for r in rows:
        e = int(r[0])
        for cell, val, col in ((r[1], shown[e][0], "train_loss"), (r[3], shown[e][1], "val_loss")):
            need(abs(float(cell) - val) <= 1e-4 * max(1.0, abs(val)),
                 "epoch %d: metrics.csv %s cell %r but the epoch line shows %.6g" % (e, col, cell, val))


@check
def c06_existing_folder():
    """A folder holding metrics.csv is refused (exit 2, one error line, files
    untouched) without --force/--resume; --force trains into it."""
    d = fresh("existing")
    cfg = yaml_config(d, blob_config(d, epochs=2))
    out = os.path.join(d, "run")
    train(cfg, out)
    before = read_text(os.path.join(out, "metrics.csv"))
    mtime = os.stat(os.path.join(out, "last.ckpt")).st_mtime_ns
    p = train(cfg, out, "--set", "seed=77", expect=2)
    lines = p.stderr.strip().split("\n")
    need(len(lines) == 1 and lines[0].startswith("bptrain: error: "), "expected one error line: %r" % p.stderr)
    need(read_text(os.path.join(out, "metrics.csv")) == before, "the refused run changed metrics.csv")
    need(os.stat(os.path.join(out, "last.ckpt")).st_mtime_ns == mtime, "the refused run rewrote last.ckpt")
    train(cfg, out, "--set", "seed=77", "--force")
    need(no_seconds(metrics_rows(out)) != no_seconds([l.split(",") for l in before.split("\n")[1:] if l]),
         "--force did not retrain (metrics.csv still seed 5's)")
    need(len(metrics_rows(out)) == 2, "--force left %d rows, expected 2" % len(metrics_rows(out)))


@check
def c06b_progress_and_epoch_lines():
    """A pipe gets the plain epoch lines only (no bar on stderr); --progress
    forces the bar, cleared before each epoch line; --quiet prints nothing;
    with two threads the same seed gives the same metrics twice."""
    d = fresh("progress")
    cfg = yaml_config(d, blob_config(d, epochs=2))
    p = bp("train", cfg, "--out", os.path.join(d, "a"), "--threads", "2")
    need(p.returncode == 0 and p.stderr == "", "a piped run wrote to stderr: %r" % p.stderr[:300])
    lines = p.stdout.strip().split("\n")
    need(len(lines) == 3 and all(re.match(r"^epoch [12]/2 loss [0-9.]+ acc [0-9.]+ val_loss [0-9.]+ val_acc [0-9.]+ "
                                          r"lr [0-9.e-]+ [0-9.]+s$", l) for l in lines[:2]),
         "epoch lines not as SPEC shows them: %r" % lines)
    p = bp("train", cfg, "--out", os.path.join(d, "b"), "--threads", "2", "--progress")
    need(p.returncode == 0 and "samples/s" in p.stderr and "ETA" in p.stderr and "\033[K" in p.stderr,
         "--progress drew no bar: %r" % p.stderr[:300])
    need(no_seconds(metrics_rows(os.path.join(d, "a"))) == no_seconds(metrics_rows(os.path.join(d, "b"))),
         "two runs with the same seed and 2 threads differ")
    p = bp("train", cfg, "--out", os.path.join(d, "c"), "--quiet", "--progress")
    need(p.returncode == 0 and p.stdout == "" and p.stderr == "", "--quiet printed: %r %r" % (p.stdout, p.stderr))


@check
def c06c_threads_keep_the_data_order():
    """Without dropout, the thread count changes only rounding: the data
    order does not depend on it, so --threads 1 and 3 give the same losses
    to 1e-5 in every epoch (rounding moves them by ~1e-7 here, a different
    shuffle by ~3e-3)."""
    d = fresh("threadorder")
    cfg = yaml_config(d, blob_config(d, optimizer="sgd", lr=0.1, epochs=4, dropout=False))
    rows = {}
    for t in (1, 3):
        out = os.path.join(d, "t%d" % t)
        p = bp("train", cfg, "--out", out, "--threads", str(t))
        need(p.returncode == 0, "--threads %d failed: %s" % (t, p.stderr[-300:]))
        rows[t] = metrics_rows(out)
    need(len(rows[1]) == 4 and len(rows[3]) == 4, "expected 4 epochs each")
    for a, b in zip(rows[1], rows[3]):
        for col in (1, 3):   # train_loss, val_loss
            x, y = float(a[col]), float(b[col])
            need(abs(x - y) <= 1e-5 * max(abs(x), abs(y)),
                 "epoch %s: column %d is %s with 1 thread and %s with 3" % (a[0], col, a[col], b[col]))


@check
def c07_eval_equals_summary():
    """eval best.ckpt --format json (default split: test) equals summary.json's
    test_loss/test_accuracy to 5 significant digits (classification and mse)."""
    d = fresh("evalsum")
    cfg = yaml_config(d, blob_config(d, epochs=6))
    out = os.path.join(d, "cls")
    train(cfg, out)
    s, e = summary(out), eval_json(os.path.join(out, "best.ckpt"))
    need(s["test_loss"] is not None, "summary.json has no test_loss though there is a test set")
    need(same5(e["loss"], s["test_loss"]), "eval loss %r, summary test_loss %r" % (e["loss"], s["test_loss"]))
    need(same5(e["accuracy"], s["test_accuracy"]),
         "eval accuracy %r, summary test_accuracy %r" % (e["accuracy"], s["test_accuracy"]))
    need(e["samples"] == 200, "eval samples %r, the test file has 200" % e["samples"])
    write_csv(os.path.join(d, "r.csv.gz"), regression(300, seed=2), header="x1,x2,y")
    write_csv(os.path.join(d, "rt.csv"), regression(100, seed=3), header="x1,x2,y")
    rcfg = yaml_config(d, "data:\n  train: {path: r.csv.gz}\n  test: {path: rt.csv}\n  header: true\n"
                          "  validation: {split: 0.2}\n  normalize: standardize\n"
                          "model:\n  layers:\n    - {type: dense, units: 16, activation: tanh}\n"
                          "    - {type: dense, units: 1, activation: linear}\n"
                          "loss: mse\noptimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 5, batch_size: 16}\n"
                          "output: {best_metric: val_loss}\n", "r.yaml")
    out = os.path.join(d, "reg")
    train(rcfg, out)
    s, e = summary(out), eval_json(os.path.join(out, "best.ckpt"))
    need(same5(e["loss"], s["test_loss"]), "mse: eval loss %r, summary test_loss %r" % (e["loss"], s["test_loss"]))
    need(e["accuracy"] is None and s["test_accuracy"] is None,
         "mse: accuracy should be null: eval %r, summary %r" % (e["accuracy"], s["test_accuracy"]))


def xor_config(folder, optimizer, lr, extra_opt=""):
    data = os.path.join(folder, "xor.csv")
    if not os.path.exists(data):
        write_csv(data, xor_quadrants(600, seed=11))
    return ("seed: 5\ndata: {train: {path: xor.csv}, validation: {split: 0.2}}\n"
            "model:\n  layers:\n    - {type: dense, units: 16, activation: relu}\n"
            "    - {type: dense, units: 2, activation: softmax}\n"
            "optimizer: {type: %s, lr: %s%s}\n"
            "train: {epochs: %d, batch_size: 16}\n" % (optimizer, lr, extra_opt, E8))


XOR_LOSS = 0.25   # every run must also end with train_loss below this (0.69 at chance)
# optimiser -> (lr, extra keys, required final val_accuracy)
OPTIMISERS = {
    "sgd": (0.1, "", 0.95),
    "momentum": (0.05, "", 0.95),
    "nesterov": (0.05, "", 0.95),
    "adam": (0.01, "", 0.95),
    "adamw": (0.01, ", weight_decay: 0.01", 0.95),
    "rmsprop": (0.005, "", 0.95),
    "adagrad": (0.1, "", 0.95),
}
# schedule -> (YAML, lr(e) with base lr L and E epochs)
E8 = 12


def warm(f, w):
    return lambda L, e: f(L, e) * (e / (w + 1) if e <= w else 1)


SCHEDULES = {
    "constant": ("{type: constant}", lambda L, e: L),
    "step": ("{type: step, step_size: 4, gamma: 0.5}", lambda L, e: L * 0.5 ** ((e - 1) // 4)),
    "exponential": ("{type: exponential, gamma: 0.8}", lambda L, e: L * 0.8 ** (e - 1)),
    "cosine": ("{type: cosine, min_lr: 0.001}",
               lambda L, e: 0.001 + (L - 0.001) * (1 + math.cos(math.pi * (e - 1) / E8)) / 2),
}
for _n, (_y, _f) in list(SCHEDULES.items()):
    SCHEDULES[_n + "+warmup3"] = (_y[:-1] + ", warmup_epochs: 3}", warm(_f, 3))
SCHED_ACC = 0.95


@check
def c08_optimisers_and_schedules():
    """Each optimiser and each schedule (also with warm-up) trains a 16-unit
    relu net on 2-D XOR (not linearly separable) to the stated final
    val_accuracy (OPTIMISERS table; 0.95 for the schedules, run with momentum
    lr 0.05) and a final train_loss below XOR_LOSS; and metrics.csv's lr column
    follows SPEC's formulas to 6 significant digits."""
    d = fresh("optim")
    problems = []
    for name, (lr, extra, acc) in OPTIMISERS.items():
        cfg = yaml_config(d, xor_config(d, name, lr, extra), "o_%s.yaml" % name)
        out = os.path.join(d, "o_" + name)
        p = train(cfg, out, expect=None)
        if p.returncode != 0:
            problems.append("%s: exit %d: %s" % (name, p.returncode, p.stderr.strip()))
            continue
        rows = metrics_rows(out)
        va = float(rows[-1][4])
        if va < acc or float(rows[-1][1]) > XOR_LOSS:
            problems.append("%s (lr %g): final val_accuracy %.4f (need %.2f), train_loss %s (need < %g)"
                            % (name, lr, va, acc, rows[-1][1], XOR_LOSS))
    for name, (sched, f) in SCHEDULES.items():
        cfg = yaml_config(d, xor_config(d, "momentum", 0.05, ", schedule: " + sched), "s_%s.yaml" % name)
        out = os.path.join(d, "s_" + name)
        p = train(cfg, out, expect=None)
        if p.returncode != 0:
            problems.append("schedule %s: exit %d: %s" % (name, p.returncode, p.stderr.strip()))
            continue
        rows = metrics_rows(out)
        va = float(rows[-1][4])
        if va < SCHED_ACC or float(rows[-1][1]) > XOR_LOSS:
            problems.append("schedule %s: final val_accuracy %.4f (need %.2f), train_loss %s (need < %g)"
                            % (name, va, SCHED_ACC, rows[-1][1], XOR_LOSS))
        for r in rows:
            e, got, want = int(r[0]), float(r[5]), f(0.05, int(r[0]))
            if abs(got - want) > 6e-6 * abs(want):
                problems.append("schedule %s: epoch %d lr %s, SPEC's formula gives %.7g" % (name, e, r[5], want))
                break
    need(not problems, "; ".join(problems))


@check
def c09_early_stopping():
    """Patience P on val_loss of an overfitting net (noisy labels): training
    stops before train.epochs exactly where Keras would (best = -inf/+inf at
    start, improvement = better by more than min_delta, stop when P epochs
    in a row did not improve), summary 'early_stopping', best.ckpt = the best
    epoch. And with min_delta huge, it stops at epoch 1 + P."""
    d = fresh("early")
    r = random.Random(21)
    rows = []
    for row in blobs(160, seed=21, spread=1.6):
        if r.random() < 0.3:
            row[-1] = r.randrange(3)
        rows.append(row)
    write_csv(os.path.join(d, "noisy.csv"), rows)
    P = 3
    cfg = yaml_config(d, "seed: 2\ndata:\n  train: {path: noisy.csv}\n  validation: {split: 0.4}\n"
                         "model:\n  layers:\n    - {type: dense, units: 128, activation: relu}\n"
                         "    - {type: dense, units: 128, activation: relu}\n"
                         "    - {type: dense, units: 3, activation: softmax}\n"
                         "optimizer: {type: adam, lr: 0.01}\n"
                         "train: {epochs: 200, batch_size: 8,\n"
                         "        early_stopping: {metric: val_loss, patience: %d, min_delta: 0}}\n"
                         "output: {best_metric: val_loss}\n" % P)
    out = os.path.join(d, "run")
    train(cfg, out)
    rows = metrics_rows(out)
    best, wait, best_e, stop_e = math.inf, 0, None, None
    for row in rows:
        e, v = int(row[0]), float(row[3])
        if v < best:
            best, wait, best_e = v, 0, e
        else:
            wait += 1
            if wait >= P:
                stop_e = e
                break
    s = summary(out)
    need(stop_e is not None and stop_e < 200, "val_loss never stalled for %d epochs in %d rows" % (P, len(rows)))
    need(len(rows) == stop_e, "Keras semantics stop after epoch %d, bptrain ran %d epochs" % (stop_e, len(rows)))
    need(s["stopped"] == "early_stopping", "summary stopped %r, expected 'early_stopping'" % s["stopped"])
    need(s["epochs_run"] == stop_e, "summary epochs_run %r, expected %d" % (s["epochs_run"], stop_e))
    need(s["best_epoch"] == best_e, "summary best_epoch %r, expected %d" % (s["best_epoch"], best_e))
    bi = info(os.path.join(out, "best.ckpt"))
    need(bi["epoch"] == best_e, "best.ckpt is epoch %r, the best val_loss is epoch %d" % (bi["epoch"], best_e))
    ev = eval_json(os.path.join(out, "best.ckpt"), "--split", "val")
    need(same5(ev["loss"], float(rows[best_e - 1][3])),
         "eval best.ckpt --split val loss %r, metrics.csv says %s at epoch %d" % (ev["loss"], rows[best_e - 1][3], best_e))
    out2 = os.path.join(d, "delta")
    train(cfg, out2, "--set", "train.early_stopping.min_delta=100")
    s2 = summary(out2)
    need(s2["epochs_run"] == 1 + P and s2["stopped"] == "early_stopping",
         "min_delta 100, patience %d: ran %r epochs (%r), expected %d" % (P, s2["epochs_run"], s2["stopped"], 1 + P))


@check
def c10_predict():
    """predict: header 'label' and one row per input row; --proba adds
    p0..p2 summing to 1 with label = argmax; its labels score the same
    accuracy as eval; --output FILE writes the file; mse gives y0 (y0,y1
    for two targets); an IDX images file works too."""
    d = fresh("predict")
    cfg = yaml_config(d, blob_config(d, epochs=6))
    out = os.path.join(d, "cls")
    train(cfg, out)
    ckpt = os.path.join(out, "best.ckpt")
    test = blobs(200, seed=12)
    feats = os.path.join(d, "feats.csv")
    write_csv(feats, [r[:-1] for r in test])
    p = bp("predict", ckpt, feats)
    need(p.returncode == 0, "predict: exit %d: %s" % (p.returncode, p.stderr))
    lines = p.stdout.strip().split("\n")
    need(lines[0] == "label", "predict header %r, expected 'label'" % lines[0])
    need(len(lines) == 201, "predict wrote %d rows for 200 inputs" % (len(lines) - 1))
    labels = [int(l) for l in lines[1:]]
    acc = sum(int(a == r[-1]) for a, r in zip(labels, test)) / 200.0
    e = eval_json(ckpt)
    need(same5(acc, e["accuracy"]), "predict's labels score %.4f, eval says %r" % (acc, e["accuracy"]))
    p = bp("predict", ckpt, feats, "--proba")
    lines = p.stdout.strip().split("\n")
    need(p.returncode == 0 and lines[0] == "label,p0,p1,p2", "--proba header %r (exit %d)" % (lines[0], p.returncode))
    need(len(lines) == 201, "--proba wrote %d rows" % (len(lines) - 1))
    for i, l in enumerate(lines[1:]):
        cells = l.split(",")
        ps = [float(c) for c in cells[1:]]
        need(abs(sum(ps) - 1) < 1e-4, "row %d probabilities sum to %.6f" % (i + 1, sum(ps)))
        need(int(cells[0]) == max(range(3), key=lambda k: ps[k]), "row %d: label is not the argmax: %s" % (i + 1, l))
    outf = os.path.join(d, "pred.csv")
    p = bp("predict", ckpt, feats, "--proba", "--output", outf)
    need(p.returncode == 0 and os.path.exists(outf), "--output: exit %d, file exists %s" % (p.returncode, os.path.exists(outf)))
    need(read_text(outf).strip().split("\n") == lines, "--output FILE differs from stdout's CSV")
    need(p.stdout.strip() == "", "--output FILE also printed to stdout")
    # mse, one and two targets
    for k in (1, 2):
        write_csv(os.path.join(d, "r%d.csv" % k), regression(200, seed=5, targets=k))
        lab = "-1" if k == 1 else "[2, 3]"
        rcfg = yaml_config(d, "data:\n  train: {path: r%d.csv}\n  label_column: %s\n"
                              "model:\n  layers:\n    - {type: dense, units: 8, activation: tanh}\n"
                              "    - {type: dense, units: %d, activation: linear}\n"
                              "loss: mse\noptimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 3, batch_size: 16}\n"
                              % (k, lab, k), "r%d.yaml" % k)
        rout = os.path.join(d, "reg%d" % k)
        train(rcfg, rout)
        rf = os.path.join(d, "rfeats.csv")
        write_csv(rf, [r[:2] for r in regression(50, seed=6)])
        p = bp("predict", os.path.join(rout, "best.ckpt"), rf)
        lines = p.stdout.strip().split("\n")
        want = ",".join("y%d" % j for j in range(k))
        need(p.returncode == 0 and lines[0] == want, "mse predict header %r, expected %r (exit %d: %s)"
             % (lines[0], want, p.returncode, p.stderr.strip()))
        need(len(lines) == 51, "mse predict: %d rows for 50 inputs" % (len(lines) - 1))
        for l in lines[1:]:
            need(len(l.split(",")) == k and all(math.isfinite(float(c)) for c in l.split(",")),
                 "mse predict row %r" % l)
    # IDX
    images, labs, _ = idx_pair(d, "train", 300, seed=7)
    timages, tlabs, tl = idx_pair(d, "t10k", 80, seed=8)
    icfg = yaml_config(d, "data:\n  train: {images: %s, labels: %s}\n  test: {images: %s, labels: %s}\n"
                          "model:\n  layers:\n    - {type: dense, units: 4, activation: softmax}\n"
                          "optimizer: {type: adam, lr: 0.05}\ntrain: {epochs: 5, batch_size: 8}\n"
                          % tuple(os.path.basename(x) for x in (images, labs, timages, tlabs)), "idx.yaml")
    iout = os.path.join(d, "idx")
    train(icfg, iout)
    p = bp("predict", os.path.join(iout, "best.ckpt"), timages)
    lines = p.stdout.strip().split("\n")
    need(p.returncode == 0 and lines[0] == "label" and len(lines) == 81,
         "idx predict: exit %d, header %r, %d rows for 80 images" % (p.returncode, lines[0], len(lines) - 1))
    acc = sum(int(int(a) == b) for a, b in zip(lines[1:], tl)) / 80.0
    e = eval_json(os.path.join(iout, "best.ckpt"))
    need(same5(acc, e["accuracy"]), "idx: predict's labels score %.4f, eval says %r" % (acc, e["accuracy"]))


@check
def c15_info_without_validation():
    """Without a validation set, best.ckpt is the lowest training loss, and
    info says so (it used to call that loss val_accuracy)."""
    d = fresh("noval")
    write_csv(os.path.join(d, "t.csv"), linear_binary(200, d=4, seed=3))
    cfg = yaml_config(d, "data: {train: {path: t.csv}}\nmodel: {layers: [{type: dense, units: 2, "
                         "activation: softmax}]}\ntrain: {epochs: 2}\n")
    out = os.path.join(d, "run")
    train(cfg, out)
    j = info(os.path.join(out, "best.ckpt"))
    last = no_seconds(metrics_rows(out))[j["best_epoch"] - 1]
    need(j["best_metric"] == "train_loss" and abs(j["best"] - float(last[1])) < 1e-6,
         "info json: best_metric %r best %r, metrics row %r" % (j["best_metric"], j["best"], last))
    p = bp("info", os.path.join(out, "best.ckpt"))
    need(p.returncode == 0 and re.search(r"best train_loss [0-9.]+ at epoch %d" % j["best_epoch"], p.stdout),
         "info text: %r" % p.stdout)


def version_with(env_extra, drop=()):
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_extra)
    p = subprocess.run([BPTRAIN, "--version"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       universal_newlines=True, timeout=30, env=env)
    m = re.match(r"^bptrain \S+ \(OpenBLAS kernels: ([^;\s]+); MPI: [^)]+\)$", p.stdout.strip())
    need(p.returncode == 0 and m, "--version printed %r (exit %d)" % (p.stdout, p.returncode))
    return m.group(1)


@check
def c14_blas_kernels():
    """OpenBLAS 0.3.21 takes CPUs newer than it for SSE3-only ones; bptrain
    then restarts itself with the kernel set the CPU can run. A value the
    environment gives is never changed, and BPTRAIN_BLAS_AUTO=0 keeps
    OpenBLAS's own choice."""
    drop = ("OPENBLAS_CORETYPE", "BPTRAIN_BLAS_AUTO")
    need(version_with({"OPENBLAS_CORETYPE": "Haswell"}) == "Haswell", "OPENBLAS_CORETYPE=Haswell was not kept")
    own = version_with({"BPTRAIN_BLAS_AUTO": "0"}, drop)
    auto = version_with({}, drop)
    flags = set()
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    old = {"Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Sandybridge", "Katmai",
           "Coppermine", "Northwood", "Banias", "Barcelona", "Bulldozer", "Bobcat"}
    if own in old and {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"} <= flags:
        want = "SkylakeX"
    elif own in old and {"avx2", "fma"} <= flags:
        want = "Haswell"
    else:
        want = own
    need(auto == want, "OpenBLAS chose %s on a CPU with %s; bptrain ran %s, expected %s"
         % (own, "avx512f" if "avx512f" in flags else "avx2" if "avx2" in flags else "neither", auto, want))
    print("    OpenBLAS's own choice %s, bptrain's %s" % (own, auto))


def smooth_sets(text):
    """--set overrides that make a convolutional config's net smooth for the
    gradient check, keeping its geometry: relu-family activations become tanh
    and max pooling average pooling. On real images every conv bias moves
    hundreds of pre-activations, so a finite-difference step crosses relu
    kinks and max-pool switches that float32 cannot step around (the unit
    tests check those kinks on small nets); a smooth net of the same shapes
    checks every conv, pool, batch_norm and dense gradient to ~1e-4. MLP
    configs are checked as they are."""
    if "conv2d" not in text:
        return []
    sets = []
    layers = [l.strip() for l in text.split("\n") if l.strip().startswith("- {type:")]
    for i, l in enumerate(layers):
        if re.search(r"activation: (relu|leaky_relu|elu)\b", l):
            sets += ["--set", "model.layers.%d.activation=tanh" % i]
        if "type: max_pool2d" in l:
            sets += ["--set", "model.layers.%d.type=avg_pool2d" % i]
    return sets


@check
def c11_configs():
    """Every configs/*.yaml trains 1 epoch (--set train.epochs=1 --out TMP
    --force --quiet), eval of its best.ckpt works, and `bptrain gradcheck`
    passes on it (one NAME max_rel_err line per tensor; convolutional nets
    made smooth first, see smooth_sets). Fashion-MNIST
    configs train on the first 3000 training and 500 test samples (data.train
    and data.test overridden with --set), so that the convolutional ones take
    seconds; they are skipped when /usr/share/datasets/fashion-mnist is
    missing."""
    cdir = os.path.join(ROOT, "configs")
    names = sorted(f for f in os.listdir(cdir) if f.endswith((".yaml", ".yml")))
    need(names, "no configs in %s" % cdir)
    have_fm = os.path.isdir(FM)
    sub = fresh("fm-subset")
    if have_fm:
        tr_img, tr_lab = fashion_subset(sub, "train", 3000)
        te_img, te_lab = fashion_subset(sub, "test", 500)
    problems = []
    for n in names:
        path = os.path.join(cdir, n)
        extra = []
        if "fashion-mnist" in read_text(path):
            if not have_fm:
                print("    %s: skipped (%s is missing)" % (n, FM))
                continue
            extra = ["--set", "data.train.images=" + tr_img, "--set", "data.train.labels=" + tr_lab,
                     "--set", "data.test.images=" + te_img, "--set", "data.test.labels=" + te_lab]
        out = fresh("cfg-" + n)
        t = time.time()
        p = bp("train", path, "--set", "train.epochs=1", "--out", out, "--force", "--quiet", *extra, timeout=300)
        if p.returncode != 0:
            problems.append("%s: train exit %d: %s" % (n, p.returncode, p.stderr.strip()))
            continue
        rows = metrics_rows(out)
        if len(rows) != 1 or summary(out)["stopped"] != "completed":
            problems.append("%s: %d rows, stopped %r" % (n, len(rows), summary(out)["stopped"]))
        p = bp("eval", os.path.join(out, "best.ckpt"))
        if p.returncode != 0 or not re.match(r"loss \S+ (accuracy \S+ )?samples \d+$", p.stdout.strip()):
            problems.append("%s: eval exit %d, output %r %s" % (n, p.returncode, p.stdout, p.stderr.strip()))
        p = bp("gradcheck", path, *extra, *smooth_sets(read_text(path)), timeout=300)
        lines = p.stdout.strip().split("\n")
        if p.returncode != 0 or not all(re.match(r"^layers\.\d+\.(W|b|gamma|beta) max_rel_err \S+$", l)
                                        for l in lines):
            problems.append("%s: gradcheck exit %d, output %r %s" % (n, p.returncode, p.stdout, p.stderr.strip()))
        print("    %s: %.1fs" % (n, time.time() - t))
    need(not problems, "; ".join(problems))


def sweep_config(folder):
    write_csv(os.path.join(folder, "s.csv.gz"), linear_binary(6000, d=10, seed=13))
    write_csv(os.path.join(folder, "st.csv"), linear_binary(300, d=10, seed=14))
    return yaml_config(folder, "seed: 8\ndata:\n  train: {path: s.csv.gz}\n  test: {path: st.csv}\n"
                               "  validation: {split: 0.2}\n"
                               "model:\n  layers:\n    - {type: dense, units: 128, activation: relu}\n"
                               "    - {type: dropout, rate: 0.2}\n"
                               "    - {type: dense, units: 2, activation: softmax}\n"
                               "optimizer: {type: sgd, lr: 0.01}\n"
                               "train: {epochs: 3, batch_size: 4}\n", "tiny.yaml")


@check
def c12_sweep():
    """scripts/sweep.sh over a 2x2 grid: the first run trains 4 points and
    writes results.csv (header + 4 rows, best val accuracy first); a second
    run trains nothing; a point interrupted by SIGINT is resumed by the next
    sweep and ends equal to its uninterrupted run."""
    d = fresh("sweep")
    cfg = sweep_config(d)
    sdir = os.path.join(d, "sw")
    env = dict(os.environ, BPTRAIN=BPTRAIN, SWEEP_DIR=sdir)
    script = os.path.join(ROOT, "scripts", "sweep.sh")
    grid = ["optimizer.lr=0.01,0.03", "train.batch_size=4,8"]

    def sweep():
        p = subprocess.run(["bash", script, cfg] + grid + ["--", "--threads", "1"], env=env, cwd=d,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=300)
        need(p.returncode == 0, "sweep.sh exit %d: %s %s" % (p.returncode, p.stdout, p.stderr))
        return p.stdout

    def results():
        lines = read_text(os.path.join(sdir, "results.csv")).strip().split("\n")
        need(lines[0] == "optimizer.lr,train.batch_size,best_val_accuracy,best_val_loss,test_accuracy,"
                         "epochs_run,seconds,stopped", "results.csv header %r" % lines[0])
        rows = [l.split(",") for l in lines[1:]]
        need(len(rows) == 4, "results.csv has %d rows, expected 4" % len(rows))
        accs = [float(r[2]) for r in rows]
        need(accs == sorted(accs, reverse=True), "results.csv is not sorted by best_val_accuracy: %s" % accs)
        need(sorted((r[0], r[1]) for r in rows) == [("0.01", "4"), ("0.01", "8"), ("0.03", "4"), ("0.03", "8")],
             "results.csv points %s" % [(r[0], r[1]) for r in rows])
        need(all(r[7] == "completed" for r in rows), "results.csv stopped column: %s" % [r[7] for r in rows])
        return lines

    out = sweep()
    need(out.count(": training") == 4, "first sweep trained %d points, expected 4:\n%s" % (out.count(": training"), out))
    first = results()
    point = os.path.join(sdir, "optimizer.lr=0.01,train.batch_size=4")
    need(os.path.isdir(point), "no point folder %s (have %s)" % (point, os.listdir(sdir)))
    ref = metrics_rows(point)
    mtimes = {f: os.stat(os.path.join(sdir, f, "metrics.csv")).st_mtime_ns for f in os.listdir(sdir)
              if os.path.isdir(os.path.join(sdir, f))}
    out = sweep()
    need(out.count(": training") == 0 and out.count("skipped") == 4, "second sweep did not skip all 4:\n%s" % out)
    need(results() == first, "second sweep changed results.csv")
    for f, m in mtimes.items():
        need(os.stat(os.path.join(sdir, f, "metrics.csv")).st_mtime_ns == m, "second sweep touched %s" % f)
    # interrupt that point as its sweep would have run it, then sweep again
    epoch_s = max(0.02, sum(float(r[6]) for r in ref) / len(ref))
    interrupt_mid_epoch(cfg, point, epoch_s, extra=["--set", "optimizer.lr=0.01", "--set", "train.batch_size=4",
                                                     "--force"])
    need(summary(point)["stopped"] == "interrupted", "the point's summary is not 'interrupted'")
    out = sweep()
    need(out.count(": training") == 1 and out.count("skipped") == 3,
         "third sweep should train only the interrupted point:\n%s" % out)
    need(summary(point)["stopped"] == "completed", "the resumed point did not complete")
    check_identical(metrics_rows(point), ref, "resumed sweep point vs its uninterrupted run")
    results()


@check
def c13_batch_norm():
    """batch_norm on (1,6,6) IDX images and on flat features, 2 threads:
    two runs give identical metrics.csv; resuming from epoch 2 equals the
    straight 3-epoch run (the running statistics, which validation uses,
    come back from the checkpoint); eval equals summary.json; info shows
    the image shapes, trainable counts (batch_norm: 2·C) and the state
    apart (text and JSON)."""
    d = fresh("batchnorm")
    images, labels, _ = idx_pair(d, "train", 300, seed=4)
    timages, tlabels, _ = idx_pair(d, "t10k", 60, seed=5)
    cfg = yaml_config(d, "seed: 4\ndata:\n  train: {images: %s, labels: %s}\n  test: {images: %s, labels: %s}\n"
                         "  validation: {split: 0.2}\n"
                         "model:\n  layers:\n    - {type: batch_norm, activation: relu}\n"
                         "    - {type: dense, units: 16}\n"
                         "    - {type: batch_norm, activation: tanh, momentum: 0.9}\n"
                         "    - {type: dropout, rate: 0.2}\n"
                         "    - {type: dense, units: 4, activation: softmax}\n"
                         "optimizer: {type: adam, lr: 0.01}\ntrain: {epochs: 3, batch_size: 16}\n"
                         % tuple(os.path.basename(x) for x in (images, labels, timages, tlabels)))
    a, b, r = (os.path.join(d, n) for n in ("a", "b", "resumed"))
    train(cfg, a, threads=2)
    train(cfg, b, threads=2)
    check_identical(metrics_rows(a), metrics_rows(b), "batch_norm: two runs with 2 threads")
    need(float(metrics_rows(a)[-1][4]) >= 0.8, "batch_norm: val_accuracy %s only" % metrics_rows(a)[-1][4])
    train(cfg, r, "--set", "train.epochs=2", threads=2)
    train(cfg, r, "--resume", os.path.join(r, "last.ckpt"), threads=2)
    check_identical(metrics_rows(r), metrics_rows(a), "batch_norm: resumed at epoch 2 vs straight")
    s, e = summary(a), eval_json(os.path.join(a, "best.ckpt"))
    need(same5(e["loss"], s["test_loss"]), "eval loss %r, summary test_loss %r" % (e["loss"], s["test_loss"]))

    inf = info(os.path.join(a, "last.ckpt"))
    want = [("batch_norm", [1, 6, 6], [1, 6, 6], 2, 2), ("dense", [1, 6, 6], [16, 1, 1], 36 * 16 + 16, 0),
            ("batch_norm", [16, 1, 1], [16, 1, 1], 32, 32), ("dropout", [16, 1, 1], [16, 1, 1], 0, 0),
            ("dense", [16, 1, 1], [4, 1, 1], 68, 0)]
    got = [(l["type"], l["input"], l["output"], l["params"], l["state"]) for l in inf["layers"]]
    need(got == want, "info layers %r, expected %r" % (got, want))
    need(inf["params"] == 694 and inf["state"] == 34, "info totals: params %r, state %r"
         % (inf["params"], inf["state"]))
    need([t["name"] for t in inf["state_tensors"]] == ["layers.0.running_mean", "layers.0.running_var",
                                                        "layers.2.running_mean", "layers.2.running_var"]
         and inf["state_tensors"][2]["shape"] == [16], "info state_tensors %r" % inf["state_tensors"])
    p = bp("info", os.path.join(a, "last.ckpt"))
    need(p.returncode == 0, "info: exit %d: %s" % (p.returncode, p.stderr.strip()))
    lines = p.stdout.split("\n")
    need("694 parameters, 34 state values" in lines[0], "info's first line: %r" % lines[0])
    need(lines[1].split() == ["#", "type", "activation", "input", "output", "params", "state"],
         "info's header: %r" % lines[1])
    need(lines[2].split() == ["0", "batch_norm", "relu", "1x6x6", "1x6x6", "2", "2"], "info layer 0: %r" % lines[2])
    need(lines[3].split() == ["1", "dense", "linear", "1x6x6", "16", "592", "0"], "info layer 1: %r" % lines[3])
    need(lines[7].startswith("state (not trained): layers.0.running_mean (1)"), "info state line: %r" % lines[7])


# ---------------------------------------------------------------- main

def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_train_e2e.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    TMP = tempfile.mkdtemp(prefix="bptrain-e2e-")
    return run_checks(only, TMP, lambda fn: fn.__name__[1:3].lstrip("0"))

if __name__ == "__main__":
    sys.exit(main())
