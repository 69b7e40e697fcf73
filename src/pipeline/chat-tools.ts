// POST /v1/chat/completions with platform tools: the same stages as chat.ts, with the model call repeated in
// the tool loop (tool-loop.ts). The first model call goes through dispatch (a balancer's retries and failover
// apply); later rounds go to the backend that answered the first, so a conversation stays on one model.
import type { Gateway } from "../gateway.ts";
import type { Backend } from "../config/resolve.ts";
import type { RequestContext, TokenUsage } from "./context.ts";
import { GatewayError, asGatewayError } from "../errors.ts";
import { renderMessages } from "./template.ts";
import { prepareUpstreamBody } from "./upstream-body.ts";
import { admitRequest } from "./intake.ts";
import { beginAttempt, dispatchPlanned } from "./dispatch.ts";
import { finishRequest } from "./finish.ts";
import { UpstreamCall } from "../upstream/call.ts";
import { postToBackend } from "../upstream/client.ts";
import { planAuto, planBalancer } from "../routing/plan.ts";
import { readCompletion, reports, respondBuffered, routingEvent, type Completion } from "./respond.ts";
import { computeTimings } from "../observability/timings.ts";
import { sseResponse, withHeaders } from "./response-headers.ts";
import { addUsage, formatRun, runBefore, runCalls, type PlatformTools, type ToolCall, type ToolRun } from "./tool-loop.ts";

type Message = { role: string; content?: unknown } & Record<string, unknown>;

export async function chatWithTools(ctx: RequestContext, gateway: Gateway, req: Request, body: Record<string, unknown>, platform: PlatformTools, maxTokens: number | undefined): Promise<Response> {
  const plan = ctx.backend ? undefined : (ctx.plan = ctx.balancer ? planBalancer(ctx, gateway, ctx.balancer, req.headers) : await planAuto(ctx, gateway, ctx.autoRouting!));
  const queued = admitRequest(ctx, gateway, maxTokens);
  if (queued) await queued;

  const settings = ctx.snapshot.raw.tools;
  const budget = AbortSignal.any([AbortSignal.timeout(settings.time_budget_ms), ...(ctx.clientSignal ? [ctx.clientSignal] : [])]);
  const runs: ToolRun[] = [];
  const messages = [...(body.messages as Message[])];
  const context = await runBefore(ctx, gateway, platform, runs, budget);
  if (context) messages.unshift(context);
  body.tools = platform.offered;
  const total: TokenUsage = { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 };

  /** One model call with the conversation so far; the first through dispatch, later ones to the same backend. */
  const ask = async (round: number, stream: boolean): Promise<{ backend: Backend; upstream?: Response; completion?: Completion; call: UpstreamCall }> => {
    const bodyFor = (backend: Backend) => {
      body.messages = renderMessages(messages as never, backend.templateRenderMode);
      // The last round may not call tools again: the model has to answer with what it has.
      if (round >= settings.max_rounds) body.tool_choice = "none";
      return prepareUpstreamBody(body, backend, stream);
    };
    const attempt = async (backend: Backend, call: UpstreamCall) => {
      const upstream = await postToBackend(backend, backend.chatUrl, bodyFor(backend), call);
      return stream ? { backend, upstream, call } : { backend, completion: await readCompletion(ctx, backend, upstream, call), call };
    };
    if (round === 1) return plan ? dispatchPlanned(ctx, gateway, plan, attempt) : attempt(ctx.backend!, beginAttempt(ctx, gateway, ctx.backend!));
    const call = (ctx.call = new UpstreamCall(ctx.clientSignal));
    return attempt(ctx.backend!, call);
  };

  const finish = (completionRuns: ToolRun[]) => {
    ctx.toolsMs = Math.round(completionRuns.reduce((sum, run) => sum + run.ms, 0) * 100) / 100;
  };

  if (!ctx.stream) {
    for (let round = 1; ; round++) {
      const { completion } = await ask(round, false);
      addUsage(total, completion!.usage as TokenUsage | undefined);
      const choice = (completion!.choices as { message?: Message & { tool_calls?: ToolCall[] }; finish_reason?: string }[])[0];
      const calls = choice?.message?.tool_calls ?? [];
      const platformCalls = calls.filter((call) => platform.tools.has(call.function?.name));
      const last = round >= settings.max_rounds || budget.aborted;
      if (!platformCalls.length || platformCalls.length < calls.length || last) {
        if (platformCalls.length && choice?.message) {
          // Platform calls the loop will not run (out of rounds, or mixed with the client's own): only the client's reach it.
          const own = calls.filter((call) => !platform.tools.has(call.function?.name));
          choice.message.tool_calls = own.length ? own : undefined;
          if (!own.length) choice.finish_reason = "stop";
          completion!.tool_loop = { stopped: last ? (budget.aborted ? "time_budget" : "max_rounds") : "client_tool_call" };
        }
        completion!.usage = total;
        completion!.tool_runs = runs;
        finish(runs);
        return respondBuffered(ctx, gateway, completion!);
      }
      messages.push({ role: "assistant", content: choice!.message!.content ?? null, tool_calls: platformCalls });
      messages.push(...(await runCalls(ctx, gateway, platform, platformCalls, runs, budget)).messages);
    }
  }

  // Streaming: the first round's headers decide the response (errors before it are ordinary HTTP errors).
  const first = await ask(1, true);
  const encoder = new TextEncoder();
  let envelope: { id: unknown; created: unknown; model: unknown } | undefined;
  const chunk = (fields: Record<string, unknown>) => encoder.encode(`data: ${JSON.stringify({ ...envelope, object: "chat.completion.chunk", ...fields })}\n\n`);
  let closed = false;
  const stream = new ReadableStream<Uint8Array>({
    async start(controller) {
      let current = first;
      if (plan) controller.enqueue(encoder.encode(routingEvent(ctx, plan))); // as chat.ts's streams begin
      try {
        for (let round = 1; ; round++) {
          const { calls, finishEvent } = await relayRound(current.upstream!, current.call, current.backend, (bytes) => controller.enqueue(bytes), total, (event) => (envelope ??= event));
          const platformCalls = calls.filter((call) => platform.tools.has(call.function.name));
          const last = round >= settings.max_rounds || budget.aborted;
          if (!platformCalls.length || platformCalls.length < calls.length || last) {
            if (finishEvent) controller.enqueue(encoder.encode(finishEvent));
            finish(runs);
            ctx.upstreamEndedAt = performance.now();
            controller.enqueue(chunk({ choices: [], usage: total, timings: computeTimings(ctx, total), tool_runs: runs, ...reports(ctx) }));
            controller.enqueue(encoder.encode("data: [DONE]\n\n"));
            finishRequest(ctx, gateway, { status: 200, errorCode: null, usage: total, usageEstimated: false });
            break;
          }
          messages.push({ role: "assistant", content: null, tool_calls: platformCalls });
          const done = await runCalls(ctx, gateway, platform, platformCalls, runs, budget);
          done.runs.forEach((run, i) => {
            const text = done.messages[i]?.content;
            controller.enqueue(chunk({ choices: [{ index: 0, delta: { content: formatRun(run, run.error ? undefined : String(text)) }, finish_reason: null }], tool_run: run }));
          });
          messages.push(...done.messages);
          current = await ask(round + 1, true);
        }
      } catch (thrown) {
        const error = asGatewayError(thrown);
        const status = ctx.clientSignal?.aborted ? 499 : error.status;
        if (!closed) controller.enqueue(encoder.encode(`data: ${JSON.stringify({ error: { message: `${error.message}; the answer is incomplete`, type: "upstream_error", code: "stream_interrupted", param: null } })}\n\n`));
        finishRequest(ctx, gateway, { status, errorCode: status === 499 ? "client_closed" : "stream_interrupted", usage: total, usageEstimated: false });
      } finally {
        gateway.metrics.inFlight--;
        if (!closed) controller.close();
      }
    },
    cancel() {
      closed = true;
      ctx.call?.abort("client");
    },
  });
  return withHeaders(sseResponse(stream, ctx.backend!, ctx.requestId, plan?.label), ctx.admission);
}

/**
 * Relays one streamed round to the client: every event with choices goes out as the engine sent it, except the
 * finish_reason event (held: the round may continue with tools) and usage-only events (summed into `total`).
 * Returns the tool calls the deltas assembled.
 */
async function relayRound(
  upstream: Response,
  call: UpstreamCall,
  backend: Backend,
  send: (bytes: Uint8Array) => void,
  total: TokenUsage,
  onFirst: (envelope: { id: unknown; created: unknown; model: unknown }) => void,
): Promise<{ calls: ToolCall[]; finishEvent: string | undefined }> {
  const encoder = new TextEncoder();
  const calls = new Map<number, ToolCall>();
  let finishEvent: string | undefined;
  let carry = "";
  const decoder = new TextDecoder();
  // From the headers on, the engine may take as long as it likes, but not go quiet (as in relay.ts).
  call.guardIdle(backend.streamIdleTimeoutMs);
  try {
    for await (const bytes of upstream.body as unknown as AsyncIterable<Uint8Array>) {
      call.touch();
      carry += decoder.decode(bytes, { stream: true });
      let end: number;
      while ((end = carry.indexOf("\n\n")) !== -1) {
        const event = carry.slice(0, end).replace(/^data: ?/, "");
        carry = carry.slice(end + 2);
        if (event === "[DONE]") return { calls: [...calls.values()], finishEvent };
        let parsed: { id?: unknown; created?: unknown; model?: unknown; usage?: TokenUsage | null; choices?: { index?: number; delta?: { tool_calls?: { index: number; id?: string; function?: { name?: string; arguments?: string } }[] }; finish_reason?: unknown }[] };
        try {
          parsed = JSON.parse(event);
        } catch {
          throw new GatewayError("upstream_error", "the engine sent a malformed stream event");
        }
        onFirst({ id: parsed.id, created: parsed.created, model: parsed.model });
        if (parsed.usage) addUsage(total, parsed.usage);
        const choice = parsed.choices?.[0];
        if (!choice) continue;
        for (const delta of choice.delta?.tool_calls ?? []) {
          const entry = calls.get(delta.index) ?? { id: "", type: "function" as const, function: { name: "", arguments: "" } };
          if (delta.id) entry.id = delta.id;
          if (delta.function?.name) entry.function.name += delta.function.name;
          if (delta.function?.arguments) entry.function.arguments += delta.function.arguments;
          calls.set(delta.index, entry);
        }
        const { usage: _, ...forward } = parsed;
        const text = `data: ${JSON.stringify(forward)}\n\n`;
        if (choice.finish_reason) finishEvent = text;
        else send(encoder.encode(text));
      }
    }
  } catch (error) {
    if (error instanceof GatewayError) throw error;
    if (call.reason === "idle") throw new GatewayError("upstream_timeout", `backend '${backend.id}' sent nothing for ${backend.streamIdleTimeoutMs} ms (backends[].stream_idle_timeout_ms)`);
    throw new GatewayError("upstream_error", `the engine closed the stream: ${(error as Error).message}`);
  } finally {
    call.clear();
  }
  throw new GatewayError("upstream_error", "the engine closed the stream before it finished");
}
