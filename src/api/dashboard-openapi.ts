// The dashboard's endpoints in the OpenAPI document: the same entries as openapi.ts's PATHS, kept beside the
// dashboard so a new page's endpoint is documented where it is written.
import { Type as T, type TSchema } from "@sinclair/typebox";
import type { JsonObject, OperationSpec } from "./openapi.ts";

const Usd = T.Number({ description: "US dollars" });
const Nullable = <S extends TSchema>(schema: S) => T.Union([schema, T.Null()]);
const Percentiles = T.Object({ p50: Nullable(T.Number()), p95: Nullable(T.Number()) });

export const dashboardSchemas: TSchema[] = [
  T.Object(
    {
      object: T.Literal("dashboard.session"),
      signed_in: T.Boolean({ description: "false when no valid key or session cookie came with the request" }),
      auth_mode: T.String(),
      reason: T.Optional(T.String({ description: "why not signed in" })),
      key_id: T.Optional(Nullable(T.String())),
      name: T.Optional(T.String()),
      prefix: T.Optional(Nullable(T.String())),
      scopes: T.Optional(T.Array(T.String())),
      admin: T.Optional(T.Boolean({ description: "sees every key's rows and the admin pages" })),
    },
    { $id: "DashboardSession" },
  ),
  T.Object(
    {
      object: T.Literal("dashboard.overview"),
      window: T.Union([T.Literal("hour"), T.Literal("day"), T.Literal("month")]),
      from_ms: T.Integer(),
      to_ms: T.Integer(),
      step_ms: T.Integer({ description: "60000 (hour), 3600000 (day) or 86400000 (month)" }),
      series: T.Array(T.Object({ t: T.Integer({ description: "bucket start, unix ms" }), requests: T.Integer(), errors: T.Integer(), prompt_tokens: T.Integer(), completion_tokens: T.Integer(), cost_usd: Usd })),
      totals: T.Object({ requests: T.Integer(), errors: T.Integer(), prompt_tokens: T.Integer(), completion_tokens: T.Integer(), cost_usd: Usd, requests_per_s: T.Number(), tokens_per_s: T.Number() }),
      errors_by_code: T.Array(T.Object({ code: T.String(), requests: T.Integer() })),
      latency_ms: T.Object({ total: Percentiles, ttft: Percentiles }, { description: "exact for the last hour; from log-scale histograms (±19 %) for a day or a month" }),
      spend_today_usd: Usd,
      last_minute: T.Object({ requests_per_s: T.Number(), tokens_per_s: T.Number() }),
    },
    { $id: "DashboardOverview" },
  ),
  T.Object(
    {
      object: T.Literal("list"),
      data: T.Array(
        T.Object({
          request_id: T.String(),
          key_id: Nullable(T.String()),
          model: T.String(),
          backend: Nullable(T.String()),
          endpoint: T.String(),
          status: T.Integer(),
          error_code: Nullable(T.String()),
          prompt_tokens: T.Integer(),
          completion_tokens: T.Integer(),
          cost_usd: Usd,
          stream: T.Boolean(),
          started_at: T.Integer({ description: "unix ms; pass it as `at` to the detail" }),
          total_ms: T.Number(),
          ttft_ms: Nullable(T.Number()),
          firewall_verdict: Nullable(T.String()),
        }),
      ),
      next_before: Nullable(T.String({ description: "pass as `before` for the next (older) page; null at the end" })),
    },
    { $id: "DashboardRequestList" },
  ),
  T.Object(
    {
      object: T.Literal("dashboard.request"),
      request_id: T.String(),
      started_at: T.Integer(),
      status: T.Integer(),
      firewall_rules: T.Array(T.String()),
      routing: T.Unknown({ description: "the response's routing block (decision, candidate scores), when the row recorded it; else null" }),
      inferada: T.Unknown({ description: "the processors' reports, when recorded; else null" }),
      tool_runs: T.Unknown({ description: "the platform tool runs, when recorded; else null" }),
      cost_usd: Usd,
      stream: T.Boolean(),
      tokens_estimated: T.Boolean(),
      timings: T.Object({
        total_ms: T.Number(),
        queued_ms: Nullable(T.Number()),
        firewall_ms: Nullable(T.Number()),
        upstream_ms: Nullable(T.Number()),
        ttft_ms: Nullable(T.Number()),
        tools_ms: Nullable(T.Number()),
        gateway_ms: T.Number({ description: "total minus the phases above: auth, limits, routing, processors, templating, writing the answer" }),
      }),
    },
    { $id: "DashboardRequest", additionalProperties: true, description: "every ledger column of the request, plus the fields below" },
  ),
  T.Object(
    {
      object: T.Literal("list"),
      data: T.Array(
        T.Composite([
          T.Object({ id: T.String(), name: T.String(), prefix: T.String() }),
          T.Object({
            use: T.Object({
              spend_today_usd: Usd,
              spend_month_usd: Usd,
              month_by_day: T.Array(T.Object({ day: T.String({ description: "YYYY-MM-DD (UTC)" }), cost_usd: Usd }), { description: "this month's spend per day: the budget burn-down" }),
              requests_last_minute: T.Integer(),
              tokens_last_minute: T.Integer(),
            }),
          }),
        ], { additionalProperties: true, description: "an ApiKey (as GET /v1/keys/{key_id}) with its use" }),
      ),
    },
    { $id: "DashboardKeyList" },
  ),
  T.Object(
    {
      object: T.Literal("list"),
      data: T.Array(
        T.Object({
          name: T.String(),
          model: T.String(),
          display_name: T.String(),
          public: T.Boolean(),
          discovered: T.Boolean({ description: "found by `backends: discover`" }),
          url: T.String({ description: "credentials removed" }),
          health: T.Union([T.Literal("ready"), T.Literal("loading"), T.Literal("unavailable")]),
          breaker: T.Union([T.Literal("closed"), T.Literal("open"), T.Literal("half_open")]),
          in_flight: T.Integer(),
          engine_queue: T.Integer({ description: "the engine's own queue, from its /metrics (vLLM, SGLang); 0 when unknown" }),
          ttft_ewma_ms: Nullable(T.Number()),
          duration_ewma_ms: Nullable(T.Number()),
          consecutive_failures: T.Integer(),
          max_concurrent: Nullable(T.Integer()),
          used_by: T.Array(T.String({ description: "`<balancer>/<route> (<strategy>)` or `auto`" })),
        }),
      ),
    },
    { $id: "DashboardBackendList" },
  ),
  T.Object(
    {
      object: T.Literal("dashboard.config"),
      loaded_at: T.Integer({ description: "unix seconds" }),
      last_reload: Nullable(T.Object({ at_ms: T.Integer(), ok: T.Boolean(), error: Nullable(T.String()) })),
      config: T.Object({}, { additionalProperties: true, description: "the effective config; values of secret-named keys, headers and URL passwords are masked" }),
    },
    { $id: "DashboardConfig" },
  ),
];

const query = (name: string, description: string, schema: JsonObject = { type: "string" }): JsonObject => ({ name, in: "query", required: false, description, schema });

export const dashboardParameters: JsonObject = {
  DashWindow: query("window", "hour (raw rows, per minute), day (hourly roll-up) or month (daily roll-up, 30 days)", { type: "string", enum: ["hour", "day", "month"] }),
  DashKeyId: query("key_id", "admin only: one key's rows; any other key always sees its own"),
  DashGroupBy: query("group_by", "key, model or day (default day)", { type: "string", enum: ["key", "model", "day"] }),
  DashFromDay: query("from", "first UTC day, YYYY-MM-DD (default: 29 days before `to`)"),
  DashToDay: query("to", "last UTC day, inclusive, YYYY-MM-DD (default: today)"),
  DashFormat: query("format", "json (default) or csv", { type: "string", enum: ["json", "csv"] }),
  DashModel: query("model", "the model the client asked for"),
  DashStatus: query("status", "ok (< 400), error (>= 400) or one HTTP status"),
  DashFrom: query("from", "unix seconds, unix ms or ISO 8601; inclusive"),
  DashTo: query("to", "unix seconds, unix ms or ISO 8601; exclusive"),
  DashBefore: query("before", "the previous page's next_before"),
  DashLimit: query("limit", "rows per page, 1 to 200 (default 50)", { type: "integer", minimum: 1, maximum: 200 }),
  DashAt: query("at", "the request's started_at (unix ms) from the list: finds it through the time index"),
  DashRequestId: { name: "request_id", in: "path", required: true, description: "a request id (x-request-id)", schema: { type: "string" } },
};

const TAG = "Dashboard";

export const DASHBOARD_PATHS: Record<string, Record<string, OperationSpec>> = {
  "/ui": {
    get: { operationId: "getDashboard", tag: TAG, summary: "The web dashboard (a single page, assets served from the binary)", public: true, ok: { description: "HTML page; it signs in through POST /v1/auth/session.", content: { "text/html": { schema: { type: "string" } } } } },
  },
  "/v1/dashboard/session": {
    get: { operationId: "getDashboardSession", tag: TAG, summary: "Who the browser is signed in as (200 with signed_in: false when not)", public: true, ok: { description: "The session.", json: "DashboardSession" } },
    delete: { operationId: "deleteDashboardSession", tag: TAG, summary: "Sign out: clears the session cookie", public: true, okStatus: 204, ok: { description: "The cookie is cleared." }, errors: [403] },
  },
  "/v1/dashboard/overview": {
    get: { operationId: "getDashboardOverview", tag: TAG, summary: "Traffic, tokens, errors by kind, latency percentiles and spend over a window", params: ["DashWindow", "DashKeyId"], ok: { description: "The overview.", json: "DashboardOverview" }, errors: [400, 401, 403] },
  },
  "/v1/dashboard/usage": {
    get: {
      operationId: "getDashboardUsage",
      tag: TAG,
      summary: "Spend and tokens by key, model or day from the daily roll-up (whole UTC days); JSON or CSV",
      params: ["DashGroupBy", "DashFromDay", "DashToDay", "DashKeyId", "DashModel", "DashFormat"],
      ok: { description: "Grouped and in total, like GET /v1/usage.", json: "UsageReport", content: { "text/csv": { schema: { type: "string" } } } },
      errors: [400, 401, 403],
    },
  },
  "/v1/dashboard/requests": {
    get: {
      operationId: "listDashboardRequests",
      tag: TAG,
      summary: "The request log, newest first, a page at a time",
      params: ["DashKeyId", "DashModel", "DashStatus", "DashFrom", "DashTo", "DashBefore", "DashLimit"],
      ok: { description: "One page.", json: "DashboardRequestList" },
      errors: [400, 401, 403],
    },
  },
  "/v1/dashboard/requests/{request_id}": {
    get: { operationId: "getDashboardRequest", tag: TAG, summary: "One request's ledger row with its timings broken down", params: ["DashRequestId", "DashAt"], ok: { description: "The request.", json: "DashboardRequest" }, errors: [400, 401, 404] },
  },
  "/v1/dashboard/keys": {
    get: { operationId: "listDashboardKeys", tag: TAG, summary: "Keys with spend against budgets and last-minute use against rpm/tpm (admin: all; others: their own)", ok: { description: "The keys.", json: "DashboardKeyList" }, errors: [401] },
  },
  "/v1/dashboard/backends": {
    get: { operationId: "listDashboardBackends", tag: TAG, summary: "Backends' health, circuit breaker, load, latency and who routes to them (admin)", ok: { description: "The backends.", json: "DashboardBackendList" }, errors: [401, 403] },
  },
  "/v1/dashboard/config": {
    get: { operationId: "getDashboardConfig", tag: TAG, summary: "The effective config with secrets masked, and the last reload's result (admin)", ok: { description: "The config.", json: "DashboardConfig" }, errors: [401, 403] },
  },
};
