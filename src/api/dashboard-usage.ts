// GET /v1/dashboard/usage: spend and tokens by key, model and day from the daily roll-up (whole UTC days), as JSON
// for the charts or as the same CSV that GET /v1/usage writes. A 30-day report reads a few hundred summed rows.
import type { Database } from "bun:sqlite";
import { GatewayError } from "../errors.ts";
import { usageCsv, type UsageReport, type UsageRow } from "../store/usage.ts";
import { PERIOD_MS } from "../store/rollups.ts";
import { MICROS_PER_USD } from "./dashboard-access.ts";

export type DashboardGroup = "key" | "model" | "day";
const GROUP_COLUMN: Record<DashboardGroup, string> = { key: "key_id", model: "model", day: "bucket_ms" };
const DAY_MS = PERIOD_MS.daily;

export interface DashboardUsageQuery {
  groupBy: DashboardGroup;
  /** First day, unix ms of its UTC midnight. */
  fromMs: number;
  /** Day after the last, exclusive. */
  toMs: number;
  keyId?: string;
  model?: string;
}

/** `from`/`to` as YYYY-MM-DD (to inclusive); the default is the last 30 days including today. */
export function parseUsageQuery(params: URLSearchParams, keyId: string | undefined, nowMs: number): DashboardUsageQuery {
  const groupBy = params.get("group_by") ?? "day";
  if (!(groupBy in GROUP_COLUMN)) throw new GatewayError("invalid_request", `group_by: expected key, model or day, got '${groupBy}'`, { param: "group_by" });
  const today = Math.floor(nowMs / DAY_MS) * DAY_MS;
  const toMs = day(params.get("to"), "to", today) + DAY_MS;
  const fromMs = day(params.get("from"), "from", toMs - 30 * DAY_MS);
  if (fromMs >= toMs) throw new GatewayError("invalid_request", "from: must be on or before to", { param: "from" });
  return { groupBy: groupBy as DashboardGroup, fromMs, toMs, keyId, model: params.get("model") || undefined };
}

function day(text: string | null, name: string, fallback: number): number {
  if (!text) return fallback;
  const ms = /^\d{4}-\d{2}-\d{2}$/.test(text) ? Date.parse(`${text}T00:00:00Z`) : NaN;
  if (!Number.isFinite(ms)) throw new GatewayError("invalid_request", `${name}: expected a UTC day like 2026-11-01, got '${text}'`, { param: name });
  return ms;
}

export interface Summed {
  group_value: string | number;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
}

export function dashboardUsage(db: Database, query: DashboardUsageQuery): UsageReport {
  const where = ["bucket_ms >= $from", "bucket_ms < $to"];
  const params: Record<string, string | number> = { from: query.fromMs, to: query.toMs };
  if (query.keyId !== undefined) (where.push("key_id = $key"), (params.key = query.keyId));
  if (query.model !== undefined) (where.push("model = $model"), (params.model = query.model));
  const column = GROUP_COLUMN[query.groupBy];
  const rows = db
    .query<Summed, [typeof params]>(`SELECT ${column} AS group_value, SUM(requests) AS requests, SUM(prompt_tokens) AS prompt_tokens,
        SUM(completion_tokens) AS completion_tokens, SUM(cost_micros) AS cost_micros
      FROM usage_daily WHERE ${where.join(" AND ")} GROUP BY 1 ORDER BY ${query.groupBy === "day" ? "1" : "5 DESC, 1"}`)
    .all(params);
  return usageFromDaily(rows, query);
}

/** The report from the daily roll-up's summed rows (SQLite above, PostgreSQL in postgres/reads.ts). */
export function usageFromDaily(rows: readonly Summed[], query: DashboardUsageQuery): UsageReport {
  const total = { requests: 0, prompt_tokens: 0, completion_tokens: 0, cost_micros: 0 };
  const data = rows.map((row): UsageRow => {
    total.requests += row.requests;
    total.prompt_tokens += row.prompt_tokens;
    total.completion_tokens += row.completion_tokens;
    total.cost_micros += row.cost_micros;
    const group: Partial<UsageRow> =
      query.groupBy === "day" ? { day: new Date(Number(row.group_value)).toISOString().slice(0, 10) } : query.groupBy === "key" ? { key_id: row.group_value === "" ? null : String(row.group_value) } : { model: String(row.group_value) };
    return { ...group, ...usd(row) };
  });
  return { object: "usage", data, total: usd(total) };
}

export function dashboardUsageResponse(report: UsageReport, format: string | null): Response {
  if (format === "csv") {
    return new Response(usageCsv(report), { headers: { "content-type": "text/csv; charset=utf-8", "content-disposition": 'attachment; filename="sluice-usage.csv"' } });
  }
  if (format !== null && format !== "json") throw new GatewayError("invalid_request", `format: expected json or csv, got '${format}'`, { param: "format" });
  return Response.json(report);
}

function usd(sums: Omit<Summed, "group_value">) {
  return { requests: sums.requests, prompt_tokens: sums.prompt_tokens, completion_tokens: sums.completion_tokens, cost_usd: sums.cost_micros / MICROS_PER_USD };
}
