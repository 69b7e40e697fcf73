// POST /v1/embeddings: authenticate, validate, resolve the backend, admit, forward, finish. When a client asks for
// base64 and the engine answered with float arrays anyway (some engines ignore encoding_format), the gateway
// encodes them itself.
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidator } from "../api/validate.ts";
import { EmbeddingRequest } from "../api/schemas.ts";
import { NO_ADDRESS, type ClientAddress } from "../client-ip.ts";
import { newContext, type TokenUsage } from "./context.ts";
import { admitRequest, intake } from "./intake.ts";
import { finishRequest } from "./finish.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { postToBackend } from "../upstream/client.ts";
import { jsonResponse, withHeaders } from "./response-headers.ts";

const validateEmbeddingRequest = compileValidator(EmbeddingRequest);

export async function handleEmbeddings(req: Request, gateway: Gateway, clientIp: ClientAddress = NO_ADDRESS): Promise<Response> {
  const ctx = newContext("embeddings", req, gateway.snapshot);
  try {
    const body = await intake(ctx, req, gateway, clientIp, validateEmbeddingRequest);
    const backend = ctx.backend!;
    ctx.promptTokensBound = Math.ceil(Buffer.byteLength(JSON.stringify(body.input)) / 2);
    const queued = admitRequest(ctx, gateway, 0);
    if (queued) await queued;

    const call = (ctx.call = new UpstreamCall(ctx.clientSignal));
    ctx.upstreamStartedAt = performance.now();
    const upstream = await postToBackend(backend, backend.embeddingsUrl, JSON.stringify({ ...body, model: backend.upstreamModel }), call);
    const result = (await upstream.json().catch(() => undefined)) as { data?: { embedding?: unknown }[]; model?: string; usage?: TokenUsage } | undefined;
    call.clear();
    ctx.upstreamEndedAt = performance.now();
    if (!Array.isArray(result?.data)) throw new GatewayError("upstream_error", `backend '${backend.id}' answered embeddings without a data array`);
    if (body.encoding_format === "base64") for (const item of result.data) if (Array.isArray(item.embedding)) item.embedding = toBase64(item.embedding as number[]);
    result.model = ctx.requestedModel;
    const usage = result.usage ? { prompt_tokens: result.usage.prompt_tokens ?? 0, completion_tokens: 0, total_tokens: result.usage.total_tokens ?? 0 } : undefined;
    finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: !usage });
    return withHeaders(jsonResponse(JSON.stringify(result), backend, ctx.requestId), ctx.admission);
  } catch (thrown) {
    const error = asGatewayError(thrown);
    finishRequest(ctx, gateway, { status: error.status, errorCode: error.code, usage: undefined, usageEstimated: false });
    return toErrorResponse(error, ctx.requestId);
  }
}

/** OpenAI's base64 encoding: the little-endian float32 bytes of the vector. */
function toBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString("base64");
}
