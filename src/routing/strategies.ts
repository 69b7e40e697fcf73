// A balancer's strategies as pure functions: each orders a route's available targets, best first; the dispatcher
// tries them in that order. Randomness and the round-robin turn come in as arguments, so tests are exact.
import type { BalancerStrategy } from "../config/schema.ts";
import type { Backend, Pricing } from "../config/resolve.ts";
import type { BackendStat } from "./backend-stats.ts";

export interface Candidate {
  readonly backend: Backend;
  readonly weight: number;
  readonly stat: BackendStat;
}

export interface OrderInputs {
  /** A uniform random number in [0, 1). */
  random: () => number;
  /** Increments per request: rotates round_robin and breaks ties elsewhere, so equals share the load. */
  turn: number;
  /** For `cost`: the request's expected size. */
  promptTokens: number;
  completionTokens: number;
}

export function orderCandidates(strategy: BalancerStrategy, candidates: readonly Candidate[], inputs: OrderInputs): Candidate[] {
  switch (strategy) {
    case "round_robin":
      return rotate(candidates, inputs.turn);
    case "priority":
      return [...candidates];
    case "weighted":
      return weightedOrder(candidates, inputs.random);
    case "least_busy":
      return sortedBy(rotate(candidates, inputs.turn), (candidate) => candidate.stat.load);
    case "least_latency":
      // Latency times load ("peak EWMA"): a fast backend that is already busy is not piled onto, and an unmeasured
      // one (0) is tried first so it gets measured.
      return sortedBy(rotate(candidates, inputs.turn), (candidate) => (candidate.stat.ttftMs ?? 0) * (candidate.stat.inFlight + 1));
    case "cost":
      // A GPU-hour backend bills for the whole answer's time, not just until its first token.
      return sortedBy(rotate(candidates, inputs.turn), (candidate) => expectedCostUsd(candidate.backend.pricing, inputs, candidate.stat.durationMs ?? candidate.stat.ttftMs));
  }
}

/** Weighted sampling without replacement: the first pick is proportional to weight, then among the rest. */
export function weightedOrder(candidates: readonly Candidate[], random: () => number): Candidate[] {
  const left = candidates.filter((candidate) => candidate.weight > 0);
  const order: Candidate[] = [];
  while (left.length) {
    const total = left.reduce((sum, candidate) => sum + candidate.weight, 0);
    let point = random() * total;
    let index = left.findIndex((candidate) => (point -= candidate.weight) < 0);
    if (index === -1) index = left.length - 1; // rounding at the top end
    order.push(left.splice(index, 1)[0]!);
  }
  return order;
}

/** The expected cost of one request in USD: tokens for token-priced backends, upstream time for GPU-hour ones. */
export function expectedCostUsd(pricing: Pricing, size: { promptTokens: number; completionTokens: number }, latencyMs: number | undefined): number {
  if (pricing.inputPerMtokUsd !== undefined || pricing.outputPerMtokUsd !== undefined) {
    return ((pricing.inputPerMtokUsd ?? 0) * size.promptTokens + (pricing.outputPerMtokUsd ?? 0) * size.completionTokens) / 1e6;
  }
  if (pricing.gpuHourUsd !== undefined) return (pricing.gpuHourUsd * (latencyMs ?? DEFAULT_LATENCY_MS)) / 3_600_000;
  return 0;
}

/** Assumed for a GPU-hour backend that has not been measured yet. */
const DEFAULT_LATENCY_MS = 1_000;

/** A copy of `items` starting at position `turn` (mod length). A plain loop: this runs on every balanced request. */
function rotate<T>(items: readonly T[], turn: number): T[] {
  const n = items.length;
  const rotated = new Array<T>(n);
  for (let i = 0; i < n; i++) rotated[i] = items[(turn + i) % n]!;
  return rotated;
}

/**
 * Sorts `items` in place by ascending key, keeping the order of equal keys (so the rotation breaks ties). Each key
 * is computed once, and insertion sort suits a route's few targets: Array.prototype.sort with a comparator costs
 * more than the whole rest of the plan on a two-backend route.
 */
function sortedBy<T>(items: T[], key: (item: T) => number): T[] {
  const keys = items.map(key);
  for (let i = 1; i < items.length; i++) {
    const item = items[i]!;
    const itemKey = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > itemKey; j--) {
      items[j + 1] = items[j]!;
      keys[j + 1] = keys[j]!;
    }
    items[j + 1] = item;
    keys[j + 1] = itemKey;
  }
  return items;
}
