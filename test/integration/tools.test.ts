// Platform tools through the real gateway: the loop with a scripted model that calls tools (one, several in
// parallel, client and platform mixed, a failing tool, a model that loops), buffered and streamed; local search,
// the browser against a page served here, and vector search end to end.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join, resolve } from "node:path";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";

const ROOT = resolve(import.meta.dir, "../..");
let upstream: ScriptedUpstream;
let gateway: RunningGateway;
let client: OpenAI;
let site: ReturnType<typeof Bun.serve>;

const ARTICLE = `<html><head><title>Shipping times</title></head><body><nav>Home | Shop | Contact</nav>
<article><h1>Shipping times</h1><p>Orders placed before noon ship the same day from our Leipzig warehouse.</p>
<p>Deliveries inside Germany take one to two business days; the rest of the EU takes three to five.</p></article>
<footer>© Example GmbH</footer></body></html>`;

beforeAll(async () => {
  site = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(ARTICLE, { headers: { "content-type": "text/html; charset=utf-8" } }) });
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(
    `server: {host: 127.0.0.1, port: 0}
auth: {mode: none}
backends:
  - {name: tool-user, url: ${upstream.url}/v1}
  # $1 per input token: a query's embedding shows plainly in its request's cost.
  - {name: embedder, url: ${upstream.url}/v1, model: echo, pricing: {input_per_mtok: 1000000}}
  - {name: quiet-tools, url: ${upstream.url}/v1, model: slow, stream_idle_timeout_ms: 40}
balancers:
  - {name: tool-router, strategy: priority, routes: [{name: only, targets: [tool-user]}]}
tools:
  max_rounds: 3
  search: {provider: local, cost_per_query_usd: 0.0049}
  browser: {allow_hosts: [127.0.0.1]}
vector_databases:
  - {name: kb, embedding_backend: embedder}
`,
    { args: ["--plugins", join(ROOT, "plugins")] },
  );
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
  const added = await fetch(`${gateway.url}/v1/search/documents`, {
    method: "POST",
    body: JSON.stringify({
      documents: [
        { id: "refunds", title: "Refund policy", url: "https://shop.example/refunds", text: "Refunds are paid within 14 days of receiving the returned item." },
        { id: "hours", title: "Opening hours", url: "https://shop.example/hours", text: "The store opens at nine and closes at six on weekdays." },
      ],
    }),
  });
  expect(added.status).toBe(200);
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
  site?.stop(true);
});
beforeEach(() => upstream.reset());

type Answer = Record<string, any>;

async function ask(content: string, tools: unknown[], extra: Record<string, unknown> = {}): Promise<Answer> {
  return (await client.chat.completions.create({ model: "tool-user", messages: [{ role: "user", content }], tools, ...extra } as never)) as unknown as Answer;
}

const chatBodies = async () => (await upstream.requests()).filter((r) => r.path === "/v1/chat/completions").map((r) => r.body as Answer);

describe("the loop, buffered", () => {
  test("one platform call: the tool runs, its results go back to the model, the answer lists the run and sums usage", async () => {
    const answer = await ask('call: search({"query":"refund"})', [{ type: "search" }]);
    expect(answer.choices[0].message.content).toStartWith("final: 1. Refund policy (https://shop.example/refunds)");
    expect(answer.tool_runs).toHaveLength(1);
    expect(answer.tool_runs[0]).toMatchObject({ type: "search", name: "search", arguments: { query: "refund" }, results: 1 });
    expect(typeof answer.timings.tools_ms).toBe("number");
    const bodies = await chatBodies();
    expect(bodies).toHaveLength(2);
    expect(bodies[0]!.tools[0]).toMatchObject({ type: "function", function: { name: "search" } });
    expect(bodies[1]!.messages.at(-1)).toMatchObject({ role: "tool", tool_call_id: "call_0_0" });
    expect(answer.usage.prompt_tokens).toBeGreaterThan(0);
    expect(answer.usage.total_tokens).toBe(answer.usage.prompt_tokens + answer.usage.completion_tokens);
  });

  test("several calls run in parallel: search and the browser (readable text, no navigation)", async () => {
    const answer = await ask(`call: search({"query":"opening hours"}); browser({"url":"http://127.0.0.1:${site.port}/shipping"})`, [{ type: "search" }, { type: "browser" }]);
    expect(answer.tool_runs.map((run: { name: string }) => run.name).sort()).toEqual(["browser", "search"]);
    const content: string = answer.choices[0].message.content;
    expect(content).toContain("Opening hours");
    expect(content).toContain("Title: Shipping times");
    const toolMessage = (await chatBodies())[1]!.messages.find((m: Answer) => m.role === "tool" && String(m.content).startsWith("Title:"));
    expect(toolMessage.content).toContain("Leipzig warehouse");
    expect(toolMessage.content).not.toContain("Home | Shop | Contact");
  });

  test("a failing tool (an address the browser refuses) becomes the tool's error text; the request succeeds", async () => {
    const answer = await ask('call: browser({"url":"http://10.0.0.1/admin"})', [{ type: "browser" }]);
    expect(answer.tool_runs[0].error).toContain("10.0.0.1");
    expect(answer.choices[0].message.content).toContain("final: error:");
  });

  test("a client function call goes back to the client untouched", async () => {
    const weather = { type: "function", function: { name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } } } } };
    const answer = await ask('call: get_weather({"city":"Paris"})', [{ type: "search" }, weather]);
    expect(answer.choices[0].message.tool_calls[0].function).toEqual({ name: "get_weather", arguments: '{"city":"Paris"}' });
    expect(answer.tool_runs).toEqual([]);
    expect(await chatBodies()).toHaveLength(1);
  });

  test("a model that keeps calling tools stops after tools.max_rounds model calls", async () => {
    const answer = await ask('loop: true call: search({"query":"refund"})', [{ type: "search" }]);
    expect(await chatBodies()).toHaveLength(3);
    expect(answer.tool_runs).toHaveLength(2);
    expect(answer.tool_loop).toEqual({ stopped: "max_rounds" });
    expect((await chatBodies())[2]!.tool_choice).toBe("none");
  });

  test("unknown tool type → 400 listing the platform tools", async () => {
    const error = await ask("hi", [{ type: "teleport" }]).catch((e) => e);
    expect(error.status).toBe(400);
    expect(error.message).toContain("unknown tool type 'teleport'");
    expect(error.message).toContain("browser, flexible_vector_database_search, search");
  });
});

describe("the loop, streamed", () => {
  test("tool_call deltas, then a chunk with the formatted results and its tool_run, then the answer; usage summed at the end", async () => {
    const stream = await client.chat.completions.create({ model: "tool-user", stream: true, messages: [{ role: "user", content: 'call: search({"query":"refund"})' }], tools: [{ type: "search" }] } as never);
    const chunks: Answer[] = [];
    for await (const chunk of stream as unknown as AsyncIterable<Answer>) chunks.push(chunk);
    const toolDelta = chunks.findIndex((c) => c.choices?.[0]?.delta?.tool_calls);
    const results = chunks.findIndex((c) => c.tool_run);
    const answer = chunks.findIndex((c) => String(c.choices?.[0]?.delta?.content ?? "").startsWith("final"));
    expect(toolDelta).toBeGreaterThanOrEqual(0);
    expect(results).toBeGreaterThan(toolDelta);
    expect(answer).toBeGreaterThan(results);
    expect(chunks[results]!.choices[0].delta.content).toContain("Refund policy");
    const last = chunks.at(-1)!;
    expect(last.usage.total_tokens).toBeGreaterThan(0);
    expect(last.tool_runs).toHaveLength(1);
    const text = chunks.map((c) => c.choices?.[0]?.delta?.content ?? "").join("");
    expect(text).toContain("final: 1. Refund policy");
  });

  test("an engine that goes quiet mid-stream is cut after stream_idle_timeout_ms: an error event, no [DONE]", async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "quiet-tools", stream: true, messages: [{ role: "user", content: "hello there" }], tools: [{ type: "search" }] }),
    });
    const text = await response.text();
    expect(text).toContain('"code":"stream_interrupted"');
    expect(text).toContain("sent nothing for 40 ms (backends[].stream_idle_timeout_ms)");
    expect(text).not.toContain("[DONE]");
  });

  test("through a balancer the stream starts with the routing event, as without tools", async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "tool-router", stream: true, messages: [{ role: "user", content: 'call: search({"query":"refund"})' }], tools: [{ type: "search" }] }),
    });
    expect(response.headers.get("x-sluice-route")).toBe("tool-router/only");
    const events = (await response.text()).split("\n\n").filter(Boolean);
    expect(JSON.parse(events[0]!.slice("data: ".length))).toEqual({ object: "routing", balancer: "tool-router", route: "only", strategy: "priority", model: "tool-user", attempts: 1, choices: [] });
    expect(events.at(-1)).toBe("data: [DONE]");
    const text = events.slice(1, -1).map((event) => JSON.parse(event.slice("data: ".length)).choices?.[0]?.delta?.content ?? "").join("");
    expect(text).toContain("final: 1. Refund policy");
  });
});

describe("vector databases", () => {
  test("documents are added, counted and searched; a query in the request is searched before the first model call", async () => {
    const add = await fetch(`${gateway.url}/v1/vector_databases/kb/documents`, {
      method: "POST",
      body: JSON.stringify({
        documents: [
          { id: "warranty", text: "The warranty covers manufacturing defects for two years from purchase.", metadata: { lang: "en" } },
          { id: "shipping", text: "Parcels leave the warehouse the same day when ordered before noon.", metadata: { lang: "en" } },
        ],
      }),
    });
    expect(add.status).toBe(200);
    expect(await add.json()).toMatchObject({ documents: 2, ids: ["warranty", "shipping"] });
    const list = (await (await fetch(`${gateway.url}/v1/vector_databases`)).json()) as Answer;
    expect(list.data[0]).toMatchObject({ name: "kb", documents: 2, embedding_backend: "embedder" });

    const answer = await ask("hello", [{ type: "flexible_vector_database_search", vector_database: "kb", query: "The warranty covers manufacturing defects for two years from purchase.", top_k: 1 }]);
    expect(answer.tool_runs[0]).toMatchObject({ type: "flexible_vector_database_search", results: 1 });
    // The query's embedding is billed to the request: 10 tokens at $1 (the chat model is unpriced).
    const id = String(answer.id).replace("chatcmpl-", "");
    const row = await eventually(() => new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true }).query("SELECT cost_micros FROM ledger WHERE request_id = ?").get(id) ?? undefined);
    expect((row as { cost_micros: number }).cost_micros).toBe(10_000_000);
    const context = (await chatBodies())[0]!.messages[0];
    expect(context.role).toBe("system");
    expect(context.content).toContain("(warranty, score 1.000)");

    const removed = await fetch(`${gateway.url}/v1/vector_databases/kb/documents`, { method: "DELETE", body: JSON.stringify({ ids: ["shipping"] }) });
    expect(await removed.json()).toMatchObject({ removed: 1 });
  });

  test("an unknown vector database is a 404 that lists the configured ones", async () => {
    const response = await fetch(`${gateway.url}/v1/vector_databases/nope/documents`, { method: "POST", body: JSON.stringify({ documents: [{ text: "x" }] }) });
    expect(response.status).toBe(404);
    expect(((await response.json()) as Answer).error.message).toContain("configured: kb");
  });

  test("the ledger keeps the tools' time, and bills each search query at tools.search.cost_per_query_usd", async () => {
    const answer = await ask('call: search({"query":"refund"})', [{ type: "search" }]);
    const id = String(answer.id).replace("chatcmpl-", "");
    const row = await eventually(() => new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true }).query("SELECT tools_ms, cost_micros FROM ledger WHERE request_id = ?").get(id) ?? undefined);
    expect((row as { tools_ms: number }).tools_ms).toBeGreaterThanOrEqual(0);
    expect((row as { cost_micros: number }).cost_micros).toBe(4_900); // the model is unpriced: one query at $0.0049
  });
});

describe("keys and tools", () => {
  test("a key limited to some tools gets 403 for the others", async () => {
    const ADMIN = "inf_" + "T".repeat(20) + "adminadminadminadmin";
    const keyed = await spawnGateway(`server: {host: 127.0.0.1, port: 0}\nauth: {mode: keys}\nbackends:\n  - {name: tool-user, url: ${upstream.url}/v1}\n`, {
      args: ["--plugins", join(ROOT, "plugins")],
      env: { SLUICE_ADMIN_KEY: ADMIN },
    });
    try {
      const created = (await (await fetch(`${keyed.url}/v1/keys`, { method: "POST", headers: { authorization: `Bearer ${ADMIN}` }, body: JSON.stringify({ name: "search-only", tools: ["search"] }) })).json()) as { key: string; tools: string[] };
      expect(created.tools).toEqual(["search"]);
      const limited = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: created.key, maxRetries: 0 });
      const ok = (await limited.chat.completions.create({ model: "tool-user", messages: [{ role: "user", content: "hi" }], tools: [{ type: "search" }] } as never)) as unknown as Answer;
      expect(ok.choices[0].message.content).toBe("final: "); // tool-user answers "final: …" when it calls no tool
      const refused = await limited.chat.completions.create({ model: "tool-user", messages: [{ role: "user", content: "hi" }], tools: [{ type: "browser" }] } as never).catch((e) => e);
      expect(refused.status).toBe(403);
      expect(refused.message).toContain("may not use the browser tool");
    } finally {
      await keyed.stop();
    }
  }, 30_000);
});

describe("vector databases on PostgreSQL (pgvector)", () => {
  // test/setup-system.sh (run by `npm test`) installs PostgreSQL with pgvector built from Debian's source package.
  const PG_URL = process.env.SLUICE_TEST_POSTGRES_URL ?? "postgres://sluice:sluice@127.0.0.1:5432/sluice_test";

  test("documents are added, counted, searched with a metadata filter, and removed", async () => {
    const pg = await spawnGateway(
      `server: {host: 127.0.0.1, port: 0}\nauth: {mode: none}\nbackends:\n  - {name: tool-user, url: ${upstream.url}/v1}\n  - {name: embedder, url: ${upstream.url}/v1, model: echo}\nvector_databases:\n  - {name: pg-kb, store: postgres, url: "${PG_URL}", embedding_backend: embedder}\n`,
      { args: ["--plugins", join(ROOT, "plugins")] },
    );
    try {
      const call = (method: string, body: unknown) => fetch(`${pg.url}/v1/vector_databases/pg-kb/documents`, { method, body: JSON.stringify(body) }).then(async (r) => ({ status: r.status, body: (await r.json()) as Answer }));
      await call("DELETE", { ids: ["warranty", "shipping", "returns"] }); // left over from an earlier run
      const added = await call("POST", {
        documents: [
          { id: "warranty", text: "The warranty covers manufacturing defects for two years from purchase.", metadata: { team: "support" } },
          { id: "shipping", text: "Parcels leave the warehouse the same day when ordered before noon.", metadata: { team: "logistics" } },
          { id: "returns", text: "Returns are accepted within thirty days with the receipt.", metadata: { team: "support" } },
        ],
      });
      expect(added).toMatchObject({ status: 200, body: { documents: 3, chunks: 3 } });
      const list = (await (await fetch(`${pg.url}/v1/vector_databases`)).json()) as Answer;
      expect(list.data[0]).toMatchObject({ name: "pg-kb", store: "postgres", documents: 3, chunks: 3, dimensions: 8 });

      const client = new OpenAI({ baseURL: `${pg.url}/v1`, apiKey: "unused", maxRetries: 0 });
      const exact = "Parcels leave the warehouse the same day when ordered before noon.";
      const answer = (await client.chat.completions.create({ model: "tool-user", messages: [{ role: "user", content: "hi" }], tools: [{ type: "flexible_vector_database_search", vector_database: "pg-kb", query: exact, top_k: 1 }] } as never)) as unknown as Answer;
      expect(answer.tool_runs[0].error).toBeUndefined();
      expect(answer.tool_runs[0]).toMatchObject({ results: 1 });
      expect(String((await chatBodies()).at(-1)!.messages[0].content)).toContain("(shipping, score 1.000)");

      const filtered = (await client.chat.completions.create({ model: "tool-user", messages: [{ role: "user", content: "hi" }], tools: [{ type: "flexible_vector_database_search", vector_database: "pg-kb", query: exact, top_k: 5, filter: { team: "support" } }] } as never)) as unknown as Answer;
      expect(filtered.tool_runs[0].results).toBe(2);
      const context = String((await chatBodies()).at(-1)!.messages[0].content);
      expect(context).not.toContain("shipping");

      expect(await call("DELETE", { ids: ["warranty", "shipping", "returns"] })).toMatchObject({ body: { removed: 3 } });
    } finally {
      await pg.stop();
    }
  }, 30_000);
});
