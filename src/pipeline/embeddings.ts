// POST /v1/embeddings: validate, resolve the backend, forward. When a client asks for base64 and the engine
// answered with float arrays anyway (some engines ignore encoding_format), the gateway encodes them itself.
import { GatewayError, toErrorResponse } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { compileValidator } from "../api/validate.ts";
import { EmbeddingRequest } from "../api/schemas.ts";
import { expectObject, readJsonBody } from "./read-body.ts";
import { resolveBackend } from "./resolve-target.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { postToBackend } from "../upstream/client.ts";
import { jsonResponse } from "./response-headers.ts";

const validateEmbeddingRequest = compileValidator(EmbeddingRequest);

export async function handleEmbeddings(req: Request, gateway: Gateway): Promise<Response> {
  const requestId = crypto.randomUUID();
  const startedAt = performance.now();
  const snapshot = gateway.snapshot;
  let backendId = "none";
  let model = "unknown";
  let status = 200;
  try {
    const body = expectObject(await readJsonBody(req, snapshot.server.max_body_bytes));
    validateEmbeddingRequest(body);
    const backend = resolveBackend(snapshot, body.model as string);
    backendId = backend.id;
    model = body.model as string;
    const call = new UpstreamCall(req.signal);
    const upstream = await postToBackend(backend, backend.embeddingsUrl, JSON.stringify({ ...body, model: backend.upstreamModel }), call);
    const result = (await upstream.json().catch(() => undefined)) as { data?: { embedding?: unknown }[]; model?: string } | undefined;
    call.clear();
    if (!Array.isArray(result?.data)) throw new GatewayError("upstream_error", `backend '${backend.id}' answered embeddings without a data array`);
    if (body.encoding_format === "base64") for (const item of result.data) if (Array.isArray(item.embedding)) item.embedding = toBase64(item.embedding as number[]);
    result.model = model;
    return jsonResponse(JSON.stringify(result), backend, requestId);
  } catch (error) {
    const response = toErrorResponse(error, requestId);
    status = response.status;
    return response;
  } finally {
    gateway.metrics.series("embeddings", model, backendId).observe(status, (performance.now() - startedAt) / 1000, undefined);
  }
}

/** OpenAI's base64 encoding: the little-endian float32 bytes of the vector. */
function toBase64(vector: number[]): string {
  return Buffer.from(new Float32Array(vector).buffer).toString("base64");
}
