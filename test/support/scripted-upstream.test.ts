import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { connect } from "node:net";
import { spawnScriptedUpstream, type AbortRecord, type ScriptedUpstream } from "./scripted-upstream.ts";

let upstream: ScriptedUpstream;

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
});

afterAll(async () => {
  await upstream?.stop();
});

beforeEach(async () => {
  await upstream.reset();
});

// ---------------------------------------------------------------------------
// helpers

type Json = Record<string, unknown>;

interface ChatChunk {
  id: string;
  object: string;
  model: string;
  choices: Array<{ index: number; delta: Json; finish_reason: string | null }>;
  usage?: { prompt_tokens: number; completion_tokens: number; total_tokens: number };
}

const USER_HELLO = [{ role: "user", content: "hello big world" }];

function chat(body: Json, init: RequestInit = {}): Promise<Response> {
  return fetch(`${upstream.url}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json", authorization: "Bearer upstream-key", "X-Custom-Header": "Yes" },
    body: JSON.stringify(body),
    ...init,
  });
}

/** Splits an SSE body into its `data:` payloads (raw strings). */
function sseData(text: string): string[] {
  return text
    .split("\n\n")
    .filter((event) => event.startsWith("data: "))
    .map((event) => event.slice("data: ".length));
}

function parseChunks(payloads: string[]): ChatChunk[] {
  return payloads.filter((p) => p !== "[DONE]").map((p) => JSON.parse(p) as ChatChunk);
}

function contentOf(chunks: ChatChunk[]): string {
  return chunks.map((c) => (typeof c.choices[0]?.delta.content === "string" ? c.choices[0].delta.content : "")).join("");
}

/** Polls `probe` until it returns a value (bounded). */
async function eventually<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe();
    if (value !== undefined) return value;
    await Bun.sleep(25);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
}

async function waitForRequest(model: string): Promise<void> {
  await eventually(async () => {
    const requests = await upstream.requests();
    return requests.some((r) => (r.body as Json).model === model) ? true : undefined;
  }, `a recorded request for ${model}`);
}

async function waitForAbort(model: string): Promise<AbortRecord> {
  return eventually(async () => (await upstream.aborts()).find((a) => a.model === model), `an abort record for ${model}`);
}

interface ChunkReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
}

/** Reads SSE events from a streaming response until `count` data payloads arrived. */
async function readEvents(reader: ChunkReader, count: number): Promise<string[]> {
  const decoder = new TextDecoder();
  let text = "";
  while (sseData(text).length < count || !text.endsWith("\n\n")) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
  }
  return sseData(text);
}

// ---------------------------------------------------------------------------

describe("process", () => {
  test("a second instance starts on its own free port and stops on SIGTERM", async () => {
    const other = await spawnScriptedUpstream();
    try {
      expect(other.port).toBeGreaterThan(0);
      expect(other.port).not.toBe(upstream.port);
      expect(other.url).toBe(`http://127.0.0.1:${other.port}`);
      expect((await fetch(`${other.url}/health`)).status).toBe(200);
    } finally {
      await other.stop();
    }
    await expect(fetch(`${other.url}/health`)).rejects.toThrow();
  });
});

describe("health and models", () => {
  test("GET /health is ok", async () => {
    const res = await fetch(`${upstream.url}/health`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  test("GET /v1/models lists the scripted models", async () => {
    const body = (await (await fetch(`${upstream.url}/v1/models`)).json()) as { object: string; data: Json[] };
    expect(body.object).toBe("list");
    const ids = body.data.map((m) => m.id);
    for (const id of ["echo", "fail-500", "fail-503", "fail-429", "fail-400", "stall", "slow", "cut-stream", "bad-sse", "tool-call", "no-usage"]) {
      expect(ids).toContain(id);
    }
    expect(body.data[0]).toEqual({ id: "echo", object: "model", created: 1700000000, owned_by: "scripted" });
  });

  test("unknown routes give an OpenAI-shaped 404", async () => {
    const res = await fetch(`${upstream.url}/v1/nope`);
    expect(res.status).toBe(404);
    const body = (await res.json()) as { error: Json };
    expect(typeof body.error.message).toBe("string");
  });
});

describe("echo", () => {
  test("buffered completion", async () => {
    const res = await chat({ model: "Qwen/Qwen3-14B", messages: [{ role: "system", content: "be nice" }, ...USER_HELLO] });
    expect(res.status).toBe(200);
    const body = (await res.json()) as Json;
    expect(body).toMatchObject({
      object: "chat.completion",
      model: "Qwen/Qwen3-14B",
      choices: [{ index: 0, message: { role: "assistant", content: "echo: hello big world" }, finish_reason: "stop" }],
      // prompt: (2 + 3) + (3 + 3) words; completion: "echo: hello big world" = 4 words
      usage: { prompt_tokens: 11, completion_tokens: 4, total_tokens: 15 },
    });
    expect(body.id).toMatch(/^chatcmpl-upstream-\d+$/);
  });

  test("content-part arrays, last user message, n choices", async () => {
    const messages = [
      { role: "user", content: "first question" },
      { role: "assistant", content: "an answer" },
      { role: "user", content: [{ type: "text", text: "part one" }, { type: "image_url", image_url: { url: "x" } }, { type: "text", text: "part two" }] },
    ];
    const body = (await (await chat({ model: "echo", messages, n: 2 })).json()) as { choices: Array<{ index: number; message: Json }> };
    expect(body.choices.map((c) => c.index)).toEqual([0, 1]);
    for (const choice of body.choices) expect(choice.message.content).toBe("echo: part one part two");
  });

  test("ids increase per completion", async () => {
    const first = (await (await chat({ model: "echo", messages: USER_HELLO })).json()) as Json;
    const second = (await (await chat({ model: "echo", messages: USER_HELLO })).json()) as Json;
    expect(first.id).toBe("chatcmpl-upstream-1");
    expect(second.id).toBe("chatcmpl-upstream-2");
  });

  test("stream without include_usage", async () => {
    const res = await chat({ model: "echo", stream: true, messages: USER_HELLO });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toStartWith("text/event-stream");
    const payloads = sseData(await res.text());
    expect(payloads.at(-1)).toBe("[DONE]");
    const chunks = parseChunks(payloads);
    expect(chunks.every((c) => c.object === "chat.completion.chunk" && c.model === "echo" && c.id === chunks[0]?.id)).toBe(true);
    expect(chunks[0]?.choices[0]?.delta).toEqual({ role: "assistant", content: "" });
    expect(chunks.slice(1, -1).map((c) => c.choices[0]?.delta.content)).toEqual(["echo:", " hello", " big", " world"]);
    expect(chunks.at(-1)?.choices[0]).toMatchObject({ delta: {}, finish_reason: "stop" });
    expect(chunks.some((c) => c.usage !== undefined)).toBe(false);
  });

  test("stream with include_usage ends with a usage chunk before [DONE]", async () => {
    const res = await chat({ model: "echo", stream: true, stream_options: { include_usage: true }, messages: USER_HELLO });
    const payloads = sseData(await res.text());
    expect(payloads.at(-1)).toBe("[DONE]");
    const chunks = parseChunks(payloads);
    const last = chunks.at(-1);
    expect(last?.choices).toEqual([]);
    expect(last?.usage).toEqual({ prompt_tokens: 6, completion_tokens: 4, total_tokens: 10 });
    expect(contentOf(chunks)).toBe("echo: hello big world");
  });
});

describe("failures", () => {
  const cases: Array<[string, number, Json]> = [
    ["fail-500", 500, { message: "engine exploded", type: "server_error" }],
    ["fail-503", 503, { message: "engine overloaded", type: "server_error" }],
    ["fail-429", 429, { message: "too many requests in engine queue", type: "rate_limit" }],
    ["fail-400", 400, { message: "max_tokens is too large for this model", type: "BadRequestError", param: "max_tokens", code: 400 }],
  ];
  for (const [model, status, error] of cases) {
    test(`${model} -> ${status}`, async () => {
      const res = await chat({ model, messages: USER_HELLO, stream: true });
      expect(res.status).toBe(status);
      expect(await res.json()).toEqual({ error });
      if (model === "fail-429") expect(res.headers.get("retry-after")).toBe("7");
    });
  }
});

describe("aborts", () => {
  test("stall: the client aborting while the request is pending is recorded", async () => {
    const controller = new AbortController();
    const pending = chat({ model: "stall", messages: USER_HELLO }, { signal: controller.signal }).then(
      () => "answered",
      (error: Error) => error.name,
    );
    await waitForRequest("stall");
    expect(await upstream.aborts()).toEqual([]);
    controller.abort();
    expect(await pending).toBe("AbortError");
    const record = await waitForAbort("stall");
    expect(record.completed_chunks).toBe(0);
    expect(record.at_ms).toBeGreaterThan(0);
  });

  test("slow stream: the client aborting mid-stream is recorded once and the stream stops", async () => {
    const controller = new AbortController();
    const res = await chat({ model: "slow", stream: true, messages: USER_HELLO }, { signal: controller.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const events = await readEvents(reader, 3);
    expect(JSON.parse(events[1]!).choices[0].delta.content).toBe("tick0");
    controller.abort();
    const record = await waitForAbort("slow");
    expect(record.completed_chunks).toBeGreaterThanOrEqual(3);
    expect(record.completed_chunks).toBeLessThan(200);
    // req.signal and cancel() both fire in Bun 1.4.5; it must still be recorded once.
    await Bun.sleep(300);
    expect((await upstream.aborts()).length).toBe(1);
  });

  test("slow stream: cancelling the body reader is recorded", async () => {
    const res = await chat({ model: "slow", stream: true, messages: USER_HELLO });
    const reader = res.body!.getReader();
    await readEvents(reader, 2);
    await reader.cancel();
    const record = await waitForAbort("slow");
    expect(record.completed_chunks).toBeGreaterThanOrEqual(2);
  });

  test("slow stream: a raw socket hanging up is recorded", async () => {
    const socket = connect(upstream.port, "127.0.0.1");
    socket.on("error", () => {});
    const body = JSON.stringify({ model: "slow", stream: true, messages: USER_HELLO });
    let received = "";
    socket.on("data", (data) => (received += data.toString()));
    socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    await eventually(async () => (received.includes("tick1") ? true : undefined), "two words over the raw socket");
    socket.destroy();
    await waitForAbort("slow");
  });

  test("slow buffered: the client aborting before the answer is recorded", async () => {
    const controller = new AbortController();
    const pending = chat({ model: "slow", messages: USER_HELLO }, { signal: controller.signal }).catch((error: Error) => error.name);
    await waitForRequest("slow");
    controller.abort();
    expect(await pending).toBe("AbortError");
    expect((await waitForAbort("slow")).completed_chunks).toBe(0);
  });

  test("slow buffered answers eventually and records no abort", async () => {
    const buffered = (await (await chat({ model: "slow", messages: USER_HELLO })).json()) as { choices: Array<{ message: Json }> };
    expect(buffered.choices[0]?.message.content).toBe("echo: hello big world");
    expect(await upstream.aborts()).toEqual([]);
  });
});

describe("broken streams", () => {
  test("cut-stream: the body ends or errors without [DONE] after 3 words", async () => {
    const res = await chat({ model: "cut-stream", stream: true, messages: [{ role: "user", content: "one two three four five" }] });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = "";
    let failure: Error | undefined;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
      }
    } catch (error) {
      failure = error as Error;
    }
    const payloads = sseData(text);
    expect(payloads).not.toContain("[DONE]");
    const chunks = parseChunks(payloads);
    expect(chunks.slice(1).map((c) => c.choices[0]?.delta.content)).toEqual(["echo:", " one", " two"]);
    expect(chunks.some((c) => c.choices[0]?.finish_reason)).toBe(false);
    // Observed on Bun 1.4.5: the read rejects (ECONNRESET) rather than ending cleanly.
    expect(failure).toBeDefined();
  });

  test("cut-stream buffered behaves like echo", async () => {
    const body = (await (await chat({ model: "cut-stream", messages: USER_HELLO })).json()) as { choices: Array<{ message: Json }> };
    expect(body.choices[0]?.message.content).toBe("echo: hello big world");
  });

  test("bad-sse stream has a broken data line between valid chunks", async () => {
    const payloads = sseData(await (await chat({ model: "bad-sse", stream: true, messages: USER_HELLO })).text());
    expect(payloads).toHaveLength(4);
    expect(JSON.parse(payloads[0]!).choices[0].delta.role).toBe("assistant");
    expect(payloads[1]).toBe('{"id":"x", broken json');
    expect(() => JSON.parse(payloads[1]!)).toThrow();
    expect(JSON.parse(payloads[2]!).choices[0].delta.content).toBe("echo:");
    expect(payloads[3]).toBe("[DONE]");
  });

  test("bad-sse buffered is 200 with a non-JSON body", async () => {
    const res = await chat({ model: "bad-sse", messages: USER_HELLO });
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("application/json");
    expect(await res.text()).toBe("not json at all");
  });
});

describe("tool calls and usage", () => {
  test("tool-call buffered", async () => {
    const body = (await (await chat({ model: "tool-call", messages: USER_HELLO })).json()) as Json;
    expect(body).toMatchObject({
      choices: [
        {
          message: {
            role: "assistant",
            content: null,
            tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }],
          },
          finish_reason: "tool_calls",
        },
      ],
    });
  });

  test("tool-call stream assembles into get_weather({city: Paris})", async () => {
    const payloads = sseData(await (await chat({ model: "tool-call", stream: true, stream_options: { include_usage: true }, messages: USER_HELLO })).text());
    expect(payloads.at(-1)).toBe("[DONE]");
    const chunks = parseChunks(payloads);
    const deltas = chunks.flatMap((c) => (c.choices[0]?.delta.tool_calls as Json[] | undefined) ?? []);
    expect(deltas[0]).toEqual({ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } });
    const args = deltas.map((d) => (d.function as Json).arguments).join("");
    expect(JSON.parse(args)).toEqual({ city: "Paris" });
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]?.finish_reason).toBe("tool_calls");
    expect(chunks.at(-1)?.usage).toBeDefined();
  });

  test("no-usage never sends usage", async () => {
    const buffered = (await (await chat({ model: "no-usage", messages: USER_HELLO })).json()) as Json;
    expect(buffered.usage).toBeUndefined();
    expect((buffered.choices as Array<{ message: Json }>)[0]?.message.content).toBe("echo: hello big world");

    const payloads = sseData(await (await chat({ model: "no-usage", stream: true, stream_options: { include_usage: true }, messages: USER_HELLO })).text());
    expect(payloads.at(-1)).toBe("[DONE]");
    const chunks = parseChunks(payloads);
    expect(contentOf(chunks)).toBe("echo: hello big world");
    expect(chunks.some((c) => "usage" in c)).toBe(false);
  });
});

describe("embeddings", () => {
  function embed(body: Json): Promise<Response> {
    return fetch(`${upstream.url}/v1/embeddings`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  }

  interface EmbeddingList {
    object: string;
    model: string;
    data: Array<{ object: string; index: number; embedding: number[] | string }>;
    usage: { prompt_tokens: number; total_tokens: number };
  }

  test("float vectors are deterministic per text", async () => {
    const body = (await (await embed({ model: "bge", input: ["hello world", "other", "hello world"] })).json()) as EmbeddingList;
    expect(body.object).toBe("list");
    expect(body.model).toBe("bge");
    expect(body.usage).toEqual({ prompt_tokens: 5, total_tokens: 5 }); // 2 + 1 + 2 words
    expect(body.data.map((d) => d.index)).toEqual([0, 1, 2]);
    const [a, b, c] = body.data.map((d) => d.embedding as number[]);
    expect(a).toHaveLength(8);
    expect(a).toEqual(c!);
    expect(a).not.toEqual(b!);

    const single = (await (await embed({ model: "bge", input: "hello world" })).json()) as EmbeddingList;
    expect(single.data[0]?.embedding).toEqual(a!);
  });

  test("base64 is the little-endian float32 bytes of the same vector", async () => {
    const floats = (await (await embed({ model: "bge", input: "hello world" })).json()) as EmbeddingList;
    const b64 = (await (await embed({ model: "bge", input: "hello world", encoding_format: "base64" })).json()) as EmbeddingList;
    const encoded = b64.data[0]?.embedding;
    expect(typeof encoded).toBe("string");
    const bytes = Buffer.from(encoded as string, "base64");
    expect(bytes.length).toBe(32);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const decoded = Array.from({ length: 8 }, (_, i) => view.getFloat32(i * 4, true));
    expect(decoded).toEqual(floats.data[0]?.embedding as number[]);
  });

  test("fail-500 fails", async () => {
    const res = await embed({ model: "fail-500", input: "x" });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { message: "engine exploded", type: "server_error" } });
  });
});

describe("control and recording", () => {
  test("POST requests to /v1/* are recorded with lower-case headers and parsed bodies", async () => {
    await chat({ model: "echo", messages: USER_HELLO });
    await fetch(`${upstream.url}/v1/embeddings`, { method: "POST", body: JSON.stringify({ model: "e", input: "x" }) });
    await fetch(`${upstream.url}/health`);
    const requests = await upstream.requests();
    expect(requests.map((r) => r.path)).toEqual(["/v1/chat/completions", "/v1/embeddings"]);
    expect(requests[0]?.headers.authorization).toBe("Bearer upstream-key");
    expect(requests[0]?.headers["x-custom-header"]).toBe("Yes");
    expect(requests[0]?.body).toEqual({ model: "echo", messages: USER_HELLO });
  });

  test("health status, extra and hidden models, reset", async () => {
    await upstream.control({ health: 503, models: ["extra-model"], hide_models: ["stall"] });
    const health = await fetch(`${upstream.url}/health`);
    expect(health.status).toBe(503);
    await health.body?.cancel();
    const ids = async (): Promise<unknown[]> =>
      ((await (await fetch(`${upstream.url}/v1/models`)).json()) as { data: Json[] }).data.map((m) => m.id);
    expect(await ids()).toContain("extra-model");
    expect(await ids()).not.toContain("stall");

    await chat({ model: "echo", messages: USER_HELLO });
    await upstream.reset();
    expect((await fetch(`${upstream.url}/health`)).status).toBe(200);
    expect(await ids()).toContain("stall");
    expect(await ids()).not.toContain("extra-model");
    expect(await upstream.requests()).toEqual([]);
  });

  test("raw control endpoints", async () => {
    const res = await fetch(`${upstream.url}/__control`, { method: "POST", body: JSON.stringify({ health: 500 }) });
    expect(res.status).toBe(200);
    expect((await fetch(`${upstream.url}/health`)).status).toBe(500);
    expect((await fetch(`${upstream.url}/__control`, { method: "POST", body: JSON.stringify({ models: "nope" }) })).status).toBe(400);
    expect((await fetch(`${upstream.url}/__reset`, { method: "POST" })).status).toBe(200);
    expect(await (await fetch(`${upstream.url}/__aborts`)).json()).toEqual([]);
    expect(await (await fetch(`${upstream.url}/__requests`)).json()).toEqual([]);
  });
});
