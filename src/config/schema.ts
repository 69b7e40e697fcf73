// The YAML config's schema. TypeBox objects reject unknown keys so a typo is reported, not ignored.
import { Type as T, type Static } from "@sinclair/typebox";

const strict = { additionalProperties: false } as const;

export const TemplateRenderMode = T.Union(
  [T.Literal("native"), T.Literal("merge_system_into_first_user"), T.Literal("system_as_user")],
  { default: "native" },
);

const Pricing = T.Object(
  {
    gpu_hour: T.Optional(T.Number({ minimum: 0, description: "USD per active GPU hour (compute backends)" })),
    input_per_mtok: T.Optional(T.Number({ minimum: 0, description: "USD per million prompt tokens" })),
    output_per_mtok: T.Optional(T.Number({ minimum: 0, description: "USD per million completion tokens" })),
  },
  strict,
);

/** The APIs a backend can declare in `endpoints` (see BackendConfig). */
export const BACKEND_ENDPOINTS = ["chat", "completions", "embeddings", "responses", "messages", "rerank", "score", "audio_transcriptions", "tokenize"] as const;
export type BackendEndpoint = (typeof BACKEND_ENDPOINTS)[number];

export const BackendConfig = T.Object(
  {
    name: T.String({ minLength: 1, description: "serving name clients put in `model`" }),
    url: T.String({ minLength: 1, description: "OpenAI-compatible base URL, usually ending in /v1" }),
    model: T.Optional(T.String({ minLength: 1, description: "the engine's model id; defaults to name" })),
    public: T.Boolean({ default: false, description: "served as public:<name>" }),
    api_key: T.Optional(T.String()),
    headers: T.Optional(T.Record(T.String(), T.String())),
    display_name: T.Optional(T.String()),
    description: T.Optional(T.String()),
    owned_by: T.Optional(T.String()),
    template_render_mode: TemplateRenderMode,
    max_concurrent: T.Optional(T.Integer({ minimum: 1, description: "requests in flight to this backend; more wait in a FIFO queue" })),
    queue_timeout_ms: T.Integer({ minimum: 0, default: 30_000, description: "longest wait for a max_concurrent slot → 429" }),
    default_max_tokens: T.Integer({ minimum: 1, default: 4096, description: "completion bound for budget reservations when a request sets none" }),
    pricing: T.Optional(Pricing),
    tags: T.Optional(T.Record(T.String(), T.String())),
    timeout_ms: T.Integer({ minimum: 1, default: 600_000, description: "buffered answer or stream headers" }),
    stream_idle_timeout_ms: T.Integer({ minimum: 1, default: 120_000, description: "longest gap between stream chunks" }),
    max_stream_ms: T.Integer({ minimum: 1, default: 600_000, description: "longest a stream of a gpu_hour-priced backend may run: budgets reserve this much GPU time, and the stream is cut (visibly) there" }),
    health_url: T.Optional(T.String()),
    endpoints: T.Optional(
      T.Array(T.Union(BACKEND_ENDPOINTS.map((name) => T.Literal(name))), {
        uniqueItems: true,
        description:
          "APIs the engine serves itself (default chat, completions, embeddings). responses / messages: passed through instead of translated to chat; rerank, score, audio_transcriptions, tokenize (with /detokenize): passed through, refused for backends that do not list them",
      }),
    ),
  },
  strict,
);

export const ServerConfig = T.Object(
  {
    host: T.String({ default: "127.0.0.1" }),
    port: T.Integer({ minimum: 0, maximum: 65535, default: 4080 }),
    stream_default: T.Boolean({ default: false }),
    max_body_bytes: T.Integer({ minimum: 1, default: 4_000_000 }),
    body_timeout_ms: T.Integer({ minimum: 1, default: 60_000, description: "a request's headers and body must arrive within this (408), so a client that trickles them cannot hold a connection" }),
    max_upload_bytes: T.Integer({ minimum: 1, default: 26_214_400, description: "largest audio upload (multipart, streamed to the engine; OpenAI's limit is 25 MiB) → 413, counted while streaming" }),
    metrics_auth: T.Boolean({ default: false }),
    workers: T.Union([T.Integer({ minimum: 1, maximum: 256 }), T.Literal("auto")], { default: 1, description: "server processes sharing the port (SO_REUSEPORT), supervised; auto = the cores this process may run on. Read at start-up" }),
    base_path: T.Optional(T.String({ pattern: "^(/[A-Za-z0-9._~-]+)+$", description: "also serve the API under this prefix, e.g. /api/v1/inference (seed 003's base URL): /api/v1/inference/chat/completions is /v1/chat/completions" })),
  },
  { ...strict, default: {} },
);

export const AuthConfig = T.Object(
  {
    mode: T.Union([T.Literal("keys"), T.Literal("none")], { default: "keys", description: "none is only allowed on a loopback host" }),
    session_secret: T.Optional(T.String({ minLength: 32, description: "HS256 secret for browser sessions; default: generated once into the data dir" })),
    session_ttl_s: T.Integer({ minimum: 60, default: 43_200 }),
    public_models: T.Boolean({ default: true, description: "GET /v1/models, /v1/models/{id} and its /health answer without a key (seed 003); false requires the models scope" }),
  },
  { ...strict, default: {} },
);

export const StorageConfig = T.Object(
  {
    url: T.Optional(T.String({ description: "sqlite:<file> (default sqlite:<data dir>/sluice.db) or postgres://user:pass@host:5432/db (also postgresql://): keys, accounts, ledger and stored Responses shared by every gateway on it" })),
    max_buffered_rows: T.Integer({ minimum: 1, default: 100_000, description: "postgres: ledger rows held in memory while PostgreSQL is unreachable (written when it returns); past it new rows are dropped and counted (sluice_ledger_dropped_total)" }),
    ledger_via: T.Union([T.Literal("batch"), T.Literal("stream")], {
      default: "batch",
      description:
        "postgres: how ledger rows reach PostgreSQL. batch: queued in this gateway and written every 50 ms (a SIGKILL loses the queue); stream (needs limits.url redis://…): each row goes into a Redis stream in the same script call that settles its request, and any gateway drains the stream into PostgreSQL (a SIGKILL loses only rows whose settle call had not left, about the last millisecond's); rows whose limits were decided without Redis take the batch path. Read at start-up",
    }),
    retention_days: T.Optional(T.Integer({ minimum: 1, description: "days raw ledger rows are kept (the request log); hourly and daily roll-ups keep their sums. Default: forever" })),
    responses_retention_days: T.Integer({ minimum: 1, default: 30, description: "days stored Responses (store: true) stay readable and continuable with previous_response_id" }),
  },
  { ...strict, default: {} },
);

export const LimitsConfig = T.Object(
  {
    url: T.String({ default: "memory", description: "memory (this process) or redis://[user:pass@]host:port[/db] (rediss:// for TLS): rpm/tpm windows, max_concurrent slots, budgets and credit holds shared exactly by every gateway on it" }),
    timeout_ms: T.Integer({ minimum: 10, maximum: 10_000, default: 1_000, description: "redis: longest one call may take; past it (or a failed heartbeat) Redis counts as down and on_failure applies" }),
    heartbeat_ms: T.Integer({ minimum: 10, maximum: 10_000, default: 250, description: "redis: how often a PING checks that Redis answers (and brings limits back to it when it does)" }),
    lease_ms: T.Integer({ minimum: 100, maximum: 600_000, default: 10_000, description: "redis: slots and reservations of a gateway that stops renewing them (killed) come back after this; renewed every lease_ms / 3" }),
    poll_ms: T.Integer({ minimum: 10, maximum: 10_000, default: 250, description: "redis: a queued request tries for its slot this often besides the release messages" }),
    prefix: T.String({ minLength: 1, maxLength: 64, default: "{sluice}:", description: "redis: every key's prefix (keep a {hash tag} in it for Redis Cluster); gateways sharing limits use the same one" }),
    on_failure: T.Object(
      {
        rate: T.Union([T.Literal("local"), T.Literal("open")], { default: "local", description: "rpm/tpm while Redis is down: each gateway's own windows (local) or none (open)" }),
        concurrency: T.Literal("local", { default: "local", description: "max_concurrent while Redis is down: each gateway's own slots" }),
        budget: T.Union([T.Literal("closed"), T.Literal("local")], { default: "closed", description: "budgets and credits while Redis is down: 503 limits_unavailable (closed) or each gateway's own books (local, may overspend up to the number of gateways)" }),
      },
      { ...strict, default: {} },
    ),
  },
  { ...strict, default: {} },
);

export const HealthConfig = T.Object(
  {
    interval_ms: T.Integer({ minimum: 100, default: 10_000 }),
    timeout_ms: T.Integer({ minimum: 1, default: 2_000 }),
    failure_threshold: T.Integer({ minimum: 1, default: 5, description: "consecutive failures that eject a backend from balancers" }),
    ejection_ms: T.Integer({ minimum: 1, default: 5_000, description: "first ejection; doubles on each failed half-open probe" }),
    max_ejection_ms: T.Integer({ minimum: 1, default: 300_000 }),
  },
  { ...strict, default: {} },
);

export const ProcessorsConfig = T.Object(
  {
    default: T.Array(T.String({ minLength: 1 }), { default: [], description: "processors for chat requests that name none in inferada.processors" }),
    timeout_ms: T.Integer({ minimum: 1, default: 10_000, description: "longest a processor's asynchronous pre or post hook may take; then it fails as its `failure` says" }),
  },
  { ...strict, default: {} },
);

export const OptimizeMode = T.Union([T.Literal("balanced"), T.Literal("quality"), T.Literal("cost"), T.Literal("latency")], { default: "balanced" });

export const BalancerStrategy = T.Union(
  [T.Literal("round_robin"), T.Literal("weighted"), T.Literal("least_busy"), T.Literal("least_latency"), T.Literal("cost"), T.Literal("priority")],
  { default: "round_robin" },
);

const OneOrMany = T.Union([T.String({ minLength: 1 }), T.Array(T.String({ minLength: 1 }), { minItems: 1 })]);
const Range = T.Object({ min: T.Optional(T.Integer({ minimum: 0 })), max: T.Optional(T.Integer({ minimum: 0 })) }, strict);

const RouteMatch = T.Object(
  {
    task: T.Optional(OneOrMany),
    prompt_tokens: T.Optional(Range),
    max_tokens: T.Optional(Range),
    header: T.Optional(T.Record(T.String(), T.String(), { description: "request header name → exact value" })),
    metadata: T.Optional(T.Record(T.String(), T.String(), { description: "request body `metadata` key → exact value" })),
    key: T.Optional(OneOrMany),
  },
  strict,
);

const BalancerTarget = T.Union([
  T.String({ minLength: 1 }),
  T.Object({ backend: T.String({ minLength: 1 }), weight: T.Number({ minimum: 0, default: 1 }) }, strict),
]);

export const BalancerConfig = T.Object(
  {
    name: T.String({ minLength: 1, description: "what clients put in `model`" }),
    strategy: BalancerStrategy,
    routes: T.Array(
      T.Object({ name: T.Optional(T.String({ minLength: 1 })), match: T.Optional(RouteMatch), targets: T.Array(BalancerTarget, { minItems: 1 }) }, strict),
      { minItems: 1 },
    ),
    retries: T.Integer({ minimum: 0, maximum: 10, default: 2, description: "further attempts before the first byte reaches the client" }),
    retry_backoff_ms: T.Integer({ minimum: 0, default: 25, description: "base of the exponential backoff between attempts" }),
    retry_budget: T.Number({ minimum: 0, maximum: 1, default: 0.2, description: "retries allowed per request, on average (no retry storms)" }),
    ttft_timeout_ms: T.Optional(T.Integer({ minimum: 1, description: "try the next backend when no first byte arrives in time" })),
    description: T.Optional(T.String()),
  },
  strict,
);

const Quality = T.Union([T.Number({ minimum: 0, maximum: 1 }), T.Record(T.String(), T.Number({ minimum: 0, maximum: 1 }))]);

export const AutoConfig = T.Object(
  {
    pool: T.Array(T.String({ minLength: 1 }), { default: [], description: "backends `auto` may choose from (a key's routing.model_pool overrides)" }),
    optimize: OptimizeMode,
    profiles: T.Record(T.String(), T.Object({ quality: Quality, latency_ms: T.Optional(T.Number({ minimum: 0 })) }, strict), { default: {} }),
    classifier: T.Optional(
      T.Object({ backend: T.String({ minLength: 1 }), timeout_ms: T.Integer({ minimum: 1, default: 2_000 }) }, { ...strict, description: "a small model that classifies prompts; the built-in classifier is its fallback" }),
    ),
    retries: T.Integer({ minimum: 0, maximum: 10, default: 1 }),
    retry_backoff_ms: T.Integer({ minimum: 0, default: 25 }),
    retry_budget: T.Number({ minimum: 0, maximum: 1, default: 0.2 }),
    ttft_timeout_ms: T.Optional(T.Integer({ minimum: 1 })),
  },
  strict,
);

const FirewallAction = T.Union([T.Literal("block"), T.Literal("redact"), T.Literal("flag")]);

export const FirewallRuleConfig = T.Object(
  {
    name: T.Optional(T.String({ minLength: 1, description: "how the rule is named in verdicts; default from its kind" })),
    catalog: T.Optional(
      T.Union([T.Literal("prompt_injection"), T.Literal("jailbreak"), T.Literal("secrets"), T.Literal("pii"), T.Literal("topics")], { description: "a rule catalog shipped with sluice" }),
    ),
    topics: T.Optional(T.Array(T.String({ minLength: 1 }), { description: "catalog topics: which topics are denied" })),
    kinds: T.Optional(T.Array(T.String({ minLength: 1 }), { description: "catalog pii: which kinds count (default all)" })),
    threshold: T.Optional(T.Number({ minimum: 0, maximum: 1, description: "prompt_injection / jailbreak: model score (P(attack)) that triggers; default chosen on the dev set, see README. The catalog also triggers on its own when its rules match strongly (combined weight ≥ 0.5)" })),
    regex: T.Optional(T.String({ minLength: 1, description: "a JavaScript regular expression; a leading (?i) makes it case-insensitive" })),
    keywords: T.Optional(T.Array(T.String({ minLength: 1 }), { minItems: 1, description: "whole words or phrases, case-insensitive" })),
    max_prompt_chars: T.Optional(T.Integer({ minimum: 1, description: "longest conversation (characters of text)" })),
    languages: T.Optional(T.Array(T.String({ minLength: 2 }), { minItems: 1, description: "allowed languages of the user's messages (en, de, fr, es are recognised)" })),
    action: T.Optional(FirewallAction),
  },
  strict,
);

export const FirewallConfig = T.Object(
  {
    slug: T.String({ minLength: 1, pattern: "^[a-z0-9][a-z0-9_-]*$", description: "what requests and keys name" }),
    description: T.Optional(T.String()),
    rules: T.Array(FirewallRuleConfig, { default: [] }),
    judge: T.Optional(
      T.Object(
        {
          backend: T.String({ minLength: 1, description: "a backend serving the judge model (Llama Guard or any chat model)" }),
          prompt: T.Optional(T.String({ description: "system prompt for the judge; default: sluice's built-in one" })),
          timeout_ms: T.Integer({ minimum: 1, default: 5_000 }),
          fail: T.Union([T.Literal("open"), T.Literal("closed")], { default: "closed", description: "what a judge error or timeout means" }),
          always: T.Boolean({ default: false, description: "ask the judge even when a rule already blocked" }),
          cache_ttl_s: T.Integer({ minimum: 0, default: 600, description: "verdicts are cached by conversation" }),
        },
        strict,
      ),
    ),
    action: T.Union([T.Literal("block"), T.Literal("flag")], { default: "block", description: "for rules without their own action, and the judge's unsafe verdict" }),
    output: T.Optional(
      T.Object(
        { window_chars: T.Integer({ minimum: 1, default: 256, description: "text held back in streams so a rule sees a match whole before it is released" }) },
        { ...strict, description: "also screen the model's answer with the text rules" },
      ),
    ),
  },
  strict,
);

export const ToolsConfig = T.Object(
  {
    max_rounds: T.Integer({ minimum: 1, maximum: 20, default: 4, description: "model calls per request when it uses platform tools" }),
    time_budget_ms: T.Integer({ minimum: 1, default: 60_000, description: "for all tool runs of one request" }),
    search: T.Object(
      {
        provider: T.Union([T.Literal("local"), T.Literal("searxng"), T.Literal("brave"), T.Literal("tavily")], { default: "local" }),
        url: T.Optional(T.String({ description: "searxng: its base URL; brave/tavily: override the API base" })),
        api_key: T.Optional(T.String({ description: "brave/tavily; write ${BRAVE_API_KEY}" })),
        max_results: T.Integer({ minimum: 1, maximum: 50, default: 5 }),
        timeout_ms: T.Integer({ minimum: 1, default: 8_000 }),
        cost_per_query_usd: T.Number({ minimum: 0, default: 0, description: "what one query costs with a paid provider (Brave, Tavily): billed to the request that made it" }),
      },
      { ...strict, default: {} },
    ),
    browser: T.Object(
      {
        allow_hosts: T.Array(T.String(), { default: [], description: "hosts or CIDRs the browser may fetch although they are loopback, private or link-local" }),
        max_bytes: T.Integer({ minimum: 1, default: 2_000_000 }),
        timeout_ms: T.Integer({ minimum: 1, default: 10_000 }),
        max_chars: T.Integer({ minimum: 1, default: 20_000 }),
        chromium_path: T.String({ default: "/usr/bin/chromium", description: "for pages fetched with render: true" }),
      },
      { ...strict, default: {} },
    ),
  },
  { ...strict, default: {} },
);

export const VectorDatabaseConfig = T.Object(
  {
    name: T.String({ minLength: 1, pattern: "^[A-Za-z0-9][A-Za-z0-9_.-]*$" }),
    store: T.Union([T.Literal("sqlite"), T.Literal("postgres")], { default: "sqlite", description: "sqlite (sqlite-vec in the data dir) or postgres (pgvector)" }),
    url: T.Optional(T.String({ description: "postgres: postgres://user:password@host:5432/db (write the password as ${VAR})" })),
    embedding_backend: T.String({ minLength: 1, description: "a backend serving /v1/embeddings" }),
    chunk_chars: T.Integer({ minimum: 50, default: 800 }),
    chunk_overlap: T.Integer({ minimum: 0, default: 100 }),
    description: T.Optional(T.String()),
  },
  strict,
);

export const SluiceConfig = T.Object(
  {
    server: ServerConfig,
    auth: AuthConfig,
    storage: StorageConfig,
    limits: LimitsConfig,
    health: HealthConfig,
    // `backends: discover` (or no `backends:`) is handled before validation: see load.ts.
    backends: T.Array(BackendConfig, { default: [] }),
    balancers: T.Array(BalancerConfig, { default: [] }),
    processors: ProcessorsConfig,
    firewalls: T.Array(FirewallConfig, { default: [] }),
    tools: ToolsConfig,
    vector_databases: T.Array(VectorDatabaseConfig, { default: [] }),
    auto: T.Optional(AutoConfig),
  },
  strict,
);

export type SluiceConfig = Static<typeof SluiceConfig>;
export type BackendConfig = Static<typeof BackendConfig>;
export type TemplateRenderMode = Static<typeof TemplateRenderMode>;
export type BalancerConfig = Static<typeof BalancerConfig>;
export type FirewallConfig = Static<typeof FirewallConfig>;
export type ToolsConfig = Static<typeof ToolsConfig>;
export type VectorDatabaseConfig = Static<typeof VectorDatabaseConfig>;
export type FirewallRuleConfig = Static<typeof FirewallRuleConfig>;
export type AutoConfig = Static<typeof AutoConfig>;
export type OptimizeMode = Static<typeof OptimizeMode>;
export type BalancerStrategy = Static<typeof BalancerStrategy>;
