// What a validated chat request is, and what serves it. The body's type comes from the TypeBox schema that
// validated it, so stages read `body.max_tokens` as a number rather than casting; the target is one tagged union:
// a backend the client named, or a plan (a balancer's or `auto`'s candidates, best first).
import type { Static } from "@sinclair/typebox";
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { Backend } from "../config/resolve.ts";
import type { ChatCompletionRequest } from "../api/schemas.ts";
import type { Message } from "../plugins/api.ts";
import type { RequestContext } from "./context.ts";
import { planAuto, planBalancer, type RoutePlan } from "../routing/plan.ts";

/** A chat request after validation. Unknown fields pass through to the engine, hence the index signature. */
export type ChatRequest = Omit<Static<typeof ChatCompletionRequest>, "messages"> & { messages: Message[]; [field: string]: unknown };

export type ChatTarget = { kind: "backend"; backend: Backend } | { kind: "plan"; plan: RoutePlan };

/** The backend, or the plan of a balancer or `auto`; a routing policy's refusal of a named backend is a 422. */
export function chooseTarget(ctx: RequestContext, gateway: Gateway, headers: Headers): ChatTarget | Promise<ChatTarget> {
  if (ctx.backend) return { kind: "backend", backend: permitted(ctx, ctx.backend) };
  // Plans filter their candidates by the routing policy themselves (routing/plan.ts). Only auto's may wait (on a
  // classifier model); the others are decided without a promise.
  if (ctx.balancer) return planned(ctx, planBalancer(ctx, gateway, ctx.balancer, headers));
  return planAuto(ctx, gateway, ctx.autoRouting!).then((plan) => planned(ctx, plan));
}

function planned(ctx: RequestContext, plan: RoutePlan): ChatTarget {
  ctx.plan = plan;
  return { kind: "plan", plan };
}

/** The backend a target tries first. */
export function firstBackend(target: ChatTarget): Backend {
  return target.kind === "backend" ? target.backend : target.plan.candidates[0]!;
}

/** The client's limit on completion tokens, if it set one. */
export function maxTokensOf(body: ChatRequest): number | undefined {
  return body.max_completion_tokens ?? body.max_tokens;
}

function permitted(ctx: RequestContext, backend: Backend): Backend {
  const refusal = ctx.processors?.restricts ? ctx.processors.refusal(backend) : undefined;
  if (refusal) throw new GatewayError("policy_rejected", `model '${backend.id}' may not serve this request: ${refusal}`, { param: "model", reportedCode: "routing_policy" });
  return backend;
}
