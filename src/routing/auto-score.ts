// `auto`'s scoring: each pool model gets a quality (its profile, per task when given), an expected cost (its
// pricing) and a latency (measured live), each normalised against the best in the pool, and a weighted sum under
// the optimize mode. Complex prompts weigh quality more, simple ones less. Pure: same inputs, same ranking.
import type { OptimizeMode } from "../config/schema.ts";
import type { Backend } from "../config/resolve.ts";
import type { Profile } from "../config/resolve-routing.ts";
import type { Complexity } from "./classify.ts";
import { expectedCostUsd } from "./strategies.ts";

export interface PoolEntry {
  backend: Backend;
  profile: Profile | undefined;
  /** Measured EWMA time to first token, if any. */
  measuredLatencyMs: number | undefined;
  /** The whole answer's measured time, for what a GPU-hour backend costs; the latency stands in until measured. */
  measuredDurationMs?: number;
}

export interface ScoredModel {
  model: string;
  score: number;
  quality: number;
  /** Expected USD for this request. */
  cost: number;
  latency_ms: number;
}

export interface ScoreInputs {
  task: string;
  complexity: Complexity;
  optimize: OptimizeMode;
  promptTokens: number;
  completionTokens: number;
}

const WEIGHTS: Record<OptimizeMode, { quality: number; cost: number; latency: number }> = {
  balanced: { quality: 0.5, cost: 0.25, latency: 0.25 },
  quality: { quality: 0.8, cost: 0.1, latency: 0.1 },
  cost: { quality: 0.25, cost: 0.65, latency: 0.1 },
  latency: { quality: 0.25, cost: 0.1, latency: 0.65 },
};
const COMPLEXITY_QUALITY_FACTOR: Record<Complexity, number> = { simple: 0.6, medium: 1, complex: 1.5 };
const UNPROFILED_QUALITY = 0.5;
const UNMEASURED_LATENCY_MS = 1_000;
/** Latency differences well below this are noise for a language model, not a reason to switch. */
const LATENCY_SMOOTHING_MS = 50;

/** The pool ranked best first. */
export function scorePool(pool: readonly PoolEntry[], inputs: ScoreInputs): ScoredModel[] {
  const base = WEIGHTS[inputs.optimize];
  const qualityWeight = base.quality * COMPLEXITY_QUALITY_FACTOR[inputs.complexity];
  const total = qualityWeight + base.cost + base.latency;
  const raw = pool.map((entry) => {
    const latency = entry.measuredLatencyMs ?? entry.profile?.latencyMs ?? UNMEASURED_LATENCY_MS;
    return {
      model: entry.backend.id,
      quality: qualityFor(entry.profile, inputs.task),
      cost: expectedCostUsd(entry.backend.pricing, inputs, entry.measuredDurationMs ?? latency),
      latency,
    };
  });
  const cheapest = Math.min(...raw.map((r) => r.cost));
  const fastest = Math.min(...raw.map((r) => r.latency));
  return raw
    .map((r) => {
      const score = (qualityWeight * r.quality + base.cost * relative(cheapest, r.cost) + base.latency * relative(fastest + LATENCY_SMOOTHING_MS, r.latency + LATENCY_SMOOTHING_MS)) / total;
      return { model: r.model, score: round(score, 3), quality: r.quality, cost: round(r.cost, 8), latency_ms: Math.round(r.latency) };
    })
    .sort((a, b) => b.score - a.score);
}

export function qualityFor(profile: Profile | undefined, task: string): number {
  const quality = profile?.quality;
  if (quality === undefined) return UNPROFILED_QUALITY;
  if (typeof quality === "number") return quality;
  return quality[task] ?? quality.default ?? UNPROFILED_QUALITY;
}

/** best / value: 1 for the best in the pool, smaller the further behind. */
function relative(best: number, value: number): number {
  if (value <= 0) return 1;
  return best / value;
}

const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;
