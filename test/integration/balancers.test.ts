// Balancers through the real gateway and three scripted engines: each strategy's choices, routes, retries and
// failover before the first byte, the circuit breaker, health, the TTFT guard, and a stream cut mid-answer.
import { afterAll, beforeAll, beforeEach, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import OpenAI from "openai";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";

let a: ScriptedUpstream;
let b: ScriptedUpstream;
let c: ScriptedUpstream;
let gateway: RunningGateway;
let client: OpenAI;

/** Each scenario gets its own pair of backends (`<name>-a` on engine a, `<name>-b` on engine b), so the live stats
 *  one test builds up (failures, ejections, latency) never leak into another. */
const SCENARIOS: Record<string, string> = {
  rr: "strategy: round_robin, retries: 0",
  weighted: "strategy: weighted, retries: 0",
  busyf: "strategy: least_busy, retries: 0",
  busyq: "strategy: least_busy, retries: 0",
  fast: "strategy: least_latency, retries: 0",
  cheap: "strategy: cost",
  prio: "strategy: priority",
  r500: "strategy: priority, retries: 2, retry_backoff_ms: 5",
  r503: "strategy: priority, retries: 2, retry_backoff_ms: 5",
  r429: "strategy: priority, retries: 2, retry_backoff_ms: 5",
  r400: "strategy: priority, retries: 2, retry_backoff_ms: 5",
  allfail: "strategy: priority, retries: 2, retry_backoff_ms: 5",
  empty: "strategy: priority",
  event: "strategy: priority",
  guarded: "strategy: priority, retries: 1, ttft_timeout_ms: 300",
  breaker: "strategy: priority, retries: 0",
  loading: "strategy: priority",
  nohealth: "strategy: round_robin",
  embed: "strategy: priority",
};

function config(): string {
  const backends: string[] = [];
  const balancers: string[] = [];
  for (const [name, settings] of Object.entries(SCENARIOS)) {
    backends.push(`  - {name: ${name}-a, url: ${a.url}/v1, model: echo, pricing: {input_per_mtok: 3, output_per_mtok: 15}}`);
    backends.push(`  - {name: ${name}-b, url: ${b.url}/v1, model: echo, pricing: {input_per_mtok: 0.1, output_per_mtok: 0.4}}`);
    const targets = name === "weighted" ? `[{backend: ${name}-a, weight: 3}, {backend: ${name}-b, weight: 1}]` : `[${name}-a, ${name}-b]`;
    balancers.push(`  - {name: ${name}, ${settings}, routes: [{targets: ${targets}}]}`);
  }
  return `
server: {host: 127.0.0.1, port: 0}
auth: {mode: none}
health: {interval_ms: 200, timeout_ms: 500, failure_threshold: 2, ejection_ms: 400, max_ejection_ms: 2000}
backends:
${backends.join("\n")}
  - {name: a, url: ${a.url}/v1, model: echo}
  - {name: b, url: ${b.url}/v1, model: echo}
  - {name: c, url: ${c.url}/v1, model: echo}
  # Up by its health check, unreachable for completions: only a retry can save the request.
  - {name: refused, url: "http://127.0.0.1:9/v1", health_url: "${c.url}/health", model: echo}
  - {name: cut, url: ${c.url}/v1, model: cut-stream}
  # max_concurrent on balanced backends: one slow engine slot, and an unreachable backend with one slot.
  - {name: one-slot, url: ${c.url}/v1, model: slow, max_concurrent: 1, queue_timeout_ms: 10000}
  - {name: refused-slot, url: "http://127.0.0.1:9/v1", health_url: "${c.url}/health", model: echo, max_concurrent: 1, queue_timeout_ms: 300}
  - {name: slow-c, url: ${c.url}/v1, model: slow}
  - {name: slot-c, url: ${c.url}/v1, model: echo, max_concurrent: 2}
balancers:
${balancers.join("\n")}
  - {name: failover, strategy: priority, retries: 2, retry_backoff_ms: 5, routes: [{targets: [refused, c]}]}
  # (refused may be ejected by an earlier test's failures: a then b still follow in order)
  - {name: third, strategy: priority, retries: 2, retry_backoff_ms: 5, routes: [{targets: [refused, a, b]}]}
  - {name: cutter, strategy: priority, retries: 2, routes: [{targets: [cut]}]}
  - {name: slotted, strategy: priority, routes: [{targets: [one-slot]}]}
  - {name: slotted-failover, strategy: priority, retries: 1, retry_backoff_ms: 5, routes: [{targets: [refused-slot, slow-c]}]}
  - {name: failover-into-slot, strategy: priority, retries: 1, retry_backoff_ms: 5, routes: [{targets: [refused, slot-c]}]}
  - name: router
    strategy: priority
    routes:
      - {name: code, match: {task: code_generation}, targets: [c]}
      - {name: gold, match: {header: {X-Tier: gold}}, targets: [b]}
      - {name: meta, match: {metadata: {team: search}}, targets: [b]}
      - {name: long, match: {max_tokens: {min: 1000}}, targets: [c]}
      - {name: default, targets: [a]}
  - name: picky
    routes: [{match: {header: {x-tier: gold}}, targets: [a]}]
`;
}

beforeAll(async () => {
  [a, b, c] = await Promise.all([spawnScriptedUpstream(), spawnScriptedUpstream(), spawnScriptedUpstream()]);
  gateway = await spawnGateway(config());
  client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: "unused", maxRetries: 0 });
});
afterAll(async () => {
  await gateway?.stop();
  await Promise.all([a?.stop(), b?.stop(), c?.stop()]);
});
beforeEach(async () => {
  await Promise.all([a.reset(), b.reset(), c.reset()]);
});

const messages = [{ role: "user" as const, content: "hello there" }];

async function ask(model: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}) {
  const { data, response } = await client.chat.completions.create({ model, messages, ...extra } as never, { headers }).withResponse();
  return { completion: data as unknown as Record<string, any>, backend: response.headers.get("x-sluice-backend"), route: response.headers.get("x-sluice-route") };
}

async function served(model: string, count: number): Promise<Record<string, number>> {
  const tally: Record<string, number> = {};
  for (let i = 0; i < count; i++) {
    const { backend } = await ask(model);
    tally[backend!] = (tally[backend!] ?? 0) + 1;
  }
  return tally;
}

function ledger(): Database {
  return new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
}

describe("strategies", () => {
  test("round_robin alternates exactly", async () => {
    const order: string[] = [];
    for (let i = 0; i < 6; i++) order.push((await ask("rr")).backend!);
    expect(new Set(order)).toEqual(new Set(["rr-a", "rr-b"]));
    for (let i = 1; i < order.length; i++) expect(order[i]).not.toBe(order[i - 1]!);
  });

  test("weighted follows the weights (3:1 over 200 requests)", async () => {
    const tally = await served("weighted", 200);
    // Expected 150 for a; ±30 is five standard deviations.
    expect(tally["weighted-a"]).toBeGreaterThan(120);
    expect(tally["weighted-a"]).toBeLessThan(180);
    expect(tally["weighted-a"]! + tally["weighted-b"]!).toBe(200);
  });

  test("least_busy spreads concurrent requests by requests in flight (before the queue test: engine a reports its queue until the next scrape)", async () => {
    await Promise.all([a.control({ first_byte_delay_ms: 300 }), b.control({ first_byte_delay_ms: 300 })]);
    const results = await Promise.all(Array.from({ length: 4 }, () => ask("busyf")));
    const tally = results.reduce<Record<string, number>>((t, r) => ({ ...t, [r.backend!]: (t[r.backend!] ?? 0) + 1 }), {});
    expect(tally).toEqual({ "busyf-a": 2, "busyf-b": 2 });
  });

  test("least_busy avoids a backend whose engine reports a deep queue", async () => {
    await a.control({ queue_depth: 50 });
    // The queue depth is scraped from the engine's /metrics with the health checks (every 150 ms here).
    await eventually(async () => ((await fetch(`${gateway.url}/metrics`).then((r) => r.text())).includes('sluice_backend_load{backend="busyq-a"} 50') ? true : undefined));
    expect(await served("busyq", 6)).toEqual({ "busyq-b": 6 });
  });

  test("least_latency moves traffic to the backend with the faster first token", async () => {
    await a.control({ first_byte_delay_ms: 120 });
    const order: string[] = [];
    for (let i = 0; i < 8; i++) order.push((await ask("fast")).backend!);
    expect(order.slice(-5)).toEqual(Array(5).fill("fast-b"));
  });

  test("cost sends everything to the cheapest backend, and bills it", async () => {
    const { completion, backend } = await ask("cheap");
    expect(backend).toBe("cheap-b");
    expect(completion.routing).toMatchObject({ balancer: "cheap", route: "route-1", strategy: "cost", model: "cheap-b", attempts: 1 });
    expect(await served("cheap", 4)).toEqual({ "cheap-b": 4 });
  });

  test("priority uses the first target while it is healthy", async () => {
    expect(await served("prio", 4)).toEqual({ "prio-a": 4 });
  });
});

describe("routes", () => {
  test("the first matching route wins: task, header, metadata, max_tokens, default", async () => {
    const code = await client.chat.completions
      .create({ model: "router", messages: [{ role: "user", content: "Write a Python function that parses a CSV file and returns a list of dicts." }] })
      .withResponse();
    expect(code.response.headers.get("x-sluice-route")).toBe("router/code");
    expect(code.response.headers.get("x-sluice-backend")).toBe("c");
    expect((code.data as any).routing).toMatchObject({ balancer: "router", route: "code", task: "code_generation", model: "c" });

    expect(await ask("router", {}, { "x-tier": "gold" })).toMatchObject({ backend: "b", route: "router/gold" });
    expect(await ask("router", { metadata: { team: "search" } })).toMatchObject({ backend: "b", route: "router/meta" });
    expect(await ask("router", { max_tokens: 2000 })).toMatchObject({ backend: "c", route: "router/long" });
    expect(await ask("router", { max_tokens: 10 })).toMatchObject({ backend: "a", route: "router/default" });
    // routing.task steers task routes; off `auto` an unknown one is ignored, not refused.
    expect(await ask("router", { routing: { task: "code_generation" } })).toMatchObject({ backend: "c", route: "router/code" });
    expect(await ask("router", { routing: { task: "juggling" } })).toMatchObject({ backend: "a", route: "router/default" });
  });

  test("the ledger names the balancer and the matched route, and the backend that served", async () => {
    const { completion } = await ask("router", {}, { "x-tier": "gold" });
    const id = String(completion.id).replace("chatcmpl-", "");
    const row = await eventually(() => ledger().query("SELECT model, backend, route, status FROM ledger WHERE request_id = ?").get(id) ?? undefined);
    expect(row).toEqual({ model: "router", backend: "b", route: "router/gold", status: 200 });
  });

  test("no matching route → 400 that says how to fix it", async () => {
    const error = await client.chat.completions.create({ model: "picky", messages }).catch((e) => e);
    expect(error.status).toBe(400);
    expect(error.message).toContain("no route of balancer 'picky' matches");
  });
});

describe("retries and failover before the first byte", () => {
  test("an unreachable backend is skipped: the answer comes from the next one", async () => {
    const { completion, backend } = await ask("failover");
    expect(backend).toBe("c");
    expect(completion.routing).toMatchObject({ balancer: "failover", model: "c", attempts: 2 });
    expect(completion.choices[0].message.content).toBe("echo: hello there");
  });

  test.each([500, 503, 429])("engine %d → retried on the next backend", async (status) => {
    await a.control({ fail_status: status });
    const { completion, backend } = await ask(`r${status}`);
    expect(backend).toBe(`r${status}-b`);
    expect(completion.routing.attempts).toBe(2);
    expect((await a.requests()).length).toBe(1);
  });

  test("engine 4xx is the client's problem: not retried", async () => {
    await a.control({ fail_status: 400 });
    const error = await client.chat.completions.create({ model: "r400", messages }).catch((e) => e);
    expect(error.status).toBe(400);
    expect((await b.requests()).length).toBe(0);
  });

  test("every backend failing → 502 carrying the engine's message, attempts bounded by retries", async () => {
    await Promise.all([a.control({ fail_status: 500 }), b.control({ fail_status: 500 })]);
    const error = await client.chat.completions.create({ model: "allfail", messages }).catch((e) => e);
    expect(error.status).toBe(502);
    expect(error.message).toContain("scripted failure 500");
    const attempts = (await a.requests()).length + (await b.requests()).length;
    expect(attempts).toBe(3); // 1 + retries: 2
  });

  test("streams: an engine that fails before its first byte is replaced, and the client sees one clean stream", async () => {
    await a.control({ empty_stream: true });
    const stream = await client.chat.completions.create({ model: "empty", messages, stream: true });
    let text = "";
    for await (const chunk of stream) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("echo: hello there");
    expect((await b.requests()).length).toBe(1);
  });

  test("streams begin with the routing event, before any content; it tells each request's own outcome", async () => {
    const streamed = async () => {
      const response = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ model: "event", messages, stream: true }),
      });
      expect(response.headers.get("x-sluice-route")).toBe("event/route-1");
      const text = await response.text();
      expect(text.trimEnd().endsWith("data: [DONE]")).toBe(true);
      return JSON.parse(text.split("\n\n")[0]!.slice("data: ".length));
    };
    expect(await streamed()).toEqual({ object: "routing", balancer: "event", route: "route-1", strategy: "priority", model: "event-a", attempts: 1, choices: [] });
    // The same route ending elsewhere after a retry (events are cached per outcome), then as at first again.
    await a.control({ fail_status: 500 });
    expect(await streamed()).toMatchObject({ object: "routing", route: "route-1", model: "event-b", attempts: 2 });
    await a.reset();
    expect(await streamed()).toMatchObject({ object: "routing", route: "route-1", model: "event-a", attempts: 1 });
  });

  test.each([false, true])("a third attempt serves when the first two fail before the first byte (stream: %p)", async (stream) => {
    await a.control({ fail_status: 500 });
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "third", messages, stream }),
    });
    const text = await response.text();
    expect(response.status).toBe(200);
    expect(response.headers.get("x-sluice-backend")).toBe("b");
    const content = stream
      ? text.split("\n\n").filter((event) => event.startsWith("data: {")).map((event) => JSON.parse(event.slice(6)).choices[0]?.delta?.content ?? "").join("")
      : JSON.parse(text).choices[0].message.content;
    expect(content).toBe("echo: hello there");
    expect((await a.requests()).filter((r) => r.path === "/v1/chat/completions").length).toBe(1);
  });

  test("TTFT guard: no first token in time → the next backend answers", async () => {
    await a.control({ first_byte_delay_ms: 3_000 });
    const { data, response } = await client.chat.completions.create({ model: "guarded", messages, stream: true }).withResponse();
    let text = "";
    for await (const chunk of data) text += chunk.choices[0]?.delta?.content ?? "";
    expect(text).toBe("echo: hello there");
    expect(response.headers.get("x-sluice-backend")).toBe("guarded-b");
  });

  test("a stream the engine cuts after its first byte ends with an error event and no [DONE]", async () => {
    const response = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "cutter", messages, stream: true }),
    });
    const text = await response.text();
    expect(text).toContain('"code":"stream_interrupted"');
    expect(text).not.toContain("[DONE]");
    // Once bytes reached the client there is no retry: the engine saw exactly one request.
    expect((await c.requests()).filter((r) => r.path === "/v1/chat/completions").length).toBe(1);
  });
});

describe("circuit breaker and health", () => {
  test("consecutive failures eject a backend; after the ejection a probe brings it back", async () => {
    await a.control({ fail_status: 500 });
    // failure_threshold 2: two failed requests eject a (retries: 0, so the client sees them).
    for (let i = 0; i < 2; i++) expect((await client.chat.completions.create({ model: "breaker", messages }).catch((e) => e)).status).toBe(502);
    expect(await served("breaker", 3)).toEqual({ "breaker-b": 3 });
    expect((await a.requests()).length).toBe(2);
    expect(await fetch(`${gateway.url}/metrics`).then((r) => r.text())).toContain('sluice_backend_ejected{backend="breaker-a"} 1');

    await a.control({ fail_status: null });
    await Bun.sleep(450); // ejection_ms 400: the next request is the half-open probe
    expect((await ask("breaker")).backend).toBe("breaker-a");
    expect(await served("breaker", 2)).toEqual({ "breaker-a": 2 });
  });

  test("a backend whose engine is loading (model not listed yet) is skipped", async () => {
    await a.control({ hide_models: ["echo"] });
    await eventually(async () => ((await (await fetch(`${gateway.url}/v1/models/loading-a/health`)).json()) as { status: string }).status === "loading" || undefined, 3_000);
    expect(await served("loading", 3)).toEqual({ "loading-b": 3 });
    await a.control({ hide_models: [] });
    await eventually(async () => ((await (await fetch(`${gateway.url}/v1/models/loading-a/health`)).json()) as { status: string }).status === "ready" || undefined, 3_000);
  });

  test("no backend healthy → 503 with Retry-After", async () => {
    await Promise.all([a.control({ health: 500 }), b.control({ health: 500 })]);
    await eventually(async () => ((await (await fetch(`${gateway.url}/v1/models/nohealth/health`)).json()) as { status: string }).status === "unavailable" || undefined, 3_000);
    const response = await fetch(`${gateway.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "nohealth", messages }) });
    expect(response.status).toBe(503);
    expect(response.headers.get("retry-after")).toBe("1");
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("no_healthy_backend");
    expect(body.error.message).toContain("nohealth");
    await Promise.all([a.reset(), b.reset()]);
    await eventually(async () => ((await (await fetch(`${gateway.url}/v1/models/nohealth/health`)).json()) as { status: string }).status === "ready" || undefined, 3_000);
  });
});

describe("max_concurrent on a balancer's backends", () => {
  test("a request waits in the backend's queue for its slot, and says how long", async () => {
    const both = await Promise.all([1, 2].map(() => client.chat.completions.create({ model: "slotted", messages }).withResponse()));
    const queued = both.map(({ response }) => Number(response.headers.get("x-inferada-queued-ms") ?? 0)).sort((x, y) => x - y);
    expect(queued[0]).toBe(0);
    expect(queued[1]).toBeGreaterThan(1_000); // the slow engine holds the one slot ~1.5 s
    for (const { data } of both) expect(data.choices[0]!.message.content).toContain("echo");
  });

  test("failing over gives the failed backend's slot back at once: requests queued for it do not time out", async () => {
    // Each request takes refused-slot's one slot, fails to connect, then waits ~1.5 s on slow-c. Were the slot
    // held until the request ended, the others would wait past refused-slot's 300 ms queue timeout (429).
    const results = await Promise.all([1, 2, 3].map(() => ask("slotted-failover")));
    for (const { backend, completion } of results) {
      expect(backend).toBe("slow-c");
      expect(completion.routing).toMatchObject({ balancer: "slotted-failover", model: "slow-c", attempts: 2 });
    }
  });
});

describe("max_concurrent on a balancer's backends, on retries", () => {
  test("a retry onto a backend with max_concurrent takes its slot, though the first backend had none", async () => {
    const { backend, completion } = await ask("failover-into-slot");
    expect(backend).toBe("slot-c");
    expect(completion.routing).toMatchObject({ model: "slot-c", attempts: 2 });
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    expect(metrics).toMatch(/sluice_concurrency_in_use\{[^}]*backend:slot-c[^}]*\} 0/);
  });
});

describe("models and embeddings", () => {
  test("/v1/models lists balancers beside backends; a balancer's health is its best backend's", async () => {
    const ids = (await client.models.list()).data.map((m) => m.id);
    expect(ids).toContain("rr");
    expect(ids).toContain("router");
    expect(ids).toContain("a");
    const model = await client.models.retrieve("rr");
    expect(model.owned_by).toBe("sluice");
    expect(await (await fetch(`${gateway.url}/v1/models/failover/health`)).json()).toEqual({ model: "failover", status: "ready" });
  });

  test("embeddings go through a balancer too, with failover", async () => {
    await a.control({ fail_status: 503 });
    const { data, response } = await client.embeddings.create({ model: "embed", input: ["one", "two"] }).withResponse();
    expect(data.data.length).toBe(2);
    expect(response.headers.get("x-sluice-backend")).toBe("embed-b");
  });
});
