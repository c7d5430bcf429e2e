#!/usr/bin/env python3
"""End-to-end tests of a run's pictures and diagnostics (SPEC: A run's
folder; bptrain report): curves.svg, layers.csv and `bptrain report`.

Usage: test_report_e2e.py PATH/TO/bptrain [CHECK-NUMBER-OR-NAME...]

Each check trains a few epochs of a small generated dataset in a temporary
folder. curves.svg must parse as XML and its polylines, mapped back through
each plot's axes (the data-x/data-y attributes), must give metrics.csv's
values; layers.csv must have one row per epoch and layer with finite values
where they apply, weight_rms equal to the RMS of the checkpoint's weights
(read from `bptrain export --format safetensors`), update_ratio exactly 0
when the rate rounds to 0 in float, dead_fraction equal to what the
weights give on the training set; diagnostics must not change
metrics.csv; a resumed run must write the same files as one that never
stopped. The report checks follow.
"""
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET

from checks import check, need, run_checks

BPTRAIN = None
TMP = None
SVG = "{http://www.w3.org/2000/svg}"
FEATURES, SAMPLES, TESTS = 8, 400, 120


def write_blobs(path, n, seed):
    """Three classes in FEATURES dimensions, features in [0, 1] (so that
    some relu units of a fresh net see only negative inputs)."""
    r = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(n):
            c = r.randrange(3)
            xs = [min(1.0, max(0.0, 0.5 + 0.3 * math.cos(2 * math.pi * c / 3 + j) + r.gauss(0, 0.15)))
                  for j in range(FEATURES)]
            f.write(",".join("%.5f" % x for x in xs) + ",%d\n" % c)


LAYERS = ("    - {type: dense, units: 16, activation: relu}\n"
          "    - {type: dropout, rate: 0.2}\n"
          "    - {type: dense, units: 12, activation: relu}\n"
          "    - {type: dense, units: 3, activation: softmax}\n")
TYPES = ["dense", "dropout", "dense", "dense"]


def make_config(folder, extra="", layers=LAYERS, validation="  validation: {split: 0.2}\n", test=True):
    if not os.path.exists(os.path.join(folder, "train.csv")):
        write_blobs(os.path.join(folder, "train.csv"), SAMPLES, 5)
        write_blobs(os.path.join(folder, "test.csv"), TESTS, 6)
    path = os.path.join(folder, "c.yaml")
    with open(path, "w") as f:
        f.write("name: blobs\nseed: 11\n"
                "data:\n  train: {path: train.csv}\n%s%s"
                "model:\n  layers:\n%s"
                "loss: cross_entropy\n"
                "optimizer: {type: adam, lr: 0.01}\n"
                "train: {epochs: 5, batch_size: 16, threads: 2}\n%s"
                % ("  test: {path: test.csv}\n" if test else "", validation, layers, extra))
    return path


def fresh():
    return tempfile.mkdtemp(dir=TMP)


def bp(*args, cwd=None):
    return subprocess.run([BPTRAIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=120, cwd=cwd)


def ok(p, what):
    need(p.returncode == 0, "%s: exit %d, stderr %r" % (what, p.returncode, p.stderr))


def train(cfg, out, *extra):
    p = bp("train", cfg, "--out", out, "--quiet", "--no-progress", *extra)
    ok(p, "train " + " ".join(str(e) for e in extra))
    return out


def read_csv(path):
    with open(path) as f:
        lines = f.read().splitlines()
    head = lines[0].split(",")
    return head, [dict(zip(head, line.split(","))) for line in lines[1:]]


def num(cell):
    return float(cell) if cell != "" else float("nan")


def parse_svg(path):
    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise AssertionError("%s is not XML: %s" % (path, e))


def plots(root):
    """{name: (element, xmap, ymap)} of every <g class="plot">."""
    out = {}
    for g in root.iter(SVG + "g"):
        if g.get("class") == "plot":
            x = [float(v) for v in g.get("data-x").split()]
            y = g.get("data-y").split()
            out[g.get("data-name")] = (g, x, [float(v) for v in y[:4]] + [y[4]])
    return out


def unmap(px, axis):
    lo, hi, p0, p1 = axis[:4]
    log = len(axis) > 4 and axis[4] == "log"
    if log:
        lo, hi = math.log10(lo), math.log10(hi)
    v = lo + (px - p0) / (p1 - p0) * (hi - lo)
    return 10 ** v if log else v


def series_points(g, xmap, ymap):
    """{series: [(x, y), ...]} of a plot's polylines and lone dots, in
    document order, mapped back to data values."""
    out = {}
    for el in g:
        name = el.get("data-series")
        if not name:
            continue
        if el.tag == SVG + "polyline":
            pts = [tuple(float(c) for c in p.split(",")) for p in el.get("points").split()]
        elif el.tag == SVG + "circle":
            pts = [(float(el.get("cx")), float(el.get("cy")))]
        else:
            continue
        out.setdefault(name, []).extend((unmap(x, xmap), unmap(y, ymap)) for x, y in pts)
    return out


def pixel_tolerance(axis):
    """Two hundredths of a pixel in data units (points are written with two decimals)."""
    lo, hi, p0, p1 = axis[:4]
    return abs(hi - lo) / abs(p1 - p0) * 0.006 + 1e-12


def check_curves_follow(run):
    """Every series of curves.svg equals metrics.csv's column, epoch by epoch."""
    root = parse_svg(os.path.join(run, "curves.svg"))
    need(root.tag == SVG + "svg", "the root is %s" % root.tag)
    need(root.get("viewBox", "").startswith("0 0 "), "no viewBox")
    need(root.find(SVG + "title") is not None and root.find(SVG + "desc") is not None, "no title/desc")
    _, rows = read_csv(os.path.join(run, "metrics.csv"))
    ps = plots(root)
    need("loss" in ps and "accuracy" in ps, "plots: %s" % sorted(ps))
    cols = {"loss": ["train_loss", "val_loss"], "accuracy": ["train_accuracy", "val_accuracy"], "lr": ["lr"]}
    checked = 0
    for name, (g, xmap, ymap) in ps.items():
        got = series_points(g, xmap, ymap)
        for col in cols[name]:
            want = [(int(r["epoch"]), num(r[col])) for r in rows if r[col] != ""]
            pts = got.get(col, [])
            need(len(pts) == len(want), "%s: %d points for %d rows" % (col, len(pts), len(want)))
            for (x, y), (e, v) in zip(pts, want):
                need(abs(x - e) <= pixel_tolerance(xmap), "%s: a point at epoch %.4f, want %d" % (col, x, e))
                need(abs(y - v) <= pixel_tolerance(ymap) + 1e-9 * abs(v),
                     "%s epoch %d: the curve says %.6g, metrics.csv %.6g" % (col, e, y, v))
                checked += 1
        need(xmap[0] == 0, "%s: the x axis starts at %g" % (name, xmap[0]))
    return root, checked


def safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    head = json.loads(data[8:8 + n].decode())
    out = {}
    for name, t in head.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        raw = data[8 + n + a:8 + n + b]
        out[name] = (t["shape"], list(struct.unpack("<%df" % (len(raw) // 4), raw)))
    return out


def rms(values):
    return math.sqrt(sum(v * v for v in values) / len(values))


@check
def c01_curves_follow_metrics():
    d = fresh()
    run = train(make_config(d), os.path.join(d, "run"))
    root, checked = check_curves_follow(run)
    need(checked == 4 * 5, "checked %d points" % checked)
    with open(os.path.join(run, "summary.json")) as f:
        s = json.load(f)
    text = "".join(root.itertext())
    need("best val_accuracy %.4g at epoch %d of 5" % (s["best_val_accuracy"], s["best_epoch"]) in text,
         "the best epoch (%s) is not marked: %r" % (s["best_epoch"], text[:300]))


@check
def c02_curves_lr_panel_and_regression():
    d = fresh()
    cfg = make_config(d, extra="", layers=LAYERS)
    with open(cfg) as f:
        text = f.read()
    with open(cfg, "w") as f:
        f.write(text.replace("lr: 0.01}", "lr: 0.01, schedule: {type: step, step_size: 2, gamma: 0.5}}"))
    run = train(cfg, os.path.join(d, "run"))
    root, _ = check_curves_follow(run)
    need("lr" in plots(root), "a changing rate has no panel")
    # mse, without validation: one panel; the run still draws.
    with open(os.path.join(d, "reg.csv"), "w") as f:
        for i in range(200):
            x = i / 200.0
            f.write("%.4f,%.4f\n" % (x, math.sin(6 * x)))
    reg = os.path.join(d, "reg.yaml")
    with open(reg, "w") as f:
        f.write("data:\n  train: {path: reg.csv}\nmodel:\n  layers:\n"
                "    - {type: dense, units: 8, activation: tanh}\n    - {type: dense, units: 1}\n"
                "loss: mse\ntrain: {epochs: 3, batch_size: 20}\n")
    run = train(reg, os.path.join(d, "reg"))
    root = parse_svg(os.path.join(run, "curves.svg"))
    ps = plots(root)
    need(sorted(ps) == ["loss"], "mse plots: %s" % sorted(ps))
    got = series_points(*ps["loss"])
    need(len(got.get("train_loss", [])) == 3 and "val_loss" not in got, "series: %s" % {k: len(v) for k, v in got.items()})


@check
def c03_layers_rows():
    d = fresh()
    run = train(make_config(d), os.path.join(d, "run"))
    head, rows = read_csv(os.path.join(run, "layers.csv"))
    need(head == ["epoch", "layer", "type", "weight_rms", "grad_rms", "update_ratio", "dead_fraction"],
         "header %s" % head)
    need([(int(r["epoch"]), int(r["layer"]), r["type"]) for r in rows]
         == [(e, i, TYPES[i]) for e in range(1, 6) for i in range(4)], "rows: %s" % rows[:6])
    for r in rows:
        i = int(r["layer"])
        cells = [r[k] for k in ("weight_rms", "grad_rms", "update_ratio", "dead_fraction")]
        if TYPES[i] == "dropout":
            need(cells == ["", "", "", ""], "dropout row %s" % r)
            continue
        for k in ("weight_rms", "grad_rms", "update_ratio"):
            need(math.isfinite(num(r[k])) and num(r[k]) > 0, "%s of %s" % (k, r))
        relu = i in (0, 2)
        need((r["dead_fraction"] != "") == relu, "dead_fraction of %s" % r)
        if relu:
            need(0 <= num(r["dead_fraction"]) <= 1, "dead_fraction of %s" % r)
    # weight_rms is the RMS of the weights at the epoch's end: last.ckpt's.
    st = os.path.join(d, "w.safetensors")
    ok(bp("export", os.path.join(run, "last.ckpt"), "--format", "safetensors", "--output", st), "export")
    tensors = safetensors(st)
    for r in rows:
        if int(r["epoch"]) == 5 and r["weight_rms"]:
            shape, w = tensors["layers.%s.W" % r["layer"]]
            want = rms(w)
            need(abs(num(r["weight_rms"]) - want) <= 1e-7 * want,
                 "layer %s: weight_rms %s, the checkpoint's W has RMS %.9g" % (r["layer"], r["weight_rms"], want))


@check
def c04_diagnostics_change_nothing():
    d = fresh()
    cfg = make_config(d)
    on = train(cfg, os.path.join(d, "on"))
    off = train(cfg, os.path.join(d, "off"), "--set", "output.diagnostics=false")
    need(not os.path.exists(os.path.join(off, "layers.csv")), "diagnostics: false wrote layers.csv")
    need(os.path.exists(os.path.join(off, "curves.svg")), "no curves.svg without diagnostics")
    strip = lambda rows: [{k: v for k, v in r.items() if k != "seconds"} for r in rows]
    a = strip(read_csv(os.path.join(on, "metrics.csv"))[1])
    b = strip(read_csv(os.path.join(off, "metrics.csv"))[1])
    need(a == b, "metrics.csv differs with diagnostics off:\n%s\n%s" % (a, b))
    one = train(cfg, os.path.join(d, "one"), "--threads", "1")
    one_off = train(cfg, os.path.join(d, "one_off"), "--threads", "1", "--set", "output.diagnostics=false")
    need(strip(read_csv(os.path.join(one, "metrics.csv"))[1]) == strip(read_csv(os.path.join(one_off, "metrics.csv"))[1]),
         "metrics.csv differs with diagnostics off on one thread")
    # The config shows the key.
    with open(os.path.join(off, "config.yaml")) as f:
        need("diagnostics: false" in f.read(), "config.yaml lacks output.diagnostics")


@check
def c05_zero_rate_and_dead_units():
    """lr 1e-60 is 0 as the float step applies it: no weight moves, so the
    update ratio is exactly 0, weight_rms stays, and the dead units are
    those the initial weights give on the training set."""
    d = fresh()
    cfg = make_config(d, validation="", extra="", layers=LAYERS.replace("    - {type: dropout, rate: 0.2}\n", ""))
    run = train(cfg, os.path.join(d, "run"), "--set", "optimizer.lr=1e-60", "--set", "train.epochs=2")
    _, rows = read_csv(os.path.join(run, "layers.csv"))
    need(len(rows) == 6, "%d rows" % len(rows))
    for r in rows:
        need(r["update_ratio"] == "0", "update_ratio %r with lr 1e-60 in %s" % (r["update_ratio"], r))
        need(num(r["grad_rms"]) > 0, "grad_rms %s" % r)
    need(rows[0]["weight_rms"] == rows[3]["weight_rms"], "weights moved: %s %s" % (rows[0], rows[3]))
    st = os.path.join(d, "w.safetensors")
    ok(bp("export", os.path.join(run, "last.ckpt"), "--format", "safetensors", "--output", st), "export")
    t = safetensors(st)
    (fi, units), w = t["layers.0.W"]
    _, b = t["layers.0.b"]
    alive = [False] * units
    with open(os.path.join(d, "train.csv")) as f:
        for line in f:
            x = [float(v) for v in line.split(",")[:FEATURES]]
            for j in range(units):
                if b[j] + sum(x[i] * w[i * units + j] for i in range(fi)) > 0:
                    alive[j] = True
    want = alive.count(False) / units
    for r in rows:
        if r["layer"] == "0":
            need(abs(num(r["dead_fraction"]) - want) < 1e-9,
                 "dead_fraction %s, the weights give %d of %d units dead" % (r["dead_fraction"], alive.count(False), units))
    need(0 < want < 1, "the fixture should have some dead units and some alive (%g)" % want)


@check
def c06_resume_continuity():
    d = fresh()
    cfg = make_config(d)
    whole = train(cfg, os.path.join(d, "whole"))
    part = os.path.join(d, "part")
    train(cfg, part, "--set", "train.epochs=2")
    shutil.copy(os.path.join(part, "last.ckpt"), os.path.join(d, "epoch2.ckpt"))
    train(cfg, part, "--resume", os.path.join(part, "last.ckpt"), "--set", "train.epochs=4")
    # Back to epoch 2 once more: rows 3 and 4 go, none is doubled.
    train(cfg, part, "--resume", os.path.join(d, "epoch2.ckpt"))
    for name in ("layers.csv", "curves.svg"):
        with open(os.path.join(whole, name)) as f:
            a = f.read()
        with open(os.path.join(part, name)) as f:
            b = f.read()
        need(a == b, "%s of the resumed run differs from the uninterrupted run's" % name)
    _, rows = read_csv(os.path.join(part, "layers.csv"))
    need([int(r["epoch"]) for r in rows] == [e for e in range(1, 6) for _ in range(4)], "epochs %s" % rows)
    check_curves_follow(part)


def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_report_e2e.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="bptrain-report-")
    return run_checks(sys.argv[2:], TMP, lambda fn: fn.__name__[1:3].lstrip("0"))


if __name__ == "__main__":
    sys.exit(main())
