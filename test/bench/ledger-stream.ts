// What storage.ledger_via: stream costs against the batched ledger, with limits in Redis and the store in
// PostgreSQL on both sides (a redis-server and a PostgreSQL 15 of its own, fsync on):
//   - CPU: this process's user+system CPU per request, 64 requests at a time, alternating the two sides (each an
//     in-process gateway on its own Redis prefix with a key that has rpm and a daily budget). It includes the
//     ledger's own work on each side: batch writes, or the row's JSON in the settle call plus this gateway's drain
//     of the stream (Redis's and PostgreSQL's CPU not counted);
//   - drained: ROWS rows put into the stream (as FINISH adds them) with no gateway draining, then one drain
//     started: rows per second from the stream into PostgreSQL, and the drain's CPU per row.
//   bun test/bench/ledger-stream.ts     (ROUNDS=5, ROWS=100000 by default; ROUNDS=0: the drain alone)
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { SQL } from "bun";
import { parseConfig } from "../../src/config/load.ts";
import { Gateway } from "../../src/gateway.ts";
import { handleChat } from "../../src/pipeline/chat.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import { RedisConnection } from "../../src/limits/redis-connection.ts";
import { FIELD_SEPARATOR, FINISH } from "../../src/limits/redis-scripts.ts";
import type { LedgerRow } from "../../src/store/ledger.ts";
import { installFakeEngine } from "./fake-engine.ts";
import { startRedis } from "../support/redis-server.ts";
import { startPostgres } from "../support/postgres.ts";

const ROUNDS = Number(process.env.ROUNDS ?? 5);
const ROWS = Number(process.env.ROWS ?? 100_000);
const CPU_REQUESTS = 10_000;
const CONCURRENCY = 64;

const redis = await startRedis();
const pg = await startPostgres({ durable: true });
const dbUrl = await pg.createDatabase("bench");
installFakeEngine({ stream: false });

function config(ledgerVia: string, prefix: string): string {
  return `auth: {mode: keys, session_secret: "${"b".repeat(40)}"}
storage: {url: "${dbUrl}", ledger_via: ${ledgerVia}}
limits: {url: "${redis.url}", prefix: "${prefix}"}
health: {interval_ms: 600000}
backends:
  - name: gpt-4o-mini
    url: http://127.0.0.1:9/v1
    pricing: {input_per_mtok: 0.15, output_per_mtok: 0.6}
`;
}

async function side(ledgerVia: string) {
  const snapshot = parseConfig(config(ledgerVia, `{${ledgerVia}}:`), "ledger-stream-bench.yaml");
  const gateway = new Gateway(snapshot, { dataDir: mkdtempSync(join(tmpdir(), "sluice-ledger-bench-")) });
  await gateway.ready;
  const created = await gateway.keys.create({ name: ledgerVia, rpm: 100_000_000, budget_usd_daily: 1_000_000 });
  const body = JSON.stringify({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Say hello" }], max_tokens: 64 });
  const headers = { "content-type": "application/json", "content-length": String(Buffer.byteLength(body)), authorization: `Bearer ${created.secret}` };
  const times: number[] = [];
  const one = async () => {
    const started = performance.now();
    const response = await handleChat(new Request("http://sluice/v1/chat/completions", { method: "POST", body, headers }), gateway);
    const text = await response.text();
    times.push(performance.now() - started);
    if (response.status !== 200) throw new Error(`HTTP ${response.status}: ${text}`);
  };
  await one();
  return { gateway, one, keyId: created.key.id, times };
}

async function cpuPerRequest(one: () => Promise<void>): Promise<number> {
  const before = process.cpuUsage();
  for (let sent = 0; sent < CPU_REQUESTS; sent += CONCURRENCY) await Promise.all(Array.from({ length: CONCURRENCY }, one));
  const used = process.cpuUsage(before);
  return (used.user + used.system) / CPU_REQUESTS;
}

const median = (values: number[]) => [...values].sort((x, y) => x - y)[values.length >> 1]!;

const db = new SQL(dbUrl);
const load = (await Bun.file("/proc/loadavg").text()).split(" ").slice(0, 3).join(" ");
console.log(`rounds ${ROUNDS}, load average ${load}`);
if (ROUNDS > 0) {
  const batch = await side("batch");
  const stream = await side("stream");
  const cpu = { batch: [] as number[], stream: [] as number[] };
  for (let i = 0; i < 2; i++) (await cpuPerRequest(batch.one), await cpuPerRequest(stream.one)); // warm-up
  batch.times.length = stream.times.length = 0;
  for (let round = 0; round < ROUNDS; round++) {
    cpu.batch.push(await cpuPerRequest(batch.one));
    cpu.stream.push(await cpuPerRequest(stream.one));
  }
  await batch.gateway.close();
  await stream.gateway.close();
  const ledgered = async (keyId: string) => Number((await db`SELECT count(*)::int AS n FROM ledger WHERE key_id = ${keyId}`)[0].n);
  const expected = (2 + ROUNDS) * Math.ceil(CPU_REQUESTS / CONCURRENCY) * CONCURRENCY + 1;
  for (const name of ["batch", "stream"] as const) console.log(`${name.padEnd(6)} CPU ${median(cpu[name]).toFixed(1)} µs/request (rounds: ${cpu[name].map((v) => v.toFixed(1)).join(" ")})`);
  console.log(`stream − batch: CPU ${median(cpu.stream) - median(cpu.batch) >= 0 ? "+" : ""}${(median(cpu.stream) - median(cpu.batch)).toFixed(1)} µs/request`);
  // with ledger_via: stream an answer waits for its row's settle call (the end-of-request gather + a round trip)
  console.log(`latency p50 at ${CONCURRENCY} in flight: batch ${median(batch.times).toFixed(2)} ms, stream ${median(stream.times).toFixed(2)} ms`);
  console.log(`ledger rows: batch ${await ledgered(batch.keyId)}, stream ${await ledgered(stream.keyId)} (expected ${expected} each)`);
}

// The drain alone: the stream filled first (as FINISH adds rows: one script call per 500), then one drain.
const prefix = "{drain}:";
const filler = new RedisConnection(redis.url, { timeoutMs: 10_000 });
await filler.first;
const now = Date.now();
const row = (i: number): LedgerRow => ({
  requestId: crypto.randomUUID(), keyId: `key_${i % 50}`, model: "qwen3-14b", backend: `gpu-${i % 4}`, route: null, endpoint: "chat", status: 200, errorCode: null,
  promptTokens: 200 + (i % 300), completionTokens: 50 + (i % 200), tokensEstimated: false, costMicros: 120 + (i % 90), billingBasis: "tokens", stream: i % 2 === 0,
  startedAt: now - (i % 1000), totalMs: 80 + (i % 400), upstreamMs: 70 + (i % 390), queuedMs: null, ttftMs: null, firewall: null, firewallVerdict: null,
  firewallRules: null, firewallMs: null, toolsMs: null, detail: { routing: { decision: "direct" } },
});
for (let i = 0; i < ROWS; i += 500) {
  const entries = Array.from({ length: Math.min(500, ROWS - i) }, (_, j) => ["", "", "0", "0", "0", "", "0", JSON.stringify(row(i + j))].join(FIELD_SEPARATOR));
  await filler.evalScript(FINISH, [], [prefix, "finish", "1000", "60", String(ROWS + 1), ...entries]);
}
const started = performance.now();
const cpuStart = process.cpuUsage();
const drainer = openPostgresStore(dbUrl, { retentionDays: () => undefined, ledgerStream: { url: redis.url, prefix, timeoutMs: 10_000, heartbeatMs: 250, claimIdleMs: 10_000 } });
await drainer.ready;
while (Number(await filler.send("XLEN", [`${prefix}ledger`])) > 0) await Bun.sleep(20);
const seconds = (performance.now() - started) / 1000;
const drainCpu = process.cpuUsage(cpuStart);
const drained = Number((await db`SELECT count(*)::int AS n FROM ledger WHERE model = 'qwen3-14b'`)[0].n);

console.log(`drain: ${ROWS} rows from the stream into PostgreSQL in ${seconds.toFixed(2)} s: ${Math.round(ROWS / seconds)} rows/s, ${((drainCpu.user + drainCpu.system) / ROWS).toFixed(1)} µs of CPU per row; ${drained} in the ledger`);
filler.close();
await drainer.close();
await db.close();
await redis.stop();
await pg.destroy();
process.exit(0);
