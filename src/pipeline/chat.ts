// POST /v1/chat/completions: the stages in order. Each stage is a small function over the request context.
//   intake (authenticate → read body → validate → resolve target → check model) → plan (balancer or auto) →
//   template → admit (limits, budget, queue) → upstream body → dispatch → respond (JSON) or relay (SSE) →
//   finish (ledger, metrics, settle)
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { Backend } from "../config/resolve.ts";
import { compileValidator } from "../api/validate.ts";
import { ChatCompletionRequest } from "../api/schemas.ts";
import { estimatePromptTokensUpperBound } from "../billing/cost.ts";
import { renderMessages } from "./template.ts";
import { prepareUpstreamBody } from "./upstream-body.ts";
import { NO_ADDRESS, type ClientAddress } from "../client-ip.ts";
import { newContext, type RequestContext } from "./context.ts";
import { admitRequest, intake } from "./intake.ts";
import { finishRequest } from "./finish.ts";
import { beginAttempt, retryPlanned } from "./dispatch.ts";
import type { UpstreamCall } from "../upstream/call.ts";
import { postToBackend, ttftTimeout } from "../upstream/client.ts";
import { relayStream, type ChunkReader, type RelayStart } from "../sse/relay.ts";
import { computeTimings } from "../observability/timings.ts";
import { sseResponse, withHeaders } from "./response-headers.ts";
import { planAuto, planBalancer } from "../routing/plan.ts";
import { postProcess, readCompletion, reports, respondBuffered, routingEvent, type Completion } from "./respond.ts";
import { runPreProcessors } from "./processors.ts";
import { runFirewall } from "./firewall.ts";
import { refuseSpentBudget } from "./admission.ts";
import { platformTools } from "./tool-loop.ts";
import { chatWithTools } from "./chat-tools.ts";

const validateChatRequest = compileValidator(ChatCompletionRequest);

export async function handleChat(req: Request, gateway: Gateway, clientIp: ClientAddress = NO_ADDRESS): Promise<Response> {
  const ctx = newContext("chat", req, gateway.snapshot);
  gateway.metrics.inFlight++;
  let streaming = false;
  try {
    const body = await intake(ctx, req, gateway, clientIp, validateChatRequest);
    ctx.stream = typeof body.stream === "boolean" ? body.stream : ctx.snapshot.server.stream_default;
    const key = ctx.principal?.key;
    const screened = body.firewall !== undefined || key?.firewall;
    if (key && (screened || ctx.autoRouting?.classifier)) refuseSpentBudget(gateway.limits, key);
    if (screened) await runFirewall(ctx, gateway, body);
    if (body.inferada !== undefined || ctx.snapshot.raw.processors.default.length) {
      const answer = await runPreProcessors(ctx, gateway, body);
      if (answer !== undefined) return answerItself(ctx, gateway, answer);
    }
    ctx.promptTokensBound = estimatePromptTokensUpperBound(body.messages as unknown[]);
    const maxTokens = (body.max_completion_tokens ?? body.max_tokens) as number | undefined;
    const platform = body.tools !== undefined ? platformTools(ctx, gateway, body) : undefined;
    if (platform) {
      const response = await chatWithTools(ctx, gateway, req, body, platform, maxTokens);
      streaming = ctx.stream;
      return response;
    }
    // A backend by name, or a balancer's or `auto`'s plan: its candidates, best first.
    const plan = ctx.backend ? undefined : (ctx.plan = ctx.balancer ? planBalancer(ctx, gateway, ctx.balancer, req.headers) : await planAuto(ctx, gateway, ctx.autoRouting!));
    const target = plan ? plan.candidates[0]! : permitted(ctx, ctx.backend!);
    const queued = admitRequest(ctx, gateway, maxTokens);
    if (queued) await queued;
    const messages = body.messages as never;
    // Each attempt renders the original messages for its backend; the rest of the body is edited in place.
    const bodyFor = (backend: Backend) => {
      body.messages = renderMessages(messages, backend.templateRenderMode);
      return prepareUpstreamBody(body, backend, ctx.stream);
    };
    // The first attempt runs inline, not through an Attempt function: it is the usual case, and the async layers
    // would make a balanced request measurably dearer than a direct one. A plan's retries go through dispatch.
    const call = beginAttempt(ctx, gateway, target);
    if (!ctx.stream) {
      let completion: Completion;
      try {
        completion = await readCompletion(ctx, target, await postToBackend(target, target.chatUrl, bodyFor(target), call), call);
      } catch (thrown) {
        completion = await retryPlanned(ctx, gateway, thrown, async (backend, call) => readCompletion(ctx, backend, await postToBackend(backend, backend.chatUrl, bodyFor(backend), call), call));
      }
      if (ctx.processors || ctx.outputScreen) await postProcess(ctx, completion);
      return respondBuffered(ctx, gateway, completion);
    }
    if (!plan) {
      // Straight through: the engine's bytes are relayed as they come.
      const upstream = await postToBackend(target, target.chatUrl, bodyFor(target), call);
      streaming = true;
      return streamResponse(ctx, gateway, upstream.body!.getReader(), call);
    }
    // A plan commits to a backend only once its first chunk is in, so that one failing before it can be replaced.
    const ttftTimeoutMs = plan.policy.ttftTimeoutMs;
    let started: OpenedStream;
    try {
      started = await openStream(ctx, target, bodyFor(target), call, ttftTimeoutMs);
    } catch (thrown) {
      started = await retryPlanned(ctx, gateway, thrown, (backend, call) => openStream(ctx, backend, bodyFor(backend), call, ttftTimeoutMs));
    }
    streaming = true;
    return streamResponse(ctx, gateway, started.reader, ctx.call!, { first: started.first, prelude: routingEvent(ctx, plan) });
  } catch (thrown) {
    const error = asGatewayError(thrown);
    finishRequest(ctx, gateway, { status: error.status, errorCode: error.reportedCode ?? error.code, usage: undefined, usageEstimated: false });
    return toErrorResponse(error, ctx.requestId);
  } finally {
    if (!streaming) gateway.metrics.inFlight--;
  }
}

function streamResponse(ctx: RequestContext, gateway: Gateway, reader: ChunkReader, call: UpstreamCall, start: RelayStart = {}): Response {
  const { processors, firewall, outputScreen } = ctx;
  if (processors || firewall) start.final = () => reports(ctx);
  if (processors?.hasPost || outputScreen) {
    start.rewriteContent = (text, choice) => {
      const processed = processors?.hasPost ? processors.postSync(text) : text;
      return outputScreen ? outputScreen.push(choice, processed) : processed;
    };
  }
  if (outputScreen) {
    start.finishContent = (choice) => outputScreen.finish(choice);
    start.drainContent = () => outputScreen.drain();
  }
  const stream = relayStream(
    ctx,
    reader,
    call,
    (outcome) => {
      gateway.metrics.inFlight--;
      // Headers went out with 200; the ledger records what happened to the stream.
      const status = outcome.status === "ok" ? 200 : outcome.status === "client_gone" ? 499 : outcome.errorCode === "firewall_blocked" ? 422 : 502;
      const errorCode =
        outcome.errorCode ?? (outcome.status === "ok" ? null : outcome.status === "client_gone" ? "client_closed" : outcome.status === "bad_stream" ? "bad_upstream_sse" : "stream_interrupted");
      finishRequest(ctx, gateway, { status, errorCode, usage: outcome.usage, usageEstimated: outcome.usageEstimated });
    },
    start,
  );
  return withHeaders(sseResponse(stream, ctx.backend!, ctx.requestId, ctx.plan?.label), ctx.admission);
}

/** A backend by name: refused when the request's routing policy (processors' restrictTargets) does not allow it. */
function permitted(ctx: RequestContext, backend: Backend): Backend {
  const refusal = ctx.processors?.restricts ? ctx.processors.refusal(backend) : undefined;
  if (refusal) throw new GatewayError("policy_rejected", `model '${backend.id}' may not serve this request: ${refusal}`, { param: "model", reportedCode: "routing_policy" });
  return backend;
}

interface OpenedStream {
  reader: ChunkReader;
  first: Uint8Array;
}

/**
 * A balancer's stream attempt: the engine's headers and its first chunk, so that an engine that fails before its
 * first byte (or, with the TTFT guard, is too slow to send it) can still be replaced — nothing has reached the
 * client yet.
 */
async function openStream(ctx: RequestContext, backend: Backend, body: string, call: UpstreamCall, ttftTimeoutMs: number | undefined): Promise<OpenedStream> {
  const upstream = await postToBackend(backend, backend.chatUrl, body, call, ttftTimeoutMs);
  if (ttftTimeoutMs === undefined) call.guardIdle(backend.streamIdleTimeoutMs);
  const reader = upstream.body!.getReader();
  let first: Uint8Array | undefined;
  try {
    const chunk = await reader.read();
    first = chunk.done ? undefined : chunk.value;
  } catch {
    // a body that breaks before its first byte is handled below like one that ends there
  }
  if (first) {
    ctx.firstTokenAt = performance.now();
    return { reader, first };
  }
  reader.cancel().catch(() => {});
  if (call.reason === "ttft") throw ttftTimeout(backend);
  if (call.reason === "client") throw new GatewayError("upstream_error", "client closed the request", { status: 499 });
  throw new GatewayError("upstream_error", `backend '${backend.id}' closed the stream before its first byte`);
}

/** A processor answered the request itself: no model is called. */
function answerItself(ctx: RequestContext, gateway: Gateway, content: string): Response {
  const id = `chatcmpl-${ctx.requestId}`;
  const created = Math.floor(Date.now() / 1000);
  const usage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  const timings = computeTimings(ctx, usage);
  const { inferada, firewall } = reports(ctx);
  finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: false });
  const headers = { "x-request-id": ctx.requestId };
  if (!ctx.stream) {
    const completion = { id, object: "chat.completion", created, model: ctx.requestedModel, choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }], usage, timings, inferada, firewall };
    return Response.json(completion, { headers });
  }
  const chunk = (fields: Record<string, unknown>) => `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model: ctx.requestedModel, ...fields })}\n\n`;
  const events =
    chunk({ choices: [{ index: 0, delta: { role: "assistant", content }, finish_reason: null }] }) +
    chunk({ choices: [{ index: 0, delta: {}, finish_reason: "stop" }] }) +
    chunk({ choices: [], usage, timings, inferada, firewall }) +
    "data: [DONE]\n\n";
  return new Response(events, { headers: { ...headers, "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache" } });
}

