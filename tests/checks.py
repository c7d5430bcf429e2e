"""The harness the end-to-end test scripts share (test_train_e2e.py,
test_faults.py): named checks registered with @check, need() to assert,
Skip for a check that cannot run here, and run_checks(), which prints one
line per check and ends with "N passed, M failed"."""
import gzip
import os
import shutil
import struct
import sys
import time

CHECKS = []


class CheckFailed(Exception):
    pass


class Skip(Exception):
    pass


def need(cond, msg):
    if not cond:
        raise CheckFailed(msg)


def check(fn):
    CHECKS.append(fn)
    return fn


def run_checks(only, tmp, number, cleanup=None):
    """Runs the checks whose number(fn) or name matches one of only (all
    when only is empty), then removes tmp (after cleanup(tmp), if given)
    unless KEEP_TMP is set. Returns the exit status: 1 when any failed."""
    passed = failed = skipped = 0
    t_all = time.time()
    try:
        for fn in CHECKS:
            if only and not any(o == number(fn) or o in fn.__name__ for o in only):
                continue
            t = time.time()
            try:
                fn()
                passed += 1
                print("ok   %s (%.1fs)" % (fn.__name__, time.time() - t))
            except Skip as e:
                skipped += 1
                print("skip %s (%.1fs): %s" % (fn.__name__, time.time() - t, e))
            except CheckFailed as e:
                failed += 1
                print("FAIL %s (%.1fs): %s" % (fn.__name__, time.time() - t, e))
            except Exception as e:   # a crash of the test itself is a failure too
                failed += 1
                print("FAIL %s (%.1fs): %s: %s" % (fn.__name__, time.time() - t, type(e).__name__, e))
            sys.stdout.flush()
    finally:
        if os.environ.get("KEEP_TMP"):
            print("kept " + tmp)
        else:
            if cleanup:
                cleanup(tmp)
            shutil.rmtree(tmp, ignore_errors=True)
    print("total %.1fs%s" % (time.time() - t_all, " (%d skipped)" % skipped if skipped else ""))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


FM = "/usr/share/datasets/fashion-mnist"   # Debian's dataset-fashion-mnist


def fashion_subset(folder, split, n):
    """The first n samples of a Fashion-MNIST split ("train" or "test") as a
    new IDX pair in folder, so that a config trains in seconds (under ASan
    too). Returns [images, labels]."""
    prefix = "train" if split == "train" else "t10k"
    out = []
    for kind, hdr in (("images", 16), ("labels", 8)):
        with gzip.open(os.path.join(FM, "%s-%s-idx%d-ubyte.gz" % (prefix, kind, 3 if kind == "images" else 1))) as f:
            head = f.read(hdr)
            body = f.read(n * (784 if kind == "images" else 1))
        head = head[:4] + struct.pack(">I", n) + head[8:]
        path = os.path.join(folder, "%s-%s-%d-idx-ubyte" % (prefix, kind, n))
        with open(path, "wb") as f:
            f.write(head + body)
        out.append(path)
    return out
