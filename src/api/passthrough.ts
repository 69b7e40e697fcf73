// Endpoints passed through to the engine: /v1/completions, /v1/rerank, /v1/score, /v1/audio/transcriptions,
// /tokenize, /detokenize, and /v1/responses or /v1/messages for backends that declare them. Each request gets
// the pipeline's envelope (key and scope, the key's models, limits and budget, the backend's slots, a
// balancer's plan and retries, the ledger row with its endpoint and the backend's price); the body goes to the
// engine with only `model` replaced by the engine's id. Completions also pass the firewall (the prompt is screened
// like a user message) and always ask the engine for stream usage (relayed as chat's stream contract says).
import type { Gateway } from "../gateway.ts";
import type { ClientAddress } from "../client-ip.ts";
import type { Backend } from "../config/resolve.ts";
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import { requireModel, requireScope } from "../auth/authenticate.ts";
import { readJsonObject } from "../translate/read-json.ts";
import { resolveTarget } from "../pipeline/resolve-target.ts";
import { newContext, SCOPE_OF, type Endpoint, type RequestContext } from "../pipeline/context.ts";
import { admitRequest } from "../pipeline/intake.ts";
import { finishRequest, heldForLedger } from "../pipeline/finish.ts";
import { beginAttempt, dispatchPlanned, retryPlanned, type Attempt } from "../pipeline/dispatch.ts";
import { runFirewall } from "../pipeline/firewall.ts";
import { jsonResponse, sseResponse, withHeaders } from "../pipeline/response-headers.ts";
import { planBalancer } from "../routing/plan.ts";
import type { UpstreamCall } from "../upstream/call.ts";
import { engineError, fetchFailure } from "../upstream/client.ts";
import { compileValidator } from "./validate.ts";
import { CompletionRequest, PassthroughRequest } from "../translate/schemas.ts";
import { requireEndpoint, type ServedEndpoint } from "../translate/backend-endpoints.ts";
import { relayPassthrough, usageOfAnswer } from "../translate/passthrough-relay.ts";
import { AudioUpload, type Upload } from "./audio-upload.ts";

export type PassthroughEndpoint = Exclude<Endpoint, "chat" | "embeddings" | "count_tokens">;

interface Route {
  /** Path after the backend's base URL (`/v1`), or after its root for the engines' unversioned routes. */
  path: string;
  root?: true;
  /** What the client called, for messages. */
  clientPath: string;
}

const ROUTES: Record<PassthroughEndpoint, Route> = {
  completions: { path: "/completions", clientPath: "/v1/completions" },
  responses: { path: "/responses", clientPath: "/v1/responses" },
  messages: { path: "/messages", clientPath: "/v1/messages" },
  rerank: { path: "/rerank", clientPath: "/v1/rerank" },
  score: { path: "/score", clientPath: "/v1/score" },
  audio_transcriptions: { path: "/audio/transcriptions", clientPath: "/v1/audio/transcriptions" },
  tokenize: { path: "/tokenize", root: true, clientPath: "/tokenize" },
  detokenize: { path: "/detokenize", root: true, clientPath: "/detokenize" },
};

/** The JSON schemas' limit for `model`, for the multipart field too. */
const MAX_MODEL_CHARS = 256;

const validateCompletion = compileValidator(CompletionRequest);
const validatePassthrough = compileValidator(PassthroughRequest);

type Input = { kind: "json"; body: Record<string, unknown> } | { kind: "upload"; upload: Upload };

/** `parsed`: a body the caller already read (Responses and Messages hand theirs over for native backends). */
export async function handlePassthrough(req: Request, gateway: Gateway, clientIp: ClientAddress, endpoint: PassthroughEndpoint, parsed?: Record<string, unknown>): Promise<Response> {
  const ctx = newContext(endpoint, req, gateway.snapshot);
  const route = ROUTES[endpoint];
  let upload: Upload | undefined; // released when the request ends: the client may still be sending, a spool file goes
  try {
    const principal = (ctx.principal = await gateway.principal(req, clientIp, ctx.snapshot));
    requireScope(principal, SCOPE_OF[endpoint]);
    const input: Input = parsed ? { kind: "json", body: parsed } : await readInput(req, ctx, endpoint);
    if (input.kind === "upload") upload = input.upload;
    const model = input.kind === "json" ? input.body.model : input.upload.model;
    if (typeof model === "string") ctx.requestedModel = model.slice(0, MAX_MODEL_CHARS); // a refused one is ledgered, cut
    if (input.kind === "json") (endpoint === "completions" ? validateCompletion : validatePassthrough)(input.body);
    else if (input.upload.model.length > MAX_MODEL_CHARS) throw new GatewayError("invalid_request", `model: longer than ${MAX_MODEL_CHARS} characters`, { param: "model" });
    resolveTarget(ctx, ctx.requestedModel);
    requireModel(principal, ctx.requestedModel);
    if (ctx.autoRouting) throw new GatewayError("invalid_request", `model 'auto' routes chat; name a model or a balancer for ${route.clientPath}`, { param: "model" });
    if (ctx.backend) requireEndpoint(ctx.snapshot, ctx.backend, endpoint as ServedEndpoint, route.clientPath);
    let maxTokens: number | undefined;
    if (input.kind === "json") {
      ctx.stream = input.body.stream === true;
      ctx.clientWantsUsage = (input.body.stream_options as { include_usage?: unknown } | undefined)?.include_usage === true;
      ctx.promptTokensBound = Math.ceil(Buffer.byteLength(JSON.stringify(input.body)) / 2);
      if (typeof input.body.max_tokens === "number") maxTokens = input.body.max_tokens;
      if (endpoint === "completions") await screenPrompt(ctx, gateway, input.body);
      if (ctx.stream && endpoint === "completions") input.body.stream_options = { ...(input.body.stream_options as object), include_usage: true };
    }
    if (ctx.balancer) ctx.plan = planBalancer(ctx, gateway, ctx.balancer, req.headers);
    const queued = admitRequest(ctx, gateway, maxTokens);
    if (queued) await queued;

    const attempt = (backend: Backend, call: UpstreamCall) => {
      requireEndpoint(ctx.snapshot, backend, endpoint as ServedEndpoint, route.clientPath);
      return post(backend, route, input, call, ctx.stream);
    };
    const upstream = await dispatch(ctx, gateway, input, attempt);
    const backend = ctx.backend!;
    if (ctx.stream && upstream.headers.get("content-type")?.startsWith("text/event-stream")) {
      ctx.firstTokenAt = performance.now();
      const body = relayPassthrough(upstream.body!, ctx.call, { mergeUsage: endpoint === "completions" && !ctx.clientWantsUsage }, (outcome) => {
        ctx.upstreamEndedAt = performance.now();
        finishRequest(ctx, gateway, outcome);
        return ctx.ledgerDurable;
      });
      return withHeaders(sseResponse(body, backend, ctx.requestId, ctx.plan?.label), ctx.admission);
    }
    const text = await readAnswer(backend, upstream, ctx.call);
    upload?.release();
    ctx.upstreamEndedAt = performance.now();
    const usage = usageOfAnswer(text);
    finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: !usage });
    const response = jsonResponse(text, backend, ctx.requestId, ctx.plan?.label);
    const type = upstream.headers.get("content-type");
    if (type && !type.startsWith("application/json")) response.headers.set("content-type", type); // audio's text, srt, vtt formats
    return heldForLedger(ctx, withHeaders(response, ctx.admission));
  } catch (thrown) {
    upload?.release();
    const error = asGatewayError(thrown);
    finishRequest(ctx, gateway, { status: error.status, errorCode: error.reportedCode ?? error.code, usage: undefined, usageEstimated: false });
    return heldForLedger(ctx, toErrorResponse(error, ctx.requestId));
  }
}

async function readInput(req: Request, ctx: RequestContext, endpoint: PassthroughEndpoint): Promise<Input> {
  if (endpoint !== "audio_transcriptions") return { kind: "json", body: await readJsonObject(req, ctx.snapshot) };
  const { max_upload_bytes: maxBytes, body_timeout_ms: timeoutMs } = ctx.snapshot.server;
  const spoolDeadlineMs = Math.max(timeoutMs, ...[...ctx.snapshot.backends.values()].map((backend) => backend.timeoutMs));
  return { kind: "upload", upload: await AudioUpload.open(req, { maxBytes, timeoutMs, spoolDeadlineMs }) };
}

/** A direct backend gets one attempt, a plan its retries; an upload is retried only while none of it was sent. */
async function dispatch(ctx: RequestContext, gateway: Gateway, input: Input, attempt: Attempt<Response>): Promise<Response> {
  if (!ctx.plan) return attempt(ctx.backend!, beginAttempt(ctx, gateway, ctx.backend!));
  if (input.kind === "json") return dispatchPlanned(ctx, gateway, ctx.plan, attempt);
  const first = ctx.plan.candidates[0]!;
  try {
    return await attempt(first, beginAttempt(ctx, gateway, first));
  } catch (thrown) {
    if (input.upload.started) throw thrown;
    return retryPlanned(ctx, gateway, thrown, attempt);
  }
}

/** The firewall reads a completion's prompt (and FIM suffix) as the user's message; a redaction is written back. */
async function screenPrompt(ctx: RequestContext, gateway: Gateway, body: Record<string, unknown>): Promise<void> {
  const prompts = typeof body.prompt === "string" ? [body.prompt] : Array.isArray(body.prompt) && body.prompt.every((p) => typeof p === "string") ? (body.prompt as string[]) : [];
  const screened: Record<string, unknown> = { firewall: body.firewall, messages: prompts.map((content) => ({ role: "user", content })) };
  if (typeof body.suffix === "string") (screened.messages as unknown[]).push({ role: "user", content: body.suffix });
  await runFirewall(ctx, gateway, screened);
  delete body.firewall; // a sluice field: the engine would reject it
  if (!ctx.firewall) return;
  const texts = (screened.messages as { content: string }[]).map((m) => m.content);
  if (typeof body.suffix === "string") body.suffix = texts.pop();
  if (prompts.length) body.prompt = typeof body.prompt === "string" ? texts[0] : texts;
}

async function post(backend: Backend, route: Route, input: Input, call: UpstreamCall, stream: boolean): Promise<Response> {
  const base = route.root ? backend.baseUrl.replace(/\/v1$/, "") : backend.baseUrl;
  let init: RequestInit;
  if (input.kind === "json") init = { headers: backend.requestHeaders, body: JSON.stringify({ ...input.body, model: backend.upstreamModel }) };
  else {
    const { upload } = input;
    // Non-retryable (503, not the breaker's business): the engine that took the first bytes had the only copy.
    if (upload.started) throw new GatewayError("upstream_error", `the upload was already streamed to a backend that failed, so it is not sent to '${backend.id}'; send it again`, { status: 503 });
    const headers = new Headers(backend.headers);
    headers.set("content-type", upload.contentType); // the client's boundary: the body passes through as it came
    init = { headers, body: upload.body(backend.upstreamModel), duplex: "half" } as RequestInit;
  }
  call.arm(backend.timeoutMs, "timeout");
  let response: Response;
  try {
    response = await fetch(`${base}${route.path}`, { ...init, method: "POST", signal: call.signal });
  } catch (error) {
    call.clear();
    if (input.kind === "upload" && input.upload.failure) throw input.upload.failure; // over the limit, stalled, or the client left
    throw fetchFailure(backend, call, error);
  }
  if (input.kind === "upload") {
    // The engine answered; if the upload failed first, the engine only saw it cut short (its answer says so too).
    input.upload.answered();
    if (input.upload.failure) {
      call.clear();
      await response.body?.cancel().catch(() => {});
      throw input.upload.failure;
    }
  }
  if (!response.ok) {
    call.clear();
    throw await engineError(backend, response);
  }
  if (stream) call.guardIdle(backend.streamIdleTimeoutMs);
  return response;
}

async function readAnswer(backend: Backend, upstream: Response, call: UpstreamCall | undefined): Promise<string> {
  try {
    return await upstream.text();
  } catch (error) {
    throw call?.reason === "timeout"
      ? new GatewayError("upstream_timeout", `backend '${backend.id}' did not finish within ${backend.timeoutMs} ms (backends[].timeout_ms)`)
      : new GatewayError("upstream_error", `backend '${backend.id}' broke off its answer: ${(error as Error).message}`);
  } finally {
    call?.clear();
  }
}

/** Responses and Messages for a backend that serves them itself. */
export function forwardNative(req: Request, gateway: Gateway, clientIp: ClientAddress, endpoint: "responses" | "messages", body: Record<string, unknown>): Promise<Response> {
  return handlePassthrough(req, gateway, clientIp, endpoint, body);
}
export { servesNatively } from "../translate/backend-endpoints.ts";
