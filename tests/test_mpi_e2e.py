#!/usr/bin/env python3
"""End-to-end data-parallel training (mpirun, OpenMPI) against the built bptrain.

Usage: test_mpi_e2e.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

Each check writes its data (3-class 2-D spirals as CSV, a Fashion-MNIST
subset as IDX), trains under `mpirun -np 2` and compares what the run leaves
behind with one process: the numbers of two ranks equal one process's at the
same global batch (to 1e-4, and bit for bit against one process of two
threads), only rank 0 writes and prints, checkpoints resume across process
counts, SIGINT and a killed rank stop the job, errors are agreed and printed
once. Without mpirun, or with a bptrain built without MPI, the MPI checks
skip with the reason. The last line is "N passed, M failed".

Every mpirun is bounded twice: its own --timeout and the subprocess timeout
(after which the test kills mpirun and its ranks, by pid).
"""
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

from checks import FM, CheckFailed, Skip, check, fashion_subset, need, run_checks

BPTRAIN = None
TMP = None
ASAN = False
MPIRUN = shutil.which("mpirun")
RUN_FILES = ["best.ckpt", "config.yaml", "curves.svg", "last.ckpt", "layers.csv", "metrics.csv", "summary.json"]
SUMMARY_NUMBERS = ("epochs_run", "best_epoch", "best_val_accuracy", "best_val_loss", "test_loss", "test_accuracy")
TOL = 1e-4
_mpi_state = None   # None: not probed yet; else "" (usable) or the reason to skip


# ---- data and configs ----------------------------------------------------

def fresh(name):
    folder = os.path.join(TMP, name)
    os.makedirs(folder)
    return folder


def spirals_csv(path, n, seed):
    """3 interleaved spiral arms in 2-D, class = arm, with a header row."""
    r = random.Random(seed)
    with open(path, "w") as f:
        f.write("x,y,label\n")
        for i in range(n):
            c = i % 3
            t = r.uniform(0.1, 1.0)
            a = c * 2 * math.pi / 3 + 4 * t
            f.write("%.6f,%.6f,%d\n" % (t * math.cos(a) + r.gauss(0, 0.03), t * math.sin(a) + r.gauss(0, 0.03), c))
    return path


def write(folder, name, text):
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def spirals_config(folder, n=400, epochs=3, batch=32, units=32, lr=0.01, extra=""):
    spirals_csv(os.path.join(folder, "train.csv"), n, 1)
    spirals_csv(os.path.join(folder, "test.csv"), 150, 2)
    return write(folder, "s.yaml", """name: spirals
data:
  train: {path: train.csv}
  test: {path: test.csv}
  header: true
  validation: {split: 0.2}
model:
  layers:
    - {type: dense, units: %d, activation: tanh}
    - {type: dense, units: %d, activation: tanh}
    - {type: dense, units: 3, activation: softmax}
loss: cross_entropy
optimizer: {type: adam, lr: %g}
train: {epochs: %d, batch_size: %d}
seed: 3
%s""" % (units, units, lr, epochs, batch, extra))


def long_config(folder, epochs):
    """Spirals with a wider net and batches of 4: an epoch of -np 2 takes
    about 0.5 s (release; the ASan build gets an eighth of the rows), so a
    run lasts a few seconds and a signal lands mid-epoch."""
    n = 6000 // (8 if ASAN else 1)
    return spirals_config(folder, n=n, epochs=epochs, batch=4, units=384, lr=0.001)


# ---- running bptrain -------------------------------------------------------

def bp(*args, timeout=120, env=None, cwd=None):
    return subprocess.run([BPTRAIN] + [str(a) for a in args], capture_output=True, universal_newlines=True,
                          timeout=timeout, env=env, cwd=cwd)


def mpi_env():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    if ASAN:
        # For the ranks only (not for bptrain run without mpirun): OpenMPI
        # leaks at MPI_Finalize, and LeakSanitizer (detect_leaks=1 in the
        # suite) would fail every rank. Leaks whose allocation stack passes
        # through OpenMPI's own libraries are suppressed (tests/lsan_mpi.supp);
        # bptrain's own allocations never have those frames,
        # so its leaks still fail the run. fast_unwind_on_malloc=0: OpenMPI
        # has no frame pointers, and its components are dlclose()d before
        # the report, so without full unwinding the stacks stop at
        # "<unknown module>" and cannot be matched.
        supp = os.path.join(os.path.dirname(os.path.abspath(__file__)), "lsan_mpi.supp")
        env["ASAN_OPTIONS"] = ":".join(o for o in (env.get("ASAN_OPTIONS", ""), "fast_unwind_on_malloc=0") if o)
        env["LSAN_OPTIONS"] = ":".join(o for o in (env.get("LSAN_OPTIONS", ""), "suppressions=" + supp,
                                                    "print_suppressions=0") if o)
    return env


def mpirun_argv(apps, limit):
    """apps: [(np, [bptrain args]), ...], more than one for MPMD."""
    argv = [MPIRUN, "--timeout", str(limit), "--bind-to", "none", "--oversubscribe"]
    for i, (n, args) in enumerate(apps):
        if i:
            argv.append(":")
        argv += ["-np", str(n), BPTRAIN] + [str(a) for a in args]
    return argv


def descendants(pid):
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/stat" % d) as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                kids.setdefault(ppid, []).append(int(d))
            except (OSError, ValueError, IndexError):
                pass
    out, todo = [], [pid]
    while todo:
        for k in kids.get(todo.pop(), []):
            out.append(k)
            todo.append(k)
    return out


def kill_tree(p):
    """SIGKILL mpirun p and what it started, by pid."""
    for pid in descendants(p.pid) + [p.pid]:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        pass


def mpi(apps, limit=60, cwd=None):
    """Runs mpirun to the end; a CompletedProcess (text)."""
    need_mpi()
    p = subprocess.Popen(mpirun_argv(apps, limit), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         universal_newlines=True, env=mpi_env(), cwd=cwd)
    try:
        out, err = p.communicate(timeout=limit + 30)
    except subprocess.TimeoutExpired:
        kill_tree(p)
        raise CheckFailed("mpirun %s outlived its --timeout %d" % (apps, limit))
    return subprocess.CompletedProcess(p.args, p.returncode, out, err)


def mpi2(*args, threads=1, limit=60, cwd=None):
    return mpi([(2, list(args) + ["--threads", threads])], limit=limit, cwd=cwd)


def need_mpi():
    """Skips when mpirun is missing or bptrain was built without MPI: a
    two-rank `bptrain train --help` says which (and prints its usage once)."""
    global _mpi_state
    if _mpi_state is None:
        if not MPIRUN:
            _mpi_state = "no mpirun on PATH (Debian: openmpi-bin)"
        else:
            p = subprocess.run(mpirun_argv([(2, ["train", "--help"])], 60), capture_output=True,
                               universal_newlines=True, env=mpi_env(), timeout=90)
            if p.returncode != 0 and "built without MPI" in p.stderr:
                _mpi_state = "this bptrain was built without MPI (meson -Dmpi, libopenmpi-dev)"
            else:
                need(p.returncode == 0, "mpirun -np 2 bptrain train --help: exit %d: %s"
                     % (p.returncode, p.stderr.strip()))
                need(p.stdout.count("usage: bptrain train") == 1, "the usage printed %d times under -np 2: %r"
                     % (p.stdout.count("usage: bptrain train"), p.stdout))
                _mpi_state = ""
    if _mpi_state:
        raise Skip(_mpi_state)


def ok(p, what):
    need(p.returncode == 0, "%s: exit %d: %s" % (what, p.returncode, p.stderr.strip()))
    return p


def train1(cfg, out, threads=1, *extra):
    return ok(bp("train", cfg, "--out", out, "--threads", threads, "--quiet", "--no-progress", *extra),
              "train --threads %s" % threads)


def train2(cfg, out, threads=1, *extra, limit=60):
    return ok(mpi2("train", cfg, "--out", out, "--quiet", "--no-progress", *extra, threads=threads, limit=limit),
              "mpirun -np 2 train --threads %s" % threads)


# ---- what a run leaves ------------------------------------------------------

def read(path):
    with open(path) as f:
        return f.read()


def summary(out):
    return json.loads(read(os.path.join(out, "summary.json")))


def metrics(out):
    """metrics.csv's lines without the seconds column."""
    return [",".join(row.split(",")[:-1]) for row in read(os.path.join(out, "metrics.csv")).splitlines()]


def rows(out):
    return [r.split(",") for r in read(os.path.join(out, "metrics.csv")).splitlines()[1:]]


def rows_written(out):
    try:
        return len(rows(out))
    except OSError:
        return -1


def rel_close(a, b, tol=TOL):
    if a is None or b is None:
        return a is None and b is None
    a, b = float(a), float(b)
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    return abs(a - b) <= tol * max(abs(a), abs(b), 1e-12)


def same_numbers(a, b, what, nval, tol=TOL):
    """metrics.csv rows of runs a and b: epochs and lr equal, losses to tol
    relative, accuracies within one sample (n samples: nval)."""
    ra, rb = rows(a), rows(b)
    need(len(ra) == len(rb), "%s: %d rows vs %d" % (what, len(ra), len(rb)))
    for x, y in zip(ra, rb):
        need(x[0] == y[0] and x[5] == y[5], "%s: epoch/lr %s vs %s" % (what, x, y))
        for col, name in ((1, "train_loss"), (3, "val_loss")):
            need(rel_close(x[col], y[col], tol), "%s: epoch %s %s %s vs %s (over %g relative)"
                 % (what, x[0], name, x[col], y[col], tol))
        need(abs(float(x[4]) - float(y[4])) <= 1.01 / nval, "%s: epoch %s val_accuracy %s vs %s"
             % (what, x[0], x[4], y[4]))


def same_summary(a, b, what, tol=0.0):
    sa, sb = summary(a), summary(b)
    for k in SUMMARY_NUMBERS:
        good = sa[k] == sb[k] if tol == 0 else rel_close(sa[k], sb[k], tol)
        need(good, "%s: summary %s %r vs %r" % (what, k, sa[k], sb[k]))
    need(sa["stopped"] == sb["stopped"], "%s: stopped %r vs %r" % (what, sa["stopped"], sb["stopped"]))


def info_json(ckpt):
    p = ok(bp("info", ckpt, "--format", "json"), "info " + ckpt)
    return json.loads(p.stdout)


def eval_json(ckpt, split):
    return json.loads(ok(bp("eval", ckpt, "--split", split, "--format", "json"), "eval " + ckpt).stdout)


def error_lines(text):
    return [l for l in text.splitlines() if l.startswith("bptrain: error:")]


def no_leftovers(tag):
    """No process still running with tag (a run folder) in its command line."""
    left = []
    for d in os.listdir("/proc"):
        if d.isdigit() and int(d) != os.getpid():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    if tag.encode() in f.read():
                        left.append(int(d))
            except OSError:
                pass
    need(not left, "processes left running for %s: %s" % (tag, left))


class StderrReader(threading.Thread):
    """Collects a Popen's stderr (bytes) as it comes."""
    def __init__(self, stream):
        super().__init__(daemon=True)
        self.stream, self.buf, self.lock = stream, b"", threading.Lock()
        self.start()

    def run(self):
        while True:
            c = self.stream.read1(4096)
            if not c:
                return
            with self.lock:
                self.buf += c

    def text(self, tail=None):
        with self.lock:
            return (self.buf[-tail:] if tail else self.buf).decode(errors="replace")


# ---- checks ------------------------------------------------------------------

@check
def c01_spirals_two_ranks_match_one_process():
    """Spirals, batch 32: -np 2 --threads 1 vs one process --threads 1 at the
    same global batch: losses to 1e-4 relative (train, val per epoch; test);
    -np 2 twice gives the same metrics and summary; -np 2 equals one process
    of 2 threads bit for bit (the same split of each batch)."""
    need_mpi()
    folder = fresh("spirals")
    cfg = spirals_config(folder)
    one1, one2, two_a, two_b = (os.path.join(folder, n) for n in ("one1", "one2", "two_a", "two_b"))
    train1(cfg, one1, 1)
    train1(cfg, one2, 2)
    train2(cfg, two_a)
    train2(cfg, two_b)
    r = rows(two_a)
    need(len(r) == 3 and float(r[2][1]) < float(r[0][1]), "the -np 2 run did not learn: %s" % r)
    need(metrics(two_a) == metrics(two_b), "two -np 2 runs differ:\n%s\n%s" % (metrics(two_a), metrics(two_b)))
    same_summary(two_a, two_b, "-np 2 twice")
    need(metrics(two_a) == metrics(one2), "-np 2 vs one process of 2 threads:\n%s\n%s"
         % (metrics(two_a), metrics(one2)))
    same_summary(two_a, one2, "-np 2 vs --threads 2")
    same_numbers(two_a, one1, "-np 2 vs --threads 1", nval=80)
    same_summary(two_a, one1, "-np 2 vs --threads 1", tol=TOL)
    # The rank-0 checkpoint is an ordinary one.
    ev = eval_json(os.path.join(two_a, "best.ckpt"), "test")
    need(rel_close(ev["loss"], summary(two_a)["test_loss"], 1e-5), "eval of -np 2's best.ckpt: loss %s, summary %s"
         % (ev["loss"], summary(two_a)["test_loss"]))


@check
def c02_fashion_batch_norm_short_last_batch():
    """A Fashion-MNIST subset (1201 train, 20% validation, 300 test) and a
    conv net with batch_norm, batch 32 with 961 training samples: the last
    batch is 1 sample, so rank 1 has none. -np 2 vs one process: losses to
    1e-4 relative (bit for bit against --threads 2); -np 2 of 2 threads each
    too; eval of last.ckpt gives the last epoch's val_loss (the running
    statistics rank 0 saved are the world's)."""
    need_mpi()
    if not os.path.isdir(FM):
        raise Skip("%s is missing (Debian: dataset-fashion-mnist)" % FM)
    folder = fresh("fashion")
    tr = fashion_subset(folder, "train", 1201)
    te = fashion_subset(folder, "test", 300)
    # conv2d without bias before each batch_norm: a bias there gets pure
    # rounding noise for a gradient, which Adam turns into lr-sized random
    # steps that differ with any summation order.
    cfg = write(folder, "fm.yaml", """name: fm-bn
data:
  train: {images: %s, labels: %s}
  test: {images: %s, labels: %s}
  validation: {split: 0.2}
model:
  layers:
    - {type: conv2d, filters: 8, kernel_size: 3, strides: 2, use_bias: false}
    - {type: batch_norm, activation: relu}
    - {type: max_pool2d, pool_size: 2}
    - {type: conv2d, filters: 8, kernel_size: 3, use_bias: false}
    - {type: batch_norm, activation: relu}
    - {type: dense, units: 10, activation: softmax}
loss: cross_entropy
optimizer: {type: adam, lr: 0.005}
train: {epochs: 2, batch_size: 32}
seed: 4
""" % (tr[0], tr[1], te[0], te[1]))
    p = ok(bp("train", cfg, "--check"), "train --check")
    m = re.search(r"split\s+train (\d+) samples", p.stdout)
    need(m and int(m.group(1)) % 32 == 1, "expected a training split of 32k+1 samples: %r" % p.stdout)
    one1, one2, two, two2 = (os.path.join(folder, n) for n in ("one1", "one2", "two", "two2"))
    train1(cfg, one1, 1)
    train1(cfg, one2, 2)
    train2(cfg, two, 1)
    train2(cfg, two2, 2)
    need(summary(two)["test_accuracy"] > 0.5, "test accuracy %s (chance 0.1)" % summary(two)["test_accuracy"])
    same_numbers(two, one1, "-np 2 vs --threads 1", nval=240)
    same_summary(two, one1, "-np 2 vs --threads 1", tol=TOL)
    need(metrics(two) == metrics(one2), "-np 2 vs one process of 2 threads:\n%s\n%s" % (metrics(two), metrics(one2)))
    same_numbers(two2, one1, "-np 2 --threads 2 vs --threads 1", nval=240)
    for run in (two, one1):
        ev = eval_json(os.path.join(run, "last.ckpt"), "val")
        last = float(rows(run)[-1][3])
        need(rel_close(ev["loss"], last, 1e-5), "%s: eval --split val of last.ckpt: loss %s, metrics.csv %s"
             % (os.path.basename(run), ev["loss"], last))
    st = info_json(os.path.join(two, "last.ckpt"))
    need(st["state"] == 2 * (8 + 8), "last.ckpt of -np 2 holds %s batch_norm statistics" % st["state"])


@check
def c03_only_rank_zero_writes_and_prints():
    """-np 2 with epoch lines: the run folder holds exactly a run's files,
    as one process's does (no .tmp, nothing elsewhere in the working
    folder); stdout is one process's (each epoch line once); stderr has no
    bptrain line and no line twice; metrics.csv, layers.csv and
    config.yaml are written once, layers.csv numbers as one process's."""
    need_mpi()
    folder = fresh("files")
    cfg = spirals_config(folder)
    one = os.path.join(folder, "one")
    p1 = ok(bp("train", cfg, "--out", one, "--threads", 2, "--no-progress"), "train --threads 2")
    before = set(os.listdir(folder))
    p2 = ok(mpi2("train", cfg, "--out", "two", "--no-progress", cwd=folder), "mpirun -np 2 train")
    two = os.path.join(folder, "two")
    made = set(os.listdir(folder)) - before
    need(made == {"two"}, "the working folder gained %s" % sorted(made))
    need(sorted(os.listdir(two)) == RUN_FILES == sorted(os.listdir(one)), "run folder files: -np 2 %s, one process %s"
         % (sorted(os.listdir(two)), sorted(os.listdir(one))))

    def lines(text):   # without the seconds and the folder name
        return [re.sub(r"\d+\.\ds\b", "Ts", l).replace("run folder " + one, "run folder two")
                for l in text.splitlines()]
    out = lines(p2.stdout)
    for e in (1, 2, 3):
        n = sum(1 for l in out if l.startswith("epoch %d/3 " % e))
        need(n == 1, "stdout has %d lines for epoch %d:\n%s" % (n, e, p2.stdout))
    need(out == lines(p1.stdout), "-np 2 stdout:\n%s\none process:\n%s" % (p2.stdout, p1.stdout))
    err = p2.stderr.splitlines()
    need(not [l for l in err if "bptrain" in l], "stderr: %r" % p2.stderr)
    need(len(set(l for l in err if l.strip())) == len([l for l in err if l.strip()]), "stderr repeats: %r" % p2.stderr)

    text = read(os.path.join(two, "metrics.csv"))
    need(text.count("epoch,") == 1 and [r[0] for r in rows(two)] == ["1", "2", "3"], "metrics.csv:\n" + text)
    la, lb = (read(os.path.join(d, "layers.csv")).splitlines() for d in (two, one))
    need(len(la) == len(lb) == 1 + 3 * 3 and la[0] == lb[0], "layers.csv: %d lines, one process %d" % (len(la), len(lb)))
    for x, y in zip(la[1:], lb[1:]):
        xs, ys = x.split(","), y.split(",")
        need(xs[:3] == ys[:3] and all(rel_close(a, b, 1e-6) if a else a == b for a, b in zip(xs[3:], ys[3:])),
             "layers.csv row %s, one process %s" % (x, y))
    ca, cb = (read(os.path.join(d, "config.yaml")).splitlines() for d in (two, one))
    diff = [(a, b) for a, b in zip(ca, cb) if a != b]
    need(len(ca) == len(cb) and all("threads:" in a or "dir:" in a for a, _ in diff),
         "config.yaml differs beyond threads and dir: %s" % diff)


@check
def c04_resume_across_process_counts():
    """2 epochs on -np 2 resumed by one process to 4, and 2 epochs by one
    process resumed on -np 2 to 4: metrics.csv rows 1..4 once each, to 1e-4
    of an uninterrupted 4-epoch single process; the one-process epochs are
    its exact bits."""
    need_mpi()
    folder = fresh("resume")
    cfg = spirals_config(folder, epochs=4)
    ref, a, b = (os.path.join(folder, n) for n in ("ref", "a", "b"))
    train1(cfg, ref, 1)
    train2(cfg, a, 1, "--set", "train.epochs=2")
    train1(cfg, a, 1, "--resume", os.path.join(a, "last.ckpt"))
    train1(cfg, b, 1, "--set", "train.epochs=2")
    train2(cfg, b, 1, "--resume", os.path.join(b, "last.ckpt"))
    for run, what in ((a, "-np 2 then one process"), (b, "one process then -np 2")):
        text = read(os.path.join(run, "metrics.csv"))
        need(text.count("epoch,") == 1 and [r[0] for r in rows(run)] == ["1", "2", "3", "4"],
             "%s: metrics.csv:\n%s" % (what, text))
        same_numbers(run, ref, what, nval=80)
        same_summary(run, ref, what, tol=TOL)
        need(summary(run)["stopped"] == "completed", "%s: stopped %s" % (what, summary(run)["stopped"]))
    need(metrics(b)[:3] == metrics(ref)[:3], "one process's 2 epochs differ from the reference's")


@check
def c05_sigint_mid_epoch_resumes_exactly():
    """SIGINT to mpirun (-np 2) mid-epoch: last.ckpt saved with a position
    inside the epoch, summary 'interrupted', one notice; resumed on -np 2
    the run ends with the metrics, summary and last.ckpt numbers of an
    uninterrupted -np 2 run, bit for bit. mpirun forwards the stop as
    SIGTERM about a second later, so the signal is sent as epoch 1 starts
    and lands in a later epoch; the exit status is mpirun's (reported)."""
    need_mpi()
    folder = fresh("sigint")
    epochs = 5
    cfg = long_config(folder, epochs)
    ref = os.path.join(folder, "ref")
    train2(cfg, ref, limit=120)
    out = os.path.join(folder, "run")
    notes = []
    for attempt in range(3):
        if os.path.exists(out):
            shutil.rmtree(out)
        p = subprocess.Popen(mpirun_argv([(2, ["train", cfg, "--out", out, "--threads", 1, "--progress"])], 120),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=mpi_env())
        rd = StderrReader(p.stderr)
        end, sent = time.time() + 90, None
        want = ["epoch 1/%d" % epochs, "epoch 1/%d" % epochs, "epoch 2/%d" % epochs][attempt]
        while p.poll() is None and time.time() < end:
            if sent is None and re.search(re.escape(want) + r" \[[#.]*\] [1-9]", rd.text(200)):
                p.send_signal(signal.SIGINT)
                sent = time.time()
            time.sleep(0.01)
        if p.poll() is None:
            kill_tree(p)
            raise CheckFailed("mpirun still running 90 s on (signal sent: %s)" % (sent is not None))
        rd.join(10)
        stdout = p.stdout.read().decode()
        err = rd.text()
        need(sent is not None, "no progress bar seen: %r" % err[-500:])
        print("    SIGINT to mpirun: it returned %d after %.1fs" % (p.returncode, time.time() - sent))
        s = summary(out)
        if s["stopped"] == "completed":
            notes.append("attempt %d: the run finished before the ranks saw the stop" % attempt)
            print("    " + notes[-1])
            continue
        need(s["stopped"] == "interrupted", "summary stopped %r" % s["stopped"])
        need(p.returncode != 0, "mpirun returned 0 for an interrupted job")
        need(err.count("bptrain: interrupted; saved") == 1 and not error_lines(err),
             "stderr: %r" % err[-800:])
        st = info_json(os.path.join(out, "last.ckpt"))
        need(len(rows(out)) == st["epoch"], "metrics.csv has %d rows, last.ckpt is at epoch %s"
             % (len(rows(out)), st["epoch"]))
        shown = [l.split()[1] for l in stdout.splitlines() if l.startswith("epoch ")]
        need(shown == ["%d/%d" % (e, epochs) for e in range(1, st["epoch"] + 1)], "stdout: %r" % stdout)
        if st["position_in_epoch"] > 0:
            break
        notes.append("attempt %d: stopped on an epoch boundary" % attempt)
        print("    " + notes[-1])
    else:
        raise CheckFailed("could not interrupt mid-epoch: " + "; ".join(notes))
    p = ok(bp("info", os.path.join(out, "last.ckpt")), "info last.ckpt")
    need("batches of epoch" in p.stdout, "info does not show the position in the epoch: %r" % p.stdout)
    print("    stopped at epoch %d + %d batches" % (st["epoch"], st["position_in_epoch"]))
    ok(mpi2("train", cfg, "--out", out, "--quiet", "--no-progress", "--resume", os.path.join(out, "last.ckpt"),
            limit=120), "resume on -np 2")
    need(metrics(out) == metrics(ref), "resumed vs never stopped:\n%s\n%s" % (metrics(out), metrics(ref)))
    same_summary(out, ref, "resumed vs never stopped")
    for split in ("val", "test"):
        x, y = eval_json(os.path.join(out, "last.ckpt"), split), eval_json(os.path.join(ref, "last.ckpt"), split)
        need(x == y, "eval --split %s of last.ckpt: resumed %r, never stopped %r" % (split, x, y))


@check
def c06_sigkill_one_rank_ends_the_job():
    """SIGKILL to rank 1 after an epoch (checkpoint_every 1): the whole job
    ends within 30 s with no process left; last.ckpt loads (info, eval) and
    one process resumes from it."""
    need_mpi()
    folder = fresh("sigkill")
    cfg = long_config(folder, 100)
    out = os.path.join(folder, "run")
    p = subprocess.Popen(mpirun_argv([(2, ["train", cfg, "--out", out, "--threads", 1, "--quiet",
                                           "--set", "output.checkpoint_every=1"])], 120),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=mpi_env())
    rd = StderrReader(p.stderr)
    try:
        end = time.time() + 60
        ckpt = os.path.join(out, "last.ckpt")
        while p.poll() is None and time.time() < end and not (os.path.exists(ckpt) and rows_written(out) >= 1):
            time.sleep(0.02)
        need(p.poll() is None, "mpirun ended before the kill: exit %s: %s" % (p.returncode, rd.text()))
        ranks = {}
        for pid in descendants(p.pid):
            try:
                with open("/proc/%d/environ" % pid, "rb") as f:
                    env = dict(kv.split(b"=", 1) for kv in f.read().split(b"\0") if b"=" in kv)
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if b"OMPI_COMM_WORLD_RANK" in env and out.encode() in cmdline:
                ranks[int(env[b"OMPI_COMM_WORLD_RANK"])] = pid
        need(sorted(ranks) == [0, 1], "rank processes found: %s" % ranks)
        os.kill(ranks[1], signal.SIGKILL)
        t = time.time()
        try:
            p.wait(timeout=30)
        except subprocess.TimeoutExpired:
            raise CheckFailed("the job still runs 30 s after rank 1 was killed")
        took = time.time() - t
    finally:
        if p.poll() is None:
            kill_tree(p)
    rd.join(10)
    print("    SIGKILL to rank 1: mpirun returned %d after %.1fs" % (p.returncode, took))
    need(p.returncode != 0, "mpirun returned 0 with a rank killed")
    no_leftovers(out)
    st = info_json(ckpt)
    need(st["epoch"] >= 1, "last.ckpt at epoch %s" % st["epoch"])
    ok(bp("eval", ckpt), "eval last.ckpt")
    e = st["epoch"] + 1
    train1(cfg, out, 1, "--resume", ckpt, "--set", "train.epochs=%d" % e)
    need([r[0] for r in rows(out)] == [str(i) for i in range(1, e + 1)], "resumed metrics.csv epochs %s"
         % [r[0] for r in rows(out)])


@check
def c07_errors_agreed_and_printed_once():
    """Under mpirun -np 2, one 'bptrain: error:' line each, the one a single
    process prints, and mpirun's status is the ranks': a config error (2);
    a data error on rank 1 only (MPMD: 3, the line names rank 1 and the
    host) or rank 0 only (3, no rank named), and so is a bad option on rank
    1 only (2); divergence (4, every rank
    ends, the same epoch and batch as one process of 2 threads);
    `bptrain eval` refused (2)."""
    need_mpi()
    folder = fresh("errors")
    cfg = spirals_config(folder)
    statuses = []

    def one_error(p, what, status):
        lines = error_lines(p.stderr)
        statuses.append("%s %d" % (what, p.returncode))
        need(len(lines) == 1, "%s: %d error lines: %r" % (what, len(lines), p.stderr))
        need(p.returncode == status, "%s: mpirun returned %d, expected %d: %s" % (what, p.returncode, status, lines))
        need(not p.stdout.strip(), "%s: stdout %r" % (what, p.stdout))
        return lines[0]

    bad = ["--set", "train.epochs=0"]
    single = error_lines(bp("train", cfg, "--out", os.path.join(folder, "c1"), *bad).stderr)
    line = one_error(mpi2("train", cfg, "--out", os.path.join(folder, "c2"), *bad), "config error", 2)
    need([line] == single, "config error %r, one process %r" % (line, single))

    missing = ["--set", "data.train.path=" + os.path.join(folder, "missing.csv")]
    single = error_lines(bp("train", cfg, "--out", os.path.join(folder, "d1"), *missing).stderr)
    need(len(single) == 1, "one process: %r" % single)
    on_rank1 = " (on rank 1 of 2, host %s)" % socket.gethostname()[:63]
    for bad_rank in (1, 0):
        out = os.path.join(folder, "d2-%d" % bad_rank)
        apps = [(1, ["train", cfg, "--out", out, "--threads", 1] + (missing if r == bad_rank else []))
                for r in (0, 1)]
        line = one_error(mpi(apps), "data error on rank %d" % bad_rank, 3)
        want = single[0] + (on_rank1 if bad_rank else "")
        need(line == want, "data error on rank %d: %r, expected %r" % (bad_rank, line, want))
        need(not os.path.exists(os.path.join(out, "metrics.csv")), "rank %d's data error left metrics.csv" % bad_rank)
    # --check: every rank loads its host's data; rank 0 prints the report
    # once, or the failing rank's error instead of its own success.
    chk = ok(bp("train", cfg, "--check"), "train --check")
    p = ok(mpi2("train", cfg, "--check"), "mpirun -np 2 train --check")
    need(p.stdout == chk.stdout, "--check under -np 2:\n%s\none process:\n%s" % (p.stdout, chk.stdout))
    line = one_error(mpi([(1, ["train", cfg, "--check"]), (1, ["train", cfg, "--check"] + missing)]),
                     "--check, data error on rank 1", 3)
    need(line == single[0] + on_rank1, "--check, data error on rank 1: %r, expected %r" % (line, single[0] + on_rank1))

    reg = os.path.join(folder, "r.csv")
    r = random.Random(1)
    with open(reg, "w") as f:
        for _ in range(200):
            x, y = r.uniform(-1, 1), r.uniform(-1, 1)
            f.write("%.5f,%.5f,%.5f\n" % (x, y, 3 * x - y + 1 + r.gauss(0, 0.05)))
    dcfg = write(folder, "d.yaml", "data:\n  train: {path: r.csv}\n  validation: {split: 0.25}\n"
                                   "model:\n  layers:\n    - {type: dense, units: 1, activation: linear}\n"
                                   "loss: mse\noptimizer: {type: sgd, lr: 10}\ntrain: {epochs: 20, batch_size: 8}\n")
    one, two = os.path.join(folder, "div1"), os.path.join(folder, "div2")
    p = bp("train", dcfg, "--out", one, "--threads", 2, "--quiet")
    need(p.returncode == 4 and len(error_lines(p.stderr)) == 1, "one process: exit %d: %r" % (p.returncode, p.stderr))
    line = one_error(mpi2("train", dcfg, "--out", two, "--quiet"), "divergence", 4)
    need(line == error_lines(p.stderr)[0] and "diverged" in line, "divergence %r, one process %r"
         % (line, error_lines(p.stderr)[0]))
    need(summary(two)["stopped"] == "diverged" and metrics(two) == metrics(one), "after divergence: %s %s vs %s"
         % (summary(two)["stopped"], metrics(two), metrics(one)))
    no_leftovers(two)

    # A bad option on rank 1 only (MPMD): the ranks agree on their command
    # lines first, so rank 0 prints rank 1's usage error instead of waiting.
    single = error_lines(bp("train", cfg, "--bogus").stderr)
    line = one_error(mpi([(1, ["train", cfg, "--out", os.path.join(folder, "o1")]),
                          (1, ["train", cfg, "--out", os.path.join(folder, "o1"), "--bogus"])]),
                     "bad option on rank 1", 2)
    need(len(single) == 1 and line == single[0] + on_rank1, "bad option on rank 1: %r, expected %r"
         % (line, single[0] + on_rank1 if single else single))

    line = one_error(mpi2("eval", os.path.join(one, "best.ckpt")), "eval", 2)
    need("only 'bptrain train'" in line, "eval under mpirun: %r" % line)
    print("    mpirun returned: " + ", ".join(statuses))


@check
def c08_no_mpi_without_a_launcher():
    """Started without mpirun (no OMPI_/PMIX_/PMI_ variables), train and
    eval never initialise MPI: TMPDIR stays empty (a singleton MPI_Init
    makes TMPDIR/ompi.HOST.UID there); eval of a checkpoint runs start to
    exit in under 0.2 s (best of 5; release builds only)."""
    folder = fresh("nompi")
    cfg = spirals_config(folder)
    tmpdir = fresh("nompi-tmpdir")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OMPI_", "PMIX_", "PMI_"))}
    env["TMPDIR"] = tmpdir
    out = os.path.join(folder, "run")
    ok(bp("train", cfg, "--out", out, "--threads", 1, "--quiet", env=env), "train without mpirun")
    ckpt = os.path.join(out, "best.ckpt")
    best = 1e9
    for _ in range(5):
        t = time.time()
        p = ok(bp("eval", ckpt, env=env), "eval without mpirun")
        best = min(best, time.time() - t)
    need(p.stdout.startswith("loss "), "eval: %r" % p.stdout)
    need(not os.listdir(tmpdir), "TMPDIR gained %s (MPI initialised?)" % os.listdir(tmpdir))
    if ASAN:
        print("    eval %.3fs best of 5 (not timed: sanitizer build)" % best)
        return
    need(best < 0.2, "eval took %.3fs (best of 5), want under 0.2s" % best)
    print("    eval %.3fs best of 5" % best)


def is_asan(path):
    if "asan" in path or os.environ.get("BPTRAIN_ASAN"):
        return True
    try:
        return "libasan" in subprocess.run(["ldd", path], capture_output=True, universal_newlines=True).stdout
    except OSError:
        return False


def main():
    global BPTRAIN, TMP, ASAN
    if len(sys.argv) < 2:
        print("usage: test_mpi_e2e.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    ASAN = is_asan(BPTRAIN)
    TMP = tempfile.mkdtemp(prefix="bptrain-mpi-")
    return run_checks(sys.argv[2:], TMP, lambda fn: fn.__name__.split("_")[0][1:])


if __name__ == "__main__":
    sys.exit(main())
