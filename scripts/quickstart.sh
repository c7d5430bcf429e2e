#!/bin/sh
# Sets everything up, trains the default config (an MLP on Fashion-MNIST,
# from Debian's dataset-fashion-mnist) and evaluates its best checkpoint on
# the test set. Extra arguments go to `bptrain train` (e.g. --set train.epochs=2).
set -eu
cd "$(dirname "$0")/.."
sh scripts/setup.sh
out=${BPTRAIN_OUT:-runs/fashion-mlp}
./build/cmd/bptrain train configs/fashion_mnist_mlp.yaml --out "$out" --force "$@"
echo "== test set, best checkpoint ($out/best.ckpt)"
./build/cmd/bptrain eval "$out/best.ckpt" --split test
