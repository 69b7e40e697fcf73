// A worker's side of server.workers: who it is (from the environment the supervisor set), its limit service
// when the supervisor owns the counters, and what it tells the supervisor once listening.
import type { Gateway, GatewayOptions } from "../gateway.ts";
import { labels } from "../observability/metrics.ts";
import { IpcLimits } from "./ipc-limits.ts";
import { WORKER_ENV } from "./protocol.ts";
import { WorkerChannel } from "./worker-channel.ts";

const PARENT_CHECK_MS = 1_000;

export interface WorkerRole {
  index: number;
  count: number;
  /** Set by the supervisor: every worker listens on it (overrides --port and server.port). */
  port: number | undefined;
  channel: WorkerChannel;
  /** The supervisor owns the limit counters (several workers, limits in memory). */
  sharedLimits: boolean;
}

/** This process's role, or undefined when it is not a supervised worker (an operator-set fetch cap, `keys` etc.). */
export function workerRole(env = process.env): WorkerRole | undefined {
  const index = env[WORKER_ENV.index];
  if (index === undefined || !process.send) return undefined;
  const port = env[WORKER_ENV.port];
  exitWithParent(Number(env[WORKER_ENV.parentPid]));
  return {
    index: Number(index),
    count: Number(env[WORKER_ENV.count] ?? 1),
    port: port ? Number(port) : undefined,
    channel: new WorkerChannel(),
    sharedLimits: env[WORKER_ENV.limits] === "ipc",
  };
}

/** The Gateway's limit service for this role: asking the supervisor, or (undefined) its own memory. */
export function workerLimits(role: WorkerRole | undefined): GatewayOptions["limits"] {
  if (!role?.sharedLimits) return undefined;
  return (accounts) => new IpcLimits(role.channel, accounts);
}

/** Listening: the supervisor learns the port (worker 0 may have chosen it); /metrics becomes every worker's. */
export function joinSupervisor(role: WorkerRole, gateway: Gateway, port: number): void {
  const metrics = gateway.metrics;
  metrics.addCollector(() => [
    "# HELP sluice_worker_requests_total Requests answered, by worker (server.workers).",
    "# TYPE sluice_worker_requests_total counter",
    `sluice_worker_requests_total{${labels({ worker: String(role.index), pid: String(process.pid) })}} ${metrics.requestsAnswered()}`,
  ]);
  if (role.count > 1) {
    role.channel.onRender(() => metrics.render());
    metrics.gather = async () => {
      const id = role.channel.newId();
      const answer = await role.channel.ask({ t: "metrics", id, perKey: gateway.snapshot.server.metrics_auth });
      return answer?.t === "metrics-result" ? answer.text : metrics.render();
    };
  }
  role.channel.send({ t: "ready", port });
}

/** A supervisor killed outright (SIGKILL) cannot stop anyone: the worker notices it is gone and drains. */
function exitWithParent(parentPid: number): void {
  if (!parentPid) return;
  const timer = setInterval(() => {
    try {
      process.kill(parentPid, 0);
    } catch {
      process.kill(process.pid, "SIGTERM");
    }
  }, PARENT_CHECK_MS);
  timer.unref();
}
