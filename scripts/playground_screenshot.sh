#!/bin/sh
# Regenerates docs/playground.png, the README's screenshot of the playground page: builds the
# binary (with the page; needs `rustup target add wasm32-unknown-unknown`), writes the page,
# runs the Chromium checks (scripts/check_playground.py) with screenshots and keeps the
# training tab's.
set -eu
cd "$(dirname "$0")/.."
cargo build --release -p optimlab-cli
bin="${CARGO_TARGET_DIR:-target}/release/optimlab"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$bin" playground --out "$tmp/page"
python3 scripts/check_playground.py "$tmp/page/index.html" --cli "$bin" --screenshot "$tmp/shots"
cp "$tmp/shots/playground-train.png" docs/playground.png
echo "wrote docs/playground.png"
