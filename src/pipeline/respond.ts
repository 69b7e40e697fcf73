// Turning an engine's buffered answer (after the answer hooks) into the client's: stamped with the request's id,
// timings and the firewall / processor / routing reports, and finished (ledger, metrics, limits).
import type { Gateway } from "../gateway.ts";
import type { RequestContext, TokenUsage } from "./context.ts";
import type { Completion } from "../upstream/client.ts";
import { hookReports } from "./answer-hooks.ts";
import type { RoutePlan } from "../routing/plan.ts";
import { finishRequest } from "./finish.ts";
import { computeTimings } from "../observability/timings.ts";
import { jsonResponse, withHeaders } from "./response-headers.ts";

export function respondBuffered(ctx: RequestContext, gateway: Gateway, completion: Completion): Response {
  const backend = ctx.backend!;
  const reported = completion.usage as TokenUsage | undefined;
  const usage = reported ?? estimateUsage(ctx, completion.choices as unknown[]);
  completion.id = `chatcmpl-${ctx.requestId}`;
  // A balancer or `auto` answers with the model that served and says why; a backend by name with the name asked for.
  const plan = ctx.plan;
  completion.model = plan ? backend.id : ctx.requestedModel;
  if (plan) completion.routing = routingBlock(ctx, plan);
  if (completion.timings !== undefined) completion.engine_timings = completion.timings; // llama.cpp's own
  completion.timings = computeTimings(ctx, usage);
  const reports = hookReports(ctx);
  if (reports) Object.assign(completion, reports);
  finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: !reported });
  return withHeaders(jsonResponse(JSON.stringify(completion), backend, ctx.requestId, plan?.label), ctx.admission);
}

/** The response's `routing` block: the plan's decision and how it turned out. */
export function routingBlock(ctx: RequestContext, plan: RoutePlan): Record<string, unknown> {
  const block = plan.decision; // the plan's own object: completed in place rather than copied
  block.model = ctx.backend!.id;
  block.attempts = plan.attempts;
  return block;
}

/**
 * A stream's first event: the routing block as seed 003's `routing` object. A balancer's is the same for every
 * request that ends on the same backend after as many attempts, so each is serialized once per route (the
 * serialization was ~1 µs of a balanced stream's cost); `auto`'s carries per-request scores and times.
 */
export function routingEvent(ctx: RequestContext, plan: RoutePlan): string {
  const block = routingBlock(ctx, plan);
  const cache = plan.balancedRoute?.routingEvents;
  if (!cache) return serializeRoutingEvent(block);
  const key = `${block.task}/${block.model}/${block.attempts}`;
  let event = cache.get(key);
  if (event === undefined) cache.set(key, (event = serializeRoutingEvent(block)));
  return event;
}

function serializeRoutingEvent(block: Record<string, unknown>): string {
  return `data: ${JSON.stringify({ object: "routing", ...block, choices: [] })}\n\n`;
}

/** An engine that reports no usage: about four characters per token. */
export function estimateUsage(ctx: RequestContext, choices: unknown[]): TokenUsage {
  const characters = JSON.stringify(choices).length;
  const completion = Math.ceil(characters / 4);
  const prompt = Math.ceil(ctx.promptTokensBound / 2);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}
