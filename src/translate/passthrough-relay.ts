// Relays a passed-through engine stream to the client and reads its usage for the ledger: OpenAI's usage chunk
// (completions), response.completed (Responses), message_start + message_delta (Messages). Events are parsed
// only when they mention usage. With `mergeUsage`, the engine's separate usage chunk (which the gateway asked
// for) is folded into the chunk before it, so a client that did not ask for it sees the chat stream contract:
// usage on the last chunk that has a choice.
import type { Outcome } from "../pipeline/finish.ts";
import type { TokenUsage } from "../pipeline/context.ts";
import type { UpstreamCall } from "../upstream/call.ts";

/**
 * `onEnd` records the stream's end; a promise it returns (the ledger row becoming durable, storage.ledger_via:
 * stream) holds back the engine's `[DONE]` (or the stream's close) until it settles, so a client that saw the
 * stream complete has its row.
 */
export function relayPassthrough(body: ReadableStream<Uint8Array>, call: UpstreamCall | undefined, options: { mergeUsage: boolean }, onEnd: (outcome: Outcome) => Promise<void> | undefined): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  const encoder = new TextEncoder();
  const usage = new UsageReader();
  let buffered = "";
  let held: string | undefined; // with mergeUsage: the last event, until we know whether a usage chunk follows
  let ended = false;
  const end = (outcome: Omit<Outcome, "usage" | "usageEstimated">) => {
    if (ended) return undefined;
    ended = true;
    call?.clear();
    const counted = usage.result();
    return onEnd({ ...outcome, usage: counted, usageEstimated: !counted });
  };
  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, event: string) => controller.enqueue(encoder.encode(`${event}\n\n`));

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done: finished, value } = await reader.read();
        if (finished) {
          if (buffered.trim()) emit(controller, buffered);
          if (held !== undefined) emit(controller, held);
          const durable = end({ status: 200, errorCode: null });
          if (durable) await durable.catch(() => {});
          controller.close();
          return;
        }
        call?.touch();
        buffered += decoder.decode(value, { stream: true });
        let cut: number;
        while ((cut = buffered.indexOf("\n\n")) >= 0) {
          let event = buffered.slice(0, cut);
          buffered = buffered.slice(cut + 2);
          if (event.includes('"usage"')) {
            const data = dataOf(event);
            usage.read(data);
            if (options.mergeUsage && held !== undefined && data && Array.isArray(data.choices) && data.choices.length === 0) {
              const previous = dataOf(held);
              if (previous) {
                held = `data: ${JSON.stringify({ ...previous, usage: data.usage })}`;
                continue;
              }
            }
          }
          if (event.startsWith("data: [DONE]")) {
            // the engine is done: the end is recorded before [DONE] goes out (and what follows it is dropped)
            if (held !== undefined) emit(controller, held);
            const durable = end({ status: 200, errorCode: null });
            if (durable) await durable.catch(() => {});
            emit(controller, event);
            controller.close();
            reader.cancel().catch(() => {});
            return;
          }
          if (!options.mergeUsage) {
            emit(controller, event);
            continue;
          }
          if (held !== undefined) emit(controller, held);
          held = event;
          event = "";
        }
      } catch (error) {
        const why = call?.reason === "client" ? "client" : call?.reason === "idle" ? "idle" : "broken";
        if (why !== "client") {
          const message = why === "idle" ? "the engine stopped sending" : `the engine's stream broke off: ${(error as Error).message}`;
          controller.enqueue(encoder.encode(`data: ${JSON.stringify({ error: { message, type: "upstream_error", code: "stream_interrupted" } })}\n\n`));
        }
        controller.close();
        end(why === "client" ? { status: 499, errorCode: "client_closed" } : { status: 502, errorCode: "stream_interrupted" });
      }
    },
    cancel(reason) {
      reader.cancel(reason).catch(() => {});
      end({ status: 499, errorCode: "client_closed" });
    },
  });
}

function dataOf(event: string): Record<string, unknown> | undefined {
  const line = event.split("\n").find((l) => l.startsWith("data:"));
  if (!line) return undefined;
  try {
    const value = JSON.parse(line.slice(5).trim()) as unknown;
    return value && typeof value === "object" ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Usage as OpenAI, Responses or Messages report it, whichever the event is. */
class UsageReader {
  private prompt = 0;
  private completion = 0;
  private seen = false;

  read(data: Record<string, unknown> | undefined): void {
    if (!data) return;
    const found = usageIn(data);
    if (!found) return;
    this.seen = true;
    this.prompt = Math.max(this.prompt, found.prompt);
    this.completion = Math.max(this.completion, found.completion);
  }

  result(): TokenUsage | undefined {
    return this.seen ? { prompt_tokens: this.prompt, completion_tokens: this.completion, total_tokens: this.prompt + this.completion } : undefined;
  }
}

type UsageFields = { prompt_tokens?: number; completion_tokens?: number; input_tokens?: number; output_tokens?: number; total_tokens?: number };

function usageIn(data: Record<string, unknown>): { prompt: number; completion: number } | undefined {
  const nested = (data.response as { usage?: UsageFields } | undefined)?.usage ?? (data.message as { usage?: UsageFields } | undefined)?.usage;
  const usage = (data.usage as UsageFields | undefined) ?? nested;
  if (!usage || typeof usage !== "object") return undefined;
  // rerank reports only total_tokens: all of it is input
  const prompt = usage.prompt_tokens ?? usage.input_tokens ?? usage.total_tokens ?? 0;
  const completion = usage.completion_tokens ?? usage.output_tokens ?? 0;
  return { prompt, completion };
}

/** A buffered answer's usage, in any of the three shapes (rerank and score report total_tokens / prompt_tokens). */
export function usageOfAnswer(text: string): TokenUsage | undefined {
  if (!text.includes('"usage"')) return undefined;
  try {
    const found = usageIn(JSON.parse(text) as Record<string, unknown>);
    return found ? { prompt_tokens: found.prompt, completion_tokens: found.completion, total_tokens: found.prompt + found.completion } : undefined;
  } catch {
    return undefined;
  }
}
