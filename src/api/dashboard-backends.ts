// GET /v1/dashboard/backends (admin): each backend's health, circuit breaker, load and latency as the gateway sees
// them now, and which balancer routes and `auto` pool use it. Read from memory: nothing here touches the store.
import type { Snapshot } from "../config/resolve.ts";
import type { HealthMonitor } from "../upstream/health.ts";
import type { BackendStats } from "../routing/backend-stats.ts";

export async function backendsStatus(snapshot: Snapshot, health: HealthMonitor, stats: BackendStats, nowMs: number) {
  const usedBy = new Map<string, string[]>();
  const use = (backend: string, by: string) => {
    const list = usedBy.get(backend) ?? [];
    if (!list.includes(by)) list.push(by);
    usedBy.set(backend, list);
  };
  for (const balancer of snapshot.balancers.values()) {
    for (const route of balancer.routes) for (const target of route.targets) use(target.backend.id, `${route.label} (${balancer.strategy})`);
  }
  for (const name of snapshot.auto?.pool ?? []) use(name, "auto");

  const data = await Promise.all(
    [...snapshot.backends.values()].map(async (backend) => {
      const stat = stats.get(backend.id);
      return {
        name: backend.name,
        model: backend.upstreamModel,
        display_name: backend.displayName,
        public: backend.public,
        // Discovery (`backends: discover`) describes what it found this way; see config/discover.ts.
        discovered: backend.description.startsWith("discovered:"),
        url: withoutCredentials(backend.baseUrl),
        health: await health.status(backend),
        breaker: stat.state(nowMs),
        in_flight: stat.inFlight,
        engine_queue: stat.engineQueue,
        ttft_ewma_ms: stat.ttftMs === undefined ? null : Math.round(stat.ttftMs * 10) / 10,
        duration_ewma_ms: stat.durationMs === undefined ? null : Math.round(stat.durationMs * 10) / 10,
        consecutive_failures: stat.consecutiveFailures,
        max_concurrent: backend.maxConcurrent ?? null,
        used_by: usedBy.get(backend.id) ?? [],
      };
    }),
  );
  return { object: "list" as const, data };
}

/** A URL with any user:password removed: the dashboard shows where a backend is, never how to log in to it. */
export function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    if (!parsed.username && !parsed.password) return url;
    parsed.username = "";
    parsed.password = "";
    return parsed.toString();
  } catch {
    return url;
  }
}
