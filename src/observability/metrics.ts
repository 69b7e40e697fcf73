// Prometheus metrics kept in plain objects; the text format is rendered only when /metrics is scraped.
// The hot path does one map lookup per request (series by route, model and backend) and a few increments.
import type { SemaphoreStats } from "../limits/semaphore.ts";

const LATENCY_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

class Histogram {
  readonly counts = new Array<number>(LATENCY_BUCKETS_S.length).fill(0);
  sum = 0;
  count = 0;
  observe(seconds: number): void {
    for (let i = 0; i < LATENCY_BUCKETS_S.length; i++) if (seconds <= LATENCY_BUCKETS_S[i]!) this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }
}

/** Everything recorded for one (route, model, backend). */
export class Series {
  private readonly byStatus = new Map<number, number>();
  readonly duration = new Histogram();
  readonly ttft = new Histogram();
  promptTokens = 0;
  completionTokens = 0;
  constructor(readonly labels: string) {}

  /** One finished request: its status, seconds end to end, and what the engine reported. */
  observe(status: number, seconds: number, ttftSeconds: number | undefined, promptTokens = 0, completionTokens = 0): void {
    this.byStatus.set(status, (this.byStatus.get(status) ?? 0) + 1);
    this.duration.observe(seconds);
    if (ttftSeconds !== undefined) this.ttft.observe(ttftSeconds);
    this.promptTokens += promptTokens;
    this.completionTokens += completionTokens;
  }

  statuses(): IterableIterator<[number, number]> {
    return this.byStatus.entries();
  }
}

export type HealthStatus = "ready" | "loading" | "unavailable";
const HEALTH_VALUE: Record<HealthStatus, number> = { ready: 1, loading: 0.5, unavailable: 0 };

export class Metrics {
  private readonly byRoute = new Map<string, Map<string, Map<string, Series>>>();
  private readonly all: Series[] = [];
  private readonly health = new Map<string, HealthStatus>();
  private readonly collectors: (() => string[])[] = [];
  inFlight = 0;
  /**
   * Set in a worker among several (server.workers): a scrape asks the supervisor, which merges every worker's
   * render() into one exposition (merge-expositions.ts).
   */
  gather: (() => Promise<string>) | undefined;

  /** What GET /metrics answers: this process's series, or every worker's merged. */
  exposition(): string | Promise<string> {
    return this.gather ? this.gather() : this.render();
  }

  /** Requests answered by this process, every route and status (a worker's own line in /metrics). */
  requestsAnswered(): number {
    let total = 0;
    for (const s of this.all) for (const [, count] of s.statuses()) total += count;
    return total;
  }

  /** Adds lines computed at scrape time (e.g. queue and slot gauges owned by another module). */
  addCollector(collect: () => string[]): void {
    this.collectors.push(collect);
  }

  /** The series of (route, model, backend), looked up by strings the snapshot already holds. */
  series(route: string, model: string, backend: string): Series {
    let byModel = this.byRoute.get(route)?.get(backend);
    if (!byModel) {
      let byBackend = this.byRoute.get(route);
      if (!byBackend) this.byRoute.set(route, (byBackend = new Map()));
      byBackend.set(backend, (byModel = new Map()));
    }
    let series = byModel.get(model);
    if (!series) {
      byModel.set(model, (series = new Series(labels({ route, model, backend }))));
      this.all.push(series);
    }
    return series;
  }

  setHealth(backend: string, status: HealthStatus): void {
    this.health.set(backend, status);
  }

  render(): string {
    const all = this.all;
    const out: string[] = [];
    out.push("# HELP sluice_requests_total Requests answered, by route, model, backend and HTTP status.", "# TYPE sluice_requests_total counter");
    for (const s of all) for (const [status, count] of s.statuses()) out.push(`sluice_requests_total{${s.labels},status="${status}"} ${count}`);
    renderHistogram(out, "sluice_request_duration_seconds", "Time from request to the end of the response.", all, (s) => s.duration);
    renderHistogram(out, "sluice_time_to_first_token_seconds", "Time from the upstream call to the first streamed chunk.", all, (s) => s.ttft);
    out.push("# HELP sluice_tokens_total Tokens reported by the engines.", "# TYPE sluice_tokens_total counter");
    for (const s of all) {
      if (s.promptTokens) out.push(`sluice_tokens_total{${s.labels},kind="prompt"} ${s.promptTokens}`);
      if (s.completionTokens) out.push(`sluice_tokens_total{${s.labels},kind="completion"} ${s.completionTokens}`);
    }
    out.push("# HELP sluice_in_flight_requests Requests being served now.", "# TYPE sluice_in_flight_requests gauge", `sluice_in_flight_requests ${this.inFlight}`);
    out.push("# HELP sluice_backend_health Backend health: 1 ready, 0.5 loading, 0 unavailable.", "# TYPE sluice_backend_health gauge");
    for (const [backend, status] of this.health) out.push(`sluice_backend_health{${labels({ backend })}} ${HEALTH_VALUE[status]}`);
    for (const collect of this.collectors) out.push(...collect());
    return `${out.join("\n")}\n`;
  }
}

function renderHistogram(out: string[], name: string, help: string, all: Series[], pick: (s: Series) => Histogram): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  for (const s of all) {
    const h = pick(s);
    if (h.count === 0) continue;
    LATENCY_BUCKETS_S.forEach((le, i) => out.push(`${name}_bucket{${s.labels},le="${le}"} ${h.counts[i]}`));
    out.push(`${name}_bucket{${s.labels},le="+Inf"} ${h.count}`, `${name}_sum{${s.labels}} ${h.sum}`, `${name}_count{${s.labels}} ${h.count}`);
  }
}

export function labels(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");
}

/**
 * max_concurrent slots by backend, and by key only when `perKey`: /metrics answers without a key unless
 * server.metrics_auth puts it behind the admin scope, and key ids are not for anyone who can reach the port.
 * Otherwise the keys' slots are summed into one series, name="keys".
 */
export function concurrencyMetrics(stats: readonly SemaphoreStats[], perKey: boolean): string[] {
  const rows = new Map<string, { inUse: number; waiting: number }>();
  for (const s of stats) {
    const name = !perKey && s.name.startsWith("key:") ? "keys" : s.name;
    const row = rows.get(name) ?? { inUse: 0, waiting: 0 };
    row.inUse += s.inUse;
    row.waiting += s.waiting;
    rows.set(name, row);
  }
  const out = ["# HELP sluice_concurrency_in_use max_concurrent slots held, by backend and key (keys summed unless server.metrics_auth).", "# TYPE sluice_concurrency_in_use gauge"];
  const waiting = ["# HELP sluice_concurrency_waiting Requests queued for a max_concurrent slot.", "# TYPE sluice_concurrency_waiting gauge"];
  for (const [name, row] of rows) {
    out.push(`sluice_concurrency_in_use{${labels({ name })}} ${row.inUse}`);
    waiting.push(`sluice_concurrency_waiting{${labels({ name })}} ${row.waiting}`);
  }
  return [...out, ...waiting];
}
