// GET /v1/dashboard/overview: traffic, tokens, errors by kind, latency percentiles and spend over a window.
// The last hour reads raw ledger rows through the time index (per-minute points, exact percentiles); a day reads
// the hourly roll-up and 30 days the daily one, so no window ever scans more than an hour of raw rows.
import type { Database } from "bun:sqlite";
import { GatewayError } from "../errors.ts";
import { binValueMs, PERIOD_MS, type LatencyMetric, type RollupPeriod } from "../store/rollups.ts";
import { MICROS_PER_USD } from "./dashboard-access.ts";

export type OverviewWindow = "hour" | "day" | "month";
const WINDOWS: Record<OverviewWindow, { spanMs: number; stepMs: number; source: "ledger" | RollupPeriod }> = {
  hour: { spanMs: 3_600_000, stepMs: 60_000, source: "ledger" },
  day: { spanMs: 86_400_000, stepMs: PERIOD_MS.hourly, source: "hourly" },
  month: { spanMs: 30 * 86_400_000, stepMs: PERIOD_MS.daily, source: "daily" },
};

export function parseWindow(text: string | null): OverviewWindow {
  const window = text ?? "hour";
  if (window in WINDOWS) return window as OverviewWindow;
  throw new GatewayError("invalid_request", `window: expected hour, day or month, got '${window}'`, { param: "window" });
}

export interface SeriesRow {
  t: number;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_micros: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface Overview {
  object: "dashboard.overview";
  window: OverviewWindow;
  from_ms: number;
  to_ms: number;
  step_ms: number;
  series: { t: number; requests: number; errors: number; prompt_tokens: number; completion_tokens: number; cost_usd: number }[];
  totals: { requests: number; errors: number; prompt_tokens: number; completion_tokens: number; cost_usd: number; requests_per_s: number; tokens_per_s: number };
  errors_by_code: { code: string; requests: number }[];
  latency_ms: { total: Percentiles; ttft: Percentiles };
  spend_today_usd: number;
  /** The last 60 s from the raw ledger: what "now" looks like. */
  last_minute: { requests_per_s: number; tokens_per_s: number };
}

/** Where a window's points come from and where it starts: buckets are aligned to their step, so the first point covers a whole step that reaches into the window. */
export function overviewSpan(window: OverviewWindow, nowMs: number) {
  const spec = WINDOWS[window];
  return { ...spec, fromMs: Math.floor((nowMs - spec.spanMs) / spec.stepMs) * spec.stepMs + spec.stepMs };
}

export function overview(db: Database, window: OverviewWindow, keyId: string | undefined, nowMs: number): Overview {
  const spec = overviewSpan(window, nowMs);
  const fromMs = spec.fromMs;
  const key = keyId === undefined ? "" : " AND key_id = $key";
  const params: Record<string, string | number> = { from: fromMs, ...(keyId === undefined ? {} : { key: keyId }) };

  let series: SeriesRow[];
  let errors: { code: string; requests: number }[];
  let latency: Overview["latency_ms"];
  if (spec.source === "ledger") {
    series = db.query<SeriesRow, [typeof params]>(`SELECT (started_at / ${spec.stepMs}) * ${spec.stepMs} AS t, COUNT(*) AS requests, SUM(status >= 400) AS errors,
        SUM(prompt_tokens) AS prompt_tokens, SUM(completion_tokens) AS completion_tokens, SUM(cost_micros) AS cost_micros
      FROM ledger WHERE started_at >= $from${key} GROUP BY 1 ORDER BY 1`).all(params);
    errors = db.query<{ code: string; requests: number }, [typeof params]>(`SELECT COALESCE(error_code, 'http_' || status) AS code, COUNT(*) AS requests
      FROM ledger WHERE started_at >= $from AND status >= 400${key} GROUP BY 1 ORDER BY 2 DESC`).all(params);
    latency = exactPercentiles(db, key, params);
  } else {
    const p = spec.source;
    series = db.query<SeriesRow, [typeof params]>(`SELECT bucket_ms AS t, SUM(requests) AS requests, SUM(errors) AS errors, SUM(prompt_tokens) AS prompt_tokens,
        SUM(completion_tokens) AS completion_tokens, SUM(cost_micros) AS cost_micros
      FROM usage_${p} WHERE bucket_ms >= $from${key} GROUP BY 1 ORDER BY 1`).all(params);
    errors = db.query<{ code: string; requests: number }, [typeof params]>(`SELECT error_code AS code, SUM(requests) AS requests
      FROM errors_${p} WHERE bucket_ms >= $from${key} GROUP BY 1 ORDER BY 2 DESC`).all(params);
    const bins = db.query<{ metric: LatencyMetric; bin: number; requests: number }, [typeof params]>(`SELECT metric, bin, SUM(requests) AS requests
      FROM latency_${p} WHERE bucket_ms >= $from${key} GROUP BY 1, 2 ORDER BY 1, 2`).all(params);
    latency = { total: histogramPercentiles(bins.filter((b) => b.metric === "total")), ttft: histogramPercentiles(bins.filter((b) => b.metric === "ttft")) };
  }

  const dayStart = Math.floor(nowMs / PERIOD_MS.daily) * PERIOD_MS.daily;
  const today = db.query<{ micros: number }, [typeof params]>(`SELECT COALESCE(SUM(cost_micros), 0) AS micros FROM usage_daily WHERE bucket_ms = $from${key}`).get({ ...params, from: dayStart });
  const minute = db.query<{ requests: number; tokens: number }, [typeof params]>(`SELECT COUNT(*) AS requests, COALESCE(SUM(completion_tokens), 0) AS tokens
    FROM ledger WHERE started_at >= $from${key}`).get({ ...params, from: nowMs - 60_000 });
  return overviewOf(window, nowMs, series, errors, latency, today?.micros ?? 0, minute ?? { requests: 0, tokens: 0 });
}

/** The answer from what the queries read (SQLite above, PostgreSQL in postgres/reads.ts). */
export function overviewOf(
  window: OverviewWindow,
  nowMs: number,
  series: readonly SeriesRow[],
  errors: { code: string; requests: number }[],
  latency: Overview["latency_ms"],
  todayMicros: number,
  minute: { requests: number; tokens: number },
): Overview {
  const spec = overviewSpan(window, nowMs);
  const fromMs = spec.fromMs;
  const totals = { requests: 0, errors: 0, prompt_tokens: 0, completion_tokens: 0, cost_micros: 0 };
  for (const row of series) {
    totals.requests += row.requests;
    totals.errors += row.errors;
    totals.prompt_tokens += row.prompt_tokens;
    totals.completion_tokens += row.completion_tokens;
    totals.cost_micros += row.cost_micros;
  }
  const spanS = (nowMs - fromMs) / 1000;

  return {
    object: "dashboard.overview",
    window,
    from_ms: fromMs,
    to_ms: nowMs,
    step_ms: spec.stepMs,
    series: series.map(({ cost_micros, ...row }) => ({ ...row, cost_usd: cost_micros / MICROS_PER_USD })),
    totals: {
      requests: totals.requests,
      errors: totals.errors,
      prompt_tokens: totals.prompt_tokens,
      completion_tokens: totals.completion_tokens,
      cost_usd: totals.cost_micros / MICROS_PER_USD,
      requests_per_s: perSecond(totals.requests, spanS),
      tokens_per_s: perSecond(totals.completion_tokens, spanS),
    },
    errors_by_code: errors,
    latency_ms: latency,
    spend_today_usd: todayMicros / MICROS_PER_USD,
    last_minute: { requests_per_s: perSecond(minute.requests, 60), tokens_per_s: perSecond(minute.tokens, 60) },
  };
}

function exactPercentiles(db: Database, key: string, params: Record<string, string | number>): Overview["latency_ms"] {
  return exactPercentilesOf(db.query<{ total_ms: number; ttft_ms: number | null }, [typeof params]>(`SELECT total_ms, ttft_ms FROM ledger WHERE started_at >= $from${key}`).all(params));
}

/** p50 and p95 of raw rows' latencies. */
export function exactPercentilesOf(rows: readonly { total_ms: number; ttft_ms: number | null }[]): Overview["latency_ms"] {
  const total = Float64Array.from(rows, (r) => r.total_ms).sort();
  const ttft = Float64Array.from(rows.filter((r) => r.ttft_ms !== null), (r) => r.ttft_ms!).sort();
  return { total: { p50: pick(total, 0.5), p95: pick(total, 0.95) }, ttft: { p50: pick(ttft, 0.5), p95: pick(ttft, 0.95) } };
}

function pick(sorted: Float64Array, q: number): number | null {
  if (sorted.length === 0) return null;
  return round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!);
}

/** Percentiles from histogram bins (sorted by bin): each reports its bin's geometric middle. */
export function histogramPercentiles(bins: readonly { bin: number; requests: number }[]): Percentiles {
  const count = bins.reduce((sum, b) => sum + b.requests, 0);
  if (count === 0) return { p50: null, p95: null };
  const at = (q: number) => {
    const rank = Math.floor(q * count);
    let seen = 0;
    for (const b of bins) {
      seen += b.requests;
      if (seen > rank) return round(binValueMs(b.bin));
    }
    return round(binValueMs(bins[bins.length - 1]!.bin));
  };
  return { p50: at(0.5), p95: at(0.95) };
}

const round = (value: number) => Math.round(value * 100) / 100;
// Six decimals: a day with a few requests is a rate of 0.0001/s, which two decimals would print as 0.
const perSecond = (amount: number, seconds: number) => Math.round((amount / seconds) * 1e6) / 1e6;
