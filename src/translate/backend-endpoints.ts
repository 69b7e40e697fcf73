// Which APIs a backend serves: `backends[].endpoints` in the config (default chat, completions, embeddings).
// Responses and Messages are served for every chat backend, translated to chat unless the backend declares them
// (then passed through); tokenize brings detokenize. Read from the snapshot's raw config, cached per snapshot.
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { BackendEndpoint } from "../config/schema.ts";
import { GatewayError } from "../errors.ts";

const DEFAULT_ENDPOINTS: readonly BackendEndpoint[] = ["chat", "completions", "embeddings"];

export type ServedEndpoint = BackendEndpoint | "detokenize";

const declaredBySnapshot = new WeakMap<Snapshot, Map<string, readonly BackendEndpoint[]>>();

export function declaredEndpoints(snapshot: Snapshot, backend: Backend): readonly BackendEndpoint[] {
  let byName = declaredBySnapshot.get(snapshot);
  if (!byName) {
    byName = new Map(snapshot.raw.backends.map((config) => [config.name, config.endpoints ?? DEFAULT_ENDPOINTS]));
    declaredBySnapshot.set(snapshot, byName);
  }
  return byName.get(backend.name) ?? DEFAULT_ENDPOINTS;
}

/** Every API a client can call for this backend (what /v1/models lists). */
export function servedEndpoints(snapshot: Snapshot, backend: Backend): ServedEndpoint[] {
  const declared = declaredEndpoints(snapshot, backend);
  const served = new Set<ServedEndpoint>(declared);
  if (declared.includes("chat")) served.add("responses").add("messages");
  if (declared.includes("tokenize")) served.add("detokenize");
  return [...served];
}

/** The backend behind `model` passes `endpoint` through itself (a direct backend that declares it). */
export function servesNatively(snapshot: Snapshot, model: string, endpoint: BackendEndpoint): boolean {
  const backend = snapshot.backends.get(model);
  return backend !== undefined && declaredEndpoints(snapshot, backend).includes(endpoint);
}

/** A 400 naming what the backend does serve, and the setting that changes it. */
export function requireEndpoint(snapshot: Snapshot, backend: Backend, endpoint: ServedEndpoint, path: string): void {
  const served = servedEndpoints(snapshot, backend);
  if (served.includes(endpoint)) return;
  throw new GatewayError("invalid_request", `model '${backend.id}' does not serve ${path}; it serves: ${served.join(", ")} (backends[].endpoints in the config says which APIs an engine serves)`, { param: "model" });
}

/** For a model that names a backend directly: refuses an API it does not serve (balancers are checked per pick). */
export function requireServedBy(snapshot: Snapshot, model: string, endpoint: ServedEndpoint, path: string): void {
  const backend = snapshot.backends.get(model);
  if (backend) requireEndpoint(snapshot, backend, endpoint, path);
}
