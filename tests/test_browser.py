#!/usr/bin/env python3
"""A run's pictures in a real browser: Debian's chromium, headless, takes a
screenshot of a report and of a curves.svg. Each picture must not be blank
(the PNG, decoded here with zlib, has enough non-white pixels, and pixels
of the train and validation colours), and the page must load without a
console message (chromium --enable-logging=stderr logs each one as
INFO:CONSOLE; a control page with a script error proves the capture works).

Usage: test_browser.py PATH/TO/bptrain [CHECK...]

chromium is required: scripts/setup.sh --tests installs it; without it the
checks fail, they do not skip. $CHROMIUM names another binary.
"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

from checks import check, need, run_checks

BPTRAIN = None
TMP = None
TRAIN_RGB = (0x00, 0x72, 0xB2)   # core/svg.c's first two colours
VAL_RGB = (0xD5, 0x5E, 0x00)


def chromium():
    exe = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    need(exe, "chromium is not installed: the browser test needs Debian's chromium "
              "(scripts/setup.sh --tests installs it)")
    return exe


def shoot(url, png, width, height):
    """Screenshot url; returns chromium's console lines."""
    profile = tempfile.mkdtemp(dir=TMP)
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                        "--user-data-dir=" + profile, "--enable-logging=stderr", "--v=0",
                        "--hide-scrollbars", "--force-device-scale-factor=1",
                        "--window-size=%d,%d" % (width, height), "--screenshot=" + png, url],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=50)
    need(p.returncode == 0 and os.path.exists(png), "chromium exit %d: %s" % (p.returncode, p.stderr[-500:]))
    return [l for l in p.stderr.splitlines() if ":CONSOLE" in l or "Uncaught" in l]


def unfilter(rows, width, bpp):
    """PNG scanlines (filter byte + bytes) into raw rows."""
    stride = width * bpp
    prev = bytearray(stride)
    out = []
    for r in range(len(rows) // (stride + 1)):
        f = rows[r * (stride + 1)]
        line = bytearray(rows[r * (stride + 1) + 1:(r + 1) * (stride + 1)])
        if f == 1:
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 255
        elif f == 2:
            line = bytearray((a + b) & 255 for a, b in zip(line, prev))
        elif f == 3:
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 255
        elif f == 4:
            for i in range(stride):
                a = line[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        elif f != 0:
            raise AssertionError("PNG filter type %d" % f)
        out.append(line)
        prev = line
    return out


def pixels(png):
    """(width, height, rows of RGB(A) bytes, bytes per pixel)."""
    with open(png, "rb") as f:
        data = f.read()
    need(data[:8] == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % png)
    i, idat, head = 8, [], None
    while i < len(data):
        (n,) = struct.unpack(">I", data[i:i + 4])
        kind = data[i + 4:i + 8]
        if kind == b"IHDR":
            head = struct.unpack(">IIBBBBB", data[i + 8:i + 21])
        elif kind == b"IDAT":
            idat.append(data[i + 8:i + 8 + n])
        i += 12 + n
    w, h, depth, colour, _, _, interlace = head
    need(depth == 8 and colour in (2, 6) and interlace == 0, "PNG format %s" % (head,))
    bpp = 3 if colour == 2 else 4
    return w, h, unfilter(zlib.decompress(b"".join(idat)), w, bpp), bpp


def census(png):
    """Shares of non-white pixels, and counts of pixels near the two series colours."""
    w, h, rows, bpp = pixels(png)
    ink = train = val = 0
    for line in rows:
        for x in range(0, w * bpp, bpp):
            r, g, b = line[x], line[x + 1], line[x + 2]
            if r < 240 or g < 240 or b < 240:
                ink += 1
                if abs(r - TRAIN_RGB[0]) + abs(g - TRAIN_RGB[1]) + abs(b - TRAIN_RGB[2]) < 60:
                    train += 1
                elif abs(r - VAL_RGB[0]) + abs(g - VAL_RGB[1]) + abs(b - VAL_RGB[2]) < 60:
                    val += 1
    return ink / float(w * h), train, val


def a_run():
    d = tempfile.mkdtemp(dir=TMP)
    with open(os.path.join(d, "blobs.csv"), "w") as f:
        for i in range(300):
            c = i % 3
            f.write("%.3f,%.3f,%d\n" % (c + 0.3 * ((i * 7) % 11) / 11, (i * 13) % 17 / 17.0 - c, c))
    cfg = os.path.join(d, "c.yaml")
    with open(cfg, "w") as f:
        f.write("name: browser\ndata:\n  train: {path: blobs.csv}\n  test: {path: blobs.csv}\n"
                "  validation: {split: 0.2}\nmodel:\n  layers:\n"
                "    - {type: dense, units: 16, activation: relu}\n    - {type: dense, units: 3, activation: softmax}\n"
                "optimizer: {lr: 0.01}\ntrain: {epochs: 8, batch_size: 16, threads: 1}\n")
    run = os.path.join(d, "run")
    for args in (["train", cfg, "--out", run, "--quiet"], ["report", run]):
        p = subprocess.run([BPTRAIN] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           universal_newlines=True, timeout=60)
        need(p.returncode == 0, "bptrain %s: exit %d %s" % (args[0], p.returncode, p.stderr))
    return run


@check
def c1_console_capture_works():
    """The control: a script error on a page is seen in chromium's log."""
    page = os.path.join(TMP, "control.html")
    with open(page, "w") as f:
        f.write("<!DOCTYPE html><html><body><p>control</p><script>nosuchfunction()</script></body></html>")
    lines = shoot("file://" + page, os.path.join(TMP, "control.png"), 300, 200)
    need(any("Uncaught ReferenceError" in l for l in lines), "chromium's log shows no console error: %s" % lines)


@check
def c2_report_and_curves_render():
    run = a_run()
    for name, size, min_ink in (("report.html", (1000, 1700), 0.03), ("curves.svg", (760, 560), 0.03)):
        png = os.path.join(TMP, name + ".png")
        console = shoot("file://" + os.path.join(run, name), png, *size)
        need(not console, "%s: console messages: %s" % (name, console))
        ink, train, val = census(png)
        need(min_ink < ink < 0.6, "%s: %.1f%% of the screenshot is not white" % (name, 100 * ink))
        need(train > 200 and val > 100, "%s: %d train-coloured and %d validation-coloured pixels" % (name, train, val))
        print("     %s: %.1f%% ink, %d train and %d validation pixels" % (name, 100 * ink, train, val))


def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_browser.py PATH/TO/bptrain [CHECK...]", file=sys.stderr)
        return 2
    BPTRAIN = os.path.abspath(sys.argv[1])
    TMP = tempfile.mkdtemp(prefix="bptrain-browser-")
    return run_checks(sys.argv[2:], TMP, lambda fn: fn.__name__[1:2])


if __name__ == "__main__":
    sys.exit(main())
