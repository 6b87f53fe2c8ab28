#!/usr/bin/env python3
"""Runs the PyTorch snippet of docs/formats.md on a model and compares its probabilities with
`optimlab predict` on the same samples.

Usage: check_torch_snippet.py OPTIMLAB_BINARY MODEL.safetensors
Needs torch, safetensors and numpy (e.g. in a venv: pip install torch safetensors numpy).
"""
import pathlib, random, re, subprocess, sys, tempfile

import numpy as np
import torch

binary, model_path = sys.argv[1], sys.argv[2]
doc = (pathlib.Path(__file__).parent.parent / "docs" / "formats.md").read_text()
snippet = re.search(r"```python\n(.*?)```", doc, re.S).group(1)
snippet = snippet.replace('"runs/digits-adam/model.safetensors"', repr(model_path))
ns = {}
exec(snippet, ns)
model = ns["model"]
features = next(model.parameters()).shape[1]

random.seed(1)
rows = [[random.random() for _ in range(features)] for _ in range(8)]
with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as f:
    f.write("".join(",".join(f"{v:.4f}" for v in r) + "\n" for r in rows))
out = subprocess.run([binary, "predict", "--model", model_path, "--input", f.name],
                     check=True, capture_output=True, text=True).stdout
reference = np.array([[float(v) for v in line.split(",")[2:]] for line in out.splitlines()[1:]])
x = np.loadtxt(f.name, delimiter=",", ndmin=2)
with torch.no_grad():
    p = model(torch.tensor(x, dtype=next(model.parameters()).dtype)).softmax(-1).numpy()
delta = np.abs(p - reference).max()
print(f"{model_path}: max |p_torch - p_optimlab| = {delta:.2e}")
sys.exit(0 if delta < 1e-5 else 1)
