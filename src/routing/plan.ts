// Stage: when `model` names a balancer or `auto`, decide which backends to try, in order, before anything is sent.
// A balancer picks its first matching route and orders that route's targets by its strategy; `auto` classifies the
// prompt and ranks its pool by score. Either way only available backends are candidates: not ejected by the
// circuit breaker, not reported unavailable or loading by the health checks.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { Backend } from "../config/resolve.ts";
import type { AutoRouting, Balancer, RetryPolicy, Route } from "../config/resolve-routing.ts";
import { addSideCost, isChatShaped, type RequestContext } from "../pipeline/context.ts";
import type { RetryBudget } from "./retry-budget.ts";
import { chooseRoute } from "./route-match.ts";
import { orderCandidates, type Candidate } from "./strategies.ts";
import { scorePool, type ScoredModel } from "./auto-score.ts";
import { classifyPrompt, isTaskType, TASK_TYPES } from "./classify.ts";
import { classifyWith } from "./classifier-backend.ts";
import { modelAllowed } from "../auth/authenticate.ts";

export interface RoutePlan {
  /** The balancer's name, or `auto`. */
  readonly name: string;
  /** The matched route's name, or for `auto` the task. */
  readonly route: string;
  /** `<name>/<route>`: the `x-sluice-route` header and the ledger's route column. */
  readonly label: string;
  readonly policy: RetryPolicy;
  readonly budget: RetryBudget;
  /** Backends to try, best first. */
  readonly candidates: readonly Backend[];
  /** The response's `routing` block, made for this request; respond.ts adds the outcome (model, attempts). */
  readonly decision: Record<string, unknown>;
  /** A balancer's matched route (its stream routing events are cached there); undefined for `auto`. */
  readonly balancedRoute: Route | undefined;
  attempts: number;
}

/** Completion tokens assumed for cost estimates when the request sets no max_tokens. */
const EXPECTED_COMPLETION_TOKENS = 256;

export function planBalancer(ctx: RequestContext, gateway: Gateway, balancer: Balancer, headers: Headers): RoutePlan {
  const body = ctx.body;
  const maxTokens = requestedMaxTokens(body);
  const promptTokens = estimatedPromptTokens(ctx);
  const task = balancer.needsTask && isChatShaped(ctx.endpoint) ? requestedTask(body) ?? classifyPrompt(body.messages as never).task : undefined;
  // The first route that matches wins, so one without `match:` in first place wins without looking at the request.
  const first = balancer.routes[0]!;
  const route = first.match === undefined ? first : chooseRoute(balancer, { task, promptTokens, maxTokens, headers, metadata: body.metadata, keyName: ctx.principal?.key?.name });
  if (!route) {
    throw new GatewayError("invalid_request", `no route of balancer '${balancer.name}' matches this request (add a route without match: as the default)`, { param: "model" });
  }
  const permitted = permittedTargets(ctx, route.targets, `balancer '${balancer.name}' route '${route.name}'`);
  const available = availableCandidates(gateway, permitted);
  if (!available.length) throw noHealthyBackend(`balancer '${balancer.name}' route '${route.name}'`, route.targets.map((target) => target.backend));
  const ordered = orderCandidates(balancer.strategy, available, {
    random: Math.random,
    turn: gateway.routing.nextTurn(balancer.name),
    promptTokens,
    completionTokens: maxTokens ?? EXPECTED_COMPLETION_TOKENS,
  });
  // Every field in place from the start (JSON leaves out an undefined task): respond.ts only fills in the outcome.
  const decision = { balancer: balancer.name, route: route.name, strategy: balancer.strategy, task, model: "", attempts: 0 };
  return plan(gateway, balancer.name, route.name, route.label, balancer, ordered.map((candidate) => candidate.backend), decision, route);
}

export async function planAuto(ctx: RequestContext, gateway: Gateway, auto: AutoRouting): Promise<RoutePlan> {
  const started = performance.now();
  const body = ctx.body;
  const overrides = routingOverrides(body);
  const keyDefaults = ctx.principal?.key?.routing;
  const poolNames = overrides.model_pool ?? keyDefaults?.model_pool ?? auto.pool;
  const optimize = overrides.optimize ?? keyDefaults?.optimize ?? auto.optimize;
  const pool = poolNames.map((name, i) => {
    const backend = ctx.snapshot.backends.get(name);
    if (!backend) throw new GatewayError("invalid_request", `routing.model_pool[${i}]: '${name}' is not served here; GET /v1/models lists the models`, { param: "routing.model_pool" });
    return backend;
  });
  const allowed = pool.filter((backend) => ctx.principal === undefined || modelAllowed(ctx.principal, backend.id));
  if (!allowed.length) {
    throw new GatewayError("invalid_request", poolNames.length ? "none of the model pool's models is allowed for this API key" : "model 'auto' needs a model pool: set auto.pool in the config, the key's routing.model_pool, or routing.model_pool in the request", { param: "routing.model_pool" });
  }

  const classification = overrides.task
    ? { ...(await classifyWith(undefined, 0, body.messages as never)), task: overrides.task, confidence: 1, classifier: "request" }
    : await classifyWith(auto.classifier?.backend, auto.classifier?.timeoutMs ?? 0, body.messages as never, ctx.clientSignal);
  addSideCost(ctx, classification.costMicros ?? 0);
  const permitted = permittedTargets(ctx, allowed.map((backend) => ({ backend, weight: 1 })), "auto's model pool");
  const available = availableCandidates(gateway, permitted);
  if (!available.length) throw noHealthyBackend("auto's model pool", allowed);
  const scored = scorePool(
    available.map((candidate) => ({ backend: candidate.backend, profile: auto.profiles.get(candidate.backend.id), measuredLatencyMs: candidate.stat.ttftMs, measuredDurationMs: candidate.stat.durationMs })),
    { task: classification.task, complexity: classification.complexity, optimize, promptTokens: estimatedPromptTokens(ctx), completionTokens: requestedMaxTokens(body) ?? EXPECTED_COMPLETION_TOKENS },
  );
  const decision: Record<string, unknown> = {
    task: classification.task,
    complexity: classification.complexity,
    confidence: classification.confidence,
    classifier: classification.classifier,
    optimize,
    candidates: scored satisfies ScoredModel[],
    routing_time_ms: Math.round((performance.now() - started) * 100) / 100,
    model: "",
    attempts: 0,
  };
  const byId = new Map(available.map((candidate) => [candidate.backend.id, candidate.backend]));
  return plan(gateway, "auto", classification.task, `auto/${classification.task}`, auto, scored.map((entry) => byId.get(entry.model)!), decision);
}

function plan(gateway: Gateway, name: string, route: string, label: string, policy: RetryPolicy, candidates: Backend[], decision: Record<string, unknown>, balancedRoute?: Route): RoutePlan {
  const budget = gateway.routing.budgets.get(name, policy.retryBudget);
  budget.deposit();
  return { name, route, label, policy, budget, candidates, decision, balancedRoute, attempts: 0 };
}

/** Targets the request's routing policy (processors' restrictTargets) allows; none → 422 that says why. */
function permittedTargets<T extends { backend: Backend }>(ctx: RequestContext, targets: readonly T[], what: string): readonly T[] {
  const processors = ctx.processors;
  if (!processors?.restricts) return targets;
  const permitted = targets.filter((target) => processors.refusal(target.backend) === undefined);
  if (permitted.length) return permitted;
  const reasons = [...new Set(targets.map((target) => processors.refusal(target.backend)))].join("; ");
  throw new GatewayError("policy_rejected", `${what}: no backend may serve this request (${reasons})`, { param: "model", reportedCode: "routing_policy" });
}

/** Targets the breaker and the health checks allow now. */
function availableCandidates(gateway: Gateway, targets: readonly { backend: Backend; weight: number }[]): Candidate[] {
  const now = Date.now();
  const candidates: Candidate[] = [];
  for (const target of targets) {
    const stat = gateway.routing.stats.get(target.backend.id);
    const health = gateway.health.cached(target.backend.id);
    if (!stat.available(now) || health === "unavailable" || health === "loading") continue;
    candidates.push({ backend: target.backend, weight: target.weight, stat });
  }
  return candidates;
}

function noHealthyBackend(what: string, backends: readonly Backend[]): GatewayError {
  return new GatewayError("no_healthy_backend", `${what}: no healthy backend right now (${backends.map((backend) => backend.id).join(", ")} are ejected, unavailable or loading); retry shortly`, {
    headers: { "retry-after": "1" },
  });
}

interface RoutingOverrides {
  model_pool?: string[];
  optimize?: "balanced" | "quality" | "cost" | "latency";
  task?: string;
}

/** The request's `routing` object, checked (the schema accepts any object there, so say precisely what is wrong). */
function routingOverrides(body: Record<string, unknown>): RoutingOverrides {
  const routing = body.routing as RoutingOverrides | undefined;
  if (routing === undefined || routing === null) return {};
  if (routing.task !== undefined && !isTaskType(routing.task)) {
    throw new GatewayError("invalid_request", `routing.task: expected one of ${TASK_TYPES.join(", ")}`, { param: "routing.task" });
  }
  return routing;
}

/** For a balancer's task routes: `routing.task` when it names a task (DESIGN: `routing` is otherwise ignored off `auto`). */
function requestedTask(body: Record<string, unknown>): string | undefined {
  const task = (body.routing as { task?: unknown } | undefined)?.task;
  return isTaskType(task) ? task : undefined;
}

function requestedMaxTokens(body: Record<string, unknown>): number | undefined {
  return (body.max_completion_tokens ?? body.max_tokens) as number | undefined;
}

/** Prompt tokens for route ranges and cost estimates: about four UTF-8 bytes per token. */
function estimatedPromptTokens(ctx: RequestContext): number {
  return Math.ceil(ctx.promptTokensBound / 2);
}
