/**
 * `bun run train`: rebuilds every shipped model file from ../shared/data (and generated data), one script per
 * model in this folder, run in name order so a run is reproducible. Each script is seeded.
 */
import { runScripts } from "./lib/run-scripts.ts";

runScripts(import.meta.dir, "train");
