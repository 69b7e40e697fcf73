#!/usr/bin/env bash
# `bun run bench:paced`: the production-shaped mode. A GPU host's load is many long streams at once, a token every
# few ms, so the shared harness's fake engine paces its events (CHUNKS=100 events, CHUNK_DELAY_MS=10 apart: about
# 1 s per answer) and wrk holds 1,024, then 4,096 streams open (STREAMS). Each level runs in fresh processes, so the
# peak RSS the harness reads (VmHWM) is that level's. Targets: engine direct, the bare Bun proxy, sluice and
# `floor` (test/bench/floor-proxy.ts: the least a gateway that reads the engine's chunks in JS does, so the memory
# and CPU Bun itself costs such a design); PACED_TARGETS replaces the extra .target files; Portkey is off
# (PORTKEY=1 adds it). Knobs of ../shared/bench/run.sh apply.
#
# BUN_CONFIG_MAX_HTTP_REQUESTS is exported (65535) so that no Bun process here is capped at 256 fetches: the bare
# proxy and the load client would be otherwise, and `sluice serve` then serves in the process the harness watches
# instead of starting itself again (see README "Known runtime limits"; the launcher adds its own RSS, not counted).
# WORKERS=N runs sluice with server.workers: N (a config written next to the results), for the multi-core mode.
#
# Output: OUT_DIR/c<N>/ per level (the harness's own files) and OUT_DIR/paced.md, one table: streams/s and ÷ engine
# direct, p50 and added p50 of a whole stream, gateway CPU per relayed chunk (process-group CPU time ÷ streams ÷
# events per stream: CHUNKS content events + role, usage and [DONE]), peak RSS, errors, foreign CPU.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
harness=${BENCH_HARNESS:-$root/../shared/bench/run.sh}
[ -f "$harness" ] || { echo "bench: harness not found at $harness (set BENCH_HARNESS)" >&2; exit 1; }
export SLUICE_ROOT=$root
export BUN=${BUN:-$root/node_modules/.bin/bun}
export CHUNKS=${CHUNKS:-100} CHUNK_DELAY_MS=${CHUNK_DELAY_MS:-10} MODES=stream PORTKEY=${PORTKEY:-0} TTFB=${TTFB:-0}
export DURATION=${DURATION:-10} ROUNDS=${ROUNDS:-1} REQ_TIMEOUT=${REQ_TIMEOUT:-30} WARMUP=${WARMUP:-2}
export BUN_CONFIG_MAX_HTTP_REQUESTS=${BUN_CONFIG_MAX_HTTP_REQUESTS:-65535}
levels=${STREAMS:-"1024 4096"}
base=${OUT_DIR:-$root/test/bench/results/paced-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$base"

# Each stream holds a client socket (wrk), a downstream and an upstream socket in the gateway, one in the engine.
highest=0; for c in $levels; do [ "$c" -gt "$highest" ] && highest=$c; done
need=$((2 * highest + 1024))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ]; then
  ulimit -n "$need" 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$need" ] && echo "bench: ulimit -n is $(ulimit -n), $need file descriptors are needed for $highest streams (raise the hard limit: limits.conf, LimitNOFILE=)" >&2
fi

if [ -n "${WORKERS:-}" ]; then
  config=$base/sluice-workers.yaml
  sed "s/^server:$/server:\n  workers: $WORKERS/" "$root/test/bench/sluice.yaml" >"$config"
  export SLUICE_BENCH_CONFIG=$config
fi

targets=("$root/test/bench/sluice.target")
for t in ${PACED_TARGETS-$root/test/bench/floor.target}; do targets+=("$t"); done
cd "$root"
for c in $levels; do
  OUT_DIR=$base/c$c CONCURRENCY=$c bash "$harness" "${targets[@]}" >"$base/c$c.log" 2>&1 || echo "bench: level $c failed, see $base/c$c.log" >&2
done
"$BUN" "$root/test/bench/paced-summary.ts" "$base" | tee "$base/paced.md"
