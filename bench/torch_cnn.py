#!/usr/bin/python3
"""The PyTorch side of bench/run.sh's CNN rows (issue 10): the 2-conv net of
bench/configs/cnn.yaml (conv 32 3x3 same relu, max pool 2, conv 64 3x3 same
relu, max pool 2, dense 128 relu, dense 10 softmax; adam lr 0.001, batch 64)
trained the fastest idiomatic way (preloaded float tensors, randperm batches,
no DataLoader), so that per-epoch times compare like with like.

Run it with Debian's python3 (python3-torch 1.13, convolutions through
oneDNN), not a pyenv python:
  /usr/bin/python3 bench/torch_cnn.py --samples 20000 --epochs 2 --threads 2

Settings to find PyTorch's fastest on a machine (run.sh probes them all):
  --threads N        torch.set_num_threads(N) (OpenMP: oneDNN's convolutions);
                     OPENBLAS_NUM_THREADS in the environment sets the BLAS
                     threads of the dense layers
  --channels-last    the model and the batches in torch.channels_last
  --no-mkldnn        torch.backends.mkldnn.enabled = False: convolutions by
                     im2col and BLAS (PyTorch's "slow" path) instead of oneDNN
  --probe STEPS      time STEPS training steps after 5 warm-up ones and stop

Prints machine-readable lines on stdout:
  flop_per_sample_train F    2 x multiply-adds of forward, dW and dX (no dX
                             for the first conv) of one training sample
  flop_per_sample_forward F  2 x multiply-adds of one forward pass
  epoch E train_loss L train_acc A val_loss L val_acc A seconds S
  epoch_seconds E S          (the training pass plus validation, like bptrain's metrics.csv)
  probe_step_seconds S       (--probe: the mean of the timed steps)
  load_seconds S, process_seconds S, peak_rss_kb K, settings ...
"""
import argparse
import os
import resource
import sys
import time

T0 = time.perf_counter()

import torch  # noqa: E402  (timed: importing torch is part of the process cost)
import torch.nn.functional as F  # noqa: E402

from torch_mlp import read_idx  # noqa: E402  (bench/ is on sys.path when run as bench/torch_cnn.py)


class Net(torch.nn.Module):
    def __init__(self, h, w, classes=10):
        super().__init__()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.fc1 = torch.nn.Linear(64 * (h // 4) * (w // 4), 128)
        self.fc2 = torch.nn.Linear(128, classes)
        # bptrain's init "auto": He normal (fan-in = C·kh·kw for a conv) for
        # the relu layers, Glorot uniform for the softmax output; biases zero.
        with torch.no_grad():
            for m in (self.conv1, self.conv2, self.fc1):
                fan_in = m.weight[0].numel()
                torch.nn.init.normal_(m.weight, 0.0, (2.0 / fan_in) ** 0.5)
                m.bias.zero_()
            torch.nn.init.xavier_uniform_(self.fc2.weight)
            self.fc2.bias.zero_()

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        x = torch.flatten(x, 1)   # C,H,W order, as bptrain's dense after a (C,H,W) input
        return self.fc2(F.relu(self.fc1(x)))


def flop_counts(h, w, classes=10):
    """(train, forward) FLOP of one sample: 2 x multiply-adds of each conv and
    dense layer; training adds dW and dX, except dX of the first conv."""
    layers = [  # multiply-adds of one forward pass
        32 * h * w * 1 * 9,                              # conv1, same padding
        64 * (h // 2) * (w // 2) * 32 * 9,               # conv2 after the first pool
        64 * (h // 4) * (w // 4) * 128,                  # fc1
        128 * classes,                                   # fc2
    ]
    fwd = sum(layers)
    return 2 * (3 * fwd - layers[0]), 2 * fwd


def evaluate(model, x, y, batch, fmt):
    total, correct = 0.0, 0
    with torch.no_grad():
        for i in range(0, x.shape[0], batch):
            xb, yb = x[i:i + batch], y[i:i + batch]
            if fmt is not None:
                xb = xb.contiguous(memory_format=fmt)
            logits = model(xb)
            total += F.cross_entropy(logits, yb, reduction="sum").item()
            correct += (logits.argmax(1) == yb).sum().item()
    n = x.shape[0]
    return total / n, correct / n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist",
                    help="folder with train-{images-idx3,labels-idx1}-ubyte[.gz] (default: %(default)s)")
    ap.add_argument("--images", help="the images file (overrides --data)")
    ap.add_argument("--labels", help="the labels file (overrides --data)")
    ap.add_argument("--samples", type=int, default=0, help="use the first N samples (default: all)")
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--split", type=float, default=0.1, help="validation fraction (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default: %(default)s)")
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--no-mkldnn", action="store_true")
    ap.add_argument("--probe", type=int, default=0, metavar="STEPS")
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()

    torch.set_num_threads(args.threads)
    if args.no_mkldnn:
        torch.backends.mkldnn.enabled = False
    torch.manual_seed(args.seed)
    fmt = torch.channels_last if args.channels_last else None

    t_load = time.perf_counter()
    gz = lambda name: name + ".gz" if os.path.exists(os.path.join(args.data, name + ".gz")) else name
    images = read_idx(args.images or os.path.join(args.data, gz("train-images-idx3-ubyte")))
    labels = read_idx(args.labels or os.path.join(args.data, gz("train-labels-idx1-ubyte")))
    if args.samples:
        images, labels = images[:args.samples], labels[:args.samples]
    n, h, w = images.shape
    # Split the uint8 images first, then convert each part to float once: the
    # float copy of the whole set never exists, so peak RSS stays honest.
    nval = int(n * args.split)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(args.seed))
    val_idx, train_idx = perm[:nval], perm[nval:]
    x_train = images[train_idx].reshape(-1, 1, h, w).float().div_(255.0)
    x_val = images[val_idx].reshape(-1, 1, h, w).float().div_(255.0)
    y_train, y_val = labels[train_idx].long(), labels[val_idx].long()
    del images, labels
    print(f"load_seconds {time.perf_counter() - t_load:.4f}")
    train_flop, fwd_flop = flop_counts(h, w)
    print(f"flop_per_sample_train {train_flop}")
    print(f"flop_per_sample_forward {fwd_flop}")

    model = Net(h, w)
    if fmt is not None:
        model = model.to(memory_format=fmt)
    opt = torch.optim.Adam(model.parameters(), lr=args.lr)
    ntrain = x_train.shape[0]

    def step(idx, total, correct):
        xb, yb = x_train[idx], y_train[idx]
        if fmt is not None:
            xb = xb.contiguous(memory_format=fmt)
        logits = model(xb)
        loss = F.cross_entropy(logits, yb)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():   # the running loss and accuracy bptrain reports too
            total += loss.detach() * yb.shape[0]
            correct += (logits.argmax(1) == yb).sum()

    if args.probe:
        model.train()
        order = torch.randperm(ntrain)
        total = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        nb = max(1, ntrain // args.batch)
        for s in range(5 + args.probe):
            if s == 5:
                t = time.perf_counter()
            i = (s % nb) * args.batch
            step(order[i:i + args.batch], total, correct)
        print(f"probe_step_seconds {(time.perf_counter() - t) / args.probe:.6f}")

    for epoch in range(1, args.epochs + 1) if not args.probe else ():
        t = time.perf_counter()
        model.train()
        order = torch.randperm(ntrain)
        total = torch.zeros((), dtype=torch.float64)
        correct = torch.zeros((), dtype=torch.int64)
        for i in range(0, ntrain, args.batch):
            step(order[i:i + args.batch], total, correct)
        model.eval()
        val_loss, val_acc = evaluate(model, x_val, y_val, args.batch, fmt)
        sec = time.perf_counter() - t
        print(f"epoch {epoch} train_loss {total.item() / ntrain:.4f} train_acc {correct.item() / ntrain:.4f} "
              f"val_loss {val_loss:.4f} val_acc {val_acc:.4f} seconds {sec:.4f}")
        print(f"epoch_seconds {epoch} {sec:.4f}")
        sys.stdout.flush()

    print(f"process_seconds {time.perf_counter() - T0:.4f}")
    print(f"peak_rss_kb {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}")
    print(f"settings torch_threads {torch.get_num_threads()} "
          f"openblas_num_threads {os.environ.get('OPENBLAS_NUM_THREADS', '')} "
          f"omp_num_threads {os.environ.get('OMP_NUM_THREADS', '')} "
          f"channels_last {int(args.channels_last)} mkldnn {int(torch.backends.mkldnn.enabled)}")


if __name__ == "__main__":
    main()
