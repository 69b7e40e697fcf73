// Zero config: with no `backends:` the gateway probes the usual engine ports and serves what it finds there.
import { afterAll, beforeAll, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { spawnGateway, type RunningGateway } from "../support/gateway.ts";

const SGLANG_PORT = 30000;
let engine: ScriptedUpstream;
let gateway: RunningGateway;

beforeAll(async () => {
  engine = await spawnScriptedUpstream({ port: SGLANG_PORT });
  gateway = await spawnGateway("server: {host: 127.0.0.1, port: 0}\nauth: {mode: none}\n");
});
afterAll(async () => {
  await gateway?.stop();
  await engine?.stop();
});

test("an engine on SGLang's port is found, logged and served with no config", async () => {
  const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const models = (await client.models.list()).data;
  expect(models.map((m) => m.id)).toContain("echo");
  expect((models.find((m) => m.id === "echo") as unknown as { description: string }).description).toBe(`discovered: SGLang on port ${SGLANG_PORT}`);
  expect(gateway.logs()).toContain(`echo (SGLang on port ${SGLANG_PORT})`);
  const completion = await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "found you" }] });
  expect(completion.choices[0]!.message.content).toBe("echo: found you");
});
