#!/usr/bin/python3
"""The first N samples of an IDX file (gzipped or not), written as a plain
IDX file: bench/run.sh's Fashion-MNIST subset for the CNN rows.

  bench/idx_head.py N SOURCE[.gz] DEST
"""
import gzip
import struct
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit("usage: idx_head.py N SOURCE DEST")
    n, src, dest = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    with open(src, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        sys.exit("idx_head.py: %s: not an IDX file" % src)
    ndim = raw[3]
    dims = list(struct.unpack_from(">%dI" % ndim, raw, 4))
    if not 0 < n <= dims[0]:
        sys.exit("idx_head.py: %s holds %d samples, asked for %d" % (src, dims[0], n))
    size = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}[raw[2]]
    per = size
    for d in dims[1:]:
        per *= d
    off = 4 + 4 * ndim
    if len(raw) < off + n * per:
        sys.exit("idx_head.py: %s: truncated" % src)
    with open(dest, "wb") as f:
        f.write(raw[:4] + struct.pack(">%dI" % ndim, n, *dims[1:]) + raw[off:off + n * per])


if __name__ == "__main__":
    main()
