// Stage: the processors a request names in `inferada.processors` (seed 002), each a plugin. Pre hooks run on the
// request in the order listed, before a model is chosen; post hooks run on the answer in reverse order, only for
// plugins whose pre ran (as in Bifrost). A pre hook may reject the request or answer it itself. A hook that throws
// fails the request with 503 (`failure: closed`, the default) or is skipped (`failure: open`): never a 500. So
// does an asynchronous hook that takes longer than processors.timeout_ms (it keeps running, but nobody waits).
import { GatewayError } from "../errors.ts";
import type { Gateway } from "../gateway.ts";
import type { RequestContext } from "./context.ts";
import type { LoadedPlugin } from "../plugins/host.ts";
import type { HookContext, Message, PreContext, PreResult, TargetInfo } from "../plugins/api.ts";

interface Step {
  plugin: LoadedPlugin;
  hook: HookContext<unknown>;
  preMs: number;
  postMs: number;
  ran: boolean;
  error?: string;
}

/** One request's processors: what ran, what they reported, and the routing limits they set. */
export class ProcessorRun {
  readonly steps: Step[] = [];
  /** Set when a processor needs the whole answer and the client asked for a stream. */
  streamingDisabledBy: string | undefined;
  private readonly allows: { allow: (target: TargetInfo) => boolean; reason: string; plugin: string }[] = [];
  private released = false;

  constructor(readonly timeoutMs: number) {}

  get ms(): number {
    return round(this.steps.reduce((sum, step) => sum + step.preMs + step.postMs, 0));
  }

  get hasPost(): boolean {
    return this.steps.some((step) => step.ran && step.plugin.definition.post);
  }

  /** May `target` serve this request? Undefined when allowed; else the reasons it is not. */
  refusal(target: TargetInfo): string | undefined {
    const refused = this.allows.filter((entry) => !entry.allow(target));
    return refused.length ? refused.map((entry) => `${entry.plugin}: ${entry.reason}`).join("; ") : undefined;
  }

  get restricts(): boolean {
    return this.allows.length > 0;
  }

  restrict(plugin: string, allow: (target: TargetInfo) => boolean, reason: string): void {
    this.allows.push({ allow, reason, plugin });
  }

  /** The response's `inferada` block. */
  report(): Record<string, unknown> {
    const processors = this.steps.map((step) => {
      const entry: Record<string, unknown> = { name: step.plugin.name, pre_ms: round(step.preMs), post_ms: round(step.postMs) };
      if (Object.keys(step.hook.metadata).length) entry.metadata = step.hook.metadata;
      if (step.error) entry.error = step.error;
      return entry;
    });
    const block: Record<string, unknown> = { processors };
    if (this.streamingDisabledBy) block.streaming = { disabled: true, by: this.streamingDisabledBy, reason: "it needs the whole answer" };
    return block;
  }

  /** The request is over: versions replaced meanwhile may now be disposed. */
  release(): void {
    if (this.released) return;
    this.released = true;
    for (const step of this.steps) step.plugin.release();
  }

  /** Post hooks in reverse order on one text (a choice's content, or a stream chunk's delta). */
  async post(text: string): Promise<string> {
    for (let i = this.steps.length - 1; i >= 0; i--) text = (await this.postOne(this.steps[i]!, text, false)) ?? text;
    return text;
  }

  /** The same for streams: hooks must answer synchronously. */
  postSync(text: string): string {
    for (let i = this.steps.length - 1; i >= 0; i--) {
      const result = this.postOne(this.steps[i]!, text, true);
      if (typeof result === "string") text = result;
    }
    return text;
  }

  private postOne(step: Step, text: string, sync: true): string | undefined;
  private postOne(step: Step, text: string, sync: false): Promise<string | undefined> | string | undefined;
  private postOne(step: Step, text: string, sync: boolean): Promise<string | undefined> | string | undefined {
    const post = step.plugin.definition.post;
    if (!step.ran || !post || step.error) return undefined;
    const started = performance.now();
    const fail = (error: unknown) => {
      step.postMs += performance.now() - started;
      return hookFailed(step, "post", error);
    };
    try {
      const result = post(step.hook, text);
      if (result instanceof Promise) {
        if (sync) throw new Error("post returned a promise; in streams post must answer synchronously");
        return withinTime(result, this.timeoutMs).then(
          (value) => {
            step.postMs += performance.now() - started;
            return typeof value === "string" ? value : undefined;
          },
          fail,
        );
      }
      step.postMs += performance.now() - started;
      return typeof result === "string" ? result : undefined;
    } catch (error) {
      return fail(error);
    }
  }
}

/**
 * Reads `inferada`, checks every processor name and config, then runs the pre hooks. Returns the content of a
 * short-circuit answer when a processor gave one.
 */
export async function runPreProcessors(ctx: RequestContext, gateway: Gateway, body: Record<string, unknown>): Promise<string | undefined> {
  const inferada = body.inferada as Record<string, unknown> | undefined;
  const configured = ctx.snapshot.raw.processors.default;
  const names = inferada?.processors ?? (configured.length ? configured : undefined);
  if (names === undefined) return undefined;
  const where = inferada?.processors ? "inferada.processors" : "processors.default (config)";
  const available = gateway.plugins.active;
  const run = (ctx.processors = new ProcessorRun(ctx.snapshot.raw.processors.timeout_ms));
  const allowed = ctx.principal?.key?.processors ?? null;
  for (const [i, name] of (names as string[]).entries()) {
    const plugin = available.get(name);
    if (!plugin || plugin.definition.kind !== "processor") {
      const known = [...available.values()].filter((p) => p.definition.kind === "processor").map((p) => p.name).sort();
      throw new GatewayError("invalid_request", `${where}[${i}]: unknown processor '${name}'; known: ${known.join(", ") || "none"}`, { param: `inferada.processors[${i}]` });
    }
    if (allowed && !allowed.includes(name)) {
      throw new GatewayError("forbidden", `API key ${ctx.principal!.key!.prefix}… may not use processor '${name}' (its processors: ${allowed.join(", ") || "none"})`, { param: `inferada.processors[${i}]` });
    }
    if (run.steps.some((step) => step.plugin === plugin)) continue;
    const checked = plugin.config(inferada?.[name]);
    if ("problem" in checked) throw new GatewayError("invalid_request", `inferada.${name}: ${checked.problem.replace(/^\//, "").replace(/\//g, ".")}`, { param: `inferada.${name}` });
    plugin.users++;
    run.steps.push({ plugin, hook: hookContext(ctx, inferada, checked.config), preMs: 0, postMs: 0, ran: false });
  }
  const whole = run.steps.find((step) => step.plugin.definition.wholeAnswer && step.plugin.definition.post);
  if (whole && ctx.stream) {
    ctx.stream = false;
    run.streamingDisabledBy = whole.plugin.name;
  }

  let messages = body.messages as Message[];
  for (const step of run.steps) {
    const pre = step.plugin.definition.pre;
    step.ran = true;
    if (!pre) continue;
    const preContext: PreContext<unknown> = {
      ...step.hook,
      messages,
      restrictTargets: (allow, reason) => run.restrict(step.plugin.name, allow, reason),
    };
    const started = performance.now();
    let result: PreResult;
    try {
      const answer = pre(preContext);
      result = answer instanceof Promise ? await withinTime(answer, run.timeoutMs) : answer;
    } catch (error) {
      hookFailed(step, "pre", error);
      continue;
    } finally {
      step.preMs = performance.now() - started;
    }
    messages = preContext.messages;
    if (result && "reject" in result) {
      const { message, status, code, param } = result.reject;
      throw new GatewayError("policy_rejected", `${step.plugin.name}: ${message}`, { status: status ?? 422, reportedCode: code ?? `${step.plugin.name}_rejected`, param: param ?? null });
    }
    if (result && "respond" in result) return result.respond.content;
  }
  body.messages = messages;
  return undefined;
}

function hookContext(ctx: RequestContext, inferada: Record<string, unknown> | undefined, config: unknown): HookContext<unknown> {
  const key = ctx.principal?.key;
  return {
    requestId: ctx.requestId,
    model: ctx.requestedModel,
    config,
    language: typeof inferada?.language === "string" ? inferada.language : undefined,
    key: key ? { id: key.id, name: key.name } : null,
    metadata: {},
    state: new Map(),
  };
}

/** A hook threw: fail closed (503, the request stops) or open (the plugin is skipped; the error is reported). */
function hookFailed(step: Step, stage: "pre" | "post", error: unknown): undefined {
  const detail = error instanceof Error ? error.message : String(error);
  if ((step.plugin.definition.failure ?? "closed") === "closed") {
    throw new GatewayError("processor_failed", `processor '${step.plugin.name}' failed in ${stage} (${detail}); it fails closed, so the request was stopped`);
  }
  step.error = `${stage}: ${detail}`;
  return undefined;
}

/** `work`, or a rejection once `ms` have passed without it settling. */
function withinTime<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`took longer than ${ms} ms (processors.timeout_ms)`)), ms);
  });
  return Promise.race([work, late]).finally(() => clearTimeout(timer));
}

const round = (ms: number) => Math.round(ms * 100) / 100;
