#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz harnesses into tests/fuzz/corpus/.

Usage: gen_corpus.py [BPTRAIN]

Small valid (and a few nearly valid) inputs of each reader, in each
harness's input layout (see the comment at the top of fuzz_<name>.c). The
checkpoint seeds are made by training tiny models with BPTRAIN (default
build/cmd/bptrain); without it they are skipped. The output is
deterministic, so regenerating leaves the committed seeds unchanged."""
import gzip
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CORPUS = os.path.join(HERE, "corpus")


def write(harness, name, data):
    d = os.path.join(CORPUS, harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


# ---- config: YAML text, then NUL-separated --set arguments ----

SMALL = b"""name: tiny
seed: 3
data:
  train: {path: train.csv}
  test: {path: test.csv}
  label_column: -1
  header: true
  validation: {split: 0.25}
  normalize: standardize
model:
  init: glorot
  layers:
    - {type: dense, units: 8, activation: leaky_relu}
    - {type: dropout, rate: 0.1}
    - {type: dense, units: 3, activation: softmax}
loss: cross_entropy
optimizer:
  type: adamw
  lr: 1.0e-3
  weight_decay: 0.01
  clip_norm: 5
  schedule: {type: cosine, min_lr: 0.0001, warmup_epochs: 2}
train:
  epochs: 4
  batch_size: 16
  shuffle: false
  early_stopping: {metric: val_loss, patience: 2, min_delta: 0.001}
output:
  dir: runs/tiny
  checkpoint_every: 2
  best_metric: val_loss
"""

IDXCFG = b"""data:
  format: idx
  train: {images: train-images-idx3-ubyte.gz, labels: train-labels-idx1-ubyte.gz}
  validation: {images: v-images-idx3-ubyte, labels: v-labels-idx1-ubyte}
model:
  layers:
    - {type: dense, units: 10, activation: softmax}
optimizer: {type: nesterov, lr: 0.1, momentum: 0.8, schedule: {type: step, step_size: 3, gamma: 0.5}}
"""

MSECFG = b"""data:
  train: {path: wave.csv.gz}
  label_column: [0, 2]
  delimiter: ";"
  skip_rows: 1
model:
  layers:
    - {type: dense, units: 4, activation: elu}
    - {type: dense, units: 2, activation: linear}
loss: mse
optimizer: {type: rmsprop, schedule: {type: exponential, gamma: 0.9}}
train: {epochs: 2, threads: 1}
"""


def gen_config():
    for name in sorted(os.listdir(os.path.join(ROOT, "configs"))):
        with open(os.path.join(ROOT, "configs", name), "rb") as f:
            write("config", "shipped-" + name, f.read())
    write("config", "small.yaml", SMALL)
    write("config", "idx.yaml", IDXCFG)
    write("config", "mse.yaml", MSECFG)
    write("config", "sets.yaml", SMALL + b"\0train.epochs=7\0model.layers.0.units=5"
          b"\0optimizer.schedule={type: step, step_size: 2}\0output.best_metric=val_accuracy")
    write("config", "sets-list.yaml", MSECFG + b"\0data.label_column=[1, -1]\0model.layers.1={type: dense, units: 2}"
          b"\0train.shuffle=off")
    write("config", "bce.yaml", b"data: {train: {path: a.csv}}\nmodel:\n  layers:\n"
          b"    - {type: dense, units: 1, activation: sigmoid}\nloss: binary_cross_entropy\n"
          b"optimizer: {type: adagrad}\n\0seed=18446744073709551615")
    write("config", "flow.yaml", b"{data: {train: {path: 'x.csv'}}, model: {layers: [{type: dense, units: 2}]}}")
    write("config", "shape-augment.yaml", b"data: {train: {path: a.csv}, shape: [1, 4, 4],"
          b" augment: {shift: 1, flip: true}}\nmodel: {layers: [{type: dense, units: 3}]}\n"
          b"\0data.augment.shift=2\0data.shape=[2, 2, 4]")


# ---- idx: mode byte, cut byte, the file ----

def idx(code, fmt, dims, values):
    head = struct.pack(">BBBB", 0, 0, code, len(dims)) + b"".join(struct.pack(">I", d) for d in dims)
    return head + b"".join(struct.pack(">" + fmt, v) for v in values)


def gen_idx():
    seeds = {
        "u8-images": idx(0x08, "B", [3, 2, 2], range(12)),
        "u8-labels": idx(0x08, "B", [5], [0, 1, 2, 9, 255]),
        "i8": idx(0x09, "b", [2, 3], [-128, -1, 0, 1, 2, 127]),
        "i16": idx(0x0B, "h", [2, 2], [-32768, -1, 1, 32767]),
        "i32": idx(0x0C, "i", [3], [-(1 << 31), 0, (1 << 31) - 1]),
        "f32": idx(0x0D, "f", [2, 1, 2], [0.5, -1.5, 3.0, 1e30]),
        "f64": idx(0x0E, "d", [2], [1e-300, -2.5]),
        "rank4": idx(0x08, "B", [1, 1, 2, 2], [1, 2, 3, 4]),
        "empty": idx(0x08, "B", [0, 28, 28], []),
        "lying": idx(0x08, "B", [0x80000000, 28, 28], range(16)),
    }
    for name, data in sorted(seeds.items()):
        write("idx", name, b"\0\0" + data)
        write("idx", name + ".gz-mode", b"\1\0" + data)
    write("idx", "u8-images.gz-file", b"\0\0" + gzip.compress(seeds["u8-images"], mtime=0))
    write("idx", "u8-images.gz-cut", b"\2\5" + seeds["u8-images"])
    write("idx", "f32.gz-flip", b"\3\7" + seeds["f32"])


# ---- csv: 6 option bytes, the file ----

def opts(delim=0, skip=0, header=0, kind=1, mode=0, labels=(-1,)):
    b1 = skip | header << 2 | kind << 3 | mode << 5
    cols = [c & 0xFF for c in labels] + [0] * (3 - len(labels))
    return bytes([delim, b1, len(labels)]) + bytes(cols)


def gen_csv():
    write("csv", "classes", opts() + b"0.5,1,2\n1e-3,-2.5,0\n3,4,1\n")
    write("csv", "header-crlf", opts(header=1) + b"a,b,label\r\n1,2,0\r\n\r\n3,4,1\r\n")
    write("csv", "bom-skip", opts(skip=2) + b"\xef\xbb\xbf# made by hand\nx\n1,2,3\n4,5,6\n")
    write("csv", "semicolon-targets", opts(delim=1, kind=0, labels=(0, 2)) + b"1.5;2;3.25\n-4;5e2;6\n")
    write("csv", "tab-binary", opts(delim=2, kind=2, labels=(0,)) + b"1\t0.1\t0.2\n0\t 0.3 \t0.4\n")
    write("csv", "space-features", opts(delim=3, labels=()) + b"1 2 3\n4 5 6\n")
    write("csv", "pipe-gz", opts(delim=4, mode=1) + b"1|2|0\n3|4|1\n" * 20)
    write("csv", "numbers", opts(labels=()) + b"+1.5,-.5,1.,12345678901234567890,1e308,-1e-320,"
          b"0.000000000000000000000000001,123456789012345678901234567890e-10\n")
    write("csv", "bad-cells", opts() + b"1,2,0\n1,,0\n1,nan,0\n1,inf,0\nx,1,0\n1,2\n")
    write("csv", "gz-file", opts() + gzip.compress(b"1,2,0\n3,4,1\n", mtime=0))
    write("csv", "gz-cut", opts(mode=2) + b"1,2,0\n3,4,1\n" * 10)
    write("csv", "colon-neg-label", opts(delim=5, labels=(-2,)) + b"1:0:2\n3:1:4\n")


# ---- ckpt: mode byte (bit 0: the harness appends the CRC), the file ----

CKPT_CFGS = {
    "adam-standardize": b"""data: {train: {path: t.csv}, label_column: -1, normalize: standardize}
model: {layers: [{type: dense, units: 3, activation: relu}, {type: dense, units: 2, activation: softmax}]}
optimizer: {type: adam}
train: {epochs: 2, batch_size: 4, threads: 1}
""",
    "sgd-dropout": b"""data: {train: {path: t.csv}, label_column: -1}
model: {layers: [{type: dropout, rate: 0.5}, {type: dense, units: 2, activation: softmax}]}
optimizer: {type: sgd, lr: 0.1}
train: {epochs: 1, batch_size: 3, threads: 1}
""",
    "batchnorm-momentum": b"""data: {train: {path: t.csv}, label_column: -1}
model: {layers: [{type: batch_norm, momentum: 0.5}, {type: dense, units: 3, activation: tanh},
                 {type: batch_norm, activation: relu}, {type: dense, units: 2, activation: softmax}]}
optimizer: {type: momentum}
train: {epochs: 1, batch_size: 4, threads: 2}
""",
    "momentum-mse": b"""data: {train: {path: t.csv}, label_column: [-1]}
model: {layers: [{type: dense, units: 1, activation: linear}]}
loss: mse
optimizer: {type: momentum}
train: {epochs: 1, batch_size: 8, threads: 1}
""",
}


# The seeds named v1-* are checkpoints of format version 1, written by the
# release before version 2 from the configs above (without batch_norm);
# they stay as they are, so that the loader keeps reading version 1.
def gen_ckpt(bptrain):
    if not bptrain or not os.access(bptrain, os.X_OK):
        print("gen_corpus: no bptrain executable, checkpoint seeds skipped", file=sys.stderr)
        return
    tmp = tempfile.mkdtemp(prefix="bptrain-seeds-")
    try:
        with open(os.path.join(tmp, "t.csv"), "w") as f:
            for i in range(10):
                f.write("%d,%g,%d\n" % (i % 3, i * 0.25 - 1, i % 2))
        for name, text in sorted(CKPT_CFGS.items()):
            cfg = os.path.join(tmp, name + ".yaml")
            with open(cfg, "wb") as f:
                f.write(text)
            out = os.path.join(tmp, "run-" + name)
            subprocess.run([bptrain, "train", cfg, "--out", out, "--quiet", "--no-progress"],
                           check=True, stdout=subprocess.DEVNULL)
            with open(os.path.join(out, "last.ckpt"), "rb") as f:
                ck = f.read()
            write("ckpt", name, b"\1" + ck[:-4])      # the harness appends the CRC
            write("ckpt", name + ".raw", b"\0" + ck)  # the file as saved
    finally:
        shutil.rmtree(tmp)


def main():
    bptrain = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "build", "cmd", "bptrain")
    gen_config()
    gen_idx()
    gen_csv()
    gen_ckpt(bptrain)


if __name__ == "__main__":
    main()
