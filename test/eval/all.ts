/**
 * `bun run eval`: prints every classifier's quality on its dev set (per-class precision/recall, confusion
 * matrix, false-positive rates) and its latency p50/p99; one script per classifier in this folder.
 */
import { runScripts } from "../train/lib/run-scripts.ts";

runScripts(import.meta.dir, "eval");
