/**
 * The runner behind `bun run train` and `bun run eval`: runs every script of a folder (except all.ts) in name
 * order, each in its own process so one model's memory is gone before the next starts, stopping at the first
 * that fails. `bun run train router` (or `eval router`) runs only the scripts whose name starts with that.
 * Data generators (`*-data.ts`) are libraries of the scripts, not steps.
 */
import { readdirSync } from "node:fs";
import { join } from "node:path";

export function runScripts(folder: string, verb: string, only = process.argv[2]): void {
  for (const name of readdirSync(folder).filter((n) => n.endsWith(".ts") && n !== "all.ts" && !n.endsWith("-data.ts")).sort()) {
    if (only && !name.startsWith(only)) continue;
    console.log(`\n== ${verb} ${name}`);
    const run = Bun.spawnSync(["bun", join(folder, name)], { stdout: "inherit", stderr: "inherit" });
    if (run.exitCode !== 0) process.exit(run.exitCode ?? 1);
  }
}
