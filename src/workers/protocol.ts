// The messages between the supervisor (the parent process) and its workers, over Bun's IPC channel (JSON
// serialization: measured faster than "advanced" for these small objects, ~50 µs a round trip on a loaded box).
// Limits travel as plain data: the owner needs no config of its own, the key record and the backend's
// max_concurrent come with each request (so a hot reload in the worker reaches the owner with the next request).
import type { ApiKey } from "../auth/key-record.ts";
import type { Backend } from "../config/resolve.ts";

/** The fields of a key that admission reads. */
export type LimitKey = Pick<ApiKey, "id" | "prefix" | "rpm" | "tpm" | "max_concurrent" | "queue_timeout_ms" | "budget_usd_daily" | "budget_usd_monthly" | "account_id">;
/** The fields of a backend that admission reads. */
export type LimitBackend = Pick<Backend, "id" | "maxConcurrent" | "queueTimeoutMs" | "timeoutMs" | "maxStreamMs" | "defaultMaxTokens" | "pricing">;

export interface AdmitMessage {
  t: "admit";
  id: number;
  key: LimitKey | null;
  backend: LimitBackend | undefined;
  candidates: LimitBackend[] | undefined;
  spentMicros: number | undefined;
  promptTokensBound: number;
  maxTokens: number | undefined;
  choices: number | undefined;
  stream: boolean | undefined;
  modelCalls: number | undefined;
}

/** A balancer's retry takes another backend's slot into admission `id` (a new one when the worker had none). */
export interface BackendSlotMessage {
  t: "backend-slot";
  id: number;
  key: LimitKey | null;
  backend: LimitBackend;
}

export type WorkerMessage =
  | { t: "ready"; port: number }
  | AdmitMessage
  | BackendSlotMessage
  | { t: "abort"; id: number }
  | { t: "finish"; id: number; totalTokens: number | undefined; costMicros: number; requestId: string | null }
  | { t: "release-backend"; id: number }
  | { t: "metrics"; id: number; perKey: boolean }
  | { t: "rendered"; id: number; text: string };

export interface RefusalData {
  code: string;
  message: string;
  status: number;
  headers: Record<string, string> | undefined;
}

export type SupervisorMessage =
  | { t: "admitted"; id: number; queuedMs: number; headers: string[] | undefined }
  | { t: "refused"; id: number; error: RefusalData }
  | { t: "render"; id: number }
  | { t: "metrics-result"; id: number; text: string };

export function limitKey(key: ApiKey | null): LimitKey | null {
  if (!key) return null;
  const { id, prefix, rpm, tpm, max_concurrent, queue_timeout_ms, budget_usd_daily, budget_usd_monthly, account_id } = key;
  return { id, prefix, rpm, tpm, max_concurrent, queue_timeout_ms, budget_usd_daily, budget_usd_monthly, account_id };
}

export function limitBackend(backend: Backend): LimitBackend;
export function limitBackend(backend: Backend | undefined): LimitBackend | undefined;
export function limitBackend(backend: Backend | undefined): LimitBackend | undefined {
  if (!backend) return undefined;
  const { id, maxConcurrent, queueTimeoutMs, timeoutMs, maxStreamMs, defaultMaxTokens, pricing } = backend;
  return { id, maxConcurrent, queueTimeoutMs, timeoutMs, maxStreamMs, defaultMaxTokens, pricing };
}

/** What the workers' environment says about them (set by the supervisor). */
export const WORKER_ENV = {
  /** The worker's index, 0-based. */
  index: "SLUICE_WORKER",
  count: "SLUICE_WORKERS",
  /** The port every worker listens on (worker 0 may have chosen it, for --port 0). */
  port: "SLUICE_WORKER_PORT",
  /** "ipc" when the supervisor owns the limit counters. */
  limits: "SLUICE_WORKER_LIMITS",
  parentPid: "SLUICE_PARENT_PID",
} as const;
