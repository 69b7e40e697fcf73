// The one backend implementation: an OpenAI-compatible HTTP client. vLLM, SGLang, llama.cpp server, TGI, Ollama
// and hosted providers all speak this protocol, so nothing here knows which engine it talks to.
import { GatewayError } from "../errors.ts";
import type { Backend } from "../config/resolve.ts";
import type { UpstreamCall } from "./call.ts";

const DEFAULT_RETRY_AFTER_S = "1";

/**
 * POSTs a JSON body; resolves with a 2xx response, or throws the GatewayError that describes the failure.
 * `ttftTimeoutMs` (a balancer's TTFT guard) replaces the backend's timeout; the caller reads the first chunk in it.
 */
export async function postToBackend(backend: Backend, url: string, body: string, call: UpstreamCall, ttftTimeoutMs?: number): Promise<Response> {
  if (ttftTimeoutMs === undefined) call.arm(backend.timeoutMs, "timeout");
  else call.arm(ttftTimeoutMs, "ttft");
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
  if (call.reason === "client") return new GatewayError("upstream_error", "client closed the request", { status: 499 });
  const detail = error instanceof Error ? error.message : String(error);
  return new GatewayError("upstream_error", `backend '${backend.id}' is unreachable at ${backend.baseUrl}: ${detail}`);
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
