#!/usr/bin/env python3
"""Bad configs and bad --set arguments against the built bptrain.

Usage: test_config_errors.py PATH/TO/bptrain

Each case writes c.yaml into a fresh folder, runs
`bptrain train c.yaml --print-config ARGS...` there, and checks the exit
status and that stderr is exactly one line,
`bptrain: error: WHERE: MESSAGE`, with MESSAGE holding the expected words.
In a case's YAML, '@' marks where the error must point (it is removed before
the file is written) and gives WHERE = c.yaml:LINE:COL; cases without '@'
give WHERE explicitly. A few good configs check --print-config itself: it
succeeds, and its output loads back to the same text. The shape cases
(SHAPE_CASES) need the data's shape, so they write a tiny dataset and run
`bptrain train c.yaml --check` instead.
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

OK_HEAD = "data: {train: {path: d.csv}}\nmodel: {layers: [{type: dense, units: 3}]}\n"
BN_LAYERS = "data: {train: {path: d.csv}}\nmodel: {layers: [%s, {type: dense, units: 3}]}\n"
IDX_HEAD = ("data: {train: {images: x-idx3-ubyte, labels: y-idx1-ubyte}}\n"
            "model: {layers: [{type: dense, units: 3}]}\n")

# A conv net on IDX images, its first layer left to fill in.
CNN_HEAD = ("data: {train: {images: x-idx3-ubyte, labels: y-idx1-ubyte}}\n"
            "model:\n  layers:\n    - %s\n    - {type: dense, units: 3, activation: softmax}\n")

# (name, yaml, extra args, exit status, where (None: from '@'), message words)
CASES = [
    # YAML syntax and structure
    ("unclosed flow list", "a: [b, c\n@", [], 2, None, "invalid YAML"),
    ("tab indentation", "train:\n@\tepochs: 3\n", [], 2, None, "tab in the indentation"),
    ("bad indentation", "train:\n  epochs: 3\n @batch_size: 2\n", [], 2, None, "invalid YAML"),
    ("mapping value in plain scalar", "name: a@: b\n", [], 2, None, "invalid YAML"),
    ("duplicate key", OK_HEAD + "train: {epochs: 3, @epochs: 4}\n", [], 2, None, "duplicate key 'epochs'"),
    ("anchor", "a: @&x [1, 2]\nb: *x\n", [], 2, None, "anchors"),
    ("alias bomb", "a: @&a [1, 1, 1, 1]\nb: &b [*a, *a, *a, *a]\nc: [*b, *b, *b, *b]\n", [], 2, None,
     "not supported"),
    ("alias as key", "a: 1\n@*x : 2\n", [], 2, None, "aliases ('*x') are not supported"),
    ("two documents", "a: 1\n@---\nb: 2\n", [], 2, None, "one document"),
    ("empty file", "", [], 2, "c.yaml", "the config is empty"),
    ("only comments", "# nothing here\n\n", [], 2, "c.yaml", "the config is empty"),
    ("top level list", "@- data\n- model\n", [], 2, None, "must be a mapping"),
    ("top level scalar", "@hello\n", [], 2, None, "must be a mapping"),
    ("deep nesting", "a: " + "[" * 63 + "@[" + "]" * 64 + "\n", [], 2, None, "nesting deeper than 64"),
    ("invalid utf-8", "name: ab@\xff\n", [], 2, None, "invalid YAML"),
    ("complex key", "? @[a, b]\n: 1\n", [], 2, None, "key must be a single name"),
    ("unknown tag", "name: @!python/object x\n", [], 2, None, "unsupported YAML tag"),
    # keys
    ("misspelt top key", OK_HEAD + "@optimzer: {lr: 0.1}\n", [], 2, None,
     "unknown key 'optimzer' (did you mean 'optimizer'?)"),
    ("misspelt nested key", OK_HEAD + "train:\n  @epohcs: 3\n", [], 2, None,
     "unknown key 'train.epohcs' (did you mean 'epochs'?)"),
    ("unknown key, no suggestion", OK_HEAD + "@zzzzzz: 1\n", [], 2, None, "unknown key 'zzzzzz'; valid keys"),
    ("missing data", "model: {layers: [{type: dense}]}\n", [], 2, "c.yaml:1:1", "missing required key 'data'"),
    ("missing model", "data: {train: {path: d.csv}}\n", [], 2, "c.yaml:1:1", "missing required key 'model'"),
    ("missing layers", "data: {train: {path: d.csv}}\nmodel: @{init: he}\n", [], 2, None,
     "missing required key 'model.layers'"),
    ("missing train", "data: @{test: {path: d.csv}}\nmodel: {layers: [{type: dense}]}\n", [], 2, None,
     "missing required key 'data.train'"),
    ("missing labels", "data: {train: @{images: x-ubyte}}\nmodel: {layers: [{type: dense}]}\n", [], 2, None,
     "missing required key 'data.train.labels'"),
    # types and ranges
    ("word for integer", OK_HEAD + "train: {epochs: @ten}\n", [], 2, None,
     "'train.epochs' must be an integer, got 'ten'"),
    ("fraction for integer", OK_HEAD + "train: {batch_size: @2.5}\n", [], 2, None, "must be an integer"),
    ("zero batch size", OK_HEAD + "train: {batch_size: @0}\n", [], 2, None, "'train.batch_size' must be between 1"),
    ("negative lr", OK_HEAD + "optimizer: {lr: @-0.1}\n", [], 2, None, "'optimizer.lr' must be between 0"),
    ("zero lr", OK_HEAD + "optimizer: {lr: @0}\n", [], 2, None, "'optimizer.lr' must be greater than 0"),
    ("beta1 of one", OK_HEAD + "optimizer: {beta1: @1}\n", [], 2, None, "must be less than 1"),
    ("bad bool", OK_HEAD + "train: {shuffle: @maybe}\n", [], 2, None, "must be true or false"),
    ("negative seed", OK_HEAD + "seed: @-1\n", [], 2, None, "'seed' must be between 0"),
    ("list for mapping", OK_HEAD + "optimizer: @[adam, 0.1]\n", [], 2, None,
     "'optimizer' must be a mapping, not a list"),
    ("mapping for scalar", OK_HEAD + "loss: @{type: mse}\n", [], 2, None, "'loss' must be a single value"),
    ("misspelt choice", OK_HEAD + "loss: @crossentropy\n", [], 2, None, "did you mean 'cross_entropy'"),
    ("unknown optimizer", OK_HEAD + "optimizer: {type: @adamax}\n", [], 2, None, "unknown optimizer.type"),
    ("unknown normalize", OK_HEAD.replace("d.csv}", "d.csv}, normalize: @minmax"), [], 2, None,
     "unknown data.normalize 'minmax'"),
    ("empty name", OK_HEAD + "name: @''\n", [], 2, None, "'name' must not be empty"),
    # model
    ("empty layers", "data: {train: {path: d.csv}}\nmodel: {layers: @[]}\n", [], 2, None, "is empty"),
    ("layers as mapping", "data: {train: {path: d.csv}}\nmodel: {layers: @{type: dense}}\n", [], 2, None,
     "'model.layers' must be a list"),
    ("layer without type", "data: {train: {path: d.csv}}\nmodel: {layers: [{type: dense}, @{units: 2}]}\n",
     [], 2, None, "'model.layers.1' has no 'type'"),
    ("batch_norm momentum of one", BN_LAYERS % "{type: batch_norm, momentum: @1}", [], 2, None,
     "'model.layers.0.momentum' must be at least 0 and below 1, got 1"),
    ("batch_norm negative momentum", BN_LAYERS % "{type: batch_norm, momentum: @-0.5}", [], 2, None,
     "must be at least 0 and below 1"),
    ("batch_norm word for momentum", BN_LAYERS % "{type: batch_norm, momentum: @high}", [], 2, None,
     "'model.layers.0.momentum' must be a number"),
    ("batch_norm zero epsilon", BN_LAYERS % "{type: batch_norm, epsilon: @0}", [], 2, None,
     "'model.layers.0.epsilon' must be above 0"),
    ("batch_norm misspelt activation", BN_LAYERS % "{type: batch_norm, activation: @rel}", [], 2, None,
     "did you mean 'relu'"),
    ("batch_norm key of dense", BN_LAYERS % "{type: batch_norm, @units: 3}", [], 2, None,
     "unknown key 'model.layers.0.units'"),
    # convolutional layers: bad values (no data needed)
    ("conv2d bad padding", CNN_HEAD % "{type: conv2d, filters: 4, padding: @foo}", [], 2, None,
     "unknown model.layers.0.padding 'foo'"),
    ("conv2d kernel list of one", CNN_HEAD % "{type: conv2d, filters: 4, kernel_size: @[3]}", [], 2, None,
     "'model.layers.0.kernel_size' must be an integer or a pair [height, width], got a list of 1"),
    ("conv2d kernel list of three", CNN_HEAD % "{type: conv2d, filters: 4, kernel_size: @[3, 3, 3]}", [], 2, None,
     "got a list of 3"),
    ("conv2d zero filters", CNN_HEAD % "{type: conv2d, filters: @0}", [], 2, None,
     "'model.layers.0.filters' must be between 1"),
    ("conv2d zero strides", CNN_HEAD % "{type: conv2d, filters: 2, strides: @0}", [], 2, None,
     "'model.layers.0.strides' must be between 1"),
    ("conv2d zero in a stride pair", CNN_HEAD % "{type: conv2d, filters: 2, strides: [1, @0]}", [], 2, None,
     "'model.layers.0.strides.1' must be between 1"),
    ("conv2d fractional kernel", CNN_HEAD % "{type: conv2d, filters: 2, kernel_size: @2.5}", [], 2, None,
     "'model.layers.0.kernel_size' must be an integer"),
    ("conv2d without filters", CNN_HEAD % "@{type: conv2d, kernel_size: 3}", [], 2, None,
     "conv2d layer 'model.layers.0' needs 'filters'"),
    ("conv2d softmax", CNN_HEAD % "{type: conv2d, filters: 2, activation: @softmax}", [], 2, None,
     "cannot be softmax on a conv2d layer"),
    ("conv2d misspelt key", CNN_HEAD % "{type: conv2d, filters: 2, @kernel_sise: 3}", [], 2, None,
     "did you mean 'kernel_size'"),
    ("conv2d bad use_bias", CNN_HEAD % "{type: conv2d, filters: 2, use_bias: @maybe}", [], 2, None,
     "must be true or false"),
    ("max pool zero size", CNN_HEAD % "{type: max_pool2d, pool_size: @0}", [], 2, None,
     "'model.layers.0.pool_size' must be between 1"),
    ("avg pool bad padding", CNN_HEAD % "{type: avg_pool2d, padding: @full}", [], 2, None,
     "unknown model.layers.0.padding 'full'"),
    ("avg pool zero strides", CNN_HEAD % "{type: avg_pool2d, strides: @0}", [], 2, None,
     "'model.layers.0.strides' must be between 1"),
    ("global pool with a key", CNN_HEAD % "{type: global_avg_pool2d, @pool_size: 2}", [], 2, None,
     "unknown key 'model.layers.0.pool_size'"),
    # schedule, metrics
    ("schedule key of another type", OK_HEAD + "optimizer: {schedule: {type: constant, @gamma: 0.5}}\n",
     [], 2, None, "does not apply to a 'constant' schedule"),
    ("cosine floor above lr", OK_HEAD + "optimizer: {lr: 0.01, schedule: {type: cosine, min_lr: @0.1}}\n",
     [], 2, None, "must not exceed 'optimizer.lr'"),
    ("gamma zero", OK_HEAD + "optimizer: {schedule: {type: step, gamma: @0}}\n", [], 2, None,
     "must be greater than 0"),
    ("mse with val_accuracy", OK_HEAD + "loss: mse\noutput: {best_metric: @val_accuracy}\n", [], 2, None,
     "cannot be val_accuracy with loss mse"),
    # data
    ("label list without mse", "data: {train: {path: d.csv}, label_column: @[0, 1]}\n"
     "model: {layers: [{type: dense}]}\n", [], 2, None, "may be a list only with loss mse"),
    ("repeated label column", "data: {train: {path: d.csv}, label_column: [0, @0]}\n"
     "model: {layers: [{type: dense}]}\nloss: mse\n", [], 2, None, "repeats column 0"),
    ("csv key for idx data", IDX_HEAD.replace("}}\n", "}, @skip_rows: 1}\n", 1), [], 2, None,
     "'data.skip_rows' applies only to csv data"),
    ("csv file key for idx", "data: {format: idx, train: {@path: d.csv}}\nmodel: {layers: [{type: dense}]}\n",
     [], 2, None, "is for csv data"),
    ("misspelt file key", "data: {train: {@pth: d.csv}}\nmodel: {layers: [{type: dense}]}\n", [], 2, None,
     "did you mean 'path'"),
    ("validation split too big", "data: {train: {path: d.csv}, validation: {split: @1.5}}\n"
     "model: {layers: [{type: dense}]}\n", [], 2, None, "'data.validation.split' must be between 0 and 1"),
    ("split and files", "data: {train: {path: d.csv}, validation: @{split: 0.1, path: v.csv}}\n"
     "model: {layers: [{type: dense}]}\n", [], 2, None, "either 'split' or files"),
    ("two-character delimiter", "data: {train: {path: d.csv}, delimiter: @';;'}\n"
     "model: {layers: [{type: dense}]}\n", [], 2, None, "must be one character"),
    ("unknown format", "data: {format: @parquet, train: {path: d.csv}}\nmodel: {layers: [{type: dense}]}\n",
     [], 2, None, "unknown data.format 'parquet'"),
    # data.shape, data.augment
    ("shape of two sizes", OK_HEAD.replace("d.csv}", "d.csv}, shape: @[8, 8]"), [], 2, None,
     "'data.shape' must list three sizes [C, H, W], got 2"),
    ("shape of four sizes", OK_HEAD.replace("d.csv}", "d.csv}, shape: @[1, 2, 2, 2]"), [], 2, None,
     "must list three sizes [C, H, W], got 4"),
    ("shape with a zero", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, @0, 8]"), [], 2, None,
     "'data.shape.1' must be between 1 and"),
    ("shape with a negative size", OK_HEAD.replace("d.csv}", "d.csv}, shape: [@-1, 8, 8]"), [], 2, None,
     "'data.shape.0' must be between 1 and"),
    ("shape with a fraction", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, 8, @8.5]"), [], 2, None,
     "'data.shape.2' must be an integer, got '8.5'"),
    ("shape with a word", OK_HEAD.replace("d.csv}", "d.csv}, shape: [@c, 8, 8]"), [], 2, None,
     "'data.shape.0' must be an integer, got 'c'"),
    ("shape as a word", OK_HEAD.replace("d.csv}", "d.csv}, shape: @square"), [], 2, None,
     "'data.shape' must be a list [C, H, W] of three positive integers, or auto; got square"),
    ("shape as a mapping", OK_HEAD.replace("d.csv}", "d.csv}, shape: @{c: 1}"), [], 2, None,
     "'data.shape' must be a list [C, H, W]"),
    ("shape with a list inside", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, @[8], 8]"), [], 2, None,
     "'data.shape.1' must be"),
    ("shape too large", OK_HEAD.replace("d.csv}", "d.csv}, shape: @[2000, 1000, 1100]"), [], 2, None,
     "has more than 2147483647 values per sample"),
    ("shape set to two sizes", OK_HEAD, ["--set", "data.shape=[2, 2]"], 2, "--set data.shape=[2, 2]",
     "must list three sizes"),
    ("augment as a value", OK_HEAD.replace("d.csv}", "d.csv}, augment: @true"), [], 2, None,
     "'data.augment' must be a mapping"),
    ("augment negative shift", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, 4, 4], augment: {shift: @-1}"),
     [], 2, None, "'data.augment.shift' must be between 0 and"),
    ("augment fractional shift", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, 4, 4], augment: {shift: @1.5}"),
     [], 2, None, "'data.augment.shift' must be an integer, got '1.5'"),
    ("augment bad flip", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, 4, 4], augment: {flip: @maybe}"),
     [], 2, None, "'data.augment.flip' must be true or false, got 'maybe'"),
    ("augment quoted flip", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, 4, 4], augment: {flip: @'true'}"),
     [], 2, None, "'data.augment.flip' must be true or false"),
    ("augment misspelt key", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, 4, 4], augment: {@shfit: 1}"),
     [], 2, None, "unknown key 'data.augment.shfit' (did you mean 'shift'?)"),
    ("augment unknown key", OK_HEAD.replace("d.csv}", "d.csv}, shape: [1, 4, 4], augment: {@rotate: 10}"),
     [], 2, None, "unknown key 'data.augment.rotate'"),
    ("augment shift as large as the image", OK_HEAD.replace(
        "d.csv}", "d.csv}, shape: [1, 4, 8], augment: {shift: @4}"), [], 2, None,
     "'data.augment.shift' must be smaller than the image height and width (4, 8), got 4"),
    ("augment on flat csv", OK_HEAD.replace("d.csv}", "d.csv}, augment: @{shift: 1}"), [], 2, None,
     "'data.augment' needs image samples, but CSV samples are flat"),
    ("augment flip on flat csv", OK_HEAD.replace("d.csv}", "d.csv}, augment: @{flip: true}"), [], 2, None,
     "'data.augment' needs image samples"),
    ("augment on a one-pixel-wide shape", OK_HEAD.replace(
        "d.csv}", "d.csv}, shape: [8, 8, 1], augment: @{flip: true}"), [], 2, None,
     "needs image samples, with height and width above 1, but the samples are [8, 8, 1]"),
    ("augment shift set on flat csv", OK_HEAD, ["--set", "data.augment.shift=2"], 2,
     "--set data.augment.shift=2", "'data.augment' needs image samples"),
    # --set
    ("set without =", OK_HEAD, ["--set", "train.epochs"], 2, "--set train.epochs", "expected KEY=VALUE"),
    ("set with empty key", OK_HEAD, ["--set", "=5"], 2, "--set =5", "key before '=' is empty"),
    ("set with empty part", OK_HEAD, ["--set", "train..epochs=5"], 2, "--set train..epochs=5", "empty part"),
    ("set index out of range", OK_HEAD, ["--set", "model.layers.3.units=1"], 2,
     "--set model.layers.3.units=1", "index 3 is out of range"),
    ("set index not a number", OK_HEAD, ["--set", "model.layers.first.units=1"], 2,
     "--set model.layers.first.units=1", "not an index"),
    ("set unknown key", OK_HEAD, ["--set", "train.epohcs=3"], 2, "--set train.epohcs=3", "did you mean 'epochs'"),
    ("set bad value", OK_HEAD, ["--set", "train.epochs=many"], 2, "--set train.epochs=many",
     "must be an integer, got 'many'"),
    ("set out of range", OK_HEAD, ["--set", "optimizer.beta2=2"], 2, "--set optimizer.beta2=2", "must be"),
    ("set bad yaml", OK_HEAD, ["--set", "train.epochs=[1"], 2, "--set train.epochs=[1", "invalid YAML"),
    ("set inside a value", OK_HEAD, ["--set", "model.layers.0.type.x=1"], 2, "--set model.layers.0.type.x=1",
     "is a single value"),
    ("set later wins, still bad", OK_HEAD, ["--set", "train.epochs=3", "--set", "train.epochs=0"], 2,
     "--set train.epochs=0", "must be between 1"),
    # files and usage
    ("missing config", None, [], 2, "missing.yaml", "no such file"),
    ("folder as config", "DIR", [], 2, "sub", "is a folder"),
    ("unknown option", OK_HEAD, ["--bogus"], 2, "", "unknown option '--bogus'"),
    ("option without value", OK_HEAD, ["--set"], 2, "", "needs a value"),
    ("bad thread count", OK_HEAD, ["--threads", "-2"], 2, "", "'--threads' must be"),
    ("second positional", OK_HEAD, ["extra.yaml"], 2, "", "unexpected argument 'extra.yaml'"),
]


def idx_file(dims, fill=1):
    """An uncompressed uint8 IDX file of the given dimensions."""
    n = 1
    for d in dims:
        n *= d
    return bytes([0, 0, 8, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims) + bytes([fill]) * n


CSV64 = "".join(",".join(str((r * 7 + j) % 5) for j in range(64)) + ",%d\n" % (r % 3) for r in range(6))
IDX_FILES = {"x-idx3-ubyte": idx_file([6, 4, 4]), "y-idx1-ubyte": idx_file([6], 0),
             "f-idx2-ubyte": idx_file([6, 16]), "c-idx4-ubyte": idx_file([6, 2, 3, 5])}


def idx_config(images, data_extra):
    return ("data: {train: {images: %s, labels: y-idx1-ubyte}%s}\n"
            "model: {layers: [{type: dense, units: 3}]}\n" % (images, data_extra))


# Errors that only the data reveals: `train --check` over these files.
# (name, yaml, files, extra args, exit status, where (None: from '@'), message words)
DATA_CASES = [
    ("shape does not match the csv features", OK_HEAD.replace("d.csv}", "d.csv}, shape: @[1, 8, 9]"),
     {"d.csv": CSV64}, [], 2, None, "'data.shape' [1, 8, 9] has 72 values per sample, but the data has 64 features"),
    ("shape does not match the idx header", idx_config("x-idx3-ubyte", ", shape: @[1, 4, 5]"), IDX_FILES, [], 2,
     None, "'data.shape' [1, 4, 5] has 20 values per sample, but the data has 16 features"),
    ("augment shift as large as the idx image", idx_config("x-idx3-ubyte", ", augment: {shift: @4}"),
     IDX_FILES, [], 2, None, "'data.augment.shift' must be smaller than the image height and width (4, 4), got 4"),
    ("augment on flat idx data", idx_config("f-idx2-ubyte", ", augment: @{flip: true}"), IDX_FILES, [], 2, None,
     "needs image samples, with height and width above 1, but the samples are [16, 1, 1]"),
    ("augment shift beyond a rank-4 idx image", idx_config("c-idx4-ubyte", ", augment: {shift: @3}"),
     IDX_FILES, [], 2, None, "must be smaller than the image height and width (3, 5), got 3"),
    ("augment shift beyond the shape set", idx_config("f-idx2-ubyte", ", augment: {shift: @2}"), IDX_FILES,
     ["--set", "data.shape=[1, 8, 2]"], 2, None, "must be smaller than the image height and width (8, 2), got 2"),
]


# Shape errors, found when the data's shape is known: each case writes a
# tiny IDX set of 3x3 images (or a flat CSV) and runs `train --check`.
# (name, layers (one per line, '@' marks the layer's map), message words)
SHAPE_CASES = [
    ("kernel larger than the input", "{type: conv2d, filters: 4, padding: same}\n"
     "    - {type: conv2d, filters: 4, kernel_size: 2}\n    - @{type: conv2d, filters: 2, kernel_size: 5}",
     "conv2d layer 'model.layers.2' has a 5x5 kernel, larger than its 2x2 input (4,2,2)"),
    ("kernel taller than the input", "@{type: conv2d, filters: 4, kernel_size: [4, 1]}",
     "has a 4x1 kernel, larger than its 3x3 input (1,3,3)"),
    ("pool window larger than the input", "{type: conv2d, filters: 2, kernel_size: 2}\n"
     "    - @{type: max_pool2d, pool_size: 3}", "max_pool2d layer 'model.layers.1' has a 3x3 window, "
     "larger than its 2x2 input (2,2,2)"),
    ("avg pool larger than the input", "@{type: avg_pool2d, pool_size: [1, 4]}",
     "avg_pool2d layer 'model.layers.0' has a 1x4 window, larger than its 3x3 input (1,3,3)"),
    ("conv2d on a flat input", "{type: flatten}\n    - @{type: conv2d, filters: 2, kernel_size: 1}",
     "conv2d layer 'model.layers.1' needs an image input (C,H,W), but its input is flat (9,1,1)"),
    ("pool on a flat input", "{type: dense, units: 4}\n    - @{type: max_pool2d}",
     "max_pool2d layer 'model.layers.1' needs an image input (C,H,W), but its input is flat (4,1,1)"),
    ("global pool on a flat input", "{type: global_avg_pool2d}\n    - @{type: global_avg_pool2d}",
     "global_avg_pool2d layer 'model.layers.1' needs an image input"),
    ("conv2d on csv data", "CSV@{type: conv2d, filters: 2, kernel_size: 1}",
     "conv2d layer 'model.layers.0' needs an image input (C,H,W), but its input is flat (9,1,1)"),
]


def write_idx(path, dims, data, magic):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", magic) + b"".join(struct.pack(">I", d) for d in dims) + bytes(data))


def check_shape_case(exe, case):
    name, layers, words = case
    csv = layers.startswith("CSV")
    layers = layers[3:] if csv else layers
    head = ("data: {train: {path: d.csv}}\n" if csv else
            "data: {train: {images: x-idx3-ubyte, labels: y-idx1-ubyte}}\n")
    text, pos = locate(head + "model:\n  layers:\n    - " + layers +
                       "\n    - {type: dense, units: 3, activation: softmax}\n")
    with tempfile.TemporaryDirectory() as folder:
        with open(os.path.join(folder, "c.yaml"), "w") as f:
            f.write(text)
        write_idx(os.path.join(folder, "x-idx3-ubyte"), [4, 3, 3], [i % 256 for i in range(36)], 0x803)
        write_idx(os.path.join(folder, "y-idx1-ubyte"), [4], [0, 1, 2, 0], 0x801)
        with open(os.path.join(folder, "d.csv"), "w") as f:
            f.write("".join(",".join(str(v) for v in range(9)) + ",%d\n" % (i % 3) for i in range(4)))
        p = run(exe, folder, ["c.yaml", "--check"])
    err = p.stderr.decode("utf-8", "replace")
    lines = err.splitlines()
    problems = []
    if p.returncode != 2:
        problems.append("exit status %d, expected 2" % p.returncode)
    if len(lines) != 1:
        problems.append("%d stderr lines, expected 1" % len(lines))
    prefix = "bptrain: error: c.yaml:%s: " % pos
    if not lines or not lines[0].startswith(prefix):
        problems.append("stderr does not start with %r" % prefix)
    elif words not in lines[0]:
        problems.append("message lacks %r" % words)
    return problems, err


def locate(text):
    """Removes the '@' marker; returns the text and the marker's LINE:COL."""
    i = text.index("@")
    line = text.count("\n", 0, i) + 1
    col = i - (text.rfind("\n", 0, i) + 1) + 1
    return text[:i] + text[i + 1:], "%d:%d" % (line, col)


def run(exe, folder, args):
    return subprocess.run([exe, "train"] + args, cwd=folder, capture_output=True, timeout=60)


def check_case(exe, case, files=None, mode="--print-config"):
    name, text, extra, status, where, words = case
    with tempfile.TemporaryDirectory() as folder:
        for fname, content in (files or {}).items():
            with open(os.path.join(folder, fname), "wb") as f:
                f.write(content.encode() if isinstance(content, str) else content)
        config = "c.yaml"
        if text is None:
            config = "missing.yaml"
        elif text == "DIR":
            config = "sub"
            os.mkdir(os.path.join(folder, config))
        else:
            if where is None:
                text, pos = locate(text)
                where = "c.yaml:" + pos
            with open(os.path.join(folder, config), "wb") as f:
                f.write(text.encode("latin-1"))
        p = run(exe, folder, [config, mode] + extra)
    err = p.stderr.decode("utf-8", "replace")
    lines = err.splitlines()
    problems = []
    if p.returncode != status:
        problems.append("exit status %d, expected %d" % (p.returncode, status))
    if len(lines) != 1:
        problems.append("%d stderr lines, expected 1" % len(lines))
    if p.stdout:
        problems.append("unexpected stdout: %r" % p.stdout[:200])
    prefix = "bptrain: error: " + (where + ": " if where else "")
    if not lines or not lines[0].startswith(prefix):
        problems.append("stderr does not start with %r" % prefix)
    elif words not in lines[0]:
        problems.append("message lacks %r" % words)
    if where and where.startswith("c.yaml:") and lines and not re.match(
            r"^bptrain: error: c\.yaml:\d+:\d+: \S", lines[0]):
        problems.append("not of the form 'bptrain: error: FILE:LINE:COL: ...'")
    return problems, err


def check_round_trip(exe):
    """--print-config output, loaded from another folder, prints the same."""
    problems = []
    configs = [
        IDX_HEAD + "optimizer: {schedule: {type: step}}\n",
        OK_HEAD.replace("d.csv}", "d.csv}, label_column: [0, 1, 2], delimiter: \"\\t\"") + "loss: mse\nname: '7'\n",
        OK_HEAD + "train: {early_stopping: {patience: 3}}\n",
        OK_HEAD.replace("d.csv}", "d.csv}, shape: [3, 2, 5], augment: {flip: true, shift: 1}"),
        CNN_HEAD % "{type: conv2d, filters: 4, kernel_size: [3, 2]}\n    - {type: max_pool2d, pool_size: [2, 1]}\n"
        "    - {type: avg_pool2d, padding: same}\n    - {type: global_avg_pool2d}\n    - {type: flatten}",
    ]
    # What each config's output must hold besides the common keys.
    wants = [["  shape: auto\n", "  augment:\n    shift: 0\n    flip: false\n"], [], [],
             ["  shape:\n  - 3\n  - 2\n  - 5\n", "  augment:\n    shift: 1\n    flip: true\n"], []]
    for i, text in enumerate(configs):
        with tempfile.TemporaryDirectory() as folder:
            with open(os.path.join(folder, "c.yaml"), "w") as f:
                f.write(text)
            p = run(exe, folder, ["c.yaml", "--print-config", "--out", "o'dir", "--threads", "3"])
            if p.returncode != 0 or p.stderr:
                problems.append("round trip %d: exit %d, %s" % (i, p.returncode, p.stderr.decode()))
                continue
            first = p.stdout.decode()
            for want in ["dir: 'o''dir'\n", "threads: 3\n", "seed: 42\n", "epochs: 20\n", folder] + wants[i]:
                if want not in first:
                    problems.append("round trip %d: %r missing from\n%s" % (i, want, first))
            os.mkdir(os.path.join(folder, "again"))
            with open(os.path.join(folder, "again", "config.yaml"), "w") as f:
                f.write(first)
            q = run(exe, folder, ["again/config.yaml", "--print-config"])
            if q.returncode != 0 or q.stdout.decode() != first:
                problems.append("round trip %d differs:\n%s\n---\n%s%s" %
                                (i, first, q.stdout.decode(), q.stderr.decode()))
    return problems


def main():
    if len(sys.argv) != 2:
        print("usage: test_config_errors.py PATH/TO/bptrain", file=sys.stderr)
        return 2
    exe = os.path.abspath(sys.argv[1])
    failed = 0
    for case in CASES:
        problems, err = check_case(exe, case)
        if problems:
            failed += 1
            print("FAIL %s: %s\n     stderr: %s" % (case[0], "; ".join(problems), err.strip()))
        else:
            print("ok   %s" % case[0])
    for name, text, files, extra, status, where, words in DATA_CASES:
        problems, err = check_case(exe, (name, text, extra, status, where, words), files, "--check")
        if problems:
            failed += 1
            print("FAIL %s: %s\n     stderr: %s" % (name, "; ".join(problems), err.strip()))
        else:
            print("ok   %s" % name)
    for case in SHAPE_CASES:
        problems, err = check_shape_case(exe, case)
        if problems:
            failed += 1
            print("FAIL %s: %s\n     stderr: %s" % (case[0], "; ".join(problems), err.strip()))
        else:
            print("ok   %s" % case[0])
    problems = check_round_trip(exe)
    for p in problems:
        failed += 1
        print("FAIL " + p)
    if not problems:
        print("ok   print-config round trips")
    print("%d cases, %d failed" % (len(CASES) + len(DATA_CASES) + len(SHAPE_CASES) + 1, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
