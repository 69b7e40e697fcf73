// The bridge from a translated API (Responses, Messages) into the one chat pipeline. The translated body goes to
// handleChat as a synthesized request with the caller's own headers, so keys, limits, budgets, the firewall,
// processors, platform tools, the ledger and timings hold exactly as on /v1/chat/completions.
import type { Gateway } from "../gateway.ts";
import type { ClientAddress } from "../client-ip.ts";
import { handleChat } from "../pipeline/chat.ts";
import { newContext, type Endpoint } from "../pipeline/context.ts";
import { finishRequest } from "../pipeline/finish.ts";
import type { GatewayError } from "../errors.ts";
import type { Principal } from "../auth/authenticate.ts";

/** Headers that describe the original body, not the synthesized one. */
const BODY_HEADERS = ["content-length", "content-type", "transfer-encoding", "content-encoding"];

export function callChat(req: Request, gateway: Gateway, clientIp: ClientAddress, body: Record<string, unknown>, authorization?: string): Promise<Response> {
  const headers = new Headers(req.headers);
  for (const name of BODY_HEADERS) headers.delete(name);
  headers.set("content-type", "application/json");
  if (authorization && !headers.has("authorization")) headers.set("authorization", authorization);
  const synthesized = new Request(new URL("/v1/chat/completions", req.url).href, { method: "POST", headers, body: JSON.stringify(body), signal: req.signal });
  return handleChat(synthesized, gateway, clientIp);
}

/** The headers of the chat answer a translated answer keeps (trace, rate limits, queue wait). */
export function passHeaders(from: Response, contentType: string): Headers {
  const headers = new Headers();
  for (const [name, value] of from.headers) {
    if (name === "x-request-id" || name.startsWith("x-sluice-") || name.startsWith("x-ratelimit-") || name.startsWith("x-inferada-") || name === "retry-after") headers.set(name, value);
  }
  headers.set("content-type", contentType);
  if (contentType.startsWith("text/event-stream")) {
    headers.set("cache-control", "no-cache");
    headers.set("x-accel-buffering", "no");
  }
  return headers;
}

/** One parsed `data:` payload of a chat stream: a chunk, the routing event, or an error event. */
export type ChatEvent = Record<string, unknown>;

/**
 * The chat stream's events, parsed. The chat relay frames every event as `data: <json>\n\n`; `[DONE]` ends it.
 * Cancelling the consumer cancels the chat stream, which aborts the engine's request.
 */
export async function* chatEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ChatEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffered = "";
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buffered += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = buffered.indexOf("\n\n")) >= 0) {
        const event = buffered.slice(0, end);
        buffered = buffered.slice(end + 2);
        for (const line of event.split("\n")) {
          if (!line.startsWith("data:")) continue;
          const data = line.slice(5).trim();
          if (data === "[DONE]") return;
          try {
            yield JSON.parse(data) as ChatEvent;
          } catch {
            // the relay only writes JSON events; a broken one is skipped rather than ending the translated stream
          }
        }
      }
    }
  } finally {
    reader.cancel().catch(() => {});
  }
}

/** Writes named SSE events (`event: <type>` + `data: <json>`) from an async source, as Responses and Messages do. */
export function namedEventStream(source: AsyncIterable<{ event: string; data: unknown }>, onCancel: () => void): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  const iterator = source[Symbol.asyncIterator]();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const next = await iterator.next();
        if (next.done) return controller.close();
        controller.enqueue(encoder.encode(`event: ${next.value.event}\ndata: ${JSON.stringify(next.value.data)}\n\n`));
      } catch (error) {
        controller.error(error);
      }
    },
    async cancel() {
      onCancel();
      await iterator.return?.(undefined);
    },
  });
}

/** The usage block of a chat answer or chunk, as numbers. */
export function usageOf(value: unknown): { prompt: number; completion: number } | undefined {
  if (!value || typeof value !== "object") return undefined;
  const usage = value as { prompt_tokens?: unknown; completion_tokens?: unknown };
  return { prompt: Number(usage.prompt_tokens) || 0, completion: Number(usage.completion_tokens) || 0 };
}

/** Reads an OpenAI error body (what handleChat answers on failure). */
export async function chatError(response: Response): Promise<{ message: string; type: string; code: string | null; param: string | null }> {
  const parsed = (await response.json().catch(() => ({}))) as { error?: { message?: string; type?: string; code?: string | null; param?: string | null } };
  return { message: parsed.error?.message ?? `HTTP ${response.status}`, type: parsed.error?.type ?? "api_error", code: parsed.error?.code ?? null, param: parsed.error?.param ?? null };
}

/**
 * The ledger row of a request refused before it reached the chat pipeline (no key, a body that does not
 * translate), as the pipeline writes one for every request it refuses.
 */
export function ledgerRefusal(gateway: Gateway, req: Request, endpoint: Endpoint, error: GatewayError, principal: Principal | undefined, model: unknown): void {
  const ctx = newContext(endpoint, req, gateway.snapshot);
  ctx.principal = principal;
  if (typeof model === "string") ctx.requestedModel = model.slice(0, 256);
  finishRequest(ctx, gateway, { status: error.status, errorCode: error.reportedCode ?? error.code, usage: undefined, usageEstimated: false });
}
