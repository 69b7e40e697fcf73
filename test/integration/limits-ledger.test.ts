// Limits, queues, budgets and the ledger through the real gateway process: 429s with the right headers, FIFO
// queueing, no leaked slots, no overspent budget, one ledger row per request even across SIGTERM.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { join } from "node:path";
import { spawnScriptedUpstream, type ScriptedUpstream } from "../support/scripted-upstream.ts";
import { createKey as createKeyOn, eventually, spawnGateway, type RunningGateway } from "../support/gateway.ts";
import { configFor } from "../support/config.ts";

const ADMIN = "inf_" + "B".repeat(20) + "adminadminadminadmin";
let upstream: ScriptedUpstream;
let gateway: RunningGateway;

const backends = [
  { name: "echo", extra: "pricing: {input_per_mtok: 1000000, output_per_mtok: 1000000}" }, // $1 per token: budgets bite fast
  { name: "slow", extra: "pricing: {gpu_hour: 3600}" }, // $1 per second of upstream time
  { name: "stall" },
  { name: "fail-500" },
  { name: "cut-stream" },
  { name: "one-at-a-time", model: "slow", extra: "max_concurrent: 1\nqueue_timeout_ms: 100" },
];

beforeAll(async () => {
  upstream = await spawnScriptedUpstream();
  gateway = await spawnGateway(configFor(upstream.url, backends).replace("  mode: none", "  mode: keys"), { env: { SLUICE_ADMIN_KEY: ADMIN } });
});
afterAll(async () => {
  await gateway?.stop();
  await upstream?.stop();
});


function chat(key: string, model: string, options: { stream?: boolean; content?: string; maxTokens?: number; signal?: AbortSignal } = {}) {
  return fetch(`${gateway.url}/v1/chat/completions`, {
    method: "POST",
    signal: options.signal,
    headers: { authorization: `Bearer ${key}`, "content-type": "application/json" },
    body: JSON.stringify({ model, stream: options.stream ?? false, max_tokens: options.maxTokens, messages: [{ role: "user", content: options.content ?? "hi" }] }),
  });
}

async function metric(name: string): Promise<number> {
  const text = await (await fetch(`${gateway.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(name));
  return line ? Number(line.split(" ").at(-1)) : 0;
}

describe("rate limits", () => {
  test("rpm: over the limit → 429 with Retry-After and x-ratelimit headers", async () => {
    const { key } = await createKey({ name: "rpm", rpm: 2 });
    const first = await chat(key, "echo");
    expect(first.status).toBe(200);
    expect(first.headers.get("x-ratelimit-limit-requests")).toBe("2");
    expect(first.headers.get("x-ratelimit-remaining-requests")).toBe("1");
    expect((await chat(key, "echo")).status).toBe(200);
    const refused = await chat(key, "echo");
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    expect(refused.headers.get("x-ratelimit-remaining-requests")).toBe("0");
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("rate_limited");
    expect(body.error.message).toContain("rpm");
  });

  test("tpm: prompt tokens are estimated at admission", async () => {
    const { key } = await createKey({ name: "tpm", tpm: 100 });
    expect((await chat(key, "echo", { content: "short" })).status).toBe(200);
    const refused = await chat(key, "echo", { content: "long ".repeat(200) });
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("tpm");
    expect(refused.headers.get("x-ratelimit-limit-tokens")).toBe("100");
  });
});

describe("concurrency and queues", () => {
  test("requests beyond max_concurrent wait in FIFO order and report the wait", async () => {
    const { id, key } = await createKey({ name: "queued", max_concurrent: 1, queue_timeout_ms: 10_000 });
    const slow = chat(key, "slow"); // holds the slot ~1.5 s
    await eventually(async () => ((await metric(`sluice_concurrency_in_use{name="keys"}`)) === 1 ? true : undefined));
    const waiting = chat(key, "echo");
    const streamed = chat(key, "echo", { stream: true });
    const [first, second, third] = await Promise.all([slow, waiting, streamed]);
    expect(first.status).toBe(200);
    const queued = (await second.json()) as { timings: { queued_ms?: number } };
    expect(queued.timings.queued_ms).toBeGreaterThan(0);
    expect(Number(third.headers.get("x-inferada-queued-ms"))).toBeGreaterThan(0);
    await third.text();
  });

  test("a queue wait past queue_timeout_ms → 429", async () => {
    const { id, key } = await createKey({ name: "impatient", max_concurrent: 1, queue_timeout_ms: 100 });
    const slow = chat(key, "slow");
    await eventually(async () => ((await metric(`sluice_concurrency_in_use{name="keys"}`)) === 1 ? true : undefined));
    const refused = await chat(key, "echo");
    expect(refused.status).toBe(429);
    const body = (await refused.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe("concurrency_limited");
    expect(body.error.message).toContain("queue_timeout_ms");
    expect((await slow).status).toBe(200);
  });

  test("a backend's max_concurrent queues requests from every key, then answers 429 naming the setting", async () => {
    const { key } = await createKey({ name: "backend-limited" });
    const first = chat(key, "one-at-a-time");
    await eventually(async () => ((await metric('sluice_concurrency_in_use{name="backend:one-at-a-time"}')) === 1 ? true : undefined));
    const refused = await chat(ADMIN, "one-at-a-time");
    expect(refused.status).toBe(429);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toContain("backends[].queue_timeout_ms");
    expect((await first).status).toBe(200);
    expect(await metric('sluice_concurrency_in_use{name="backend:one-at-a-time"}')).toBe(0);
  });

  test("no slot leaks after 200 mixed requests with disconnects", async () => {
    const { id, key } = await createKey({ name: "leaky?", max_concurrent: 4, queue_timeout_ms: 30_000 });
    const kinds = ["ok", "stream", "abort-stream", "abort-stall", "fail", "cut", "missing-model"] as const;
    let next = 0;
    const worker = async () => {
      while (next < 200) {
        const kind = kinds[next++ % kinds.length]!;
        const controller = new AbortController();
        try {
          if (kind === "ok") await (await chat(key, "echo")).text();
          else if (kind === "stream") await (await chat(key, "echo", { stream: true })).text();
          else if (kind === "fail") await (await chat(key, "fail-500")).text();
          else if (kind === "cut") await (await chat(key, "cut-stream", { stream: true })).text();
          else if (kind === "missing-model") await (await chat(key, "nope")).text();
          else if (kind === "abort-stream") {
            const response = await chat(key, "slow", { stream: true, signal: controller.signal });
            await response.body!.getReader().read();
            controller.abort();
          } else {
            setTimeout(() => controller.abort(), 30);
            await chat(key, "stall", { signal: controller.signal }).catch(() => undefined);
          }
        } catch {
          // aborted on purpose
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    const held = await eventually(async () => {
      const inUse = await metric(`sluice_concurrency_in_use{name="keys"}`);
      return inUse === 0 ? inUse : undefined;
    }, 10_000);
    expect(held).toBe(0);
    expect(await metric(`sluice_concurrency_waiting{name="key:${id}"}`)).toBe(0);
    // All four slots are free: four slow requests run at once without queueing.
    const four = await Promise.all(Array.from({ length: 4 }, () => chat(key, "slow")));
    for (const response of four) expect(((await response.json()) as { timings: { queued_ms?: number } }).timings.queued_ms).toBeUndefined();
  });
});

describe("budgets", () => {
  test("50 concurrent requests against a nearly spent budget never overspend it", async () => {
    // $1 per token on `echo`: a request of ~6 prompt tokens and max_tokens 4 costs at most ~$30 worst case.
    const { id, key } = await createKey({ name: "budgeted", budget_usd_daily: 100 });
    const results = await Promise.all(Array.from({ length: 50 }, () => chat(key, "echo", { content: "spend", maxTokens: 4 })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThan(0);
    const denial = (await results.find((r) => r.status === 429)!.json()) as { error: { code: string } };
    expect(denial.error.code).toBe("budget_exceeded");
    const usage = (await (await fetch(`${gateway.url}/v1/usage?key_id=${id}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { total: { cost_usd: number; requests: number } };
    expect(usage.total.cost_usd).toBeGreaterThan(0);
    expect(usage.total.cost_usd).toBeLessThanOrEqual(100);
  });

  test("compute backends bill active GPU time", async () => {
    const { id, key } = await createKey({ name: "gpu" });
    expect((await chat(key, "slow")).status).toBe(200);
    const usage = (await (await fetch(`${gateway.url}/v1/usage?key_id=${id}`, { headers: { authorization: `Bearer ${ADMIN}` } })).json()) as { total: { cost_usd: number } };
    // ~1.5 s upstream at $1 per second
    expect(usage.total.cost_usd).toBeGreaterThan(1);
    expect(usage.total.cost_usd).toBeLessThan(10);
  });
});

describe("ledger and usage", () => {
  test("one row per request, streamed or not, successful or failed; a key sees its own usage", async () => {
    const { id, key } = await createKey({ name: "ledgered", scopes: ["chat", "usage"] });
    await (await chat(key, "echo")).text();
    await (await chat(key, "echo", { stream: true })).text();
    await (await chat(key, "fail-500")).text();
    await (await chat(key, "nope")).text();
    await (await chat(key, "cut-stream", { stream: true })).text();
    const own = (await (await fetch(`${gateway.url}/v1/usage?group_by=model`, { headers: { authorization: `Bearer ${key}` } })).json()) as {
      object: string;
      data: { model: string; requests: number }[];
      total: { requests: number; prompt_tokens: number; completion_tokens: number };
    };
    expect(own.object).toBe("usage");
    expect(own.total.requests).toBe(5);
    expect(own.data.find((row) => row.model === "echo")!.requests).toBe(2);
    expect(own.total.completion_tokens).toBeGreaterThan(0);
    // Only admin may look at another key.
    expect((await fetch(`${gateway.url}/v1/usage?key_id=key_other`, { headers: { authorization: `Bearer ${key}` } })).status).toBe(403);
    const csv = await (await fetch(`${gateway.url}/v1/usage?group_by=model&format=csv&key_id=${id}`, { headers: { authorization: `Bearer ${ADMIN}` } })).text();
    expect(csv.split("\r\n")[0]).toContain("model");
    expect(csv).toContain("echo");
    expect((await fetch(`${gateway.url}/v1/usage?group_by=colour`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(400);
    expect((await fetch(`${gateway.url}/v1/usage?from=yesterday`, { headers: { authorization: `Bearer ${ADMIN}` } })).status).toBe(400);

    const db = new Database(join(gateway.dir, "data", "sluice.db"), { readonly: true });
    const rows = db.query("SELECT model, status, error_code, stream, tokens_estimated FROM ledger WHERE key_id = ? ORDER BY started_at").all(id) as { model: string; status: number; error_code: string | null; stream: number }[];
    db.close();
    expect(rows.map((r) => [r.model, r.status, r.error_code, r.stream])).toEqual([
      ["echo", 200, null, 0],
      ["echo", 200, null, 1],
      ["fail-500", 502, "upstream_error", 0],
      ["nope", 404, "model_not_found", 0],
      ["cut-stream", 502, "stream_interrupted", 1],
    ]);
  });
});

describe("shutdown", () => {
  test("SIGTERM under load: ledger rows == requests the clients saw complete", async () => {
    const own = await spawnGateway(configFor(upstream.url, backends));
    let completed = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        try {
          const response = await fetch(`${own.url}/v1/chat/completions`, { method: "POST", body: JSON.stringify({ model: "echo", messages: [{ role: "user", content: "load" }] }) });
          if (response.status === 200 && (await response.json())) completed++;
        } catch {
          return; // the gateway is gone
        }
      }
    };
    const workers = Array.from({ length: 16 }, worker);
    await eventually(() => (completed >= 200 ? true : undefined), 20_000);
    const stopped = own.stop(); // SIGTERM
    stop = true;
    await Promise.all(workers);
    await stopped;
    const db = new Database(join(own.dir, "data", "sluice.db"), { readonly: true });
    const { rows } = db.query("SELECT count(*) AS rows FROM ledger WHERE status = 200").get() as { rows: number };
    db.close();
    expect(rows).toBe(completed);
  });
});

const createKey = (settings: Record<string, unknown>) => createKeyOn(gateway, ADMIN, settings);
