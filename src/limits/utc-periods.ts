// Budget periods are calendar periods in UTC, so every gateway instance and the ledger agree on where they start.

export interface PeriodBounds {
  /** First ms of the period (inclusive). */
  startMs: number;
  /** First ms of the next period (exclusive). */
  endMs: number;
}

const DAY_MS = 86_400_000;

/** The UTC day containing `now`. JavaScript time has no leap seconds, so every day is exactly DAY_MS long. */
export function utcDayBounds(now: number): PeriodBounds {
  const startMs = now - (((now % DAY_MS) + DAY_MS) % DAY_MS);
  return { startMs, endMs: startMs + DAY_MS };
}

/** The UTC calendar month containing `now`. */
export function utcMonthBounds(now: number): PeriodBounds {
  const date = new Date(now);
  const year = date.getUTCFullYear();
  const month = date.getUTCMonth();
  return { startMs: Date.UTC(year, month, 1), endMs: Date.UTC(year, month + 1, 1) };
}
