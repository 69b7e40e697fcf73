// The platform tool loop (seed 000, 001): for each platform tool a request enables (`tools: [{type: "search"}]`),
// the model is offered a function; when it calls one, the gateway runs the tool plugin (several calls in
// parallel), appends the results as `tool` messages and asks the model again — up to tools.max_rounds model calls
// and within tools.time_budget_ms. Client `function` tools pass through: when the model calls one of those, the
// answer goes back to the client as usual. Buffered answers list `tool_runs` and sum `usage` over the rounds;
// streams relay each round's deltas, send the formatted tool results as content chunks (each with its
// `tool_run`), and end with one usage chunk summed over the rounds.
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import { addSideCost, type RequestContext, type TokenUsage } from "./context.ts";
import type { LoadedPlugin } from "../plugins/host.ts";
import type { ToolContext, ToolOutput } from "../plugins/api.ts";
import { platformServices } from "../tools/services.ts";
import { usdToMicros } from "../billing/cost.ts";

type Message = { role: string; content?: unknown; tool_calls?: ToolCall[]; tool_call_id?: string } & Record<string, unknown>;

export interface ToolCall {
  id: string;
  type: "function";
  function: { name: string; arguments: string };
}

export interface ToolRun {
  type: string;
  name: string;
  arguments: unknown;
  results: number;
  ms: number;
  error?: string;
}

/** The request's platform tools, by function name, with the request's own tool object. */
export interface PlatformTools {
  tools: Map<string, { plugin: LoadedPlugin; request: Record<string, unknown> }>;
  /** The request's `function` tools plus one function definition per platform tool. */
  offered: unknown[];
}

/** Reads `tools`: platform tools are tool plugins named by `type`; unknown types → 400; a key may be limited to some. */
export function platformTools(ctx: RequestContext, gateway: Gateway, body: Record<string, unknown>): PlatformTools | undefined {
  const requested = body.tools as Record<string, unknown>[] | undefined;
  if (!Array.isArray(requested) || requested.every((tool) => tool?.type === "function")) return undefined;
  const available = gateway.plugins.active;
  const allowed = ctx.principal?.key?.tools ?? null;
  const tools = new Map<string, { plugin: LoadedPlugin; request: Record<string, unknown> }>();
  const offered: unknown[] = [];
  requested.forEach((tool, i) => {
    if (tool?.type === "function") {
      offered.push(tool);
      return;
    }
    const type = String(tool?.type);
    const plugin = available.get(type);
    if (!plugin || plugin.definition.kind !== "tool") {
      const known = [...available.values()].filter((p) => p.definition.kind === "tool").map((p) => p.name).sort();
      throw new GatewayError("invalid_request", `tools[${i}]: unknown tool type '${type}'; platform tools: ${known.join(", ") || "none"}, or type "function" for your own`, { param: `tools[${i}].type` });
    }
    if (allowed && !allowed.includes(type)) {
      throw new GatewayError("forbidden", `API key ${ctx.principal!.key!.prefix}… may not use the ${type} tool (its tools: ${allowed.join(", ") || "none"})`, { param: `tools[${i}]` });
    }
    const problem = plugin.definition.checkRequest?.(tool, { vectorDatabases: [...ctx.snapshot.vectorDatabases.keys()] });
    if (problem) throw new GatewayError("invalid_request", `tools[${i}].${problem}`, { param: `tools[${i}]` });
    tools.set(type, { plugin, request: tool });
    offered.push({ type: "function", function: { name: type, description: plugin.definition.description ?? type, parameters: plugin.definition.parameters } });
  });
  return { tools, offered };
}

/** Runs the tools' `before` hooks (e.g. a vector search with a query in the request); their text becomes context. */
export async function runBefore(ctx: RequestContext, gateway: Gateway, platform: PlatformTools, runs: ToolRun[], signal: AbortSignal): Promise<Message | undefined> {
  const parts: string[] = [];
  for (const [name, { plugin, request }] of platform.tools) {
    if (!plugin.definition.before) continue;
    const started = performance.now();
    try {
      const output = await plugin.definition.before(toolContext(ctx, gateway, request, signal));
      if (!output) continue;
      runs.push({ type: name, name, arguments: request, results: output.results.length, ms: round(performance.now() - started) });
      addCost(ctx, output);
      parts.push(`${name} results:\n${output.text}`);
    } catch (error) {
      runs.push({ type: name, name, arguments: request, results: 0, ms: round(performance.now() - started), error: (error as Error).message });
    }
  }
  return parts.length ? { role: "system", content: `Context found for this conversation:\n\n${parts.join("\n\n")}` } : undefined;
}

/** Runs the platform calls of one round in parallel; a failing call becomes the tool's error text, never a failed request. */
export async function runCalls(ctx: RequestContext, gateway: Gateway, platform: PlatformTools, calls: ToolCall[], runs: ToolRun[], signal: AbortSignal): Promise<{ messages: Message[]; runs: ToolRun[] }> {
  const roundRuns: ToolRun[] = [];
  const messages = await Promise.all(
    calls.map(async (call) => {
      const { plugin, request } = platform.tools.get(call.function.name)!;
      const started = performance.now();
      let args: Record<string, unknown> = {};
      let output: ToolOutput | undefined;
      let error: string | undefined;
      try {
        args = JSON.parse(call.function.arguments || "{}") as Record<string, unknown>;
        if (args === null || typeof args !== "object") throw new Error("arguments must be a JSON object");
        output = await plugin.definition.run!(toolContext(ctx, gateway, request, signal), args);
        addCost(ctx, output);
      } catch (thrown) {
        error = signal.aborted ? `the tool ran out of time (tools.time_budget_ms)` : (thrown as Error).message || String(thrown);
      }
      const run: ToolRun = { type: call.function.name, name: call.function.name, arguments: args, results: output?.results.length ?? 0, ms: round(performance.now() - started) };
      if (error) run.error = error;
      roundRuns.push(run);
      return { role: "tool", tool_call_id: call.id, content: error ? `error: ${error}` : output!.text } satisfies Message;
    }),
  );
  runs.push(...roundRuns);
  return { messages, runs: roundRuns };
}

function toolContext(ctx: RequestContext, gateway: Gateway, request: Record<string, unknown>, signal: AbortSignal): ToolContext {
  const key = ctx.principal?.key;
  const charge = (micros: number) => addSideCost(ctx, micros);
  return { requestId: ctx.requestId, key: key ? { id: key.id, name: key.name } : null, request, services: platformServices(gateway, ctx.snapshot, signal, charge), signal };
}

/** A tool's own reported cost (a plugin calling a paid API itself), on top of what the platform services charged. */
function addCost(ctx: RequestContext, output: ToolOutput): void {
  if (output.costUsd) addSideCost(ctx, usdToMicros(output.costUsd));
}

export function addUsage(total: TokenUsage, usage: TokenUsage | undefined): void {
  if (!usage) return;
  total.prompt_tokens += usage.prompt_tokens ?? 0;
  total.completion_tokens += usage.completion_tokens ?? 0;
  total.total_tokens += usage.total_tokens ?? 0;
}

/** What a client sees of a tool run in a stream: a short, readable line plus the start of the results. */
export function formatRun(run: ToolRun, text: string | undefined): string {
  const head = `\n[${run.name} ${JSON.stringify(run.arguments)}: ${run.error ? `error: ${run.error}` : `${run.results} result${run.results === 1 ? "" : "s"}`}]\n`;
  return run.error || !text ? head : `${head}${text.length > 1_000 ? `${text.slice(0, 1_000)}…` : text}\n`;
}

const round = (ms: number) => Math.round(ms * 100) / 100;
