// The guards and transforms around the model call, as one ordered hook list: the firewall, then the processors.
// Each hook's pre half runs on the request in list order and may refuse it (throws) or answer it itself; its post
// half runs on the answer in reverse order, only for hooks whose pre half ran, on every path — buffered or
// streamed, one model or a balancer, one round or a tool loop — because every path takes its answer through the
// one `AnswerHooks` made here (relay.ts for streams, postProcess for buffered answers).
import type { Gateway } from "../gateway.ts";
import type { RequestContext } from "./context.ts";
import type { ChatRequest } from "./chat-request.ts";
import { runFirewall } from "./firewall.ts";
import { runPreProcessors } from "./processors.ts";
import type { Completion } from "../upstream/client.ts";

/** What one hook's post half does to the answer's text. */
interface AnswerTransform {
  /** A stream chunk's content for `choice`: what may go out now (a screen may hold some back). */
  delta(text: string, choice: number): string;
  /** The choice finished: what was held back. */
  finish?(choice: number): string;
  /** The choices with text held back. */
  held?(): number[];
  /** A whole answer's content (buffered responses). */
  whole(text: string): string | Promise<string>;
}

/** The post halves of the hooks that ran, composed in reverse order. */
export interface AnswerHooks {
  delta(text: string, choice: number): string;
  finish(choice: number): string;
  /** At the end of a stream that never finished a choice: each held-back text. */
  drain(): { choice: number; text: string }[];
  whole(text: string): Promise<string>;
}

interface ChatHook {
  /** Runs on the request; the content of an answer the hook gives itself, if it does. Throws to refuse. */
  pre(ctx: RequestContext, gateway: Gateway, body: ChatRequest): Promise<string | undefined>;
  /** Whether `pre` applies to this request at all. */
  applies(ctx: RequestContext, body: ChatRequest): boolean;
  /** After `pre` ran: its transform of the answer, if it has one. */
  post(ctx: RequestContext): AnswerTransform | undefined;
  /** The block the hook adds to the response (`firewall`, `inferada`), once it ran. */
  report(ctx: RequestContext): [string, unknown] | undefined;
}

const firewall: ChatHook = {
  applies: (ctx, body) => body.firewall !== undefined || !!ctx.principal?.key?.firewall,
  async pre(ctx, gateway, body) {
    await runFirewall(ctx, gateway, body);
    return undefined;
  },
  post(ctx) {
    const screen = ctx.outputScreen;
    if (!screen) return undefined;
    return { delta: (text, choice) => screen.push(choice, text), finish: (choice) => screen.finish(choice), held: () => screen.heldChoices(), whole: (text) => screen.screenWhole(text) };
  },
  report(ctx) {
    if (!ctx.firewall) return undefined;
    return ["firewall", ctx.outputScreen ? { ...ctx.firewall, output: ctx.outputScreen.report() } : ctx.firewall];
  },
};

const processors: ChatHook = {
  applies: (ctx, body) => body.inferada !== undefined || ctx.snapshot.raw.processors.default.length > 0,
  pre: (ctx, gateway, body) => runPreProcessors(ctx, gateway, body),
  post(ctx) {
    const run = ctx.processors;
    if (!run?.hasPost) return undefined;
    return { delta: (text) => run.postSync(text), whole: (text) => run.post(text) };
  },
  report: (ctx) => (ctx.processors ? ["inferada", ctx.processors.report()] : undefined),
};

const HOOKS: readonly ChatHook[] = [firewall, processors];

/**
 * The pre halves in order; sets `ctx.answerHooks` to the post halves of those that ran. Returns the content of an
 * answer a hook gave itself (the model is not called, but the post halves still run on it).
 */
export function runPreHooks(ctx: RequestContext, gateway: Gateway, body: ChatRequest): Promise<string | undefined> | undefined {
  // Most requests have no hook: no promise for them.
  return HOOKS.some((hook) => hook.applies(ctx, body)) ? runApplicable(ctx, gateway, body) : undefined;
}

async function runApplicable(ctx: RequestContext, gateway: Gateway, body: ChatRequest): Promise<string | undefined> {
  const ran: ChatHook[] = [];
  let answer: string | undefined;
  try {
    for (const hook of HOOKS) {
      if (!hook.applies(ctx, body)) continue;
      ran.push(hook);
      answer = await hook.pre(ctx, gateway, body);
      if (answer !== undefined) break;
    }
  } finally {
    ctx.answerHooks = compose(ran.reverse().flatMap((hook) => hook.post(ctx) ?? []));
  }
  return answer;
}

/** The blocks the hooks that ran add to the response. */
export function hookReports(ctx: RequestContext): Record<string, unknown> | undefined {
  let out: Record<string, unknown> | undefined;
  for (const hook of HOOKS) {
    const entry = hook.report(ctx);
    if (entry) (out ??= {})[entry[0]] = entry[1];
  }
  return out;
}

/** A buffered answer through the post halves: each choice's message content. Throws when a guard blocks it. */
export async function postProcess(hooks: AnswerHooks, completion: Completion): Promise<void> {
  for (const choice of completion.choices as { message?: { content?: unknown } }[]) {
    const message = choice?.message;
    if (message && typeof message.content === "string") message.content = await hooks.whole(message.content);
  }
}

function compose(chain: AnswerTransform[]): AnswerHooks | undefined {
  if (!chain.length) return undefined;
  const finish = (choice: number) => {
    // What one transform releases at the finish passes through the transforms after it, as a last delta.
    let text = "";
    for (const transform of chain) {
      if (text) text = transform.delta(text, choice);
      if (transform.finish) text += transform.finish(choice);
    }
    return text;
  };
  return {
    delta(text, choice) {
      for (const transform of chain) {
        if (!text) return "";
        text = transform.delta(text, choice);
      }
      return text;
    },
    finish,
    drain() {
      const choices = new Set(chain.flatMap((transform) => transform.held?.() ?? []));
      return [...choices].map((choice) => ({ choice, text: finish(choice) }));
    },
    async whole(text) {
      for (const transform of chain) text = await transform.whole(text);
      return text;
    },
  };
}
