#!/usr/bin/env bash
# Quality benchmark of the hyperparameter search on the book's task (first 500 training
# images, 20 % validation, 784-100x6-10, SGD, 50 epochs, 100 trials, lr 10^U(-6,-2), weight
# decay 10^U(-8,-4)): random vs TPE vs TPE+Hyperband vs random+median, SEEDS seeds each.
# Writes OUT/<config>-<seed>/results.json per study, then OUT/results.json and OUT/quality.svg
# (median best validation accuracy against total epochs consumed) via tune_quality.py.
#
#   scripts/tune_quality.sh [OUT] [SEEDS] [DATA]
#   OPTIMLAB=path/to/optimlab  (default: target/release/optimlab)
set -euo pipefail
OUT=${1:-runs/tune-quality}
SEEDS=${2:-10}
DATA=${3:-fashion-mnist}
BIN=${OPTIMLAB:-target/release/optimlab}
WORKERS=${WORKERS:-2}
mkdir -p "$OUT"
CONFIGS="random:none tpe:none tpe:hyperband random:median"
for cfg in $CONFIGS; do
  sampler=${cfg%%:*}
  pruner=${cfg#*:}
  for ((seed = 0; seed < SEEDS; seed++)); do
    dir="$OUT/$sampler+$pruner-$seed"
    if [[ -f "$dir/results.json" ]]; then continue; fi
    start=$(date +%s.%N)
    "$BIN" experiment search --data "$DATA" --sampler "$sampler" --pruner "$pruner" \
      --seed "$seed" --workers "$WORKERS" --top 0 --quiet --out "$dir" >/dev/null
    end=$(date +%s.%N)
    echo "$sampler+$pruner seed $seed: $(echo "$end - $start" | bc) s" | tee -a "$OUT/times.txt"
  done
done
python3 "$(dirname "$0")/tune_quality.py" "$OUT"
