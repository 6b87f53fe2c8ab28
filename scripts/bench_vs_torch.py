#!/usr/bin/env python3
"""Side-by-side training-step timing: `optimlab bench` against a peer program.

Runs the two alternately (ABAB…) so that both see the same machine load, and prints each run's
median ms per step (and optimlab's GEMM share) and the ratio of the medians. Timings on a
shared machine are noisy: compare ratios from one invocation, not absolute times across days.

The peer is PyTorch (`torch_mlp.py`) for f32 and the book's NumPy code (`numpy_mlp.py
--dtype f64`) for f64, unless `--peer` says otherwise; both use `--threads`.

    python3 scripts/bench_vs_torch.py --python .venv-peers/bin/python \
        --workload book --threads 1 --rounds 3
    python3 scripts/bench_vs_torch.py --workload book --dtype f64 --rounds 3
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
    p.add_argument("--peer", default=None,
                   help="peer program (default: ../shared/peers/torch_mlp.py for f32, numpy_mlp.py for f64)")
    p.add_argument("--workload", choices=sorted(WORKLOADS), default="book")
    p.add_argument("--threads", type=int, default=1, help="threads for both programs")
    p.add_argument("--dtype", choices=["f32", "f64"], default="f32")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--optim-impl", default="default", help="torch.optim implementation (default|foreach|fused)")
    args = p.parse_args()

    flags, iters = WORKLOADS[args.workload]
    numpy_peer = args.peer is None and args.dtype == "f64"
    peer = args.peer or ("../shared/peers/numpy_mlp.py" if numpy_peer else "../shared/peers/torch_mlp.py")
    peer_cmd = [args.python, peer, "--optimizer", "adam", "--threads", str(args.threads),
                "--iters", str(iters), *flags]
    if numpy_peer or "numpy" in peer:
        peer_cmd += ["--dtype", args.dtype]
        peer_name = "numpy"
    else:
        peer_cmd += ["--optim-impl", args.optim_impl]
        peer_name = "torch"
    ours, theirs, shares = [], [], []
    for r in range(args.rounds):
        o = run_json([args.optimlab, "bench", "--workload", args.workload, "--threads", str(args.threads),
                      "--dtype", args.dtype, "--steps", str(max(300, iters // 2)), "--json"])
        t = run_json(peer_cmd)
        ours.append(o["ms_per_step"])
        theirs.append(t["ms_per_iter_median"])
        share = o.get("gemm_share")
        if share is not None:
            shares.append(share)
        print(f"round {r + 1}: optimlab {o['ms_per_step']:.3f} ms/step"
              + (f" (GEMM {share * 100:.0f} %)" if share is not None else "")
              + f", {peer_name} {t.get(peer_name, '')} {t['ms_per_iter_median']:.3f} ms/iter "
              f"(peak RSS {t['peak_rss_mib']:.0f} MiB)", flush=True)
    mo, mt = statistics.median(ours), statistics.median(theirs)
    print(json.dumps({"workload": args.workload, "threads": args.threads, "dtype": args.dtype,
                      "peer": peer_name, "optim_impl": args.optim_impl if peer_name == "torch" else None,
                      "optimlab_ms": round(mo, 3), "peer_ms": round(mt, 3), "speedup": round(mt / mo, 2),
                      "optimlab_gemm_share": round(statistics.median(shares), 2) if shares else None}))


if __name__ == "__main__":
    main()
