#!/usr/bin/env python3
"""Writes the fuzz seed corpus, fuzz/seeds/<target>/, from real small files.

Sources: the first samples of the embedded digits CSV (crates/optimlab/data/digits.csv.gz) and,
when installed, of Fashion-MNIST (/usr/share/datasets/fashion-mnist); the model, checkpoint,
config and Optuna journal fixtures of the test suite; the space file of docs/tuning.md. Every
seed is a few KiB: libFuzzer mutates small inputs fastest, and `cargo test` replays them all
(crates/optimlab/tests/fuzz_regressions.rs).

Run from anywhere: python3 scripts/fuzz_seeds.py
"""

import gzip
import os
import re
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
FIXTURES = os.path.join(ROOT, "crates", "optimlab", "tests", "fixtures")
FASHION = "/usr/share/datasets/fashion-mnist"


def write(target, name, data):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def copy(target, name, src):
    d = os.path.join(SEEDS, target)
    os.makedirs(d, exist_ok=True)
    shutil.copyfile(src, os.path.join(d, name))


def idx(dims, data):
    head = bytes([0, 0, 0x08, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    return head + bytes(data)


def gz(data):
    # mtime 0: the same seed bytes on every run.
    return gzip.compress(data, mtime=0)


def digits_rows(n):
    with gzip.open(os.path.join(ROOT, "crates", "optimlab", "data", "digits.csv.gz"), "rt") as f:
        lines = [l.strip() for l in f if l.strip()]
    rows = [l for l in lines if re.match(r"^[0-9.,\s-]+$", l)]
    return rows[:n]


def main():
    shutil.rmtree(SEEDS, ignore_errors=True)

    # IDX: digits (8×8 bytes, 0..16 → scaled to 0..255) and, if present, Fashion-MNIST (28×28).
    rows = [[float(x) for x in r.split(",")] for r in digits_rows(4)]
    pixels = [min(255, int(v * 255 / 16)) for r in rows for v in r[:-1]]
    labels = [int(r[-1]) for r in rows]
    images = idx([len(rows), 8, 8], pixels)
    labs = idx([len(rows)], labels)
    for target in ("idx", "idx_gz"):
        write(target, "digits-images-idx3-ubyte", images)
        write(target, "digits-labels-idx1-ubyte", labs)
    write("idx", "digits-images-idx3-ubyte.gz", gz(images))
    write("idx", "digits-labels-idx1-ubyte.gz", gz(labs))
    if os.path.isdir(FASHION):
        with gzip.open(os.path.join(FASHION, "t10k-images-idx3-ubyte.gz")) as f:
            head = f.read(16 + 2 * 28 * 28)
        with gzip.open(os.path.join(FASHION, "t10k-labels-idx1-ubyte.gz")) as f:
            lab_head = f.read(8 + 2)
        fimages = idx([2, 28, 28], head[16:])
        flabels = idx([2], lab_head[8:])
        for target in ("idx", "idx_gz"):
            write(target, "fashion-images-idx3-ubyte", fimages)
            write(target, "fashion-labels-idx1-ubyte", flabels)
        write("idx", "fashion-images-idx3-ubyte.gz", gz(fimages))
        write("idx", "fashion-labels-idx1-ubyte.gz", gz(flabels))

    # CSV: the first byte of a csv seed picks header mode and label column (fuzz/src/lib.rs):
    # 0 auto + last, 1 yes + last, 2 no + last, 3 auto + first, 9 auto + name "label".
    sample = "\n".join(digits_rows(3)) + "\n"
    write("csv", "digits", b"\x00" + sample.encode())
    write("csv", "digits-no-header", b"\x02" + sample.encode())
    header = ",".join([f"p{i}" for i in range(64)] + ["label"]) + "\n"
    write("csv", "digits-header", b"\x09" + (header + sample).encode())
    write("csv", "bom-crlf", b"\x00" + "\ufeffx,y,label\r\n0.5,0.25,1\r\n\r\n1,0,0\r\n".encode())
    write("csv", "label-first", b"\x03" + b"1,0.5,0.25\n0,1e-3,-2.5\n")
    write("csv", "quoted-header", b"\x01" + b'"a","b","label"\n0.1,0.2,3\n')

    # Models and checkpoints written by optimlab train (test fixtures).
    run = os.path.join(FIXTURES, "run_before_runconfig")
    copy("model", "model.safetensors", os.path.join(run, "model.safetensors"))
    copy(
        "model",
        "model-4-epochs.safetensors",
        os.path.join(FIXTURES, "run_before_runconfig_4_epochs.model.safetensors"),
    )
    copy("checkpoint", "checkpoint.safetensors", os.path.join(run, "checkpoint.safetensors"))
    copy("checkpoint", "model.safetensors", os.path.join(run, "model.safetensors"))

    # Run configurations.
    copy("run_config", "config.toml", os.path.join(run, "config.toml"))
    # model_config: the config metadata of a model file (fuzz/src/lib.rs builds the file).
    copy("model_config", "config.toml", os.path.join(run, "config.toml"))
    write(
        "run_config",
        "flags.toml",
        'data = "digits"\nhidden = [32, 16]\noptimizer = "adam"\nlr = 0.001\nbeta1 = 0.9\n'
        'schedule = "cosine:300"\nepochs = 3\nseed = 7\nweight_decay = 1e-4\nclip_norm = 1.0\n',
    )
    write(
        "run_config",
        "book.toml",
        'preset = "book"\ndtype = "f64"\ndata = "digits"\ninit = "0.01"\n'
        'optimizer = "sgd"\nbatch_norm = true\ndropout = 0.2\nval_fraction = 0.2\nearly_stop = 3\n',
    )

    # Search spaces: the example of docs/tuning.md and one of each distribution option.
    with open(os.path.join(ROOT, "docs", "tuning.md")) as f:
        doc = f.read()
    m = re.search(r"```toml\n(\[params\].*?)```", doc, re.S)
    if m:
        write("tune_space", "docs-tuning.toml", m.group(1))
    write(
        "tune_space",
        "kinds.toml",
        '[params]\nbatch_size = { type = "int", low = 16, high = 256, log = true, grid = [16, 64, 256] }\n'
        'epochs = { type = "int", low = 1, high = 4, step = 1 }\n'
        'dropout = { type = "float", low = 0.0, high = 0.5, step = 0.1 }\n'
        'activation = { type = "categorical", choices = ["relu", "sigmoid", "tanh"] }\n'
        '\n[train]\ntrain_limit = 200\n',
    )

    # Journals: Optuna's own (test fixture), its first operations, and one with a torn last line.
    log = os.path.join(FIXTURES, "optuna", "optuna_study.log")
    copy("journal", "optuna_study.log", log)
    with open(log, "rb") as f:
        lines = f.read().splitlines(keepends=True)
    write("journal", "first-ops.log", b"".join(lines[:8]))
    write("journal", "torn.log", b"".join(lines[:6]) + lines[6][: len(lines[6]) // 2])

    n = sum(len(fs) for _, _, fs in os.walk(SEEDS))
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(SEEDS) for f in fs)
    print(f"{n} seed files, {size} bytes, in {os.path.relpath(SEEDS, ROOT)}/", file=sys.stderr)


if __name__ == "__main__":
    main()
