// Models, model health, embeddings and the operations endpoints, through the real gateway process.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let client: OpenAI;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  await upstream.control({ models: ["Qwen/Qwen3-14B"] });
  const config = configFor(
    upstream.url,
    [
      { name: "echo", extra: "display_name: Echo\ndescription: Repeats the last user message." },
      { name: "Qwen/Qwen3-14B" },
      { name: "deepseek-eu", model: "echo", public: true, extra: "owned_by: provider-x" },
      { name: "warming", model: "not-listed-yet" },
      { name: "fail-500" },
      { name: "nowhere", url: "http://127.0.0.1:9/v1" },
      { name: "float-only" },
    ],
  ).replace("backends:", "health:\n  interval_ms: 200\nbackends:");
  gateway = await spawnGateway(config);
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});

describe("models", () => {
  test("lists every served model with display metadata", async () => {
    const page = await client.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toEqual(["echo", "Qwen/Qwen3-14B", "public:deepseek-eu", "warming", "fail-500", "nowhere", "float-only"]);
    const echo = page.data[0] as unknown as Record<string, unknown>;
    expect(echo).toMatchObject({ object: "model", owned_by: "sluice", display_name: "Echo", description: "Repeats the last user message." });
    expect(typeof echo.created).toBe("number");
    expect((page.data[2] as unknown as Record<string, unknown>).owned_by).toBe("provider-x");
    expect((page.data[1] as unknown as Record<string, unknown>).display_name).toBe("Qwen/Qwen3-14B");
  });

  test("retrieves one model, also with a slash in its id, raw or %2F-encoded", async () => {
    expect((await client.models.retrieve("echo")).id).toBe("echo");
    for (const path of ["Qwen/Qwen3-14B", "Qwen%2FQwen3-14B"]) {
      const response = await fetch(`${gateway.url}/v1/models/${path}`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { id: string }).id).toBe("Qwen/Qwen3-14B");
    }
    expect((await client.models.retrieve("public:deepseek-eu")).id).toBe("public:deepseek-eu");
  });

  test("an unknown model → 404", async () => {
    const response = await fetch(`${gateway.url}/v1/models/nope`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { message: string } }).error.message).toContain("'nope'");
  });

  test("health comes from the engine's /health and /v1/models", async () => {
    const health = async (id: string) => ((await (await fetch(`${gateway.url}/v1/models/${id}/health`)).json()) as { model: string; status: string });
    expect(await health("echo")).toEqual({ model: "echo", status: "ready" });
    expect(await health("Qwen%2FQwen3-14B")).toEqual({ model: "Qwen/Qwen3-14B", status: "ready" });
    expect((await health("warming")).status).toBe("loading");
    expect((await health("nowhere")).status).toBe("unavailable");

    // The engine starts loading (503 on /health): every backend on it turns "loading", then "ready" again.
    await upstream.control({ health: 503 });
    await eventually(async () => ((await health("echo")).status === "loading" ? true : undefined));
    await upstream.control({ health: 200, models: ["Qwen/Qwen3-14B", "not-listed-yet"] });
    await eventually(async () => ((await health("warming")).status === "ready" ? true : undefined));
    // Checks never cost a completion.
    expect((await upstream.requests()).filter((r) => r.path.includes("chat"))).toHaveLength(0);
  });
});

describe("embeddings", () => {
  test("float and base64, string and array input", async () => {
    const single = await client.embeddings.create({ model: "echo", input: "hello", encoding_format: "float" });
    expect(single.data).toHaveLength(1);
    expect(single.data[0]!.embedding).toHaveLength(8);
    expect(single.model).toBe("echo");

    const batch = await client.embeddings.create({ model: "echo", input: ["a", "b", "c"], encoding_format: "float" });
    expect(batch.data.map((d) => d.index)).toEqual([0, 1, 2]);

    // base64 is the little-endian float32 bytes of the same vector.
    const viaBase64 = await client.embeddings.create({ model: "echo", input: "hello", encoding_format: "base64" });
    const encoded = viaBase64.data[0]!.embedding as unknown as string;
    expect(typeof encoded).toBe("string");
    const bytes = Buffer.from(encoded, "base64");
    expect([...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)]).toEqual(single.data[0]!.embedding);
  });

  test("base64 is encoded by the gateway when the engine ignores encoding_format", async () => {
    const floats = await client.embeddings.create({ model: "float-only", input: "hello", encoding_format: "float" });
    const encoded = await client.embeddings.create({ model: "float-only", input: "hello", encoding_format: "base64" });
    const text = encoded.data[0]!.embedding as unknown as string;
    expect(typeof text).toBe("string");
    const bytes = Buffer.from(text, "base64");
    expect([...new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)]).toEqual(floats.data[0]!.embedding);
  });

  test("errors: unknown model 404, bad input 400, engine failure 502", async () => {
    const post = (body: unknown) => fetch(`${gateway.url}/v1/embeddings`, { method: "POST", body: JSON.stringify(body) });
    expect((await post({ model: "nope", input: "x" })).status).toBe(404);
    expect((await post({ model: "echo" })).status).toBe(400);
    expect((await post({ model: "echo", input: 42 })).status).toBe(400);
    expect((await post({ model: "echo", input: "x", encoding_format: "hex" })).status).toBe(400);
    expect((await post({ model: "fail-500", input: "x" })).status).toBe(502);
  });
});

describe("operations", () => {
  test("every response carries x-request-id, errors included", async () => {
    for (const path of ["/v1/models", "/v1/models/echo", "/v1/models/nope", "/healthz", "/metrics", "/openapi.json", "/no-such-route"]) {
      expect((await fetch(`${gateway.url}${path}`)).headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  test("/healthz, /readyz and /metrics", async () => {
    expect((await fetch(`${gateway.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${gateway.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { backends: Record<string, string> }).backends.nowhere).toBe("unavailable");

    await client.chat.completions.create({ model: "echo", messages: [{ role: "user", content: "count me" }] });
    const stream = await client.chat.completions.create({ model: "echo", stream: true, messages: [{ role: "user", content: "and me" }] });
    for await (const _ of stream);
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/sluice_requests_total\{route="chat",model="echo",backend="echo",status="200"\} [1-9]/);
    expect(metrics).toMatch(/sluice_request_duration_seconds_bucket\{route="chat",model="echo",backend="echo",le="\+Inf"\} [1-9]/);
    expect(metrics).toMatch(/sluice_time_to_first_token_seconds_count\{route="chat",model="echo",backend="echo"\} [1-9]/);
    expect(metrics).toMatch(/sluice_tokens_total\{route="chat",model="echo",backend="echo",kind="completion"\} [1-9]/);
    expect(metrics).toMatch(/sluice_in_flight_requests 0/);
    expect(metrics).toMatch(/sluice_backend_health\{backend="nowhere"\} 0/);
  });
});
