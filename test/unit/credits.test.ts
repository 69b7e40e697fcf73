// The credit book over a real (in-memory) SQLite store: reservations count as spent, settlements replace them,
// the balance never goes below zero, adjustments cannot take what requests in flight hold.
import { describe, expect, test } from "bun:test";
import { openDatabase } from "../../src/store/database.ts";
import { AccountStore } from "../../src/store/accounts.ts";
import { CreditBook, isCreditDenial, type CreditHold } from "../../src/billing/credits.ts";
import { BudgetBook } from "../../src/limits/budget.ts";
import { Limits, admit, type Admission } from "../../src/pipeline/admission.ts";
import { DEFAULT_SETTINGS, type ApiKey } from "../../src/auth/key-record.ts";
import type { Backend } from "../../src/config/resolve.ts";
import { GatewayError } from "../../src/errors.ts";

function book(depositMicros: number) {
  const store = new AccountStore(openDatabase(":memory:"));
  const credits = new CreditBook(store);
  const account = store.create({ name: "t" });
  if (depositMicros) credits.adjust(account.id, depositMicros, "deposit", null);
  return { store, credits, id: account.id };
}

const meta = { requestId: "r", keyId: "k" };
const hold = (result: ReturnType<CreditBook["reserve"]>): CreditHold => {
  if (isCreditDenial(result)) throw new Error("denied");
  return result;
};

describe("CreditBook", () => {
  test("reservations count as spent until settled; the settlement is the real cost", () => {
    const { credits, store, id } = book(100);
    const a = hold(credits.reserve(id, 60));
    expect(credits.state(id)).toEqual({ balanceMicros: 100, reservedMicros: 60, availableMicros: 40 });
    const denied = credits.reserve(id, 41);
    expect(isCreditDenial(denied) && denied).toMatchObject({ balanceMicros: 100, reservedMicros: 60, amountMicros: 41 });
    a.settle(25, meta);
    a.settle(25, meta); // once only
    expect(credits.state(id)).toEqual({ balanceMicros: 75, reservedMicros: 0, availableMicros: 75 });
    credits.flush();
    expect(store.balanceMicros(id)).toBe(75);
    const rows = store.transactions({ accountId: id, limit: 10 });
    expect(rows.map((r) => [r.kind, r.amount_micros, r.balance_micros, r.request_id])).toEqual([["deduction", -25, 75, "r"], ["deposit", 100, 100, null]]);
  });

  test("a settlement above its reservation takes only what others have not reserved; the balance stays >= 0", () => {
    const { credits, store, id } = book(100);
    const a = hold(credits.reserve(id, 30));
    const b = hold(credits.reserve(id, 50));
    a.settle(80, meta); // 30 held + 20 unreserved: 50 charged, 30 not
    expect(credits.state(id)).toMatchObject({ balanceMicros: 50, reservedMicros: 50, availableMicros: 0 });
    b.settle(50, meta);
    expect(credits.state(id).balanceMicros).toBe(0);
    credits.charge(id, 10, meta); // nothing left: not charged, but noted
    credits.flush();
    expect(store.balanceMicros(id)).toBe(0);
    const notes = store.transactions({ accountId: id, limit: 10 }).map((r) => r.note);
    expect(notes.filter((n) => n?.includes("not charged")).length).toBe(2);
  });

  test("a release frees the reservation and costs nothing; zero-cost requests pass an empty account", () => {
    const { credits, id } = book(0);
    expect(isCreditDenial(credits.reserve(id, 1))).toBe(true);
    const free = hold(credits.reserve(id, 0));
    free.settle(0, meta);
    const { credits: c2, id: id2 } = book(10);
    const held = hold(c2.reserve(id2, 10));
    held.release();
    expect(c2.state(id2)).toEqual({ balanceMicros: 10, reservedMicros: 0, availableMicros: 10 });
  });

  test("an adjustment may not take away what requests in flight hold", () => {
    const { credits, id } = book(100);
    hold(credits.reserve(id, 70));
    expect("refused" in credits.adjust(id, -40, "adjustment", null)).toBe(true);
    expect("transaction" in credits.adjust(id, -30, "adjustment", "fix")).toBe(true);
    expect(credits.state(id)).toMatchObject({ balanceMicros: 70, availableMicros: 0 });
  });

  test("hourly roll-up sums deductions and keeps deposits apart", () => {
    const { credits, store, id } = book(1000);
    for (let i = 0; i < 5; i++) hold(credits.reserve(id, 10)).settle(7, meta);
    credits.flush();
    const rows = store.transactions({ accountId: id, limit: 10, hourly: true });
    expect(rows.map((r) => [r.kind, r.amount_micros, r.requests ?? null])).toEqual([["deduction", -35, 5], ["deposit", 1000, null]]);
    expect(store.deductedSince(id, 0)).toBe(35);
  });
});

describe("admission against an account", () => {
  // $1 per output token, no prompt price: a request's worst case is max_tokens dollars (in micros: × 1e6).
  const backend = { id: "priced", pricing: { outputPerMtokUsd: 1_000_000 }, defaultMaxTokens: 0, timeoutMs: 1_000 } as unknown as Backend;

  function setup(depositMicros: number) {
    const { store, credits, id } = book(depositMicros);
    const limits = new Limits(() => 0, { store, credits, budgets: new BudgetBook(() => 0) });
    const key: ApiKey = { ...DEFAULT_SETTINGS, name: "k", id: "key-1", prefix: "inf_test", created_at: 0, revoked_at: null, account_id: id };
    const request = (maxTokens: number, modelCalls?: number) => ({ key, backend, promptTokensBound: 10, maxTokens, modelCalls, signal: undefined });
    return { limits, credits, id, request };
  }

  const refusal = (run: () => unknown) => {
    try {
      run();
    } catch (error) {
      return error as GatewayError;
    }
    throw new Error("admitted");
  };

  test("reserves the worst case, refuses with 402 beyond the available credit, settles to the real cost", () => {
    const { limits, credits, id, request } = setup(10_000_000);
    const admitted = admit(limits, request(6)) as Admission;
    expect(credits.state(id).reservedMicros).toBe(6_000_000);
    const error = refusal(() => admit(limits, request(6)));
    expect([error.code, error.status]).toEqual(["insufficient_credits", 402]);
    admitted.finish(3, 2_000_000, "req-1");
    expect(credits.state(id)).toEqual({ balanceMicros: 8_000_000, reservedMicros: 0, availableMicros: 8_000_000 });
  });

  test("a platform tool loop reserves every round's worst case", () => {
    const { limits, credits, id, request } = setup(10_000_000);
    expect(refusal(() => admit(limits, request(3, 4))).code).toBe("insufficient_credits"); // 4 rounds × $3 > $10
    const admitted = admit(limits, request(2, 4)) as Admission;
    expect(credits.state(id).reservedMicros).toBe(8_000_000);
    admitted.finish(undefined, 0);
    expect(credits.state(id).reservedMicros).toBe(0);
  });
});
