#!/usr/bin/env python3
"""Side-by-side training-step timing: `optimlab bench` against the PyTorch peer program.

Runs the two alternately (ABAB…) so that both see the same machine load, and prints each run's
median ms per step and the ratio of the medians. Timings on a shared machine are noisy:
compare ratios from one invocation, not absolute times across days.

    python3 scripts/bench_vs_torch.py --python .venv-peers/bin/python \
        --peer ../shared/peers/torch_mlp.py --workload book --threads 1 --rounds 3
"""

import argparse
import json
import statistics
import subprocess
import sys

WORKLOADS = {
    # name: (torch_mlp.py flags, iterations for the peer)
    "book": (["--hidden", "100,100,100,100", "--batch", "128"], 2000),
    "wide": (["--hidden", "1024,1024", "--batch", "256"], 300),
}


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--optimlab", default="target/release/optimlab")
    p.add_argument("--python", default=sys.executable, help="a Python with torch installed")
    p.add_argument("--peer", default="../shared/peers/torch_mlp.py")
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="book")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--optim-impl", default="default", help="torch.optim implementation (default|foreach|fused)")
    args = p.parse_args()

    flags, iters = WORKLOADS[args.workload]
    ours, theirs = [], []
    for r in range(args.rounds):
        o = run_json([args.optimlab, "bench", "--workload", args.workload, "--threads", str(args.threads),
                      "--steps", str(max(300, iters // 2)), "--json"])
        t = run_json([args.python, args.peer, "--optimizer", "adam", "--threads", str(args.threads),
                      "--iters", str(iters), "--optim-impl", args.optim_impl, *flags])
        ours.append(o["ms_per_step"])
        theirs.append(t["ms_per_iter_median"])
        print(f"round {r + 1}: optimlab {o['ms_per_step']:.3f} ms/step, "
              f"torch {t['torch']} {t['ms_per_iter_median']:.3f} ms/iter "
              f"(peak RSS {t['peak_rss_mib']:.0f} MiB)", flush=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    print(json.dumps({"workload": args.workload, "threads": args.threads, "optim_impl": args.optim_impl,
                      "optimlab_ms": round(mo, 3), "torch_ms": round(mt, 3), "speedup": round(mt / mo, 2)}))


if __name__ == "__main__":
    main()
