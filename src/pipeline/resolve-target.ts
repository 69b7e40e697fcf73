// Stage: turn the request's `model` into the backend that serves it.
import { GatewayError } from "../errors.ts";
import type { Backend, Snapshot } from "../config/resolve.ts";

export function resolveBackend(snapshot: Snapshot, model: string): Backend {
  const backend = snapshot.backends.get(model);
  if (backend) return backend;
  const count = snapshot.backends.size;
  const hint = !model.startsWith("public:") && snapshot.backends.has(`public:${model}`) ? ` (did you mean 'public:${model}'?)` : "";
  throw new GatewayError("model_not_found", `model '${model}' is not served here${hint}; GET /v1/models lists ${count} model${count === 1 ? "" : "s"}`, {
    param: "model",
  });
}
