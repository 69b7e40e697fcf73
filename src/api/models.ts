// GET /v1/models, /v1/models/{id} and /v1/models/{id}/health.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { Gateway } from "../gateway.ts";
import { resolveBackend } from "../pipeline/resolve-target.ts";

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

export function listModels(snapshot: Snapshot) {
  return { object: "list" as const, data: [...snapshot.backends.values()].map((backend) => modelObject(backend, snapshot)) };
}

export function getModel(snapshot: Snapshot, id: string) {
  return modelObject(resolveBackend(snapshot, id), snapshot);
}

export async function modelHealth(gateway: Gateway, id: string) {
  const backend = resolveBackend(gateway.snapshot, id);
  return { model: backend.id, status: await gateway.health.status(backend) };
}
