// Zero-config start: with `backends: discover` (or no backends at all) sluice probes the usual local engine ports
// for an OpenAI model listing and serves whatever answers. One deadline per port bounds the whole probe by timeoutMs.
// Which APIs a port serves is read from the route list the engine publishes (`/openapi.json`: vLLM and SGLang are
// FastAPI apps, and vLLM mounts only the routers of the tasks its model supports — chat for a generative model,
// rerank and score for a cross-encoder, transcriptions for Whisper). An engine without one keeps the default.
import type { BackendEndpoint } from "./schema.ts";

export interface DiscoveryTarget {
  engine: string;
  port: number;
}

/** vLLM 8000, SGLang 30000, llama.cpp 8080 and 8081, TGI 3000, Ollama 11434 */
export const DEFAULT_DISCOVERY_TARGETS: readonly DiscoveryTarget[] = Object.freeze([
  { engine: "vLLM", port: 8000 },
  { engine: "SGLang", port: 30000 },
  { engine: "llama.cpp", port: 8080 },
  { engine: "llama.cpp", port: 8081 },
  { engine: "TGI", port: 3000 },
  { engine: "Ollama", port: 11434 },
]);

export interface DiscoveryOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default DEFAULT_DISCOVERY_TARGETS. */
  targets?: readonly DiscoveryTarget[];
  /** Ports sluice itself uses (its own server.port): never probed. */
  skipPorts?: readonly number[];
  /** Per port, the listing and any fallback together; default 800. */
  timeoutMs?: number;
  fetch?: typeof fetch;
}

export interface DiscoveredBackend {
  /** The model id, or `<id>@<port>` when an earlier port already serves that id. */
  name: string;
  /** http://{host}:{port}/v1 */
  url: string;
  /** The engine's own model id. */
  model: string;
  engine: string;
  port: number;
  /** The APIs the engine's route list shows; undefined when it publishes none (the config default applies). */
  endpoints?: BackendEndpoint[];
}

interface Listing {
  target: DiscoveryTarget;
  engine: string;
  /** Sorted, without duplicates. */
  ids: string[];
  endpoints?: BackendEndpoint[];
}

/**
 * The route each API is sent to (under the backend's /v1, or the root for tokenize), as the passthrough sends it.
 * Responses and Messages are left out on purpose: every chat backend serves them translated, through the
 * gateway's own store and firewall; passing them to the engine instead stays an explicit `endpoints` choice.
 */
const ROUTE_OF: ReadonlyArray<readonly [BackendEndpoint, string]> = [
  ["chat", "/v1/chat/completions"],
  ["completions", "/v1/completions"],
  ["embeddings", "/v1/embeddings"],
  ["rerank", "/v1/rerank"],
  ["score", "/v1/score"],
  ["audio_transcriptions", "/v1/audio/transcriptions"],
  ["tokenize", "/tokenize"],
];

// What engines leave in `owned_by` or the Server header. A port whose answer carries none keeps its target's label,
// which is only a guess from the port number.
const ENGINE_BY_MARK: ReadonlyMap<string, string> = new Map([
  ["vllm", "vLLM"],
  ["sglang", "SGLang"],
  ["llamacpp", "llama.cpp"],
  ["llama.cpp", "llama.cpp"],
  ["library", "Ollama"],
  ["ollama", "Ollama"],
]);

/** The models served on the local engine ports, by target order then model id. Unreachable ports are left out; never throws. */
export async function discoverBackends(options: DiscoveryOptions = {}): Promise<DiscoveredBackend[]> {
  const host = options.host ?? "127.0.0.1";
  const origin = `http://${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}`; // bare IPv6 needs brackets
  // Sluice's own ports, then each port once it has a target: a port listed twice is probed once.
  const taken = new Set(options.skipPorts);
  const targets = (options.targets ?? DEFAULT_DISCOVERY_TARGETS).filter((target) => {
    if (taken.has(target.port)) return false;
    taken.add(target.port);
    return true;
  });

  const timeoutMs = options.timeoutMs ?? 800;
  const fetchFn = options.fetch ?? fetch;
  const listings = await Promise.all(targets.map((target) => listModels(`${origin}:${target.port}`, target, timeoutMs, fetchFn)));

  const names = new Set<string>();
  const found: DiscoveredBackend[] = [];
  for (const { target, engine, ids, endpoints } of listings) {
    for (const id of ids) {
      const name = names.has(id) ? `${id}@${target.port}` : id;
      names.add(name);
      found.push({ name, url: `${origin}:${target.port}/v1`, model: id, engine, port: target.port, ...(endpoints && { endpoints }) });
    }
  }
  return found;
}

/** Backend entries for the config loader, which fills in the schema defaults. */
export function toBackendConfigs(found: DiscoveredBackend[]): Array<{ name: string; url: string; model: string; description: string; endpoints?: BackendEndpoint[] }> {
  return found.map(({ name, url, model, engine, port, endpoints }) => ({ name, url, model, description: `discovered: ${engine} on port ${port}`, ...(endpoints && { endpoints }) }));
}

async function listModels(base: string, target: DiscoveryTarget, timeoutMs: number, fetchFn: typeof fetch): Promise<Listing> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetchFn(`${base}/v1/models`, { signal });
    const listing = openAiListing(await jsonBody(response));
    if (listing) {
      const marks = [response.headers.get("server") ?? "", ...listing.owners].map((mark) => mark.toLowerCase());
      const engine = marks.map((mark) => ENGINE_BY_MARK.get(mark)).find((known) => known !== undefined);
      const endpoints = listing.ids.length ? endpointsOf(await jsonBody(await fetchFn(`${base}/openapi.json`, { signal }).catch(() => undefined))) : undefined;
      return { target, engine: engine ?? target.engine, ids: sortedUnique(listing.ids), ...(endpoints && { endpoints }) };
    }
    // The port speaks HTTP but has no OpenAI listing: an Ollama older than its /v1/models still has its own.
    const names = ollamaTags(await jsonBody(await fetchFn(`${base}/api/tags`, { signal })));
    return { target, engine: names ? "Ollama" : target.engine, ids: sortedUnique(names ?? []) };
  } catch {
    return { target, engine: target.engine, ids: [] };
  }
}

async function jsonBody(response: Response | undefined): Promise<unknown> {
  if (!response) return undefined;
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  return response.json().catch(() => undefined);
}

/** `{data: [{id, owned_by}]}`; entries without a string id are ignored. */
function openAiListing(body: unknown): { ids: string[]; owners: string[] } | undefined {
  const data = (body as { data?: unknown } | null | undefined)?.data;
  if (!Array.isArray(data)) return undefined;
  const models = (data as unknown[]).map((entry) => entry as { id?: unknown; owned_by?: unknown } | null);
  return {
    ids: models.map((model) => model?.id).filter(isName),
    owners: models.map((model) => model?.owned_by).filter(isName),
  };
}

/** The APIs an OpenAPI document's `paths` has a POST for; undefined without paths or when none is one we route. */
export function endpointsOf(document: unknown): BackendEndpoint[] | undefined {
  const paths = (document as { paths?: unknown } | null | undefined)?.paths;
  if (paths === null || typeof paths !== "object") return undefined;
  const posts = (path: string) => {
    const operations = (paths as Record<string, unknown>)[path];
    return operations !== null && typeof operations === "object" && "post" in operations;
  };
  const served = ROUTE_OF.filter(([, path]) => posts(path)).map(([endpoint]) => endpoint);
  return served.length ? served : undefined;
}

/** Ollama's native `{models: [{name}]}`. */
function ollamaTags(body: unknown): string[] | undefined {
  const models = (body as { models?: unknown } | null | undefined)?.models;
  if (!Array.isArray(models)) return undefined;
  return (models as unknown[]).map((model) => (model as { name?: unknown } | null)?.name).filter(isName);
}

function isName(value: unknown): value is string {
  return typeof value === "string" && value !== "";
}

// Plain code-unit order: the same on every machine, unlike localeCompare.
function sortedUnique(ids: string[]): string[] {
  return [...new Set(ids)].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}
