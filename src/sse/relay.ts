// Relays an engine's SSE stream to the client. The engine's bytes go out untouched unless a chunk holds something
// we must act on: the usage event (gets `timings` and the hooks' reports), the finish_reason event when the client
// did not ask for a separate usage chunk (usage rides on it: see the stream contract below), `[DONE]` (a usage
// event is synthesized first when the engine sent none), an event split across network chunks, or a malformed
// event. Those chunks take the slow path: decoded, split into events, and re-framed. When the answer hooks rewrite
// content (processors, output screening), every event takes the slow path. A stream that ends without `[DONE]`
// gets an error event instead.
//
// Stream contract (DESIGN.md): sluice always asks the engine for usage. A client that set
// `stream_options.include_usage` gets OpenAI's shape, a last chunk with `choices: []` and `usage`. One that did not
// gets usage, timings and reports on the last chunk that carries a choice (the finish_reason chunk), so every
// chunk it sees has `choices[0].delta`.
import type { RequestContext, TokenUsage } from "../pipeline/context.ts";
import type { AnswerHooks } from "../pipeline/answer-hooks.ts";
import type { ChunkReader } from "../upstream/client.ts";
import { GatewayError } from "../errors.ts";
import { computeTimings } from "../observability/timings.ts";
import { billingBasisOf } from "../billing/cost.ts";
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
const FINISH_KEY = Buffer.from('"finish_reason"');
const CLOSE_BRACE = 0x7d;
const CLOSE_BRACKET = 0x5d;
/** Buffer's native search, called on the engine's Uint8Array itself: no Buffer view allocated per chunk. */
const indexOf = Buffer.prototype.indexOf as (this: Uint8Array, value: Uint8Array | number, byteOffset?: number) => number;
const lastIndexOf = Buffer.prototype.lastIndexOf as (this: Uint8Array, value: Uint8Array | number, byteOffset?: number) => number;
/** What of the first chunk is kept for envelope(): its first event, copied (not a view holding the whole chunk). */
const FIRST_EVENT_MAX = 4096;
/** Top-level fields of a chunk that describe the chunk itself rather than the request. */
const ENVELOPE = new Set(["id", "object", "created", "model", "choices", "usage", "timings", "system_fingerprint", "service_tier"]);

export interface RelayStart {
  /** The engine's first chunk, when dispatch already read it (a balancer commits to a backend only after it). */
  first?: Uint8Array;
  /** An event to send before the engine's (the routing event). */
  prelude?: string;
  /** The answer hooks' post halves (processors, output screening); every event then takes the slow path. */
  hooks?: AnswerHooks;
  /** Fields added to the event that carries usage: the hooks' `firewall` and `inferada` reports. */
  final?: () => Record<string, unknown> | undefined;
  /** The reader guards the engine's silence itself (the tool loop, one guard per round): no idle guard here. */
  guarded?: boolean;
}

export function relayStream(ctx: RequestContext, reader: ChunkReader, call: UpstreamCall, onEnd: (outcome: StreamOutcome) => void, start?: RelayStart): ReadableStream<Uint8Array> {
  const relay = new StreamRelay(ctx, call, start?.hooks, start?.final);
  let pending = start?.first;
  let prelude = start?.prelude;
  let ended = false;
  const end = (status: StreamStatus) => {
    if (ended) return;
    ended = true;
    call.clear();
    onEnd({ status, usage: relay.usage, usageEstimated: relay.usageEstimated, errorCode: relay.failureCode });
  };
  /**
   * The stream's last bytes go out after its end is recorded and, with storage.ledger_via: stream, once the
   * ledger row is durable: a client that saw the stream complete (or fail) has its row even if the gateway is
   * killed right after.
   */
  const endWith = async (controller: ReadableStreamDirectController, status: StreamStatus, last: string | Uint8Array | undefined) => {
    end(status);
    if (ctx.ledgerDurable) {
      controller.flush(); // what was written so far goes out now; only the last bytes wait
      await ctx.ledgerDurable.catch(() => {});
    }
    if (last) controller.write(last);
    await controller.end();
  };
  const clientGone = () => {
    call.abort("client");
    reader.cancel().catch(() => {});
    end("client_gone");
  };

  // A GPU-priced backend's stream ends at its max_stream_ms: the budget reserved that much GPU time and no more.
  const backend = ctx.backend!;
  const cutAt = ctx.upstreamStartedAt !== undefined && billingBasisOf(backend.pricing) === "gpu_time" ? ctx.upstreamStartedAt + backend.maxStreamMs : undefined;

  // A balancer's stream attempt armed it already, before waiting for the first chunk.
  if (!start?.guarded && call.armedFor !== "idle") call.guardIdle(ctx.backend!.streamIdleTimeoutMs);
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
        let failure: unknown;
        if (pending) {
          chunk = { done: false, value: pending };
          pending = undefined;
        } else {
          try {
            chunk = await reader.read();
          } catch (error) {
            failure = error;
            chunk = { done: true, value: undefined };
          }
        }
        if (ended) return;
        if (chunk.done) {
          if (call.reason === "client" || ctx.clientSignal?.aborted) return end("client_gone");
          return endWith(controller, "interrupted", relay.interruption(failure));
        }
        call.touch();
        if (cutAt !== undefined && performance.now() > cutAt) {
          const cutOff = relay.cutOff();
          reader.cancel().catch(() => {});
          call.abort("bad_stream");
          return endWith(controller, "bad_stream", cutOff);
        }
        relay.transform(chunk.value!);
        if (relay.finished) {
          // After [DONE] the engine is done too; a malformed stream is cut off. The re-framed tail carries
          // [DONE]: it goes out after the end is recorded (see endWith).
          if (relay.head) controller.write(relay.head);
          if (relay.malformed) {
            reader.cancel().catch(() => {});
            call.abort("bad_stream");
          }
          return endWith(controller, relay.malformed ? "bad_stream" : "ok", relay.tail);
        }
        // Bytes the engine sent pass as they are; re-framed events go as text (the controller encodes it).
        let written = relay.head ? controller.write(relay.head) : 1;
        if (relay.tail) written = controller.write(relay.tail);
        // 0 means the client has gone; a promise means its socket is full (backpressure).
        if (relay.head || relay.tail) {
          if ((typeof written === "number" ? written : await written) === 0) return clientGone();
        }
      }
    },
    cancel: clientGone,
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
  /** Usage rides on the finish_reason chunk: the client did not ask for a separate usage chunk. */
  private readonly usageOnFinish: boolean;
  /** The finish_reason event's data, held until the usage event's fields are merged into it. */
  private held: string | undefined;

  constructor(
    private readonly ctx: RequestContext,
    private readonly call: UpstreamCall,
    private readonly hooks?: AnswerHooks,
    private readonly final?: () => Record<string, unknown> | undefined,
  ) {
    this.usageOnFinish = !ctx.clientWantsUsage;
  }

  /**
   * The fast path forwards the leading run of whole, well-formed events with nothing to act on as the engine's
   * own bytes; only the rest (usage event, finish event, [DONE], a partial or odd event) is decoded and re-framed.
   */
  transform(bytes: Uint8Array): void {
    if (this.ctx.firstTokenAt === undefined) this.ctx.firstTokenAt = performance.now();
    this.firstChunk ??= firstEventOf(bytes);
    const passEnd = this.carry === "" && !this.hooks ? this.untouchedPrefix(bytes) : 0;
    this.head = passEnd === 0 ? undefined : passEnd === bytes.length ? bytes : bytes.subarray(0, passEnd);
    this.tail = passEnd === bytes.length ? "" : this.rewrite(bytes.subarray(passEnd));
  }

  /** Length of the leading whole events that pass untouched; counts them for usage estimates. */
  private untouchedPrefix(bytes: Uint8Array): number {
    const attention = firstAttention(bytes, this.usageOnFinish);
    const limit = attention === -1 ? bytes.length : attention;
    let start = 0;
    while (start < limit) {
      const end = indexOf.call(bytes, BLANK_LINE, start);
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
      return rest + (this.usage ? "" : this.synthesizedUsageEvent()) + this.releaseHeld() + DONE_EVENT;
    }
    if (this.usageOnFinish && !this.hooks && isPlainFinish(data)) {
      // The usual finish_reason event: held as it is, unparsed, for the usage event's fields.
      this.events++;
      const earlier = this.releaseHeld();
      this.held = data;
      return earlier;
    }
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(data);
    } catch {
      return this.fail();
    }
    this.events++;
    const choices = parsed.choices as { index?: number; delta?: { content?: unknown }; finish_reason?: unknown }[] | undefined;
    const hasChoices = Array.isArray(choices) && choices.length > 0;
    let changed = false;
    if (this.hooks && hasChoices) {
      try {
        changed = rewriteDeltas(choices, this.hooks);
      } catch (error) {
        return this.stop(error);
      }
    }
    const text = changed ? JSON.stringify(parsed) : data;
    const usage = parsed.usage;
    if (usage === null || typeof usage !== "object") {
      if (this.usageOnFinish && hasChoices && choices.some((choice) => choice?.finish_reason != null)) {
        const earlier = this.releaseHeld();
        this.held = text;
        return earlier;
      }
      return changed ? `data: ${text}\n\n` : `${event}\n\n`;
    }
    this.usage = usage as TokenUsage;
    this.ctx.upstreamEndedAt = performance.now();
    const fields: Record<string, unknown> = { timings: computeTimings(this.ctx, this.usage), ...this.final?.() };
    // llama.cpp sends its own `timings`: kept as engine_timings rather than writing the key twice.
    if ("timings" in parsed) fields.engine_timings = parsed.timings;
    if (hasChoices || !this.usageOnFinish) {
      // The event carries a choice itself, or the client asked for OpenAI's separate usage chunk: ours go on it.
      const rebuilt = changed || "timings" in parsed ? withoutTimings(parsed) : undefined;
      return this.releaseHeld() + `data: ${withFields(text, rebuilt, fields)}\n\n`;
    }
    // A usage-only event the client did not ask for: its fields (usage, the tool loop's tool_runs …) and ours go
    // on the held finish_reason chunk, or on an empty-delta chunk when there is none.
    fields.usage = usage;
    for (const field in parsed) if (!ENVELOPE.has(field)) fields[field] = parsed[field];
    const held = this.held;
    this.held = undefined;
    if (held !== undefined) return `data: ${withFields(held, undefined, fields)}\n\n`;
    const { id, object, created, model } = parsed;
    return `data: ${JSON.stringify({ id, object, created, model, choices: [EMPTY_CHOICE], ...fields })}\n\n`;
  }

  /** The held finish_reason event, as it is (before an error event, or when no usage came to merge). */
  private releaseHeld(): string {
    const held = this.held;
    if (held === undefined) return "";
    this.held = undefined;
    return `data: ${held}\n\n`;
  }

  /** The gateway ends the stream itself: a processor failed, or the firewall blocked the answer. */
  private stop(error: unknown): string {
    this.finished = true;
    this.malformed = true;
    this.held = undefined; // it may carry content the stop is about
    const code = (error as { reportedCode?: string }).reportedCode ?? "processor_failed";
    this.failureCode = code;
    return errorEvent(`${(error as Error).message}; the answer is incomplete`, code);
  }

  /** Chunks for text still held back when the engine ended without a finish_reason. */
  private drainedEvents(): string {
    const rest = this.hooks?.drain().filter((entry) => entry.text);
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
    const completion = Math.max(0, this.events - 2);
    this.usage = { prompt_tokens: 0, completion_tokens: completion, total_tokens: completion };
    this.usageEstimated = true;
    this.ctx.upstreamEndedAt = performance.now();
    const fields = { usage: { ...this.usage, estimated: true }, timings: computeTimings(this.ctx, this.usage), ...this.final?.() };
    const held = this.held;
    this.held = undefined;
    if (held !== undefined && this.usageOnFinish) return `data: ${withFields(held, undefined, fields)}\n\n`;
    const { id, created, model } = this.envelope();
    const chunk = { id, object: "chat.completion.chunk", created, model, choices: this.usageOnFinish ? [EMPTY_CHOICE] : [], ...fields };
    return `data: ${JSON.stringify(chunk)}\n\n`;
  }

  private fail(): string {
    this.finished = true;
    this.malformed = true;
    return this.releaseHeld() + errorEvent(`backend '${this.ctx.backend!.id}' sent a malformed stream event; the answer is incomplete`, "bad_upstream_sse");
  }

  /** The gateway ends a GPU-priced stream that ran past its backend's max_stream_ms. */
  cutOff(): string {
    this.finished = true;
    this.malformed = true;
    this.failureCode = "stream_too_long";
    const backend = this.ctx.backend!;
    return this.releaseHeld() + errorEvent(`backend '${backend.id}' is priced by GPU time and the stream ran past its ${backend.maxStreamMs} ms (backends[].max_stream_ms); the answer is incomplete`, "stream_too_long");
  }

  /** The error event that ends a stream the engine cut (or stalled on), or the stream's producer failed with. */
  interruption(failure?: unknown): string {
    const backend = this.ctx.backend!;
    const why =
      failure instanceof GatewayError
        ? failure.message
        : this.call.reason === "idle"
          ? `backend '${backend.id}' sent nothing for ${backend.streamIdleTimeoutMs} ms (backends[].stream_idle_timeout_ms)`
          : `backend '${backend.id}' closed the stream before it finished`;
    return this.releaseHeld() + errorEvent(`${why}; the answer is incomplete`, "stream_interrupted");
  }
}

const EMPTY_CHOICE = Object.freeze({ index: 0, delta: {}, finish_reason: null });

/**
 * An event's JSON with `fields` added. Spliced in before the closing brace when the event has none of them and
 * `parsed` is not needed (no re-serialisation); otherwise rebuilt, ours replacing the event's own.
 */
function withFields(data: string, parsed: Record<string, unknown> | undefined, fields: Record<string, unknown>): string {
  if (parsed === undefined && !mentionsAny(data, fields)) {
    return `${data.slice(0, data.lastIndexOf("}"))},${JSON.stringify(fields).slice(1)}`;
  }
  return JSON.stringify({ ...(parsed ?? JSON.parse(data)), ...fields });
}

/** Whether `data` may hold one of the fields' keys (a bare-name match is enough: a false hit only re-serialises). */
function mentionsAny(data: string, fields: Record<string, unknown>): boolean {
  for (const field in fields) if (data.includes(field)) return true;
  return false;
}

function withoutTimings(parsed: Record<string, unknown>): Record<string, unknown> {
  const { timings: _, ...rest } = parsed;
  return rest;
}

/**
 * Start of the first event that needs the slow path: one with a non-null usage object, [DONE], or (when usage
 * rides on the finish chunk) a non-null finish_reason; -1 when there is none.
 */
function firstAttention(bytes: Uint8Array, watchFinish: boolean): number {
  let at = indexOf.call(bytes, DONE_MARK);
  at = firstNonNull(bytes, USAGE_KEY, at);
  if (watchFinish) at = firstNonNull(bytes, FINISH_KEY, at);
  if (at === -1) return -1;
  const previousEnd = lastIndexOf.call(bytes, BLANK_LINE, at);
  return previousEnd === -1 ? 0 : previousEnd + 2;
}

/** A copy of the chunk's first event (or of its start, when the event goes on past FIRST_EVENT_MAX or the chunk). */
function firstEventOf(bytes: Uint8Array): Uint8Array {
  const end = indexOf.call(bytes, BLANK_LINE);
  return bytes.slice(0, end === -1 ? Math.min(bytes.length, FIRST_EVENT_MAX) : Math.min(end + 2, FIRST_EVENT_MAX));
}

/** A finish_reason event with no usage, as its text shows (a JSON object, not parsed). */
function isPlainFinish(data: string): boolean {
  if (data.charCodeAt(0) !== 0x7b /* { */ || data.charCodeAt(data.length - 1) !== CLOSE_BRACE) return false;
  return hasNonNull(data, '"finish_reason"') && !hasNonNull(data, '"usage"');
}

function hasNonNull(text: string, key: string): boolean {
  for (let at = text.indexOf(key); at !== -1; at = text.indexOf(key, at + key.length)) {
    let i = at + key.length;
    while (text.charCodeAt(i) === 0x20 || text.charCodeAt(i) === 0x3a /* : */) i++;
    if (text.charCodeAt(i) !== 0x6e /* n of null */) return true;
  }
  return false;
}

/** The first `"key": <not null>` before `before` (or anywhere when it is -1); else `before`. */
function firstNonNull(bytes: Uint8Array, key: Buffer, before: number): number {
  for (let u = indexOf.call(bytes, key); u !== -1 && (before === -1 || u < before); u = indexOf.call(bytes, key, u + key.length)) {
    let i = u + key.length;
    while (bytes[i] === 0x20 || bytes[i] === 0x3a /* : */) i++;
    if (bytes[i] !== 0x6e /* n of null */) return u;
  }
  return before;
}

/** The hooks on each choice's delta content, and their held-back text when a choice ends; false when nothing changed. */
function rewriteDeltas(choices: { index?: number; delta?: { content?: unknown }; finish_reason?: unknown }[], hooks: AnswerHooks): boolean {
  let changed = false;
  for (const choice of choices) {
    const delta = choice?.delta;
    const index = typeof choice?.index === "number" ? choice.index : 0;
    if (delta && typeof delta.content === "string" && delta.content) {
      delta.content = hooks.delta(delta.content, index);
      changed = true;
    }
    if (delta && choice.finish_reason) {
      const rest = hooks.finish(index);
      if (rest) {
        delta.content = (typeof delta.content === "string" ? delta.content : "") + rest;
        changed = true;
      }
    }
  }
  return changed;
}

/** The data of one SSE event (its `data:` lines joined), or undefined for comments and other fields. */
export function dataOf(event: string): string | undefined {
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
