// One upstream request's lifetime: a single AbortController fed by the client's disconnect and by our timers,
// remembering why it was aborted so the failure can be reported as the right error (504, stream cut, nothing).

/** The idle guard's checks per idle period. */
const IDLE_CHECKS = 4;

export type AbortReason = "timeout" | "ttft" | "idle" | "client" | "bad_stream";

export class UpstreamCall {
  readonly controller = new AbortController();
  reason: AbortReason | undefined;
  /** What the armed timer is for, if one is armed. */
  armedFor: AbortReason | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private chunks = 0;

  constructor(clientSignal?: AbortSignal) {
    if (!clientSignal) return;
    if (clientSignal.aborted) this.abort("client");
    else clientSignal.addEventListener("abort", () => this.abort("client"), { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Aborts with `reason` unless `clear()` is called within `ms`. */
  arm(ms: number, reason: AbortReason): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.abort(reason), ms);
    this.armedFor = reason;
  }

  /**
   * Aborts with "idle" once nothing has arrived for `ms` (`touch()` on every chunk). A check every quarter of `ms`
   * looks whether the chunk count moved, rather than resetting a timer per chunk (~60 ns each, twenty-odd times
   * a stream); the abort comes between `ms` and 1.25 × `ms` after the last chunk.
   */
  guardIdle(ms: number): void {
    clearTimeout(this.timer);
    let seen = this.chunks;
    let quietChecks = 0;
    this.timer = setInterval(() => {
      if (this.chunks !== seen) {
        seen = this.chunks;
        quietChecks = 0;
      } else if (++quietChecks >= IDLE_CHECKS) {
        this.abort("idle");
      }
    }, Math.max(1, ms / IDLE_CHECKS));
    this.armedFor = "idle";
  }

  touch(): void {
    this.chunks++;
  }

  clear(): void {
    clearTimeout(this.timer); // an interval too: Bun's timers share one clear
    this.timer = undefined;
    this.armedFor = undefined;
  }

  abort(reason: AbortReason): void {
    this.clear();
    if (this.reason) return;
    this.reason = reason;
    this.controller.abort();
  }
}
