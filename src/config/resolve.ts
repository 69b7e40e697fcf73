// Resolve step: cross-checks the validated config and precomputes what the hot path needs (URLs, headers,
// serving names), producing one frozen snapshot. A request keeps the snapshot it started with.
import type { BackendConfig, SluiceConfig, TemplateRenderMode } from "./schema.ts";
import { resolveAuto, resolveBalancers, type AutoRouting, type Balancer } from "./resolve-routing.ts";
import { resolveFirewalls, type Firewall } from "./resolve-firewalls.ts";
import { maskUrl } from "./mask-url.ts";

export interface Pricing {
  gpuHourUsd?: number;
  inputPerMtokUsd?: number;
  outputPerMtokUsd?: number;
}

export interface Backend {
  /** What clients put in `model`: the name, or `public:<name>` for public catalog models. */
  readonly id: string;
  readonly name: string;
  readonly public: boolean;
  /** The engine's own model id. */
  readonly upstreamModel: string;
  /** Base URL without a trailing slash, e.g. http://127.0.0.1:8000/v1 */
  readonly baseUrl: string;
  readonly chatUrl: string;
  readonly embeddingsUrl: string;
  readonly modelsUrl: string;
  readonly healthUrl: string;
  /** The engine's Prometheus metrics (queue depth for least_busy). */
  readonly metricsUrl: string;
  /** Headers sent with every upstream request (content type, auth, operator extras). */
  readonly headers: Readonly<Record<string, string>>;
  /** The same, prepared once: fetch copies a Headers object faster than it converts a plain one. */
  readonly requestHeaders: Headers;
  readonly templateRenderMode: TemplateRenderMode;
  readonly timeoutMs: number;
  readonly streamIdleTimeoutMs: number;
  /** How long a stream may run when the backend is priced by GPU time (the budget reserves this much). */
  readonly maxStreamMs: number;
  readonly maxConcurrent: number | undefined;
  readonly queueTimeoutMs: number;
  readonly defaultMaxTokens: number;
  readonly pricing: Pricing;
  readonly tags: Readonly<Record<string, string>>;
  readonly displayName: string;
  readonly description: string;
  readonly ownedBy: string;
}

export interface Snapshot {
  readonly server: SluiceConfig["server"];
  readonly auth: SluiceConfig["auth"];
  readonly storage: SluiceConfig["storage"];
  readonly health: SluiceConfig["health"];
  /** By serving id (`qwen35-demo`, `public:deepseek`). */
  readonly backends: ReadonlyMap<string, Backend>;
  /** By serving name (`router-prod`). */
  readonly balancers: ReadonlyMap<string, Balancer>;
  /** `model: "auto"`, when configured. */
  readonly auto: AutoRouting | undefined;
  /** By slug. */
  readonly firewalls: ReadonlyMap<string, Firewall>;
  /** By name, with their embedding backend. */
  readonly vectorDatabases: ReadonlyMap<string, VectorDatabase>;
  /** Unix seconds when this snapshot was loaded: the `created` of its models. */
  readonly loadedAt: number;
  readonly raw: SluiceConfig;
}

export function resolveConfig(config: SluiceConfig, problems: string[]): Snapshot {
  const sharedStore = config.storage.url !== undefined && /^postgres(ql)?:\/\//i.test(config.storage.url);
  if (config.storage.url !== undefined && !config.storage.url.startsWith("sqlite:") && !sharedStore) {
    problems.push(`storage.url: expected sqlite:<file> (the embedded store) or postgres://user:pass@host:5432/db, got '${maskUrl(config.storage.url)}'`);
  }
  // Sessions must verify on every gateway that shares the keys or limits, so they cannot use a per-gateway secret.
  const sharedLimits = /^rediss?:\/\//i.test(String(config.limits.url));
  if ((sharedStore || sharedLimits) && config.auth.session_secret === undefined) {
    problems.push(`auth.session_secret: required when ${sharedStore ? "storage.url is PostgreSQL" : "limits.url is Redis"} (several gateways share one store, and a browser session signed by one must be valid on all): set the same secret of at least 32 characters on every gateway, e.g. session_secret: \${SLUICE_SESSION_SECRET}`);
  }
  if (config.limits.url !== "memory" && !/^rediss?:\/\/[^/]/.test(config.limits.url)) {
    problems.push(`limits.url: expected memory or redis://host:port (rediss:// for TLS), got '${maskUrl(config.limits.url)}'`);
  }
  // The stream lives in the limits' Redis and is written by their finish script; it is drained into PostgreSQL.
  if (config.storage.ledger_via === "stream" && (!sharedStore || !sharedLimits)) {
    problems.push(`storage.ledger_via: stream needs storage.url postgres://… and limits.url redis://… (rows go through a Redis stream into PostgreSQL), got storage.url '${maskUrl(config.storage.url ?? "sqlite (default)")}' and limits.url '${maskUrl(config.limits.url)}'; use ledger_via: batch otherwise`);
  }
  const backends = new Map<string, Backend>();
  config.backends.forEach((backend, i) => {
    const path = `backends[${i}]`;
    const resolved = resolveBackend(backend, path, problems);
    if (!resolved) return;
    if (backends.has(resolved.id)) problems.push(`${path}.name: '${resolved.id}' is already used by another backend`);
    backends.set(resolved.id, resolved);
  });
  return Object.freeze({
    server: Object.freeze(config.server),
    auth: Object.freeze(config.auth),
    storage: Object.freeze(config.storage),
    health: Object.freeze(config.health),
    backends,
    balancers: resolveBalancers(config.balancers, backends, problems),
    auto: resolveAuto(config.auto, backends, problems),
    firewalls: resolveFirewalls(config.firewalls, backends, problems),
    vectorDatabases: resolveVectorDatabases(config, backends, problems),
    loadedAt: Math.floor(Date.now() / 1000),
    raw: config,
  });
}

function resolveBackend(config: BackendConfig, path: string, problems: string[]): Backend | undefined {
  const baseUrl = parseHttpUrl(config.url, `${path}.url`, problems);
  if (config.name.startsWith("public:")) problems.push(`${path}.name: write the bare name and 'public: true'; clients then use 'public:${config.name.slice(7)}'`);
  if (config.name === "auto") problems.push(`${path}.name: 'auto' is reserved for smart routing`);
  const healthUrl = config.health_url ? parseHttpUrl(config.health_url, `${path}.health_url`, problems) : baseUrl && `${baseUrl.replace(/\/v1$/, "")}/health`;
  if (!baseUrl || !healthUrl) return undefined;

  const headers: Record<string, string> = { "content-type": "application/json", ...config.headers };
  if (config.api_key) headers.authorization = `Bearer ${config.api_key}`;
  return Object.freeze({
    id: config.public ? `public:${config.name}` : config.name,
    name: config.name,
    public: config.public,
    upstreamModel: config.model ?? config.name,
    baseUrl,
    chatUrl: `${baseUrl}/chat/completions`,
    embeddingsUrl: `${baseUrl}/embeddings`,
    modelsUrl: `${baseUrl}/models`,
    healthUrl,
    metricsUrl: `${baseUrl.replace(/\/v1$/, "")}/metrics`,
    headers: Object.freeze(headers),
    requestHeaders: new Headers(headers),
    templateRenderMode: config.template_render_mode,
    timeoutMs: config.timeout_ms,
    streamIdleTimeoutMs: config.stream_idle_timeout_ms,
    maxStreamMs: config.max_stream_ms,
    maxConcurrent: config.max_concurrent,
    queueTimeoutMs: config.queue_timeout_ms,
    defaultMaxTokens: config.default_max_tokens,
    pricing: {
      gpuHourUsd: config.pricing?.gpu_hour,
      inputPerMtokUsd: config.pricing?.input_per_mtok,
      outputPerMtokUsd: config.pricing?.output_per_mtok,
    },
    tags: Object.freeze({ ...config.tags }),
    displayName: config.display_name ?? config.name,
    description: config.description ?? "",
    ownedBy: config.owned_by ?? "sluice",
  });
}

export interface VectorDatabase {
  readonly name: string;
  readonly store: "sqlite" | "postgres";
  /** postgres: the server's URL. */
  readonly url: string | undefined;
  readonly embeddingBackend: Backend;
  readonly chunkChars: number;
  readonly chunkOverlap: number;
  readonly description: string;
}

function resolveVectorDatabases(config: SluiceConfig, backends: ReadonlyMap<string, Backend>, problems: string[]): Map<string, VectorDatabase> {
  const databases = new Map<string, VectorDatabase>();
  config.vector_databases.forEach((database, i) => {
    const path = `vector_databases[${i}]`;
    if (databases.has(database.name)) problems.push(`${path}.name: '${database.name}' is already used`);
    if (database.store === "postgres" && !database.url?.startsWith("postgres")) problems.push(`${path}.url: store postgres needs url: postgres://user:password@host:5432/database`);
    if (database.chunk_overlap * 2 > database.chunk_chars) problems.push(`${path}.chunk_overlap: at most half of chunk_chars (${Math.floor(database.chunk_chars / 2)})`);
    const backend = backends.get(database.embedding_backend);
    if (!backend) {
      problems.push(`${path}.embedding_backend: no backend named '${database.embedding_backend}'`);
      return;
    }
    databases.set(database.name, { name: database.name, store: database.store, url: database.url, embeddingBackend: backend, chunkChars: database.chunk_chars, chunkOverlap: database.chunk_overlap, description: database.description ?? "" });
  });
  return databases;
}

function parseHttpUrl(text: string, path: string, problems: string[]): string | undefined {
  try {
    const url = new URL(text);
    if (url.protocol === "http:" || url.protocol === "https:") return url.href.replace(/\/+$/, "");
  } catch {
    // reported below
  }
  problems.push(`${path}: expected an http(s) URL like http://127.0.0.1:8000/v1, got '${maskUrl(text)}'`);
  return undefined;
}
