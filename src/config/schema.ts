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
    max_concurrent: T.Optional(T.Integer({ minimum: 1 })),
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
  { mode: T.Union([T.Literal("none")], { default: "none" }) },
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
    health: HealthConfig,
    backends: T.Array(BackendConfig, { default: [] }),
  },
  strict,
);

export type SluiceConfig = Static<typeof SluiceConfig>;
export type BackendConfig = Static<typeof BackendConfig>;
export type TemplateRenderMode = Static<typeof TemplateRenderMode>;
