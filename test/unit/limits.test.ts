import { describe, expect, test } from "bun:test";
import { RateWindow } from "../../src/limits/rate-window.ts";
import { FifoSemaphore, QueueTimeoutError, SemaphoreRegistry, type Release, type SemaphoreTimers } from "../../src/limits/semaphore.ts";
import { BudgetBook, isBudgetDenial, type BudgetDenial, type Reservation } from "../../src/limits/budget.ts";
import { utcDayBounds, utcMonthBounds } from "../../src/limits/utc-periods.ts";
import { seededRandom } from "../support/random.ts";


/** Timers that only move when the test says so; due callbacks run in deadline order. */
class FakeTimers implements SemaphoreTimers {
  time = 0;
  private nextId = 1;
  private readonly pending = new Map<number, { at: number; run: () => void }>();

  now(): number {
    return this.time;
  }

  setTimeout(run: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.pending.set(id, { at: this.time + ms, run });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.pending.delete(handle as number);
  }

  get pendingCount(): number {
    return this.pending.size;
  }

  advance(ms: number): void {
    const until = this.time + ms;
    for (;;) {
      let dueId: number | undefined;
      let dueAt = Infinity;
      for (const [id, timer] of this.pending) if (timer.at <= until && timer.at < dueAt) [dueId, dueAt] = [id, timer.at];
      if (dueId === undefined) break;
      const timer = this.pending.get(dueId)!;
      this.pending.delete(dueId);
      this.time = timer.at;
      timer.run();
    }
    this.time = until;
  }
}

/** Lets promise callbacks run (grants and rejections are delivered as microtasks). */
const flush = () => new Promise<void>((resolve) => setImmediate(resolve));

type Outcome = { state: "pending" } | { state: "granted"; release: Release } | { state: "failed"; error: unknown };

function track(promise: Promise<Release>): { outcome: Outcome } {
  const tracked: { outcome: Outcome } = { outcome: { state: "pending" } };
  promise.then(
    (release) => (tracked.outcome = { state: "granted", release }),
    (error: unknown) => (tracked.outcome = { state: "failed", error }),
  );
  return tracked;
}

function grantedRelease(tracked: { outcome: Outcome }): Release {
  if (tracked.outcome.state !== "granted") throw new Error(`expected a grant, got ${tracked.outcome.state}`);
  return tracked.outcome.release;
}

describe("RateWindow", () => {
  test("admits up to the limit, then refuses until the oldest usage slides out", () => {
    const rpm = new RateWindow();
    expect(rpm.take("k", 2, 1, 0)).toEqual({ allowed: true, limit: 2, remaining: 1, retryAfterMs: 0, resetMs: 60_000 });
    expect(rpm.take("k", 2, 1, 1_500)).toEqual({ allowed: true, limit: 2, remaining: 0, retryAfterMs: 0, resetMs: 59_500 });
    expect(rpm.take("k", 2, 1, 30_000)).toEqual({ allowed: false, limit: 2, remaining: 0, retryAfterMs: 30_000, resetMs: 31_000 });
    expect(rpm.take("k", 2, 1, 59_999).retryAfterMs).toBe(1);
    // The request of bucket 0 leaves at 60 s; the one of bucket 1 is still counted.
    expect(rpm.take("k", 2, 1, 60_000)).toEqual({ allowed: true, limit: 2, remaining: 0, retryAfterMs: 0, resetMs: 60_000 });
    expect(rpm.take("k", 2, 1, 60_500).retryAfterMs).toBe(500);
    expect(rpm.take("k", 2, 1, 61_000).allowed).toBe(true);
  });

  test("is exact to within one bucket: usage leaves when its whole bucket does", () => {
    const rpm = new RateWindow();
    rpm.take("k", 1, 1, 999); // bucket 0 (0..999 ms)
    expect(rpm.take("k", 1, 1, 59_999)).toMatchObject({ allowed: false, retryAfterMs: 1 });
    expect(rpm.take("k", 1, 1, 60_000).allowed).toBe(true);
  });

  test("a refused take records nothing", () => {
    const rpm = new RateWindow();
    rpm.take("k", 1, 1, 0);
    for (let t = 1_000; t < 60_000; t += 1_000) expect(rpm.take("k", 1, 1, t).allowed).toBe(false);
    expect(rpm.take("k", 1, 1, 60_000)).toMatchObject({ allowed: true, resetMs: 60_000 });
  });

  test("waits for enough tokens to free up, oldest bucket first", () => {
    const tpm = new RateWindow();
    tpm.take("k", 60, 10, 0);
    tpm.take("k", 60, 20, 10_000);
    tpm.take("k", 60, 30, 20_000);
    // Needs 25 back: bucket 0 frees 10 at 60 s (not enough), bucket 10 frees 20 more at 70 s.
    expect(tpm.take("k", 60, 25, 30_000)).toEqual({ allowed: false, limit: 60, remaining: 0, retryAfterMs: 40_000, resetMs: 50_000 });
    expect(tpm.take("k", 60, 25, 69_999).allowed).toBe(false);
    expect(tpm.take("k", 60, 25, 70_000)).toMatchObject({ allowed: true, remaining: 5 });
  });

  test("a cost larger than the whole limit is refused with the full window, not an endless wait", () => {
    const tpm = new RateWindow();
    expect(tpm.take("k", 100, 101, 0)).toEqual({ allowed: false, limit: 100, remaining: 100, retryAfterMs: 60_000, resetMs: 0 });
    expect(tpm.keyCount).toBe(0);
    tpm.take("k", 100, 40, 0);
    expect(tpm.take("k", 100, 500, 10_000)).toEqual({ allowed: false, limit: 100, remaining: 60, retryAfterMs: 60_000, resetMs: 50_000 });
    expect(tpm.peek("k", 100, 10_000).remaining).toBe(60);
  });

  test("a cost exactly equal to the limit fits an empty window", () => {
    const tpm = new RateWindow();
    expect(tpm.take("k", 100, 100, 0)).toMatchObject({ allowed: true, remaining: 0 });
  });

  test("adjust corrects usage: up into the current bucket, down from the newest buckets, never below zero", () => {
    const tpm = new RateWindow();
    tpm.take("k", 1_000, 100, 0);
    tpm.take("k", 1_000, 300, 5_000);
    tpm.adjust("k", -250, 6_000); // the 300-token estimate was really 50
    expect(tpm.peek("k", 1_000, 6_000)).toMatchObject({ remaining: 850, resetMs: 59_000 });
    tpm.adjust("k", -100, 6_000); // empties bucket 5 and takes 50 from bucket 0
    expect(tpm.peek("k", 1_000, 6_000)).toMatchObject({ remaining: 950, resetMs: 54_000 });
    tpm.adjust("k", 950, 7_000); // an under-estimate: the extra counts from now
    expect(tpm.peek("k", 1_000, 7_000)).toEqual({ allowed: false, limit: 1_000, remaining: 0, retryAfterMs: 53_000, resetMs: 60_000 });
    expect(tpm.peek("k", 1_000, 60_000)).toMatchObject({ remaining: 50 });
    tpm.adjust("k", -5_000, 60_000);
    expect(tpm.peek("k", 1_000, 60_000)).toEqual({ allowed: true, limit: 1_000, remaining: 1_000, retryAfterMs: 0, resetMs: 0 });
    expect(tpm.keyCount).toBe(0);
  });

  test("adjust on an idle key: a decrease is a no-op, an increase starts the window", () => {
    const tpm = new RateWindow();
    tpm.adjust("k", -10, 0);
    expect(tpm.keyCount).toBe(0);
    tpm.adjust("k", 10, 0);
    expect(tpm.peek("k", 100, 0).remaining).toBe(90);
  });

  test("usage that slid out cannot be adjusted away", () => {
    const tpm = new RateWindow();
    tpm.take("k", 100, 60, 0);
    tpm.take("k", 100, 30, 30_000);
    tpm.adjust("k", -50, 61_000); // bucket 0 already left; only bucket 30 can give back
    expect(tpm.peek("k", 100, 61_000).remaining).toBe(100);
  });

  test("peek reports without recording", () => {
    const rpm = new RateWindow();
    expect(rpm.peek("k", 1, 0)).toEqual({ allowed: true, limit: 1, remaining: 1, retryAfterMs: 0, resetMs: 0 });
    rpm.take("k", 1, 1, 0);
    expect(rpm.peek("k", 1, 1_000)).toEqual({ allowed: false, limit: 1, remaining: 0, retryAfterMs: 59_000, resetMs: 59_000 });
    expect(rpm.peek("k", 1, 1_000)).toEqual(rpm.peek("k", 1, 1_000));
  });

  test("keys are independent", () => {
    const rpm = new RateWindow();
    rpm.take("a", 1, 1, 0);
    expect(rpm.take("b", 1, 1, 0).allowed).toBe(true);
    expect(rpm.take("a", 1, 1, 0).allowed).toBe(false);
  });

  test("idle keys are dropped on access and by the periodic sweep", () => {
    const rpm = new RateWindow();
    for (let i = 0; i < 1_000; i++) rpm.take(`key-${i}`, 10, 1, 0);
    expect(rpm.keyCount).toBe(1_000);
    rpm.peek("key-0", 10, 60_000);
    expect(rpm.keyCount).toBeLessThanOrEqual(999);
    rpm.take("fresh", 10, 1, 60_000);
    expect(rpm.keyCount).toBe(1);
  });

  test("a custom window and bucket count", () => {
    const rps = new RateWindow(10_000, 10);
    rps.take("k", 1, 1, 2_500);
    expect(rps.take("k", 1, 1, 3_000)).toMatchObject({ allowed: false, retryAfterMs: 9_000, resetMs: 9_000 });
    expect(rps.take("k", 1, 1, 12_000).allowed).toBe(true);
  });

  test("a clock that steps back keeps counting into the newest bucket", () => {
    const rpm = new RateWindow();
    rpm.take("k", 2, 1, 10_000);
    expect(rpm.take("k", 2, 1, 9_000)).toMatchObject({ allowed: true, resetMs: 61_000 });
    expect(rpm.take("k", 2, 1, 69_999).allowed).toBe(false);
    expect(rpm.take("k", 2, 1, 70_000).allowed).toBe(true);
  });

  test("rejects nonsense arguments", () => {
    expect(() => new RateWindow(0)).toThrow(RangeError);
    expect(() => new RateWindow(60_000, 0.5)).toThrow(RangeError);
    expect(() => new RateWindow().take("k", 10, -1, 0)).toThrow(RangeError);
    expect(() => new RateWindow().take("k", 10, Number.NaN, 0)).toThrow(RangeError);
    expect(() => new RateWindow().adjust("k", Infinity, 0)).toThrow(RangeError);
  });

  test("random takes and adjusts agree with a brute-force model of the buckets", () => {
    const random = seededRandom(7);
    const window = new RateWindow();
    const events: { bucket: number; amount: number }[] = [];
    let now = 0;
    for (let step = 0; step < 2_000; step++) {
      now += Math.floor(random() * 3_000);
      const nowBucket = Math.floor(now / 1_000);
      const live = events.filter((event) => event.bucket > nowBucket - 60);
      const used = live.reduce((sum, event) => sum + event.amount, 0);
      if (random() < 0.8) {
        const cost = Math.floor(random() * 40);
        const decision = window.take("k", 500, cost, now);
        expect(decision.allowed).toBe(used + cost <= 500);
        if (decision.allowed && cost > 0) events.push({ bucket: nowBucket, amount: cost });
      } else {
        const delta = Math.floor(random() * 60) - 30;
        window.adjust("k", delta, now);
        if (delta > 0) events.push({ bucket: nowBucket, amount: delta });
        let left = -delta;
        for (let i = events.length - 1; i >= 0 && left > 0; i--) {
          const event = events[i]!;
          if (event.bucket <= nowBucket - 60) break;
          const removed = Math.min(event.amount, left);
          event.amount -= removed;
          left -= removed;
        }
      }
      const after = events.filter((event) => event.bucket > nowBucket - 60).reduce((sum, event) => sum + event.amount, 0);
      expect(window.peek("k", 500, now).remaining).toBe(Math.max(0, 500 - after));
    }
  });
});

describe("FifoSemaphore", () => {
  test("tryAcquire hands out free slots synchronously; a release is idempotent", () => {
    const semaphore = new FifoSemaphore(2, new FakeTimers());
    const first = semaphore.tryAcquire()!;
    const second = semaphore.tryAcquire()!;
    expect(semaphore.tryAcquire()).toBeUndefined();
    expect(semaphore.inUse).toBe(2);
    first();
    first();
    expect(semaphore.inUse).toBe(1);
    second();
    expect(semaphore.inUse).toBe(0);
  });

  test("acquire resolves at once when a slot is free; timeout 0 rejects at once when not", async () => {
    const timers = new FakeTimers();
    const semaphore = new FifoSemaphore(1, timers);
    const release = await semaphore.acquire(0);
    expect(semaphore.inUse).toBe(1);
    const refused = semaphore.acquire(0);
    await expect(refused).rejects.toBeInstanceOf(QueueTimeoutError);
    await expect(refused).rejects.toMatchObject({ waitedMs: 0, name: "QueueTimeoutError" });
    expect(semaphore.waiting).toBe(0);
    expect(timers.pendingCount).toBe(0);
    release();
  });

  test("waiters are granted in arrival order, and their timers are cleared when granted", async () => {
    const timers = new FakeTimers();
    const semaphore = new FifoSemaphore(1, timers);
    const holder = semaphore.tryAcquire()!;
    const order: string[] = [];
    const waiters = ["a", "b", "c"].map((name) => semaphore.acquire(1_000).then((release) => (order.push(name), release)));
    expect(semaphore.waiting).toBe(3);
    expect(semaphore.tryAcquire()).toBeUndefined();
    expect(timers.pendingCount).toBe(3);
    holder();
    const releaseA = await waiters[0]!;
    expect(timers.pendingCount).toBe(2);
    releaseA();
    (await waiters[1]!)();
    (await waiters[2]!)();
    expect(order).toEqual(["a", "b", "c"]);
    expect(semaphore.inUse).toBe(0);
    expect(timers.pendingCount).toBe(0);
  });

  test("a queued waiter times out with the time it waited and leaves the queue", async () => {
    const timers = new FakeTimers();
    const semaphore = new FifoSemaphore(1, timers);
    const holder = semaphore.tryAcquire()!;
    const late = track(semaphore.acquire(100));
    const next = track(semaphore.acquire(500));
    timers.advance(99);
    await flush();
    expect(late.outcome.state).toBe("pending");
    timers.advance(1);
    await flush();
    expect(late.outcome).toMatchObject({ state: "failed", error: { waitedMs: 100 } });
    expect(semaphore.waiting).toBe(1);
    holder();
    await flush();
    grantedRelease(next)();
    expect(semaphore.inUse).toBe(0);
    expect(semaphore.waiting).toBe(0);
  });

  test("a release and a timeout due at the same instant: whichever runs first wins, no slot leaks", async () => {
    const timers = new FakeTimers();
    const semaphore = new FifoSemaphore(1, timers);
    const holder = semaphore.tryAcquire()!;
    const waiter = track(semaphore.acquire(100));
    timers.advance(100); // timeout runs first
    holder();
    holder();
    await flush();
    expect(waiter.outcome.state).toBe("failed");
    expect(semaphore.inUse).toBe(0);

    const holder2 = semaphore.tryAcquire()!;
    const waiter2 = track(semaphore.acquire(100));
    timers.advance(99);
    holder2(); // release runs first: the grant clears the timer, so the timeout never fires
    timers.advance(1);
    await flush();
    expect(timers.pendingCount).toBe(0);
    grantedRelease(waiter2)();
    expect(semaphore.inUse).toBe(0);
  });

  test("aborting a waiter rejects with the signal's reason and lets the next one in", async () => {
    const semaphore = new FifoSemaphore(1, new FakeTimers());
    const holder = semaphore.tryAcquire()!;
    const controller = new AbortController();
    const aborted = track(semaphore.acquire(Infinity, controller.signal));
    const next = track(semaphore.acquire(Infinity));
    controller.abort(new Error("client went away"));
    await flush();
    expect(aborted.outcome).toMatchObject({ state: "failed", error: { message: "client went away" } });
    expect(semaphore.waiting).toBe(1);
    holder();
    await flush();
    grantedRelease(next)();
    expect(semaphore.inUse).toBe(0);
  });

  test("an abort without a reason rejects with an AbortError", async () => {
    const semaphore = new FifoSemaphore(0, new FakeTimers());
    const controller = new AbortController();
    const waiting = semaphore.acquire(1_000, controller.signal);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ name: "AbortError" });
  });

  test("an already-aborted signal is refused even when a slot is free", async () => {
    const semaphore = new FifoSemaphore(1, new FakeTimers());
    await expect(semaphore.acquire(1_000, AbortSignal.abort(new Error("gone")))).rejects.toThrow("gone");
    expect(semaphore.inUse).toBe(0);
  });

  test("a waiter aborted right after a slot freed keeps the grant it already got; it must release it", async () => {
    const semaphore = new FifoSemaphore(1, new FakeTimers());
    const holder = semaphore.tryAcquire()!;
    const controller = new AbortController();
    const waiter = track(semaphore.acquire(1_000, controller.signal));
    holder();
    controller.abort();
    await flush();
    expect(semaphore.inUse).toBe(1);
    grantedRelease(waiter)();
    expect(semaphore.inUse).toBe(0);
  });

  test("a waiter aborted right before a slot frees is gone; the slot stays free", async () => {
    const semaphore = new FifoSemaphore(1, new FakeTimers());
    const holder = semaphore.tryAcquire()!;
    const controller = new AbortController();
    const waiter = track(semaphore.acquire(1_000, controller.signal));
    controller.abort();
    holder();
    await flush();
    expect(waiter.outcome.state).toBe("failed");
    expect(semaphore.inUse).toBe(0);
  });

  test("a slot freed by an abort listener is not handed to a waiter cancelled by that same abort", async () => {
    const semaphore = new FifoSemaphore(1, new FakeTimers());
    const controller = new AbortController();
    const holder = semaphore.tryAcquire()!;
    controller.signal.addEventListener("abort", holder); // registered before the waiter's own listener
    const sameRequest = track(semaphore.acquire(1_000, controller.signal));
    const other = track(semaphore.acquire(1_000));
    controller.abort();
    await flush();
    expect(sameRequest.outcome.state).toBe("failed");
    grantedRelease(other)();
    expect(semaphore.inUse).toBe(0);
    expect(semaphore.waiting).toBe(0);
  });

  test("raising max admits waiters at once, in order", async () => {
    const semaphore = new FifoSemaphore(0, new FakeTimers());
    const waiters = [track(semaphore.acquire(1_000)), track(semaphore.acquire(1_000)), track(semaphore.acquire(1_000))];
    semaphore.max = 2;
    await flush();
    expect(waiters.map((waiter) => waiter.outcome.state)).toEqual(["granted", "granted", "pending"]);
    expect(semaphore.inUse).toBe(2);
    grantedRelease(waiters[0]!)();
    await flush();
    grantedRelease(waiters[1]!)();
    grantedRelease(waiters[2]!)();
    expect(semaphore.inUse).toBe(0);
  });

  test("lowering max lets holders finish and admits no one until usage is below it", async () => {
    const semaphore = new FifoSemaphore(3, new FakeTimers());
    const holders = [semaphore.tryAcquire()!, semaphore.tryAcquire()!, semaphore.tryAcquire()!];
    semaphore.max = 1;
    expect(semaphore.inUse).toBe(3);
    const waiter = track(semaphore.acquire(1_000));
    holders[0]!();
    holders[1]!();
    await flush();
    expect(waiter.outcome.state).toBe("pending");
    expect(semaphore.tryAcquire()).toBeUndefined();
    holders[2]!();
    await flush();
    grantedRelease(waiter)();
    expect(semaphore.inUse).toBe(0);
  });

  test("rejects a nonsense max", () => {
    expect(() => new FifoSemaphore(-1)).toThrow(RangeError);
    expect(() => new FifoSemaphore(1.5)).toThrow(RangeError);
    expect(() => (new FifoSemaphore(1).max = Number.NaN)).toThrow(RangeError);
    expect(new FifoSemaphore(Infinity).tryAcquire()).toBeDefined();
  });

  test("works with the real timers", async () => {
    const semaphore = new FifoSemaphore(1);
    const holder = semaphore.tryAcquire()!;
    await expect(semaphore.acquire(5)).rejects.toBeInstanceOf(QueueTimeoutError);
    const waiter = semaphore.acquire(60_000);
    holder();
    (await waiter)();
    expect(semaphore.inUse).toBe(0);
  });

  test("no slot leaks across hundreds of random acquire/abort/timeout/release/max sequences", async () => {
    for (const seed of [1, 2, 3, 4, 5]) {
      const random = seededRandom(seed);
      const timers = new FakeTimers();
      const semaphore = new FifoSemaphore(2, timers);
      const held: Release[] = [];
      const releasedOnce: Release[] = [];
      const pending: { tracked: { outcome: Outcome }; controller: AbortController }[] = [];

      const collect = () => {
        for (let i = pending.length - 1; i >= 0; i--) {
          const { outcome } = pending[i]!.tracked;
          if (outcome.state === "pending") continue;
          if (outcome.state === "granted") held.push(outcome.release);
          pending.splice(i, 1);
        }
      };

      for (let step = 0; step < 300; step++) {
        const roll = random();
        if (roll < 0.3) {
          const controller = new AbortController();
          const timeoutMs = [0, 5, 20, 50, Infinity][Math.floor(random() * 5)]!;
          const sync = random() < 0.2 ? semaphore.tryAcquire() : undefined;
          if (sync !== undefined) held.push(sync);
          else pending.push({ tracked: track(semaphore.acquire(timeoutMs, controller.signal)), controller });
        } else if (roll < 0.5 && held.length > 0) {
          const [release] = held.splice(Math.floor(random() * held.length), 1);
          release!();
          releasedOnce.push(release!);
        } else if (roll < 0.6 && releasedOnce.length > 0) {
          releasedOnce[Math.floor(random() * releasedOnce.length)]!(); // double release
        } else if (roll < 0.75 && pending.length > 0) {
          pending[Math.floor(random() * pending.length)]!.controller.abort();
        } else if (roll < 0.8) {
          semaphore.max = Math.floor(random() * 4);
        } else {
          timers.advance(Math.floor(random() * 30));
        }
        await flush();
        collect();
        expect(semaphore.inUse).toBe(held.length);
        expect(semaphore.waiting).toBe(pending.length);
        if (semaphore.waiting > 0) expect(semaphore.inUse).toBeGreaterThanOrEqual(semaphore.max);
        else expect(timers.pendingCount).toBe(0);
      }

      semaphore.max = 1;
      while (held.length > 0 || pending.length > 0) {
        held.pop()?.();
        timers.advance(10);
        await flush();
        collect();
      }
      expect(semaphore.inUse).toBe(0);
      expect(semaphore.waiting).toBe(0);
      expect(timers.pendingCount).toBe(0);
    }
  });
});

describe("SemaphoreRegistry", () => {
  test("creates one semaphore per name, applies a changed max, and reports stats", () => {
    const registry = new SemaphoreRegistry(new FakeTimers());
    const key = registry.get("key:alice", 2);
    expect(registry.get("key:alice", 2)).toBe(key);
    key.tryAcquire();
    registry.get("backend:gpu-1", 8);
    registry.get("key:alice", 1);
    expect(key.max).toBe(1);
    expect(registry.stats()).toEqual([
      { name: "key:alice", max: 1, inUse: 1, waiting: 0 },
      { name: "backend:gpu-1", max: 8, inUse: 0, waiting: 0 },
    ]);
  });
});

describe("BudgetBook", () => {
  const DAY_MS = 86_400_000;
  const JAN_15 = Date.UTC(2025, 0, 15, 12);

  function ledger(spentByStart: Record<number, number> = {}) {
    const calls: [string, number][] = [];
    const loadSpent = (keyId: string, periodStartMs: number) => {
      calls.push([keyId, periodStartMs]);
      return spentByStart[periodStartMs] ?? 0;
    };
    return { calls, loadSpent };
  }

  function reserved(result: Reservation | BudgetDenial): Reservation {
    if (isBudgetDenial(result)) throw new Error(`expected a reservation, got a ${result.period} denial`);
    return result;
  }

  test("admits while settled + reserved + amount <= limit, and says why it refuses", () => {
    const { loadSpent } = ledger({ [Date.UTC(2025, 0, 15)]: 900, [Date.UTC(2025, 0, 1)]: 5_000 });
    const book = new BudgetBook(loadSpent);
    const limits = { dailyMicros: 1_000, monthlyMicros: 100_000 };
    const held = reserved(book.reserve("k", limits, 100, JAN_15));
    expect(book.reserve("k", limits, 1, JAN_15)).toEqual({
      period: "daily",
      limitMicros: 1_000,
      spentMicros: 900,
      reservedMicros: 100,
      retryAfterMs: 12 * 3_600_000,
    });
    held.release();
    reserved(book.reserve("k", limits, 100, JAN_15));
  });

  test("when both periods are exhausted the monthly denial (the later reset) is reported", () => {
    const { loadSpent } = ledger({ [Date.UTC(2025, 0, 15)]: 1_000, [Date.UTC(2025, 0, 1)]: 10_000 });
    const book = new BudgetBook(loadSpent);
    const denial = book.reserve("k", { dailyMicros: 1_000, monthlyMicros: 10_000 }, 1, JAN_15);
    expect(denial).toMatchObject({ period: "monthly", limitMicros: 10_000, spentMicros: 10_000, retryAfterMs: Date.UTC(2025, 1, 1) - JAN_15 });
  });

  test("only configured periods are enforced; spend is tracked either way", () => {
    const book = new BudgetBook(ledger({ [Date.UTC(2025, 0, 1)]: 10_000 }).loadSpent);
    reserved(book.reserve("k", { dailyMicros: 500 }, 500, JAN_15)).settle(500);
    reserved(book.reserve("k", {}, 1_000_000, JAN_15)).settle(1_000_000);
    expect(book.spent("k", JAN_15)).toEqual({ dailyMicros: 1_000_500, monthlyMicros: 1_010_500 });
  });

  test("loads each key's spend from the ledger once per period, lazily", () => {
    const { calls, loadSpent } = ledger();
    const book = new BudgetBook(loadSpent);
    expect(calls).toEqual([]);
    book.reserve("a", { dailyMicros: 10 }, 1, JAN_15);
    book.reserve("a", { dailyMicros: 10 }, 1, JAN_15 + 1_000);
    book.spent("a", JAN_15 + 2_000);
    book.spent("b", JAN_15);
    expect(calls).toEqual([
      ["a", Date.UTC(2025, 0, 15)],
      ["a", Date.UTC(2025, 0, 1)],
      ["b", Date.UTC(2025, 0, 15)],
      ["b", Date.UTC(2025, 0, 1)],
    ]);
  });

  test("settle replaces the reservation with the real cost; settle and release are idempotent", () => {
    const book = new BudgetBook(ledger().loadSpent);
    const limits = { dailyMicros: 1_000 };
    const first = reserved(book.reserve("k", limits, 400, JAN_15));
    first.settle(150);
    first.settle(999);
    first.release();
    expect(book.spent("k", JAN_15)).toEqual({ dailyMicros: 150, monthlyMicros: 150 });
    const second = reserved(book.reserve("k", limits, 850, JAN_15));
    second.release();
    second.release();
    second.settle(850);
    expect(book.spent("k", JAN_15).dailyMicros).toBe(150);
    const over = reserved(book.reserve("k", limits, 850, JAN_15));
    over.settle(900); // the real cost may exceed the estimate
    expect(book.reserve("k", limits, 0, JAN_15)).toMatchObject({ period: "daily", spentMicros: 1_050, reservedMicros: 0 });
  });

  test("an invalid settle throws and leaves the reservation open for release", () => {
    const book = new BudgetBook(ledger().loadSpent);
    const held = reserved(book.reserve("k", { dailyMicros: 100 }, 100, JAN_15));
    expect(() => held.settle(1.5)).toThrow(RangeError);
    expect(book.reserve("k", { dailyMicros: 100 }, 1, JAN_15)).toMatchObject({ reservedMicros: 100 });
    held.release();
    reserved(book.reserve("k", { dailyMicros: 100 }, 100, JAN_15));
  });

  test("rejects amounts that are not whole non-negative micro-dollars", () => {
    const book = new BudgetBook(ledger().loadSpent);
    expect(() => book.reserve("k", {}, -1, JAN_15)).toThrow(RangeError);
    expect(() => book.reserve("k", {}, 0.5, JAN_15)).toThrow(RangeError);
    expect(() => new BudgetBook(() => Number.NaN).spent("k", JAN_15)).toThrow(RangeError);
  });

  test("50 concurrent reservations against a nearly spent budget never admit more than is left", () => {
    const limitMicros = 1_000_000;
    const left = 7_300;
    const amount = 1_000;
    const book = new BudgetBook(ledger({ [Date.UTC(2025, 0, 15)]: limitMicros - left }).loadSpent);
    const results = Array.from({ length: 50 }, () => book.reserve("k", { dailyMicros: limitMicros }, amount, JAN_15));
    const admitted = results.filter((result) => !isBudgetDenial(result)) as Reservation[];
    expect(admitted.length).toBe(7);
    expect(admitted.length * amount).toBeLessThanOrEqual(left);
    const random = seededRandom(11);
    for (const reservation of admitted) reservation.settle(Math.floor(random() * (amount + 1)));
    expect(book.spent("k", JAN_15).dailyMicros).toBeLessThanOrEqual(limitMicros);
  });

  test("random interleavings of reserve/settle/release never let settled spend pass the budget", () => {
    const random = seededRandom(3);
    const limits = { dailyMicros: 50_000, monthlyMicros: 80_000 };
    const book = new BudgetBook(ledger({ [Date.UTC(2025, 0, 1)]: 20_000 }).loadSpent);
    const open: { reservation: Reservation; amount: number }[] = [];
    let admittedMicros = 0;
    for (let step = 0; step < 1_000; step++) {
      if (random() < 0.6) {
        const amount = Math.floor(random() * 3_000);
        const result = book.reserve("k", limits, amount, JAN_15);
        if (!isBudgetDenial(result)) open.push({ reservation: result, amount });
      } else if (open.length > 0) {
        const [{ reservation, amount }] = open.splice(Math.floor(random() * open.length), 1) as [{ reservation: Reservation; amount: number }];
        if (random() < 0.2) reservation.release();
        else {
          const actual = Math.floor(random() * (amount + 1));
          reservation.settle(actual);
          admittedMicros += actual;
        }
      }
      const openMicros = open.reduce((sum, held) => sum + held.amount, 0);
      const spent = book.spent("k", JAN_15);
      expect(spent.dailyMicros).toBe(admittedMicros);
      expect(spent.dailyMicros + openMicros).toBeLessThanOrEqual(limits.dailyMicros);
      expect(spent.monthlyMicros + openMicros).toBeLessThanOrEqual(limits.monthlyMicros);
    }
  });

  test("a reservation made before UTC midnight and settled after it counts in the day it was reserved in", () => {
    const jan15 = Date.UTC(2025, 0, 15);
    const jan16 = jan15 + DAY_MS;
    const { calls, loadSpent } = ledger({ [jan15]: 900, [jan16]: 40 });
    const book = new BudgetBook(loadSpent);
    const limits = { dailyMicros: 1_000 };
    const lastMinute = reserved(book.reserve("k", limits, 100, jan16 - 1));
    expect(book.reserve("k", limits, 1, jan16 - 1)).toMatchObject({ period: "daily", retryAfterMs: 1 });
    // The new day starts from the ledger and does not see the old day's reservation.
    reserved(book.reserve("k", limits, 960, jan16)).release();
    lastMinute.settle(80);
    expect(book.spent("k", jan16)).toEqual({ dailyMicros: 40, monthlyMicros: 80 });
    expect(calls).toEqual([
      ["k", jan15],
      ["k", Date.UTC(2025, 0, 1)],
      ["k", jan16],
    ]);
  });

  test("months roll over on the first, including a leap-year February", () => {
    const feb1 = Date.UTC(2024, 1, 1);
    const mar1 = Date.UTC(2024, 2, 1);
    const { calls, loadSpent } = ledger({ [feb1]: 7, [mar1]: 3 });
    const book = new BudgetBook(loadSpent);
    const limits = { monthlyMicros: 100 };
    const beforeMidnight = reserved(book.reserve("k", limits, 93, mar1 - 1));
    expect(book.reserve("k", limits, 1, mar1 - 1)).toMatchObject({ period: "monthly", retryAfterMs: 1 });
    expect(book.spent("k", Date.UTC(2024, 1, 29, 12)).monthlyMicros).toBe(7);
    beforeMidnight.settle(93);
    expect(book.spent("k", mar1)).toEqual({ dailyMicros: 3, monthlyMicros: 3 });
    reserved(book.reserve("k", limits, 97, mar1));
    expect(calls.map(([, start]) => new Date(start).toISOString())).toEqual([
      "2024-02-29T00:00:00.000Z",
      "2024-02-01T00:00:00.000Z",
      "2024-03-01T00:00:00.000Z",
      "2024-03-01T00:00:00.000Z",
    ]);
  });

  test("a clock that steps back a little keeps the open period", () => {
    const { calls, loadSpent } = ledger();
    const book = new BudgetBook(loadSpent);
    const held = reserved(book.reserve("k", { dailyMicros: 10 }, 10, JAN_15));
    expect(book.reserve("k", { dailyMicros: 10 }, 1, JAN_15 - DAY_MS)).toMatchObject({ period: "daily", reservedMicros: 10 });
    held.release();
    expect(calls.length).toBe(2);
  });
});

describe("UTC periods", () => {
  test("day and month bounds, across a year end", () => {
    const now = Date.UTC(2024, 11, 31, 23, 59, 59, 999);
    expect(utcDayBounds(now)).toEqual({ startMs: Date.UTC(2024, 11, 31), endMs: Date.UTC(2025, 0, 1) });
    expect(utcMonthBounds(now)).toEqual({ startMs: Date.UTC(2024, 11, 1), endMs: Date.UTC(2025, 0, 1) });
    expect(utcDayBounds(Date.UTC(2025, 0, 1))).toEqual({ startMs: Date.UTC(2025, 0, 1), endMs: Date.UTC(2025, 0, 2) });
  });
});
