// POST /v1/completions through the real gateway process with the openai SDK: passed through to the engine's
// /v1/completions (prompt string or array, suffix, echo, logprobs), buffered and SSE, with the stream contract's
// usage, the firewall on the prompt, keys and the ledger.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { createKey as createKeyOn, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "C".repeat(20) + "adminadminadminadmin";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let key: { id: string; key: string };
let client: OpenAI;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const backends = [{ name: "echo", extra: "pricing: {input_per_mtok: 1, output_per_mtok: 2}" }, { name: "fail-400" }, { name: "chat-only", model: "echo", extra: "endpoints: [chat]" }];
  const firewall = "firewalls:\n  - slug: strict\n    rules: [{regex: \"(?i)internal only\", action: block}]\n";
  gateway = await spawnGateway(configFor(upstream.url, backends).replace("  mode: none", "  mode: keys") + firewall, { env: { SLUICE_ADMIN_KEY: ADMIN } });
  key = await createKey("completions");
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.key, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});


async function lastCompletionBody(): Promise<Record<string, unknown>> {
  return (await upstream.requests()).filter((r) => r.path === "/v1/completions").at(-1)!.body as Record<string, unknown>;
}

describe("buffered", () => {
  test("a prompt, the engine's answer and usage; x-sluice-backend", async () => {
    const { data, response } = await client.completions.create({ model: "echo", prompt: "def add(a, b):", max_tokens: 20 }).withResponse();
    expect(data.object).toBe("text_completion");
    expect(data.choices[0]!.text).toBe("echo: def add(a, b):");
    expect(data.usage!.completion_tokens).toBeGreaterThan(0);
    expect(response.headers.get("x-sluice-backend")).toBe("echo");
    expect(response.headers.get("x-request-id")).toBeTruthy();
    expect(await lastCompletionBody()).toMatchObject({ model: "echo", prompt: "def add(a, b):", max_tokens: 20 });
  });

  test("suffix (fill in the middle), echo, logprobs and an array of prompts pass through", async () => {
    const fim = await client.completions.create({ model: "echo", prompt: "def f():\n    ", suffix: "\n    return x", max_tokens: 8 });
    expect(fim.choices[0]!.text).toBe("echo: def f():\n     [suffix: \n    return x]");
    const echoed = await client.completions.create({ model: "echo", prompt: "hi", echo: true, logprobs: 1 });
    expect(echoed.choices[0]!.text).toBe("hiecho: hi");
    expect(echoed.choices[0]!.logprobs!.token_logprobs!.length).toBeGreaterThan(0);
    const many = await client.completions.create({ model: "echo", prompt: ["one", "two"] });
    expect(many.choices.map((c) => c.text)).toEqual(["echo: one", "echo: two"]);
  });
});

describe("streaming", () => {
  test("SSE passes through; usage rides on the last chunk with a choice when include_usage was not asked", async () => {
    const stream = await client.completions.create({ model: "echo", prompt: "one two three", stream: true });
    const chunks: OpenAI.Completions.Completion[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.map((c) => c.choices[0]?.text ?? "").join("")).toBe("echo: one two three");
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
    expect(chunks.at(-1)!.usage!.completion_tokens).toBeGreaterThan(0);
    expect((await lastCompletionBody()).stream_options).toEqual({ include_usage: true });
  });

  test("with include_usage the engine's separate usage chunk comes through", async () => {
    const stream = await client.completions.create({ model: "echo", prompt: "a b", stream: true, stream_options: { include_usage: true } });
    const chunks: OpenAI.Completions.Completion[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage!.prompt_tokens).toBe(2);
  });
});

describe("pipeline envelope", () => {
  test("the firewall screens the prompt; the sluice field does not reach the engine", async () => {
    const blocked = await client.completions.create({ model: "echo", prompt: "this is internal only", firewall: "strict" } as never).catch((e) => e);
    expect(blocked.status).toBe(422);
    await client.completions.create({ model: "echo", prompt: "fine", firewall: "strict" } as never);
    expect((await lastCompletionBody()).firewall).toBeUndefined();
  });

  test("no key → 401; bad prompt → 400; engine 400 passes through; a backend without completions → 400 naming what it serves", async () => {
    expect((await fetch(`${gateway.url}/v1/completions`, { method: "POST", body: JSON.stringify({ model: "echo", prompt: "x" }) })).status).toBe(401);
    const bad = await client.completions.create({ model: "echo", prompt: 5 as never }).catch((e) => e);
    expect(bad.status).toBe(400);
    expect(bad.message).toContain("prompt");
    expect((await client.completions.create({ model: "fail-400", prompt: "x" }).catch((e) => e)).status).toBe(400);
    const refused = await client.completions.create({ model: "chat-only", prompt: "x" }).catch((e) => e);
    expect(refused.status).toBe(400);
    expect(refused.message).toContain("serves: chat");
  });

  test("the key's rate limit holds", async () => {
    const response = await fetch(`${gateway.url}/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: "rpm", rpm: 1 }) });
    const limited = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: ((await response.json()) as { key: string }).key, maxRetries: 0 });
    await limited.completions.create({ model: "echo", prompt: "x" });
    const refused = await limited.completions.create({ model: "echo", prompt: "x" }).catch((e) => e);
    expect(refused.status).toBe(429);
  });

  test("ledger rows carry the completions endpoint, usage and cost", async () => {
    const own = await createKey("ledgered");
    const ownClient = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: own.key, maxRetries: 0 });
    await ownClient.completions.create({ model: "echo", prompt: "bill me" });
    for await (const _ of await ownClient.completions.create({ model: "echo", prompt: "bill me too", stream: true })) void _;
    await Bun.sleep(300);
    const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
    const rows = db.query("SELECT endpoint, status, stream, completion_tokens, tokens_estimated, cost_micros FROM ledger WHERE key_id = ? ORDER BY started_at").all(own.id);
    db.close();
    expect(rows).toMatchObject([
      { endpoint: "completions", status: 200, stream: 0, tokens_estimated: 0 },
      { endpoint: "completions", status: 200, stream: 1, tokens_estimated: 0 },
    ]);
    expect((rows as { cost_micros: number }[]).every((r) => r.cost_micros > 0)).toBe(true);
  });
});

const createKey = (name: string) => createKeyOn(gateway, ADMIN, { name });
