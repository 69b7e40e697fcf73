// Background health of each backend, from the engine's own `/health` and `/v1/models` — never a completion, so a
// check costs no tokens. Results are cached; GET /v1/models/{id}/health reads the cache.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { HealthStatus, Metrics } from "../observability/metrics.ts";

export class HealthMonitor {
  private readonly statuses = new Map<string, HealthStatus>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly snapshot: () => Snapshot,
    private readonly metrics: Metrics,
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

  /** The cached status, or a fresh check when the backend has not been checked yet. */
  async status(backend: Backend): Promise<HealthStatus> {
    return this.statuses.get(backend.id) ?? (await this.check(backend));
  }

  async checkAll(): Promise<void> {
    const backends = [...this.snapshot().backends.values()];
    await Promise.all(backends.map((backend) => this.check(backend)));
    for (const id of this.statuses.keys()) if (!this.snapshot().backends.has(id)) this.statuses.delete(id);
  }

  async check(backend: Backend): Promise<HealthStatus> {
    const status = await probe(backend, this.snapshot().health.timeout_ms);
    this.statuses.set(backend.id, status);
    this.metrics.setHealth(backend.id, status);
    return status;
  }
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
