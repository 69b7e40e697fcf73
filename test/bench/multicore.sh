#!/usr/bin/env bash
# Multi-core bench (issue 17 item 4): server.workers 1 against 2 (and 2 with per-key limits over IPC) at c=64, json
# and stream, with nothing pinned (PIN=0): the load generator, the fake engine and the workers share the machine's
# cores, so on a 2-core box the workers never have both cores to themselves. `bun run bench:workers` runs it; the
# usual knobs of ../shared/bench/run.sh apply (DURATION, ROUNDS, CONCURRENCY, MODES).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/bench/run.sh}
[ -f "$harness" ] || { echo "bench: harness not found at $harness (set BENCH_HARNESS)" >&2; exit 1; }
export SLUICE_ROOT=$root
export BUN=${BUN:-$root/node_modules/.bin/bun}
export OUT_DIR=${OUT_DIR:-$root/test/bench/results/multicore-$(date +%Y%m%d-%H%M%S)}
export PIN=${PIN:-0} PORTKEY=${PORTKEY:-0} CONCURRENCY=${CONCURRENCY:-64} MODES=${MODES:-"json stream"}
cd "$root"
nproc >&2
exec bash "$harness" "$root/test/bench/sluice-workers1.target" "$root/test/bench/sluice-workers2.target" "$root/test/bench/sluice-workers2-keys.target" "$@"
