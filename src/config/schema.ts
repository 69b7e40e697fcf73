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
    health_url: T.Optional(T.String()),
  },
  strict,
);

export const ServerConfig = T.Object(
  {
    host: T.String({ default: "127.0.0.1" }),
    port: T.Integer({ minimum: 0, maximum: 65535, default: 4080 }),
    stream_default: T.Boolean({ default: false }),
    max_body_bytes: T.Integer({ minimum: 1, default: 4_000_000 }),
    metrics_auth: T.Boolean({ default: false }),
  },
  { ...strict, default: {} },
);

export const AuthConfig = T.Object(
  {
    mode: T.Union([T.Literal("keys"), T.Literal("none")], { default: "keys", description: "none is only allowed on a loopback host" }),
    session_secret: T.Optional(T.String({ minLength: 32, description: "HS256 secret for browser sessions; default: generated once into the data dir" })),
    session_ttl_s: T.Integer({ minimum: 60, default: 43_200 }),
  },
  { ...strict, default: {} },
);

export const StorageConfig = T.Object(
  { url: T.Optional(T.String({ description: "sqlite:<file>; default sqlite:<data dir>/sluice.db" })) },
  { ...strict, default: {} },
);

export const LimitsConfig = T.Object(
  { url: T.Union([T.Literal("memory")], { default: "memory", description: "where rate and concurrency counters live" }) },
  { ...strict, default: {} },
);

export const HealthConfig = T.Object(
  {
    interval_ms: T.Integer({ minimum: 100, default: 10_000 }),
    timeout_ms: T.Integer({ minimum: 1, default: 2_000 }),
  },
  { ...strict, default: {} },
);

export const SluiceConfig = T.Object(
  {
    server: ServerConfig,
    auth: AuthConfig,
    storage: StorageConfig,
    limits: LimitsConfig,
    health: HealthConfig,
    backends: T.Array(BackendConfig, { default: [] }),
  },
  strict,
);

export type SluiceConfig = Static<typeof SluiceConfig>;
export type BackendConfig = Static<typeof BackendConfig>;
export type TemplateRenderMode = Static<typeof TemplateRenderMode>;
