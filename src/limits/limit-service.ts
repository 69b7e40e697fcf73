// The limit service: the one thing admission asks "may this request run now?" and tells "it is done". Every limit
// a request meets (rpm/tpm windows, budgets, credits, max_concurrent slots per key and per backend) is decided
// behind it, so where the counters live is a choice of implementation:
//   - `Limits` (src/pipeline/admission.ts): in this process's memory, synchronous unless a request queues;
//   - `RedisLimits` (src/limits/redis-limits.ts): in Redis, one script call before and one after, exact across
//     any number of gateways;
//   - another process's (server.workers): an IPC client to the primary implements this interface by sending the
//     AdmissionRequest (it is plain data apart from `signal`: forward its abort as a message) and answering with an
//     Admission whose finish/releaseBackend send messages back; the primary runs `Limits` for every worker.
// Implementations answer synchronously whenever they can: a promise costs the chat path a microtask turn.
import type { ApiKey } from "../auth/key-record.ts";
import type { Backend } from "../config/resolve.ts";
import type { SemaphoreStats } from "./semaphore.ts";
import type { AccountLimits, AdmissionRequest } from "../pipeline/admission.ts";
import type { LedgerRow } from "../store/ledger.ts";

/** What a request holds after admission; given back exactly once by finish (a second call does nothing). */
export interface Admission {
  /** ms the request waited for max_concurrent slots (timings.queued_ms). */
  queuedMs: number;
  /** x-ratelimit-* headers for the response as name, value, name, value…, when the key has rate limits. */
  headers: string[] | undefined;
  /**
   * Gives everything back: the real token count corrects tpm, the real cost settles the budgets and credits.
   * `ledgerRow`: the request's ledger row, which a service that writes rows with the settle takes (storage.ledger_via:
   * stream); answers whether it did (false: the caller appends the row to the store's ledger).
   */
  finish(totalTokens: number | undefined, costMicros: number, requestId?: string | null, ledgerRow?: LedgerRow): LedgerHandoff;
  /** Gives the current backend's max_concurrent slot back early (a balancer moving to another backend). */
  releaseBackend(): void;
}

/**
 * Whether a limit service took a request's ledger row: false (the caller appends it to the store's ledger), or a
 * promise that settles once the row is durable (in the Redis stream, or handed back to the store's ledger when
 * the call failed). The response's last bytes wait for it, so no answer a client saw complete lacks its row.
 */
export type LedgerHandoff = false | Promise<void>;

export interface LimitService {
  /**
   * Takes everything the request needs, all or nothing. Refusals throw (or reject with) a GatewayError:
   * 429 rate_limited / budget_exceeded / concurrency_limited, 402 insufficient_credits, 503 limits_unavailable.
   */
  admit(request: AdmissionRequest): Admission | Promise<Admission>;
  /**
   * A balancer's retry on another backend with max_concurrent: takes that backend's slot (FIFO wait up to its
   * queue_timeout_ms) into `admission`, or into a new admission when the request had none. Resolves with it.
   */
  takeBackendSlot(admission: Admission | undefined, key: ApiKey | null, backend: Backend, signal: AbortSignal | undefined): Promise<Admission>;
  /**
   * Before paid side calls (a firewall judge, auto's classifier): throws when the key's budget or the account's
   * credit is known to have nothing left. Synchronous: an implementation that cannot know at once lets it pass
   * (admission still refuses).
   */
  refuseSpentBudget(key: ApiKey): void;
  /** Accounts' credits (unreserved charges, balances); absent where no store is open (unit tests). */
  readonly accounts?: AccountLimits;
  /**
   * storage.ledger_via: stream — the ledger row of a request that holds no admission (refused before it) goes the
   * same way as the others; false: the caller appends it to the store's ledger.
   */
  appendLedgerRow?(row: LedgerRow): LedgerHandoff;
  /** max_concurrent slots in use and waiting, for /metrics. */
  concurrencyStats(): SemaphoreStats[];
  /** Extra /metrics lines (a remote service's health, fallbacks). */
  metricLines?(): string[];
  close(): void | Promise<void>;
}
