// Prometheus metrics kept in plain maps; the text format is rendered only when /metrics is scraped.
// Labels are joined into one key per series so the hot path does one map lookup per update.

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

export type HealthStatus = "ready" | "loading" | "unavailable";
const HEALTH_VALUE: Record<HealthStatus, number> = { ready: 1, loading: 0.5, unavailable: 0 };

export class Metrics {
  private readonly requests = new Map<string, number>();
  private readonly durations = new Map<string, Histogram>();
  private readonly ttft = new Map<string, Histogram>();
  private readonly tokens = new Map<string, number>();
  private readonly health = new Map<string, HealthStatus>();
  inFlight = 0;

  recordRequest(route: string, model: string, backend: string, status: number, seconds: number): void {
    const key = labels({ route, model, backend, status: String(status) });
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
    histogram(this.durations, labels({ route, model, backend })).observe(seconds);
  }

  recordTtft(model: string, backend: string, seconds: number): void {
    histogram(this.ttft, labels({ model, backend })).observe(seconds);
  }

  recordTokens(model: string, backend: string, prompt: number, completion: number): void {
    add(this.tokens, labels({ model, backend, kind: "prompt" }), prompt);
    add(this.tokens, labels({ model, backend, kind: "completion" }), completion);
  }

  setHealth(backend: string, status: HealthStatus): void {
    this.health.set(backend, status);
  }

  render(): string {
    const out: string[] = [];
    out.push("# HELP sluice_requests_total Requests answered, by route, model, backend and HTTP status.", "# TYPE sluice_requests_total counter");
    for (const [key, value] of this.requests) out.push(`sluice_requests_total{${key}} ${value}`);
    renderHistogram(out, "sluice_request_duration_seconds", "Time from request to the end of the response.", this.durations);
    renderHistogram(out, "sluice_time_to_first_token_seconds", "Time from the upstream call to the first streamed chunk.", this.ttft);
    out.push("# HELP sluice_tokens_total Tokens reported by the engines.", "# TYPE sluice_tokens_total counter");
    for (const [key, value] of this.tokens) out.push(`sluice_tokens_total{${key}} ${value}`);
    out.push("# HELP sluice_in_flight_requests Requests being served now.", "# TYPE sluice_in_flight_requests gauge", `sluice_in_flight_requests ${this.inFlight}`);
    out.push("# HELP sluice_backend_health Backend health: 1 ready, 0.5 loading, 0 unavailable.", "# TYPE sluice_backend_health gauge");
    for (const [backend, status] of this.health) out.push(`sluice_backend_health{${labels({ backend })}} ${HEALTH_VALUE[status]}`);
    return `${out.join("\n")}\n`;
  }
}

function renderHistogram(out: string[], name: string, help: string, series: Map<string, Histogram>): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  for (const [key, h] of series) {
    LATENCY_BUCKETS_S.forEach((le, i) => out.push(`${name}_bucket{${key},le="${le}"} ${h.counts[i]}`));
    out.push(`${name}_bucket{${key},le="+Inf"} ${h.count}`, `${name}_sum{${key}} ${h.sum}`, `${name}_count{${key}} ${h.count}`);
  }
}

function histogram(series: Map<string, Histogram>, key: string): Histogram {
  let h = series.get(key);
  if (!h) series.set(key, (h = new Histogram()));
  return h;
}

function add(series: Map<string, number>, key: string, value: number): void {
  series.set(key, (series.get(key) ?? 0) + value);
}

function labels(values: Record<string, string>): string {
  return Object.entries(values)
    .map(([k, v]) => `${k}="${v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n")}"`)
    .join(",");
}
