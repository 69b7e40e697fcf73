// One upstream request's lifetime: a single AbortController fed by the client's disconnect and by our timers,
// remembering why it was aborted so the failure can be reported as the right error (504, stream cut, nothing).

export type AbortReason = "timeout" | "ttft" | "idle" | "client" | "bad_stream";

export class UpstreamCall {
  readonly controller = new AbortController();
  reason: AbortReason | undefined;
  /** What the armed timer is for, if one is armed. */
  armedFor: AbortReason | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(clientSignal?: AbortSignal) {
    if (!clientSignal) return;
    if (clientSignal.aborted) this.abort("client");
    else clientSignal.addEventListener("abort", () => this.abort("client"), { once: true });
  }

  get signal(): AbortSignal {
    return this.controller.signal;
  }

  /** Aborts with `reason` unless `refresh()` or `clear()` is called within `ms`. */
  arm(ms: number, reason: AbortReason): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.abort(reason), ms);
    this.armedFor = reason;
  }

  refresh(): void {
    this.timer?.refresh();
  }

  clear(): void {
    clearTimeout(this.timer);
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
