// `model: "auto"` through the real gateway: the prompt is classified, the pool scored under the optimize mode, and
// the choice explained — in the buffered `routing` block, as the first stream event, and in x-sluice-route.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";

const ADMIN = "inf_" + "C".repeat(20) + "adminadminadminadmin";
let engine: ScriptedUpstream;
let classifierEngine: ScriptedUpstream;
let gateway: RunningGateway;
let withClassifier: RunningGateway;
let admin: OpenAI;

function config(classifier: boolean): string {
  return `
server: {host: 127.0.0.1, port: 0}
auth: {mode: ${classifier ? "none" : "keys"}}
backends:
  - {name: small, url: ${engine.url}/v1, model: echo, pricing: {input_per_mtok: 0.1, output_per_mtok: 0.2}}
  - {name: large, url: ${engine.url}/v1, model: echo, pricing: {input_per_mtok: 3, output_per_mtok: 15}}
  - {name: coder, url: ${engine.url}/v1, model: echo, pricing: {input_per_mtok: 1, output_per_mtok: 2}}
  # $1 per completion token: its share of a request's cost is plain to see.
  - {name: cls, url: ${classifierEngine.url}/v1, model: echo, pricing: {output_per_mtok: 1000000}}
auto:
  pool: [small, large, coder]
  optimize: balanced
  profiles:
    small: {quality: 0.5}
    large: {quality: 0.9}
    coder: {quality: {code_generation: 0.97, default: 0.6}}
${classifier ? "  classifier: {backend: cls, timeout_ms: 1000}" : ""}
`;
}

beforeAll(async () => {
  [engine, classifierEngine] = await Promise.all([spawnScriptedUpstream(), spawnScriptedUpstream()]);
  [gateway, withClassifier] = await Promise.all([spawnGateway(config(false), { env: { SLUICE_ADMIN_KEY: ADMIN } }), spawnGateway(config(true))]);
  admin = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: ADMIN, maxRetries: 0 });
});
afterAll(async () => {
  await Promise.all([gateway?.stop(), withClassifier?.stop()]);
  await Promise.all([engine?.stop(), classifierEngine?.stop()]);
});
beforeEach(async () => {
  await Promise.all([engine.reset(), classifierEngine.reset()]);
});

const CODE_PROMPT = "Write a Python function that merges two sorted lists into one sorted list, with type hints and tests.";

async function auto(client: OpenAI, content: string, routing?: Record<string, unknown>) {
  const { data, response } = await client.chat.completions.create({ model: "auto", messages: [{ role: "user", content }], ...(routing ? { routing } : {}) } as never).withResponse();
  return { completion: data as unknown as Record<string, any>, headers: response.headers };
}

describe("auto", () => {
  test("a coding prompt under optimize=quality goes to the model profiled best at code, and says why", async () => {
    const { completion, headers } = await auto(admin, CODE_PROMPT, { optimize: "quality" });
    const routing = completion.routing;
    expect(routing).toMatchObject({ task: "code_generation", optimize: "quality", model: "coder", classifier: "builtin", attempts: 1 });
    expect(["simple", "medium", "complex"]).toContain(routing.complexity);
    expect(routing.confidence).toBeGreaterThan(0);
    expect(routing.confidence).toBeLessThanOrEqual(1);
    expect(typeof routing.routing_time_ms).toBe("number");
    expect(routing.candidates.map((c: { model: string }) => c.model).sort()).toEqual(["coder", "large", "small"]);
    expect(routing.candidates[0]).toMatchObject({ model: "coder", quality: 0.97 });
    for (const candidate of routing.candidates) expect(Object.keys(candidate).sort()).toEqual(["cost", "latency_ms", "model", "quality", "score"]);
    const scores = routing.candidates.map((c: { score: number }) => c.score);
    expect(scores).toEqual([...scores].sort((x: number, y: number) => y - x));
    expect(completion.model).toBe("coder");
    expect(headers.get("x-sluice-route")).toBe("auto/code_generation");
    expect(headers.get("x-sluice-backend")).toBe("coder");
  });

  test("optimize=cost picks the cheapest model; optimize=quality on a general question picks the strongest", async () => {
    expect((await auto(admin, "What is the capital of Australia?", { optimize: "cost" })).completion.routing.model).toBe("small");
    expect((await auto(admin, "Explain in depth how the Federal Reserve's interest rate decisions propagate through mortgage markets, with the trade-offs.", { optimize: "quality" })).completion.routing.model).toBe("large");
  });

  test("per-request overrides: model_pool and task", async () => {
    expect((await auto(admin, CODE_PROMPT, { model_pool: ["large"] })).completion.routing.model).toBe("large");
    const { completion } = await auto(admin, "hello", { task: "translation" });
    expect(completion.routing).toMatchObject({ task: "translation", confidence: 1, classifier: "request" });
  });

  test("bad overrides → 400 naming the field", async () => {
    const badTask = await admin.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "x" }], routing: { task: "juggling" } } as never).catch((e) => e);
    expect(badTask.status).toBe(400);
    expect(badTask.message).toContain("routing.task");
    expect(badTask.message).toContain("code_generation");
    const badPool = await admin.chat.completions.create({ model: "auto", messages: [{ role: "user", content: "x" }], routing: { model_pool: ["nope"] } } as never).catch((e) => e);
    expect(badPool.status).toBe(400);
    expect(badPool.message).toContain("routing.model_pool[0]: 'nope'");
  });

  test("a key's routing defaults choose pool and mode; its allowed models bound the pool", async () => {
    const create = async (settings: Record<string, unknown>) =>
      (await (await fetch(`${gateway.url}/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify(settings) })).json()) as { key: string };
    const pooled = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: (await create({ name: "pooled", scopes: ["chat"], routing: { model_pool: ["large", "coder"], optimize: "cost" } })).key, maxRetries: 0 });
    expect((await auto(pooled, "What is the capital of Australia?")).completion.routing).toMatchObject({ model: "coder", optimize: "cost" });
    const bounded = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: (await create({ name: "bounded", scopes: ["chat"], allowed_models: ["auto", "small"] })).key, maxRetries: 0 });
    const { completion } = await auto(bounded, CODE_PROMPT, { optimize: "quality" });
    expect(completion.routing.model).toBe("small");
    expect(completion.routing.candidates.map((c: { model: string }) => c.model)).toEqual(["small"]);
  });

  test("streams start with the routing event, then the answer; the SDK reads both", async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { authorization: `Bearer ${ADMIN}`, "content-type": "application/json" },
      body: JSON.stringify({ model: "auto", stream: true, messages: [{ role: "user", content: CODE_PROMPT }] }),
    });
    const events = (await response.text()).split("\n\n").filter(Boolean);
    const first = JSON.parse(events[0]!.slice("data: ".length));
    expect(first).toMatchObject({ object: "routing", task: "code_generation", model: expect.any(String), choices: [] });
    for (const field of ["complexity", "confidence", "routing_time_ms"]) expect(first).toHaveProperty(field);
    expect(events.at(-1)).toBe("data: [DONE]");

    const stream = await admin.chat.completions.create({ model: "auto", stream: true, messages: [{ role: "user", content: "hi there" }] });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("echo: hi there");
  });

  test("the ledger records auto and the task as the route, and the model that served", async () => {
    const { completion } = await auto(admin, CODE_PROMPT, { optimize: "quality" });
    const id = String(completion.id).replace("chatcmpl-", "");
    const row = await eventually(() => new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true }).query("SELECT model, backend, route FROM ledger WHERE request_id = ?").get(id) ?? undefined);
    expect(row).toEqual({ model: "auto", backend: "coder", route: "auto/code_generation" });
  });

  test("/v1/models lists auto", async () => {
    expect((await admin.models.list()).data.map((m) => m.id)).toContain("auto");
  });
});

describe("classifier model", () => {
  const client = () => new OpenAI({ baseURL: `${withClassifier.url}/v1`, apiKey: "unused", maxRetries: 0 });

  test("the classifier model's JSON verdict decides the task", async () => {
    // The scripted engine echoes the prompt, so a prompt that is a verdict comes back as one.
    const { completion } = await auto(client(), '{"task": "translation", "complexity": "simple", "confidence": 0.7}');
    expect(completion.routing).toMatchObject({ task: "translation", complexity: "simple", confidence: 0.7, classifier: "model:cls" });
    expect((await classifierEngine.requests()).length).toBe(1);
  });

  test("the classifier model's call is billed to the request it routed", async () => {
    const prompt = '{"task": "translation", "complexity": "simple", "confidence": 0.9}';
    const { completion, headers } = await auto(client(), prompt);
    const id = headers.get("x-request-id");
    expect(completion.routing).toMatchObject({ classifier: "model:cls" });
    const row = await eventually(() => new Database(join(withClassifier.dir, "data", "sluice.db"), { readonly: true }).query("SELECT cost_micros FROM ledger WHERE request_id = ?").get(id) as { cost_micros: number } | null ?? undefined);
    // The classifier's echo answer has 7 words, 7 completion tokens at $1; the routed model's own share is a few micro-dollars.
    expect(Math.floor(row.cost_micros / 1_000_000)).toBe(7);
    expect(row.cost_micros % 1_000_000).toBeGreaterThan(0);
  });

  test("a failing or rambling classifier model falls back to the built-in classifier", async () => {
    expect((await auto(client(), CODE_PROMPT)).completion.routing).toMatchObject({ task: "code_generation", classifier: "builtin" }); // echo is not a verdict
    await classifierEngine.control({ fail_status: 500 });
    expect((await auto(client(), CODE_PROMPT)).completion.routing).toMatchObject({ task: "code_generation", classifier: "builtin" });
  });
});
