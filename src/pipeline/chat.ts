// POST /v1/chat/completions: one pipeline for every request, whatever its target, shape and tools.
//   intake (authenticate → read body → validate → resolve model) → pre hooks (firewall, processors: may refuse
//   or answer) → target (a backend, or a balancer's / auto's plan) → admit (limits, budget, queue) →
//   model call (once, or the platform tool loop's rounds) → post hooks (reverse order) + usage + timings →
//   respond (JSON) or relay (SSE) → finish (ledger, metrics, settle)
// Buffered and streamed answers differ only in the shape the model call returns; both pass the same hooks.
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { Backend } from "../config/resolve.ts";
import { compileValidatorNow } from "../api/validate.ts";
import { ChatCompletionRequest } from "../api/schemas.ts";
import { estimatePromptTokensUpperBound } from "../billing/cost.ts";
import { UpstreamRequest } from "./upstream-body.ts";
import { NO_ADDRESS, type ClientAddress } from "../client-ip.ts";
import { newContext, type RequestContext } from "./context.ts";
import { admitRequest, intake } from "./intake.ts";
import { finishRequest, heldForLedger, streamOutcome } from "./finish.ts";
import { beginAttempt, retryPlanned } from "./dispatch.ts";
import type { UpstreamCall } from "../upstream/call.ts";
import { chatCompletion, chatStream, clientClosed, ttftTimeout, type Completion } from "../upstream/client.ts";
import { relayStream } from "../sse/relay.ts";
import { computeTimings } from "../observability/timings.ts";
import { closingUnread, sseResponse, withHeaders } from "./response-headers.ts";
import { respondBuffered, routingEvent } from "./respond.ts";
import { hookReports, postProcess, runPreHooks } from "./answer-hooks.ts";
import { refuseSpentBudget } from "./admission.ts";
import { platformTools } from "./tool-loop.ts";
import type { RoutePlan } from "../routing/plan.ts";
import { chooseTarget, firstBackend, maxTokensOf, type ChatRequest, type ChatTarget } from "./chat-request.ts";
import { ToolLoop, completeWithTools, streamWithTools, type OpenedStream } from "./tool-rounds.ts";

const validateChatRequest = compileValidatorNow(ChatCompletionRequest);

/** `endpoint`: the API the client called, when a translated one (Responses, Messages) hands its request over. */
export async function handleChat(req: Request, gateway: Gateway, clientIp: ClientAddress = NO_ADDRESS, endpoint: "chat" | "responses" | "messages" = "chat"): Promise<Response> {
  const ctx = newContext(endpoint, req, gateway.snapshot);
  gateway.metrics.inFlight++;
  let streaming = false;
  try {
    const body = (await intake(ctx, req, gateway, clientIp, validateChatRequest)) as ChatRequest;
    ctx.stream = body.stream ?? ctx.snapshot.server.stream_default;
    ctx.clientWantsUsage = body.stream_options?.include_usage === true;
    const key = ctx.principal?.key;
    if (key && (body.firewall !== undefined || key.firewall || ctx.autoRouting?.classifier)) refuseSpentBudget(gateway.limits, key);
    const hooked = runPreHooks(ctx, gateway, body);
    const answer = hooked && (await hooked);
    if (answer !== undefined) return await answerItself(ctx, gateway, answer);
    ctx.promptTokensBound = estimatePromptTokensUpperBound(body.messages);
    const tools = body.tools !== undefined ? platformTools(ctx, gateway, body) : undefined;
    const chosen = chooseTarget(ctx, gateway, req.headers);
    const target = chosen instanceof Promise ? await chosen : chosen;
    const queued = admitRequest(ctx, gateway, maxTokensOf(body), body.n);
    if (queued) await queued;
    const request = new UpstreamRequest(body, ctx.stream);
    const loop = tools && new ToolLoop(ctx, gateway, tools, request);

    if (!ctx.stream) {
      const completion = loop ? await completeWithTools(ctx, loop, request, () => complete(ctx, gateway, target, request)) : await complete(ctx, gateway, target, request);
      if (ctx.answerHooks) await postProcess(ctx.answerHooks, completion);
      return heldForLedger(ctx, respondBuffered(ctx, gateway, completion));
    }
    const opened = loop ? await streamWithTools(ctx, loop, request, () => open(ctx, gateway, target, request)) : await open(ctx, gateway, target, request);
    streaming = true;
    return relayResponse(ctx, gateway, opened);
  } catch (thrown) {
    const error = asGatewayError(thrown);
    finishRequest(ctx, gateway, { status: error.status, errorCode: error.reportedCode ?? error.code, usage: undefined, usageEstimated: false });
    return heldForLedger(ctx, closingUnread(req, toErrorResponse(error, ctx.requestId)));
  } finally {
    if (!streaming) gateway.metrics.inFlight--;
  }
}

/**
 * The model's buffered answer: the first attempt inline (the usual case; an Attempt closure's async layers would
 * make a balanced request measurably dearer than a direct one), a plan's retries through dispatch.
 */
async function complete(ctx: RequestContext, gateway: Gateway, target: ChatTarget, request: UpstreamRequest): Promise<Completion> {
  const backend = firstBackend(target);
  let completion: Completion;
  try {
    completion = await chatCompletion(backend, request.for(backend), beginAttempt(ctx, gateway, backend));
  } catch (thrown) {
    completion = await retryPlanned(ctx, gateway, thrown, (next, call) => chatCompletion(next, request.for(next), call));
  }
  ctx.upstreamEndedAt = performance.now();
  return completion;
}

/**
 * The model's stream once its headers are in. A plan commits to a backend only once its first chunk is in, so that
 * one failing before it (or, with the TTFT guard, too slow to send it) can still be replaced: nothing has reached
 * the client yet.
 */
function open(ctx: RequestContext, gateway: Gateway, target: ChatTarget, request: UpstreamRequest): Promise<OpenedStream> {
  const backend = firstBackend(target);
  const call = beginAttempt(ctx, gateway, backend);
  if (target.kind === "backend") return chatStream(backend, request.for(backend), call).then((reader) => ({ reader, call }));
  return openPlanned(ctx, gateway, target.plan, request, backend, call);
}

async function openPlanned(ctx: RequestContext, gateway: Gateway, plan: RoutePlan, request: UpstreamRequest, backend: Backend, call: UpstreamCall): Promise<OpenedStream> {
  const ttftTimeoutMs = plan.policy.ttftTimeoutMs;
  let opened: OpenedStream;
  try {
    opened = await openFirstChunk(ctx, backend, request.for(backend), call, ttftTimeoutMs);
  } catch (thrown) {
    opened = await retryPlanned(ctx, gateway, thrown, (next, nextCall) => openFirstChunk(ctx, next, request.for(next), nextCall, ttftTimeoutMs));
  }
  opened.prelude = routingEvent(ctx, plan);
  return opened;
}

async function openFirstChunk(ctx: RequestContext, backend: Backend, body: string, call: UpstreamCall, ttftTimeoutMs: number | undefined): Promise<OpenedStream> {
  const reader = await chatStream(backend, body, call, ttftTimeoutMs);
  if (ttftTimeoutMs === undefined) call.guardIdle(backend.streamIdleTimeoutMs);
  let first: Uint8Array | undefined;
  try {
    const chunk = await reader.read();
    first = chunk.done ? undefined : chunk.value;
  } catch {
    // a body that breaks before its first byte is handled below like one that ends there
  }
  if (first) {
    ctx.firstTokenAt = performance.now();
    return { reader, call, first };
  }
  reader.cancel().catch(() => {});
  if (call.reason === "ttft") throw ttftTimeout(backend);
  if (call.reason === "client") throw clientClosed();
  throw new GatewayError("upstream_error", `backend '${backend.id}' closed the stream before its first byte`);
}

/** Relays a stream through the answer hooks; the ledger records what happened to it once it ends. */
function relayResponse(ctx: RequestContext, gateway: Gateway, opened: OpenedStream): Response {
  const stream = relayStream(
    ctx,
    opened.reader,
    opened.call,
    (outcome) => {
      gateway.metrics.inFlight--;
      finishRequest(ctx, gateway, streamOutcome(outcome));
    },
    { first: opened.first, prelude: opened.prelude, guarded: opened.guarded, hooks: ctx.answerHooks, final: () => hookReports(ctx) },
  );
  return withHeaders(sseResponse(stream, ctx.backend!, ctx.requestId, ctx.plan?.label), ctx.admission);
}

/**
 * A pre hook answered the request itself: no model is called. The answer still passes the post hooks (a cached
 * answer is restored and screened like a model's), and streams follow the same contract as the model's.
 */
async function answerItself(ctx: RequestContext, gateway: Gateway, text: string): Promise<Response> {
  const content = ctx.answerHooks ? await ctx.answerHooks.whole(text) : text;
  const id = `chatcmpl-${ctx.requestId}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  const extra = { usage, timings: computeTimings(ctx, usage), ...hookReports(ctx) };
  finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: false });
  const headers = { "x-request-id": ctx.requestId };
  if (!ctx.stream) {
    const completion = { id, object: "chat.completion", created, model: ctx.requestedModel, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], ...extra };
    return heldForLedger(ctx, Response.json(completion, { headers }));
  }
  const chunk = (fields: Record<string, unknown>) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: ctx.requestedModel, ...fields })}\n\n`;
  const last = ctx.clientWantsUsage
    ? chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }) + chunk({ choices: [], ...extra })
    : chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }], ...extra });
  const events = chunk({ choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: null }] }) + last + "data: [DONE]\n\n";
  return heldForLedger(ctx, new Response(events, { headers: { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } }));
}
