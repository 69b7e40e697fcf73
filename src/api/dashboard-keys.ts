// GET /v1/dashboard/keys: the keys an admin manages (or a key's own record), each with what it used: spend today
// and this month against its budgets (with the month's daily burn-down), and requests and tokens in the last
// minute against rpm/tpm. Writes go through /v1/keys, so the dashboard has no second key API.
import type { Database } from "bun:sqlite";
import type { ApiKey } from "../auth/key-record.ts";
import { PERIOD_MS } from "../store/rollups.ts";
import { publicKey } from "./keys.ts";
import { MICROS_PER_USD } from "./dashboard-access.ts";

export function keysWithUse(db: Database, keys: readonly ApiKey[], nowMs: number) {
  const monthStart = monthStartMs(nowMs);
  const only = keys.length === 1 ? " AND key_id = $key" : "";
  const params: Record<string, string | number> = { from: monthStart, ...(keys.length === 1 ? { key: keys[0]!.id } : {}) };

  const daily = db
    .query<{ key_id: string; bucket_ms: number; cost_micros: number }, [typeof params]>(`SELECT key_id, bucket_ms, SUM(cost_micros) AS cost_micros
      FROM usage_daily WHERE bucket_ms >= $from${only} GROUP BY 1, 2 ORDER BY 2`)
    .all(params);
  const minute = db
    .query<{ key_id: string; requests: number; tokens: number }, [typeof params]>(`SELECT key_id, COUNT(*) AS requests, SUM(prompt_tokens + completion_tokens) AS tokens
      FROM ledger WHERE started_at >= $from${only} GROUP BY 1`)
    .all({ ...params, from: nowMs - 60_000 });
  return keysUse(keys, daily, minute, nowMs);
}

/** Since the start of this UTC month, for keysUse. */
export function monthStartMs(nowMs: number): number {
  const now = new Date(nowMs);
  return Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
}

/** The answer from the month's daily spend per key and the last minute's use (SQLite above, PostgreSQL in postgres/reads.ts). */
export function keysUse(
  keys: readonly ApiKey[],
  daily: readonly { key_id: string; bucket_ms: number; cost_micros: number }[],
  minute: readonly { key_id: string; requests: number; tokens: number }[],
  nowMs: number,
) {
  const today = Math.floor(nowMs / PERIOD_MS.daily) * PERIOD_MS.daily;
  const burn = new Map<string, { day: string; cost_usd: number }[]>();
  for (const row of daily) {
    const list = burn.get(row.key_id) ?? [];
    list.push({ day: new Date(row.bucket_ms).toISOString().slice(0, 10), cost_usd: row.cost_micros / MICROS_PER_USD });
    burn.set(row.key_id, list);
  }
  const lastMinute = new Map(minute.map((row) => [row.key_id, row]));

  return {
    object: "list" as const,
    data: keys.map((key) => {
      const days = burn.get(key.id) ?? [];
      const todayLabel = new Date(today).toISOString().slice(0, 10);
      const use = lastMinute.get(key.id);
      return {
        ...publicKey(key),
        use: {
          spend_today_usd: days.find((d) => d.day === todayLabel)?.cost_usd ?? 0,
          spend_month_usd: days.reduce((sum, d) => sum + d.cost_usd, 0),
          month_by_day: days,
          requests_last_minute: use?.requests ?? 0,
          tokens_last_minute: use?.tokens ?? 0,
        },
      };
    }),
  };
}
