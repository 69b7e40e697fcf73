// POST /v1/embeddings: authenticate, validate, resolve the backend (or plan a balancer), admit, forward, finish. When a client asks for
// base64 and the engine answered with float arrays anyway (some engines ignore encoding_format), the gateway
// encodes them itself.
import { GatewayError, asGatewayError, toErrorResponse } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidatorNow } from "../api/validate.ts";
import { EmbeddingRequest } from "../api/schemas.ts";
import { NO_ADDRESS, type ClientAddress } from "../client-ip.ts";
import { newContext } from "./context.ts";
import { admitRequest, intake } from "./intake.ts";
import { finishRequest, heldForLedger } from "./finish.ts";
import type { UpstreamCall } from "../upstream/call.ts";
import type { Backend } from "../config/resolve.ts";
import { beginAttempt, dispatchPlanned } from "./dispatch.ts";
import { planBalancer } from "../routing/plan.ts";
import { embed, type Embeddings } from "../upstream/client.ts";
import { closingUnread, jsonResponse, withHeaders } from "./response-headers.ts";

const validateEmbeddingRequest = compileValidatorNow(EmbeddingRequest);

export async function handleEmbeddings(req: Request, gateway: Gateway, clientIp: ClientAddress = NO_ADDRESS): Promise<Response> {
  const ctx = newContext("embeddings", req, gateway.snapshot);
  try {
    const body = await intake(ctx, req, gateway, clientIp, validateEmbeddingRequest);
    if (ctx.autoRouting) throw new GatewayError("invalid_request", "model 'auto' routes chat completions; name an embedding model or a balancer of them", { param: "model" });
    ctx.promptTokensBound = Math.ceil(Buffer.byteLength(JSON.stringify(body.input)) / 2);
    if (ctx.balancer) ctx.plan = planBalancer(ctx, gateway, ctx.balancer, req.headers);
    const queued = admitRequest(ctx, gateway, 0);
    if (queued) await queued;

    const attempt = async (backend: Backend, call: UpstreamCall): Promise<Embeddings> => {
      const result = await embed(backend, JSON.stringify({ ...body, model: backend.upstreamModel }), call);
      ctx.upstreamEndedAt = performance.now();
      return result;
    };
    const result = ctx.plan ? await dispatchPlanned(ctx, gateway, ctx.plan, attempt) : await attempt(ctx.backend!, beginAttempt(ctx, gateway, ctx.backend!));
    if (body.encoding_format === "base64") for (const item of result.data) if (Array.isArray(item.embedding)) item.embedding = toBase64(item.embedding as number[]);
    result.model = ctx.plan ? ctx.backend!.id : ctx.requestedModel;
    const usage = result.usage ? { prompt_tokens: result.usage.prompt_tokens ?? 0, completion_tokens: 0, total_tokens: result.usage.total_tokens ?? 0 } : undefined;
    finishRequest(ctx, gateway, { status: 200, errorCode: null, usage, usageEstimated: !usage });
    return heldForLedger(ctx, withHeaders(jsonResponse(JSON.stringify(result), ctx.backend!, ctx.requestId, ctx.plan?.label), ctx.admission));
  } catch (thrown) {
    const error = asGatewayError(thrown);
    finishRequest(ctx, gateway, { status: error.status, errorCode: error.reportedCode ?? error.code, usage: undefined, usageEstimated: false });
    return heldForLedger(ctx, closingUnread(req, toErrorResponse(error, ctx.requestId)));
  }
}

/** OpenAI's base64 encoding: the little-endian float32 bytes of the vector. */
function toBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString("base64");
}
