// Usage reports read from the ledger (`GET /v1/usage`, JSON or CSV) and the spend a budget starts from.
// Sums stay integer micro-dollars in SQL; each reported figure is divided into dollars exactly once.
import type { Database } from "bun:sqlite";

export type UsageGroupBy = "key" | "model" | "day";

export interface UsageQuery {
  /** Unix ms, inclusive. */
  fromMs?: number;
  /** Unix ms, exclusive. */
  toMs?: number;
  /** Without it, `data` holds exactly one row: the total (all zeros when nothing matched). */
  groupBy?: UsageGroupBy;
  keyId?: string;
}

export interface UsageTotals {
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface UsageRow extends UsageTotals {
  key_id?: string | null;
  model?: string;
  /** YYYY-MM-DD, UTC. */
  day?: string;
}

export interface UsageReport {
  object: "usage";
  data: UsageRow[];
  total: UsageTotals;
}

export interface SummedRow {
  group_value: string | null;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
}

// Fixed SQL fragments only: every value is a bound parameter. Rows come back ordered by the grouping column.
const GROUP_COLUMN: Record<UsageGroupBy, string> = {
  key: "key_id",
  model: "model",
  day: "strftime('%Y-%m-%d', started_at / 1000, 'unixepoch')",
};
const GROUP_FIELD = { key: "key_id", model: "model", day: "day" } as const satisfies Record<UsageGroupBy, keyof UsageRow>;

const MICROS_PER_USD = 1_000_000;

export function queryUsage(db: Database, query: UsageQuery): UsageReport {
  const groupColumn = query.groupBy ? GROUP_COLUMN[query.groupBy] : "NULL";
  const sql = `
    SELECT ${groupColumn} AS group_value, COUNT(*) AS requests,
           COALESCE(SUM(prompt_tokens), 0) AS prompt_tokens, COALESCE(SUM(completion_tokens), 0) AS completion_tokens,
           COALESCE(SUM(cost_micros), 0) AS cost_micros
    FROM ledger
    WHERE started_at >= $fromMs AND started_at < $toMs${query.keyId === undefined ? "" : " AND key_id = $keyId"}
    ${query.groupBy ? "GROUP BY group_value ORDER BY group_value" : ""}`;
  const params: Record<string, number | string> = {
    fromMs: query.fromMs ?? Number.MIN_SAFE_INTEGER,
    toMs: query.toMs ?? Number.MAX_SAFE_INTEGER,
  };
  if (query.keyId !== undefined) params.keyId = query.keyId;
  return usageFromSums(db.query<SummedRow, [Record<string, number | string>]>(sql).all(params), query.groupBy);
}

/** The report from summed rows (SQLite's query above, or PostgreSQL's in postgres/reads.ts). */
export function usageFromSums(summed: readonly SummedRow[], groupBy: UsageGroupBy | undefined): UsageReport {
  const total = { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_micros: 0 };
  for (const row of summed) {
    total.requests += row.requests;
    total.prompt_tokens += row.prompt_tokens;
    total.completion_tokens += row.completion_tokens;
    total.cost_micros += row.cost_micros;
  }
  const data = groupBy
    ? summed.map((row): UsageRow => ({ [GROUP_FIELD[groupBy]]: row.group_value, ...toUsd(row) }))
    : [toUsd(total)];
  return { object: "usage", data, total: toUsd(total) };
}

/**
 * Sum of cost for one key since a moment, to seed a budget counter at start-up. Only sees rows already written:
 * flush the ledger writer first.
 */
export function spentMicrosSince(db: Database, keyId: string, sinceMs: number): number {
  const row = db
    .query<{ micros: number }, [string, number]>("SELECT COALESCE(SUM(cost_micros), 0) AS micros FROM ledger WHERE key_id = ? AND started_at >= ?")
    .get(keyId, sinceMs);
  return row?.micros ?? 0;
}

const GROUP_CSV_COLUMNS = ["key_id", "model", "day"] as const;
const METRIC_CSV_COLUMNS = ["requests", "prompt_tokens", "completion_tokens", "cost_usd"] as const;

/**
 * CSV (RFC 4180: CRLF line ends, fields with commas, quotes or line breaks quoted). The grouping column present in
 * the rows leads; with no rows only the metric columns are written. Text cells that a spreadsheet would run as a
 * formula (`=`, `+`, `-`, `@`, tab, CR) get a leading `'`, because model names come from clients.
 */
export function usageCsv(report: UsageReport): string {
  const groupColumns = GROUP_CSV_COLUMNS.filter((column) => report.data.some((row) => column in row));
  const lines = [[...groupColumns, ...METRIC_CSV_COLUMNS].join(",")];
  for (const row of report.data) {
    const cells = groupColumns.map((column) => csvText(row[column] ?? ""));
    cells.push(String(row.requests), String(row.prompt_tokens), String(row.completion_tokens), row.cost_usd.toFixed(6));
    lines.push(cells.join(","));
  }
  return `${lines.join("\r\n")}\r\n`;
}

function csvText(value: string): string {
  const safe = /^[=+\-@\t\r]/.test(value) ? `'${value}` : value;
  return /[",\r\n]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function toUsd(sums: Omit<SummedRow, "group_value">): UsageTotals {
  return {
    requests: sums.requests,
    prompt_tokens: sums.prompt_tokens,
    completion_tokens: sums.completion_tokens,
    cost_usd: sums.cost_micros / MICROS_PER_USD,
  };
}
