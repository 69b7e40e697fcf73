// timings.gateway_ms is seed 002's residual: what none of the measured stages (upstream, queue, processors,
// firewall, tools) account for. (Kept next to the credits tests: both are the request's accounting.)
import { describe, expect, test } from "bun:test";
import { computeTimings } from "../../src/observability/timings.ts";
import type { RequestContext } from "../../src/pipeline/context.ts";

function ctx(fields: Record<string, unknown>): RequestContext {
  return { startedAt: 0, ...fields } as unknown as RequestContext;
}

describe("computeTimings", () => {
  test("gateway_ms is total minus upstream, queued, processors, firewall and tools", () => {
    const timings = computeTimings(
      ctx({ upstreamStartedAt: 30, upstreamEndedAt: 80, admission: { queuedMs: 10 }, processors: { ms: 5 }, firewall: { ms: 3 }, toolsMs: 2 }),
      { prompt_tokens: 1, completion_tokens: 10, total_tokens: 11 },
      100,
    );
    expect(timings).toMatchObject({ total_ms: 100, upstream_ms: 50, queued_ms: 10, processors_ms: 5, firewall_ms: 3, tools_ms: 2, gateway_ms: 30 });
  });

  test("omitted when the stages cover the whole request (tools inside the upstream window)", () => {
    const timings = computeTimings(ctx({ upstreamStartedAt: 0, upstreamEndedAt: 100, toolsMs: 40 }), undefined, 100);
    expect(timings.gateway_ms).toBeUndefined();
  });
});
