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
import html.parser
import json
import math
import os
import random
import re
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


# ---------------------------------------------------------------- bptrain report

VOID = {"meta", "br", "img", "input", "hr", "link", "area", "base", "col", "embed", "source", "track", "wbr"}


class Page(html.parser.HTMLParser):
    """The page's tags, checked to nest and close."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append("</%s> closes %s" % (tag, self.stack[-1] if self.stack else "nothing"))
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def read_page(path):
    need(os.path.exists(path), "no %s" % path)
    with open(path, encoding="utf-8") as f:
        text = f.read()
    page = Page()
    page.feed(text)
    page.close()
    need(not page.errors, "%s: %s" % (path, page.errors[:3]))
    need(not page.stack, "%s: unclosed %s" % (path, page.stack))
    need(text.startswith("<!DOCTYPE html>"), "no doctype")
    # Self-contained: nothing is fetched.
    for bad in ("<script src", "<link", "<img", "<iframe", "@import", "url(", "src=", 'href="http', "href='http"):
        need(bad not in text, "the page refers to something outside it: %r" % bad)
    svgs = []
    for frag in re.findall(r"<svg.*?</svg>", text, re.S):
        try:
            svgs.append(ET.fromstring(frag.replace("<svg", '<svg xmlns="http://www.w3.org/2000/svg"', 1)))
        except ET.ParseError as e:
            raise AssertionError("an inline SVG is not XML: %s: %s" % (e, frag[:200]))
    page.svgs = svgs
    page.source = text
    page.all_text = "".join(page.text)
    return page


def report(*args, cwd=None):
    return bp("report", *args, cwd=cwd)


def confusion_cells(svg):
    return [(int(r.get("data-true")), int(r.get("data-pred")), int(r.get("data-count")))
            for r in svg.iter(SVG + "rect") if r.get("data-count") is not None]


def test_labels(path):
    with open(path) as f:
        return [int(line.rsplit(",", 1)[1]) for line in f if line.strip()]


def summary(run):
    with open(os.path.join(run, "summary.json")) as f:
        return json.load(f)


@check
def c07_report_one_run():
    d = fresh()
    run = train(make_config(d), os.path.join(d, "run"))
    p = report(run)
    ok(p, "report")
    need(p.stdout == "" and p.stderr == "", "report printed %r %r" % (p.stdout, p.stderr))
    page = read_page(os.path.join(run, "report.html"))
    need(len(page.svgs) == 3, "%d SVGs (curves, layers, confusion expected)" % len(page.svgs))
    curves, layers, cm = page.svgs
    # The curves are curves.svg's, following metrics.csv.
    _, rows = read_csv(os.path.join(run, "metrics.csv"))
    g, xm, ym = plots(curves)["loss"]
    pts = series_points(g, xm, ym)["val_loss"]
    need(len(pts) == len(rows) and all(abs(y - float(r["val_loss"])) <= pixel_tolerance(ym) + 1e-9
                                       for (x, y), r in zip(pts, rows)), "the page's val_loss curve")
    # The diagnostics: four small plots (weight, gradient, ratio on log axes, dead), a line per trained layer.
    lp = plots(layers)
    need(sorted(lp) == ["dead_fraction", "grad_rms", "update_ratio", "weight_rms"], "layer plots %s" % sorted(lp))
    for name in ("weight_rms", "grad_rms", "update_ratio"):
        need(lp[name][2][4] == "log", "%s is not on a log axis" % name)
    need(any(r.get("class") == "band" for r in lp["update_ratio"][0].iter(SVG + "rect")), "no 1e-3 band")
    _, lrows = read_csv(os.path.join(run, "layers.csv"))
    got = series_points(*lp["update_ratio"])
    for i in (0, 2, 3):
        want = [num(r["update_ratio"]) for r in lrows if r["layer"] == str(i)]
        pts = got.get("layer %d update_ratio" % i, [])
        need(len(pts) == len(want), "layer %d: %d ratio points for %d rows" % (i, len(pts), len(want)))
        for (x, y), v in zip(pts, want):
            need(abs(math.log10(y) - math.log10(v)) < 1e-3, "layer %d ratio %g on the page, %g in layers.csv" % (i, y, v))
    # The confusion matrix: counts of the whole test set, rows per true class, the diagonal = test accuracy.
    cells = confusion_cells(cm)
    need(len(cells) == 9, "%d cells" % len(cells))
    need(sum(c for _, _, c in cells) == TESTS, "the counts sum to %d, the test set has %d" % (sum(c for _, _, c in cells), TESTS))
    labels = test_labels(os.path.join(d, "test.csv"))
    for k in range(3):
        need(sum(c for t, _, c in cells if t == k) == labels.count(k), "row %d" % k)
    acc = sum(c for t, q, c in cells if t == q) / TESTS
    s = summary(run)
    need(abs(acc - s["test_accuracy"]) < 1e-5, "matrix accuracy %g, summary.json %g" % (acc, s["test_accuracy"]))
    need("%d test samples, accuracy %.4f" % (TESTS, acc) in page.all_text, "no accuracy line")
    need("precision" in page.all_text and "recall" in page.all_text, "no per-class precision and recall")
    need("%.4f" % s["best_val_accuracy"] in page.all_text, "the summary's best val accuracy is not shown")
    # --output elsewhere; the page is the same.
    other = os.path.join(d, "other.html")
    ok(report(run + "/", "--output", other), "report --output")
    with open(other) as f:
        need(f.read() == page.source, "--output wrote another page")


@check
def c08_report_sweep():
    d = fresh()
    cfg = make_config(d)
    runs = []
    for lr, epochs in (("0.003", 5), ("0.03", 5), ("0.01", 3)):
        runs.append(train(cfg, os.path.join(d, "lr=" + lr), "--set", "optimizer.lr=" + lr,
                          "--set", "train.epochs=%d" % epochs))
    p = report(*runs, cwd=d)
    ok(p, "report of 3 runs")
    page = read_page(os.path.join(d, "report.html"))
    for r in runs:
        need(not os.path.exists(os.path.join(r, "report.html")), "a sweep report went into a run folder")
    # The table: the keys that differ, and only those; best first.
    keys = [m for m in re.findall(r'<th class="key">([^<]*)</th>', page.source)]
    need(keys == ["optimizer.lr", "train.epochs"], "differing keys %s" % keys)
    order = re.findall(r'<td class="l"><svg class="swatch".*?</svg> <a href="#run-\d+">([^<]*)</a></td>', page.source)
    need(sorted(order) == sorted(os.path.basename(r) for r in runs), "table runs %s" % order)
    accs = [summary(os.path.join(d, name))["best_val_accuracy"] for name in order]
    need(accs == sorted(accs, reverse=True), "the table is not sorted by best val accuracy: %s %s" % (order, accs))
    # The overlay: one line per run in each panel, labelled from the differing keys.
    overlay = [svg for svg in page.svgs if "val_loss" in plots(svg)][0]
    ps = plots(overlay)
    need(sorted(ps) == ["val_accuracy", "val_loss"], "overlay plots %s" % sorted(ps))
    for name, (g, xm, ym) in ps.items():
        got = series_points(g, xm, ym)
        need(sorted(got) == ["lr=0.003, epochs=5", "lr=0.01, epochs=3", "lr=0.03, epochs=5"], "legend %s" % sorted(got))
        need(len(got["lr=0.01, epochs=3"]) == 3 and len(got["lr=0.003, epochs=5"]) == 5, "run lengths")
        need(xm[1] == 5, "the overlay's x axis ends at %g" % xm[1])
    # Then each run's section, in the table's order.
    need(page.source.count('<section class="run"') == 3, "sections")
    need(len(page.svgs) == 3 + 1 + 3 * 3, "%d SVGs (3 swatches, the overlay, 3 per run)" % len(page.svgs))
    sections = re.findall(r'<section class="run" id="run-(\d+)">\n<h2>\d+\. blobs: ([^<]*)<span class="dir">([^<]*)<', page.source)
    need([os.path.basename(s[2]) for s in sections] == order, "sections %s, table %s" % (sections, order))


@check
def c09_report_missing_parts():
    """What a run lacks is said, and the rest is there."""
    d = fresh()
    cfg = make_config(d)
    moved = train(cfg, os.path.join(d, "moved"))
    os.rename(os.path.join(d, "test.csv"), os.path.join(d, "test-moved.csv"))
    d2 = fresh()
    notest = train(make_config(d2, test=False, extra="output: {diagnostics: false}\n"), os.path.join(d2, "notest"))
    killed = train(make_config(d2), os.path.join(d2, "killed"))
    os.unlink(os.path.join(killed, "summary.json"))
    cases = [(moved, "the test data could not be read: " + os.path.join(d, "test.csv"), 2),
             (notest, "the run's config has no test set", 1), (killed, "no summary.json", 3)]
    for run, words, nsvg in cases:
        ok(report(run), "report of %s" % run)
        page = read_page(os.path.join(run, "report.html"))
        need(words in page.all_text, "%s: the page does not say %r" % (run, words))
        need(len(page.svgs) == nsvg, "%s: %d SVGs, expected %d" % (run, len(page.svgs), nsvg))
        need(any(plots(s).get("loss") for s in page.svgs), "%s: no curves" % run)
    page = read_page(os.path.join(notest, "report.html"))
    need("output.diagnostics off" in page.all_text, "a run without layers.csv does not say why")
    # Without summary.json the numbers come from metrics.csv: its best epoch, no test numbers.
    page = read_page(os.path.join(killed, "report.html"))
    _, rows = read_csv(os.path.join(killed, "metrics.csv"))
    best = max(rows, key=lambda r: (float(r["val_accuracy"]), -int(r["epoch"])))
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", page.source.split('<table class="summary">')[1].split("</table>")[0])
    need(cells[1:5] == ["5 of 5", best["epoch"], "%.4f" % float(best["val_accuracy"]), "%.4f" % float(best["val_loss"])]
         and cells[5] == "\u2014", "the summary of a run without summary.json: %s (best row %s)" % (cells, best))
    # Regression: no matrix, said so.
    with open(os.path.join(d2, "reg.csv"), "w") as f:
        for i in range(100):
            f.write("%.3f,%.3f\n" % (i / 100, (i / 100) ** 2))
    with open(os.path.join(d2, "reg.yaml"), "w") as f:
        f.write("data:\n  train: {path: reg.csv}\n  test: {path: reg.csv}\nmodel:\n  layers:\n"
                "    - {type: dense, units: 4, activation: relu}\n    - {type: dense, units: 1}\n"
                "loss: mse\ntrain: {epochs: 2, batch_size: 10}\n")
    reg = train(os.path.join(d2, "reg.yaml"), os.path.join(d2, "reg"))
    ok(report(reg), "report of a regression")
    need("for cross_entropy classification" in read_page(os.path.join(reg, "report.html")).all_text,
         "a regression run does not say why it has no matrix")


def one_error(p, code, what, words):
    need(p.returncode == code, "%s: exit %d, expected %d (stderr %r)" % (what, p.returncode, code, p.stderr))
    lines = p.stderr.strip().split("\n")
    need(len(lines) == 1 and lines[0].startswith("bptrain: error: "), "%s: stderr %r" % (what, p.stderr))
    for w in words:
        need(w in lines[0], "%s: %r not in %r" % (what, w, lines[0]))


@check
def c10_report_errors():
    d = fresh()
    run = train(make_config(d), os.path.join(d, "run"))
    empty = os.path.join(d, "empty")
    os.mkdir(empty)
    one_error(report(empty), 3, "an empty folder", [empty, "not a run folder"])
    need(not os.path.exists(os.path.join(empty, "report.html")), "a report was written for a non-run")
    one_error(report(run, empty, cwd=d), 3, "a run and a non-run", [empty])
    need(not os.path.exists(os.path.join(d, "report.html")), "a half report was written")
    one_error(report(os.path.join(d, "nothere")), 3, "a missing folder", ["nothere"])
    one_error(report(os.path.join(run, "metrics.csv")), 3, "a file", ["metrics.csv", "not a folder"])
    one_error(bp("report"), 2, "no folder", ["report"])
    one_error(report(run, "--bogus"), 2, "an unknown option", ["--bogus"])
    one_error(report(run, "--output", os.path.join(d, "no", "such", "r.html")), 1, "an unwritable output", ["r.html"])
    # A damaged metrics.csv is a data error at its line.
    bad = os.path.join(d, "bad")
    shutil.copytree(run, bad)
    with open(os.path.join(bad, "metrics.csv"), "a") as f:
        f.write("7,oops\n")
    one_error(report(bad), 3, "a damaged metrics.csv", [os.path.join(bad, "metrics.csv") + ":7"])
    need(not [f for f in os.listdir(bad) if f.endswith(".tmp")], "temporary files left")
    p = bp("report", "--help")
    ok(p, "report --help")
    need("RUN_DIR" in p.stdout and "report.html" in p.stdout, "help %r" % p.stdout)
    p = bp("--help")
    need(re.search(r"^\s+report\s", p.stdout, re.M), "bptrain --help lists no report")


@check
def c11_sweep_writes_report():
    d = fresh()
    cfg = make_config(d)
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "sweep.sh")
    sdir = os.path.join(d, "sw")
    env = dict(os.environ, BPTRAIN=BPTRAIN, SWEEP_DIR=sdir)
    p = subprocess.run(["bash", script, cfg, "optimizer.lr=0.003,0.03", "--", "--set", "train.epochs=2"], env=env,
                       cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    need(p.returncode == 0, "sweep.sh exit %d: %s %s" % (p.returncode, p.stdout, p.stderr))
    need("report in %s/report.html" % sdir in p.stdout, "sweep.sh does not name its report: %r" % p.stdout)
    page = read_page(os.path.join(sdir, "report.html"))
    need(page.source.count('<section class="run"') == 2, "the sweep's report has not both points")
    need(re.findall(r'<th class="key">([^<]*)</th>', page.source) == ["optimizer.lr"], "keys")


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
