// What an API key carries (the JSON contract of /v1/keys), its validation schema, and the secret format.
import { Type as T, type Static } from "@sinclair/typebox";

export const SCOPES = ["chat", "embeddings", "models", "usage", "admin"] as const;
export type Scope = (typeof SCOPES)[number];
export const DEFAULT_SCOPES: Scope[] = ["chat", "embeddings", "models"];

const Scopes = T.Array(T.Union(SCOPES.map((s) => T.Literal(s))), { description: "chat, embeddings, models, usage, admin (admin allows everything)" });
const NullableInt = T.Union([T.Integer({ minimum: 1 }), T.Null()]);
const NullableUsd = T.Union([T.Number({ minimum: 0 }), T.Null()]);

/** Fields a client may set on create and PATCH. */
export const KeySettings = T.Object(
  {
    name: T.String({ minLength: 1, maxLength: 200 }),
    scopes: Scopes,
    allowed_models: T.Union([T.Array(T.String({ minLength: 1 })), T.Null()], { description: "model names or globs like public:*; null = all" }),
    allowed_ips: T.Union([T.Array(T.String({ minLength: 1 })), T.Null()], { description: "IPv4/IPv6 addresses or CIDRs; null = any" }),
    rpm: NullableInt,
    tpm: NullableInt,
    max_concurrent: NullableInt,
    queue_timeout_ms: T.Union([T.Integer({ minimum: 0 }), T.Null()]),
    budget_usd_daily: NullableUsd,
    budget_usd_monthly: NullableUsd,
    routing: T.Union([
      T.Object(
        {
          model_pool: T.Optional(T.Array(T.String())),
          optimize: T.Optional(T.Union([T.Literal("balanced"), T.Literal("quality"), T.Literal("cost"), T.Literal("latency")])),
        },
        { additionalProperties: false },
      ),
      T.Null(),
    ]),
    firewall: T.Union([T.String({ minLength: 1 }), T.Null()]),
    tools: T.Union([T.Array(T.String({ minLength: 1 })), T.Null()], { description: "platform tools this key may use (search, browser, …); null = all" }),
    firewall_required: T.Boolean({ description: "requests must pass the key's firewall; they may not name another" }),
    processors: T.Union([T.Array(T.String({ minLength: 1 })), T.Null()], { description: "processors this key may use (inferada.processors); null = all" }),
    expires_at: T.Union([T.Integer({ description: "unix seconds" }), T.Null()]),
    account_id: T.Union([T.String({ minLength: 1 }), T.Null()], { description: "the account whose credits and budgets it spends (POST /v1/accounts); null = none" }),
  },
  { additionalProperties: false },
);
export type KeySettings = Static<typeof KeySettings>;

export const OPTIMIZE_MODES = ["balanced", "quality", "cost", "latency"] as const;
/** Seed 003's dashboard names for the modes, accepted as spelled there. */
export const OPTIMIZE_ALIASES: Record<string, (typeof OPTIMIZE_MODES)[number]> = { best_quality: "quality", cheapest: "cost", fastest: "latency" };

/** Seed 003's flat spelling of `routing` on POST/PATCH /v1/keys: `{"name", "model_pool", "optimize_mode"}`. */
const SeedRoutingFields = T.Object({
  model_pool: T.Union([T.Array(T.String({ minLength: 1 })), T.Null()], { description: "seed 003's spelling of routing.model_pool" }),
  optimize_mode: T.Union([T.Union([...OPTIMIZE_MODES, ...Object.keys(OPTIMIZE_ALIASES)].map((mode) => T.Literal(mode))), T.Null()], { description: "seed 003's spelling of routing.optimize" }),
});
export type SeedRoutingFields = Partial<Static<typeof SeedRoutingFields>>;

export const KeyCreateRequest = T.Composite([T.Partial(KeySettings), T.Partial(SeedRoutingFields), T.Object({ name: T.String({ minLength: 1, maxLength: 200 }) })], {
  $id: "KeyCreateRequest",
  additionalProperties: false,
});
export const KeyUpdateRequest = T.Composite([T.Partial(KeySettings), T.Partial(SeedRoutingFields)], { $id: "KeyUpdateRequest", additionalProperties: false });

export interface ApiKey extends KeySettings {
  id: string;
  prefix: string;
  created_at: number;
  revoked_at: number | null;
}

export const ApiKeyObject = T.Composite([KeySettings, SeedRoutingFields, T.Object({ id: T.String(), object: T.Literal("api_key"), prefix: T.String(), created_at: T.Integer(), revoked_at: T.Union([T.Integer(), T.Null()]), key: T.Optional(T.String({ description: "the secret, returned once on creation" })) })], {
  $id: "ApiKey",
});

export const DEFAULT_SETTINGS: Omit<KeySettings, "name"> = {
  scopes: DEFAULT_SCOPES,
  allowed_models: null,
  allowed_ips: null,
  rpm: null,
  tpm: null,
  max_concurrent: null,
  queue_timeout_ms: null,
  budget_usd_daily: null,
  budget_usd_monthly: null,
  routing: null,
  firewall: null,
  processors: null,
  firewall_required: false,
  tools: null,
  expires_at: null,
  account_id: null,
};

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** `length` characters of base62 from the system CSPRNG (rejection sampling keeps it uniform). */
export function randomBase62(length: number): string {
  let out = "";
  while (out.length < length) {
    for (const byte of crypto.getRandomValues(new Uint8Array(length * 2))) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

export const newSecret = () => `inf_${randomBase62(40)}`;
export const newKeyId = () => `key_${randomBase62(16)}`;
export const secretPrefix = (secret: string) => secret.slice(0, 12);
export const KEY_PATTERN = /^inf_[0-9A-Za-z]{32,}$/;

export function hashSecret(secret: string): string {
  return new Bun.CryptoHasher("sha256").update(secret).digest("hex");
}
