// The one backend implementation: an OpenAI-compatible HTTP client. vLLM, SGLang, llama.cpp server, TGI, Ollama
// and hosted providers all speak this protocol, so nothing here knows which engine it talks to. Every caller
// (chat, the tool loop, embeddings, the firewall's judge, auto's classifier model, vector databases) goes through
// chatCompletion / chatStream / embed: none of them parses an engine's answer or maps its failures itself.
import { GatewayError } from "../errors.ts";
import type { Backend } from "../config/resolve.ts";
import type { UpstreamCall } from "./call.ts";
import { postStream } from "./socket-stream.ts";

const DEFAULT_RETRY_AFTER_S = "1";

/** An engine's buffered chat answer, checked to have a choices array; other fields pass through. */
export type Completion = Record<string, unknown> & { choices: unknown[] };

/** An engine's embeddings answer, checked to have a data array. */
export interface Embeddings {
  data: { embedding?: unknown; index?: number }[];
  model?: string;
  usage?: { prompt_tokens?: number; total_tokens?: number };
}

/** What a stream's consumer needs of the engine's body. */
export interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

/** A buffered chat completion. Invalid JSON, no choices array or a body cut off are the engine's failure (502/504). */
export async function chatCompletion(backend: Backend, body: string, call: UpstreamCall): Promise<Completion> {
  const completion = await readJson(backend, await postToBackend(backend, backend.chatUrl, body, call), call);
  if (!Array.isArray(completion.choices)) throw new GatewayError("upstream_error", `backend '${backend.id}' answered without a choices array`);
  return completion as Completion;
}

/** A streamed chat completion: the engine's body once its headers are in (see postToBackend for the TTFT guard). */
export function chatStream(backend: Backend, body: string, call: UpstreamCall, ttftTimeoutMs?: number): Promise<ChunkReader> {
  const socketUrl = socketStreamUrl(backend);
  if (socketUrl) return streamOverSocket(backend, socketUrl, body, call, ttftTimeoutMs);
  // A `then`, not an async function: one promise fewer on every stream's path.
  return postToBackend(backend, backend.chatUrl, body, call, ttftTimeoutMs).then(bodyReader);
}

const bodyReader = (upstream: Response): ChunkReader => upstream.body!.getReader();

/**
 * Streams from http:// engines go over a socket of their own (socket-stream.ts: ~35 % less CPU per relayed chunk
 * than reading fetch's body); https:// ones, URLs with credentials in them, and every engine when an HTTP proxy is
 * set in the environment, through fetch (TLS, the credentials and the proxy as fetch handles them).
 */
const socketUrls = new WeakMap<Backend, URL | null>();
const httpProxySet = () => Boolean(process.env.HTTP_PROXY || process.env.http_proxy);
function socketStreamUrl(backend: Backend): URL | null {
  let url = socketUrls.get(backend);
  if (url === undefined) {
    const parsed = new URL(backend.chatUrl);
    url = parsed.protocol === "http:" && !parsed.username && !parsed.password && !httpProxySet() ? parsed : null;
    socketUrls.set(backend, url);
  }
  return url;
}

/** chatStream over a socket: the same timers and the same failures as postToBackend. */
async function streamOverSocket(backend: Backend, url: URL, body: string, call: UpstreamCall, ttftTimeoutMs?: number): Promise<ChunkReader> {
  armCall(backend, call, ttftTimeoutMs);
  let response;
  try {
    response = await postStream(url, backend.requestHeaders, body, call.signal);
  } catch (error) {
    call.clear();
    throw fetchFailure(backend, call, error);
  }
  if (response.status >= 200 && response.status < 300) return response.reader;
  const text = await response.text().catch(() => ""); // still under the call's timer: an engine that stalls here is cut
  call.clear();
  // a 1xx head (never asked for) cannot be a Response's status
  if (response.status < 200 || response.status > 599) throw new GatewayError("upstream_error", `backend '${backend.id}' answered with HTTP status ${response.status}`);
  throw await engineError(backend, new Response(text || null, { status: response.status, headers: response.headers }));
}

/** Until the answer's head (or, under a balancer's TTFT guard, its first chunk): the backend's timeout or the guard's. */
function armCall(backend: Backend, call: UpstreamCall, ttftTimeoutMs: number | undefined): void {
  if (ttftTimeoutMs === undefined) call.arm(backend.timeoutMs, "timeout");
  else call.arm(ttftTimeoutMs, "ttft");
}

/** Embeddings for a request body (its `model` already the engine's). */
export async function embed(backend: Backend, body: string, call: UpstreamCall): Promise<Embeddings> {
  const result = await readJson(backend, await postToBackend(backend, backend.embeddingsUrl, body, call), call);
  if (!Array.isArray(result.data)) throw new GatewayError("upstream_error", `backend '${backend.id}' answered embeddings without a data array`);
  return result as unknown as Embeddings;
}

async function readJson(backend: Backend, upstream: Response, call: UpstreamCall): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await upstream.text();
  } catch (error) {
    throw call.reason === "timeout"
      ? new GatewayError("upstream_timeout", `backend '${backend.id}' did not finish within ${backend.timeoutMs} ms (backends[].timeout_ms)`)
      : call.reason === "client"
        ? clientClosed()
        : new GatewayError("upstream_error", `backend '${backend.id}' broke off its answer: ${(error as Error).message}`);
  } finally {
    call.clear();
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new GatewayError("upstream_error", `backend '${backend.id}' answered with invalid JSON: ${JSON.stringify(text.slice(0, 120))}`);
  }
  if (parsed === null || typeof parsed !== "object") throw new GatewayError("upstream_error", `backend '${backend.id}' answered with JSON that is not an object`);
  return parsed as Record<string, unknown>;
}

/** The client went away while the gateway waited on the engine: recorded as 499, never blamed on the backend. */
export function clientClosed(): GatewayError {
  return new GatewayError("client_closed", "client closed the request");
}

/**
 * POSTs a JSON body; resolves with a 2xx response, or throws the GatewayError that describes the failure.
 * `ttftTimeoutMs` (a balancer's TTFT guard) replaces the backend's timeout; the caller reads the first chunk in it.
 */
async function postToBackend(backend: Backend, url: string, body: string, call: UpstreamCall, ttftTimeoutMs?: number): Promise<Response> {
  armCall(backend, call, ttftTimeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { method: "POST", headers: backend.requestHeaders, body, signal: call.signal });
  } catch (error) {
    call.clear();
    throw fetchFailure(backend, call, error);
  }
  if (response.ok) return response;
  call.clear();
  throw await engineError(backend, response);
}

export function fetchFailure(backend: Backend, call: UpstreamCall, error: unknown): GatewayError {
  if (call.reason === "timeout") {
    return new GatewayError("upstream_timeout", `backend '${backend.id}' did not answer within ${backend.timeoutMs} ms (backends[].timeout_ms)`);
  }
  if (call.reason === "ttft") return ttftTimeout(backend);
  if (call.reason === "client") return clientClosed();
  // Clients get the backend's name and the error code, never its URL (it may carry credentials; see mask-url.ts).
  return new GatewayError("upstream_error", `backend '${backend.id}' is unreachable (${(error as { code?: string } | undefined)?.code ?? "connection failed"})`);
}

export function ttftTimeout(backend: Backend): GatewayError {
  return new GatewayError("upstream_timeout", `backend '${backend.id}' sent no first token within the balancer's ttft_timeout_ms`);
}

/** Maps an engine's non-2xx answer: 4xx keep their status and message, 429 keeps Retry-After, 5xx become 502. */
export async function engineError(backend: Backend, response: Response): Promise<GatewayError> {
  const message = await engineMessage(response);
  if (response.status === 429) {
    const retryAfter = response.headers.get("retry-after") ?? DEFAULT_RETRY_AFTER_S;
    return new GatewayError("upstream_rate_limited", `backend '${backend.id}' is rate limiting: ${message}`, { headers: { "retry-after": retryAfter } });
  }
  if (response.status >= 400 && response.status < 500) {
    return new GatewayError("upstream_client_error", `backend '${backend.id}' rejected the request: ${message}`, { status: response.status });
  }
  return new GatewayError("upstream_error", `backend '${backend.id}' failed with HTTP ${response.status}: ${message}`);
}

async function engineMessage(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown; detail?: unknown };
    const candidate = typeof parsed.error === "string" ? parsed.error : (parsed.error?.message ?? parsed.message ?? parsed.detail);
    if (typeof candidate === "string" && candidate) return candidate;
  } catch {
    // not JSON: fall through to the raw text
  }
  return text.slice(0, 500).trim() || response.statusText || "no message";
}
