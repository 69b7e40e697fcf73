/**
 * `bun run train`: rebuilds every shipped model file from ../shared/data (and generated data), one script per
 * model in this folder, run in name order so a run is reproducible. Each script is seeded.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

const here = import.meta.dir;
const only = process.argv[2];
for (const name of readdirSync(here).filter((n) => n.endsWith(".ts") && n !== "all.ts").sort()) {
  if (only && !name.startsWith(only)) continue;
  console.log(`\n== train ${name}`);
  const run = Bun.spawnSync(["bun", join(here, name)], { stdout: "inherit", stderr: "inherit" });
  if (run.exitCode !== 0) process.exit(run.exitCode ?? 1);
}
