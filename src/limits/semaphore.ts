// Concurrency limits (`max_concurrent` per key and per backend): a counting semaphore whose waiters queue in
// arrival order. Free slots are handed out synchronously, so the fast path allocates only the release function;
// a timer exists only while a request is actually queued, and it is cleared the moment the waiter leaves the queue.

/** Gives the slot back. Idempotent: a second call does nothing. */
export type Release = () => void;

export class QueueTimeoutError extends Error {
  override readonly name = "QueueTimeoutError";

  constructor(readonly waitedMs: number) {
    super(`no free slot after waiting ${waitedMs} ms`);
  }
}

/** The clock and timers a semaphore uses; injected so tests can drive timeouts exactly. */
export interface SemaphoreTimers {
  now(): number;
  setTimeout(onTimeout: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: SemaphoreTimers = {
  now: () => performance.now(),
  setTimeout: (onTimeout, ms) => setTimeout(onTimeout, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
};

interface Waiter {
  readonly grant: (release: Release) => void;
  readonly fail: (reason: unknown) => void;
  readonly enqueuedAt: number;
  readonly signal: AbortSignal | undefined;
  timer: unknown;
  onAbort: (() => void) | undefined;
  // Intrusive doubly linked list: a timed-out or aborted waiter leaves the middle of the queue in O(1).
  prev: Waiter | undefined;
  next: Waiter | undefined;
  queued: boolean;
}

export class FifoSemaphore {
  private limit: number;
  private held = 0;
  private queueLength = 0;
  private head: Waiter | undefined;
  private tail: Waiter | undefined;

  constructor(
    max: number,
    private readonly timers: SemaphoreTimers = realTimers,
  ) {
    this.limit = checkedMax(max);
  }

  /** Raising it admits waiters at once; lowering it lets in-flight holders finish and admits no one until below it. */
  get max(): number {
    return this.limit;
  }

  set max(value: number) {
    this.limit = checkedMax(value);
    this.grantWaiting();
  }

  get inUse(): number {
    return this.held;
  }

  get waiting(): number {
    return this.queueLength;
  }

  /** Sync fast path: a release if a slot is free and nobody is queued, else undefined. */
  tryAcquire(): Release | undefined {
    if (this.head !== undefined || this.held >= this.limit) return undefined;
    this.held++;
    return this.newRelease();
  }

  /**
   * Resolves with a release at once when a slot is free, else waits in FIFO order up to `timeoutMs`
   * (0 = don't wait). Rejects with QueueTimeoutError on timeout, or with the signal's reason when `signal`
   * aborts while waiting. An already-aborted signal is refused even if a slot is free: nobody would use it.
   */
  acquire(timeoutMs: number, signal?: AbortSignal): Promise<Release> {
    if (signal?.aborted) return Promise.reject(abortReason(signal));
    const release = this.tryAcquire();
    if (release !== undefined) return Promise.resolve(release);
    if (!(timeoutMs > 0)) return Promise.reject(new QueueTimeoutError(0));
    return new Promise<Release>((grant, fail) => this.enqueue(grant, fail, timeoutMs, signal));
  }

  private enqueue(grant: Waiter["grant"], fail: Waiter["fail"], timeoutMs: number, signal: AbortSignal | undefined): void {
    const waiter: Waiter = {
      grant,
      fail,
      enqueuedAt: this.timers.now(),
      signal,
      timer: undefined,
      onAbort: undefined,
      prev: this.tail,
      next: undefined,
      queued: true,
    };
    if (this.tail === undefined) this.head = waiter;
    else this.tail.next = waiter;
    this.tail = waiter;
    this.queueLength++;
    if (Number.isFinite(timeoutMs)) {
      waiter.timer = this.timers.setTimeout(() => this.leaveQueue(waiter, new QueueTimeoutError(this.timers.now() - waiter.enqueuedAt)), timeoutMs);
    }
    if (signal !== undefined) {
      waiter.onAbort = () => this.leaveQueue(waiter, abortReason(signal));
      signal.addEventListener("abort", waiter.onAbort, { once: true });
    }
  }

  /** Timeout or abort: the waiter gives up. A no-op when it was already granted or had already given up. */
  private leaveQueue(waiter: Waiter, reason: unknown): void {
    if (!waiter.queued) return;
    this.unlink(waiter);
    waiter.fail(reason);
  }

  private grantWaiting(): void {
    while (this.held < this.limit && this.head !== undefined) {
      const waiter = this.head;
      this.unlink(waiter);
      // The signal can be aborted while its listeners are still running (e.g. a holder's abort listener releases
      // the slot this waiter is about to get); never hand a slot to a waiter that has already been cancelled.
      if (waiter.signal?.aborted) {
        waiter.fail(abortReason(waiter.signal));
        continue;
      }
      this.held++;
      waiter.grant(this.newRelease());
    }
  }

  /** Takes the waiter out of the queue and drops its timer and abort listener, so neither can fire later. */
  private unlink(waiter: Waiter): void {
    waiter.queued = false;
    if (waiter.prev === undefined) this.head = waiter.next;
    else waiter.prev.next = waiter.next;
    if (waiter.next === undefined) this.tail = waiter.prev;
    else waiter.next.prev = waiter.prev;
    waiter.prev = waiter.next = undefined;
    this.queueLength--;
    if (waiter.timer !== undefined) this.timers.clearTimeout(waiter.timer);
    if (waiter.onAbort !== undefined) waiter.signal?.removeEventListener("abort", waiter.onAbort);
    waiter.timer = waiter.onAbort = undefined;
  }

  private newRelease(): Release {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held--;
      this.grantWaiting();
    };
  }
}

export interface SemaphoreStats {
  name: string;
  max: number;
  inUse: number;
  waiting: number;
}

/** One semaphore per name (api key, backend id); `get` applies the configured max, so a reload just calls it again. */
export class SemaphoreRegistry {
  private readonly semaphores = new Map<string, FifoSemaphore>();

  constructor(private readonly timers: SemaphoreTimers = realTimers) {}

  get(name: string, max: number): FifoSemaphore {
    const existing = this.semaphores.get(name);
    if (existing === undefined) {
      const created = new FifoSemaphore(max, this.timers);
      this.semaphores.set(name, created);
      return created;
    }
    if (existing.max !== max) existing.max = max;
    return existing;
  }

  stats(): SemaphoreStats[] {
    return [...this.semaphores].map(([name, semaphore]) => ({ name, max: semaphore.max, inUse: semaphore.inUse, waiting: semaphore.waiting }));
  }
}

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("The operation was aborted.", "AbortError");
}

function checkedMax(value: number): number {
  if (!(value >= 0) || !(Number.isInteger(value) || value === Infinity)) {
    throw new RangeError(`max must be a whole number >= 0 (or Infinity), got ${value}`);
  }
  return value;
}
