// POST /v1/chat/completions: the stages in order. Each stage is a small function over the request context.
//   intake (authenticate → read body → validate → resolve target → check model) → template → admit (limits,
//   budget, queue) → upstream body → dispatch → respond (JSON) or relay (SSE) → finish (ledger, metrics, settle)
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidator } from "../api/validate.ts";
import { ChatCompletionRequest } from "../api/schemas.ts";
import { estimatePromptTokensUpperBound } from "../billing/cost.ts";
import { renderMessages } from "./template.ts";
import { prepareUpstreamBody } from "./upstream-body.ts";
import { NO_ADDRESS, type ClientAddress } from "../client-ip.ts";
import { newContext, type RequestContext, type TokenUsage } from "./context.ts";
import { admitRequest, intake } from "./intake.ts";
import { finishRequest } from "./finish.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { postToBackend } from "../upstream/client.ts";
import { relayStream } from "../sse/relay.ts";
import { computeTimings } from "../observability/timings.ts";
import { jsonResponse, sseResponse, withHeaders } from "./response-headers.ts";

const validateChatRequest = compileValidator(ChatCompletionRequest);

export async function handleChat(req: Request, gateway: Gateway, clientIp: ClientAddress = NO_ADDRESS): Promise<Response> {
  const ctx = newContext("chat", req, gateway.snapshot);
  gateway.metrics.inFlight++;
  let streaming = false;
  try {
    const body = await intake(ctx, req, gateway, clientIp, validateChatRequest);
    const backend = ctx.backend!;
    ctx.stream = typeof body.stream === "boolean" ? body.stream : ctx.snapshot.server.stream_default;
    body.messages = renderMessages(body.messages as never, backend.templateRenderMode);
    ctx.promptTokensBound = estimatePromptTokensUpperBound(body.messages as unknown[]);
    const queued = admitRequest(ctx, gateway, (body.max_completion_tokens ?? body.max_tokens) as number | undefined);
    if (queued) await queued;
    const upstreamBody = prepareUpstreamBody(body, backend, ctx.stream);

    const call = (ctx.call = new UpstreamCall(ctx.clientSignal));
    ctx.upstreamStartedAt = performance.now();
    const upstream = await postToBackend(backend, backend.chatUrl, upstreamBody, call);
    if (ctx.stream) {
      const stream = relayStream(ctx, upstream, call, (outcome) => {
        gateway.metrics.inFlight--;
        // Headers went out with 200; the ledger records what happened to the stream.
        const status = outcome.status === "ok" ? 200 : outcome.status === "client_gone" ? 499 : 502;
        const errorCode = outcome.status === "ok" ? null : outcome.status === "client_gone" ? "client_closed" : outcome.status === "bad_stream" ? "bad_upstream_sse" : "stream_interrupted";
        finishRequest(ctx, gateway, { status, errorCode, usage: outcome.usage, usageEstimated: outcome.usageEstimated });
      });
      streaming = true;
      return withHeaders(sseResponse(stream, backend, ctx.requestId), ctx.admission);
    }
    return await respondBuffered(ctx, gateway, upstream, call);
  } catch (thrown) {
    const error = asGatewayError(thrown);
    finishRequest(ctx, gateway, { status: error.status, errorCode: error.code, usage: undefined, usageEstimated: false });
    return toErrorResponse(error, ctx.requestId);
  } finally {
    if (!streaming) gateway.metrics.inFlight--;
  }
}

async function respondBuffered(ctx: RequestContext, gateway: Gateway, upstream: Response, call: UpstreamCall): Promise<Response> {
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
  const reported = completion.usage as TokenUsage | undefined;
  const usage = reported ?? estimateUsage(ctx, completion.choices);
  completion.id = `chatcmpl-${ctx.requestId}`;
  completion.model = ctx.requestedModel;
  if (completion.timings !== undefined) completion.engine_timings = completion.timings; // llama.cpp's own
  completion.timings = computeTimings(ctx, usage);
  finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: !reported });
  return withHeaders(jsonResponse(JSON.stringify(completion), backend, ctx.requestId), ctx.admission);
}

/** An engine that reports no usage: about four characters per token. */
function estimateUsage(ctx: RequestContext, choices: unknown[]): TokenUsage {
  const characters = JSON.stringify(choices).length;
  const completion = Math.ceil(characters / 4);
  const prompt = Math.ceil(ctx.promptTokensBound / 2);
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion };
}
