#!/usr/bin/env python3
"""optimlab's default `tpe` against Optuna 5's default TPESampler: median regret (best value
minus the minimum) over SEEDS sequential studies of TRIALS trials on sphere-5D,
Rosenbrock-4D, Styblinski–Tang-5D, a mixed categorical/int/log-float function and one with
conditional parameters (Optuna with group=True there, which is what `tpe` means).

    cargo build --release -p optimlab --example tpe_quality
    scripts/bench_tpe_quality.py [--seeds 20] [--trials 1000] [--jobs 1] [--functions F ...]
                                 [--out DIR]

optimlab runs through `target/release/examples/tpe_quality` (or $TPE_QUALITY), Optuna through
`crates/optimlab/tests/fixtures/tpe/optuna_tpe.py quality`, one process per function with
--jobs > 1. Prints a Markdown table; --out keeps the raw regrets as JSON.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OPTUNA = os.path.join(ROOT, "crates/optimlab/tests/fixtures/tpe/optuna_tpe.py")
FUNCTIONS = ["sphere5", "rosenbrock4", "styblinski_tang5", "mixed", "conditional"]


def run(cmd):
    t = time.time()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out), time.time() - t


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", type=int, default=20)
    ap.add_argument("--trials", type=int, default=1000)
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--functions", nargs="+", default=FUNCTIONS, choices=FUNCTIONS)
    ap.add_argument("--out")
    a = ap.parse_args()
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    ours_bin = os.environ.get("TPE_QUALITY", os.path.join(target, "release/examples/tpe_quality"))
    if not os.path.exists(ours_bin):
        sys.exit(f"{ours_bin} missing: cargo build --release -p optimlab --example tpe_quality")
    n = [str(a.seeds), str(a.trials)]
    ours, ours_s = run([ours_bin, *n, *a.functions])
    with ThreadPoolExecutor(max(1, a.jobs)) as pool:
        parts = list(pool.map(lambda f: run([sys.executable, OPTUNA, "quality", *n, f]),
                              a.functions))
    theirs = {k: v for part, _ in parts for k, v in part.items()}
    theirs_s = sum(s for _, s in parts)
    print(f"{a.seeds} seeds x {a.trials} trials, median regret (best - minimum); "
          f"optimlab {ours_s:.0f} s, Optuna {theirs_s:.0f} s (CPU-serial sum)\n")
    print("| function | optimlab `tpe` | Optuna 5 `TPESampler` | ratio |")
    print("|---|---|---|---|")
    for f in a.functions:
        mo, mt = statistics.median(ours[f]), statistics.median(theirs[f])
        print(f"| {f} | {mo:.4g} | {mt:.4g} | {mo / mt:.2f} |")
    if a.out:
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, "tpe_quality.json"), "w") as fh:
            json.dump({"seeds": a.seeds, "trials": a.trials, "optimlab": ours, "optuna": theirs},
                      fh, indent=1)


if __name__ == "__main__":
    main()
