// The JSON shapes of the endpoints the dashboard reads (documented in /openapi.json).
export interface Session {
  signed_in: boolean;
  key_id: string | null;
  name: string;
  prefix: string | null;
  scopes: string[];
  admin: boolean;
  auth_mode: string;
}

export interface SeriesPoint {
  t: number;
  requests: number;
  errors: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface Percentiles {
  p50: number | null;
  p95: number | null;
}

export interface Overview {
  window: string;
  from_ms: number;
  to_ms: number;
  step_ms: number;
  series: SeriesPoint[];
  totals: { requests: number; errors: number; prompt_tokens: number; completion_tokens: number; cost_usd: number; requests_per_s: number; tokens_per_s: number };
  errors_by_code: { code: string; requests: number }[];
  latency_ms: { total: Percentiles; ttft: Percentiles };
  spend_today_usd: number;
  last_minute: { requests_per_s: number; tokens_per_s: number };
}

export interface Backend {
  name: string;
  model: string;
  display_name: string;
  public: boolean;
  discovered: boolean;
  url: string;
  health: "ready" | "loading" | "unavailable";
  breaker: "closed" | "open" | "half_open";
  in_flight: number;
  engine_queue: number;
  ttft_ewma_ms: number | null;
  duration_ewma_ms: number | null;
  consecutive_failures: number;
  max_concurrent: number | null;
  used_by: string[];
}

export interface ApiKey {
  id: string;
  name: string;
  prefix: string;
  scopes: string[];
  allowed_models: string[] | null;
  rpm: number | null;
  tpm: number | null;
  max_concurrent: number | null;
  budget_usd_daily: number | null;
  budget_usd_monthly: number | null;
  routing: { model_pool?: string[]; optimize?: string } | null;
  created_at: number;
  revoked_at: number | null;
  expires_at: number | null;
  key?: string;
}

export interface KeyWithUse extends ApiKey {
  use: { spend_today_usd: number; spend_month_usd: number; month_by_day: { day: string; cost_usd: number }[]; requests_last_minute: number; tokens_last_minute: number };
}

export interface UsageRow {
  key_id?: string | null;
  model?: string;
  day?: string;
  requests: number;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
}

export interface UsageReport {
  data: UsageRow[];
  total: UsageRow;
}

export interface RequestSummary {
  request_id: string;
  key_id: string | null;
  model: string;
  backend: string | null;
  endpoint: string;
  status: number;
  error_code: string | null;
  prompt_tokens: number;
  completion_tokens: number;
  cost_usd: number;
  stream: boolean;
  started_at: number;
  total_ms: number;
  ttft_ms: number | null;
  firewall_verdict: string | null;
}

export interface RequestDetail extends RequestSummary {
  route: string | null;
  billing_basis: string;
  tokens_estimated: boolean;
  firewall: string | null;
  firewall_rules: string[];
  timings: Record<string, number | null>;
  /** The response's `routing`, `inferada` and `tool_runs`, when the ledger row recorded them. */
  routing: unknown;
  inferada: unknown;
  tool_runs: unknown;
}

export interface Plugin {
  name: string | null;
  kind: string;
  file: string;
  state: string;
  version: number | null;
  loaded_at: string | null;
  last_error: string | null;
}

export interface List<T> {
  data: T[];
  next_before?: string | null;
}
