// The short version of `bun run fuzz` for CI: schema-driven bodies, mutated, against the whole app; no 5xx but a
// failing engine's 502/503/504.
import { expect, test } from "bun:test";
import { runFuzz } from "../fuzz/chat-fuzz.ts";

test("1,500 fuzzed bodies get no unexpected 5xx", async () => {
  const report = await runFuzz(1_500, 7);
  expect(report.sent).toBe(1_500);
  expect(report.failures).toEqual([]);
  // The bodies reach every outcome, not only the validator.
  expect(report.byStatus[200]).toBeGreaterThan(50);
  expect(report.byStatus[400]).toBeGreaterThan(50);
}, 60_000);
