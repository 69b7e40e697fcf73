// GET /v1/models, /v1/models/{id} and /v1/models/{id}/health. Balancers and `auto` are models too: clients pick
// them by name like any other.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { Gateway } from "../gateway.ts";
import { resolveBackend } from "../pipeline/resolve-target.ts";
import { modelAllowed, type Principal } from "../auth/authenticate.ts";
import type { HealthStatus } from "../observability/metrics.ts";
import { servedEndpoints } from "../translate/backend-endpoints.ts";

interface ModelEntry {
  id: string;
  ownedBy: string;
  displayName: string;
  description: string;
  /** The backends behind it (itself for a backend). */
  backends: readonly Backend[];
}

function modelObject(entry: ModelEntry, snapshot: Snapshot) {
  return {
    id: entry.id,
    object: "model" as const,
    created: snapshot.loadedAt,
    owned_by: entry.ownedBy,
    display_name: entry.displayName,
    description: entry.description,
    endpoints: endpointsOf(entry, snapshot),
  };
}

/** The APIs every backend behind the model serves (translated Responses and Messages included). */
function endpointsOf(entry: ModelEntry, snapshot: Snapshot): string[] {
  const [first, ...rest] = entry.backends.map((backend) => servedEndpoints(snapshot, backend));
  return (first ?? []).filter((endpoint) => rest.every((served) => served.includes(endpoint)));
}

function entries(snapshot: Snapshot): ModelEntry[] {
  const list: ModelEntry[] = [...snapshot.backends.values()].map((backend) => ({
    id: backend.id,
    ownedBy: backend.ownedBy,
    displayName: backend.displayName,
    description: backend.description,
    backends: [backend],
  }));
  for (const balancer of snapshot.balancers.values()) {
    const backends = [...new Set(balancer.routes.flatMap((route) => route.targets.map((target) => target.backend)))];
    list.push({ id: balancer.name, ownedBy: "sluice", displayName: balancer.name, description: balancer.description, backends });
  }
  if (snapshot.auto) {
    const backends = snapshot.auto.pool.flatMap((name) => snapshot.backends.get(name) ?? []);
    list.push({ id: "auto", ownedBy: "sluice", displayName: "Smart routing", description: "Classifies the prompt and routes it to the best model of the pool", backends });
  }
  return list;
}

function findEntry(snapshot: Snapshot, id: string): ModelEntry {
  return entries(snapshot).find((entry) => entry.id === id) ?? entryOf(resolveBackend(snapshot, id)); // throws the 404
}

function entryOf(backend: Backend): ModelEntry {
  return { id: backend.id, ownedBy: backend.ownedBy, displayName: backend.displayName, description: backend.description, backends: [backend] };
}

/** The models this principal may use. */
export function listModels(snapshot: Snapshot, principal: Principal) {
  const data = entries(snapshot)
    .filter((entry) => modelAllowed(principal, entry.id))
    .map((entry) => modelObject(entry, snapshot));
  return { object: "list" as const, data };
}

export function getModel(snapshot: Snapshot, id: string) {
  return modelObject(findEntry(snapshot, id), snapshot);
}

/** A balancer or `auto` is as ready as its best backend. */
export async function modelHealth(gateway: Gateway, id: string) {
  const entry = findEntry(gateway.snapshot, id);
  const statuses = await Promise.all(entry.backends.map((backend) => gateway.health.status(backend)));
  return { model: entry.id, status: best(statuses) };
}

function best(statuses: HealthStatus[]): HealthStatus {
  if (statuses.includes("ready")) return "ready";
  if (statuses.includes("loading")) return "loading";
  return "unavailable";
}
