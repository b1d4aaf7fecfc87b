#!/usr/bin/env bash
# Runs every fuzz target for SECONDS (default 600) and prints the figures.
# Usage: fuzz/run.sh [SECONDS]   (needs the nightly toolchain and cargo-fuzz)
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-600}"
cargo +nightly fuzz build
for t in $(cargo +nightly fuzz list); do
  mkdir -p "corpus/$t" "logs"
  cargo +nightly fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -rss_limit_mb=2048 > "logs/$t.log" 2>&1 || echo "$t: FAILED (see fuzz/logs/$t.log)"
  echo "$t: $(grep -E '^Done [0-9]+ runs' "logs/$t.log" || tail -1 "logs/$t.log")"
done
