// Bad input on the translated and passed-through routes is a clear 4xx naming the field (in each API's error
// shape), never a 500. In process (app.handle) against the scripted engine.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { createApp } from "../../src/app.ts";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";

let upstream: ScriptedUpstream;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const config = `auth:\n  mode: none\nbackends:\n  - name: echo\n    url: ${upstream.url}/v1\n    endpoints: [chat, completions, rerank, tokenize, audio_transcriptions]\n`;
  app = createApp(new Gateway(parseConfig(config, "bad-input.yaml"), { dataDir: mkdtempSync(join(tmpdir(), "sluice-bad-input-")) }));
});
afterAll(async () => {
  await upstream?.stop();
});

const post = (path: string, body: unknown) => app.handle(new Request(`http://sluice.test${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) }));

const RESPONSES: [unknown, number, string][] = [
  [{ model: "echo", input: [null] }, 400, "input"],
  [{ model: "echo", input: [{ role: "user", content: [null] }] }, 400, "input[0].content[0].type"],
  [{ model: "echo", input: [{ role: "user", content: [{ type: "input_image" }] }] }, 400, "input[0].content[0].image_url"],
  [{ model: "echo", input: [{ type: "function_call" }] }, 400, "input[0].call_id"],
  [{ model: "echo", input: [{ type: "function_call_output", call_id: "a", output: 5 }] }, 400, "input[0].output"],
  [{ model: "echo", input: [{ type: "item_reference", id: "x" }] }, 400, "input[0].type"],
  [{ model: "echo", input: "x", tools: [{ type: "function" }] }, 400, "tools[0].name"],
  [{ model: "echo", input: "x", tools: [{ type: "code_interpreter" }] }, 400, "tools[0].type"],
  [{ model: "echo", input: [] }, 400, "input"],
  [{ model: "echo", input: [{ role: "tool", content: "x" }] }, 400, "input[0].role"],
  [{ model: "echo", input: "x", previous_response_id: "resp_nope" }, 404, "previous_response_id"],
  [[1], 400, "JSON object"],
];

const MESSAGES: [unknown, number, string][] = [
  [{ model: "echo", max_tokens: 5, messages: [{ role: "user", content: [{ type: "text" }] }] }, 400, "messages[0].content[0]"],
  [{ model: "echo", max_tokens: 5, messages: [{ role: "user", content: [{ type: "image", source: {} }] }] }, 400, "messages[0].content[0].source"],
  [{ model: "echo", max_tokens: 5, messages: [{ role: "user", content: [{ type: "tool_result" }] }] }, 400, "tool_use_id"],
  [{ model: "echo", max_tokens: 5, messages: [{ role: "assistant", content: [{ type: "tool_use" }] }] }, 400, "messages[0].content[0].id"],
  [{ model: "echo", max_tokens: 5, messages: [{ role: "user", content: [{ type: "document" }] }] }, 400, "'document'"],
  [{ model: "echo", max_tokens: 5, system: [{ type: "image" }], messages: [{ role: "user", content: "x" }] }, 400, "system[0]"],
  [{ model: "echo", max_tokens: 5, messages: [{ role: "user", content: "x" }], tools: [{ name: "a", type: "bash_20250124" }] }, 400, "tools[0].type"],
  [{ model: "echo", max_tokens: 5, messages: [{ role: "user", content: "x" }], stop_sequences: ["a", "b", "c", "d", "e"] }, 400, "stop_sequences"],
  [{ model: "echo", max_tokens: 0, messages: [{ role: "user", content: "x" }] }, 400, "max_tokens"],
  [{ model: "nope", max_tokens: 5, messages: [{ role: "user", content: "x" }] }, 404, "'nope'"],
];

describe("Responses", () => {
  for (const [body, status, mention] of RESPONSES) {
    test(`${JSON.stringify(body).slice(0, 80)} → ${status}`, async () => {
      const response = await post("/v1/responses", body);
      expect(response.status).toBe(status);
      expect(((await response.json()) as { error: { message: string } }).error.message).toContain(mention);
    });
  }
});

describe("Messages", () => {
  for (const [body, status, mention] of MESSAGES) {
    test(`${JSON.stringify(body).slice(0, 80)} → ${status}`, async () => {
      const response = await post("/v1/messages", body);
      expect(response.status).toBe(status);
      const error = (await response.json()) as { type: string; error: { type: string; message: string } };
      expect(error.type).toBe("error");
      expect(error.error.message).toContain(mention);
    });
  }
  test("count_tokens: an unknown block type and an unknown model", async () => {
    expect((await post("/v1/messages/count_tokens", { model: "echo", messages: [{ role: "user", content: [{ type: "zzz" }] }] })).status).toBe(400);
    expect((await post("/v1/messages/count_tokens", { model: "nope", messages: [] })).status).toBe(404);
  });
});

describe("passthroughs", () => {
  test("bad prompts, models and bodies", async () => {
    expect((await post("/v1/completions", { model: "echo", prompt: null })).status).toBe(400);
    expect((await post("/tokenize", { model: 5 })).status).toBe(400);
    expect((await post("/v1/audio/transcriptions", { model: "echo" })).status).toBe(400);
    const broken = await app.handle(new Request("http://sluice.test/v1/completions", { method: "POST", body: "{not json" }));
    expect(broken.status).toBe(400);
  });
});
