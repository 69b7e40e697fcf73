// Last stage of every request, success or failure: price the request, settle what admission took (tpm, budget,
// slots), queue its ledger row (written off the request path; not for unauthenticated refusals) and record
// metrics. Runs exactly once.
import type { Gateway } from "../gateway.ts";
import type { RequestContext, TokenUsage } from "./context.ts";
import { costOf } from "../billing/cost.ts";
import { endAttempt } from "./dispatch.ts";
import type { StreamOutcome } from "../sse/relay.ts";
import type { LedgerRow } from "../store/ledger.ts";
import type { LedgerHandoff } from "../limits/limit-service.ts";

export interface Outcome {
  status: number;
  errorCode: string | null;
  usage: TokenUsage | undefined;
  /** The engine reported no usage; the counts are the gateway's estimate. */
  usageEstimated: boolean;
}

/**
 * What a stream's end means for the ledger: its headers went out with 200, so the row records what happened to
 * the stream. A client that left is 499 `client_closed`, never the backend's failure.
 */
export function streamOutcome(stream: StreamOutcome): Outcome {
  const { usage, usageEstimated } = stream;
  switch (stream.status) {
    case "ok":
      return { status: 200, errorCode: null, usage, usageEstimated };
    case "client_gone":
      return { status: 499, errorCode: "client_closed", usage, usageEstimated };
    case "bad_stream":
      // Also where the gateway ended it: a blocked answer or a GPU-priced stream past max_stream_ms is a policy's
      // 422, a failed processor its code.
      if (stream.errorCode === "firewall_blocked" || stream.errorCode === "stream_too_long") return { status: 422, errorCode: stream.errorCode, usage, usageEstimated };
      return { status: 502, errorCode: stream.errorCode ?? "bad_upstream_sse", usage, usageEstimated };
    case "interrupted":
      return { status: 502, errorCode: "stream_interrupted", usage, usageEstimated };
  }
}

export function finishRequest(ctx: RequestContext, gateway: Gateway, outcome: Outcome): void {
  const now = performance.now();
  const backend = ctx.backend;
  const upstreamMs = ctx.upstreamStartedAt === undefined ? null : (ctx.upstreamEndedAt ?? now) - ctx.upstreamStartedAt;
  const promptTokens = outcome.usage?.prompt_tokens || (outcome.usageEstimated || (!outcome.usage && upstreamMs !== null) ? Math.ceil(ctx.promptTokensBound / 2) : 0);
  const completionTokens = outcome.usage?.completion_tokens ?? 0;
  const estimated = outcome.usageEstimated || (!outcome.usage && upstreamMs !== null && outcome.status < 400);
  const cost = backend ? costOf(backend.pricing, { promptTokens, completionTokens }, upstreamMs ?? 0) : { micros: 0, basis: "none" as const };
  if (ctx.sideCostMicros) cost.micros += ctx.sideCostMicros;
  // A request refused before anyone was authenticated is counted in the metrics, not written to the ledger:
  // otherwise traffic without a key would grow the disk at the rate anyone can send it.
  const row: LedgerRow | undefined = outcome.status !== 401 || ctx.principal ? {
    requestId: ctx.requestId,
    keyId: ctx.principal?.key?.id ?? null,
    model: ctx.requestedModel || "unknown",
    backend: backend?.id ?? null,
    route: ctx.plan?.label ?? null,
    endpoint: ctx.endpoint,
    status: outcome.status,
    errorCode: outcome.errorCode,
    promptTokens,
    completionTokens,
    tokensEstimated: estimated,
    costMicros: cost.micros,
    billingBasis: cost.basis,
    stream: ctx.stream,
    startedAt: ctx.startedAtMs,
    totalMs: round(now - ctx.startedAt),
    upstreamMs: upstreamMs === null ? null : round(upstreamMs),
    queuedMs: ctx.admission?.queuedMs ?? null,
    ttftMs: ctx.firstTokenAt !== undefined && ctx.upstreamStartedAt !== undefined ? round(ctx.firstTokenAt - ctx.upstreamStartedAt) : null,
    ...firewallColumns(ctx),
    toolsMs: ctx.toolsMs ?? null,
    detail: detailOf(ctx),
  } : undefined;
  // With storage.ledger_via: stream the limit service writes the row in the call that settles the request;
  // otherwise (and when it cannot) the row is queued in the store's ledger.
  let handoff: LedgerHandoff = false;
  if (ctx.admission) handoff = ctx.admission.finish(promptTokens + completionTokens, cost.micros, ctx.requestId, row);
  else {
    if (cost.micros && ctx.principal?.key?.account_id) chargeUnreserved(gateway, ctx.principal.key.account_id, cost.micros, ctx);
    if (row) handoff = gateway.limits.appendLedgerRow?.(row) ?? false;
  }
  endAttempt(ctx, gateway, outcome.status, outcome.errorCode);
  ctx.processors?.release();
  if (handoff) ctx.ledgerDurable = handoff;
  else if (row) gateway.ledger.append(row);

  const ttft = ctx.firstTokenAt !== undefined && ctx.upstreamStartedAt !== undefined ? (ctx.firstTokenAt - ctx.upstreamStartedAt) / 1000 : undefined;
  gateway.metrics
    .series(ctx.endpoint, backend ? ctx.requestedModel : "unknown", backend?.id ?? "none")
    .observe(outcome.status, (now - ctx.startedAt) / 1000, ttft, outcome.usage?.prompt_tokens, outcome.usage?.completion_tokens);
}

/**
 * The response, once the request's ledger row is durable (storage.ledger_via: stream; otherwise at once): a
 * buffered answer or an error goes out only then. Bounded by the Redis calls' own timeout; a failed call
 * settles too (the row went to the store's ledger instead).
 */
export function heldForLedger(ctx: RequestContext, response: Response): Response | Promise<Response> {
  const durable = ctx.ledgerDurable;
  return durable ? durable.then(() => response, () => response) : response;
}

/** A cost that had no reservation (side calls of a request refused or answered before admission). */
function chargeUnreserved(gateway: Gateway, accountId: string, micros: number, ctx: RequestContext): void {
  gateway.limits.accounts?.credits.charge(accountId, micros, { requestId: ctx.requestId, keyId: ctx.principal?.key?.id ?? null });
}

/** The reports the response carried, for the dashboard's request detail; null when there are none. */
function detailOf(ctx: RequestContext): Record<string, unknown> | null {
  if (!ctx.plan && !ctx.processors && !ctx.toolRuns) return null;
  const detail: Record<string, unknown> = {};
  if (ctx.plan) detail.routing = ctx.plan.decision;
  if (ctx.processors) detail.inferada = ctx.processors.report();
  if (ctx.toolRuns) detail.tool_runs = ctx.toolRuns;
  return detail;
}

const round = (ms: number) => Math.round(ms * 100) / 100;

const NO_FIREWALL = Object.freeze({ firewall: null, firewallVerdict: null, firewallRules: null, firewallMs: null });

const VERDICT_RANK: Record<string, number> = { allowed: 0, flagged: 1, redacted: 2, blocked: 3 };

/** The prompt's verdict, or the answer's when that was graver; the answer's rules are marked `output:`. */
function firewallColumns(ctx: RequestContext): { firewall: string | null; firewallVerdict: string | null; firewallRules: string | null; firewallMs: number | null } {
  const firewall = ctx.firewall;
  if (!firewall) return NO_FIREWALL;
  const output = ctx.outputScreen?.report();
  const verdict = output && VERDICT_RANK[output.verdict]! > VERDICT_RANK[firewall.verdict]! ? output.verdict : firewall.verdict;
  const rules = [...firewall.rules.map((rule) => rule.rule), ...(output?.rules.map((rule) => `output:${rule.rule}`) ?? [])];
  return { firewall: firewall.slug, firewallVerdict: verdict, firewallRules: rules.length ? JSON.stringify(rules) : null, firewallMs: firewall.ms };
}
