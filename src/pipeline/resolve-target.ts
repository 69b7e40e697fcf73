// Stage: turn the request's `model` into what serves it: a backend (by serving name or `public:<name>`), a
// balancer, or `auto`. The last two are planned later (routing/plan.ts), once the body is known to be valid.
import { GatewayError } from "../errors.ts";
import type { Backend, Snapshot } from "../config/resolve.ts";
import type { RequestContext } from "./context.ts";

export function resolveTarget(ctx: RequestContext, model: string): void {
  const snapshot = ctx.snapshot;
  const backend = snapshot.backends.get(model);
  if (backend) {
    ctx.backend = backend;
    return;
  }
  const balancer = snapshot.balancers.get(model);
  if (balancer) {
    ctx.balancer = balancer;
    return;
  }
  if (model === "auto" && snapshot.auto) {
    ctx.autoRouting = snapshot.auto;
    return;
  }
  throw unknownModel(snapshot, model);
}

/** A backend by id, for endpoints that talk to one engine (models, health). */
export function resolveBackend(snapshot: Snapshot, model: string): Backend {
  const backend = snapshot.backends.get(model);
  if (backend) return backend;
  throw unknownModel(snapshot, model);
}

function unknownModel(snapshot: Snapshot, model: string): GatewayError {
  const count = snapshot.backends.size + snapshot.balancers.size + (snapshot.auto ? 1 : 0);
  const hint =
    model === "auto"
      ? " (smart routing needs an `auto:` section with a model pool in the config)"
      : !model.startsWith("public:") && snapshot.backends.has(`public:${model}`)
        ? ` (did you mean 'public:${model}'?)`
        : "";
  return new GatewayError("model_not_found", `model '${model}' is not served here${hint}; GET /v1/models lists ${count} model${count === 1 ? "" : "s"}`, {
    param: "model",
  });
}
