// How many ledger rows per second one gateway's writer puts into PostgreSQL (issue 18's target: 20k rows/s).
// Rows are appended as fast as a loop can (far past any real request rate), so the figure is the writer's
// ceiling: batched unnest INSERTs with their roll-up upserts in the same transaction.
//   bun test/bench/postgres-ledger.ts            a PostgreSQL 15 of its own, default durability (fsync on)
//   SLUICE_BENCH_POSTGRES_URL=postgres://… bun test/bench/postgres-ledger.ts
import { startPostgres } from "../support/postgres.ts";
import { openPostgresStore } from "../../src/store/postgres/store.ts";
import type { LedgerRow } from "../../src/store/ledger.ts";

const ROWS = Number(process.env.ROWS ?? 200_000);
const KEYS = 50;
const MODELS = ["llama-3.1-8b", "qwen3-14b", "mistral-small", "gpt-4o-mini", "deepseek-v3"];

const own = process.env.SLUICE_BENCH_POSTGRES_URL ? undefined : await startPostgres({ durable: true });
const url = process.env.SLUICE_BENCH_POSTGRES_URL ?? (await own!.createDatabase("bench"));
const store = openPostgresStore(url, { retentionDays: () => undefined, maxBufferedRows: ROWS + 1 });
await store.ready;

function row(i: number, now: number): LedgerRow {
  return {
    requestId: crypto.randomUUID(), keyId: `key_${i % KEYS}`, model: MODELS[i % MODELS.length]!, backend: `gpu-${i % 4}`, route: null, endpoint: "chat",
    status: i % 50 === 0 ? 429 : 200, errorCode: i % 50 === 0 ? "rate_limited" : null, promptTokens: 200 + (i % 300), completionTokens: 50 + (i % 200),
    tokensEstimated: false, costMicros: 120 + (i % 90), billingBasis: "tokens", stream: i % 2 === 0, startedAt: now - (i % 1000), totalMs: 80 + (i % 400),
    upstreamMs: 70 + (i % 390), queuedMs: null, ttftMs: i % 2 === 0 ? 20 + (i % 80) : null, firewall: null, firewallVerdict: null, firewallRules: null,
    firewallMs: null, toolsMs: null, detail: { routing: { decision: "direct" } },
  };
}

// Warm-up: connections open, statements prepared.
for (let i = 0; i < 2_000; i++) store.ledger.append(row(i, Date.now()));
await store.ledger.flush();

const started = performance.now();
const cpuStart = process.cpuUsage();
// Appended in slices with a yield between, as requests would arrive: the writer drains while rows keep coming.
for (let i = 0; i < ROWS; ) {
  const now = Date.now();
  for (const end = Math.min(ROWS, i + 5_000); i < end; i++) store.ledger.append(row(i, now));
  await Bun.sleep(0);
}
while (store.ledger.pending > 0) await store.ledger.flush();
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuStart);
const usage = await store.reads.usage({});
console.log(`${ROWS} rows in ${seconds.toFixed(2)} s: ${Math.round(ROWS / seconds)} rows/s into PostgreSQL (${own ? "own server, fsync on" : "SLUICE_BENCH_POSTGRES_URL"}); gateway CPU ${((cpu.user + cpu.system) / ROWS).toFixed(1)} µs/row`);
console.log(`ledger rows in the database: ${usage.total.requests} (expected ${ROWS + 2_000})`);
await store.close();
await own?.destroy();
