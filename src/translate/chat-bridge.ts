// The bridge from a translated API (Responses, Messages) into the one chat pipeline. The translated body goes to
// handleChat as a synthesized request with the caller's own headers, so keys, limits, budgets, the firewall,
// processors, platform tools, the ledger and timings hold exactly as on /v1/chat/completions.
import type { Gateway } from "../gateway.ts";
import type { ClientAddress } from "../client-ip.ts";
import { handleChat } from "../pipeline/chat.ts";
import { newContext, type Endpoint } from "../pipeline/context.ts";
import { finishRequest, heldForLedger } from "../pipeline/finish.ts";
import type { GatewayError } from "../errors.ts";
import type { Principal } from "../auth/authenticate.ts";

/** Headers that describe the original body, not the synthesized one. */
const BODY_HEADERS = ["content-length", "content-type", "transfer-encoding", "content-encoding"];

export function callChat(req: Request, gateway: Gateway, clientIp: ClientAddress, endpoint: "responses" | "messages", body: Record<string, unknown>, authorization?: string): Promise<Response> {
  const headers = new Headers(req.headers);
  for (const name of BODY_HEADERS) headers.delete(name);
  headers.set("content-type", "application/json");
  if (authorization && !headers.has("authorization")) headers.set("authorization", authorization);
  const synthesized = new Request(new URL("/v1/chat/completions", req.url).href, { method: "POST", headers, body: JSON.stringify(body), signal: req.signal });
  return handleChat(synthesized, gateway, clientIp, endpoint); // the ledger row says which API the client called
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

/** Turns chat events into a target API's SSE text, one event at a time (Responses, Messages). */
export interface StreamTranslator {
  start(): string;
  push(event: ChatEvent): string;
  end(): string;
}

/**
 * The chat stream's events, translated. The chat relay frames every event as `data: <json>\n\n` and ends with
 * `[DONE]` (or with an error event and no `[DONE]`). One pull reads one chunk of the chat stream and enqueues
 * everything it translates to; cancelling cancels the chat stream, which aborts the engine's request.
 */
export function translatedStream(body: ReadableStream<Uint8Array>, translator: StreamTranslator): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  let buffered = "";
  let started = false;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let out = started ? "" : translator.start();
      started = true;
      let ended = false;
      while (!out && !ended) {
        const { done, value } = await reader.read();
        if (done) {
          out += translator.end();
          ended = true;
          break;
        }
        buffered += decoder.decode(value, { stream: true });
        let cut: number;
        while (!ended && (cut = buffered.indexOf("\n\n")) >= 0) {
          const event = buffered.slice(0, cut);
          buffered = buffered.slice(cut + 2);
          if (!event.startsWith("data:")) continue;
          const data = event.slice(5).trim();
          if (data === "[DONE]") {
            out += translator.end();
            ended = true;
            break;
          }
          let parsed: ChatEvent;
          try {
            parsed = JSON.parse(data) as ChatEvent;
          } catch {
            continue; // the relay only writes JSON events; a broken one is skipped rather than ending the stream
          }
          out += translator.push(parsed);
          if (parsed.error) ended = true; // the relay ends a stream after its error event
        }
      }
      if (out) controller.enqueue(encoder.encode(out));
      if (ended) {
        controller.close();
        reader.cancel().catch(() => {});
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/**
 * A buffered chat answer where a stream was asked for (a processor needed the whole answer): translated as the
 * chunks its stream would have had.
 */
export function translateBuffered(completion: Record<string, unknown>, translator: StreamTranslator): string {
  const choice = ((completion.choices as unknown[])?.[0] ?? {}) as { message?: Record<string, unknown>; finish_reason?: string };
  const message = choice.message ?? {};
  const toolCalls = Array.isArray(message.tool_calls) ? (message.tool_calls as Record<string, unknown>[]).map((call, index) => ({ index, ...call })) : undefined;
  const { choices: _choices, ...rest } = completion;
  return (
    translator.start() +
    translator.push({ choices: [{ index: 0, delta: { content: message.content ?? "", reasoning_content: message.reasoning_content, tool_calls: toolCalls }, finish_reason: choice.finish_reason ?? "stop" }] }) +
    translator.push({ ...rest, choices: [] }) +
    translator.end()
  );
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
 * translate), as the pipeline writes one for every request it refuses; `response` (the refusal) once the row is
 * durable (see heldForLedger).
 */
export function ledgerRefusal(gateway: Gateway, req: Request, endpoint: Endpoint, error: GatewayError, principal: Principal | undefined, model: unknown, response: Response): Response | Promise<Response> {
  const ctx = newContext(endpoint, req, gateway.snapshot);
  ctx.principal = principal;
  if (typeof model === "string") ctx.requestedModel = model.slice(0, 256);
  finishRequest(ctx, gateway, { status: error.status, errorCode: error.reportedCode ?? error.code, usage: undefined, usageEstimated: false });
  return heldForLedger(ctx, response);
}
