#!/usr/bin/env python3
"""The study's own cost per trial: optimlab (ask/tell, `examples/tune_overhead.rs`), Optuna
and Rustuna on the 5-D sphere with an instant objective, for each sampler, storage and trial
count. Prints one JSON line per run and a Markdown table at the end.

    cargo build --release -p optimlab --example tune_overhead
    scripts/bench_tune_overhead.py [--trials 1000 3000] [--samplers random tpe qmc]
        [--storages memory sqlite journal] [--libs optimlab optuna rustuna] [--timeout 600]

TPE is the multivariate one everywhere (optimlab's default `tpe`; Optuna
`TPESampler(multivariate=True, group=True, constant_liar=True)`; Rustuna
`TPESampler(multivariate=True)`). Each run is a fresh process on a fresh storage file.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
TARGET = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "target"))
EXAMPLE = os.path.join(TARGET, "release", "examples", "tune_overhead")

# Runs inside a fresh Python process: LIB SAMPLER STORAGE TRIALS.
PY_RUN = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
lib, sampler, storage, trials = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
start = time.perf_counter()
if lib == "optuna":
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    S = optuna.samplers
    sampler_obj = {
        "random": lambda: S.RandomSampler(seed=0),
        "tpe": lambda: S.TPESampler(seed=0, multivariate=True, group=True, constant_liar=True),
        "qmc": lambda: S.QMCSampler(seed=0, qmc_type="sobol"),
    }[sampler]()
    if storage == "memory":
        st = None
    elif storage.startswith("sqlite:"):
        st = "sqlite:///" + storage[len("sqlite:"):]
    else:
        from optuna.storages.journal import JournalFileBackend
        st = optuna.storages.JournalStorage(JournalFileBackend(storage[len("journal:"):]))
    study = optuna.create_study(sampler=sampler_obj, storage=st)
    def ask_tell():
        t = study.ask()
        v = sum(t.suggest_float(f"x{i}", -5.0, 5.0) ** 2 for i in range(5))
        study.tell(t, v)
else:
    import rustuna
    S = rustuna.samplers
    sampler_obj = {
        "random": lambda: S.RandomSampler(seed=0),
        "tpe": lambda: S.TPESampler(seed=0, multivariate=True),
    }[sampler]()
    if storage == "memory":
        st = None
    elif storage.startswith("sqlite:"):
        st = rustuna.storages.SQLite3Storage(storage[len("sqlite:"):])
    else:
        st = rustuna.storages.JournalFileStorage(storage[len("journal:"):])
    study = rustuna.create_study(sampler=sampler_obj, storage=st)
    def ask_tell():
        t = study.ask()
        v = sum(t.suggest_float(f"x{i}", -5.0, 5.0) ** 2 for i in range(5))
        study.tell(t.number, v)
per = []
for _ in range(trials):
    t0 = time.perf_counter()
    ask_tell()
    per.append((time.perf_counter() - t0) * 1e3)
k = min(100, len(per))
print(json.dumps({"library": lib, "sampler": sampler, "storage": storage, "trials": len(per),
    "best": study.best_trial.value if lib == "optuna" else study.best_trial.values[0], "total_s": time.perf_counter() - start,
    "first100_ms": sum(per[:k]) / k, "last100_ms": sum(per[-k:]) / k}))
"""


def run(lib, sampler, storage, trials, timeout):
    with tempfile.TemporaryDirectory() as d:
        url = {"memory": "memory", "sqlite": f"sqlite:{d}/s.db", "journal": f"journal:{d}/j.log"}[storage]
        if lib == "optimlab":
            name = {"qmc": "sobol"}.get(sampler, sampler)
            cmd = [EXAMPLE, name, url, str(trials), "0"]
        else:
            if lib == "rustuna" and sampler == "qmc":
                return None  # Rustuna has no QMC sampler
            cmd = [sys.executable, "-c", PY_RUN, lib, sampler, url, str(trials)]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True)
        except subprocess.TimeoutExpired:
            return {"library": lib, "sampler": sampler, "storage": storage, "trials": trials,
                    "error": f"over {timeout} s"}
        except subprocess.CalledProcessError as e:
            return {"library": lib, "sampler": sampler, "storage": storage, "trials": trials,
                    "error": e.stderr.strip().splitlines()[-1] if e.stderr.strip() else str(e)}
        r = json.loads(out.stdout.strip().splitlines()[-1])
        r["storage"] = storage
        if lib == "optimlab":
            r["sampler"] = sampler
        return r


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, nargs="+", default=[1000, 3000])
    ap.add_argument("--samplers", nargs="+", default=["random", "qmc", "tpe"])
    ap.add_argument("--storages", nargs="+", default=["memory", "sqlite", "journal"])
    ap.add_argument("--libs", nargs="+", default=["optimlab", "optuna", "rustuna"])
    ap.add_argument("--timeout", type=float, default=600)
    a = ap.parse_args()
    rows = []
    for trials in a.trials:
        for storage in a.storages:
            for sampler in a.samplers:
                for lib in a.libs:
                    r = run(lib, sampler, storage, trials, a.timeout)
                    if r is None:
                        continue
                    print(json.dumps(r), flush=True)
                    rows.append(r)
    print()
    print("| trials | storage | sampler | library | best | total s | ms/trial first 100 | last 100 | last/first |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        if "error" in r:
            print(f"| {r['trials']} | {r['storage']} | {r['sampler']} | {r['library']} | {r['error']} | | | | |")
            continue
        print(f"| {r['trials']} | {r['storage']} | {r['sampler']} | {r['library']} | {r['best']:.4g} | "
              f"{r['total_s']:.3g} | {r['first100_ms']:.3g} | {r['last100_ms']:.3g} | "
              f"{r['last100_ms'] / r['first100_ms']:.2f} |")


if __name__ == "__main__":
    main()
