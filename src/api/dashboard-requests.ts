// GET /v1/dashboard/requests and /v1/dashboard/requests/{request_id}: the raw ledger, newest first, one page at
// a time. Every query walks an index backwards from a cursor (ledger_key_time with a key filter, ledger_time
// without), so a page costs about the rows it returns plus the rows its filters skip, whatever the table size.
import type { Database } from "bun:sqlite";
import { GatewayError } from "../errors.ts";
import { instantMs, intParam, MICROS_PER_USD } from "./dashboard-access.ts";

export interface RequestFilters {
  keyId?: string;
  model?: string;
  /** "ok" (< 400), "error" (>= 400) or one status code. */
  status?: string;
  fromMs?: number;
  toMs?: number;
  /** The last row of the previous page: `<started_at>.<rowid>`. */
  before?: { startedAt: number; rowid: number };
  limit: number;
}

export function parseRequestFilters(params: URLSearchParams, keyId: string | undefined): RequestFilters {
  const status = params.get("status") || undefined;
  if (status !== undefined && status !== "ok" && status !== "error" && !/^[1-5]\d\d$/.test(status)) {
    throw new GatewayError("invalid_request", `status: expected ok, error or an HTTP status like 429, got '${status}'`, { param: "status" });
  }
  const cursor = params.get("before");
  let before: RequestFilters["before"];
  if (cursor) {
    const match = /^(\d+)\.(\d+)$/.exec(cursor);
    if (!match) throw new GatewayError("invalid_request", "before: expected the next_before value of the previous page", { param: "before" });
    before = { startedAt: Number(match[1]), rowid: Number(match[2]) };
  }
  return {
    keyId,
    model: params.get("model") || undefined,
    status,
    fromMs: instantMs(params.get("from"), "from"),
    toMs: instantMs(params.get("to"), "to"),
    before,
    limit: intParam(params.get("limit"), "limit", 50, 200),
  };
}

export interface SummaryRow {
  rowid: number;
  request_id: string;
  key_id: string | null;
  model: string;
  backend: string | null;
  endpoint: string;
  status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
  stream: number;
  started_at: number;
  total_ms: number;
  ttft_ms: number | null;
  firewall_verdict: string | null;
}

const SUMMARY_COLUMNS = "rowid, request_id, key_id, model, backend, endpoint, status, error_code, prompt_tokens, completion_tokens, cost_micros, stream, started_at, total_ms, ttft_ms, firewall_verdict";

export function listRequests(db: Database, filters: RequestFilters) {
  const where = ["started_at >= $from", "started_at < $to"];
  const params: Record<string, string | number> = { from: filters.fromMs ?? 0, to: filters.toMs ?? Number.MAX_SAFE_INTEGER, limit: filters.limit + 1 };
  if (filters.keyId !== undefined) (where.push("key_id = $key"), (params.key = filters.keyId));
  if (filters.model !== undefined) (where.push("model = $model"), (params.model = filters.model));
  if (filters.status === "ok") where.push("status < 400");
  else if (filters.status === "error") where.push("status >= 400");
  else if (filters.status !== undefined) (where.push("status = $status"), (params.status = Number(filters.status)));
  if (filters.before) {
    where.push("started_at <= $beforeAt", "NOT (started_at = $beforeAt AND rowid >= $beforeRow)");
    params.beforeAt = filters.before.startedAt;
    params.beforeRow = filters.before.rowid;
  }
  // The index is named so SQLite never prefers a scan of the whole table for an unselective filter.
  const index = filters.keyId !== undefined ? "ledger_key_time" : "ledger_time";
  const rows = db
    .query<SummaryRow, [typeof params]>(`SELECT ${SUMMARY_COLUMNS} FROM ledger INDEXED BY ${index} WHERE ${where.join(" AND ")} ORDER BY started_at DESC, rowid DESC LIMIT $limit`)
    .all(params);
  return requestsPage(rows, filters.limit);
}

/** One page from up to `limit + 1` rows, newest first (SQLite above, PostgreSQL in postgres/reads.ts). */
export function requestsPage(rows: readonly SummaryRow[], limit: number) {
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  const last = page[page.length - 1];
  return {
    object: "list" as const,
    data: page.map(({ rowid: _, cost_micros, stream, ...row }) => ({ ...row, stream: stream === 1, cost_usd: cost_micros / MICROS_PER_USD })),
    next_before: more && last ? `${last.started_at}.${last.rowid}` : null,
  };
}

interface Reported {
  routing?: unknown;
  inferada?: unknown;
  tool_runs?: unknown;
}

/** The row's `detail` JSON; a row written before the column existed (or without reports) has none. */
function parseDetail(text: string | number | null | undefined): Reported {
  if (typeof text !== "string") return {};
  try {
    const value = JSON.parse(text) as unknown;
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Reported) : {};
  } catch {
    return {};
  }
}

export interface DetailRow extends Record<string, string | number | null> {
  request_id: string;
  started_at: number;
  total_ms: number;
  upstream_ms: number | null;
  queued_ms: number | null;
  ttft_ms: number | null;
  firewall_ms: number | null;
  tools_ms: number | null;
  cost_micros: number;
  firewall_rules: string | null;
  stream: number;
  tokens_estimated: number;
}

/**
 * One ledger row with its timings broken down. `at` (the row's started_at, which the list gives) lets the time
 * index find it; without it the lookup scans, because request ids are not indexed (see the ledger schema).
 */
export function requestDetail(db: Database, requestId: string, atMs: number | undefined, keyId: string | undefined) {
  const where = ["request_id = $id"];
  const params: Record<string, string | number> = { id: requestId };
  if (atMs !== undefined) (where.push("started_at = $at"), (params.at = atMs));
  if (keyId !== undefined) (where.push("key_id = $key"), (params.key = keyId));
  return requestDetailOf(db.query<DetailRow, [typeof params]>(`SELECT * FROM ledger WHERE ${where.join(" AND ")} LIMIT 1`).get(params) ?? undefined, requestId, keyId);
}

/** The detail answer from the row found (or a 404), for either store. */
export function requestDetailOf(row: DetailRow | undefined, requestId: string, keyId: string | undefined) {
  if (!row) throw new GatewayError("not_found", `no request '${requestId}' in the ledger${keyId ? " for this key" : ""}; it may be older than storage.retention_days`);
  const { cost_micros, firewall_rules, stream, tokens_estimated, detail, ...rest } = row;
  const reported = parseDetail(detail);
  const accounted = (row.upstream_ms ?? 0) + (row.queued_ms ?? 0) + (row.firewall_ms ?? 0) + (row.tools_ms ?? 0);
  return {
    object: "dashboard.request" as const,
    ...rest,
    stream: stream === 1,
    tokens_estimated: tokens_estimated === 1,
    cost_usd: cost_micros / MICROS_PER_USD,
    firewall_rules: firewall_rules ? (JSON.parse(firewall_rules) as string[]) : [],
    routing: reported.routing ?? null,
    inferada: reported.inferada ?? null,
    tool_runs: reported.tool_runs ?? null,
    timings: {
      total_ms: row.total_ms,
      queued_ms: row.queued_ms,
      firewall_ms: row.firewall_ms,
      upstream_ms: row.upstream_ms,
      ttft_ms: row.ttft_ms,
      tools_ms: row.tools_ms,
      // What the gateway itself spent: auth, limits, routing, processors, templating and writing the answer.
      gateway_ms: Math.max(0, Math.round((row.total_ms - accounted) * 100) / 100),
    },
  };
}
