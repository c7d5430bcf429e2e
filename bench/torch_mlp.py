#!/usr/bin/python3
"""The PyTorch side of bench/run.sh (issue 5): the same MLP as bptrain, trained
the fastest idiomatic way (preloaded float tensors, randperm batches, no
DataLoader), so that the per-epoch times compare like with like.

Run it with Debian's python3 (python3-torch), not a pyenv python:
  /usr/bin/python3 bench/torch_mlp.py --layers 784,64,10 --batch 32 --epochs 2 --threads 1

Prints machine-readable lines on stdout:
  epoch E train_loss L train_acc A val_loss L val_acc A seconds S
  epoch_seconds E S          (the training pass plus validation, like bptrain's metrics.csv)
  load_seconds S             (reading and decoding the IDX files)
  process_seconds S          (from interpreter start to the end of training)
  peak_rss_kb K              (resource.getrusage ru_maxrss)
"""
import argparse
import gzip
import os
import resource
import struct
import sys
import time

T0 = time.perf_counter()

import torch  # noqa: E402  (timed: importing torch is part of the process cost)


def read_idx(path):
    """An IDX file (gzipped or not) as a uint8 tensor of its stored shape."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    zero, dtype, ndim = struct.unpack_from(">HBB", raw, 0)
    if zero != 0 or dtype != 0x08:
        sys.exit(f"torch_mlp: {path}: not a uint8 IDX file")
    dims = struct.unpack_from(">" + "I" * ndim, raw, 4)
    off = 4 + 4 * ndim
    count = 1
    for d in dims:
        count *= d
    if len(raw) - off < count:
        sys.exit(f"torch_mlp: {path}: truncated")
    t = torch.frombuffer(bytearray(raw[off:off + count]), dtype=torch.uint8)
    return t.reshape(dims)


def build_mlp(widths):
    layers = []
    for i in range(len(widths) - 1):
        lin = torch.nn.Linear(widths[i], widths[i + 1])
        # bptrain's init "auto": He normal for relu layers, Glorot uniform for the
        # softmax output; biases zero.
        with torch.no_grad():
            if i < len(widths) - 2:
                torch.nn.init.normal_(lin.weight, 0.0, (2.0 / widths[i]) ** 0.5)
            else:
                torch.nn.init.xavier_uniform_(lin.weight)
            lin.bias.zero_()
        layers.append(lin)
        if i < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    return torch.nn.Sequential(*layers)


def evaluate(model, x, y, batch):
    loss_fn = torch.nn.functional.cross_entropy
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            logits = model(xb)
            total += loss_fn(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    n = x.shape[0]
    return total / n, correct / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--layers", default="784,64,10", help="widths, input first (default: %(default)s)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--split", type=float, default=0.1, help="validation fraction (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    widths = [int(w) for w in args.layers.split(",")]

    t_load = time.perf_counter()
    images = read_idx(os.path.join(args.data, "train-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(args.data, "train-labels-idx1-ubyte.gz"))
    n = images.shape[0]
    images = images.reshape(n, -1)
    if images.shape[1] != widths[0]:
        sys.exit(f"torch_mlp: input width {images.shape[1]} != --layers {widths[0]}")
    # Split the uint8 images first, then convert each part to float once: the
    # float copy of the whole set never exists, so peak RSS stays honest.
    nval = int(n * args.split)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    val_idx, train_idx = perm[:nval], perm[nval:]
    x_train = images[train_idx].float().div_(255.0)
    x_val = images[val_idx].float().div_(255.0)
    y_train, y_val = labels[train_idx].long(), labels[val_idx].long()
    del images, labels
    print(f"load_seconds {time.perf_counter() - t_load:.4f}")

    model = build_mlp(widths)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = torch.nn.functional.cross_entropy
    ntrain = x_train.shape[0]

    for epoch in range(1, args.epochs + 1):
        t = time.perf_counter()
        model.train()
        order = torch.randperm(ntrain)
        total = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for i in range(0, ntrain, args.batch):
            idx = order[i:i + args.batch]
            xb, yb = x_train[idx], y_train[idx]
            logits = model(xb)
            loss = loss_fn(logits, yb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():   # the running loss and accuracy bptrain reports too
                total += loss.detach() * yb.shape[0]
                correct += (logits.argmax(1) == yb).sum()
        model.eval()
        val_loss, val_acc = evaluate(model, x_val, y_val, args.batch)
        sec = time.perf_counter() - t
        print(f"epoch {epoch} train_loss {total.item() / ntrain:.4f} train_acc {correct.item() / ntrain:.4f} "
              f"val_loss {val_loss:.4f} val_acc {val_acc:.4f} seconds {sec:.4f}")
        print(f"epoch_seconds {epoch} {sec:.4f}")
        sys.stdout.flush()

    print(f"process_seconds {time.perf_counter() - T0:.4f}")
    print(f"peak_rss_kb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
    print(f"torch_threads {torch.get_num_threads()} openblas_num_threads {os.environ.get('OPENBLAS_NUM_THREADS', '')}")


if __name__ == "__main__":
    main()
