// GET /v1/models, /v1/models/{id} and /v1/models/{id}/health.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { Gateway } from "../gateway.ts";
import { resolveBackend } from "../pipeline/resolve-target.ts";
import { modelAllowed, type Principal } from "../auth/authenticate.ts";

export function modelObject(backend: Backend, snapshot: Snapshot) {
  return {
    id: backend.id,
    object: "model" as const,
    created: snapshot.loadedAt,
    owned_by: backend.ownedBy,
    display_name: backend.displayName,
    description: backend.description,
  };
}

/** The models this principal may use. */
export function listModels(snapshot: Snapshot, principal: Principal) {
  const data = [...snapshot.backends.values()].filter((backend) => modelAllowed(principal, backend.id)).map((backend) => modelObject(backend, snapshot));
  return { object: "list" as const, data };
}

export function getModel(snapshot: Snapshot, id: string) {
  return modelObject(resolveBackend(snapshot, id), snapshot);
}

export async function modelHealth(gateway: Gateway, id: string) {
  const backend = resolveBackend(gateway.snapshot, id);
  return { model: backend.id, status: await gateway.health.status(backend) };
}
