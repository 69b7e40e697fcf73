// POST /v1/responses through the real gateway process with the official clients (openai SDK, Vercel AI SDK's
// default openai(model)): translated to chat, through the one chat pipeline (keys, ledger), streamed with the
// Responses event types, stored per key for previous_response_id, GET and DELETE.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import OpenAI from "openai";
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { createKey as createKeyOn, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "R".repeat(20) + "adminadminadminadmin";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let key: { id: string; key: string };
let client: OpenAI;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  const backends = [
    { name: "echo", extra: "pricing: {input_per_mtok: 1, output_per_mtok: 2}" },
    { name: "tool-call" },
    { name: "fail-400" },
    { name: "slow" },
    { name: "embed-only", model: "echo", extra: "endpoints: [embeddings]" },
    { name: "native", model: "echo", extra: "endpoints: [chat, responses, messages]" },
  ];
  gateway = await spawnGateway(configFor(upstream.url, backends).replace("  mode: none", "  mode: keys"), { env: { SLUICE_ADMIN_KEY: ADMIN } });
  key = await createKey("responses");
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.key, maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});



async function lastChatBody(): Promise<Record<string, unknown>> {
  const requests = await upstream.requests();
  return requests.filter((r) => r.path === "/v1/chat/completions").at(-1)!.body as Record<string, unknown>;
}

describe("buffered", () => {
  test("text input: output_text, usage, resp_ id; instructions become the system message", async () => {
    const response = await client.responses.create({ model: "echo", input: "hello there", instructions: "Be brief.", max_output_tokens: 50 });
    expect(response.id).toStartWith("resp_");
    expect(response.object).toBe("response");
    expect(response.status).toBe("completed");
    expect(response.output_text).toBe("echo: hello there");
    expect(response.usage!.input_tokens).toBeGreaterThan(0);
    expect(response.usage!.output_tokens).toBeGreaterThan(0);
    expect(response.usage!.total_tokens).toBe(response.usage!.input_tokens + response.usage!.output_tokens);
    const sent = await lastChatBody();
    expect(sent.messages).toEqual([{ role: "system", content: "Be brief." }, { role: "user", content: "hello there" }]);
    expect(sent.max_tokens).toBe(50);
  });

  test("input items with roles and content parts; text.format json_schema becomes response_format", async () => {
    const schema = { type: "object", properties: { a: { type: "string" } }, required: ["a"], additionalProperties: false };
    const response = await client.responses.create({
      model: "echo",
      input: [
        { role: "developer", content: "dev rules" },
        { role: "user", content: [{ type: "input_text", text: "first" }] },
        { role: "assistant", content: "earlier answer" },
        { type: "message", role: "user", content: [{ type: "input_text", text: "second" }, { type: "input_image", image_url: "data:image/png;base64,AAAA", detail: "auto" }] },
      ],
      text: { format: { type: "json_schema", name: "thing", schema, strict: true } },
    });
    expect(response.output_text).toBe("echo: second");
    const sent = await lastChatBody();
    expect(sent.messages).toEqual([
      { role: "system", content: "dev rules" },
      { role: "user", content: [{ type: "text", text: "first" }] },
      { role: "assistant", content: "earlier answer" },
      { role: "user", content: [{ type: "text", text: "second" }, { type: "image_url", image_url: { url: "data:image/png;base64,AAAA", detail: "auto" } }] },
    ]);
    expect(sent.response_format).toEqual({ type: "json_schema", json_schema: { name: "thing", schema, strict: true } });
  });

  test("function tools round trip: function_call out, function_call_output back in with previous_response_id", async () => {
    const tools = [{ type: "function" as const, name: "get_weather", description: "Weather", parameters: { type: "object", properties: { city: { type: "string" } } }, strict: false }];
    const first = await client.responses.create({ model: "tool-call", input: "weather in Paris?", tools });
    const call = first.output.find((item) => item.type === "function_call");
    expect(call).toMatchObject({ type: "function_call", name: "get_weather", arguments: '{"city":"Paris"}', status: "completed" });
    expect((await lastChatBody()).tools).toEqual([{ type: "function", function: { name: "get_weather", description: "Weather", parameters: tools[0]!.parameters, strict: false } }]);

    const callId = (call as { call_id: string }).call_id;
    const second = await client.responses.create({ model: "echo", previous_response_id: first.id, input: [{ type: "function_call_output", call_id: callId, output: "sunny, 21 C" }], tools });
    expect(second.previous_response_id).toBe(first.id);
    expect(second.output_text).toBe("echo: weather in Paris?");
    const messages = (await lastChatBody()).messages as Record<string, unknown>[];
    expect(messages).toEqual([
      { role: "user", content: "weather in Paris?" },
      { role: "assistant", content: null, tool_calls: [{ id: callId, type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
      { role: "tool", tool_call_id: callId, content: "sunny, 21 C" },
    ]);
  });
});

describe("stored responses", () => {
  test("GET returns the stored response; another key gets 404; DELETE removes it; store: false keeps none", async () => {
    const created = await client.responses.create({ model: "echo", input: "remember me" });
    const fetched = await client.responses.retrieve(created.id);
    expect(fetched.output_text).toBe("echo: remember me");
    expect(fetched.id).toBe(created.id);

    const other = await createKey("other");
    const foreign = await fetch(`${gateway.url}/v1/responses/${created.id}`, { headers: { authorization: `Bearer ${other.key}` } });
    expect(foreign.status).toBe(404);
    const continued = await fetch(`${gateway.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${other.key}` }, body: JSON.stringify({ model: "echo", input: "x", previous_response_id: created.id }) });
    expect(continued.status).toBe(404);
    expect(((await continued.json()) as { error: { param: string } }).error.param).toBe("previous_response_id");

    await client.responses.delete(created.id);
    expect((await fetch(`${gateway.url}/v1/responses/${created.id}`, { headers: { authorization: `Bearer ${key.key}` } })).status).toBe(404);

    const unstored = await client.responses.create({ model: "echo", input: "forget me", store: false });
    expect((await fetch(`${gateway.url}/v1/responses/${unstored.id}`, { headers: { authorization: `Bearer ${key.key}` } })).status).toBe(404);
  });
});

describe("streaming", () => {
  test("text: created → output_item.added → output_text.delta … → completed with usage", async () => {
    const stream = await client.responses.create({ model: "echo", input: "one two three", stream: true });
    const types: string[] = [];
    let text = "";
    let completed: OpenAI.Responses.Response | undefined;
    for await (const event of stream) {
      types.push(event.type);
      if (event.type === "response.output_text.delta") text += event.delta;
      if (event.type === "response.completed") completed = event.response;
    }
    expect(text).toBe("echo: one two three");
    expect(types[0]).toBe("response.created");
    expect(types[1]).toBe("response.in_progress");
    expect(types).toContain("response.output_item.added");
    expect(types).toContain("response.content_part.added");
    expect(types.slice(-4)).toEqual(["response.output_text.done", "response.content_part.done", "response.output_item.done", "response.completed"]);
    expect(completed!.output).toMatchObject([{ type: "message", role: "assistant", status: "completed", content: [{ type: "output_text", text: "echo: one two three" }] }]);
    expect(completed!.usage!.output_tokens).toBeGreaterThan(0);
    // the stored stream continues like a buffered one
    expect((await client.responses.retrieve(completed!.id)).output_text).toBe("echo: one two three");
  });

  test("function call: function_call_arguments.delta and .done", async () => {
    const stream = await client.responses.create({ model: "tool-call", input: "weather?", stream: true, tools: [{ type: "function", name: "get_weather", parameters: {}, strict: false }] });
    let args = "";
    let done: string | undefined;
    for await (const event of stream) {
      if (event.type === "response.function_call_arguments.delta") args += event.delta;
      if (event.type === "response.function_call_arguments.done") done = event.arguments;
    }
    expect(args).toBe('{"city":"Paris"}');
    expect(done).toBe('{"city":"Paris"}');
  });
});

describe("errors, keys and the ledger", () => {
  test("no key → 401, bad body → 400 naming the field, unknown model → 404, an engine's 400 passes through", async () => {
    expect((await fetch(`${gateway.url}/v1/responses`, { method: "POST", body: JSON.stringify({ model: "echo", input: "x" }) })).status).toBe(401);
    const bad = await client.responses.create({ model: "echo", input: "x", max_output_tokens: -1 }).catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.message).toContain("max_output_tokens");
    const unknown = await client.responses.create({ model: "nope", input: "x" }).catch((e) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    const engine = await client.responses.create({ model: "fail-400", input: "x" }).catch((e) => e);
    expect(engine.status).toBe(400);
    const unsupported = await client.responses.create({ model: "echo", input: [{ type: "item_reference", id: "x" } as never] }).catch((e) => e);
    expect(unsupported.status).toBe(400);
  });

  test("a backend without chat refuses Responses, naming what it serves", async () => {
    const refused = await client.responses.create({ model: "embed-only", input: "x" }).catch((e) => e);
    expect(refused.status).toBe(400);
    expect(refused.message).toContain("embeddings");
  });

  test("the key's rate limit and allowed models hold", async () => {
    const limited = await createKeyWith({ name: "rpm", rpm: 1, allowed_models: ["echo"] });
    const limitedClient = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: limited.key, maxRetries: 0 });
    expect((await limitedClient.responses.create({ model: "tool-call", input: "x" }).catch((e) => e)).status).toBe(403);
    await limitedClient.responses.create({ model: "echo", input: "x" }).catch(() => {});
    const refused = await limitedClient.responses.create({ model: "echo", input: "x" }).catch((e) => e);
    expect(refused.status).toBe(429);
  });

  test("every answered request lands in the ledger under the key", async () => {
    const own = await createKey("ledgered");
    const ownClient = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: own.key, maxRetries: 0 });
    await ownClient.responses.create({ model: "echo", input: "bill me" });
    const stream = await ownClient.responses.create({ model: "echo", input: "bill me too", stream: true });
    for await (const _ of stream) void _;
    await ownClient.responses.create({ model: "echo", input: [{ type: "item_reference", id: "x" } as never] }).catch(() => {});
    await Bun.sleep(300);
    const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
    const rows = db.query("SELECT endpoint, status, stream, prompt_tokens, completion_tokens, cost_micros FROM ledger WHERE key_id = ? ORDER BY started_at").all(own.id) as { endpoint: string; status: number; stream: number; completion_tokens: number; cost_micros: number }[];
    db.close();
    // answered requests are written by the chat pipeline, a body that does not translate by the translator: both say responses
    expect(rows.map((r) => [r.endpoint, r.status, r.stream])).toEqual([["responses", 200, 0], ["responses", 200, 1], ["responses", 400, 0]]);
    expect(rows.slice(0, 2).every((r) => r.completion_tokens > 0 && r.cost_micros > 0)).toBe(true);
  });
});

describe("Vercel AI SDK: the default openai(model) calls /v1/responses", () => {
  test("generateText and streamText", async () => {
    const provider = createOpenAI({ baseURL: `${gateway.url}/v1`, apiKey: key.key });
    const generated = await generateText({ model: provider("echo"), prompt: "hi from the ai sdk" });
    expect(generated.text).toBe("echo: hi from the ai sdk");
    expect(generated.usage.outputTokens).toBeGreaterThan(0);
    const streamed = streamText({ model: provider("echo"), prompt: "streamed words here" });
    let text = "";
    for await (const piece of streamed.textStream) text += piece;
    expect(text).toBe("echo: streamed words here");
    expect((await streamed.usage).outputTokens).toBeGreaterThan(0);
  });
});

describe("client disconnects and native engines", () => {
  test("a client that leaves a translated stream aborts the engine's request", async () => {
    const controller = new AbortController();
    const response = await fetch(`${gateway.url}/v1/responses`, { method: "POST", signal: controller.signal, headers: { authorization: `Bearer ${key.key}` }, body: JSON.stringify({ model: "slow", input: "x", stream: true }) });
    const reader = response.body!.getReader();
    await reader.read();
    controller.abort();
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && !(await upstream.aborts()).some((a) => a.model === "slow")) await Bun.sleep(50);
    expect((await upstream.aborts()).some((a) => a.model === "slow")).toBe(true);
  });

  test("a backend that declares responses and messages gets them passed through unchanged", async () => {
    const responses = await fetch(`${gateway.url}/v1/responses`, { method: "POST", headers: { authorization: `Bearer ${key.key}` }, body: JSON.stringify({ model: "native", input: "x" }) });
    const messages = await fetch(`${gateway.url}/v1/messages`, { method: "POST", headers: { "x-api-key": key.key }, body: JSON.stringify({ model: "native", max_tokens: 5, messages: [{ role: "user", content: "x" }] }) });
    const paths = (await upstream.requests()).map((r) => r.path);
    expect(paths).toContain("/v1/responses");
    expect(paths).toContain("/v1/messages");
    // the scripted engine serves neither: its 404 comes back, in each API's error shape
    expect(responses.status).toBe(404);
    expect(((await messages.json()) as { type: string; error: { type: string } }).error.type).toBe("not_found_error");
  });
});

const createKey = (name: string) => createKeyOn(gateway, ADMIN, { name });
const createKeyWith = (settings: Record<string, unknown>) => createKeyOn(gateway, ADMIN, settings);
