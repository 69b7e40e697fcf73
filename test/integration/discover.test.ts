// Zero config: with no `backends:` the gateway probes the usual engine ports and serves what it finds there, with
// the APIs the engine's route list (/openapi.json) shows.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { spawnGateway, type RunningGateway } from "../support/gateway.ts";

const SGLANG_PORT = 30000;
const ZERO_CONFIG = "server: {host: 127.0.0.1, port: 0}\nauth: {mode: none}\n";
let engine: ScriptedUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  engine = await spawnScriptedUpstream({ port: SGLANG_PORT });
  gateway = await spawnGateway(ZERO_CONFIG);
});
afterAll(async () => {
  await gateway?.stop();
  await engine?.stop();
});

type Model = { id: string; description: string; endpoints: string[] };
const models = async (on: RunningGateway) => ((await (await fetch(`${on.url}/v1/models`)).json()) as { data: Model[] }).data;
const post = (on: RunningGateway, path: string, body: unknown) => fetch(`${on.url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

/** A gateway started after the engine was told which routes to publish (discovery runs at start-up). */
async function discoveringWith(paths: string[] | null): Promise<RunningGateway> {
  await fetch(`${engine.url}/__openapi`, { method: "POST", body: JSON.stringify({ paths }) });
  return spawnGateway(ZERO_CONFIG);
}

test("an engine on SGLang's port is found, logged and served with no config", async () => {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const listed = (await client.models.list()).data;
  expect(listed.map((m) => m.id)).toContain("echo");
  expect((listed.find((m) => m.id === "echo") as unknown as { description: string }).description).toBe(`discovered: SGLang on port ${SGLANG_PORT}`);
  expect(gateway.logs()).toContain(`echo (SGLang on port ${SGLANG_PORT})`);
  const completion = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "found you" }] });
  expect(completion.choices[0]!.message.content).toBe("echo: found you");
});

describe("which APIs a discovered engine serves", () => {
  test("every route the engine publishes: /v1/models lists them, and they pass through", async () => {
    const echo = (await models(gateway)).find((m) => m.id === "echo")!;
    expect(echo.endpoints).toEqual(["chat", "completions", "embeddings", "rerank", "score", "audio_transcriptions", "tokenize", "responses", "messages", "detokenize"]);
    expect((await post(gateway, "/v1/rerank", { model: "echo", query: "a", documents: ["a", "b"] })).status).toBe(200);
    expect((await post(gateway, "/tokenize", { model: "echo", prompt: "one two" })).status).toBe(200);
  });

  test("a cross-encoder's routes only (rerank, score): other APIs are a 400 naming those", async () => {
    const reranking = await discoveringWith(["/v1/rerank", "/v1/score", "/v1/embeddings"]);
    try {
      const echo = (await models(reranking)).find((m) => m.id === "echo")!;
      expect(echo.endpoints).toEqual(["embeddings", "rerank", "score"]);
      expect((await post(reranking, "/v1/rerank", { model: "echo", query: "a", documents: ["a"] })).status).toBe(200);
      for (const [path, body] of [
        ["/v1/chat/completions", { model: "echo", messages: [{ role: "user", content: "hi" }] }],
        ["/v1/completions", { model: "echo", prompt: "hi" }],
        ["/v1/responses", { model: "echo", input: "hi" }],
        ["/tokenize", { model: "echo", prompt: "hi" }],
      ] as const) {
        const refused = await post(reranking, path, body);
        expect(refused.status).toBe(400);
        expect(((await refused.json()) as { error: { message: string } }).error.message).toContain(`does not serve ${path}; it serves: embeddings, rerank, score`);
      }
    } finally {
      await reranking.stop();
    }
  });

  test("an engine that publishes no route list keeps the default (chat, completions, embeddings)", async () => {
    const plain = await discoveringWith(null);
    try {
      expect((await models(plain)).find((m) => m.id === "echo")!.endpoints).toEqual(["chat", "completions", "embeddings", "responses", "messages"]);
      expect((await post(plain, "/v1/rerank", { model: "echo", query: "a", documents: ["a"] })).status).toBe(400);
    } finally {
      await plain.stop();
      await engine.reset();
    }
  });
});
