// UpstreamCall's timers: the whole-request timeout and the stream idle guard (which counts chunks instead of
// resetting a timer per chunk, so it must still abort a quiet stream and never a lively one).
import { describe, expect, test } from "bun:test";
import { UpstreamCall } from "../../src/upstream/call.ts";

const IDLE_MS = 80;

describe("idle guard", () => {
  test("a stream that keeps sending is never cut, however long it runs", async () => {
    const call = new UpstreamCall();
    call.guardIdle(IDLE_MS);
    for (let i = 0; i < 20; i++) {
      call.touch();
      await Bun.sleep(IDLE_MS / 3);
    }
    expect(call.reason).toBeUndefined();
    expect(call.signal.aborted).toBe(false);
    call.clear();
  });

  test("a stream that goes quiet is aborted as idle, not before the idle time", async () => {
    const call = new UpstreamCall();
    const started = performance.now();
    call.guardIdle(IDLE_MS);
    call.touch();
    const aborted = new Promise<number>((resolve) => call.signal.addEventListener("abort", () => resolve(performance.now() - started)));
    expect(await aborted).toBeGreaterThanOrEqual(IDLE_MS);
    expect(call.reason).toBe("idle");
  });

  test("clear() stops the guard: nothing fires afterwards", async () => {
    const call = new UpstreamCall();
    call.guardIdle(IDLE_MS);
    call.clear();
    expect(call.armedFor).toBeUndefined();
    await Bun.sleep(IDLE_MS * 3);
    expect(call.signal.aborted).toBe(false);
  });

  test("arm() replaces the guard, and the guard replaces arm()'s timer", async () => {
    const call = new UpstreamCall();
    call.guardIdle(IDLE_MS);
    call.arm(60_000, "timeout");
    expect(call.armedFor).toBe("timeout");
    await Bun.sleep(IDLE_MS * 3);
    expect(call.signal.aborted).toBe(false);
    call.arm(IDLE_MS / 2, "timeout");
    call.guardIdle(60_000);
    await Bun.sleep(IDLE_MS * 2);
    expect(call.signal.aborted).toBe(false);
    call.clear();
  });
});

describe("timeout", () => {
  test("fires with its reason unless cleared", async () => {
    const cleared = new UpstreamCall();
    cleared.arm(20, "ttft");
    cleared.clear();
    const fired = new UpstreamCall();
    fired.arm(20, "ttft");
    await Bun.sleep(80);
    expect(cleared.reason).toBeUndefined();
    expect(fired.reason).toBe("ttft");
    expect(fired.signal.aborted).toBe(true);
  });
});
