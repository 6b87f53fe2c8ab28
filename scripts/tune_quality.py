#!/usr/bin/env python3
"""Aggregates the studies written by tune_quality.sh: for each configuration, the best
validation accuracy found against the total epochs consumed (trials in number order; a
pruned trial consumes the epochs it reported), the median over seeds. Writes
OUT/results.json and OUT/quality.svg. Standard library only."""
import json
import os
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "runs/tune-quality"
runs = {}
for name in sorted(os.listdir(out)):
    path = os.path.join(out, name, "results.json")
    if not os.path.isfile(path):
        continue
    config, seed = name.rsplit("-", 1)
    with open(path) as f:
        r = json.load(f)
    trials = sorted(r["trials"], key=lambda t: t["number"])
    epochs, best, curve = 0, None, []
    for t in trials:
        epochs += len(t["intermediate"])
        if t["state"] == "COMPLETE" and t["value"] is not None:
            best = t["value"] if best is None else max(best, t["value"])
        curve.append([epochs, best])
    runs.setdefault(config, {})[int(seed)] = {
        "final_best": best,
        "total_epochs": epochs,
        "trials": len(trials),
        "curve": curve,
    }


def epochs_to_reach(curve, target):
    for e, b in curve:
        if b is not None and b >= target:
            return e
    return None


summary = {}
random = runs.get("random+none", {})
for config, seeds in runs.items():
    finals = [s["final_best"] for s in seeds.values() if s["final_best"] is not None]
    totals = [s["total_epochs"] for s in seeds.values()]
    # Epochs this configuration needs to reach random search's final best (same seed).
    reach = []
    for seed, s in seeds.items():
        if seed in random and random[seed]["final_best"] is not None:
            e = epochs_to_reach(s["curve"], random[seed]["final_best"])
            reach.append(
                None if e is None else e / random[seed]["total_epochs"]
            )
    reached = [x for x in reach if x is not None]
    # Seeds where this configuration's final best is at least random search's (same seed).
    at_least = [
        s["final_best"] >= random[seed]["final_best"]
        for seed, s in seeds.items()
        if seed in random and None not in (s["final_best"], random[seed]["final_best"])
    ]
    summary[config] = {
        "seeds": len(seeds),
        "median_final_best_val_acc": statistics.median(finals) if finals else None,
        "median_total_epochs": statistics.median(totals) if totals else None,
        "seeds_reaching_random_best": f"{len(reached)}/{len(reach)}",
        "seeds_final_best_at_least_random": f"{sum(at_least)}/{len(at_least)}",
        "median_epoch_fraction_to_reach_random_best": (
            statistics.median([x if x is not None else float("inf") for x in reach])
            if reach
            else None
        ),
    }

with open(os.path.join(out, "results.json"), "w") as f:
    json.dump({"summary": summary, "runs": runs}, f, indent=1)
times = os.path.join(out, "times.txt")
print(json.dumps(summary, indent=1))

# The picture: median (over seeds) best-so-far against epochs consumed.
W, H, L, B, T, R = 720, 440, 70, 50, 20, 170
max_e = max((s["total_epochs"] for seeds in runs.values() for s in seeds.values()), default=1)
vals = [b for seeds in runs.values() for s in seeds.values() for _, b in s["curve"] if b is not None]
lo, hi = (min(vals), max(vals)) if vals else (0, 1)
lo = max(0.0, lo - 0.02)
hi = min(1.0, hi + 0.02)
X = lambda e: L + (W - L - R) * e / max_e
Y = lambda v: H - B - (H - B - T) * (v - lo) / (hi - lo or 1)
colors = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<line x1="{L}" y1="{H-B}" x2="{W-R}" y2="{H-B}" stroke="black"/>',
       f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H-B}" stroke="black"/>',
       f'<text x="{(L+W-R)/2}" y="{H-12}" text-anchor="middle">total epochs consumed</text>',
       f'<text x="16" y="{(T+H-B)/2}" transform="rotate(-90 16 {(T+H-B)/2})" text-anchor="middle">best val acc (median over seeds)</text>']
for k in range(6):
    e = max_e * k / 5
    v = lo + (hi - lo) * k / 5
    svg.append(f'<text x="{X(e):.1f}" y="{H-B+16}" text-anchor="middle">{e:.0f}</text>')
    svg.append(f'<text x="{L-6}" y="{Y(v)+4:.1f}" text-anchor="end">{v:.2f}</text>')
for i, (config, seeds) in enumerate(sorted(runs.items())):
    grid = [max_e * k / 200 for k in range(201)]
    pts = []
    for e in grid:
        bs = []
        for s in seeds.values():
            b = None
            for ce, cb in s["curve"]:
                if ce <= e:
                    b = cb
            if b is not None:
                bs.append(b)
        if len(bs) == len(seeds) and e <= max(s["total_epochs"] for s in seeds.values()):
            pts.append(f"{X(e):.1f},{Y(statistics.median(bs)):.1f}")
    c = colors[i % len(colors)]
    svg.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="{" ".join(pts)}"/>')
    svg.append(f'<text x="{W-R+10}" y="{T+20+18*i}" fill="{c}">{config}</text>')
svg.append("</svg>")
with open(os.path.join(out, "quality.svg"), "w") as f:
    f.write("\n".join(svg))
