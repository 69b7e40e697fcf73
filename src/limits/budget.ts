// Spend budgets per key, per UTC day and UTC month, in integer micro-dollars. A request reserves its estimated
// cost before it runs and settles the real cost afterwards; admission counts reservations as spent, so any number
// of concurrent requests can never together pass the limit on their estimates.
//
// Period rollover: a reservation belongs to the periods it was reserved in. Settling it after midnight (or after
// the first of the month) adds the real cost to the old period, not the new one. That keeps every tally's
// arithmetic closed (a reservation is always removed from the tally it was added to) and matches what the caller
// was told at admission; the new period starts from the ledger's figure instead.
import { utcDayBounds, utcMonthBounds, type PeriodBounds } from "./utc-periods.ts";

export interface BudgetLimits {
  dailyMicros?: number;
  monthlyMicros?: number;
}

export type BudgetPeriod = "daily" | "monthly";

export interface BudgetDenial {
  period: BudgetPeriod;
  limitMicros: number;
  spentMicros: number;
  reservedMicros: number;
  /** ms until the refusing period resets. */
  retryAfterMs: number;
}

export interface Reservation {
  /** Replaces the reservation with the real cost (may be lower or higher). A second settle/release is ignored. */
  settle(actualMicros: number): void;
  /** Cancels it (the request failed before costing anything). A second settle/release is ignored. */
  release(): void;
}

/** Micro-dollars already spent by `keyId` since `periodStartMs`, from the ledger. */
export type LoadSpent = (keyId: string, periodStartMs: number) => number;

interface PeriodTally extends PeriodBounds {
  settledMicros: number;
  reservedMicros: number;
}

interface KeyTallies {
  day: PeriodTally;
  month: PeriodTally;
}

export function isBudgetDenial(result: Reservation | BudgetDenial): result is BudgetDenial {
  return "period" in result;
}

export class BudgetBook {
  private readonly keys = new Map<string, KeyTallies>();

  /** `loadSpent` is called once per key per period, lazily, when the key is first seen in that period. */
  constructor(private readonly loadSpent: LoadSpent) {}

  /** Admits `amountMicros` if settled + reserved + amount <= limit for every configured period, and holds it. */
  reserve(keyId: string, limits: BudgetLimits, amountMicros: number, now: number): Reservation | BudgetDenial {
    checkMicros(amountMicros, "amountMicros");
    const tallies = this.talliesAt(keyId, now);
    // Monthly first: when both periods are exhausted the month resets later, so its retry time is the honest one.
    const denial =
      denyIfOver("monthly", limits.monthlyMicros, tallies.month, amountMicros, now) ??
      denyIfOver("daily", limits.dailyMicros, tallies.day, amountMicros, now);
    if (denial !== undefined) return denial;
    return new HeldReservation(tallies.day, tallies.month, amountMicros);
  }

  /** Settled spend (reservations not included) in the current UTC day and month. */
  spent(keyId: string, now: number): { dailyMicros: number; monthlyMicros: number } {
    const tallies = this.talliesAt(keyId, now);
    return { dailyMicros: tallies.day.settledMicros, monthlyMicros: tallies.month.settledMicros };
  }

  /** The key's tallies for the periods containing `now`, opening (and loading) a period when it has rolled over. */
  private talliesAt(keyId: string, now: number): KeyTallies {
    const existing = this.keys.get(keyId);
    if (existing === undefined) {
      const created = { day: this.openTally(keyId, utcDayBounds(now)), month: this.openTally(keyId, utcMonthBounds(now)) };
      this.keys.set(keyId, created);
      return created;
    }
    // Only forward: if the clock steps back a little we keep the open period rather than reload and lose reservations.
    if (now >= existing.day.endMs) existing.day = this.openTally(keyId, utcDayBounds(now));
    if (now >= existing.month.endMs) existing.month = this.openTally(keyId, utcMonthBounds(now));
    return existing;
  }

  private openTally(keyId: string, bounds: PeriodBounds): PeriodTally {
    const loaded = this.loadSpent(keyId, bounds.startMs);
    checkMicros(loaded, `loadSpent(${keyId}) result`);
    return { startMs: bounds.startMs, endMs: bounds.endMs, settledMicros: loaded, reservedMicros: 0 };
  }
}

function denyIfOver(period: BudgetPeriod, limitMicros: number | undefined, tally: PeriodTally, amountMicros: number, now: number): BudgetDenial | undefined {
  if (limitMicros === undefined || tally.settledMicros + tally.reservedMicros + amountMicros <= limitMicros) return undefined;
  return { period, limitMicros, spentMicros: tally.settledMicros, reservedMicros: tally.reservedMicros, retryAfterMs: tally.endMs - now };
}

/** Holds its amount in the tallies it was made in, even after they have been replaced by a new period. */
class HeldReservation implements Reservation {
  private open = true;

  constructor(
    private readonly day: PeriodTally,
    private readonly month: PeriodTally,
    readonly amountMicros: number,
  ) {
    day.reservedMicros += amountMicros;
    month.reservedMicros += amountMicros;
  }

  settle(actualMicros: number): void {
    if (!this.open) return;
    // Checked before closing: a rejected value leaves the reservation open, so a later release still frees it.
    checkMicros(actualMicros, "actualMicros");
    this.close(actualMicros);
  }

  release(): void {
    if (this.open) this.close(0);
  }

  private close(actualMicros: number): void {
    this.open = false;
    moveToSettled(this.day, this.amountMicros, actualMicros);
    moveToSettled(this.month, this.amountMicros, actualMicros);
  }
}

function moveToSettled(tally: PeriodTally, reservedMicros: number, actualMicros: number): void {
  tally.reservedMicros -= reservedMicros;
  tally.settledMicros += actualMicros;
}

function checkMicros(value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number of micro-dollars >= 0, got ${value}`);
}
