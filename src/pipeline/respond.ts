// Turning an engine's buffered answer into the client's: checked, post-processed, stamped with the request's id,
// timings and the firewall / processor / routing reports, and finished (ledger, metrics, limits).
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { Backend } from "../config/resolve.ts";
import type { RequestContext, TokenUsage } from "./context.ts";
import type { UpstreamCall } from "../upstream/call.ts";
import type { RoutePlan } from "../routing/plan.ts";
import { finishRequest } from "./finish.ts";
import { computeTimings } from "../observability/timings.ts";
import { jsonResponse, withHeaders } from "./response-headers.ts";

export type Completion = Record<string, unknown>;

/** The engine's whole answer, checked: invalid JSON or a missing choices array is the engine's failure (502). */
export async function readCompletion(ctx: RequestContext, backend: Backend, upstream: Response, call: UpstreamCall): Promise<Completion> {
  let text: string;
  try {
    text = await upstream.text();
  } catch (error) {
    throw call.reason === "timeout"
      ? new GatewayError("upstream_timeout", `backend '${backend.id}' did not finish within ${backend.timeoutMs} ms (backends[].timeout_ms)`)
      : new GatewayError("upstream_error", `backend '${backend.id}' broke off its answer: ${(error as Error).message}`);
  } finally {
    call.clear();
  }
  ctx.upstreamEndedAt = performance.now();
  let completion: Completion;
  try {
    completion = JSON.parse(text);
  } catch {
    throw new GatewayError("upstream_error", `backend '${backend.id}' answered with invalid JSON: ${JSON.stringify(text.slice(0, 120))}`);
  }
  if (completion === null || typeof completion !== "object" || !Array.isArray(completion.choices)) {
    throw new GatewayError("upstream_error", `backend '${backend.id}' answered without a choices array`);
  }
  return completion;
}

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
  if (ctx.firewall || ctx.processors) Object.assign(completion, reports(ctx));
  finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: !reported });
  return withHeaders(jsonResponse(JSON.stringify(completion), backend, ctx.requestId, plan?.label), ctx.admission);
}

/** Post hooks (reverse order) on each choice's content, then the firewall's output screening (which may block). */
export async function postProcess(ctx: RequestContext, completion: Completion): Promise<void> {
  for (const choice of completion.choices as { message?: { content?: unknown } }[]) {
    const message = choice?.message;
    if (!message || typeof message.content !== "string") continue;
    if (ctx.processors) message.content = await ctx.processors.post(message.content);
    if (ctx.outputScreen) message.content = ctx.outputScreen.screenWhole(message.content as string);
  }
}

/** What the firewall and the processors report: the response's `firewall` and `inferada` blocks. */
export function reports(ctx: RequestContext): { firewall?: unknown; inferada?: unknown } {
  const out: { firewall?: unknown; inferada?: unknown } = {};
  if (ctx.firewall) out.firewall = ctx.outputScreen ? { ...ctx.firewall, output: ctx.outputScreen.report() } : ctx.firewall;
  if (ctx.processors) out.inferada = ctx.processors.report();
  return out;
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
