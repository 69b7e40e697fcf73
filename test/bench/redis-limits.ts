// What full limits through Redis cost per request against the same limits in memory (issue 18's target: at most
// +20 µs of gateway CPU and +0.2 ms p50). `bun test/bench/redis-limits.ts` starts a redis-server of its own, builds
// one in-process gateway per side (limits.url memory | redis) with a key that has rpm, tpm, max_concurrent and a
// daily budget (all high enough never to refuse), and a backend with max_concurrent, then alternates the sides:
//   - CPU: this process's user+system CPU per request, 64 requests at a time (Redis's own CPU not counted);
//   - p50: one request at a time, the median wall time of a request.
// The engine is the in-process fake (test/bench/fake-engine.ts), so what is measured is the gateway and Redis; with
// ENGINE=http it is a real HTTP server in a process of its own (pinned with Redis when REDIS_CPU is set), so the
// gateway waits on the network in both modes, as it does in production (a gateway that never waits keeps its caches
// warm, and one that waits on Redis alone is charged for the cold caches after every wait).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { handleChat } from "../../src/pipeline/chat.ts";
import { installFakeEngine } from "./fake-engine.ts";
import { startRedis } from "../support/redis-server.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const CPU_REQUESTS = 10_000;
const LATENCY_REQUESTS = 2_000;
const CONCURRENCY = 64;

// REDIS_CPU=1 pins redis-server to core 1; run this with `taskset -c 0` so the two do not share a core.
const pinned = process.env.REDIS_CPU === undefined ? undefined : Number(process.env.REDIS_CPU);
const redis = await startRedis({ cpu: pinned });
const engine = process.env.ENGINE === "http" ? await startHttpEngine(pinned) : undefined;
if (!engine) installFakeEngine({ stream: false });

/** A fixed chat completion over HTTP, from a child process. */
async function startHttpEngine(cpu: number | undefined): Promise<{ url: string; stop(): void }> {
  const answer = JSON.stringify({ id: "c", object: "chat.completion", created: 1, model: "gpt-4o-mini", choices: [{ index: 0, message: { role: "assistant", content: "Hello there, how can I help?" }, finish_reason: "stop" }], usage: { prompt_tokens: 9, completion_tokens: 7, total_tokens: 16 } });
  const code = `const s = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response(${JSON.stringify(answer)}, { headers: { "content-type": "application/json" } }) }); console.log(s.port);`;
  const child = Bun.spawn([...(cpu === undefined ? [] : ["taskset", "-c", String(cpu)]), process.execPath, "-e", code], { stdout: "pipe" });
  const reader = child.stdout.getReader();
  const port = Number(new TextDecoder().decode((await reader.read()).value).trim());
  return { url: `http://127.0.0.1:${port}/v1`, stop: () => child.kill() };
}

function config(limitsUrl: string): string {
  return `auth: {mode: keys, session_secret: "${"b".repeat(40)}"}
limits: {url: "${limitsUrl}"}
health: {interval_ms: 600000}
backends:
  - name: gpt-4o-mini
    url: ${engine?.url ?? "http://127.0.0.1:9/v1"}
    max_concurrent: 100000
    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.6}
`;
}

async function side(limitsUrl: string) {
  const snapshot = parseConfig(config(limitsUrl), "redis-limits-bench.yaml");
  const gateway = new Gateway(snapshot, { dataDir: mkdtempSync(join(tmpdir(), "sluice-redis-bench-")) });
  await (gateway as { ready?: Promise<void> }).ready;
  const created = await gateway.keys.create({ name: "bench", rpm: 100_000_000, tpm: 1_000_000_000, max_concurrent: 100_000, budget_usd_daily: 1_000_000 });
  const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }], max_tokens: 64 });
  const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), authorization: `Bearer ${created.secret}` };
  const one = async () => {
    const response = await handleChat(new Request("http://sluice/v1/chat/completions", { method: "POST", body, headers }), gateway);
    const text = await response.text();
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text}`);
  };
  await one(); // connected, scripts loaded, budget loaded
  return { gateway, one };
}

async function cpuPerRequest(one: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  for (let sent = 0; sent < CPU_REQUESTS; sent += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, one));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CPU_REQUESTS;
}

async function p50(one: () => Promise<void>): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < LATENCY_REQUESTS; i++) {
    const started = performance.now();
    await one();
    times.push(performance.now() - started);
  }
  times.sort((x, y) => x - y);
  return times[times.length >> 1]!;
}

const memory = await side("memory");
const shared = await side(redis.url);
const results = { memory: { cpu: [] as number[], p50: [] as number[] }, redis: { cpu: [] as number[], p50: [] as number[] } };
for (let i = 0; i < 2; i++) (await cpuPerRequest(memory.one), await cpuPerRequest(shared.one)); // warm-up
for (let round = 0; round < ROUNDS; round++) {
  for (const [name, run] of [["memory", memory], ["redis", shared]] as const) {
    results[name].cpu.push(await cpuPerRequest(run.one));
    results[name].p50.push(await p50(run.one));
  }
}
// The floor any Redis call pays here: a bare PING round trip, one at a time, on a connection of its own.
const ping = new Bun.RedisClient(redis.url, { enableAutoPipelining: false });
await ping.connect();
const pingP50 = await p50(async () => void (await ping.send("PING", [])));
ping.close();
const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1]!;
const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
console.log(`rounds ${ROUNDS}, engine ${engine ? "http" : "in process"}, load average ${load}`);
for (const name of ["memory", "redis"] as const) {
  console.log(`${name.padEnd(6)} CPU ${median(results[name].cpu).toFixed(1)} µs/request (rounds: ${results[name].cpu.map((v) => v.toFixed(1)).join(" ")}), p50 ${(median(results[name].p50) * 1000).toFixed(0)} µs (rounds: ${results[name].p50.map((v) => (v * 1000).toFixed(0)).join(" ")})`);
}
console.log(`a bare PING round trip to this redis-server: p50 ${(pingP50 * 1000).toFixed(0)} µs`);
console.log(`redis − memory: CPU +${(median(results.redis.cpu) - median(results.memory.cpu)).toFixed(1)} µs/request, p50 +${((median(results.redis.p50) - median(results.memory.p50)) * 1000).toFixed(0)} µs`);
memory.gateway.close();
shared.gateway.close();
await redis.stop();
engine?.stop();
process.exit(0);
