// The `timings` block (seed 002): where the time of one request went.
import type { RequestContext, TokenUsage } from "../pipeline/context.ts";

export interface Timings {
  total_ms: number;
  upstream_ms: number;
  ttft_ms?: number;
  tokens_per_second?: number;
  queued_ms?: number;
  processors_ms?: number;
  firewall_ms?: number;
  tools_ms?: number;
  gateway_ms?: number;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

export function computeTimings(ctx: RequestContext, usage: TokenUsage | undefined, now = performance.now()): Timings {
  const total = now - ctx.startedAt;
  const upstream = (ctx.upstreamEndedAt ?? now) - (ctx.upstreamStartedAt ?? now);
  const timings: Timings = { total_ms: round(total), upstream_ms: round(upstream) };
  if (ctx.firstTokenAt !== undefined && ctx.upstreamStartedAt !== undefined) timings.ttft_ms = round(ctx.firstTokenAt - ctx.upstreamStartedAt);
  const tokens = usage?.completion_tokens ?? 0;
  if (tokens > 0 && upstream > 0) timings.tokens_per_second = Math.round((tokens / upstream) * 1000 * 10) / 10;
  const queued = ctx.admission?.queuedMs ?? 0;
  if (queued > 0) timings.queued_ms = queued;
  const processors = ctx.processors?.ms ?? 0;
  if (ctx.processors) timings.processors_ms = processors;
  if (ctx.firewall) timings.firewall_ms = ctx.firewall.ms;
  if (ctx.toolsMs !== undefined) timings.tools_ms = ctx.toolsMs;
  // Seed 002: the residual, what none of the measured stages account for (validation, serialization, accounting).
  // Tools run between a loop's rounds fall inside the upstream window too (and a stream's post-processors run
  // while it flows); when that overlap makes the residual negative it is too small to tell apart and is omitted.
  const gateway = round(total - upstream - queued - processors - (ctx.firewall?.ms ?? 0) - (ctx.toolsMs ?? 0));
  if (gateway > 0) timings.gateway_ms = gateway;
  return timings;
}
