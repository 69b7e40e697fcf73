// POST /v1/messages and /v1/messages/count_tokens through the real gateway process with the official clients
// (@anthropic-ai/sdk, @ai-sdk/anthropic): translated to chat and back, streamed with Anthropic's event
// sequence, tool round trips, errors in Anthropic's shape, x-api-key or bearer auth.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import Anthropic from "@anthropic-ai/sdk";
import { createAnthropic } from "@ai-sdk/anthropic";
import { generateText, streamText } from "ai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { createKey as createKeyOn, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "M".repeat(20) + "adminadminadminadmin";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let key: { id: string; key: string };
let client: Anthropic;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const backends = [
    { name: "echo", extra: "pricing: {input_per_mtok: 1, output_per_mtok: 2}" },
    { name: "tool-call" },
    { name: "fail-500" },
    { name: "echo-tokenized", model: "echo", extra: "endpoints: [chat, tokenize]" },
  ];
  gateway = await spawnGateway(configFor(upstream.url, backends).replace("  mode: none", "  mode: keys"), { env: { SLUICE_ADMIN_KEY: ADMIN } });
  key = await createKey("messages");
  client = new Anthropic({ baseURL: gateway.url, apiKey: key.key, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});


async function lastChatBody(): Promise<Record<string, unknown>> {
  const requests = await upstream.requests();
  return requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!.body as Record<string, unknown>;
}

const weatherTool = { name: "get_weather", description: "Weather for a city", input_schema: { type: "object" as const, properties: { city: { type: "string" } }, required: ["city"] } };

describe("buffered", () => {
  test("system and a text block: text content, end_turn, usage; stop_sequences become stop", async () => {
    const message = await client.messages.create({ model: "echo", max_tokens: 64, system: "Be brief.", stop_sequences: ["END"], messages: [{ role: "user", content: [{ type: "text", text: "hello claude" }] }] });
    expect(message.id).toStartWith("msg_");
    expect(message.type).toBe("message");
    expect(message.role).toBe("assistant");
    expect(message.content).toEqual([{ type: "text", text: "echo: hello claude" }] as never);
    expect(message.stop_reason).toBe("end_turn");
    expect(message.usage.input_tokens).toBeGreaterThan(0);
    expect(message.usage.output_tokens).toBeGreaterThan(0);
    const sent = await lastChatBody();
    expect(sent.messages).toEqual([{ role: "system", content: "Be brief." }, { role: "user", content: "hello claude" }]);
    expect(sent.stop).toEqual(["END"]);
    expect(sent.max_tokens).toBe(64);
  });

  test("tool round trip: tool_use out, tool_result back in", async () => {
    const first = await client.messages.create({ model: "tool-call", max_tokens: 64, tools: [weatherTool], messages: [{ role: "user", content: "weather in Paris?" }] });
    expect(first.stop_reason).toBe("tool_use");
    const use = first.content.find((block) => block.type === "tool_use") as Anthropic.ToolUseBlock;
    expect(use).toMatchObject({ type: "tool_use", name: "get_weather", input: { city: "Paris" } });
    expect((await lastChatBody()).tools).toEqual([{ type: "function", function: { name: "get_weather", description: "Weather for a city", parameters: weatherTool.input_schema } }]);

    const second = await client.messages.create({
      model: "echo",
      max_tokens: 64,
      tools: [weatherTool],
      messages: [
        { role: "user", content: "weather in Paris?" },
        { role: "assistant", content: first.content },
        { role: "user", content: [{ type: "tool_result", tool_use_id: use.id, content: "sunny, 21 C" }, { type: "text", text: "and tomorrow?" }] },
      ],
    });
    expect(second.content[0]).toEqual({ type: "text", text: "echo: and tomorrow?" } as never);
    expect((await lastChatBody()).messages).toEqual([
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: use.id, type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: use.id, content: "sunny, 21 C" },
      { role: "user", content: "and tomorrow?" },
    ]);
  });

  test("images become image_url parts; bearer auth works as well as x-api-key", async () => {
    const bearer = new Anthropic({ baseURL: gateway.url, authToken: key.key, apiKey: null, maxRetries: 0 });
    await bearer.messages.create({
      model: "echo",
      max_tokens: 16,
      messages: [{ role: "user", content: [{ type: "image", source: { type: "base64", media_type: "image/png", data: "AAAA" } }, { type: "text", text: "what is it" }] }],
    });
    expect((await lastChatBody()).messages).toEqual([{ role: "user", content: [{ type: "image_url", image_url: { url: "data:image/png;base64,AAAA" } }, { type: "text", text: "what is it" }] }]);
  });
});

describe("streaming", () => {
  test("the event sequence: message_start, content_block_start/delta/stop, message_delta with usage, message_stop", async () => {
    const stream = await client.messages.create({ model: "echo", max_tokens: 64, stream: true, messages: [{ role: "user", content: "one two three" }] });
    const types: string[] = [];
    let text = "";
    let delta: Anthropic.MessageDeltaEvent | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "content_block_delta" && event.delta.type === "text_delta") text += event.delta.text;
      if (event.type === "message_delta") delta = event;
    }
    expect(text).toBe("echo: one two three");
    expect(types[0]).toBe("message_start");
    expect(types).toContain("content_block_start");
    expect(types.slice(-3)).toEqual(["content_block_stop", "message_delta", "message_stop"]);
    expect(delta!.delta.stop_reason).toBe("end_turn");
    expect(delta!.usage.output_tokens).toBeGreaterThan(0);
  });

  test("a streamed tool call: input_json_delta pieces add up to the tool's input", async () => {
    const final = await client.messages.stream({ model: "tool-call", max_tokens: 64, tools: [weatherTool], messages: [{ role: "user", content: "weather?" }] }).finalMessage();
    expect(final.stop_reason).toBe("tool_use");
    expect(final.content.find((block) => block.type === "tool_use")).toMatchObject({ name: "get_weather", input: { city: "Paris" } });
    expect(final.usage.output_tokens).toBeGreaterThan(0);
  });
});

describe("errors in Anthropic's shape", () => {
  test("no key → authentication_error; missing max_tokens → invalid_request_error; unknown model → not_found_error; engine 5xx → api_error", async () => {
    const anonymous = await fetch(`${gateway.url}/v1/messages`, { method: "POST", headers: { "anthropic-version": "2023-06-01" }, body: JSON.stringify({ model: "echo", max_tokens: 5, messages: [] }) });
    expect(anonymous.status).toBe(401);
    const body = (await anonymous.json()) as { type: string; error: { type: string; message: string } };
    expect(body.type).toBe("error");
    expect(body.error.type).toBe("authentication_error");

    const bad = await client.messages.create({ model: "echo", messages: [{ role: "user", content: "x" }] } as never).catch((e) => e);
    expect(bad).toBeInstanceOf(Anthropic.BadRequestError);
    expect(bad.error.error.type).toBe("invalid_request_error");
    expect(bad.error.error.message).toContain("max_tokens");

    const unknown = await client.messages.create({ model: "nope", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(unknown).toBeInstanceOf(Anthropic.NotFoundError);
    expect(unknown.error.error.type).toBe("not_found_error");

    const engine = await client.messages.create({ model: "fail-500", max_tokens: 5, messages: [{ role: "user", content: "x" }] }).catch((e) => e);
    expect(engine.status).toBe(502);
    expect(engine.error.error.type).toBe("api_error");
  });
});

describe("count_tokens", () => {
  test("the engine's tokenizer when the backend declares tokenize, else an estimate", async () => {
    const exact = await client.messages.countTokens({ model: "echo-tokenized", system: "sys", messages: [{ role: "user", content: "one two three" }] });
    // the scripted tokenizer: 1 + per message (3 template tokens + its words)
    expect(exact.input_tokens).toBe(1 + (3 + 1) + (3 + 3));
    const estimated = await client.messages.countTokens({ model: "echo", messages: [{ role: "user", content: "one two three" }] });
    expect(estimated.input_tokens).toBeGreaterThan(0);
  });
});

describe("keys and the ledger", () => {
  test("the key's rate limit holds: a 429 in Anthropic's shape with Retry-After", async () => {
    const limited = await fetch(`${gateway.url}/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: "rpm", rpm: 1 }) });
    const { key: secret } = (await limited.json()) as { key: string };
    const send = () => fetch(`${gateway.url}/v1/messages`, { method: "POST", headers: { "x-api-key": secret }, body: JSON.stringify({ model: "echo", max_tokens: 5, messages: [{ role: "user", content: "x" }] }) });
    expect((await send()).status).toBe(200);
    const refused = await send();
    expect(refused.status).toBe(429);
    expect(refused.headers.get("retry-after")).toBeTruthy();
    expect(((await refused.json()) as { error: { type: string } }).error.type).toBe("rate_limit_error");
  });

  test("buffered and streamed messages land in the ledger under the key", async () => {
    const own = await createKey("ledgered");
    const ownClient = new Anthropic({ baseURL: gateway.url, apiKey: own.key, maxRetries: 0 });
    await ownClient.messages.create({ model: "echo", max_tokens: 16, messages: [{ role: "user", content: "bill me" }] });
    await ownClient.messages.stream({ model: "echo", max_tokens: 16, messages: [{ role: "user", content: "bill me too" }] }).finalMessage();
    await Bun.sleep(300);
    const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
    const rows = db.query("SELECT endpoint, status, stream, completion_tokens, cost_micros FROM ledger WHERE key_id = ? ORDER BY started_at").all(own.id) as { endpoint: string; status: number; stream: number; completion_tokens: number; cost_micros: number }[];
    db.close();
    expect(rows.map((r) => [r.endpoint, r.status, r.stream])).toEqual([["messages", 200, 0], ["messages", 200, 1]]);
    expect(rows.every((r) => r.completion_tokens > 0 && r.cost_micros > 0)).toBe(true);
  });
});

describe("Vercel AI SDK: @ai-sdk/anthropic", () => {
  test("generateText and streamText", async () => {
    const provider = createAnthropic({ baseURL: `${gateway.url}/v1`, apiKey: key.key });
    const generated = await generateText({ model: provider("echo"), prompt: "hi from the ai sdk" });
    expect(generated.text).toBe("echo: hi from the ai sdk");
    expect(generated.usage.outputTokens).toBeGreaterThan(0);
    const streamed = streamText({ model: provider("echo"), prompt: "streamed words here" });
    let text = "";
    for await (const piece of streamed.textStream) text += piece;
    expect(text).toBe("echo: streamed words here");
  });
});

const createKey = (name: string) => createKeyOn(gateway, ADMIN, { name });
