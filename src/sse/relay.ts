// Relays an engine's SSE stream to the client. The engine's bytes go out untouched unless a chunk holds something
// we must act on: the usage event (gets `timings`), `[DONE]` (a usage event is synthesized first when the engine
// sent none), an event split across network chunks, or a malformed event. Those chunks take the slow path:
// decoded, split into events, and re-framed. A stream that ends without `[DONE]` gets an error event instead.
import type { RequestContext, TokenUsage } from "../pipeline/context.ts";
import { computeTimings } from "../observability/timings.ts";
import type { UpstreamCall } from "../upstream/call.ts";

export type StreamStatus = "ok" | "interrupted" | "client_gone" | "bad_stream";

export interface StreamOutcome {
  status: StreamStatus;
  usage: TokenUsage | undefined;
  /** True when the engine sent no usage and the gateway estimated it. */
  usageEstimated: boolean;
  /** Set when the gateway itself ended the stream (a processor failed, the firewall blocked the answer). */
  errorCode?: string;
}

const DONE_EVENT = "data: [DONE]\n\n";
const NEWLINE = 0x0a;
const BLANK_LINE = Buffer.from("\n\n");
const DONE_MARK = Buffer.from("[DONE]");
const USAGE_KEY = Buffer.from('"usage"');
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;

/** What the relay needs of the engine's body reader. */
export interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(reason?: unknown): Promise<void>;
}

export interface RelayStart {
  /** The engine's first chunk, when dispatch already read it (a balancer commits to a backend only after it). */
  first?: Uint8Array;
  /** An event to send before the engine's (the routing event). */
  prelude?: string;
  /** Rewrites each chunk's delta content (processors' post hooks, output screening); every event then takes the slow path. */
  rewriteContent?: (text: string, choice: number) => string;
  /** Text to add when a choice finishes (what output screening held back). */
  finishContent?: (choice: number) => string;
  /** At [DONE]: whatever is still held back, for engines that end without a finish_reason. */
  drainContent?: () => { choice: number; text: string }[];
  /** Fields added to the final (usage) event, e.g. the processors' `inferada` report. */
  final?: () => Record<string, unknown>;
}

export function relayStream(ctx: RequestContext, reader: ChunkReader, call: UpstreamCall, onEnd: (outcome: StreamOutcome) => void, start?: RelayStart): ReadableStream<Uint8Array> {
  const relay = new StreamRelay(ctx, call, start?.rewriteContent, start?.final, start?.finishContent, start?.drainContent);
  let pending = start?.first;
  let prelude = start?.prelude;
  let ended = false;
  const end = (status: StreamStatus) => {
    if (ended) return;
    ended = true;
    call.clear();
    onEnd({ status, usage: relay.usage, usageEstimated: relay.usageEstimated, errorCode: relay.failureCode });
  };

  // A balancer's stream attempt armed it already, before waiting for the first chunk.
  if (call.armedFor !== "idle") call.guardIdle(ctx.backend!.streamIdleTimeoutMs);
  // A "direct" stream (Bun): one pull call writes straight to the socket, with no per-chunk queue or promise.
  const source: Bun.DirectUnderlyingSource<Uint8Array> = {
    type: "direct",
    async pull(controller) {
      if (prelude) {
        controller.write(prelude);
        prelude = undefined;
      }
      for (;;) {
        let chunk: { done: boolean; value?: Uint8Array };
        if (pending) {
          chunk = { done: false, value: pending };
          pending = undefined;
        } else {
          try {
            chunk = await reader.read();
          } catch {
            chunk = { done: true, value: undefined };
          }
        }
        if (ended) return;
        if (chunk.done) {
          if (call.reason === "client") return end("client_gone");
          controller.write(relay.interruption());
          end("interrupted");
          await controller.end();
          return;
        }
        call.touch();
        relay.transform(chunk.value!);
        // Bytes the engine sent pass as they are; re-framed events go as text (the controller encodes it).
        let written = relay.head ? controller.write(relay.head) : 1;
        if (relay.tail) written = controller.write(relay.tail);
        // 0 means the client has gone; a promise means its socket is full (backpressure).
        if (relay.head || relay.tail) {
          if ((typeof written === "number" ? written : await written) === 0) {
            call.abort("client");
            return end("client_gone");
          }
        }
        if (relay.finished) {
          // After [DONE] the engine is done too; a malformed stream is cut off.
          if (relay.malformed) {
            reader.cancel().catch(() => {});
            call.abort("bad_stream");
          }
          end(relay.malformed ? "bad_stream" : "ok");
          await controller.end();
          return;
        }
      }
    },
    cancel() {
      call.abort("client");
      end("client_gone");
    },
  };
  return new ReadableStream(source);
}

class StreamRelay {
  usage: TokenUsage | undefined;
  usageEstimated = false;
  finished = false;
  /** What transform() produced from the last chunk: the engine's own bytes, then re-framed events as text. */
  head: Uint8Array | undefined;
  tail = "";
  malformed = false;
  /** The code of the error event the gateway ended the stream with, when it was not the engine's fault. */
  failureCode: string | undefined;
  private carry = "";
  private decoder: TextDecoder | undefined;
  /** Kept to copy the engine's id and model into a synthesized usage event. */
  private firstChunk: Uint8Array | undefined;
  private events = 0;

  constructor(
    private readonly ctx: RequestContext,
    private readonly call: UpstreamCall,
    private readonly rewriteContent?: (text: string, choice: number) => string,
    private readonly final?: () => Record<string, unknown>,
    private readonly finishContent?: (choice: number) => string,
    private readonly drainContent?: () => { choice: number; text: string }[],
  ) {}

  /**
   * The fast path forwards the leading run of whole, well-formed events with nothing to act on as the engine's
   * own bytes; only the rest (usage event, [DONE], a partial or odd event) is decoded and re-framed.
   */
  transform(bytes: Uint8Array): void {
    if (this.ctx.firstTokenAt === undefined) this.ctx.firstTokenAt = performance.now();
    this.firstChunk ??= bytes;
    const passEnd = this.carry === "" && !this.rewriteContent ? this.untouchedPrefix(bytes) : 0;
    this.head = passEnd === 0 ? undefined : passEnd === bytes.length ? bytes : bytes.subarray(0, passEnd);
    this.tail = passEnd === bytes.length ? "" : this.rewrite(bytes.subarray(passEnd));
  }

  /** Length of the leading whole events that pass untouched; counts them for usage estimates. */
  private untouchedPrefix(bytes: Uint8Array): number {
    const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
    const attention = firstAttention(buf);
    const limit = attention === -1 ? bytes.length : attention;
    let start = 0;
    while (start < limit) {
      const end = buf.indexOf(BLANK_LINE, start);
      if (end === -1 || end + 2 > limit) break;
      const last = bytes[end - 1];
      // A data event's JSON must close; comments (":") and other SSE fields go to the slow path.
      if (bytes[start] !== 0x64 /* d */ || (last !== CLOSE_BRACE && last !== CLOSE_BRACKET)) break;
      this.events++;
      start = end + 2;
    }
    return start;
  }

  private rewrite(bytes: Uint8Array): string {
    const n = bytes.length;
    // Whole events cannot end inside a UTF-8 sequence, so they decode without the streaming decoder's state.
    const whole = this.decoder === undefined && n > 1 && bytes[n - 1] === NEWLINE && bytes[n - 2] === NEWLINE;
    const decoded = whole ? Buffer.from(bytes.buffer, bytes.byteOffset, n).toString("utf8") : (this.decoder ??= new TextDecoder()).decode(bytes, { stream: true });
    let text = this.carry + decoded;
    if (text.includes("\r")) text = text.replace(/\r\n/g, "\n");
    let out = "";
    let start = 0;
    for (let end = text.indexOf("\n\n"); end !== -1 && !this.finished; end = text.indexOf("\n\n", start)) {
      out += this.handleEvent(text.slice(start, end));
      start = end + 2;
    }
    this.carry = this.finished ? "" : text.slice(start);
    return out;
  }

  private handleEvent(event: string): string {
    const data = dataOf(event);
    if (data === undefined) {
      if (event.split("\n").every(isSseField)) return `${event}\n\n`;
      return this.fail();
    }
    if (data === "[DONE]") {
      let rest = "";
      try {
        rest = this.drainedEvents();
      } catch (error) {
        return this.stop(error);
      }
      this.finished = true;
      return rest + (this.usage ? "" : this.synthesizedUsageEvent()) + DONE_EVENT;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(data);
    } catch {
      return this.fail();
    }
    this.events++;
    const usage = parsed.usage;
    if (this.rewriteContent && Array.isArray(parsed.choices) && parsed.choices.length) {
      try {
        if (!rewriteDeltas(parsed.choices, this.rewriteContent, this.finishContent)) return `${event}\n\n`;
      } catch (error) {
        return this.stop(error);
      }
      if (usage === null || typeof usage !== "object") return `data: ${JSON.stringify(parsed)}\n\n`;
    }
    if (usage === null || typeof usage !== "object") return `${event}\n\n`;
    this.usage = usage as TokenUsage;
    this.ctx.upstreamEndedAt = performance.now();
    const timings = computeTimings(this.ctx, this.usage);
    const extra = this.final?.();
    // llama.cpp sends its own `timings`: replace it rather than write the key twice.
    if ("timings" in parsed || this.rewriteContent) {
      const out: Record<string, unknown> = { ...parsed, timings, ...extra };
      if ("timings" in parsed) out.engine_timings = parsed.timings;
      return `data: ${JSON.stringify(out)}\n\n`;
    }
    // Otherwise splice ours in before the event's closing brace: no re-serialisation.
    const inner = extra ? JSON.stringify(extra).slice(1, -1) : "";
    const more = inner ? `,${inner}` : "";
    return `data: ${data.slice(0, data.lastIndexOf("}"))},"timings":${JSON.stringify(timings)}${more}}\n\n`;
  }

  /** The gateway ends the stream itself: a processor failed, or the firewall blocked the answer. */
  private stop(error: unknown): string {
    this.finished = true;
    this.malformed = true;
    const code = (error as { reportedCode?: string }).reportedCode ?? "processor_failed";
    this.failureCode = code;
    return errorEvent(`${(error as Error).message}; the answer is incomplete`, code);
  }

  /** Chunks for text still held back when the engine ended without a finish_reason. */
  private drainedEvents(): string {
    const rest = this.drainContent?.().filter((entry) => entry.text);
    if (!rest?.length) return "";
    const { id, created, model } = this.envelope();
    const choices = rest.map((entry) => ({ index: entry.choice, delta: { content: entry.text }, finish_reason: null }));
    return `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices })}\n\n`;
  }

  /** id, created and model of the engine's first chunk, for chunks the gateway writes itself. */
  private envelope(): { id: unknown; created: unknown; model: unknown } {
    const firstText = this.firstChunk ? new TextDecoder().decode(this.firstChunk) : "";
    const first = safeParse(dataOf(firstText.split("\n\n", 1)[0] ?? "") ?? "") ?? {};
    return { id: first.id ?? `chatcmpl-${this.ctx.requestId}`, created: first.created ?? Math.floor(Date.now() / 1000), model: first.model ?? this.ctx.requestedModel };
  }

  /** The engine sent no usage: estimate completion tokens from the events (about one token each). */
  private synthesizedUsageEvent(): string {
    const { id, created, model } = this.envelope();
    const completion = Math.max(0, this.events - 2);
    this.usage = { prompt_tokens: 0, completion_tokens: completion, total_tokens: completion };
    this.usageEstimated = true;
    this.ctx.upstreamEndedAt = performance.now();
    const chunk = {
      id,
      object: "chat.completion.chunk",
      created,
      model,
      choices: [],
      usage: { ...this.usage, estimated: true },
      timings: computeTimings(this.ctx, this.usage),
      ...this.final?.(),
    };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }

  private fail(): string {
    this.finished = true;
    this.malformed = true;
    return errorEvent(`backend '${this.ctx.backend!.id}' sent a malformed stream event; the answer is incomplete`, "bad_upstream_sse");
  }

  /** The error event that ends a stream the engine cut (or stalled on). */
  interruption(): string {
    const backend = this.ctx.backend!;
    const why =
      this.call.reason === "idle"
        ? `backend '${backend.id}' sent nothing for ${backend.streamIdleTimeoutMs} ms (backends[].stream_idle_timeout_ms)`
        : `backend '${backend.id}' closed the stream before it finished`;
    return errorEvent(`${why}; the answer is incomplete`, "stream_interrupted");
  }
}

/** Start of the first event that holds a non-null usage object or [DONE], or -1. */
function firstAttention(buf: Buffer): number {
  let at = buf.indexOf(DONE_MARK);
  for (let u = buf.indexOf(USAGE_KEY); u !== -1 && (at === -1 || u < at); u = buf.indexOf(USAGE_KEY, u + 7)) {
    let i = u + 7;
    while (buf[i] === 0x20 || buf[i] === 0x3a /* : */) i++;
    if (buf[i] !== 0x6e /* n of null */) {
      at = u;
      break;
    }
  }
  if (at === -1) return -1;
  const previousEnd = buf.lastIndexOf(BLANK_LINE, at);
  return previousEnd === -1 ? 0 : previousEnd + 2;
}

/** Applies `rewrite` to each choice's delta content, and `finish` when a choice ends; false when nothing changed. */
function rewriteDeltas(
  choices: { index?: number; delta?: { content?: unknown }; finish_reason?: unknown }[],
  rewrite: (text: string, choice: number) => string,
  finish?: (choice: number) => string,
): boolean {
  let changed = false;
  for (const choice of choices) {
    const delta = choice?.delta;
    const index = typeof choice?.index === "number" ? choice.index : 0;
    if (delta && typeof delta.content === "string" && delta.content) {
      delta.content = rewrite(delta.content, index);
      changed = true;
    }
    if (finish && delta && choice.finish_reason) {
      const rest = finish(index);
      if (rest) {
        delta.content = (typeof delta.content === "string" ? delta.content : "") + rest;
        changed = true;
      }
    }
  }
  return changed;
}

function dataOf(event: string): string | undefined {
  // The usual case: one `data: …` line.
  if (event.startsWith("data: ") && !event.includes("\n")) return event.slice(6);
  let data: string | undefined;
  for (const line of event.split("\n")) {
    if (!line.startsWith("data:")) continue;
    const value = line.charCodeAt(5) === 0x20 ? line.slice(6) : line.slice(5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

function isSseField(line: string): boolean {
  return line === "" || line.startsWith(":") || line.startsWith("event:") || line.startsWith("id:") || line.startsWith("retry:");
}

function safeParse(text: string): Record<string, unknown> | undefined {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

export function errorEvent(message: string, code: string): string {
  return `data: ${JSON.stringify({ error: { message, type: "upstream_error", code, param: null } })}\n\n`;
}
