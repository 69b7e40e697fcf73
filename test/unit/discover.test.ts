// Auto-discovery against real fake engines on loopback ports: what answers is served, what does not is left out.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { Value } from "@sinclair/typebox/value";
import { BackendConfig } from "../../src/config/schema.ts";
import { DEFAULT_DISCOVERY_TARGETS, discoverBackends, endpointsOf, toBackendConfigs, type DiscoveryTarget } from "../../src/config/discover.ts";

type Server = ReturnType<typeof Bun.serve>;
const servers: Server[] = [];
const requests = new Map<string, string[]>();

/** A fake engine on a free port; every request path it sees is recorded under `label`. */
function engine(label: string, handle: (path: string) => Response | Promise<Response>): DiscoveryTarget {
  requests.set(label, []);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      requests.get(label)!.push(path);
      return handle(path);
    },
  });
  servers.push(server);
  return { engine: label, port: server.port! };
}

const listing = (models: { id: string; owned_by?: string }[], headers: Record<string, string> = {}) =>
  Response.json({ object: "list", data: models.map((model) => ({ object: "model", created: 1, ...model })) }, { headers });
const notFound = () => Response.json({ error: "not found" }, { status: 404 });

let twoModels: DiscoveryTarget;
let sharedA: DiscoveryTarget;
let sharedB: DiscoveryTarget;
let llamaCpp: DiscoveryTarget;
let unknownOwner: DiscoveryTarget;
let stallHeaders: DiscoveryTarget;
let stallBody: DiscoveryTarget;
let garbage: DiscoveryTarget;
let failing: DiscoveryTarget;
let skipped: DiscoveryTarget;
let ollama: DiscoveryTarget;
let empty: DiscoveryTarget;
let closed: DiscoveryTarget;
let reranker: DiscoveryTarget;

beforeAll(async () => {
  twoModels = engine("two-models", (path) =>
    path === "/v1/models" ? listing([{ id: "qwen-b", owned_by: "vllm" }, { id: "qwen-a", owned_by: "vllm" }]) : notFound(),
  );
  sharedA = engine("shared-a", () => listing([{ id: "shared", owned_by: "sglang" }]));
  sharedB = engine("shared-b", () => listing([{ id: "shared", owned_by: "sglang" }]));
  llamaCpp = engine("llama-cpp-port", () => listing([{ id: "model.gguf" }], { server: "llama.cpp" }));
  unknownOwner = engine("TGI", () => listing([{ id: "tgi-model", owned_by: "tgi-model" }]));
  stallHeaders = engine("stall-headers", () => new Promise<Response>(() => {}));
  stallBody = engine("stall-body", () => new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"data":[')) }), { headers: { "content-type": "application/json" } }));
  garbage = engine("garbage", () => new Response("<html>not an engine</html>", { headers: { "content-type": "application/json" } }));
  failing = engine("failing", () => Response.json({ error: { message: "engine exploded" } }, { status: 500 }));
  skipped = engine("skipped", () => listing([{ id: "must-not-appear" }]));
  ollama = engine("ollama-port", (path) => (path === "/api/tags" ? Response.json({ models: [{ name: "llama3:latest", model: "llama3:latest" }, { name: "gemma:2b" }] }) : notFound()));
  empty = engine("empty", () => listing([]));
  // vLLM serving a cross-encoder: FastAPI's /openapi.json lists only the pooling routers (and GETs, ignored).
  const routes = { "/v1/models": { get: {} }, "/v1/rerank": { post: {} }, "/rerank": { post: {} }, "/v1/score": { post: {} }, "/tokenize": { post: {} }, "/v1/chat/completions": { get: {} } };
  reranker = engine("reranker", (path) => (path === "/v1/models" ? listing([{ id: "bge-reranker", owned_by: "vllm" }]) : path === "/openapi.json" ? Response.json({ openapi: "3.1.0", paths: routes }) : notFound()));

  const gone = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response() });
  closed = { engine: "closed", port: gone.port! };
  await gone.stop(true);
});

afterAll(async () => {
  await Promise.all(servers.map((server) => server.stop(true)));
});

describe("discoverBackends", () => {
  test("one engine with two models: one backend each, sorted by id, engine told by owned_by", async () => {
    const found = await discoverBackends({ targets: [{ engine: "guess", port: twoModels.port }] });
    expect(found).toEqual([
      { name: "qwen-a", url: `http://127.0.0.1:${twoModels.port}/v1`, model: "qwen-a", engine: "vLLM", port: twoModels.port },
      { name: "qwen-b", url: `http://127.0.0.1:${twoModels.port}/v1`, model: "qwen-b", engine: "vLLM", port: twoModels.port },
    ]);
  });

  test("the same id on two ports: the first port keeps the id, the later one gets @port", async () => {
    const found = await discoverBackends({ targets: [sharedA, sharedB] });
    expect(found.map(({ name, model, port, engine }) => ({ name, model, port, engine }))).toEqual([
      { name: "shared", model: "shared", port: sharedA.port, engine: "SGLang" },
      { name: `shared@${sharedB.port}`, model: "shared", port: sharedB.port, engine: "SGLang" },
    ]);
  });

  test("engine from the Server header; the target's label when nothing tells", async () => {
    const found = await discoverBackends({ targets: [llamaCpp, unknownOwner] });
    expect(found.map(({ name, engine }) => ({ name, engine }))).toEqual([
      { name: "model.gguf", engine: "llama.cpp" },
      { name: "tgi-model", engine: "TGI" },
    ]);
  });

  test("results follow target order, then model id", async () => {
    const found = await discoverBackends({ targets: [unknownOwner, twoModels, llamaCpp] });
    expect(found.map((backend) => backend.name)).toEqual(["tgi-model", "qwen-a", "qwen-b", "model.gguf"]);
  });

  test("a port with nothing listening is skipped", async () => {
    const found = await discoverBackends({ targets: [closed, twoModels] });
    expect(found.map((backend) => backend.port)).toEqual([twoModels.port, twoModels.port]);
  });

  test("engines that stall before headers or mid-body are skipped once the timeout passes", async () => {
    const found = await discoverBackends({ targets: [stallHeaders, stallBody, twoModels], timeoutMs: 200 });
    expect(found.map((backend) => backend.name)).toEqual(["qwen-a", "qwen-b"]);
    expect(requests.get("stall-headers")).toContain("/v1/models");
    expect(requests.get("stall-body")).toContain("/v1/models");
  });

  test("non-JSON and 500 answers are skipped", async () => {
    const found = await discoverBackends({ targets: [garbage, failing, twoModels] });
    expect(found.map((backend) => backend.name)).toEqual(["qwen-a", "qwen-b"]);
  });

  test("an engine listing no models adds nothing", async () => {
    expect(await discoverBackends({ targets: [empty] })).toEqual([]);
  });

  test("skipPorts: the engine on sluice's own port is never requested", async () => {
    const found = await discoverBackends({ targets: [skipped, twoModels], skipPorts: [skipped.port] });
    expect(found.map((backend) => backend.name)).toEqual(["qwen-a", "qwen-b"]);
    expect(requests.get("skipped")).toEqual([]);
  });

  test("a port listed twice is probed once", async () => {
    requests.set("shared-a", []);
    const found = await discoverBackends({ targets: [sharedA, { engine: "again", port: sharedA.port }] });
    expect(found.map((backend) => backend.name)).toEqual(["shared"]);
    expect(requests.get("shared-a")).toEqual(["/v1/models", "/openapi.json"]); // the route list: once too
  });

  test("Ollama without /v1/models: falls back to /api/tags", async () => {
    const found = await discoverBackends({ targets: [{ engine: "guess", port: ollama.port }] });
    expect(found).toEqual([
      { name: "gemma:2b", url: `http://127.0.0.1:${ollama.port}/v1`, model: "gemma:2b", engine: "Ollama", port: ollama.port },
      { name: "llama3:latest", url: `http://127.0.0.1:${ollama.port}/v1`, model: "llama3:latest", engine: "Ollama", port: ollama.port },
    ]);
  });

  test("never throws, even when fetch itself does", async () => {
    const broken = (() => {
      throw new Error("no network");
    }) as unknown as typeof fetch;
    expect(await discoverBackends({ targets: [twoModels], fetch: broken })).toEqual([]);
  });

  test("the default targets are the usual engine ports", () => {
    expect(DEFAULT_DISCOVERY_TARGETS.map((target) => target.port)).toEqual([8000, 30000, 8080, 8081, 3000, 11434]);
  });
});

describe("endpoints from the engine's route list", () => {
  test("/openapi.json's POST routes say which APIs a port serves; without one the config default stands", async () => {
    const [found] = await discoverBackends({ targets: [reranker] });
    expect(found!.endpoints).toEqual(["rerank", "score", "tokenize"]);
    expect(requests.get("reranker")).toEqual(["/v1/models", "/openapi.json"]);
    const [plain] = await discoverBackends({ targets: [twoModels] }); // its /openapi.json is a 404
    expect(plain!.endpoints).toBeUndefined();
  });

  test("a document without paths, or with none sluice routes, tells nothing", () => {
    expect(endpointsOf(undefined)).toBeUndefined();
    expect(endpointsOf({ paths: "nope" })).toBeUndefined();
    expect(endpointsOf({ paths: { "/v1/models": { get: {} }, "/pooling": { post: {} } } })).toBeUndefined();
    expect(endpointsOf({ paths: { "/v1/responses": { post: {} }, "/v1/messages": { post: {} }, "/v1/chat/completions": { post: {} } } })).toEqual(["chat"]); // Responses / Messages stay translated
  });
});

describe("toBackendConfigs", () => {
  test("plain entries that the schema accepts once its defaults are filled in", async () => {
    const configs = toBackendConfigs(await discoverBackends({ targets: [twoModels, { engine: "Ollama", port: ollama.port }] }));
    expect(configs[0]).toEqual({ name: "qwen-a", url: `http://127.0.0.1:${twoModels.port}/v1`, model: "qwen-a", description: `discovered: vLLM on port ${twoModels.port}` });
    expect(configs.map((config) => config.description).at(-1)).toBe(`discovered: Ollama on port ${ollama.port}`);
    for (const config of configs) expect(Value.Check(BackendConfig, Value.Default(BackendConfig, structuredClone(config)))).toBe(true);
  });

  test("discovered endpoints become the backend's endpoints, which the schema accepts", async () => {
    const [config] = toBackendConfigs(await discoverBackends({ targets: [reranker] }));
    expect(config!.endpoints).toEqual(["rerank", "score", "tokenize"]);
    expect(Value.Check(BackendConfig, Value.Default(BackendConfig, structuredClone(config)))).toBe(true);
  });
});
