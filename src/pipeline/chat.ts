// POST /v1/chat/completions: the stages in order. Each stage is a small function over the request context.
//   read body → validate → resolve target → template → dispatch → respond (JSON or SSE)
import { GatewayError, toErrorResponse } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidator } from "../api/validate.ts";
import { ChatCompletionRequest } from "../api/schemas.ts";
import { expectObject, readJsonBody } from "./read-body.ts";
import { resolveBackend } from "./resolve-target.ts";
import { renderMessages } from "./template.ts";
import { prepareUpstreamBody } from "./upstream-body.ts";
import type { ChatContext, TokenUsage } from "./context.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { postToBackend } from "../upstream/client.ts";
import { relayStream, type StreamOutcome } from "../sse/relay.ts";
import { computeTimings } from "../observability/timings.ts";
import { jsonResponse, sseResponse } from "./response-headers.ts";

const validateChatRequest = compileValidator(ChatCompletionRequest);

export async function handleChat(req: Request, gateway: Gateway): Promise<Response> {
  const ctx = newContext(req, gateway);
  gateway.metrics.inFlight++;
  let streaming = false;
  try {
    const body = expectObject(await readJsonBody(req, ctx.snapshot.server.max_body_bytes));
    validateChatRequest(body);
    ctx.body = body;
    ctx.requestedModel = body.model as string;
    ctx.stream = typeof body.stream === "boolean" ? body.stream : ctx.snapshot.server.stream_default;

    const backend = (ctx.backend = resolveBackend(ctx.snapshot, ctx.requestedModel));
    body.messages = renderMessages(body.messages as never, backend.templateRenderMode);
    const upstreamBody = prepareUpstreamBody(body, backend, ctx.stream);

    const call = (ctx.call = new UpstreamCall(ctx.clientSignal));
    ctx.upstreamStartedAt = performance.now();
    const upstream = await postToBackend(backend, backend.chatUrl, upstreamBody, call);
    if (ctx.stream) {
      streaming = true;
      const stream = relayStream(ctx, upstream, call, (outcome) => finishStream(ctx, gateway, outcome));
      return sseResponse(stream, backend, ctx.requestId);
    }
    return await respondBuffered(ctx, gateway, upstream, call);
  } catch (error) {
    const response = toErrorResponse(error, ctx.requestId);
    record(ctx, gateway, response.status, undefined);
    return response;
  } finally {
    if (!streaming) gateway.metrics.inFlight--;
  }
}

function newContext(req: Request, gateway: Gateway): ChatContext {
  return {
    requestId: crypto.randomUUID(),
    startedAt: performance.now(),
    snapshot: gateway.snapshot,
    clientSignal: req.signal,
    body: {},
    requestedModel: "",
    stream: false,
  };
}

async function respondBuffered(ctx: ChatContext, gateway: Gateway, upstream: Response, call: UpstreamCall): Promise<Response> {
  const backend = ctx.backend!;
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
  let completion: Record<string, unknown>;
  try {
    completion = JSON.parse(text);
  } catch {
    throw new GatewayError("upstream_error", `backend '${backend.id}' answered with invalid JSON: ${JSON.stringify(text.slice(0, 120))}`);
  }
  if (completion === null || typeof completion !== "object" || !Array.isArray(completion.choices)) {
    throw new GatewayError("upstream_error", `backend '${backend.id}' answered without a choices array`);
  }
  const usage = completion.usage as TokenUsage | undefined;
  completion.id = `chatcmpl-${ctx.requestId}`;
  completion.model = ctx.requestedModel;
  completion.timings = computeTimings(ctx, usage);
  record(ctx, gateway, 200, usage);
  return jsonResponse(JSON.stringify(completion), backend, ctx.requestId);
}

function finishStream(ctx: ChatContext, gateway: Gateway, outcome: StreamOutcome): void {
  gateway.metrics.inFlight--;
  // A stream's HTTP status is 200 once headers went out; the metric labels what happened to it.
  const status = outcome.status === "ok" ? 200 : outcome.status === "client_gone" ? 499 : 502;
  record(ctx, gateway, status, outcome.usage);
}

function record(ctx: ChatContext, gateway: Gateway, status: number, usage: TokenUsage | undefined): void {
  const backend = ctx.backend;
  const ttft = ctx.firstTokenAt !== undefined && ctx.upstreamStartedAt !== undefined ? (ctx.firstTokenAt - ctx.upstreamStartedAt) / 1000 : undefined;
  gateway.metrics
    .series("chat", backend ? ctx.requestedModel : "unknown", backend?.id ?? "none")
    .observe(status, (performance.now() - ctx.startedAt) / 1000, ttft, usage?.prompt_tokens, usage?.completion_tokens);
}
