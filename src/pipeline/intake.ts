// The stages chat and embeddings share before they differ: who is calling (with the endpoint's scope), the
// body and its schema, the backend behind `model`, the key's model allow-list; and admission to run.
import type { Gateway } from "../gateway.ts";
import type { ClientAddress } from "../client-ip.ts";
import { requireModel, requireScope } from "../auth/authenticate.ts";
import { expectObject, readJsonBody } from "./read-body.ts";
import { resolveTarget } from "./resolve-target.ts";
import { needsAdmission } from "./admission.ts";
import { SCOPE_OF, type RequestContext } from "./context.ts";
import { declaredEndpoints, requireEndpoint } from "../translate/backend-endpoints.ts";

/** Longest `model` the ledger keeps for a request that failed validation (the schema allows this much). */
const MAX_ID_CHARS = 256;

export async function intake(ctx: RequestContext, req: Request, gateway: Gateway, clientIp: ClientAddress, validate: (body: unknown) => void): Promise<Record<string, unknown>> {
  const pending = gateway.principal(req, clientIp, ctx.snapshot);
  const principal = (ctx.principal = pending instanceof Promise ? await pending : pending);
  requireScope(principal, SCOPE_OF[ctx.endpoint]);
  const body = expectObject(await readJsonBody(req, ctx.snapshot.server.max_body_bytes, ctx.snapshot.server.body_timeout_ms));
  // So a 400 is still ledgered by model; cut, because a body may hold megabytes there.
  if (typeof body.model === "string") ctx.requestedModel = body.model.slice(0, MAX_ID_CHARS);
  validate(body);
  ctx.body = body;
  ctx.requestedModel = body.model as string;
  resolveTarget(ctx, ctx.requestedModel);
  // A backend that serves only other APIs (a reranker, Whisper: declared or discovered) is a 400 naming them.
  const endpoint = ctx.endpoint === "embeddings" ? "embeddings" : "chat"; // Responses and Messages arrive as chat
  if (ctx.backend && !declaredEndpoints(ctx.snapshot, ctx.backend).includes(endpoint)) requireEndpoint(ctx.snapshot, ctx.backend, endpoint, endpoint === "chat" ? "/v1/chat/completions" : "/v1/embeddings");
  requireModel(principal, ctx.requestedModel);
  return body;
}

/** A request offering platform tools may call the model once per tool round (credits reserve them all). */
function platformToolRounds(ctx: RequestContext): number | undefined {
  const tools = ctx.body.tools;
  if (!Array.isArray(tools) || !tools.some((tool) => (tool as { type?: unknown } | null)?.type !== "function")) return undefined;
  return ctx.snapshot.raw.tools.max_rounds;
}

/** Limits, budget and queue (see admission.ts). Returns a promise only when the request has to queue. */
export function admitRequest(ctx: RequestContext, gateway: Gateway, maxTokens: number | undefined, choices?: number): Promise<void> | undefined {
  const key = ctx.principal?.key ?? null;
  const backend = ctx.plan ? ctx.plan.candidates[0] : ctx.backend;
  if (!needsAdmission(key, backend)) return undefined;
  const admitted = gateway.limits.admit({ key, backend, candidates: ctx.plan?.candidates, spentMicros: ctx.sideCostMicros, promptTokensBound: ctx.promptTokensBound, maxTokens, choices, modelCalls: platformToolRounds(ctx), signal: ctx.clientSignal });
  if (!(admitted instanceof Promise)) {
    ctx.admission = admitted;
    return undefined;
  }
  return admitted.then((admission) => {
    ctx.admission = admission;
  });
}
