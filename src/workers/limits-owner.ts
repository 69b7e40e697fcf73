// The supervisor's side of shared limits (server.workers > 1 with the embedded store): one `Limits` in the parent
// process decides for every worker, so rpm/tpm windows, max_concurrent slots (with their FIFO queues), key budgets
// and account credits are exact across workers. Each worker's request is one message in and one answer out; its
// finish is one message. What a dead worker held is given back when it exits.
import type { Database } from "bun:sqlite";
import type { Backend } from "../config/resolve.ts";
import type { ApiKey } from "../auth/key-record.ts";
import { GatewayError } from "../errors.ts";
import { Limits, type Admission } from "../pipeline/admission.ts";
import { AccountStore } from "../store/accounts.ts";
import { CreditBook } from "../billing/credits.ts";
import { BudgetBook } from "../limits/budget.ts";
import { spentMicrosSince } from "../store/usage.ts";
import { openDatabase } from "../store/database.ts";
import { concurrencyMetrics } from "../observability/metrics.ts";
import { log } from "../observability/log.ts";
import type { AdmitMessage, BackendSlotMessage, RefusalData, SupervisorMessage } from "./protocol.ts";

/** One worker's admissions and the requests of it still queued, by the worker's message id. */
interface WorkerBook {
  admissions: Map<number, Admission>;
  queued: Map<number, AbortController>;
}

export class LimitsOwner {
  private readonly db: Database;
  private readonly credits: CreditBook;
  private readonly limits: Limits;
  private readonly books = new Map<object, WorkerBook>();

  constructor(storageFile: string) {
    this.db = openDatabase(storageFile);
    const accounts = new AccountStore(this.db);
    this.credits = new CreditBook(accounts);
    // Ledger rows are written by the workers (write-behind): a key's spend is read once per budget period, and
    // every later settlement goes through this process, so the in-memory total stays exact.
    this.limits = new Limits((keyId, sinceMs) => spentMicrosSince(this.db, keyId, sinceMs), {
      store: accounts,
      credits: this.credits,
      budgets: new BudgetBook((accountId, sinceMs) => (this.credits.flush(), accounts.deductedSince(accountId, sinceMs))),
    });
  }

  /** `worker` is any object standing for one worker process (its Subprocess); `reply` sends to it. */
  async admit(worker: object, message: AdmitMessage, reply: (message: SupervisorMessage) => void): Promise<void> {
    const book = this.book(worker);
    const queued = new AbortController();
    book.queued.set(message.id, queued);
    try {
      const admission = await this.limits.admit({
        key: message.key as ApiKey | null,
        backend: message.backend as Backend | undefined,
        candidates: message.candidates as Backend[] | undefined,
        spentMicros: message.spentMicros,
        promptTokensBound: message.promptTokensBound,
        maxTokens: message.maxTokens,
        choices: message.choices,
        stream: message.stream,
        modelCalls: message.modelCalls,
        signal: queued.signal,
      });
      this.granted(worker, book, message.id, admission, reply);
    } catch (error) {
      reply({ t: "refused", id: message.id, error: refusal(error) });
    } finally {
      book.queued.delete(message.id);
    }
  }

  async takeBackendSlot(worker: object, message: BackendSlotMessage, reply: (message: SupervisorMessage) => void): Promise<void> {
    const book = this.book(worker);
    const queued = new AbortController();
    book.queued.set(message.id, queued);
    try {
      const admission = await this.limits.takeBackendSlot(book.admissions.get(message.id), message.key as ApiKey | null, message.backend as Backend, queued.signal);
      this.granted(worker, book, message.id, admission, reply);
    } catch (error) {
      reply({ t: "refused", id: message.id, error: refusal(error) });
    } finally {
      book.queued.delete(message.id);
    }
  }

  /** The client left while its request was queued for a slot. */
  abort(worker: object, id: number): void {
    this.books.get(worker)?.queued.get(id)?.abort();
  }

  finish(worker: object, id: number, totalTokens: number | undefined, costMicros: number, requestId: string | null): void {
    const book = this.books.get(worker);
    const admission = book?.admissions.get(id);
    if (!admission) return;
    book!.admissions.delete(id);
    admission.finish(totalTokens, costMicros, requestId);
  }

  releaseBackend(worker: object, id: number): void {
    this.books.get(worker)?.admissions.get(id)?.releaseBackend();
  }

  /**
   * A worker exited: its queued requests leave the queues and its slots, windows' token estimates and
   * reservations are given back. Its requests' costs are not known (their ledger rows died with it), so nothing is
   * charged for them.
   */
  releaseWorker(worker: object): void {
    const book = this.books.get(worker);
    if (!book) return;
    this.books.delete(worker);
    for (const queued of book.queued.values()) queued.abort();
    for (const admission of book.admissions.values()) admission.finish(undefined, 0, null);
    if (book.admissions.size) log.warn(`released ${book.admissions.size} requests' limits held by an exited worker`);
  }

  metricLines(perKey: boolean): string[] {
    return concurrencyMetrics(this.limits.concurrencyStats(), perKey);
  }

  close(): void {
    this.credits.flush();
    this.db.close();
  }

  private book(worker: object): WorkerBook {
    let book = this.books.get(worker);
    if (!book) this.books.set(worker, (book = { admissions: new Map(), queued: new Map() }));
    return book;
  }

  private granted(worker: object, book: WorkerBook, id: number, admission: Admission, reply: (message: SupervisorMessage) => void): void {
    // The worker died while this was queued: give it back at once.
    if (this.books.get(worker) !== book) return void admission.finish(undefined, 0, null);
    book.admissions.set(id, admission);
    reply({ t: "admitted", id, queuedMs: admission.queuedMs, headers: admission.headers });
  }
}

function refusal(error: unknown): RefusalData {
  if (error instanceof GatewayError) return { code: error.code, message: error.message, status: error.status, headers: error.headers };
  log.error(`shared limits: admission failed: ${error}`);
  return { code: "internal", message: "the limit service failed", status: 500, headers: undefined };
}
