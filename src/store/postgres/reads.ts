// The usage report and the dashboard's reads on PostgreSQL: the same questions as the SQLite queries in
// store/usage.ts and api/dashboard-*.ts, in PostgreSQL's dialect, answered by the same shaping functions. The ledger
// writer flushes first, so a request this gateway just finished is included (other gateways' rows are as recent
// as their last batch, at most flushIntervalMs old).
import type { StoreReads } from "../store.ts";
import type { PgClient, Params } from "./client.ts";
import type { PgLedgerWriter } from "./ledger.ts";
import { usageFromSums, type SummedRow, type UsageQuery } from "../usage.ts";
import { exactPercentilesOf, histogramPercentiles, overviewOf, overviewSpan, type OverviewWindow, type SeriesRow } from "../../api/dashboard-overview.ts";
import { usageFromDaily, type DashboardUsageQuery, type Summed } from "../../api/dashboard-usage.ts";
import { requestDetailOf, requestsPage, type DetailRow, type RequestFilters, type SummaryRow } from "../../api/dashboard-requests.ts";
import { keysUse, monthStartMs } from "../../api/dashboard-keys.ts";
import { PERIOD_MS, type LatencyMetric } from "../rollups.ts";
import type { ApiKey } from "../../auth/key-record.ts";

const USAGE_GROUP: Record<NonNullable<UsageQuery["groupBy"]>, string> = {
  key: "key_id",
  model: "model",
  day: "to_char(to_timestamp(started_at / 1000.0) AT TIME ZONE 'UTC', 'YYYY-MM-DD')",
};
const DAILY_GROUP: Record<DashboardUsageQuery["groupBy"], string> = { key: "key_id", model: "model", day: "bucket_ms" };
const SUMS = "COUNT(*) AS requests, COALESCE(SUM(prompt_tokens), 0)::int8 AS prompt_tokens, COALESCE(SUM(completion_tokens), 0)::int8 AS completion_tokens, COALESCE(SUM(cost_micros), 0)::int8 AS cost_micros";

export class PgReads implements StoreReads {
  constructor(
    private readonly client: PgClient,
    private readonly ledger: PgLedgerWriter,
  ) {}

  private async q<T>(sql: string, params: Params): Promise<T[]> {
    return this.client.named<T>(sql, params);
  }

  async usage(query: UsageQuery) {
    await this.ledger.flush();
    const group = query.groupBy ? USAGE_GROUP[query.groupBy] : "NULL";
    const params: Params = { fromMs: query.fromMs ?? Number.MIN_SAFE_INTEGER, toMs: query.toMs ?? Number.MAX_SAFE_INTEGER };
    if (query.keyId !== undefined) params.keyId = query.keyId;
    const summed = await this.q<SummedRow>(
      `SELECT ${group} AS group_value, ${SUMS} FROM ledger WHERE started_at >= $fromMs AND started_at < $toMs${query.keyId === undefined ? "" : " AND key_id = $keyId"}
       ${query.groupBy ? "GROUP BY 1 ORDER BY 1" : ""}`,
      params,
    );
    return usageFromSums(summed, query.groupBy);
  }

  async overview(window: OverviewWindow, keyId: string | undefined, nowMs: number) {
    await this.ledger.flush();
    const spec = overviewSpan(window, nowMs);
    const key = keyId === undefined ? "" : " AND key_id = $key";
    const params: Params = { from: spec.fromMs, ...(keyId === undefined ? {} : { key: keyId }) };
    let series: SeriesRow[];
    let errors: { code: string; requests: number }[];
    let latency;
    if (spec.source === "ledger") {
      series = await this.q<SeriesRow>(
        `SELECT (started_at / ${spec.stepMs}) * ${spec.stepMs} AS t, COUNT(*) AS requests, COUNT(*) FILTER (WHERE status >= 400) AS errors,
           SUM(prompt_tokens)::int8 AS prompt_tokens, SUM(completion_tokens)::int8 AS completion_tokens, SUM(cost_micros)::int8 AS cost_micros
         FROM ledger WHERE started_at >= $from${key} GROUP BY 1 ORDER BY 1`,
        params,
      );
      errors = await this.q(`SELECT COALESCE(error_code, 'http_' || status) AS code, COUNT(*) AS requests FROM ledger WHERE started_at >= $from AND status >= 400${key} GROUP BY 1 ORDER BY 2 DESC`, params);
      latency = exactPercentilesOf(await this.q<{ total_ms: number; ttft_ms: number | null }>(`SELECT total_ms, ttft_ms FROM ledger WHERE started_at >= $from${key}`, params));
    } else {
      const p = spec.source;
      series = await this.q<SeriesRow>(
        `SELECT bucket_ms AS t, SUM(requests)::int8 AS requests, SUM(errors)::int8 AS errors, SUM(prompt_tokens)::int8 AS prompt_tokens,
           SUM(completion_tokens)::int8 AS completion_tokens, SUM(cost_micros)::int8 AS cost_micros
         FROM usage_${p} WHERE bucket_ms >= $from${key} GROUP BY 1 ORDER BY 1`,
        params,
      );
      errors = await this.q(`SELECT error_code AS code, SUM(requests)::int8 AS requests FROM errors_${p} WHERE bucket_ms >= $from${key} GROUP BY 1 ORDER BY 2 DESC`, params);
      const bins = await this.q<{ metric: LatencyMetric; bin: number; requests: number }>(
        `SELECT metric, bin, SUM(requests)::int8 AS requests FROM latency_${p} WHERE bucket_ms >= $from${key} GROUP BY 1, 2 ORDER BY 1, 2`,
        params,
      );
      latency = { total: histogramPercentiles(bins.filter((b) => b.metric === "total")), ttft: histogramPercentiles(bins.filter((b) => b.metric === "ttft")) };
    }
    const dayStart = Math.floor(nowMs / PERIOD_MS.daily) * PERIOD_MS.daily;
    const [today] = await this.q<{ micros: number }>(`SELECT COALESCE(SUM(cost_micros), 0)::int8 AS micros FROM usage_daily WHERE bucket_ms = $from${key}`, { ...params, from: dayStart });
    const [minute] = await this.q<{ requests: number; tokens: number }>(
      `SELECT COUNT(*) AS requests, COALESCE(SUM(completion_tokens), 0)::int8 AS tokens FROM ledger WHERE started_at >= $from${key}`,
      { ...params, from: nowMs - 60_000 },
    );
    return overviewOf(window, nowMs, series, errors, latency, today?.micros ?? 0, minute ?? { requests: 0, tokens: 0 });
  }

  async dashboardUsage(query: DashboardUsageQuery) {
    await this.ledger.flush();
    const where = ["bucket_ms >= $from", "bucket_ms < $to"];
    const params: Params = { from: query.fromMs, to: query.toMs };
    if (query.keyId !== undefined) (where.push("key_id = $key"), (params.key = query.keyId));
    if (query.model !== undefined) (where.push("model = $model"), (params.model = query.model));
    const rows = await this.q<Summed>(
      `SELECT ${DAILY_GROUP[query.groupBy]} AS group_value, SUM(requests)::int8 AS requests, SUM(prompt_tokens)::int8 AS prompt_tokens,
         SUM(completion_tokens)::int8 AS completion_tokens, SUM(cost_micros)::int8 AS cost_micros
       FROM usage_daily WHERE ${where.join(" AND ")} GROUP BY 1 ORDER BY ${query.groupBy === "day" ? "1" : "5 DESC, 1"}`,
      params,
    );
    return usageFromDaily(rows, query);
  }

  async requests(filters: RequestFilters) {
    await this.ledger.flush();
    const where = ["started_at >= $from", "started_at < $to"];
    const params: Params = { from: filters.fromMs ?? 0, to: filters.toMs ?? Number.MAX_SAFE_INTEGER, limit: filters.limit + 1 };
    if (filters.keyId !== undefined) (where.push("key_id = $key"), (params.key = filters.keyId));
    if (filters.model !== undefined) (where.push("model = $model"), (params.model = filters.model));
    if (filters.status === "ok") where.push("status < 400");
    else if (filters.status === "error") where.push("status >= 400");
    else if (filters.status !== undefined) (where.push("status = $status"), (params.status = Number(filters.status)));
    if (filters.before) {
      where.push("(started_at, id) < ($beforeAt, $beforeRow)");
      params.beforeAt = filters.before.startedAt;
      params.beforeRow = filters.before.rowid;
    }
    const rows = await this.q<SummaryRow>(
      `SELECT id AS rowid, request_id, key_id, model, backend, endpoint, status, error_code, prompt_tokens, completion_tokens, cost_micros, stream,
         started_at, total_ms, ttft_ms, firewall_verdict
       FROM ledger WHERE ${where.join(" AND ")} ORDER BY started_at DESC, id DESC LIMIT $limit`,
      params,
    );
    return requestsPage(rows, filters.limit);
  }

  async requestDetail(requestId: string, atMs: number | undefined, keyId: string | undefined) {
    await this.ledger.flush();
    const where = ["request_id = $id"];
    const params: Params = { id: requestId };
    if (atMs !== undefined) (where.push("started_at = $at"), (params.at = atMs));
    if (keyId !== undefined) (where.push("key_id = $key"), (params.key = keyId));
    const [row] = await this.q<DetailRow>(`SELECT * FROM ledger WHERE ${where.join(" AND ")} LIMIT 1`, params);
    if (row) delete row.id;
    return requestDetailOf(row, requestId, keyId);
  }

  async keysWithUse(keys: readonly ApiKey[], nowMs: number) {
    await this.ledger.flush();
    const only = keys.length === 1 ? " AND key_id = $key" : "";
    const params: Params = { from: monthStartMs(nowMs), ...(keys.length === 1 ? { key: keys[0]!.id } : {}) };
    const daily = await this.q<{ key_id: string; bucket_ms: number; cost_micros: number }>(
      `SELECT key_id, bucket_ms, SUM(cost_micros)::int8 AS cost_micros FROM usage_daily WHERE bucket_ms >= $from${only} GROUP BY 1, 2 ORDER BY 2`,
      params,
    );
    const minute = await this.q<{ key_id: string; requests: number; tokens: number }>(
      `SELECT key_id, COUNT(*) AS requests, SUM(prompt_tokens + completion_tokens)::int8 AS tokens FROM ledger WHERE started_at >= $from${only} GROUP BY 1`,
      { ...params, from: nowMs - 60_000 },
    );
    return keysUse(keys, daily, minute, nowMs);
  }
}
