#!/usr/bin/env bash
# `bun run bench`: sluice beside the fake upstream ("direct"), a bare Bun proxy and the Portkey gateway, using the
# shared harness in ../shared/bench (see its run.sh header for the knobs: DURATION, CONCURRENCY, MODES, ROUNDS).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/bench/run.sh}
[ -x "$harness" ] || [ -f "$harness" ] || { echo "bench: harness not found at $harness (set BENCH_HARNESS)" >&2; exit 1; }
export SLUICE_ROOT=$root
export BUN=${BUN:-$root/node_modules/.bin/bun}
export OUT_DIR=${OUT_DIR:-$root/test/bench/results/$(date +%Y%m%d-%H%M%S)}
cd "$root"
exec bash "$harness" "$root/test/bench/sluice.target" "$root/test/bench/sluice-keys.target" "$root/test/bench/sluice-balancer.target" "$root/test/bench/sluice-redact.target" "$@"
