// What the gateway has learned about each backend from live traffic: requests in flight, an EWMA of the time to
// first token, the engine's own queue depth (from its Prometheus /metrics), and a circuit breaker. Kept by backend
// id on the gateway, so it survives config reloads. Decisions take the clock as an argument (tests are exact).

const EWMA_WEIGHT = 0.3;

export interface BreakerSettings {
  failureThreshold: number;
  ejectionMs: number;
  maxEjectionMs: number;
}

export type BreakerState = "closed" | "open" | "half_open";

export class BackendStat {
  inFlight = 0;
  /** EWMA of the time to first token (streams) or to the whole answer (buffered), in ms; undefined until measured. */
  ttftMs: number | undefined;
  /** EWMA of the whole upstream time (sent → answer complete), in ms: what a GPU-hour backend bills for. */
  durationMs: number | undefined;
  /** Requests waiting in the engine's own queue, from its /metrics (vLLM, SGLang); 0 when unknown. */
  engineQueue = 0;
  consecutiveFailures = 0;
  /** How many times in a row the breaker opened: each doubles the ejection. */
  ejections = 0;
  ejectedUntil = 0;
  /** A half-open probe request is in flight: others keep away until it reports. */
  probing = false;

  /** Load for least_busy: our requests in flight plus the engine's own queue. */
  get load(): number {
    return this.inFlight + this.engineQueue;
  }

  state(now: number): BreakerState {
    if (this.ejectedUntil === 0) return "closed";
    return now < this.ejectedUntil ? "open" : "half_open";
  }

  /** May a request go to this backend now? Closed: yes. Open: no. Half-open: one probe at a time. */
  available(now: number): boolean {
    const state = this.state(now);
    return state === "closed" || (state === "half_open" && !this.probing);
  }

  /** Called when a request is sent here. Returns true when it is the half-open probe (its outcome decides). */
  begin(now: number): boolean {
    this.inFlight++;
    if (this.state(now) !== "half_open" || this.probing) return false;
    this.probing = true;
    return true;
  }

  succeeded(ttftMs: number | undefined, probe = false, durationMs?: number): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (ttftMs !== undefined) this.ttftMs = ewma(this.ttftMs, ttftMs);
    if (durationMs !== undefined) this.durationMs = ewma(this.durationMs, durationMs);
    this.consecutiveFailures = 0;
    this.ejections = 0;
    this.ejectedUntil = 0;
    if (probe) this.probing = false;
  }

  /** A failure of the backend itself (unreachable, timeout, 5xx, cut stream); opens the breaker at the threshold. */
  failed(now: number, settings: BreakerSettings, probe = false): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    this.consecutiveFailures++;
    if (probe) this.probing = false;
    if (probe || (this.ejectedUntil === 0 && this.consecutiveFailures >= settings.failureThreshold)) {
      this.ejections++;
      this.ejectedUntil = now + Math.min(settings.maxEjectionMs, settings.ejectionMs * 2 ** (this.ejections - 1));
    }
  }

  /** Neither a success nor the backend's fault (engine 4xx, client gone, the gateway's own refusal). */
  released(probe = false): void {
    this.inFlight = Math.max(0, this.inFlight - 1);
    if (probe) this.probing = false;
  }
}

function ewma(average: number | undefined, sample: number): number {
  return average === undefined ? sample : average + EWMA_WEIGHT * (sample - average);
}

export class BackendStats {
  private readonly byId = new Map<string, BackendStat>();

  get(id: string): BackendStat {
    let stat = this.byId.get(id);
    if (!stat) this.byId.set(id, (stat = new BackendStat()));
    return stat;
  }

  /** For /metrics: each backend's breaker state. */
  entries(): IterableIterator<[string, BackendStat]> {
    return this.byId.entries();
  }
}
