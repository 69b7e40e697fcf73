// Rerank, score, audio transcriptions, tokenize and detokenize passed through to backends that declare them,
// through the real gateway process: keys and scopes, the declared-endpoints check, the upload limit, the ledger
// row with its endpoint; and /v1/models saying which endpoints each model serves.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import OpenAI, { toFile } from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { createKey as createKeyOn, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "P".repeat(20) + "adminadminadminadmin";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let key: { id: string; key: string };

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const backends = [
    { name: "reranker", model: "echo", extra: "endpoints: [rerank, score]\npricing: {input_per_mtok: 1}" },
    { name: "whisper", model: "echo", extra: "endpoints: [audio_transcriptions]\npricing: {gpu_hour: 1}" },
    { name: "echo", extra: "endpoints: [chat, completions, tokenize]" },
    { name: "plain", model: "echo" },
    { name: "fail-500", extra: "endpoints: [rerank]" },
  ];
  gateway = await spawnGateway(configFor(upstream.url, backends).replace("  mode: none", "  mode: keys"), { env: { SLUICE_ADMIN_KEY: ADMIN } });
  key = await createKey({ name: "passthrough" });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});


function post(path: string, body: unknown, apiKey = key.key): Promise<Response> {
  return fetch(`${gateway.url}${path}`, { method: "POST", headers: { authorization: `Bearer ${apiKey}`, "content-type": "application/json" }, body: JSON.stringify(body) });
}

async function lastUpstream(path: string): Promise<Record<string, unknown>> {
  return (await upstream.requests()).filter((r) => r.path === path).at(-1)!.body as Record<string, unknown>;
}

describe("rerank and score", () => {
  test("rerank: the engine's ranking, model replaced by the engine's id", async () => {
    const response = await post("/v1/rerank", { model: "reranker", query: "red apples", documents: ["green pears", "red apples are sweet", "apples"], top_n: 2 });
    expect(response.status).toBe(200);
    expect(response.headers.get("x-sluice-backend")).toBe("reranker");
    const body = (await response.json()) as { results: { index: number }[] };
    expect(body.results.map((r) => r.index)).toEqual([2, 1]);
    expect(await lastUpstream("/v1/rerank")).toMatchObject({ model: "echo", top_n: 2 });
  });

  test("score", async () => {
    const response = await post("/v1/score", { model: "reranker", text_1: "a b", text_2: ["a b", "c"] });
    expect(((await response.json()) as { data: { score: number }[] }).data.map((d) => d.score)).toEqual([1, 0]);
  });

  test("a backend that does not declare rerank → 400 naming what it serves; engine 5xx → 502", async () => {
    const refused = await post("/v1/rerank", { model: "plain", query: "x", documents: ["y"] });
    expect(refused.status).toBe(400);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("serves: chat, completions, embeddings, responses, messages");
    expect((await post("/v1/rerank", { model: "fail-500", query: "x", documents: ["y"] })).status).toBe(502);
    expect((await post("/v1/rerank", { query: "x" })).status).toBe(400);
    expect((await post("/v1/rerank", { model: "nope", query: "x", documents: [] })).status).toBe(404);
  });

  test("rerank needs the embeddings scope", async () => {
    const chatOnly = await createKey({ name: "chat-only", scopes: ["chat"] });
    expect((await post("/v1/rerank", { model: "reranker", query: "x", documents: ["y"] }, chatOnly.key)).status).toBe(403);
  });
});

describe("audio transcriptions", () => {
  test("multipart through the openai SDK: file and model reach the engine", async () => {
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.key, maxRetries: 0 });
    const file = await toFile(new Uint8Array(1234), "speech.wav", { type: "audio/wav" });
    const result = await client.audio.transcriptions.create({ model: "whisper", file });
    expect(result.text).toBe("heard 1234 bytes of speech.wav");
    expect(await lastUpstream("/v1/audio/transcriptions")).toMatchObject({ model: "echo", file: { name: "speech.wav", size: 1234 } });
    const text = await client.audio.transcriptions.create({ model: "whisper", file: await toFile(new Uint8Array(10), "a.wav"), response_format: "text" });
    expect(String(text).trim()).toBe("heard 10 bytes of a.wav");
  });

  test("over the upload limit → 413; not multipart → 400; a model without audio → 400", async () => {
    const big = new FormData();
    big.set("model", "whisper");
    big.set("file", new File([new Uint8Array(26 * 1024 * 1024)], "big.wav"));
    const tooLarge = await fetch(`${gateway.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${key.key}` }, body: big });
    expect(tooLarge.status).toBe(413);
    expect((await post("/v1/audio/transcriptions", { model: "whisper" })).status).toBe(400);
    const form = new FormData();
    form.set("model", "plain");
    form.set("file", new File([new Uint8Array(3)], "a.wav"));
    expect((await fetch(`${gateway.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${key.key}` }, body: form })).status).toBe(400);
  });
});

describe("tokenize and detokenize", () => {
  test("go to the engine's root routes", async () => {
    const tokenized = (await (await post("/tokenize", { model: "echo", prompt: "one two" })).json()) as { count: number; tokens: number[] };
    expect(tokenized.count).toBe(2);
    const detokenized = (await (await post("/detokenize", { model: "echo", tokens: tokenized.tokens })).json()) as { prompt: string };
    expect(detokenized.prompt).toBe(tokenized.tokens.map((t) => `t${t}`).join(" "));
    expect((await post("/tokenize", { model: "plain", prompt: "x" })).status).toBe(400);
  });
});

describe("models and the ledger", () => {
  test("/v1/models lists the endpoints each model serves", async () => {
    const list = (await (await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${key.key}` } })).json()) as { data: { id: string; endpoints: string[] }[] };
    const byId = Object.fromEntries(list.data.map((m) => [m.id, m.endpoints]));
    expect(byId.reranker).toEqual(["rerank", "score"]);
    expect(byId.whisper).toEqual(["audio_transcriptions"]);
    expect(byId.echo).toEqual(["chat", "completions", "tokenize", "responses", "messages", "detokenize"]);
    expect(byId.plain).toEqual(["chat", "completions", "embeddings", "responses", "messages"]);
  });

  test("each passthrough is a ledger row with its endpoint, priced by the backend", async () => {
    const own = await createKey({ name: "ledgered" });
    await post("/v1/rerank", { model: "reranker", query: "a", documents: ["a b"] }, own.key);
    await post("/tokenize", { model: "echo", prompt: "x" }, own.key);
    const form = new FormData();
    form.set("model", "whisper");
    form.set("file", new File([new Uint8Array(3)], "a.wav"));
    await fetch(`${gateway.url}/v1/audio/transcriptions`, { method: "POST", headers: { authorization: `Bearer ${own.key}` }, body: form });
    await Bun.sleep(300);
    const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
    const rows = db.query("SELECT endpoint, status, backend, prompt_tokens, cost_micros FROM ledger WHERE key_id = ? ORDER BY started_at").all(own.id) as { endpoint: string; status: number; backend: string; prompt_tokens: number; cost_micros: number }[];
    db.close();
    expect(rows.map((r) => [r.endpoint, r.status, r.backend])).toEqual([
      ["rerank", 200, "reranker"],
      ["tokenize", 200, "echo"],
      ["audio_transcriptions", 200, "whisper"],
    ]);
    expect(rows[0]!.prompt_tokens).toBe(3);
    expect(rows[0]!.cost_micros).toBeGreaterThan(0);
  });
});

describe("OpenAPI", () => {
  test("documents every new route and its schemas", async () => {
    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as { paths: Record<string, Record<string, { operationId: string }>>; components: { schemas: Record<string, unknown> } };
    const operations = {
      "/v1/responses": ["post", "createResponse"],
      "/v1/responses/{response_id}": ["get", "getResponse"],
      "/v1/messages": ["post", "createMessage"],
      "/v1/messages/count_tokens": ["post", "countMessageTokens"],
      "/v1/completions": ["post", "createCompletion"],
      "/v1/rerank": ["post", "createRerank"],
      "/v1/score": ["post", "createScore"],
      "/v1/audio/transcriptions": ["post", "createTranscription"],
      "/tokenize": ["post", "tokenize"],
      "/detokenize": ["post", "detokenize"],
    };
    for (const [path, [method, id]] of Object.entries(operations)) expect(doc.paths[path]?.[method!]?.operationId).toBe(id!);
    expect(doc.paths["/v1/responses/{response_id}"]?.delete?.operationId).toBe("deleteResponse");
    for (const name of ["ResponsesRequest", "ResponseObject", "MessagesRequest", "MessageObject", "AnthropicError", "CompletionRequest", "CountTokensRequest"]) expect(doc.components.schemas).toHaveProperty(name);
  });
});

const createKey = (settings: Record<string, unknown>) => createKeyOn(gateway, ADMIN, settings);
