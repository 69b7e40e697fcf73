// Per-key usage over a sliding window, kept as a ring of fixed time buckets (60 × 1 s by default). Used for rpm
// (cost 1 per request) and tpm (cost = tokens). A bucket's usage leaves the window all at once when the bucket
// does, so the window is exact to within one bucket and every call is O(1) apart from a refusal's retry scan.
// All time comes in as `now` (ms), so the class holds no timers and tests are exact.

/** The window's length: one minute (rpm, tpm); tests shorten it with SLUICE_RATE_WINDOW_MS (at least 60 ms). */
export function rateWindowMs(): number {
  const fromEnv = Number(process.env.SLUICE_RATE_WINDOW_MS);
  return Number.isFinite(fromEnv) && fromEnv >= 60 ? fromEnv : 60_000;
}

export interface RateDecision {
  allowed: boolean;
  limit: number;
  /** Capacity left after this decision (after recording the cost when allowed). */
  remaining: number;
  /** ms until enough capacity frees up; 0 when allowed. */
  retryAfterMs: number;
  /** ms until the window fully resets (holds no usage); 0 when it is already empty. */
  resetMs: number;
}

interface KeyWindow {
  /** Usage per bucket, indexed by absolute bucket number modulo the bucket count. */
  readonly counts: Float64Array;
  /** Sum of `counts`, kept so admission is O(1). */
  total: number;
  /** Newest bucket the ring has been advanced to; all buckets after it are empty. */
  headBucket: number;
  /** Newest bucket holding usage; decides when the window fully resets. */
  newestUsedBucket: number;
}

export class RateWindow {
  private readonly windows = new Map<string, KeyWindow>();
  private readonly bucketMs: number;
  private nextSweepAt = -Infinity;

  constructor(
    readonly windowMs = 60_000,
    readonly buckets = 60,
  ) {
    if (!(windowMs > 0) || !Number.isFinite(windowMs)) throw new RangeError(`windowMs must be a positive number, got ${windowMs}`);
    if (!Number.isInteger(buckets) || buckets < 1) throw new RangeError(`buckets must be a positive integer, got ${buckets}`);
    this.bucketMs = windowMs / buckets;
  }

  /** Keys currently holding usage (idle keys are dropped). */
  get keyCount(): number {
    return this.windows.size;
  }

  /** Admits `cost` if used + cost <= limit and records it atomically; otherwise records nothing. */
  take(key: string, limit: number, cost: number, now: number): RateDecision {
    checkAmount(cost, "cost");
    const nowBucket = this.bucketAt(now);
    this.sweepIfDue(now, nowBucket);
    const window = this.current(key, nowBucket);
    const used = window?.total ?? 0;
    // A cost larger than the whole limit can never fit; refuse with a finite wait instead of an endless one.
    if (cost > limit) return refusal(limit, used, this.windowMs, this.resetMs(window, now));
    if (used + cost > limit) return refusal(limit, used, this.msUntilFreed(window, used + cost - limit, now), this.resetMs(window, now));
    const recorded = cost > 0 ? this.record(key, window, cost, nowBucket) : window;
    return { allowed: true, limit, remaining: Math.max(0, limit - used - cost), retryAfterMs: 0, resetMs: this.resetMs(recorded, now) };
  }

  /** Corrects a key's usage after the fact (tpm: real tokens minus the admission estimate). Usage never drops below 0. */
  adjust(key: string, delta: number, now: number): void {
    if (!Number.isFinite(delta)) throw new RangeError(`delta must be a finite number, got ${delta}`);
    const nowBucket = this.bucketAt(now);
    this.sweepIfDue(now, nowBucket);
    const window = this.current(key, nowBucket);
    if (delta > 0) this.record(key, window, delta, nowBucket);
    else if (delta < 0 && window) this.removeNewestFirst(key, window, -delta);
  }

  /** Reports the key's state without recording anything; `allowed` says whether any capacity is left. */
  peek(key: string, limit: number, now: number): RateDecision {
    const nowBucket = this.bucketAt(now);
    this.sweepIfDue(now, nowBucket);
    const window = this.current(key, nowBucket);
    const used = window?.total ?? 0;
    const resetMs = this.resetMs(window, now);
    if (used < limit) return { allowed: true, limit, remaining: limit - used, retryAfterMs: 0, resetMs };
    return refusal(limit, used, this.msUntilFreed(window, used - limit + 1, now), resetMs);
  }

  private bucketAt(now: number): number {
    return Math.floor(now / this.bucketMs);
  }

  /** The key's window advanced to `nowBucket`, or undefined (and forgotten) when it holds no usage. */
  private current(key: string, nowBucket: number): KeyWindow | undefined {
    const window = this.windows.get(key);
    if (window === undefined) return undefined;
    this.advance(window, nowBucket);
    if (window.total > 0) return window;
    this.windows.delete(key);
    return undefined;
  }

  /** Empties the buckets that slid out of the window since the last access. */
  private advance(window: KeyWindow, nowBucket: number): void {
    const gap = nowBucket - window.headBucket;
    // gap < 0 means the clock stepped back: keep counting into the head bucket rather than into the past.
    if (gap <= 0) return;
    if (gap >= this.buckets) {
      window.counts.fill(0);
      window.total = 0;
    } else {
      for (let bucket = window.headBucket + 1; bucket <= nowBucket; bucket++) {
        const index = bucket % this.buckets;
        window.total -= window.counts[index] ?? 0;
        window.counts[index] = 0;
      }
      if (window.total < 0) window.total = 0;
    }
    window.headBucket = nowBucket;
  }

  private record(key: string, existing: KeyWindow | undefined, amount: number, nowBucket: number): KeyWindow {
    let window = existing;
    if (window === undefined) {
      window = { counts: new Float64Array(this.buckets), total: 0, headBucket: nowBucket, newestUsedBucket: nowBucket };
      this.windows.set(key, window);
    }
    const index = window.headBucket % this.buckets;
    window.counts[index] = (window.counts[index] ?? 0) + amount;
    window.total += amount;
    window.newestUsedBucket = window.headBucket;
    return window;
  }

  /** Undoes usage from the newest buckets back, since an over-estimate was recorded recently. */
  private removeNewestFirst(key: string, window: KeyWindow, amount: number): void {
    let left = amount;
    let newestUsed: number | undefined;
    for (let bucket = window.headBucket; bucket > window.headBucket - this.buckets; bucket--) {
      const index = bucket % this.buckets;
      const count = window.counts[index] ?? 0;
      const removed = Math.min(count, left);
      window.counts[index] = count - removed;
      window.total -= removed;
      left -= removed;
      if (count - removed > 0) {
        newestUsed ??= bucket;
        if (left <= 0) break;
      }
    }
    if (newestUsed === undefined || window.total <= 0) this.windows.delete(key);
    else window.newestUsedBucket = newestUsed;
  }

  /** ms until at least `need` of the current usage has slid out, oldest bucket first. */
  private msUntilFreed(window: KeyWindow | undefined, need: number, now: number): number {
    if (window === undefined) return this.windowMs;
    let freed = 0;
    for (let bucket = window.headBucket - this.buckets + 1; bucket <= window.headBucket; bucket++) {
      freed += window.counts[bucket % this.buckets] ?? 0;
      if (freed >= need) return this.msUntilBucketLeaves(bucket, now);
    }
    return this.windowMs;
  }

  private resetMs(window: KeyWindow | undefined, now: number): number {
    return window === undefined ? 0 : this.msUntilBucketLeaves(window.newestUsedBucket, now);
  }

  private msUntilBucketLeaves(bucket: number, now: number): number {
    return Math.max(0, Math.ceil((bucket + this.buckets) * this.bucketMs - now));
  }

  /** Once per window, forgets keys whose usage has all slid out, so idle keys cannot grow memory without bound. */
  private sweepIfDue(now: number, nowBucket: number): void {
    if (now < this.nextSweepAt) return;
    this.nextSweepAt = now + this.windowMs;
    for (const [key, window] of this.windows) {
      if (nowBucket - window.newestUsedBucket >= this.buckets || window.total <= 0) this.windows.delete(key);
    }
  }
}

function refusal(limit: number, used: number, retryAfterMs: number, resetMs: number): RateDecision {
  return { allowed: false, limit, remaining: Math.max(0, limit - used), retryAfterMs, resetMs };
}

function checkAmount(value: number, name: string): void {
  if (!(value >= 0) || !Number.isFinite(value)) throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
}
