#!/usr/bin/env python3
"""End-to-end tests of `bptrain export` against the real runtimes.

Usage: test_export.py PATH/TO/bptrain [PATH/TO/export_fixture] [CHECK-NUMBER-OR-NAME...]

Run with Debian's /usr/bin/python3 (tests/meson.build does), which has
python3-numpy and python3-onnx. Each check trains a tiny model on data it
generates, exports it, and checks the file with the real readers: ONNX's
checker (full_check), ONNX Runtime from the npm package onnxruntime-node
(tests/onnx, installed by scripts/setup.sh), and a safetensors reader written
here from the format's published layout. The exported model's outputs must
equal `bptrain predict --proba` to 1e-5 and its arg-max accuracy `bptrain
eval`'s (../shared/SPEC.md, `bptrain export`). A missing tool is a failure,
not a skip. The last line is "N passed, M failed".
"""
import json
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

from checks import CheckFailed, check, need, run_checks

try:
    import numpy as np
except ImportError:
    np = None
try:
    import onnx
    import onnx.checker
    import onnx.numpy_helper
except ImportError:
    onnx = None

HERE = os.path.dirname(os.path.abspath(__file__))
ORT_DIR = os.path.join(HERE, "onnx")
BPTRAIN = None
FIXTURE = None
TMP = None
TOL = 1e-5
# Parameter tensors per layer kind, in the order `info` and checkpoints name them.
TENSORS = {"dense": ["W", "b"], "conv2d": ["W", "b"], "batch_norm": ["gamma", "beta"]}
STATE = {"batch_norm": ["running_mean", "running_var"]}


# ---------------------------------------------------------------- helpers

def tools():
    """Every runtime the checks use, or a failure naming what is missing."""
    missing = []
    if np is None:
        missing.append("numpy for %s (Debian python3-numpy)" % sys.executable)
    if onnx is None:
        missing.append("onnx for %s (Debian python3-onnx)" % sys.executable)
    if not shutil.which("node"):
        missing.append("node (Debian nodejs)")
    if not os.path.isfile(os.path.join(ORT_DIR, "node_modules", "onnxruntime-node", "package.json")):
        missing.append("onnxruntime-node in tests/onnx/node_modules (npm ci --ignore-scripts)")
    need(not missing, "missing %s: run scripts/setup.sh --tests" % "; ".join(missing))


def fresh(name):
    return tempfile.mkdtemp(prefix=name + "-", dir=TMP)


def bp(*args, timeout=120):
    return subprocess.run([BPTRAIN] + [str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          universal_newlines=True, timeout=timeout)


def ok(*args):
    p = bp(*args)
    need(p.returncode == 0, "bptrain %s: exit %d: %s" % (" ".join(map(str, args)), p.returncode, p.stderr.strip()))
    return p


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def write_idx(path, dims, values):
    with open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes(values))


def train(d, data, layers, loss="cross_entropy", epochs=6):
    cfg = os.path.join(d, "c.yaml")
    write(cfg, "seed: 3\ndata:\n%smodel:\n  layers:\n%sloss: %s\noptimizer: {type: adam, lr: 0.01}\n"
               "train: {epochs: %d, batch_size: 16}\n"
          % (data, "".join("    - %s\n" % l for l in layers), loss, epochs))
    out = os.path.join(d, "run")
    ok("train", cfg, "--out", out, "--quiet", "--no-progress", "--threads", "1")
    return os.path.join(out, "best.ckpt")


def csv_rows(rows, fmt="%.4f"):
    return "".join(",".join(fmt % v if isinstance(v, float) else str(v) for v in r) + "\n" for r in rows)


def features(rows, nfeat):
    """The feature values as bptrain reads them: the text parsed to double,
    then rounded to float32."""
    return np.array([[float("%.4f" % v) for v in r[:nfeat]] for r in rows], dtype=np.float64).astype(np.float32)


def info(ckpt):
    return json.loads(ok("info", ckpt, "--format", "json").stdout)


def predict(ckpt, inputs, mse=False):
    """predict --proba's probability columns (or mse's y columns) as an array."""
    lines = ok("predict", ckpt, inputs, "--proba").stdout.strip().split("\n")
    head = lines[0].split(",")
    cols = [i for i, h in enumerate(head) if h.startswith("y" if mse else "p")]
    need(cols, "predict header %r" % lines[0])
    return np.array([[float(r.split(",")[i]) for i in cols] for r in lines[1:]])


def ort(model, x):
    """Runs model in ONNX Runtime (tests/onnx/run.js) on x: (names, output)."""
    path = model + ".input.f32"
    x.astype("<f4").tofile(path)
    p = subprocess.run(["node", os.path.join(ORT_DIR, "run.js"), model, path] + [str(s) for s in x.shape],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True, timeout=120)
    os.unlink(path)
    need(p.returncode == 0, "ONNX Runtime on %s: exit %d: %s" % (model, p.returncode, p.stderr.strip()[-2000:]))
    r = json.loads(p.stdout)
    return r, np.array(r["data"], dtype=np.float64).reshape(r["dims"])


def expected_tensors(layers, state=True):
    names = []
    for i, l in enumerate(layers):
        names += ["layers.%d.%s" % (i, t) for t in TENSORS.get(l["type"], [])]
    for i, l in enumerate(layers):
        names += ["layers.%d.%s" % (i, t) for t in (STATE.get(l["type"], []) if state else [])]
    return names


def leftovers(d):
    return sorted(f for f in os.listdir(d) if f.endswith((".onnx", ".safetensors", ".tmp")))


def read_safetensors(path):
    """A reader from the published layout: u64 LE header size, a JSON header
    (space-padded), then the tensors' little-endian bytes back to back."""
    with open(path, "rb") as f:
        blob = f.read()
    need(len(blob) >= 8, "%s: %d bytes" % (path, len(blob)))
    n = struct.unpack_from("<Q", blob, 0)[0]
    need(8 + n <= len(blob), "header size %d past the file's %d bytes" % (n, len(blob)))
    need(n % 8 == 0, "header size %d is not a multiple of 8" % n)
    text = blob[8:8 + n].decode("utf-8")
    need(text.startswith("{") and text.rstrip(" ").endswith("}"), "header %r...%r" % (text[:40], text[-40:]))
    header = json.loads(text)
    meta = header.pop("__metadata__", None)
    need(isinstance(meta, dict) and all(isinstance(v, str) for v in meta.values()), "__metadata__ %r" % meta)
    data = blob[8 + n:]
    tensors, at = {}, 0
    for name, h in sorted(header.items(), key=lambda kv: kv[1]["data_offsets"][0]):
        need(set(h) == {"dtype", "shape", "data_offsets"} and h["dtype"] == "F32", "%s: %r" % (name, h))
        b, e = h["data_offsets"]
        need(b == at and e - b == 4 * int(np.prod(h["shape"], dtype=np.int64)), "%s: offsets %r at %d" % (name, h, at))
        tensors[name] = np.frombuffer(data[b:e], dtype="<f4").reshape(h["shape"])
        at = e
    need(at == len(data), "the tensors cover %d of %d data bytes" % (at, len(data)))
    return list(header), tensors, meta


def ckpt_records(path):
    """The parameter tensors and normalisation statistics stored in a
    checkpoint (ckpt.h: magic, version, then records u32 tag, u64 length,
    payload; tag 3 = tensor, tag 2 = normalisation)."""
    with open(path, "rb") as f:
        b = f.read()
    need(b[:8] == b"BPTRAIN\x1a", "%s: not a checkpoint" % path)
    pos, tensors, norm = 16, {}, {}
    while pos + 12 <= len(b) - 4:
        tag, n = struct.unpack_from("<IQ", b, pos)
        body = b[pos + 12:pos + 12 + n]
        pos += 12 + n
        if tag == 3:
            k = struct.unpack_from("<I", body, 0)[0]
            name = body[4:4 + k].decode()
            rank = struct.unpack_from("<I", body, 4 + k)[0]
            dims = struct.unpack_from("<%dI" % rank, body, 8 + k)
            tensors[name] = np.frombuffer(body, "<f4", int(np.prod(dims)), 8 + k + 4 * rank).reshape(dims)
        elif tag == 2:
            kind, d = struct.unpack_from("<IQ", body, 0)
            if d:
                norm["norm.mean"] = np.frombuffer(body, "<f4", d, 12)
                norm["norm.std"] = np.frombuffer(body, "<f4", d, 12 + 4 * d)
    return tensors, norm


# ---------------------------------------------------------------- the ONNX round trip

def onnx_round_trip(ckpt, x, labels, inputs, loss="cross_entropy", norm=None, last_op=None):
    """Exports ckpt, checks the file with onnx.checker, its names and
    metadata, runs it in ONNX Runtime on x, and compares with predict and
    eval. Returns the ONNX model."""
    tools()
    out = ckpt[:-len(".ckpt")] + ".onnx"
    ok("export", ckpt)   # default: MODEL.onnx beside the checkpoint
    need(os.path.isfile(out), "export wrote no %s" % out)
    need(not os.path.exists(out + ".tmp"), "export left %s.tmp" % out)
    m = onnx.load(out)
    onnx.checker.check_model(m, full_check=True)
    need(m.ir_version == 7 and [(o.domain, o.version) for o in m.opset_import] == [("", 13)],
         "ir_version %d, opsets %r" % (m.ir_version, [(o.domain, o.version) for o in m.opset_import]))
    meta = {p.key: p.value for p in m.metadata_props}
    version = ok("--version").stdout.split()[1]   # "bptrain VERSION ..."
    need(meta.get("bptrain_version") == version, "metadata bptrain_version %r, bptrain is %s"
         % (meta.get("bptrain_version"), version))
    need("model:" in meta.get("config", "") and "layers:" in meta["config"], "metadata config %r"
         % meta.get("config", "")[:200])

    g = m.graph
    out_name = "output" if loss == "mse" else "probabilities"
    need([i.name for i in g.input] == ["input"] and [o.name for o in g.output] == [out_name],
         "graph inputs %r outputs %r" % ([i.name for i in g.input], [o.name for o in g.output]))
    dims = [(d.dim_param or d.dim_value) for d in g.input[0].type.tensor_type.shape.dim]
    need(dims == ["N"] + list(x.shape[1:]), "input dims %r, expected %r" % (dims, ["N"] + list(x.shape[1:])))
    lay = info(ckpt)["layers"]
    k = lay[-1]["output"][0]
    odims = [(d.dim_param or d.dim_value) for d in g.output[0].type.tensor_type.shape.dim]
    need(odims == ["N", k], "output dims %r, expected ['N', %d]" % (odims, k))
    # The initializers are the tensors the safetensors export lists (every
    # parameter and state tensor of the checkpoint), less its norm.* vectors,
    # plus the graph's own normalisation constants.
    st = ckpt[:-len(".ckpt")] + ".safetensors"
    ok("export", ckpt, "--format", "safetensors")
    st_names, st_t, _ = read_safetensors(st)
    want = [n for n in st_names if not n.startswith("norm.")]
    if all(l["type"] in ("dense", "dropout") for l in lay):
        need(want == expected_tensors(lay), "safetensors lists %r, expected %r" % (want, expected_tensors(lay)))
    trained = sum(st_t[n].size for n in want if not n.endswith(("running_mean", "running_var")))
    need(trained == info(ckpt)["params"], "%d trainable floats exported, info counts %d"
         % (trained, info(ckpt)["params"]))
    want += {"scale": ["norm.divisor"], "standardize": ["norm.mean", "norm.inv_std"]}.get(norm, [])
    got = [t.name for t in g.initializer]
    need(sorted(got) == sorted(want), "initializers %r, expected %r" % (got, want))
    for t in g.initializer:
        if t.name in st_t:
            need(onnx.numpy_helper.to_array(t).tobytes() == st_t[t.name].tobytes(),
                 "%s: the ONNX and safetensors values differ" % t.name)
    for t in g.initializer:
        i = t.name.split(".")
        if i[0] == "layers" and lay[int(i[1])]["type"] == "dense" and i[2] == "W":
            l = lay[int(i[1])]
            shape = [int(np.prod(l["input"])), int(np.prod(l["output"]))]
            need(list(t.dims) == shape, "%s dims %r, info says %r" % (t.name, list(t.dims), shape))
    need(all(n.name.startswith(("norm.", "layers.", "output.")) for n in g.node),
         "node names %r" % [n.name for n in g.node])
    need(not any(n.op_type == "Dropout" for n in g.node), "a Dropout node is left in the graph")
    if last_op:
        need(g.node[-1].op_type == last_op, "last node %s, expected %s" % (g.node[-1].op_type, last_op))

    r, y = ort(out, x)
    need(r["inputs"] == ["input"] and r["outputs"] == [out_name], "ONNX Runtime sees %r -> %r"
         % (r["inputs"], r["outputs"]))
    ref = predict(ckpt, inputs, mse=loss == "mse")
    need(y.shape == ref.shape, "ONNX Runtime output %r, predict %r" % (y.shape, ref.shape))
    diff = float(np.max(np.abs(y - ref)))
    need(diff <= TOL, "ONNX Runtime vs predict --proba: max abs difference %.3g > %g" % (diff, TOL))
    if loss != "mse":
        e = json.loads(ok("eval", ckpt, "--format", "json").stdout)
        hit = (y[:, 0] > 0.5) if y.shape[1] == 1 else np.argmax(y, axis=1)
        acc = float(np.mean(hit == np.array(labels)))
        need(abs(acc - e["accuracy"]) < 1e-6, "ONNX Runtime's accuracy %.6f, eval's %r" % (acc, e["accuracy"]))
    return m


# ---------------------------------------------------------------- data

def mlp_rows(n, seed):
    """4 features on different scales (one constant), 3 classes."""
    r = random.Random(seed)
    rows = []
    for _ in range(n):
        x = [r.gauss(50, 10), r.uniform(-1, 1), 3.0, r.gauss(0, 0.2)]
        s = (x[0] - 50) / 10 + 2 * x[1] + x[3]
        rows.append(x + [0 if s < -0.6 else 1 if s < 0.6 else 2])
    return rows


def mlp_model(d):
    rows, test = mlp_rows(300, 1), mlp_rows(120, 2)
    write(os.path.join(d, "train.csv"), csv_rows(rows))
    write(os.path.join(d, "test.csv"), csv_rows(test))
    write(os.path.join(d, "inputs.csv"), csv_rows([r[:4] for r in test]))
    layers = ["{type: dense, units: 12, activation: relu}", "{type: dense, units: 10, activation: leaky_relu}",
              "{type: dropout, rate: 0.2}", "{type: dense, units: 8, activation: elu}",
              "{type: dense, units: 8, activation: sigmoid}", "{type: dense, units: 6, activation: tanh}",
              "{type: dense, units: 3, activation: softmax}"]
    ckpt = train(d, "  train: {path: train.csv}\n  test: {path: test.csv}\n  normalize: standardize\n", layers)
    return ckpt, features(test, 4), [r[-1] for r in test]


def images(n, seed, h=6, w=6):
    """uint8 images with a bright row (0), column (1) or none (2) on noise."""
    r = random.Random(seed)
    pix, labels = [], []
    for _ in range(n):
        k, at = r.randrange(3), r.randrange(h)
        img = [[r.randrange(60) for _ in range(w)] for _ in range(h)]
        for i in range(h):
            for j in range(w):
                if (k == 0 and i == at) or (k == 1 and j == at):
                    img[i][j] = r.randrange(180, 256)
        pix += [v for row in img for v in row]
        labels.append(k)
    return pix, labels


# ---------------------------------------------------------------- checks

@check
def e01_tools():
    """node, onnxruntime-node, python3-onnx and python3-numpy are there (a
    machine without them fails here rather than skipping)."""
    tools()
    p = subprocess.run(["node", "-e", "console.log(require('onnxruntime-node').env.versions.node)"],
                       cwd=ORT_DIR, stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    need(p.returncode == 0, "onnxruntime-node does not load: %s" % p.stderr.strip()[-1000:])


@check
def e02_mlp_every_activation():
    """An MLP with relu, leaky_relu, dropout, elu, sigmoid, tanh and a
    softmax output (fused with cross_entropy), standardised input with a
    constant feature: ONNX Runtime equals predict --proba and eval."""
    d = fresh("mlp")
    ckpt, x, labels = mlp_model(d)
    m = onnx_round_trip(ckpt, x, labels, os.path.join(d, "inputs.csv"), norm="standardize", last_op="Softmax")
    ops = [n.op_type for n in m.graph.node]
    want = ["Sub", "Mul", "Gemm", "Relu", "Gemm", "LeakyRelu", "Gemm", "Elu", "Gemm", "Sigmoid", "Gemm", "Tanh",
            "Gemm", "Softmax"]
    need(ops == want, "nodes %r, expected %r" % (ops, want))
    alpha = [a.f for n in m.graph.node if n.op_type == "LeakyRelu" for a in n.attribute if a.name == "alpha"]
    need(len(alpha) == 1 and abs(alpha[0] - 0.01) < 1e-9, "LeakyRelu alpha %r" % alpha)


@check
def e03_binary_sigmoid():
    """One sigmoid unit with binary_cross_entropy (fused): probabilities
    [N, 1] equal predict's p0; thresholded at 0.5 they score eval's accuracy."""
    d = fresh("binary")
    r = random.Random(5)

    def rows(n):
        out = []
        for _ in range(n):
            x = [r.uniform(-2, 2), r.uniform(-2, 2), r.uniform(0, 5)]
            out.append(x + [1 if x[0] * x[1] + 0.2 * x[2] > 0.5 else 0])
        return out
    train_rows, test = rows(300), rows(120)
    write(os.path.join(d, "train.csv"), csv_rows(train_rows))
    write(os.path.join(d, "test.csv"), csv_rows(test))
    write(os.path.join(d, "inputs.csv"), csv_rows([t[:3] for t in test]))
    ckpt = train(d, "  train: {path: train.csv}\n  test: {path: test.csv}\n",
                 ["{type: dense, units: 10, activation: tanh}", "{type: dense, units: 1, activation: sigmoid}"],
                 loss="binary_cross_entropy")
    onnx_round_trip(ckpt, features(test, 3), [t[-1] for t in test], os.path.join(d, "inputs.csv"),
                    last_op="Sigmoid")


@check
def e04_mse_regression():
    """An mse model with two targets and a tanh output (not fused): the
    graph's 'output' equals predict's y columns."""
    d = fresh("mse")
    r = random.Random(9)

    def rows(n):
        out = []
        for _ in range(n):
            a, b = r.uniform(-1, 1), r.uniform(-1, 1)
            out.append([a, b, 0.8 * a * b, 0.5 * (a - b)])
        return out
    train_rows, test = rows(300), rows(100)
    write(os.path.join(d, "train.csv"), csv_rows(train_rows))
    write(os.path.join(d, "test.csv"), csv_rows(test))
    write(os.path.join(d, "inputs.csv"), csv_rows([t[:2] for t in test]))
    ckpt = train(d, "  train: {path: train.csv}\n  test: {path: test.csv}\n  label_column: [2, 3]\n",
                 ["{type: dense, units: 12, activation: relu}", "{type: dense, units: 2, activation: tanh}"],
                 loss="mse")
    onnx_round_trip(ckpt, features(test, 2), None, os.path.join(d, "inputs.csv"), loss="mse", last_op="Tanh")


@check
def e05_idx_images_scaled():
    """uint8 IDX images (1, 6, 6), normalize scale by default: the input is
    [N, 1, 6, 6] of raw pixel values, Div by 255 first, a Flatten before the
    first Gemm; ONNX Runtime equals predict --proba on the IDX file."""
    d = fresh("idx")
    pix, labels = images(300, 1)
    tpix, tlabels = images(120, 2)
    write_idx(os.path.join(d, "train-images-idx3-ubyte"), [300, 6, 6], pix)
    write_idx(os.path.join(d, "train-labels-idx1-ubyte"), [300], labels)
    write_idx(os.path.join(d, "test-images-idx3-ubyte"), [120, 6, 6], tpix)
    write_idx(os.path.join(d, "test-labels-idx1-ubyte"), [120], tlabels)
    ckpt = train(d, "  train: {images: train-images-idx3-ubyte, labels: train-labels-idx1-ubyte}\n"
                    "  test: {images: test-images-idx3-ubyte, labels: test-labels-idx1-ubyte}\n",
                 ["{type: dense, units: 16, activation: relu}", "{type: dense, units: 3, activation: softmax}"])
    x = np.array(tpix, dtype=np.float32).reshape(120, 1, 6, 6)
    m = onnx_round_trip(ckpt, x, tlabels, os.path.join(d, "test-images-idx3-ubyte"), norm="scale")
    ops = [n.op_type for n in m.graph.node]
    need(ops == ["Div", "Flatten", "Gemm", "Relu", "Gemm", "Softmax"], "nodes %r" % ops)
    # Div by 255 in float32 is bptrain's x/255 exactly, for every byte.
    div = [onnx.numpy_helper.to_array(t) for t in m.graph.initializer if t.name == "norm.divisor"][0]
    need(div.shape == () and float(div) == 255.0, "norm.divisor %r" % div)


ACT = {
    "linear": lambda z: z, "relu": lambda z: np.maximum(z, 0), "leaky_relu": lambda z: np.where(z > 0, z, 0.01 * z),
    "elu": lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))), "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh, "softmax": lambda z: np.exp(z - z.max(1, keepdims=True)) / np.exp(z - z.max(1, keepdims=True)).sum(1, keepdims=True),
}


@check
def e06_safetensors():
    """The MLP as safetensors: a reader from the published layout gets back
    exactly the checkpoint's floats under the info names and shapes, plus
    norm.mean/norm.std and the metadata; a NumPy forward pass from the file
    alone equals predict --proba. The IDX/scale model has no norm.* and
    says normalize: scale."""
    tools()
    d = fresh("st")
    ckpt, x, _ = mlp_model(d)
    ok("export", ckpt, "--format", "safetensors")
    path = ckpt[:-len(".ckpt")] + ".safetensors"
    names, t, meta = read_safetensors(path)
    lay = info(ckpt)["layers"]
    want = expected_tensors(lay) + ["norm.mean", "norm.std"]
    need(names == want, "tensors %r, expected %r" % (names, want))
    stored, norm = ckpt_records(ckpt)
    stored.update(norm)
    for name in names:
        need(name in stored and t[name].shape == stored[name].shape and t[name].tobytes() == stored[name].tobytes(),
             "%s: %r differs from the checkpoint's %r" % (name, t[name].shape, stored.get(name, np.zeros(0)).shape))
    for i, l in enumerate(lay):
        if l["type"] == "dense":
            shape = (int(np.prod(l["input"])), int(np.prod(l["output"])))
            need(t["layers.%d.W" % i].shape == shape and t["layers.%d.b" % i].shape == shape[1:],
                 "layer %d: W %r b %r, info says %r" % (i, t["layers.%d.W" % i].shape, t["layers.%d.b" % i].shape, shape))
    version = ok("--version").stdout.split()[1]   # "bptrain VERSION ..."
    need(meta.get("bptrain_version") == version and meta.get("normalize") == "standardize"
         and meta.get("input_shape") == "[4, 1, 1]" and "layers:" in meta.get("config", ""),
         "__metadata__ %r" % {k: v[:80] for k, v in meta.items()})
    ok("export", ckpt)
    onnx_meta = {p.key: p.value for p in onnx.load(ckpt[:-5] + ".onnx").metadata_props}
    need(onnx_meta["config"] == meta["config"], "the ONNX and safetensors configs differ")

    # The forward pass, in float32 as bptrain computes it.
    h = (x - t["norm.mean"]) * (np.float32(1) / t["norm.std"])
    for i, l in enumerate(lay):
        if l["type"] == "dense":
            h = ACT[l["activation"]]((h @ t["layers.%d.W" % i] + t["layers.%d.b" % i]).astype(np.float64))
            h = h.astype(np.float32)
    ref = predict(ckpt, os.path.join(d, "inputs.csv"))
    diff = float(np.max(np.abs(h - ref)))
    need(diff <= TOL, "NumPy forward pass from the safetensors vs predict --proba: max abs difference %.3g" % diff)

    d2 = fresh("st-idx")
    pix, labels = images(100, 3)
    write_idx(os.path.join(d2, "i-idx3-ubyte"), [100, 6, 6], pix)
    write_idx(os.path.join(d2, "l-idx1-ubyte"), [100], labels)
    ckpt2 = train(d2, "  train: {images: i-idx3-ubyte, labels: l-idx1-ubyte}\n",
                  ["{type: dense, units: 3, activation: softmax}"], epochs=1)
    out2 = os.path.join(d2, "m.safetensors")
    ok("export", ckpt2, "--format", "safetensors", "--output", out2)
    names2, t2, meta2 = read_safetensors(out2)
    need(names2 == ["layers.0.W", "layers.0.b"] and t2["layers.0.W"].shape == (36, 3),
         "IDX model tensors %r" % {k: v.shape for k, v in t2.items()})
    need(meta2.get("normalize") == "scale" and meta2.get("input_shape") == "[1, 6, 6]", "IDX metadata %r"
         % {k: v[:40] for k, v in meta2.items()})


@check
def e07_bad_inputs():
    """A corrupt, truncated or missing checkpoint → exit 3; an unwritable
    output → exit 1; an unknown --format → exit 2: one error line each, and
    no file (nor temporary) left behind."""
    d = fresh("bad")
    rows = mlp_rows(60, 4)
    write(os.path.join(d, "train.csv"), csv_rows(rows))
    ckpt = train(d, "  train: {path: train.csv}\n", ["{type: dense, units: 3, activation: softmax}"], epochs=1)
    with open(ckpt, "rb") as f:
        good = f.read()
    bad = os.path.join(d, "bad")
    os.mkdir(bad)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0x40
    for name, blob in (("flipped.ckpt", bytes(flipped)), ("short.ckpt", good[:len(good) // 2]), ("empty.ckpt", b"")):
        with open(os.path.join(bad, name), "wb") as f:
            f.write(blob)
    file_parent = os.path.join(bad, "plain")
    write(file_parent, "not a folder\n")
    cases = [
        (["flipped.ckpt"], 3), (["short.ckpt", "--format", "safetensors"], 3), (["empty.ckpt"], 3),
        (["missing.ckpt"], 3),
        ([ckpt, "--output", os.path.join(bad, "no", "such", "m.onnx")], 1),
        ([ckpt, "--format", "safetensors", "--output", os.path.join(file_parent, "m.safetensors")], 1),
        ([ckpt, "--output", bad], 1),
        ([ckpt, "--format", "tflite", "--output", os.path.join(bad, "m.tflite")], 2),
        ([ckpt, "--format"], 2), (["--bogus", ckpt], 2), ([], 2),
    ]
    for args, code in cases:
        args = [os.path.join(bad, a) if a.endswith(".ckpt") and not os.path.isabs(a) else a for a in args]
        p = bp("export", *args)
        err = p.stderr.strip().split("\n")
        need(p.returncode == code and len(err) == 1 and err[0].startswith("bptrain: error: "),
             "export %s: exit %d (expected %d), stderr %r" % (" ".join(args), p.returncode, code, p.stderr))
        need(not p.stdout, "export %s printed %r" % (" ".join(args), p.stdout))
        need(leftovers(bad) == [], "export %s left %r" % (" ".join(args), leftovers(bad)))
    need("tflite" in bp("export", ckpt, "--format", "tflite").stderr, "the unknown format is not named")
    need(leftovers(os.path.dirname(ckpt)) == [], "left %r" % leftovers(os.path.dirname(ckpt)))
    # A failed export leaves an existing file as it was.
    keep = os.path.join(d, "keep.onnx")
    write(keep, "old\n")
    p = bp("export", os.path.join(bad, "flipped.ckpt"), "--output", keep)
    need(p.returncode == 3 and open(keep).read() == "old\n", "a failed export touched %s" % keep)


@check
def e08_cnn():
    """The CNN layers: conv2d (same, odd size; a [3, 2] kernel
    with stride 2), batch_norm relu, max_pool2d same, avg_pool2d same
    (in-bounds count), flatten; global_avg_pool2d then batch_norm; and a
    per-feature batch_norm between dense layers: ONNX Runtime equals
    predict --proba and eval."""
    d = fresh("cnn")
    r = random.Random(11)
    def rows(n):
        out = []
        for _ in range(n):
            k, at = r.randrange(3), r.randrange(7)
            img = [r.uniform(0, 0.3) for _ in range(49)]
            for i in range(7):
                for j in range(7):
                    if (k == 0 and i == at) or (k == 1 and j == at):
                        img[7 * i + j] = r.uniform(0.7, 1)
            out.append(img + [k])
        return out
    train_rows, test = rows(160), rows(60)
    write(os.path.join(d, "train.csv"), csv_rows(train_rows))
    write(os.path.join(d, "test.csv"), csv_rows(test))
    write(os.path.join(d, "inputs.csv"), csv_rows([t[:49] for t in test]))
    nets = [
        ["{type: conv2d, filters: 4, kernel_size: 3, padding: same}", "{type: batch_norm, activation: relu}",
         "{type: max_pool2d, pool_size: 2, padding: same}",
         "{type: conv2d, filters: 5, kernel_size: [3, 2], strides: 2, padding: same, activation: elu}",
         "{type: avg_pool2d, pool_size: 2, strides: 1, padding: same}", "{type: flatten}",
         "{type: dropout, rate: 0.1}", "{type: dense, units: 3, activation: softmax}"],
        ["{type: conv2d, filters: 6, kernel_size: 3, activation: relu, use_bias: false}",
         "{type: avg_pool2d, pool_size: 2}", "{type: global_avg_pool2d}", "{type: batch_norm, activation: tanh}",
         "{type: dense, units: 3, activation: softmax}"],
        ["{type: dense, units: 8}", "{type: batch_norm, activation: relu}",
         "{type: dense, units: 3, activation: softmax}"],
    ]
    data = "  train: {path: train.csv}\n  test: {path: test.csv}\n  shape: [1, 7, 7]\n"
    cfg = os.path.join(d, "probe.yaml")
    write(cfg, "data:\n%smodel:\n  layers:\n    - {type: conv2d, filters: 2}\n    - {type: flatten}\n"
               "    - {type: dense, units: 3, activation: softmax}\n" % data)
    p = bp("train", cfg, "--check")
    need(p.returncode == 0, "train --check of a conv net: exit %d: %s" % (p.returncode, p.stderr.strip()))
    x = features(test, 49).reshape(-1, 1, 7, 7)
    for k, layers in enumerate(nets):
        dk = os.path.join(d, "net%d" % k)
        os.mkdir(dk)
        for f in ("train.csv", "test.csv"):
            shutil.copy(os.path.join(d, f), dk)
        ckpt = train(dk, data, layers, epochs=3)
        m = onnx_round_trip(ckpt, x, [t[-1] for t in test], os.path.join(d, "inputs.csv"))
        ops = [n.op_type for n in m.graph.node]
        need("BatchNormalization" in ops and ("Conv" in ops or k == 2), "net %d: nodes %r" % (k, ops))


# ---------------------------------------------------------------- the CNN mapping, ahead of the layers

def window(n, k, s, same):
    """SPEC: valid ⌊(n−k)/s⌋+1; same ⌈n/s⌉, the extra padding pixel after."""
    if not same:
        return (n - k) // s + 1, 0, 0
    out = -(-n // s)
    total = max((out - 1) * s + k - n, 0)
    return out, total // 2, total - total // 2


def ref_conv(x, w, b, s, same):
    n, c, hh, ww = x.shape
    f, _, kh, kw = w.shape
    oh, t, bt = window(hh, kh, s[0], same)
    ow, l, r = window(ww, kw, s[1], same)
    xp = np.pad(x, ((0, 0), (0, 0), (t, bt), (l, r)))
    y = np.zeros((n, f, oh, ow))
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * s[0]:i * s[0] + kh, j * s[1]:j * s[1] + kw]
            y[:, :, i, j] = np.tensordot(patch, w, axes=([1, 2, 3], [1, 2, 3]))
    return y + (b[None, :, None, None] if b is not None else 0)


def ref_pool(x, k, s, same, reduce):
    """Over the window's in-bounds values only (padding is NaN, skipped)."""
    n, c, hh, ww = x.shape
    oh, t, bt = window(hh, k[0], s[0], same)
    ow, l, r = window(ww, k[1], s[1], same)
    xp = np.pad(x, ((0, 0), (0, 0), (t, bt), (l, r)), constant_values=np.nan)
    y = np.zeros((n, c, oh, ow))
    for i in range(oh):
        for j in range(ow):
            y[:, :, i, j] = reduce(xp[:, :, i * s[0]:i * s[0] + k[0], j * s[1]:j * s[1] + k[1]], axis=(2, 3))
    return y


def ref_bn(x, t, i, eps):
    p = lambda name: t["layers.%d.%s" % (i, name)].astype(np.float64)[None, :, None, None]
    return (x - p("running_mean")) / np.sqrt(p("running_var") + eps) * p("gamma") + p("beta")


def ref_cnn0(x, t):
    x = (x - t["norm.mean"].reshape(1, 1, 7, 7)) / t["norm.std"].reshape(1, 1, 7, 7)
    x = ref_conv(x, t["layers.0.W"], t["layers.0.b"], (1, 1), True)
    x = ACT["relu"](ref_bn(x, t, 1, 0.001))
    x = ref_pool(x, (2, 2), (2, 2), True, np.nanmax)
    x = ACT["elu"](ref_conv(x, t["layers.3.W"], t["layers.3.b"], (2, 2), True))
    x = ref_pool(x, (2, 2), (1, 1), True, np.nanmean)
    x = x.reshape(len(x), -1)
    return x @ t["layers.7.W"] + t["layers.7.b"]


def ref_cnn1(x, t):
    x = ACT["relu"](ref_conv(x, t["layers.0.W"], None, (1, 1), False))
    x = ref_pool(x, (2, 2), (2, 2), False, np.nanmean)
    x = x.mean(axis=(2, 3), keepdims=True)
    x = np.tanh(ref_bn(x, t, 3, 0.01)).reshape(len(x), -1)
    x = ACT["sigmoid"](ref_bn(x[:, :, None, None], t, 5, 0.1).reshape(len(x), -1))   # on [N, F]
    return x @ t["layers.6.W"] + t["layers.6.b"]


@check
def e09_cnn_mapping():
    """The CNN mapping before the layers exist (tests/export_fixture.c:
    stand-in layers with random parameters): conv2d same with the extra
    pixel bottom/right, a [3, 2] kernel at stride 2, valid without bias;
    max_pool2d and avg_pool2d same (in-bounds count); global_avg_pool2d;
    batch_norm per channel, on [N, C, 1, 1] and on [N, F], with its running
    statistics;
    flatten; standardisation of image inputs. ONNX Runtime equals a NumPy
    reference of SPEC's semantics to 1e-5 (raw linear outputs, relative to
    the largest when above 1); an unmapped kind, softmax over a
    (C, H, W) output and a shape ONNX would not compute are errors."""
    tools()
    need(FIXTURE, "no export_fixture given (tests/meson.build passes it)")
    d = fresh("fixture")
    p = subprocess.run([FIXTURE, d], stdout=subprocess.PIPE, stderr=subprocess.PIPE, universal_newlines=True)
    need(p.returncode == 0, "export_fixture: exit %d: %s" % (p.returncode, p.stderr.strip()))
    bad = p.stdout.strip().split("\n")
    want = ["bad2: 2 fixture.yaml: layer 'model.layers.0' (lstm) cannot be exported to ONNX",
            "bad3: 2 fixture.yaml: layer 'model.layers.0' (conv2d) cannot be exported to ONNX: "
            "softmax over a (C, H, W) output",
            "bad4: 2 fixture.yaml: layer 'model.layers.0' (conv2d) cannot be exported to ONNX: "
            "its ONNX output 2x7x7 differs from its own 2x6x6"]
    need(bad == want, "the refusals:\n%s\nexpected:\n%s" % ("\n".join(bad), "\n".join(want)))
    x = np.random.RandomState(4).uniform(-1, 2, size=(9, 1, 7, 7)).astype(np.float32)
    for k, ref in enumerate((ref_cnn0, ref_cnn1)):
        model = os.path.join(d, "cnn%d.onnx" % k)
        m = onnx.load(model)
        onnx.checker.check_model(m, full_check=True)
        _, t, _ = read_safetensors(os.path.join(d, "cnn%d.safetensors" % k))
        r, y = ort(model, x)
        want = ref(x.astype(np.float64), {n: v.astype(np.float64) for n, v in t.items()})
        need(float(np.std(want)) > 0.1, "cnn%d: outputs spread %.3g, too little to tell" % (k, np.std(want)))
        diff = float(np.max(np.abs(y - want))) / max(1.0, float(np.max(np.abs(want))))
        need(diff <= TOL, "cnn%d: ONNX Runtime vs the NumPy reference: max difference %.3g (relative to the "
             "largest output); nodes %r" % (k, diff, [n.op_type for n in m.graph.node]))


# ---------------------------------------------------------------- main

def main():
    global BPTRAIN, TMP
    if len(sys.argv) < 2:
        print("usage: test_export.py PATH/TO/bptrain [PATH/TO/export_fixture] [CHECK...]", file=sys.stderr)
        return 2
    global FIXTURE
    BPTRAIN = os.path.abspath(sys.argv[1])
    only = sys.argv[2:]
    if only and os.path.basename(only[0]).startswith("export_fixture"):
        FIXTURE = os.path.abspath(only.pop(0))
    TMP = tempfile.mkdtemp(prefix="bptrain-export-")
    return run_checks(only, TMP, lambda fn: fn.__name__[1:3].lstrip("0"))


if __name__ == "__main__":
    sys.exit(main())
