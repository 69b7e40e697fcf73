// Which limit service `limits.url` asks for: this process's memory, or Redis shared by every gateway on it.
import type { SluiceConfig } from "../config/schema.ts";
import type { Limits } from "../pipeline/admission.ts";
import type { LimitService } from "./limit-service.ts";
import { RedisLimits, type RedisLimitsSettings, type SpendLoaders } from "./redis-limits.ts";
import { rateWindowMs } from "./rate-window.ts";

/** `local` is this gateway's own limits: the whole service for `memory`, the fallback behind Redis. */
/** `ledgerStream`: storage.ledger_via: stream (the config check made sure limits.url is Redis then). */
export function limitServiceFor(config: SluiceConfig["limits"], local: Limits, loaders: SpendLoaders, ledgerStream?: RedisLimitsSettings["ledgerStream"]): LimitService {
  if (config.url === "memory") return local;
  return new RedisLimits(
    {
      url: config.url,
      timeoutMs: config.timeout_ms,
      heartbeatMs: config.heartbeat_ms,
      leaseMs: config.lease_ms,
      pollMs: config.poll_ms,
      prefix: config.prefix,
      windowMs: rateWindowMs(),
      onFailure: config.on_failure,
      ledgerStream,
    },
    local,
    loaders,
  );
}
