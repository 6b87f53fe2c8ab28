#!/usr/bin/env bash
# Runs the cargo-fuzz targets (fuzz/, nightly + libFuzzer) for a fixed time each, one at a time.
#
#   scripts/fuzz.sh                 every target, 30 s each
#   scripts/fuzz.sh csv 150         one target, 150 s
#   scripts/fuzz.sh all 150         every target, 150 s each
#
# Needs the nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`). The working corpus
# grows in fuzz/corpus/TARGET (not committed), started from the committed seeds in
# fuzz/seeds/TARGET (scripts/fuzz_seeds.py writes them). A crash stops the target and leaves
# its input in fuzz/artifacts/TARGET/; copy it to crates/optimlab/tests/fixtures/fuzz/TARGET/
# and `cargo test -p optimlab --test fuzz_regressions` replays it. The last line of each
# target's log is libFuzzer's `Done N runs in S second(s)`; the logs stay in fuzz/logs/.
# CARGO_TARGET_DIR, when set, is where the instrumented binaries are built.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"

TARGETS=(idx idx_gz csv model model_config checkpoint run_config tune_space journal)
which=${1:-all}
seconds=${2:-30}
if [ "$which" = all ]; then
  run=("${TARGETS[@]}")
else
  [[ " ${TARGETS[*]} " == *" $which "* ]] || {
    echo "fuzz.sh: unknown target '$which' (one of: ${TARGETS[*]}, all)" >&2
    exit 2
  }
  run=("$which")
fi
command -v cargo-fuzz >/dev/null || {
  echo "fuzz.sh: cargo-fuzz is not installed (cargo install cargo-fuzz)" >&2
  exit 2
}

mkdir -p logs
for t in "${run[@]}"; do
  mkdir -p "corpus/$t"
  echo "== $t: ${seconds}s" >&2
  # One process (-jobs=1 would only add a supervisor); an input that makes a reader allocate
  # more than 2 GiB (RSS, or a single malloc) or run over 10 s is reported as a crash.
  status=0
  cargo +nightly fuzz run "$t" "corpus/$t" "seeds/$t" -- \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 \
    -print_final_stats=1 >"logs/$t.log" 2>&1 || status=$?
  grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "logs/$t.log" >&2 || true
  if [ "$status" -ne 0 ]; then
    echo "fuzz.sh: $t failed (exit $status); see fuzz/logs/$t.log and fuzz/artifacts/$t/" >&2
    exit "$status"
  fi
done
