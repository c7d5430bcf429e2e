#!/usr/bin/env python3
"""Fault injection against the built bptrain (issue 6).

Usage: test_faults.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

Every check makes its own small data (CSV, and IDX gzipped or plain) and
configs in a temporary folder, runs bptrain under the fault, and holds the
result to ../shared/SPEC.md: exit status 1 for I/O and memory failures, 2 for
configuration errors, 3 for data errors; exactly one `bptrain: error: ` line;
no crash; no half-written or temporary file left; a checkpoint that is on
disk always loads.

  1 write failures      RLIMIT_FSIZE (SIGXFSZ ignored, so writes fail with
                        EFBIG) makes a checkpoint write, a metrics write and
                        a config write fail
  2 sigkill             SIGKILL at >= 20 random moments; last.ckpt loads and
                        the next run resumes from it
  3 unwritable output   output under a regular file; a read-only folder
                        (chmod 0555, or chattr +i when running as root)
  4 checkpoints         a newer format version; every single-byte change and
                        every truncation of a small checkpoint
  5 hostile inputs      an IDX header claiming 2^31 items, a 10 MB CSV line,
                        a YAML alias bomb, 10000-deep nesting: clean error,
                        peak RSS < 200 MB, a few seconds
  6 out of memory       2e9 units; RLIMIT_AS below what the net or data needs
  7 valgrind            train 2 epochs + eval under valgrind --leak-check=full

Each check is named; the last line is "N passed, M failed" and the exit
status is 1 when any check failed. Set KEEP_TMP=1 to keep the temp folder.
"""
import concurrent.futures
import gzip
import math
import os
import random
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import zlib

from checks import CheckFailed, Skip, check, need, run_checks

BPTRAIN = None
TMP = None
ASAN = False
RSS_LIMIT_KB = 200 * 1024
HEADER = "epoch,train_loss,train_accuracy,val_loss,val_accuracy,lr,seconds"
CKPT_MAGIC = b"BPTRAIN\x1a"


def note(msg):
    print("     " + msg)
    sys.stdout.flush()


# ---------------------------------------------------------------- running

class Result:
    def __init__(self, rc, out, err, rss_kb, seconds):
        self.rc, self.out, self.err, self.rss_kb, self.seconds = rc, out, err, rss_kb, seconds

    def __repr__(self):
        return "exit %s after %.2fs, rss %d MB, stderr %r" % (self.rc, self.seconds, self.rss_kb // 1024,
                                                              self.err[-600:])


# Peak RSS: a child's ru_maxrss starts at its parent's peak (Linux carries
# the old memory map's high-water mark over fork and exec), and this script
# holds 10 MB strings, so a fresh small interpreter forks bptrain and reports
# the grandchild's ru_maxrss (from os.wait4, not RUSAGE_CHILDREN, which is a
# max over all children); the floor is that interpreter's ~10 MB.
RSS_HELPER = """
import os, signal, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.argv[2], sys.argv[2:])
_, status, ru = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(str(ru.ru_maxrss))
if os.WIFSIGNALED(status):
    signal.signal(os.WTERMSIG(status), signal.SIG_DFL)
    os.kill(os.getpid(), os.WTERMSIG(status))
sys.exit(os.WEXITSTATUS(status))
"""


def run(args, cwd=None, timeout=120, preexec=None, env=None, kill_after=None, measure=False):
    """Runs bptrain ARGS; returns a Result. measure: also its peak RSS.
    kill_after: SIGKILL the child after that many seconds."""
    # Pipes, not files: RLIMIT_FSIZE would cut files short.
    t0 = time.time()
    cmd = [BPTRAIN] + [str(a) for a in args]
    if measure:
        rss_file = os.path.join(TMP, "rss.%d" % threading.get_ident())
        cmd = [sys.executable, "-c", RSS_HELPER, rss_file] + cmd
    p = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, start_new_session=measure,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec, env=env)
    bufs = {}

    def drain(name, pipe):
        bufs[name] = pipe.read()
        pipe.close()
    readers = [threading.Thread(target=drain, args=(k, v)) for k, v in (("out", p.stdout), ("err", p.stderr))]
    for t in readers:
        t.start()
    fired = []

    def kill():
        fired.append(True)
        try:
            if measure:
                os.killpg(p.pid, signal.SIGKILL)
            else:
                p.kill()
        except OSError:
            pass
    timer = threading.Timer(kill_after if kill_after is not None else timeout, kill)
    timer.start()
    try:
        _, status, ru = os.wait4(p.pid, 0)
    finally:
        timer.cancel()
    p.returncode = os.waitstatus_to_exitcode(status)
    secs = time.time() - t0
    for t in readers:
        t.join()
    rss = ru.ru_maxrss
    if measure:
        try:
            with open(rss_file) as f:
                rss = int(f.read())
            os.unlink(rss_file)
        except (OSError, ValueError):
            rss = -1
    out = bufs["out"].decode("utf-8", "replace")
    err = bufs["err"].decode("utf-8", "replace")
    if fired and kill_after is None:
        raise CheckFailed("timed out after %ds: bptrain %s" % (timeout, " ".join(map(str, args))))
    return Result(p.returncode, out, err, rss, secs)


def one_error(res, what):
    """stderr is exactly one `bptrain: error: ` line."""
    lines = res.err.rstrip("\n").split("\n")
    need(len(lines) == 1 and lines[0].startswith("bptrain: error: "),
         "%s: stderr should be one 'bptrain: error:' line, got %r" % (what, res.err[-800:]))
    return lines[0]


def expect_error(res, code, what, words=()):
    need(res.rc >= 0, "%s: killed by signal %d (crash), %r" % (what, -res.rc, res))
    need(res.rc == code if isinstance(code, int) else res.rc in code,
         "%s: expected exit %s, %r" % (what, code, res))
    line = one_error(res, what)
    for w in words:
        need(w.lower() in line.lower(), "%s: the error should mention %r: %s" % (what, w, line))
    return line


def limits(fsize=None, as_bytes=None):
    def pre():
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if as_bytes is not None:
            resource.setrlimit(resource.RLIMIT_AS, (as_bytes, as_bytes))
    return pre


# ---------------------------------------------------------------- data and configs

def fresh(name):
    d = os.path.join(TMP, name)
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return d


def blobs_csv(path, n, d=2, k=3, seed=1):
    r = random.Random(seed)
    centers = [[2.0 * math.cos(c + j) for j in range(d)] for c in range(k)]
    lines = []
    for _ in range(n):
        c = r.randrange(k)
        lines.append(",".join("%.4f" % (centers[c][j] + r.gauss(0, 0.5)) for j in range(d)) + ",%d" % c)
    text = "\n".join(lines) + "\n"
    if path.endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)


def idx_bytes(magic, dims, payload=b""):
    return struct.pack(">I", magic) + b"".join(struct.pack(">I", x) for x in dims) + payload


def write_file(path, data):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(data)


def idx_pair(folder, n, side=8, k=4, seed=1):
    """n side x side uint8 images, k classes: a bright band per class plus noise."""
    r = random.Random(seed)
    pix = bytearray()
    labels = bytearray()
    for _ in range(n):
        c = r.randrange(k)
        labels.append(c)
        for y in range(side):
            for x in range(side):
                on = (y * k) // side == c
                pix.append(min(255, max(0, int((200 if on else 30) + r.gauss(0, 40)))))
    xi = os.path.join(folder, "x-idx3-ubyte.gz")
    yi = os.path.join(folder, "y-idx1-ubyte.gz")
    write_file(xi, idx_bytes(0x803, [n, side, side], bytes(pix)))
    write_file(yi, idx_bytes(0x801, [n], bytes(labels)))
    return xi, yi


def config(folder, data, layers, epochs=3, batch=16, extra="", name="c.yaml"):
    text = ("data: %s\nmodel:\n  layers:\n%s"
            "train: {epochs: %d, batch_size: %d, threads: 1}\n"
            "output: {dir: %s, checkpoint_every: 1}\n%s"
            % (data, "".join("    - %s\n" % l for l in layers), epochs, batch,
               os.path.join(folder, "run"), extra))
    path = os.path.join(folder, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def tiny_csv_config(folder, epochs=3, rows=60, extra=""):
    blobs_csv(os.path.join(folder, "d.csv"), rows)
    return config(folder, "{train: {path: d.csv}, validation: {split: 0.25}}",
                  ["{type: dense, units: 3, activation: softmax}"], epochs=epochs, extra=extra)


def tmp_files(folder):
    if not os.path.isdir(folder):
        return []
    return [f for f in os.listdir(folder) if f.endswith(".tmp")]


def ckpt_epoch(path):
    res = run(["info", path, "--format", "json"])
    need(res.rc == 0, "bptrain info %s: %r" % (path, res))
    m = re.search(r'"epoch"\s*:\s*(\d+)', res.out)
    need(m, "info --format json has no epoch: %s" % res.out)
    return int(m.group(1))


def metrics_epochs(folder):
    with open(os.path.join(folder, "metrics.csv")) as f:
        lines = f.read().split("\n")
    need(lines[0] == HEADER, "metrics.csv header: %r" % lines[0])
    need(HEADER not in lines[1:], "metrics.csv has a second header")
    return [int(l.split(",")[0]) for l in lines[1:-1]]   # complete rows; lines[-1] follows the last newline


def metrics_whole(folder):
    """None, or what is half-written about metrics.csv."""
    with open(os.path.join(folder, "metrics.csv")) as f:
        text = f.read()
    if text and not text.endswith("\n"):
        return "metrics.csv ends with a half-written row %r" % text[text.rfind("\n") + 1:]
    bad = [l for l in text.split("\n")[1:-1] if l.count(",") != 6]
    if bad:
        return "metrics.csv has malformed rows: %r" % bad[:3]
    return None


# ---------------------------------------------------------------- checks

def which_file(line):
    for f in ("last.ckpt", "best.ckpt", "metrics.csv", "config.yaml", "summary.json", "curves.svg", "layers.csv"):
        if f in line:
            return f
    return "?"


# The files a run rewrites or appends to as each epoch ends. curves.svg is
# the largest of them from the first epoch on, so a file-size limit below it
# stops the run there; which one fails first depends on the limit.
EPOCH_FILES = ("metrics.csv", "layers.csv", "curves.svg")


@check
def c1_write_failures():
    """RLIMIT_FSIZE: a checkpoint write and a per-epoch write (metrics.csv,
    layers.csv, curves.svg) fail mid-run."""
    d = fresh("write")
    epochs = 40
    cfg = tiny_csv_config(d, epochs=epochs)
    run_dir = os.path.join(d, "run")
    # Sizes of an unhindered run.
    base = os.path.join(d, "base")
    res = run(["train", cfg, "--quiet", "--set", "output.dir=" + base])
    need(res.rc == 0, "unhindered run: %r" % res)
    ck = os.path.getsize(os.path.join(base, "last.ckpt"))
    cf = os.path.getsize(os.path.join(base, "config.yaml"))
    ms = os.path.getsize(os.path.join(base, "metrics.csv"))
    big = max(os.path.getsize(os.path.join(base, f)) for f in os.listdir(base))
    note("sizes: checkpoint %d, config.yaml %d, metrics.csv %d, largest file %d bytes" % (ck, cf, ms, big))
    need(cf < ck < ms, "test set-up: want config.yaml < checkpoint < metrics.csv to aim the limits")
    failed_files = {}
    half = []   # half-written files: reported at the end, so the other cases still run

    def after_failure(res, what, prev=None):
        line = expect_error(res, 1, what)
        failed_files.setdefault(which_file(line), line)
        need(not tmp_files(run_dir), "%s: temporary files left: %s" % (what, tmp_files(run_dir)))
        if os.path.exists(os.path.join(run_dir, "metrics.csv")):
            h = metrics_whole(run_dir)
            if h:
                half.append("%s: %s" % (what, h))
        last = os.path.join(run_dir, "last.ckpt")
        if prev is not None:
            need(open(last, "rb").read() == prev, "%s: the previous last.ckpt changed" % what)
        if os.path.exists(last):
            return ckpt_epoch(last)
        return None

    # A: the previous last.ckpt (epoch 3) survives a failed checkpoint write on resume.
    res = run(["train", cfg, "--quiet", "--force", "--set", "train.epochs=3"])
    need(res.rc == 0, "3-epoch run: %r" % res)
    prev = open(os.path.join(run_dir, "last.ckpt"), "rb").read()
    res = run(["train", cfg, "--quiet", "--resume", os.path.join(run_dir, "last.ckpt")],
              preexec=limits(fsize=(cf + ck) // 2))
    e = after_failure(res, "resume with a checkpoint-sized limit", prev)
    need(e == 3, "the previous last.ckpt should be at epoch 3, info says %s" % e)
    need(which_file(res.err) in ("last.ckpt", "best.ckpt"),
         "the failure should be a checkpoint write: %s" % res.err.strip())
    res = run(["train", cfg, "--quiet", "--resume", os.path.join(run_dir, "last.ckpt")])
    need(res.rc == 0, "resume after the failed write: %r" % res)
    need(metrics_epochs(run_dir) == list(range(1, epochs + 1)), "metrics.csv epochs after resume: %s"
         % metrics_epochs(run_dir))

    # B: a per-epoch file outgrows the limit mid-run, after some checkpoints were written.
    res = run(["train", cfg, "--quiet", "--force"], preexec=limits(fsize=ck + 120))
    e = after_failure(res, "fresh run with a limit just above the checkpoint")
    need(which_file(res.err) in EPOCH_FILES, "the failure should be a per-epoch write: %s" % res.err.strip())
    need(e is not None and 1 <= e < epochs, "last.ckpt after the metrics failure: epoch %s" % e)
    rows = metrics_epochs(run_dir)
    need(rows == list(range(1, e + 1)), "metrics.csv rows %s but last.ckpt is at epoch %d" % (rows, e))
    res = run(["train", cfg, "--quiet", "--resume", os.path.join(run_dir, "last.ckpt")])
    need(res.rc == 0, "resume after the metrics failure: %r" % res)
    need(metrics_epochs(run_dir) == list(range(1, epochs + 1)), "metrics.csv epochs after resume: %s"
         % metrics_epochs(run_dir))

    # C: a sweep of limits, each a fresh run.
    rr = random.Random(7)
    lims = sorted({60, cf - 1, cf + 1, ck - 1, ck, ck + 1, ck + 300, ms - 1, ms, ms + 50, big - 1, big} |
                  {rr.randrange(1, ms + 100) for _ in range(6)})
    for lim in lims:
        res = run(["train", cfg, "--quiet", "--force"], preexec=limits(fsize=lim))
        if res.rc == 0:
            need(lim >= big, "limit %d: a run that exceeded the limit exited 0" % lim)
            continue
        e = after_failure(res, "limit %d" % lim)
        note("limit %5d: %s" % (lim, res.err.strip()[:150]))
    need((set(EPOCH_FILES) & set(failed_files)) and ({"last.ckpt", "best.ckpt"} & set(failed_files)),
         "wanted both a checkpoint and a per-epoch write to fail; failed: %s" % sorted(failed_files))
    need(not half, "%d failed runs left a half-written file (SPEC: never leaves a half-written file "
         "behind); first: %s" % (len(half), half[0]) if half else "")


@check
def c2_sigkill():
    """SIGKILL at >= 20 random moments; last.ckpt always loads and resumes."""
    d = fresh("kill")
    idx_pair(d, 3000, side=16)
    cfg = config(d, "{train: {images: x-idx3-ubyte.gz, labels: y-idx1-ubyte.gz}, validation: {split: 0.2}}",
                 ["{type: dense, units: 128, activation: relu}", "{type: dense, units: 4, activation: softmax}"],
                 epochs=1000, batch=8)
    run_dir = os.path.join(d, "run")
    last = os.path.join(run_dir, "last.ckpt")
    # How long the start-up and one epoch take, to aim the kills.
    t1 = run(["train", cfg, "--quiet", "--force", "--set", "train.epochs=1"])
    t3 = run(["train", cfg, "--quiet", "--force", "--set", "train.epochs=3"])
    need(t1.rc == 0 and t3.rc == 0, "timing runs: %r %r" % (t1, t3))
    per_epoch = max(0.005, (t3.seconds - t1.seconds) / 2)
    startup = max(0.0, t1.seconds - per_epoch)
    note("start-up %.3fs, %.3fs per epoch, checkpoint %d KB"
         % (startup, per_epoch, os.path.getsize(last) // 1024))
    shutil.rmtree(run_dir)
    r = random.Random(int(os.environ.get("FAULT_SEED", "12345")))
    kills = loads = resumes = mid_write = 0
    seen_epochs = []
    for i in range(24):
        if os.path.exists(last):
            e = ckpt_epoch(last)   # fails the check if it does not load
            loads += 1
            seen_epochs.append(e)
            args = ["train", cfg, "--quiet", "--resume", last]
            resumes += 1
        else:
            args = ["train", cfg, "--quiet", "--force"]
        at = r.uniform(0.01, startup + 5 * per_epoch)
        res = run(args, kill_after=at)
        need(res.rc == -signal.SIGKILL, "run %d (%s) should have been killed at %.2fs, %r"
             % (i, " ".join(args[3:]), at, res))
        kills += 1
        if tmp_files(run_dir):
            mid_write += 1
    need(os.path.exists(last), "after %d kills no last.ckpt was ever written" % kills)
    e = ckpt_epoch(last)
    res = run(["train", cfg, "--quiet", "--resume", last, "--set", "train.epochs=%d" % (e + 2)])
    need(res.rc == 0, "final resume from epoch %d: %r" % (e, res))
    need(metrics_epochs(run_dir) == list(range(1, e + 3)), "metrics.csv epochs at the end: %s"
         % metrics_epochs(run_dir))
    need(not tmp_files(run_dir), "temporary files left at the end: %s" % tmp_files(run_dir))
    note("%d kills (%d left a .tmp behind), %d checkpoints loaded, epochs reached %s, final run to epoch %d"
         % (kills, mid_write, loads, seen_epochs, e + 2))


def chattr(flag, path):
    return shutil.which("chattr") and subprocess.run(
        ["chattr", flag, path], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0


@check
def c3_unwritable_output():
    """Output under a regular file; a read-only output folder."""
    d = fresh("ro")
    cfg = tiny_csv_config(d)
    afile = os.path.join(d, "afile")
    with open(afile, "w") as f:
        f.write("x\n")
    for out in (os.path.join(afile, "sub"), os.path.join(afile, "sub", "deeper"), afile):
        res = run(["train", cfg, "--quiet", "--set", "output.dir=" + out])
        expect_error(res, 1, "output.dir=%s" % out)
        note("%s -> %s" % (os.path.relpath(out, d), res.err.strip()[:140]))
    ro = os.path.join(d, "readonly")
    os.makedirs(ro)
    # A finished run inside, to try --resume and --force against it too.
    inside = os.path.join(ro, "run")
    res = run(["train", cfg, "--quiet", "--set", "output.dir=" + inside])
    need(res.rc == 0, "set-up run: %r" % res)
    before = open(os.path.join(inside, "last.ckpt"), "rb").read()
    if os.geteuid() != 0:
        how = "chmod 0555"
        os.chmod(ro, 0o555)
        os.chmod(inside, 0o555)
        undo = lambda: (os.chmod(ro, 0o755), os.chmod(inside, 0o755))
    elif chattr("+i", ro) and chattr("+i", inside):
        how = "chattr +i (running as root, where chmod does not stop writes)"
        undo = lambda: (chattr("-i", inside), chattr("-i", ro))
    else:
        chattr("-i", ro)
        raise Skip("read-only folder: running as root and chattr +i is not available here "
                   "(the output-under-a-regular-file cases passed)")
    try:
        note("read-only by " + how)
        cases = [(["--set", "output.dir=" + os.path.join(ro, "new")], "a new folder in a read-only one"),
                 (["--set", "output.dir=" + inside, "--force"], "--force into a read-only run folder"),
                 (["--set", "output.dir=" + inside, "--resume", os.path.join(inside, "last.ckpt"),
                   "--set", "train.epochs=5"], "--resume in a read-only run folder")]
        for extra, what in cases:
            res = run(["train", cfg, "--quiet"] + extra)
            expect_error(res, 1, what)
            note("%s -> %s" % (what, res.err.strip()[:140]))
        need(open(os.path.join(inside, "last.ckpt"), "rb").read() == before, "last.ckpt changed")
    finally:
        undo()
    if how.startswith("chattr"):
        # A writable folder whose last.ckpt cannot be replaced: the rename fails.
        part = os.path.join(d, "part")
        res = run(["train", cfg, "--quiet", "--set", "output.dir=" + part])
        need(res.rc == 0, "set-up run: %r" % res)
        lastp = os.path.join(part, "last.ckpt")
        before = open(lastp, "rb").read()
        need(chattr("+i", lastp), "chattr +i on a file failed")
        try:
            res = run(["train", cfg, "--quiet", "--set", "output.dir=" + part, "--resume", lastp,
                       "--set", "train.epochs=5"])
            expect_error(res, 1, "an immutable last.ckpt", ["last.ckpt"])
            note("an immutable last.ckpt -> %s" % res.err.strip()[:140])
        finally:
            chattr("-i", lastp)
        need(open(lastp, "rb").read() == before, "last.ckpt changed")
        need(not tmp_files(part), "temporary files left: %s" % tmp_files(part))


def small_ckpt(d):
    cfg = tiny_csv_config(d, epochs=2)
    res = run(["train", cfg, "--quiet"])
    need(res.rc == 0, "set-up run: %r" % res)
    return open(os.path.join(d, "run", "last.ckpt"), "rb").read()


def fix_crc(b):
    b = bytearray(b)
    b[-4:] = struct.pack("<I", zlib.crc32(bytes(b[:-4])) & 0xFFFFFFFF)
    return bytes(b)


@check
def c4_checkpoints():
    """A newer format version; every single-byte change; every truncation."""
    d = fresh("ckpt")
    good = small_ckpt(d)
    need(good[:8] == CKPT_MAGIC, "checkpoint magic: %r" % good[:8])
    need(fix_crc(good) == good, "the trailing CRC-32 is not zlib.crc32 of the rest, little-endian")
    version = struct.unpack("<I", good[8:12])[0]
    note("checkpoint: %d bytes, format version %d" % (len(good), version))
    for v in (version + 1, 0xFFFFFFFF):
        p = os.path.join(d, "v%d.ckpt" % v)
        with open(p, "wb") as f:
            f.write(fix_crc(good[:8] + struct.pack("<I", v) + good[12:]))
        for cmd in (["info", p], ["eval", p]):
            res = run(cmd)
            line = expect_error(res, 3, "%s of a version-%d checkpoint" % (cmd[0], v), ["version"])
            need(str(v) in line, "the error should name version %d: %s" % (v, line))
        note("version %d -> %s" % (v, line))

    bad = []
    lock = threading.Lock()
    ONE_THREAD = dict(os.environ, OPENBLAS_NUM_THREADS="1")   # a quicker start-up

    def probe(kind, i, data):
        p = os.path.join(d, "%s%d.ckpt" % (kind, i))
        with open(p, "wb") as f:
            f.write(data)
        res = run(["info", p], timeout=60, env=ONE_THREAD)
        lines = res.err.rstrip("\n").split("\n")
        ok = res.rc == 3 and len(lines) == 1 and lines[0].startswith("bptrain: error: ")
        os.unlink(p)
        if not ok:
            with lock:
                bad.append("%s at %d: %r" % (kind, i, res))

    # Every byte and every length on a plain build; the sanitizer build, whose
    # process start is ~10x slower, takes every 4th (the plain run is exhaustive).
    step = 4 if ASAN else 1
    jobs = [("xor", i, good[:i] + bytes([good[i] ^ 0xFF]) + good[i + 1:]) for i in range(0, len(good), step)]
    jobs += [("cut", n, good[:n]) for n in range(0, len(good), step)]
    t = time.time()
    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        for f in [ex.submit(probe, *j) for j in jobs]:
            f.result()
    note("%d corrupted copies checked in %.1fs" % (len(jobs), time.time() - t))
    need(not bad, "%d of %d damaged checkpoints not rejected cleanly with exit 3; first: %s"
         % (len(bad), len(jobs), "; ".join(sorted(bad)[:5])))


def hostile(res, codes, what, seconds=10):
    if res.rc == 0 and 0 in codes:
        line = "exit 0 (accepted)"
    else:
        line = expect_error(res, codes, what)
    need(res.rss_kb > 0, "%s: no peak RSS measured" % what)
    need(res.rss_kb < RSS_LIMIT_KB, "%s: peak RSS %d MB (limit %d MB)" % (what, res.rss_kb // 1024,
                                                                         RSS_LIMIT_KB // 1024))
    need(res.seconds < seconds, "%s: took %.1fs" % (what, res.seconds))
    note("%-34s %4.1f MB %5.2fs  %s" % (what, res.rss_kb / 1024, res.seconds, line[:110]))


@check
def c5_hostile_inputs():
    """Lying headers, a 10 MB line, YAML bombs: clean error, small, quick."""
    d = fresh("hostile")
    layers = ["{type: dense, units: 3, activation: softmax}"]
    big = 1 << 31
    # IDX headers that claim far more than the file holds.
    for gz in ("", ".gz"):
        for what, xdims, ydims, xlen, ylen in (
                ("images claim 2^31 items", [big, 28, 28], [big], 1000, 100),
                ("images claim 2^31 items, labels 10", [big, 28, 28], [10], 1000, 10),
                ("labels claim 2^31 items", [10, 4, 4], [big], 160, 10),
                ("dims multiply past 2^64", [big, 1 << 31, 1 << 31], [big], 1000, 100),
                ("zero-size images", [big, 0, 28], [10], 0, 10),
                ("2^31 zero-size images and labels", [big, 0], [big], 0, 0)):
            x = os.path.join(d, "x-idx3-ubyte" + gz)
            y = os.path.join(d, "y-idx1-ubyte" + gz)
            write_file(x, idx_bytes(0x800 + len(xdims), xdims, bytes(range(256)) * (xlen // 256) + bytes(xlen % 256)))
            write_file(y, idx_bytes(0x801, ydims, bytes(i % 3 for i in range(ylen))))
            cfg = config(d, "{train: {images: %s, labels: %s}}" % (x, y), layers)
            hostile(run(["train", cfg, "--quiet", "--force"], measure=True), (2, 3), "IDX%s %s" % (gz or " plain", what))
    # CSV lines of 10 MB.
    ten = 10 * 1024 * 1024
    rows = ["%d.5,%d.25,%d\n" % (i, -i, i % 3) for i in range(20)]
    for what, line in (("10 MB line of columns", ("1," * (ten // 2)) + "1"),
                       ("10 MB number", "1" * ten + ",2,0"),
                       ("10 MB number with a point", "0." + "1" * ten + ",2,0"),
                       ("10 MB of text", "x" * ten),
                       ("10 MB line without newline", None)):
        p = os.path.join(d, "big.csv")
        with open(p, "w") as f:
            if line is None:
                f.write("".join(rows) + "2" * ten)
            else:
                f.write("".join(rows[:10]) + line + "\n" + "".join(rows[10:]))
        line = None
        cfg = config(d, "{train: {path: big.csv}}", layers)
        # a 10 MB number with a point is a number (0.111...): training on it is fine too
        hostile(run(["train", cfg, "--quiet", "--force", "--set", "train.epochs=1"], measure=True),
                (0, 2, 3) if "point" in what else (2, 3), "CSV " + what)
    # YAML: billion laughs, deep nesting.
    lol = ['a0: &a0 "lol"'] + ["a%d: &a%d [%s]" % (i, i, ", ".join(["*a%d" % (i - 1)] * 9)) for i in range(1, 10)]
    bomb = "\n".join(lol) + "\n"
    data = "data: {train: {path: d.csv}}\nmodel: {layers: [{type: dense, units: 3}]}\n"
    blobs_csv(os.path.join(d, "d.csv"), 20)
    n = 10000
    yamls = (("billion laughs", bomb + data),
             ("billion laughs under a key", data + "x:\n  " + bomb.rstrip("\n").replace("\n", "\n  ") + "\nname: *a9\n"),
             ("10000-deep flow lists", data + "name: " + "[" * n + "]" * n + "\n"),
             ("10000-deep flow mappings", data + "name: " + "{a: " * n + "1" + "}" * n + "\n"),
             ("10000-deep block lists", data + "name:\n  " + "- " * n + "x\n"),
             ("10000 unclosed brackets", data + "name: " + "[" * n + "\n"))
    for what, text in yamls:
        p = os.path.join(d, "y.yaml")
        with open(p, "w") as f:
            f.write(text)
        hostile(run(["train", p, "--quiet", "--force"], measure=True), (2,), "YAML " + what)
    cfg = os.path.join(d, "ok.yaml")
    with open(cfg, "w") as f:
        f.write(data)
    for what, val in (("--set 10000-deep list", "[" * n + "]" * n), ("--set 10000-deep map", "{a: " * n + "}" * n),
                      ("--set alias", "*a"), ("--set 100 KB value", "x" * 100000)):
        hostile(run(["train", cfg, "--quiet", "--force", "--set", "model.layers.0.units=" + val], measure=True),
                (2,), what)


@check
def c6_out_of_memory():
    """2e9 units; an allocation that fails under RLIMIT_AS."""
    d = fresh("oom")
    blobs_csv(os.path.join(d, "d.csv"), 50, d=20)
    cfg = config(d, "{train: {path: d.csv}}", ["{type: dense, units: 8, activation: relu}",
                                              "{type: dense, units: 3, activation: softmax}"])
    env = dict(os.environ)
    if ASAN:   # ASan's own policy is to die on a failed huge allocation; bptrain's is what we test
        env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":allocator_may_return_null=1"
    for units in ("2000000000", "2147483647", "1000000000"):
        # a safety net so that an over-committing kernel cannot take the machine down
        res = run(["train", cfg, "--quiet", "--force", "--threads", "1", "--set", "model.layers.0.units=" + units],
                  env=env, preexec=None if ASAN else limits(as_bytes=16 << 30), timeout=60)
        line = expect_error(res, 1, "units=" + units, ["memory"])
        note("units=%s -> %.2fs, %s" % (units, res.seconds, line[:150]))
    if ASAN:
        raise Skip("RLIMIT_AS cases: ASan reserves terabytes of address space, so they run only "
                   "on a build without sanitizers (the units cases passed)")
    # One OpenBLAS thread (one 128 MB work buffer) leaves bptrain's own
    # allocations to fail under the limit, which is what these cases test.
    env1 = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    # The net needs ~1.2 GB: 100 inputs x 3,000,000 units.
    blobs_csv(os.path.join(d, "w.csv"), 40, d=100)
    cfg = config(d, "{train: {path: w.csv}}", ["{type: dense, units: 3000000, activation: relu}",
                                              "{type: dense, units: 3, activation: softmax}"], name="w.yaml")
    res = run(["train", cfg, "--quiet", "--force", "--threads", "1"], preexec=limits(as_bytes=300 << 20),
              timeout=60, env=env1)
    line = expect_error(res, 1, "a 1.2 GB net under RLIMIT_AS=300 MB", ["memory"])
    note("1.2 GB net, RLIMIT_AS 300 MB -> %s" % line[:150])
    # The data needs ~420 MB: 410,000 32x32 uint8 images of zeros (gzip makes that 400 KB).
    x = os.path.join(d, "big-idx3-ubyte.gz")
    y = os.path.join(d, "big-idx1-ubyte.gz")
    n = 410000
    with gzip.open(x, "wb", compresslevel=1) as f:
        f.write(idx_bytes(0x803, [n, 32, 32]))
        chunk = bytes(1024 * 1024)
        left = n * 1024
        while left:
            f.write(chunk[:min(left, len(chunk))])
            left -= min(left, len(chunk))
    write_file(y, idx_bytes(0x801, [n], bytes(n)))
    cfg = config(d, "{train: {images: %s, labels: %s}}" % (x, y), ["{type: dense, units: 3, activation: softmax}"],
                 epochs=1, batch=4096, name="big.yaml")
    res = run(["train", cfg, "--quiet", "--force", "--threads", "1"], preexec=limits(as_bytes=300 << 20),
              timeout=120, env=env1)
    line = expect_error(res, 1, "420 MB of IDX data under RLIMIT_AS=300 MB", ["memory"])
    note("420 MB of data, RLIMIT_AS 300 MB -> %s" % line[:150])


@check
def c6b_blas_under_rlimit_as():
    """A tiny net under RLIMIT_AS=250 MB: trains, or exit 1 about memory; never hangs.

    OpenBLAS (before 0.3.30, OpenBLAS issue #5289 / PR #5303) retries its
    128 MB work-buffer allocation forever in blas_memory_alloc when malloc
    fails, so the first sgemm spins at 100% CPU, and SIGTERM cannot stop it
    (the handler only sets a flag)."""
    if ASAN:
        raise Skip("ASan reserves terabytes of address space; RLIMIT_AS cannot be used")
    d = fresh("blas_as")
    cfg = tiny_csv_config(d, epochs=2)
    results = []
    for lim_mb in (250, 150):
        res = run(["train", cfg, "--quiet", "--force", "--threads", "1"], preexec=limits(as_bytes=lim_mb << 20),
                  kill_after=20)
        need(res.rc != -signal.SIGKILL, "RLIMIT_AS=%d MB, a 15-parameter net: still running after 20s (stuck "
             "in OpenBLAS blas_memory_alloc retrying a failed malloc forever); expected exit 0, or exit 1 "
             "with a memory message" % lim_mb)
        if res.rc != 0:
            expect_error(res, 1, "RLIMIT_AS=%d MB" % lim_mb, ["memory"])
        results.append("%d MB: exit %d %s" % (lim_mb, res.rc, res.err.strip()[:100]))
    note("; ".join(results))


@check
def c7_valgrind():
    """Train 2 epochs + eval (+ resume, predict, info, report) under valgrind: no errors, no definite/indirect leaks."""
    vg = shutil.which("valgrind")
    if not vg:
        raise Skip("valgrind is not installed (scripts/setup.sh valgrind installs it)")
    if ASAN:
        raise Skip("this bptrain is built with ASan, which valgrind cannot run")
    d = fresh("valgrind")
    blobs_csv(os.path.join(d, "d.csv"), 80)
    blobs_csv(os.path.join(d, "t.csv"), 30, seed=2)
    cfg = config(d, "{train: {path: d.csv}, test: {path: t.csv}, validation: {split: 0.25}}",
                 ["{type: dense, units: 8, activation: relu}", "{type: dropout, rate: 0.2}",
                  "{type: dense, units: 3, activation: softmax}"], epochs=2)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    vgargs = [vg, "-q", "--leak-check=full", "--error-exitcode=1", "--errors-for-leak-kinds=definite,indirect"]
    with open(os.path.join(d, "in.csv"), "w") as f:
        f.write("0.5,0.25\n-1,2\n3,0\n")
    last = os.path.join(d, "run", "last.ckpt")
    for args in (["train", cfg, "--threads", "1", "--quiet"],
                 ["eval", os.path.join(d, "run", "best.ckpt"), "--confusion"],
                 ["train", cfg, "--threads", "1", "--quiet", "--resume", last, "--set", "train.epochs=3"],
                 ["predict", last, os.path.join(d, "in.csv"), "--proba"],
                 ["info", last, "--format", "json"],
                 ["report", os.path.join(d, "run")]):
        t = time.time()
        p = subprocess.run(vgargs + [BPTRAIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           env=env, timeout=400)
        err = p.stderr.decode("utf-8", "replace")
        need(p.returncode == 0, "valgrind bptrain %s: exit %d\n%s" % (args[0], p.returncode, err[-4000:]))
        note("valgrind %s: clean in %.1fs" % (" ".join(a for a in args if "/" not in a)[:60], time.time() - t))


# ---------------------------------------------------------------- main

def unfreeze(folder):
    """Clears chattr +i from anything a failed check left immutable."""
    if os.geteuid() == 0 and shutil.which("chattr"):
        for root, dirs, files in os.walk(folder):
            for x in dirs + files:
                chattr("-i", os.path.join(root, x))


def main():
    global BPTRAIN, TMP, ASAN
    if len(sys.argv) < 2:
        print("usage: test_faults.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    with open(BPTRAIN, "rb") as f:
        ASAN = b"__asan_init" in f.read()
    TMP = tempfile.mkdtemp(prefix="bptrain-faults-")
    return run_checks(only, TMP, lambda fn: fn.__name__[1], cleanup=unfreeze)

if __name__ == "__main__":
    sys.exit(main())
