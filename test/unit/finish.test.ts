// heldForLedger: with storage.ledger_via: stream an answer goes out once its ledger row is durable.
import { expect, test } from "bun:test";
import { heldForLedger } from "../../src/pipeline/finish.ts";
import { parseConfig } from "../../src/config/load.ts";
import { newContext } from "../../src/pipeline/context.ts";

const snapshot = parseConfig("backends:\n  - name: engine\n    url: http://127.0.0.1:1/v1\n", "t", {});

test("a response waits for the row's handoff, and goes out when the handoff fails too; without one it is returned as is", async () => {
  const ctx = newContext("chat", new Request("http://x/"), snapshot);
  const response = new Response("ok");
  expect(heldForLedger(ctx, response)).toBe(response);

  let settle!: () => void;
  ctx.ledgerDurable = new Promise<void>((resolve) => (settle = resolve));
  let out: Response | undefined;
  void Promise.resolve(heldForLedger(ctx, response)).then((r) => (out = r));
  await Bun.sleep(20);
  expect(out).toBeUndefined();
  settle();
  await Bun.sleep(0);
  expect(out).toBe(response);

  ctx.ledgerDurable = Promise.reject(new Error("Redis did not answer"));
  expect(await heldForLedger(ctx, response)).toBe(response);
});
