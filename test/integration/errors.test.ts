// Every failure a client can meet, through the real gateway process: OpenAI-shaped errors with the right status.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor, SCRIPTED_BACKENDS } from "../support/config.ts";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(configFor(upstream.url, SCRIPTED_BACKENDS, "  max_body_bytes: 2000"));
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

interface ErrorBody {
  error: { message: string; type: string; code: string | null; param: string | null };
}

async function post(body: string, headers: Record<string, string> = {}): Promise<{ status: number; json: ErrorBody; headers: Headers }> {
  const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  return { status: response.status, json: (await response.json()) as ErrorBody, headers: response.headers };
}

async function sdkError(model: string, stream = false): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    const result = await client.chat.completions.create({ model, stream, messages: [{ role: "user", content: "hi" }] });
    if (stream) for await (const _ of result as AsyncIterable<unknown>);
  } catch (error) {
    if (error instanceof OpenAI.APIError) return error;
    throw error;
  }
  throw new Error("expected an error");
}

describe("bad input → 4xx that says what to fix", () => {
  test("unknown model → 404 naming it and how to list models", async () => {
    const error = await sdkError("gpt-nope");
    expect(error.status).toBe(404);
    expect(error.message).toContain("'gpt-nope'");
    expect(error.message).toContain("GET /v1/models");
    expect(error.code).toBe("model_not_found");
  });

  test("a public model asked without its prefix gets a hint", async () => {
    expect((await sdkError("deepseek-eu")).message).toContain("public:deepseek-eu");
  });

  test("invalid JSON → 400", async () => {
    const { status, json } = await post("{not json");
    expect(status).toBe(400);
    expect(json.error.code).toBe("invalid_json");
  });

  test("schema violations name the field", async () => {
    const cases: [unknown, string][] = [
      [{ messages: [{ role: "user", content: "x" }] }, "model"],
      [{ model: "echo", messages: [] }, "messages"],
      [{ model: "echo", messages: [{ role: "robot", content: "x" }] }, "messages[0].role"],
      [{ model: "echo", messages: [{ role: "user", content: "x" }], temperature: "hot" }, "temperature"],
      [{ model: "echo", messages: [{ role: "user", content: "x" }], stream: "yes" }, "stream"],
      [[1, 2], ""],
      ["just a string", ""],
      [null, ""],
    ];
    for (const [body, field] of cases) {
      const { status, json } = await post(JSON.stringify(body));
      expect(status).toBe(400);
      expect(json.error.type).toBe("invalid_request_error");
      if (field) expect(json.error.message).toStartWith(`${field}:`);
    }
  });

  test("a body over server.max_body_bytes → 413, also when sent chunked", async () => {
    const big = JSON.stringify({ model: "echo", messages: [{ role: "user", content: "x".repeat(5000) }] });
    const { status, json } = await post(big);
    expect(status).toBe(413);
    expect(json.error.message).toContain("server.max_body_bytes");

    const chunked = new ReadableStream({
      start(controller) {
        for (let i = 0; i < 10; i++) controller.enqueue(new TextEncoder().encode(big.slice(i * 600, (i + 1) * 600)));
        controller.close();
      },
    });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", body: chunked, headers: { "content-type": "application/json" } });
    expect(response.status).toBe(413);
  });

  test("unknown routes are OpenAI-shaped 404s", async () => {
    const response = await fetch(`${gateway.url}/v1/nothing-here`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as ErrorBody).error.type).toBe("invalid_request_error");
  });

  test("no input shape produces a 500", async () => {
    const bodies = ["", "[]", "{}", '{"model":1}', '{"model":"echo","messages":"hi"}', '{"model":"echo","messages":[null]}', '{"model":"echo","messages":[{"role":"user","content":[{"type":"video"}]}]}', "\u0000", '{"model":"echo","messages":[{"role":"user","content":"x"}],"tools":"all"}'];
    for (const body of bodies) {
      const { status } = await post(body);
      expect(status).toBeGreaterThanOrEqual(400);
      expect(status).toBeLessThan(500);
    }
  });
});

describe("engine failures", () => {
  test("engine 5xx → 502 carrying the engine's message", async () => {
    const error = await sdkError("fail-500");
    expect(error.status).toBe(502);
    expect(error.message).toContain("engine exploded");
    expect((await sdkError("fail-503")).status).toBe(502);
  });

  test("engine 429 → 429 with the engine's Retry-After", async () => {
    const { status, headers, json } = await post(JSON.stringify({ model: "fail-429", messages: [{ role: "user", content: "x" }] }));
    expect(status).toBe(429);
    expect(headers.get("retry-after")).toBe("7");
    expect(json.error.type).toBe("rate_limit_error");
  });

  test("engine 4xx passes through with its status and message", async () => {
    const error = await sdkError("fail-400");
    expect(error.status).toBe(400);
    expect(error.message).toContain("max_tokens is too large");
  });

  test("engine unreachable → 502 naming the backend", async () => {
    const error = await sdkError("nowhere");
    expect(error.status).toBe(502);
    expect(error.message).toContain("'nowhere'");
  });

  test("engine timeout → 504 naming the setting", async () => {
    const error = await sdkError("slow-timeout");
    expect(error.status).toBe(504);
    expect(error.message).toContain("timeout_ms");
  });

  test("engine answering invalid JSON → 502", async () => {
    expect((await sdkError("bad-sse")).status).toBe(502);
  });

  test("errors on a stream request arrive before the stream starts, with the same statuses", async () => {
    expect((await sdkError("fail-500", true)).status).toBe(502);
    expect((await sdkError("fail-429", true)).status).toBe(429);
  });
});

describe("streams that break", () => {
  async function rawStream(model: string): Promise<string> {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model, stream: true, messages: [{ role: "user", content: "one two three four five" }] }),
    });
    expect(response.status).toBe(200);
    return response.text();
  }

  test("a stream the engine cuts ends with an error event and no [DONE]", async () => {
    const text = await rawStream("cut-stream");
    expect(text).toContain('"code":"stream_interrupted"');
    expect(text).not.toContain("[DONE]");
    // The SDK surfaces it as an error rather than a clean end.
    await expect(sdkError("cut-stream", true)).resolves.toBeInstanceOf(OpenAI.APIError);
  });

  test("a malformed SSE event ends the stream with an error event and no [DONE]", async () => {
    const text = await rawStream("bad-sse");
    expect(text).toContain('"code":"bad_upstream_sse"');
    expect(text).not.toContain("[DONE]");
  });

  test("an engine that goes quiet mid-stream is cut after stream_idle_timeout_ms", async () => {
    const text = await rawStream("slow-idle");
    expect(text).toContain('"code":"stream_interrupted"');
    expect(text).toContain("stream_idle_timeout_ms");
    expect(text).not.toContain("[DONE]");
  });
});
