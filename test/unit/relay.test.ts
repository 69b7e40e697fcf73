// The SSE relay against every way an engine's bytes can be cut into network chunks.
import { describe, expect, test } from "bun:test";
import { relayStream, type StreamOutcome } from "../../src/sse/relay.ts";
import { UpstreamCall } from "../../src/upstream/call.ts";
import { parseConfig } from "../../src/config/load.ts";
import { newContext, type RequestContext } from "../../src/pipeline/context.ts";

const snapshot = parseConfig("backends:\n  - name: engine\n    url: http://127.0.0.1:1/v1\n", "t", {});

const chunk = (content: string) => `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"content":"${content}"}}],"usage":null}\n\n`;
const ROLE = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{"role":"assistant"}}]}\n\n`;
const USAGE = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8}}\n\n`;
const DONE = "data: [DONE]\n\n";
const WHOLE = ROLE + chunk("a") + chunk("b") + chunk("c") + USAGE + DONE;

function context(): RequestContext {
  return { ...newContext("chat", new Request("http://x/"), snapshot), requestedModel: "engine", stream: true, backend: snapshot.backends.get("engine"), upstreamStartedAt: performance.now() };
}

async function relay(parts: (string | Uint8Array)[], cut = false, clientWantsUsage = false): Promise<{ text: string; outcome: StreamOutcome }> {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const part of parts) controller.enqueue(typeof part === "string" ? new TextEncoder().encode(part) : part);
      if (cut) controller.error(new Error("connection reset"));
      else controller.close();
    },
  });
  let outcome: StreamOutcome | undefined;
  const stream = relayStream({ ...context(), clientWantsUsage }, new Response(body).body!.getReader(), new UpstreamCall(), (o) => (outcome = o));
  const text = await new Response(stream).text();
  return { text, outcome: outcome! };
}

function events(text: string): unknown[] {
  return text
    .split("\n\n")
    .filter(Boolean)
    .map((event) => event.replace(/^data: /, ""))
    .map((data) => (data === "[DONE]" ? data : JSON.parse(data)));
}

describe("SSE relay", () => {
  test("with a ledger row still on its way (ledger_via: stream), [DONE] waits for it; the content does not", async () => {
    const ctx = context();
    let durable!: () => void;
    let ended = false;
    const body = new Response(WHOLE).body!.getReader();
    const stream = relayStream(ctx, body, new UpstreamCall(), () => {
      ended = true;
      ctx.ledgerDurable = new Promise<void>((resolve) => (durable = resolve));
    });
    const reader = stream.getReader();
    let text = "";
    // reads until `done` holds or nothing comes for 200 ms (a read left waiting is picked up by the next call)
    let pending: ReturnType<typeof reader.read> | undefined;
    const readUntil = async (done: (text: string) => boolean) => {
      while (!done(text)) {
        pending ??= reader.read();
        const part = await Promise.race([pending, Bun.sleep(200).then(() => undefined)]);
        if (!part) return;
        pending = undefined;
        if (part.done) return;
        text += new TextDecoder().decode(part.value);
      }
    };
    await readUntil((t) => t.includes(chunk("c")));
    expect(text).toContain(chunk("c"));
    await readUntil((t) => t.includes("[DONE]"));
    expect(ended).toBe(true); // the end is recorded first…
    expect(text).not.toContain("[DONE]"); // …and the last bytes wait for the row
    durable();
    await readUntil((t) => t.includes("[DONE]"));
    expect(text.endsWith(DONE)).toBe(true);
  });

  test("whole stream in one chunk: content untouched, usage gains timings, then [DONE]", async () => {
    const { text, outcome } = await relay([WHOLE]);
    expect(text.startsWith(ROLE + chunk("a") + chunk("b") + chunk("c"))).toBe(true);
    const all = events(text);
    expect(all.at(-1)).toBe("[DONE]");
    const usage = all.at(-2) as { usage: unknown; timings: { total_ms: number } };
    expect(usage.usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    expect(usage.timings.total_ms).toBeGreaterThanOrEqual(0);
    expect(outcome).toEqual({ status: "ok", usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 }, usageEstimated: false });
  });

  test("the same events come out wherever the engine's bytes are split", async () => {
    const withoutTimings = (text: string) => events(text).map((e) => (typeof e === "object" ? { ...(e as object), timings: undefined } : e));
    const bytes = new TextEncoder().encode(WHOLE);
    const expected = withoutTimings((await relay([WHOLE])).text);
    for (let at = 1; at < bytes.length; at++) {
      const { text, outcome } = await relay([bytes.subarray(0, at), bytes.subarray(at)]);
      expect(withoutTimings(text)).toEqual(expected);
      expect(outcome.status).toBe("ok");
      expect(outcome.usage?.completion_tokens).toBe(3);
    }
  });

  test("one event per chunk (how engines flush) passes every content chunk byte for byte", async () => {
    const { text } = await relay([ROLE, chunk("a"), chunk("b"), USAGE, DONE]);
    expect(text.startsWith(ROLE + chunk("a") + chunk("b"))).toBe(true);
    expect(text.endsWith(DONE)).toBe(true);
  });

  test("CRLF framing and SSE comments are understood", async () => {
    const crlf = (ROLE + ": keep-alive\n\n" + chunk("x") + USAGE + DONE).replace(/\n/g, "\r\n");
    const { text, outcome } = await relay([crlf]);
    expect(outcome.status).toBe("ok");
    expect(text).toContain('"content":"x"');
    expect(text.endsWith(DONE)).toBe(true);
  });

  test("no usage from the engine: a usage event is estimated before [DONE]", async () => {
    const { text, outcome } = await relay([ROLE, chunk("a"), chunk("b"), DONE]);
    const all = events(text);
    const synthesized = all.at(-2) as { id: string; model: string; usage: { estimated: boolean; completion_tokens: number } };
    expect(synthesized.id).toBe("c1");
    expect(synthesized.model).toBe("m");
    expect(synthesized.usage.estimated).toBe(true);
    expect(outcome.usageEstimated).toBe(true);
    expect(outcome.usage!.completion_tokens).toBeGreaterThan(0);
  });

  test("a stream that ends without [DONE], or breaks, ends with stream_interrupted", async () => {
    for (const cut of [false, true]) {
      const { text, outcome } = await relay([ROLE, chunk("a")], cut);
      expect(text).not.toContain("[DONE]");
      expect(events(text).at(-1)).toMatchObject({ error: { type: "upstream_error", code: "stream_interrupted" } });
      expect(outcome.status).toBe("interrupted");
    }
  });

  test("an engine's own timings (llama.cpp) are kept as engine_timings, never a duplicate key", async () => {
    const llama = `data: {"choices":[],"usage":{"prompt_tokens":5,"completion_tokens":3,"total_tokens":8},"timings":{"predicted_ms":12.5}}\n\n`;
    const { text } = await relay([ROLE, llama, DONE]);
    const raw = text.split("\n\n").find((event) => event.includes("predicted_ms"))!;
    expect(raw.match(/"timings"/g)).toHaveLength(1);
    const event = JSON.parse(raw.slice(6)) as { timings: { total_ms: number }; engine_timings: { predicted_ms: number } };
    expect(event.engine_timings.predicted_ms).toBe(12.5);
    expect(event.timings.total_ms).toBeGreaterThanOrEqual(0);
  });

  test("a malformed event ends the stream with bad_upstream_sse", async () => {
    const { text, outcome } = await relay([ROLE, 'data: {"id":"x", broken\n\n', chunk("late"), DONE]);
    expect(text).not.toContain("late");
    expect(text).not.toContain("[DONE]");
    expect(events(text).at(-1)).toMatchObject({ error: { code: "bad_upstream_sse" } });
    expect(outcome.status).toBe("bad_stream");
  });
});

describe("stream contract: where usage goes", () => {
  const FINISH = `data: {"id":"c1","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,"delta":{},"finish_reason":"stop"}],"usage":null}\n\n`;
  const ENDED = ROLE + chunk("a") + chunk("b") + FINISH + USAGE + DONE;
  type Chunk = { choices: { delta: unknown; finish_reason?: unknown }[]; usage?: { total_tokens: number }; timings?: unknown };
  const chunks = (text: string) => events(text).filter((e) => e !== "[DONE]") as Chunk[];

  test("client did not ask for usage: every chunk has choices[0].delta; usage and timings ride on the finish chunk", async () => {
    for (let at = 1; at < ENDED.length; at += 7) {
      const { text, outcome } = await relay([ENDED.slice(0, at), ENDED.slice(at)]);
      const all = chunks(text);
      expect(all.every((c) => c.choices[0]?.delta !== undefined)).toBe(true);
      const last = all.at(-1)!;
      expect(last.choices[0]!.finish_reason).toBe("stop");
      expect(last.usage!.total_tokens).toBe(8);
      expect(last.timings).toBeDefined();
      expect(all.filter((c) => c.usage)).toHaveLength(1);
      expect(text.endsWith(DONE)).toBe(true);
      expect(outcome.usage?.total_tokens).toBe(8);
    }
  });

  test("client set include_usage: OpenAI's shape, a last chunk with choices [] and usage", async () => {
    const { text } = await relay([ENDED], false, true);
    const all = chunks(text);
    expect(all.at(-2)!.choices[0]!.finish_reason).toBe("stop");
    expect(all.at(-1)!.choices).toEqual([]);
    expect(all.at(-1)!.usage!.total_tokens).toBe(8);
  });

  test("an engine without usage: the estimate rides on the finish chunk", async () => {
    const { text, outcome } = await relay([ROLE, chunk("a"), FINISH, DONE]);
    const all = chunks(text);
    expect(all.every((c) => c.choices[0]?.delta !== undefined)).toBe(true);
    expect(all.at(-1)!.choices[0]!.finish_reason).toBe("stop");
    expect((all.at(-1)!.usage as { estimated?: boolean }).estimated).toBe(true);
    expect(outcome.usageEstimated).toBe(true);
  });

  test("a stream that ends after its finish chunk without [DONE] still delivers it before the error event", async () => {
    const { text } = await relay([ROLE, chunk("a"), FINISH]);
    const all = events(text) as Record<string, unknown>[];
    expect((all.at(-2) as Chunk).choices[0]!.finish_reason).toBe("stop");
    expect(all.at(-1)).toMatchObject({ error: { code: "stream_interrupted" } });
  });
});

describe("output screening in the relay", () => {
  const screened = parseConfig(
    "backends:\n  - name: engine\n    url: http://127.0.0.1:1/v1\nfirewalls:\n  - {slug: hide, rules: [{keywords: [bc], action: redact}], output: {window_chars: 2}}\n  - {slug: stop, rules: [{keywords: [bc]}], output: {window_chars: 2}}\n",
    "t",
    {},
  );

  async function screen(slug: string, parts: string[]): Promise<{ text: string; outcome: StreamOutcome }> {
    const { OutputScreen } = await import("../../src/firewall/output.ts");
    const firewall = screened.firewalls.get(slug)!;
    const output = new OutputScreen(firewall, firewall.outputWindowChars!);
    const body = new Response(parts.join("")).body!;
    let outcome: StreamOutcome | undefined;
    const stream = relayStream(context(), body.getReader(), new UpstreamCall(), (o) => (outcome = o), {
      hooks: {
        delta: (text, choice) => output.push(choice, text),
        finish: (choice) => output.finish(choice),
        drain: () => output.heldChoices().map((choice) => ({ choice, text: output.finish(choice) })),
        whole: async (text) => output.screenWhole(text),
      },
    });
    return { text: await new Response(stream).text(), outcome: outcome! };
  }

  const content = (text: string) => (events(text).filter((e) => typeof e === "object") as { choices?: { delta?: { content?: string } }[] }[]).map((e) => e.choices?.[0]?.delta?.content ?? "").join("");

  test("text held back at the end is released before [DONE] even without a finish_reason, redacted", async () => {
    const { text } = await screen("hide", [WHOLE]);
    expect(content(text)).toBe("a[REDACTED:keywords]");
    expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
  });

  test("a block ends the stream with an error event; the matched text never leaves", async () => {
    const { text, outcome } = await screen("stop", [WHOLE]);
    expect(text).toContain('"code":"firewall_blocked"');
    expect(content(text)).not.toContain("b");
    expect(text).not.toContain("[DONE]");
    expect(outcome.errorCode).toBe("firewall_blocked");
  });
});
