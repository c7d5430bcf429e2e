#!/usr/bin/env python3
"""Generates the small datasets bptrain ships in data/ (deterministic).

  data/spirals.csv.gz   two interleaved spirals: x,y,label (label 0/1/2 for
                        three arms), 1500 train rows; spirals_test.csv.gz 600
  data/wave.csv.gz      regression: x1,x2,target with
                        target = sin(2 x1) + 0.5 x2^2 + noise, 2000 rows;
                        wave_test.csv.gz 500
  data/digits.csv.gz    8x8 images of the digits 0-9: p0..p63 (row-major,
                        0-255),label; 5x7 glyphs at random offsets, with
                        random stroke strength, thickening and noise, 1500
                        train rows; digits_test.csv.gz 500 (configs/
                        digits_cnn.yaml gives them data.shape [1, 8, 8])

Rerun with: python3 scripts/gen_data.py
"""
import gzip
import io
import math
import os
import random

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data")


def write(name, header, rows):
    buf = io.StringIO()
    buf.write(header + "\n")
    for r in rows:
        buf.write(",".join(f"{v:.6f}" if isinstance(v, float) else str(v) for v in r) + "\n")
    with open(os.path.join(HERE, name), "wb") as f:
        # mtime=0 keeps the bytes identical from run to run
        with gzip.GzipFile(fileobj=f, mode="wb", mtime=0, filename="") as g:
            g.write(buf.getvalue().encode())


def spirals(n, rng, arms=3):
    rows = []
    for i in range(n):
        k = i % arms
        t = rng.uniform(0.0, 1.0)
        r = t * 4.0
        a = t * 3.5 + 2 * math.pi * k / arms + rng.gauss(0, 0.15)
        rows.append((r * math.cos(a), r * math.sin(a), k))
    rng.shuffle(rows)
    return rows


def wave(n, rng):
    rows = []
    for _ in range(n):
        x1, x2 = rng.uniform(-2, 2), rng.uniform(-2, 2)
        rows.append((x1, x2, math.sin(2 * x1) + 0.5 * x2 * x2 + rng.gauss(0, 0.05)))
    return rows


# 5x7 glyphs of the digits, one string of 7 rows per digit.
GLYPHS = [
    ".###. #...# #..## #.#.# ##..# #...# .###.",
    "..#.. .##.. ..#.. ..#.. ..#.. ..#.. .###.",
    ".###. #...# ....# ...#. ..#.. .#... #####",
    "####. ....# ....# .###. ....# ....# ####.",
    "...#. ..##. .#.#. #..#. ##### ...#. ...#.",
    "##### #.... ####. ....# ....# #...# .###.",
    "..##. .#... #.... ####. #...# #...# .###.",
    "##### ....# ...#. ..#.. .#... .#... .#...",
    ".###. #...# #...# .###. #...# #...# .###.",
    ".###. #...# #...# .#### ....# ...#. .##..",
]


def digit_image(k, rng):
    """One 8x8 image of digit k as 64 values in 0..255 (16 levels)."""
    rows = GLYPHS[k].split()
    oy, ox = rng.randrange(0, 2), rng.randrange(0, 4)
    strength = rng.uniform(0.55, 1.0)
    thick = rng.random() < 0.3
    img = [[0.0] * 8 for _ in range(8)]
    for y, row in enumerate(rows):
        for x, c in enumerate(row):
            if c == "#":
                img[y + oy][x + ox] = strength
                if thick and x + ox + 1 < 8:
                    img[y + oy][x + ox + 1] = max(img[y + oy][x + ox + 1], 0.7 * strength)
    out = []
    for y in range(8):
        for x in range(8):
            v = img[y][x] + rng.gauss(0, 0.12)
            if rng.random() < 0.02:   # a few pixels flipped
                v = 1.0 - v
            out.append(17 * min(15, max(0, round(v * 15))))
    return out


def digits(n, rng):
    rows = []
    for i in range(n):
        k = i % 10
        rows.append(digit_image(k, rng) + [k])
    rng.shuffle(rows)
    return rows


def main():
    rng = random.Random(20261128)
    write("spirals.csv.gz", "x,y,label", spirals(1500, rng))
    write("spirals_test.csv.gz", "x,y,label", spirals(600, rng))
    write("wave.csv.gz", "x1,x2,target", wave(2000, rng))
    write("wave_test.csv.gz", "x1,x2,target", wave(500, rng))
    drng = random.Random(20261202)   # its own stream: the files above stay as they were
    header = ",".join("p%d" % i for i in range(64)) + ",label"
    write("digits.csv.gz", header, digits(1500, drng))
    write("digits_test.csv.gz", header, digits(500, drng))


if __name__ == "__main__":
    main()
