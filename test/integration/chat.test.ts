// Chat completions through the real gateway process with the official OpenAI SDK as the client.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor, SCRIPTED_BACKENDS } from "../support/config.ts";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  // The extension fields the pass-through test sends must name things that exist (an unknown firewall is a 400).
  const firewall = "firewalls:\n  - {slug: strict-block, rules: [{max_prompt_chars: 100000}]}\n";
  gateway = await spawnGateway(configFor(upstream.url, SCRIPTED_BACKENDS) + firewall);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

async function lastUpstreamBody(): Promise<Record<string, unknown>> {
  const requests = await upstream.requests();
  return requests.at(-1)!.body as Record<string, unknown>;
}

describe("buffered", () => {
  test("answers in the OpenAI shape with timings, our id and x-request-id", async () => {
    const { data, response } = await client.chat.completions
      .create({ model: "echo", messages: [{ role: "user", content: "hello there" }] })
      .withResponse();
    expect(data.object).toBe("chat.completion");
    expect(data.choices[0]!.message.content).toBe("echo: hello there");
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    const requestId = response.headers.get("x-request-id")!;
    expect(data.id).toBe(`chatcmpl-${requestId}`);
    expect(response.headers.get("x-sluice-backend")).toBe("echo");
    const timings = (data as unknown as { timings: Record<string, number> }).timings;
    expect(timings.total_ms).toBeGreaterThan(0);
    expect(timings.upstream_ms).toBeGreaterThan(0);
    expect(timings.tokens_per_second).toBeGreaterThan(0);
    expect(timings.total_ms).toBeGreaterThanOrEqual(timings.upstream_ms!);
  });

  test("every OpenAI field and unknown fields reach the engine unchanged; extensions are stripped", async () => {
    const tools = [{ type: "function" as const, function: { name: "lookup", parameters: { type: "object", properties: {} } } }];
    // Every OpenAI field the engine must receive exactly as sent.
    const passedThrough = {
      temperature: 0.3,
      top_p: 0.9,
      n: 2,
      max_tokens: 50,
      max_completion_tokens: 60,
      stop: ["END"],
      presence_penalty: 0.5,
      frequency_penalty: -0.5,
      seed: 7,
      logprobs: true,
      top_logprobs: 2,
      tool_choice: "auto" as const,
      response_format: { type: "json_object" as const },
      user: "u-1",
    };
    await client.chat.completions.create({
      model: "echo",
      messages: [
        { role: "system", content: "be brief" },
        { role: "user", content: [{ type: "text", text: "look" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }] },
        { role: "assistant", content: null, tool_calls: [{ id: "c1", type: "function", function: { name: "lookup", arguments: "{}" } }] },
        { role: "tool", tool_call_id: "c1", content: "result" },
      ],
      ...passedThrough,
      tools, // platform tools (type search, browser, …) run in the tool loop: test/integration/tools.test.ts
      // @ts-expect-error extension and unknown fields travel through extra body fields
      firewall: "strict-block",
      inferada: { processors: [] },
      routing: { optimize: "cost" },
      repetition_penalty: 1.1,
    });
    const body = await lastUpstreamBody();
    expect(body).toMatchObject({ ...passedThrough, model: "echo", tools, repetition_penalty: 1.1 });
    expect(body).not.toHaveProperty("firewall");
    expect(body).not.toHaveProperty("inferada");
    expect(body).not.toHaveProperty("routing");
    expect((body.messages as unknown[]).length).toBe(4);
  });

  test("the engine's model id is used upstream; the client sees its alias", async () => {
    const result = await client.chat.completions.create({ model: "public:deepseek-eu", messages: [{ role: "user", content: "hi" }] });
    expect((await lastUpstreamBody()).model).toBe("echo");
    expect(result.model).toBe("public:deepseek-eu");
  });

  test("model ids containing a slash work", async () => {
    const result = await client.chat.completions.create({ model: "Qwen/Qwen3-14B", messages: [{ role: "user", content: "slash" }] });
    expect(result.choices[0]!.message.content).toBe("echo: slash");
  });

  test("merge_system_into_first_user folds system messages into the first user turn", async () => {
    await client.chat.completions.create({
      model: "merge-system",
      messages: [
        { role: "system", content: "You are terse." },
        { role: "user", content: "question" },
      ],
    });
    const body = await lastUpstreamBody();
    expect(body.messages).toEqual([{ role: "user", content: "You are terse.\n\nquestion" }]);
  });

  test("client tool calls come back to the client", async () => {
    const result = await client.chat.completions.create({
      model: "tool-call",
      messages: [{ role: "user", content: "weather?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
    });
    expect(result.choices[0]!.finish_reason).toBe("tool_calls");
    const call = result.choices[0]!.message.tool_calls![0]! as { function: { name: string; arguments: string } };
    expect(call.function.name).toBe("get_weather");
    expect(JSON.parse(call.function.arguments)).toEqual({ city: "Paris" });
  });
});

describe("streaming", () => {
  test("relays role, content and a final usage chunk with timings, then [DONE]", async () => {
    const { data: stream, response } = await client.chat.completions
      .create({ model: "echo", stream: true, messages: [{ role: "user", content: "one two three" }] })
      .withResponse();
    expect(response.headers.get("content-type")).toContain("text/event-stream");
    expect(response.headers.get("x-accel-buffering")).toBe("no");
    expect(response.headers.get("x-request-id")).toBeTruthy();
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks[0]!.choices[0]!.delta.role).toBe("assistant");
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? "").join("");
    expect(text).toBe("echo: one two three");
    const last = chunks.at(-1)! as typeof chunks[number] & { timings?: Record<string, number> };
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    expect(last.timings!.total_ms).toBeGreaterThan(0);
    expect(last.id).toStartWith("chatcmpl-upstream-"); // stream chunks keep the engine's id
    // usage was asked from the engine although the client did not ask
    expect((await lastUpstreamBody()).stream_options).toEqual({ include_usage: true });
  });

  test("tool_call deltas stream through", async () => {
    const stream = await client.chat.completions.create({
      model: "tool-call",
      stream: true,
      messages: [{ role: "user", content: "weather?" }],
      tools: [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }],
    });
    let name = "";
    let args = "";
    let finish: string | null = null;
    for await (const chunk of stream) {
      const delta = chunk.choices[0]?.delta;
      for (const call of delta?.tool_calls ?? []) {
        name += call.function?.name ?? "";
        args += call.function?.arguments ?? "";
      }
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(name).toBe("get_weather");
    expect(JSON.parse(args)).toEqual({ city: "Paris" });
    expect(finish).toBe("tool_calls");
  });

  test("an engine that sends no usage still ends with an estimated usage chunk", async () => {
    const stream = await client.chat.completions.create({ model: "no-usage", stream: true, messages: [{ role: "user", content: "a b c d" }] });
    const chunks = [];
    for await (const chunk of stream) chunks.push(chunk);
    const usage = chunks.at(-1)!.usage as unknown as { completion_tokens: number; estimated: boolean };
    expect(usage.completion_tokens).toBeGreaterThan(0);
    expect(usage.estimated).toBe(true);
  });

  test("chunks reach the client while the engine is still generating", async () => {
    await upstream.reset();
    const stream = await client.chat.completions.create({ model: "slow", stream: true, messages: [{ role: "user", content: "x" }] });
    let words = 0;
    for await (const chunk of stream) if (chunk.choices[0]?.delta.content && ++words === 3) break;
    // The engine paces 200 words; the client had 3 of them while the engine had sent only a few: no buffering.
    const [abort] = await eventually(async () => ((await upstream.aborts()).length ? upstream.aborts() : undefined));
    expect(abort!.model).toBe("slow");
    expect(abort!.completed_chunks).toBeLessThan(20);
  });
});
