// The platform tool loop as one stage of the chat pipeline (chat.ts): it repeats the model call while the model
// calls platform tools (tool-loop.ts runs them), and hands the pipeline what one model call would have — a
// Completion, or an engine-shaped SSE stream — so the answer hooks, usage and timings that follow see every
// round's answer. The first round goes through the pipeline's own dispatch (a balancer's retries and failover
// apply); later rounds go to the backend that answered it, so a conversation stays on one model.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { RequestContext, TokenUsage } from "./context.ts";
import type { Message } from "../plugins/api.ts";
import type { UpstreamRequest } from "./upstream-body.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { chatCompletion, chatStream, clientClosed, type ChunkReader, type Completion } from "../upstream/client.ts";
import { screenAddedMessages } from "./firewall.ts";
import { dataOf } from "../sse/relay.ts";
import { addUsage, formatRun, runBefore, runCalls, type PlatformTools, type ToolCall, type ToolRun } from "./tool-loop.ts";

/** A stream the pipeline relays: its reader, the call the relay watches, and what goes before the engine's bytes. */
export interface OpenedStream {
  reader: ChunkReader;
  call: UpstreamCall;
  /** The engine's first chunk, when opening the stream already read it. */
  first?: Uint8Array;
  /** The routing event of a balanced or `auto` stream. */
  prelude?: string;
  /** The reader guards the engine's silence itself. */
  guarded?: boolean;
}

type Stop = "max_rounds" | "time_budget" | "client_tool_call";

/** One request's loop: the conversation so far, the runs, the usage summed over the rounds. */
export class ToolLoop {
  readonly runs: ToolRun[] = [];
  readonly total: TokenUsage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };
  private readonly budget: AbortSignal;
  private readonly maxRounds: number;
  private round = 1;

  constructor(
    private readonly ctx: RequestContext,
    private readonly gateway: Gateway,
    private readonly platform: PlatformTools,
    private readonly request: UpstreamRequest,
  ) {
    const settings = ctx.snapshot.raw.tools;
    this.maxRounds = settings.max_rounds;
    this.budget = AbortSignal.any([AbortSignal.timeout(settings.time_budget_ms), ...(ctx.clientSignal ? [ctx.clientSignal] : [])]);
  }

  /** Before the first round: the tools' `before` context, and the platform tools offered as functions. */
  async begin(): Promise<void> {
    const context = await runBefore(this.ctx, this.gateway, this.platform, this.runs, this.budget);
    if (context) this.request.messages.unshift(...(await screenAddedMessages(this.ctx, this.gateway, [context])));
    this.request.body.tools = this.platform.offered as never;
    this.limitRound();
  }

  /** What to do with a round's tool calls: run the platform ones, or stop (and why, when calls are left unrun). */
  decide(calls: ToolCall[]): { run: ToolCall[] } | { stop: Stop | undefined; own: ToolCall[] } {
    const platformCalls = calls.filter((call) => this.platform.tools.has(call.function?.name));
    if (!platformCalls.length) return { stop: undefined, own: calls };
    const own = calls.filter((call) => !this.platform.tools.has(call.function?.name));
    if (own.length) return { stop: "client_tool_call", own };
    if (this.round >= this.maxRounds) return { stop: "max_rounds", own };
    if (this.budget.aborted) return { stop: "time_budget", own };
    return { run: platformCalls };
  }

  /** Runs a round's platform calls and adds them and their results to the conversation. */
  async runRound(content: unknown, calls: ToolCall[]): Promise<{ runs: ToolRun[]; messages: Message[] }> {
    this.request.messages.push({ role: "assistant", content: content ?? null, tool_calls: calls });
    const done = await runCalls(this.ctx, this.gateway, this.platform, calls, this.runs, this.budget);
    done.messages = await screenAddedMessages(this.ctx, this.gateway, done.messages);
    this.request.messages.push(...done.messages);
    this.round++;
    this.limitRound();
    return done;
  }

  /** A later round's call, on the backend that answered the first. */
  nextCall(): UpstreamCall {
    return (this.ctx.call = new UpstreamCall(this.ctx.clientSignal));
  }

  end(): void {
    this.ctx.toolRuns = this.runs;
    this.ctx.toolsMs = Math.round(this.runs.reduce((sum, run) => sum + run.ms, 0) * 100) / 100;
  }

  /** The last round may not call tools again: the model has to answer with what it has. */
  private limitRound(): void {
    if (this.round >= this.maxRounds) this.request.body.tool_choice = "none";
  }
}

type Choice = { message?: { content?: unknown; tool_calls?: ToolCall[] }; finish_reason?: string };

/** Buffered: rounds until the model answers without platform calls; one Completion, usage summed, runs listed. */
export async function completeWithTools(ctx: RequestContext, loop: ToolLoop, request: UpstreamRequest, firstRound: () => Promise<Completion>): Promise<Completion> {
  await loop.begin();
  let completion = await firstRound();
  for (;;) {
    addUsage(loop.total, completion.usage as TokenUsage | undefined);
    const choice = completion.choices[0] as Choice | undefined;
    const decision = loop.decide(choice?.message?.tool_calls ?? []);
    if ("stop" in decision) {
      if (decision.stop && choice?.message) {
        // Platform calls the loop will not run: only the client's own reach it.
        choice.message.tool_calls = decision.own.length ? decision.own : undefined;
        if (!decision.own.length) choice.finish_reason = "stop";
        completion.tool_loop = { stopped: decision.stop };
      }
      completion.usage = loop.total;
      completion.tool_runs = loop.runs;
      loop.end();
      return completion;
    }
    await loop.runRound(choice!.message!.content, decision.run);
    const backend = ctx.backend!;
    completion = await chatCompletion(backend, request.for(backend), loop.nextCall());
    ctx.upstreamEndedAt = performance.now();
  }
}

/**
 * Streamed: one engine-shaped SSE stream over all rounds. Each round's choice events pass as the engine sent
 * them, except its finish_reason event (held: the round may continue with tools) and its usage (summed); each
 * tool run becomes a content chunk with its `tool_run`; the stream ends with the last finish event, one usage
 * chunk with the summed usage and `tool_runs`, and [DONE]. Failures are thrown from read() as GatewayErrors.
 */
export async function streamWithTools(ctx: RequestContext, loop: ToolLoop, request: UpstreamRequest, firstRound: () => Promise<OpenedStream>): Promise<OpenedStream> {
  await loop.begin();
  const opened = await firstRound();
  const encoder = new TextEncoder();
  let current: { reader: ChunkReader; call: UpstreamCall; first?: Uint8Array } = opened;
  let envelope: { id: unknown; created: unknown; model: unknown } | undefined;
  const chunk = (fields: Record<string, unknown>) => encoder.encode(`data: ${JSON.stringify({ ...envelope, object: "chat.completion.chunk", ...fields })}\n\n`);

  async function* produce(): AsyncGenerator<Uint8Array> {
    for (;;) {
      const round = new RoundEvents();
      for await (const event of roundEvents(ctx, current)) {
        const out = round.take(event);
        envelope ??= round.envelope;
        if (out) yield encoder.encode(out);
      }
      addUsage(loop.total, round.usage);
      const decision = loop.decide(round.calls());
      if ("stop" in decision) {
        if (round.finishEvent) yield encoder.encode(round.finishEvent);
        loop.end();
        const stopped = decision.stop ? { tool_loop: { stopped: decision.stop } } : {};
        yield chunk({ choices: [], usage: loop.total, tool_runs: loop.runs, ...stopped });
        yield encoder.encode("data: [DONE]\n\n");
        return;
      }
      const done = await loop.runRound(null, decision.run);
      for (const [i, run] of done.runs.entries()) {
        const text = run.error ? undefined : String(done.messages[i]?.content);
        yield chunk({ choices: [{ index: 0, delta: { content: formatRun(run, text) }, finish_reason: null }], tool_run: run });
      }
      const backend = ctx.backend!;
      const call = loop.nextCall();
      current = { reader: await chatStream(backend, request.for(backend), call), call };
    }
  }

  const events = produce();
  const reader: ChunkReader = {
    async read() {
      const next = await events.next();
      return next.done ? { done: true } : { done: false, value: next.value };
    },
    async cancel() {
      current.call.abort("client");
      await current.reader.cancel().catch(() => {});
      events.return(undefined).catch(() => {});
    },
  };
  // The relay's own call only watches the client; each round's call guards its engine.
  return { reader, call: new UpstreamCall(ctx.clientSignal), prelude: opened.prelude, guarded: true };
}

/** The data of each event of one round's stream, up to [DONE]; a round that breaks or stalls throws. */
async function* roundEvents(ctx: RequestContext, round: { reader: ChunkReader; call: UpstreamCall; first?: Uint8Array }): AsyncGenerator<string> {
  const backend = ctx.backend!;
  const { reader, call } = round;
  // From the headers on, the engine may take as long as it likes, but not go quiet (as in relay.ts).
  if (call.armedFor !== "idle") call.guardIdle(backend.streamIdleTimeoutMs);
  const decoder = new TextDecoder();
  let carry = round.first ? decoder.decode(round.first, { stream: true }) : "";
  round.first = undefined;
  try {
    for (;;) {
      let end: number;
      while ((end = carry.indexOf("\n\n")) !== -1) {
        const event = carry.slice(0, end).replace(/\r/g, "");
        carry = carry.slice(end + 2);
        const data = dataOf(event);
        if (data === "[DONE]") return;
        if (data !== undefined) yield data;
      }
      let chunk: { done: boolean; value?: Uint8Array };
      try {
        chunk = await reader.read();
      } catch (error) {
        if (call.reason === "idle") throw new GatewayError("upstream_timeout", `backend '${backend.id}' sent nothing for ${backend.streamIdleTimeoutMs} ms (backends[].stream_idle_timeout_ms)`);
        if (call.reason === "client") throw clientClosed();
        throw new GatewayError("upstream_error", `backend '${backend.id}' closed the stream: ${(error as Error).message}`);
      }
      if (chunk.done) throw new GatewayError("upstream_error", `backend '${backend.id}' closed the stream before it finished`);
      call.touch();
      carry += decoder.decode(chunk.value, { stream: true }).replace(/\r\n/g, "\n");
    }
  } finally {
    call.clear();
  }
}

type StreamEvent = {
  id?: unknown;
  created?: unknown;
  model?: unknown;
  usage?: TokenUsage | null;
  choices?: { delta?: { tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason?: unknown }[];
};

/** One round's events: what to forward, the tool calls the deltas assemble, the held finish event, the usage. */
class RoundEvents {
  envelope: { id: unknown; created: unknown; model: unknown } | undefined;
  finishEvent: string | undefined;
  usage: TokenUsage | undefined;
  private readonly toolCalls = new Map<number, ToolCall>();

  /** The event to forward now, if any. */
  take(data: string): string | undefined {
    let parsed: StreamEvent;
    try {
      parsed = JSON.parse(data);
    } catch {
      throw new GatewayError("upstream_error", "the engine sent a malformed stream event", { reportedCode: "bad_upstream_sse" });
    }
    this.envelope ??= { id: parsed.id, created: parsed.created, model: parsed.model };
    if (parsed.usage) this.usage = parsed.usage;
    const choice = parsed.choices?.[0];
    if (!choice) return undefined;
    for (const delta of choice.delta?.tool_calls ?? []) {
      const entry = this.toolCalls.get(delta.index) ?? { id: "", type: "function" as const, function: { name: "", arguments: "" } };
      if (delta.id) entry.id = delta.id;
      if (delta.function?.name) entry.function.name += delta.function.name;
      if (delta.function?.arguments) entry.function.arguments += delta.function.arguments;
      this.toolCalls.set(delta.index, entry);
    }
    let text = `data: ${data}\n\n`;
    if (parsed.usage) {
      // The round's usage is summed into the loop's total, not shown per round.
      const { usage: _, ...rest } = parsed;
      text = `data: ${JSON.stringify(rest)}\n\n`;
    }
    if (choice.finish_reason == null) return text;
    this.finishEvent = text;
    return undefined;
  }

  calls(): ToolCall[] {
    return [...this.toolCalls.values()];
  }
}
