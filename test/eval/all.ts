/**
 * `bun run eval`: prints every classifier's quality on its dev set (per-class precision/recall, confusion
 * matrix, false-positive rates) and its latency p50/p99; one script per classifier in this folder.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dir;
const only = process.argv[2];
for (const name of readdirSync(here).filter((n) => n.endsWith(".ts") && n !== "all.ts").sort()) {
  if (only && !name.startsWith(only)) continue;
  console.log(`\n== eval ${name}`);
  const run = Bun.spawnSync(["bun", join(here, name)], { stdout: "inherit", stderr: "inherit" });
  if (run.exitCode !== 0) process.exit(run.exitCode ?? 1);
}
