// One table from test/bench/paced.sh's levels (OUT_DIR/c<N>/results.csv and env.txt, written by the shared
// harness): streams/s and ÷ engine direct, p50 and added p50, gateway CPU per relayed chunk, peak RSS, errors.
//   bun test/bench/paced-summary.ts OUT_DIR
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

const base = process.argv[2];
if (!base) throw new Error("usage: paced-summary.ts OUT_DIR");
const chunks = Number(process.env.CHUNKS ?? 100);
/** What the fake engine sends per stream: a role event, CHUNKS content events, a usage event and [DONE]. */
const eventsPerStream = chunks + 3;

const median = (values: number[]) => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (!sorted.length) return NaN;
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const fixed = (value: number, digits: number) => (Number.isFinite(value) ? value.toFixed(digits) : "–");

const lines = [
  `Paced streams: ${chunks} events ${process.env.CHUNK_DELAY_MS ?? 10} ms apart per answer; medians over rounds. CPU per chunk = the gateway's process-group CPU ÷ streams ÷ ${eventsPerStream} events.`,
  "",
  "| streams open | target | streams/s | ÷ engine direct | p50 ms | added p50 ms | gateway CPU µs/chunk | peak RSS MiB | errors | foreign CPU % |",
  "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|",
];
const levels = readdirSync(base)
  .filter((name) => /^c\d+$/.test(name) && existsSync(join(base, name, "results.csv")))
  .sort((a, b) => Number(a.slice(1)) - Number(b.slice(1)));
for (const level of levels) {
  const dir = join(base, level);
  const [head, ...body] = readFileSync(join(dir, "results.csv"), "utf8").trim().split("\n");
  const columns = head!.split(",");
  const rows = body.map((line) => Object.fromEntries(line.split(",").map((value, i) => [columns[i]!, value])) as Record<string, string>).filter((row) => row.tool === "wrk");
  const env = readFileSync(join(dir, "env.txt"), "utf8");
  const peak = (target: string) => Number(new RegExp(`^rss ${target}: ([\\d.]+) MiB peak`, "m").exec(env)?.[1]);
  const cell = (target: string, field: string) => median(rows.filter((row) => row.target === target).map((row) => Number(row[field])));
  const directRps = cell("direct", "rps");
  const directP50 = cell("direct", "p50_ms");
  for (const target of [...new Set(rows.map((row) => row.target!))]) {
    const errors = rows.filter((row) => row.target === target).reduce((sum, row) => sum + Number(row.errors || 0) + Number(row.non2xx || 0), 0);
    const cpuPerStream = cell(target, "gw_cpu_us_per_req");
    const direct = target === "direct";
    lines.push(
      `| ${level.slice(1)} | ${direct ? "engine direct" : target} | ${fixed(cell(target, "rps"), 0)} | ${fixed(cell(target, "rps") / directRps, 2)} | ${fixed(cell(target, "p50_ms"), 0)} | ${direct ? "–" : fixed(cell(target, "p50_ms") - directP50, 0)} | ${direct ? "–" : fixed(cpuPerStream / eventsPerStream, 2)} | ${direct ? "–" : fixed(peak(target), 0)} | ${errors} | ${fixed(Math.max(...rows.filter((row) => row.target === target).map((row) => Number(row.foreign_cpu_pct))), 0)} |`,
    );
  }
}
console.log(lines.join("\n"));
