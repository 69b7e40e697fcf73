// The limit service of a worker among several (server.workers > 1, limits in memory): the counters live in the
// supervisor (limits-owner.ts), and each decision is one message round trip to it. Admission there is the same
// `Limits` a single process runs, FIFO queues included, so what a key may do does not depend on which worker its
// connection landed on.
import { GatewayError, type ErrorCode } from "../errors.ts";
import type { ApiKey } from "../auth/key-record.ts";
import type { Backend } from "../config/resolve.ts";
import type { AccountLimits, AdmissionRequest } from "../pipeline/admission.ts";
import type { Admission, LimitService } from "../limits/limit-service.ts";
import type { SemaphoreStats } from "../limits/semaphore.ts";
import { limitBackend, limitKey, type RefusalData } from "./protocol.ts";
import { supervisorGone, type WorkerChannel } from "./worker-channel.ts";

export class IpcLimits implements LimitService {
  constructor(
    private readonly channel: WorkerChannel,
    /**
     * This worker's own view of the accounts, for charges that had no reservation (finish.ts) and the accounts
     * API. Reservations are held by the supervisor.
     */
    readonly accounts: AccountLimits,
  ) {}

  admit(request: AdmissionRequest): Promise<Admission> {
    const id = this.channel.newId();
    const admission = new RemoteAdmission(this.channel, id);
    const { key, backend, candidates, signal } = request;
    return this.decide(admission, signal, {
      t: "admit",
      id,
      key: limitKey(key),
      backend: limitBackend(backend),
      candidates: candidates?.map((candidate) => limitBackend(candidate)),
      spentMicros: request.spentMicros,
      promptTokensBound: request.promptTokensBound,
      maxTokens: request.maxTokens,
      choices: request.choices,
      stream: request.stream,
      modelCalls: request.modelCalls,
    });
  }

  takeBackendSlot(admission: Admission | undefined, key: ApiKey | null, backend: Backend, signal: AbortSignal | undefined): Promise<Admission> {
    const remote = admission instanceof RemoteAdmission ? admission : new RemoteAdmission(this.channel, this.channel.newId());
    return this.decide(remote, signal, { t: "backend-slot", id: remote.id, key: limitKey(key), backend: limitBackend(backend) });
  }

  /** Cannot know at once without asking: lets the side call pass (admission still refuses a spent budget). */
  refuseSpentBudget(): void {}

  /** The slots are the supervisor's: it adds them to /metrics once. */
  concurrencyStats(): SemaphoreStats[] {
    return [];
  }

  close(): void {}

  private async decide(admission: RemoteAdmission, signal: AbortSignal | undefined, message: Parameters<WorkerChannel["ask"]>[0]): Promise<Admission> {
    // A client leaving while queued is told to the owner, whose answer (refused: client_closed) ends the wait.
    const onAbort = () => this.channel.send({ t: "abort", id: admission.id });
    signal?.addEventListener("abort", onAbort, { once: true });
    try {
      const answer = await this.channel.ask(message);
      if (!answer) throw supervisorGone();
      if (answer.t === "refused") throw refusalError(answer.error);
      if (answer.t !== "admitted") throw supervisorGone();
      admission.queuedMs = answer.queuedMs;
      admission.headers = answer.headers;
      return admission;
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

class RemoteAdmission implements Admission {
  queuedMs = 0;
  headers: string[] | undefined;
  private done = false;

  constructor(
    private readonly channel: WorkerChannel,
    readonly id: number,
  ) {}

  /** The supervisor writes no ledger rows (the worker's store does): false. */
  finish(totalTokens: number | undefined, costMicros: number, requestId: string | null = null): false {
    if (this.done) return false;
    this.done = true;
    this.channel.send({ t: "finish", id: this.id, totalTokens, costMicros, requestId });
    return false;
  }

  releaseBackend(): void {
    if (!this.done) this.channel.send({ t: "release-backend", id: this.id });
  }
}

function refusalError(error: RefusalData): GatewayError {
  return new GatewayError(error.code as ErrorCode, error.message, { status: error.status, ...(error.headers ? { headers: error.headers } : {}) });
}
