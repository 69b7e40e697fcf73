// Prepaid credits per account, in integer micro-dollars. Like budgets, a request reserves its worst-case cost
// before it runs and settles the real cost afterwards; admission counts reservations as spent, so concurrent
// requests on one account (from any of its keys) can never together pass the balance on their estimates.
//
// The balance never goes below zero. A settlement above its reservation (a tool loop's later rounds, a side call
// the estimate did not foresee) takes the excess only from what other requests have not reserved; what is left
// over is not charged, and the deduction's note says so. The ledger still records the full cost.
//
// Deductions are queued and written in batches off the request path (one SQLite transaction per flush); the
// balance seen here is the stored one minus what is queued.
import type { AccountStore, Deduction } from "../store/accounts.ts";

const FLUSH_DELAY_MS = 20;

export interface CreditState {
  balanceMicros: number;
  reservedMicros: number;
  availableMicros: number;
}

export interface CreditDenial extends CreditState {
  amountMicros: number;
}

export interface ChargeMeta {
  requestId: string | null;
  keyId: string | null;
}

export interface CreditHold {
  readonly amountMicros: number;
  /** Replaces the reservation with the real cost (capped at what the account still has). Once only. */
  settle(actualMicros: number, meta: ChargeMeta): void;
  release(): void;
}

export function isCreditDenial(result: CreditHold | CreditDenial): result is CreditDenial {
  return "availableMicros" in result;
}

export class CreditBook {
  private readonly reserved = new Map<string, number>();
  private readonly queuedByAccount = new Map<string, number>();
  private queue: Deduction[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushed: (() => void)[] = [];

  constructor(private readonly store: AccountStore) {}

  state(accountId: string): CreditState {
    const balanceMicros = this.store.balanceMicros(accountId) - (this.queuedByAccount.get(accountId) ?? 0);
    const reservedMicros = this.reserved.get(accountId) ?? 0;
    return { balanceMicros, reservedMicros, availableMicros: balanceMicros - reservedMicros };
  }

  /** Holds `amountMicros` if the account has that much not yet reserved; a zero amount needs no credit. */
  reserve(accountId: string, amountMicros: number): CreditHold | CreditDenial {
    const state = this.state(accountId);
    if (amountMicros > state.availableMicros) return { ...state, amountMicros };
    this.reserved.set(accountId, state.reservedMicros + amountMicros);
    return new Hold(this, accountId, amountMicros);
  }

  /** Charges a cost that had no reservation (a request answered before admission), capped the same way. */
  charge(accountId: string, actualMicros: number, meta: ChargeMeta): void {
    this.deduct(accountId, 0, actualMicros, meta);
  }

  /** @internal Hold's settlement: frees `heldMicros` and deducts the real cost, never past zero. */
  deduct(accountId: string, heldMicros: number, actualMicros: number, meta: ChargeMeta): void {
    const reserved = (this.reserved.get(accountId) ?? 0) - heldMicros;
    if (reserved > 0) this.reserved.set(accountId, reserved);
    else this.reserved.delete(accountId);
    if (actualMicros <= 0) return;
    const { availableMicros } = this.state(accountId);
    const micros = Math.min(actualMicros, Math.max(0, availableMicros));
    const note = micros < actualMicros ? `cost $${usd(actualMicros)}; $${usd(actualMicros - micros)} not charged: the balance ran out` : null;
    if (micros === 0 && note === null) return;
    this.queuedByAccount.set(accountId, (this.queuedByAccount.get(accountId) ?? 0) + micros);
    this.queue.push({ accountId, micros, requestId: meta.requestId, keyId: meta.keyId, note, atMs: Date.now() });
    this.timer ??= setTimeout(() => this.flush(), FLUSH_DELAY_MS);
  }

  /**
   * A deposit (positive) or an adjustment (either sign), written at once. Taking credit away may not leave less
   * than requests in flight hold, or their settlements could not be paid. Returns the error text when refused.
   */
  adjust(accountId: string, micros: number, kind: "deposit" | "adjustment", note: string | null) {
    this.flush();
    const state = this.state(accountId);
    if (micros < 0 && state.balanceMicros + micros < state.reservedMicros) {
      return { refused: `the balance is $${usd(state.balanceMicros)} and requests in flight hold $${usd(state.reservedMicros)}; at most $${usd(Math.max(0, state.availableMicros))} can be taken away now` };
    }
    return { transaction: this.store.addTransaction(accountId, kind, micros, note) };
  }

  /**
   * Runs `callback` once every deduction queued so far is in the store (at once when none is queued): a shared
   * limit service holds a request's credits until then, so no other gateway sees the charge as neither.
   */
  whenFlushed(callback: () => void): void {
    if (this.queue.length === 0) callback();
    else this.flushed.push(callback);
  }

  /** Writes the queued deductions (also before any read of transactions or budgets, and on shutdown). */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (!this.queue.length) return;
    const batch = this.queue;
    let written: void | Promise<void>;
    try {
      written = this.store.writeDeductions(batch);
    } catch (error) {
      // Kept queued (and still counted against the balances) for the next flush: a deduction is never lost.
      console.error("[sluice] writing credit deductions failed; retrying", error);
      this.timer = setTimeout(() => this.flush(), FLUSH_DELAY_MS * 50);
      return;
    }
    this.queue = [];
    this.queuedByAccount.clear();
    const flushed = this.flushed;
    this.flushed = [];
    // A shared store (PostgreSQL) takes the batch over and resolves once it is in the database.
    if (written) void written.then(() => flushed.forEach((callback) => callback()));
    else for (const callback of flushed) callback();
  }
}

class Hold implements CreditHold {
  private open = true;

  constructor(
    private readonly book: CreditBook,
    private readonly accountId: string,
    readonly amountMicros: number,
  ) {}

  settle(actualMicros: number, meta: ChargeMeta): void {
    if (!this.open) return;
    this.open = false;
    this.book.deduct(this.accountId, this.amountMicros, Math.max(0, Math.ceil(actualMicros)), meta);
  }

  release(): void {
    if (!this.open) return;
    this.open = false;
    this.book.deduct(this.accountId, this.amountMicros, 0, { requestId: null, keyId: null });
  }
}

export const usd = (micros: number) => (micros / 1e6).toFixed(6);
