// server.workers and the embedded store: each worker writes its own ledger rows into the one SQLite file (WAL,
// write-behind batches), rather than sending every row to the supervisor to write. This measures what that costs:
// the same total rate of ledger rows written by 1 process, then split over 2 processes into one file — CPU per
// row, the longest flush (it holds the event loop), flushes that found the file locked, and rows lost (must be 0).
//   bun test/bench/workers-sqlite.ts [rows per second, default 10000] [seconds, default 5]
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDatabase } from "../../src/store/database.ts";
import { LedgerWriter, type LedgerRow } from "../../src/store/ledger.ts";

interface Report {
  rows: number;
  cpuUsPerRow: number;
  maxFlushMs: number;
  lockedFlushes: number;
}

if (process.argv[2] === "writer") {
  const [file, rateText, secondsText] = process.argv.slice(3);
  const rate = Number(rateText);
  const db = openDatabase(file!);
  const ledger = new LedgerWriter(db);
  let maxFlushMs = 0;
  let lockedFlushes = 0;
  const flush = ledger.flush.bind(ledger);
  ledger.flush = (withRollups?: boolean) => {
    const started = performance.now();
    const pendingBefore = ledger.pending;
    flush(withRollups);
    maxFlushMs = Math.max(maxFlushMs, performance.now() - started);
    if (pendingBefore > 0 && ledger.pending === pendingBefore) lockedFlushes++;
  };
  const cpuBefore = process.cpuUsage();
  const end = Date.now() + Number(secondsText) * 1000;
  let rows = 0;
  const tickMs = 10;
  while (Date.now() < end) {
    for (let i = 0; i < (rate * tickMs) / 1000; i++) ledger.append(row(rows++));
    await Bun.sleep(tickMs);
  }
  ledger.close();
  const cpu = process.cpuUsage(cpuBefore);
  db.close();
  console.log(JSON.stringify({ rows, cpuUsPerRow: (cpu.user + cpu.system) / rows, maxFlushMs, lockedFlushes } satisfies Report));
  process.exit(0);
}

function row(n: number): LedgerRow {
  return {
    requestId: `${process.pid}-${n}`,
    keyId: "key_bench",
    model: "m",
    backend: "m",
    route: "chat",
    endpoint: "chat",
    status: 200,
    errorCode: null,
    promptTokens: 12,
    completionTokens: 20,
    tokensEstimated: false,
    costMicros: 3,
    billingBasis: "tokens",
    stream: false,
    startedAt: Date.now(),
    totalMs: 4.2,
    upstreamMs: 3.1,
    queuedMs: null,
    ttftMs: null,
    firewall: null,
    firewallVerdict: null,
    firewallRules: null,
    firewallMs: null,
    toolsMs: null,
  };
}

async function run(processes: number, totalRate: number, seconds: number) {
  const dir = mkdtempSync(join(tmpdir(), "sluice-wal-"));
  const file = join(dir, "sluice.db");
  openDatabase(file).close(); // created and migrated once, as the supervisor does before its workers start
  const children = Array.from({ length: processes }, () =>
    Bun.spawn([process.execPath, import.meta.path, "writer", file, String(totalRate / processes), String(seconds)], { stdout: "pipe", stderr: "inherit" }),
  );
  const reports = await Promise.all(children.map(async (child) => JSON.parse(await new Response(child.stdout).text()) as Report));
  const db = openDatabase(file);
  const stored = (db.query("SELECT COUNT(*) AS n FROM ledger").get() as { n: number }).n;
  db.close();
  rmSync(dir, { recursive: true, force: true });
  const sent = reports.reduce((total, report) => total + report.rows, 0);
  console.log(
    `${processes} writer${processes > 1 ? "s" : " "}: ${sent} rows at ${totalRate}/s, ${stored} stored (${sent - stored} lost); CPU ${reports.map((r) => r.cpuUsPerRow.toFixed(1)).join(" + ")} µs/row; longest flush ${Math.max(...reports.map((r) => r.maxFlushMs)).toFixed(1)} ms; flushes that found the file locked: ${reports.reduce((t, r) => t + r.lockedFlushes, 0)}`,
  );
}

const rate = Number(process.argv[2] ?? 10_000);
const seconds = Number(process.argv[3] ?? 5);
await run(1, rate, seconds);
await run(2, rate, seconds);
