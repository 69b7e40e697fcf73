// Background health of each backend, from the engine's own `/health` and `/v1/models` — never a completion, so a
// check costs no tokens. Results are cached; GET /v1/models/{id}/health reads the cache.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { HealthStatus, Metrics } from "../observability/metrics.ts";
import type { BackendStats } from "../routing/backend-stats.ts";
import { engineQueueDepth } from "./engine-metrics.ts";

export class HealthMonitor {
  private readonly statuses = new Map<string, HealthStatus>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly snapshot: () => Snapshot,
    private readonly metrics: Metrics,
    private readonly stats: BackendStats,
  ) {}

  /** (Re)starts the periodic checks with the current snapshot's interval. */
  start(): void {
    this.stop();
    void this.checkAll();
    this.timer = setInterval(() => void this.checkAll(), this.snapshot().health.interval_ms);
    this.timer.unref?.();
  }

  stop(): void {
    clearInterval(this.timer);
  }

  /** The last known status, without waiting; undefined before the first check. */
  cached(id: string): HealthStatus | undefined {
    return this.statuses.get(id);
  }

  /** The cached status, or a fresh check when the backend has not been checked yet. */
  async status(backend: Backend): Promise<HealthStatus> {
    return this.statuses.get(backend.id) ?? (await this.check(backend));
  }

  async checkAll(): Promise<void> {
    const snapshot = this.snapshot();
    const backends = [...snapshot.backends.values()];
    await Promise.all([...backends.map((backend) => this.check(backend)), ...queueWatched(snapshot).map((backend) => this.readQueue(backend))]);
    for (const id of this.statuses.keys()) if (!this.snapshot().backends.has(id)) this.statuses.delete(id);
  }

  /** Reads the engine's queue depth from its Prometheus /metrics (vLLM, SGLang); unknown counts as 0. */
  async readQueue(backend: Backend): Promise<void> {
    const { "content-type": _, ...headers } = backend.headers;
    const response = await get(backend.metricsUrl, headers, this.snapshot().health.timeout_ms);
    const text = response?.ok ? await response.text().catch(() => "") : "";
    this.stats.get(backend.id).engineQueue = engineQueueDepth(text) ?? 0;
  }

  async check(backend: Backend): Promise<HealthStatus> {
    const status = await probe(backend, this.snapshot().health.timeout_ms);
    this.statuses.set(backend.id, status);
    this.metrics.setHealth(backend.id, status);
    return status;
  }
}

/** Backends a least_busy balancer routes to: their engines' own queue depth is worth a scrape. */
function queueWatched(snapshot: Snapshot): Backend[] {
  const watched = new Set<Backend>();
  for (const balancer of snapshot.balancers.values()) {
    if (balancer.strategy !== "least_busy") continue;
    for (const route of balancer.routes) for (const target of route.targets) watched.add(target.backend);
  }
  return [...watched];
}

/** ready: engine up and the model listed; loading: engine up (or 503) but model not listed yet; else unavailable. */
export async function probe(backend: Backend, timeoutMs: number): Promise<HealthStatus> {
  const { "content-type": _, ...headers } = backend.headers;
  const health = await get(backend.healthUrl, headers, timeoutMs);
  if (!health) return "unavailable";
  await health.arrayBuffer().catch(() => undefined);
  if (health.status === 503) return "loading";
  // Hosted APIs have no /health (404): their model listing decides alone.
  if (!health.ok && health.status !== 404) return "unavailable";

  const models = await get(backend.modelsUrl, headers, timeoutMs);
  if (!models?.ok) return health.ok ? "ready" : "unavailable";
  const listing = (await models.json().catch(() => undefined)) as { data?: { id?: unknown }[] } | undefined;
  if (!Array.isArray(listing?.data)) return health.ok ? "ready" : "unavailable";
  return listing.data.some((model) => model.id === backend.upstreamModel) ? "ready" : "loading";
}

async function get(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Response | undefined> {
  try {
    const response = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
    return response;
  } catch {
    return undefined;
  }
}
