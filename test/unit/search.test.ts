import { afterAll, afterEach, beforeAll, describe, expect, test } from "bun:test";
import { Database } from "bun:sqlite";
import { openDatabase } from "../../src/store/database.ts";
import { LocalSearchIndex, SearchError, searchWeb, type SearchConfig } from "../../src/tools/search.ts";

const API_KEY = "sk-test-5ecret-do-not-leak";

// ---------------------------------------------------------------------------------------------------------------
// The embedded FTS5 provider

const DOCUMENTS = [
  {
    id: "rate-limits",
    title: "Rate limits",
    url: "https://docs.example/limits",
    text:
      "Every API key can carry an rpm and a tpm limit. When a key sends more requests per minute than its rpm allows, " +
      "the gateway answers 429 with a Retry-After header. Limits are counted in a sliding window per key.",
  },
  {
    id: "budgets",
    title: "Budgets",
    url: "https://docs.example/budgets",
    text:
      "Budgets cap what a key may spend per UTC day or month. Costs are recorded in the usage ledger as integer " +
      "micro-dollars, and a request that would exceed the daily budget is rejected before it reaches a backend.",
  },
  {
    id: "firewall",
    title: "Prompt firewall",
    url: "https://docs.example/firewall",
    text:
      "The firewall screens prompts for secrets, personal data and injection attempts. Rules can flag, redact or " +
      "block a request; the ledger stores which rules matched, never the text itself.",
  },
  {
    id: "zurich",
    title: "Straßenbahn in Zürich",
    text: "Die Straßenbahn Zürich ist das wichtigste Verkehrsmittel der Stadt. Привет из Москвы: трамвай тоже есть.",
  },
];

describe("LocalSearchIndex", () => {
  const opened: Database[] = [];
  afterEach(() => {
    for (const db of opened.splice(0)) db.close();
  });

  function index(db: Database = openDatabase(":memory:")): LocalSearchIndex {
    opened.push(db);
    const local = new LocalSearchIndex(db);
    local.add(DOCUMENTS);
    return local;
  }

  test("add reports the ids, count counts documents, and ids are generated when absent", () => {
    const local = index();
    expect(local.count()).toBe(4);
    const added = local.add([{ title: "No id", text: "A document without an id gets one." }]);
    expect(added.added).toBe(1);
    expect(added.ids[0]).toMatch(/^doc_/);
    expect(local.count()).toBe(5);
  });

  test("ranks the relevant document first and stems words", () => {
    const local = index();
    const results = local.search("how many requests per minute is a key limited to", 3);
    expect(results[0]?.title).toBe("Rate limits");
    expect(results[0]?.url).toBe("https://docs.example/limits");
    expect(local.search("spending", 5)[0]?.title).toBe("Budgets"); // porter: spending ~ spend
    expect(local.search("firewall", 5)[0]?.title).toBe("Prompt firewall"); // the title match outranks body mentions
  });

  test("the snippet holds the matched term with its context, about 30 tokens long", () => {
    const [hit] = index().search("ledger micro-dollars", 1);
    expect(hit?.title).toBe("Budgets");
    expect(hit?.snippet).toContain("micro-dollars");
    expect(hit?.snippet).toContain("usage ledger");
    expect(hit!.snippet.split(" ").length).toBeLessThanOrEqual(32);
    expect(hit!.snippet.length).toBeLessThanOrEqual(300);
  });

  test("limit caps the results; no match gives []", () => {
    const local = index();
    expect(local.search("key", 1)).toHaveLength(1);
    expect(local.search("key", 0)).toEqual([]);
    expect(local.search("xylophone", 5)).toEqual([]);
  });

  test("the same id replaces the document", () => {
    const local = index();
    const result = local.add([{ id: "budgets", title: "Spending caps", url: "https://docs.example/caps", text: "Quotas per tenant." }]);
    expect(result).toEqual({ added: 1, ids: ["budgets"] });
    expect(local.count()).toBe(4);
    expect(local.search("micro-dollars", 5)).toEqual([]);
    expect(local.search("tenant quotas", 5)).toEqual([{ title: "Spending caps", url: "https://docs.example/caps", snippet: "Quotas per tenant." }]);
  });

  test("remove deletes by id and counts only what existed", () => {
    const local = index();
    expect(local.remove(["firewall", "no-such-id"])).toEqual({ removed: 1 });
    expect(local.count()).toBe(3);
    expect(local.search("firewall injection", 5)).toEqual([]);
  });

  test.each([
    '"unterminated',
    "foo AND (",
    "-x",
    "*",
    "NEAR(",
    "NEAR(key budget, 2)",
    "title:budgets",
    "{title url}: key",
    "^key + budget",
    "NOT firewall",
    "key OR",
    "'; DROP TABLE search_documents; --",
    "a\u0000b",
  ])("FTS5 syntax in the query is searched, never parsed: %p", (query) => {
    const local = index();
    expect(() => local.search(query, 5)).not.toThrow();
    expect(local.count()).toBe(4);
  });

  test("operator words are ordinary terms", () => {
    const local = index();
    expect(local.search("NOT firewall", 5)[0]?.title).toBe("Prompt firewall");
    expect(local.search("title:budgets", 5)[0]?.title).toBe("Budgets");
    expect(local.search('"rate limits', 5)[0]?.title).toBe("Rate limits");
  });

  test.each(["", "   ", "*", "-- ( ) : \" ' ^ +", "…!?"])("an empty or punctuation-only query gives []: %p", (query) => {
    expect(index().search(query, 5)).toEqual([]);
  });

  test("unicode terms match, with case and diacritics folded", () => {
    const local = index();
    for (const query of ["Zürich", "zurich", "STRASSENBAHN straßenbahn", "привет", "ТРАМВАЙ"]) {
      const [hit] = local.search(query, 5);
      expect(hit?.title).toBe("Straßenbahn in Zürich");
      expect(hit?.url).toBe("");
    }
  });

  test("works on a connection opened without strict binding, and opening twice keeps the documents", () => {
    const db = new Database(":memory:");
    const local = index(db);
    expect(new LocalSearchIndex(db).count()).toBe(4);
    expect(local.search("budget", 5)[0]?.title).toBe("Budgets");
  });

  test("searchWeb with provider local searches the index", async () => {
    const local = index();
    const results = await searchWeb({ provider: "local", max_results: 2 }, "key", { local });
    expect(results).toHaveLength(2);
    expect(await searchWeb({ provider: "local" }, "key budget", { local, maxResults: 1 })).toHaveLength(1);
    expect(await searchWeb({ provider: "local" }, "  ", { local })).toEqual([]);
    await expect(searchWeb({ provider: "local" }, "key", {})).rejects.toBeInstanceOf(SearchError);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// Hosted providers against a fake server. The first path segment picks the behaviour; the provider adds its own
// path after it (searxng and tavily `/search`, brave `/res/v1/web/search`).

interface SeenRequest {
  method: string;
  url: URL;
  headers: Headers;
  body: string;
}

const seen: SeenRequest[] = [];
const stalled: (() => void)[] = [];
let server: ReturnType<typeof Bun.serve>;
let base = "";

const longContent = `<p>Sluice is a <b>self-hosted</b> gateway &amp; router. ${"It balances requests across engines. ".repeat(20)}</p>`;

function json(body: unknown, status = 200): Response {
  return Response.json(body, { status });
}

function stall(): Promise<Response> {
  return new Promise((resolve) => stalled.push(() => resolve(new Response("late"))));
}

function fakeSearxng(req: SeenRequest): Response {
  if (req.method !== "GET" || req.url.searchParams.get("format") !== "json") return json({ error: "bad request" }, 400);
  const q = req.url.searchParams.get("q");
  const results = Array.from({ length: 7 }, (_, i) => ({
    title: `Result ${i} for <em>${q}</em>`,
    url: `https://example.org/${i}`,
    content: i === 0 ? longContent : `Snippet <strong>${i}</strong> about ${q}`,
  }));
  results.splice(1, 0, { title: "no url", url: "", content: "skipped" });
  return json({ query: q, number_of_results: 7, results });
}

function fakeBrave(req: SeenRequest): Response {
  if (req.headers.get("x-subscription-token") !== API_KEY) return json({ error: { code: "SUBSCRIPTION_TOKEN_INVALID", detail: "The provided subscription token is invalid." } }, 401);
  const q = req.url.searchParams.get("q");
  if (q === "nothing") return json({ type: "search", query: { original: q } });
  const count = Number(req.url.searchParams.get("count"));
  const results = Array.from({ length: count }, (_, i) => ({
    title: `Brave ${i}`,
    url: `https://brave.example/${i}`,
    description: `A <strong>${q}</strong> result &quot;${i}&quot;`,
  }));
  return json({ type: "search", web: { type: "search", results } });
}

async function fakeTavily(req: SeenRequest): Promise<Response> {
  if (req.method !== "POST") return json({ detail: { error: "method" } }, 405);
  if (req.headers.get("authorization") !== `Bearer ${API_KEY}`) return json({ detail: { error: "Unauthorized: missing or invalid API key." } }, 401);
  const body = JSON.parse(req.body) as { query: string; max_results: number };
  const results = Array.from({ length: body.max_results }, (_, i) => ({ title: `Tavily ${i}`, url: `https://tavily.example/${i}`, content: `${body.query} #${i}`, score: 0.9 }));
  return json({ query: body.query, results, response_time: 0.1 });
}

beforeAll(() => {
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    async fetch(request) {
      const url = new URL(request.url);
      const req: SeenRequest = { method: request.method, url, headers: request.headers, body: await request.text() };
      seen.push(req);
      switch (url.pathname.split("/")[1]) {
        case "searxng":
          return fakeSearxng(req);
        case "brave":
          return fakeBrave(req);
        case "tavily":
          return fakeTavily(req);
        case "fail-500":
          return new Response("<html><body><h1>Internal Server Error</h1></body></html>", { status: 500, headers: { "content-type": "text/html" } });
        case "echo-key": // a provider that repeats the credentials it was sent
          return json({ error: `bad key ${req.headers.get("x-subscription-token") ?? req.headers.get("authorization")}` }, 401);
        case "forbidden":
          return new Response("Forbidden", { status: 403 });
        case "bad-json":
          return new Response("<!doctype html><title>searx</title>", { headers: { "content-type": "application/json" } });
        case "wrong-shape":
          return json({ results: "none", web: { results: "none" } });
        case "redirect":
          return Response.redirect(`${base}/brave${url.pathname.slice("/redirect".length)}${url.search}`, 302);
        case "stall":
          return stall();
        case "stall-body":
          return new Response(new ReadableStream({ start: (c) => c.enqueue(new TextEncoder().encode('{"results": [')) }), { headers: { "content-type": "application/json" } });
        default:
          return new Response("not found", { status: 404 });
      }
    },
  });
  base = `http://127.0.0.1:${server.port}`;
});

afterAll(() => {
  for (const release of stalled.splice(0)) release();
  server.stop(true);
});

afterEach(() => {
  seen.length = 0;
});

describe("searxng", () => {
  test("GETs /search?q=…&format=json and maps results[].{title,url,content}", async () => {
    const results = await searchWeb({ provider: "searxng", url: `${base}/searxng/` }, "bun sqlite fts5", {});
    expect(seen).toHaveLength(1);
    expect(seen[0]?.url.pathname).toBe("/searxng/search");
    expect(seen[0]?.url.searchParams.get("q")).toBe("bun sqlite fts5");
    expect(results).toHaveLength(5); // default max_results; the entry without a url is skipped
    expect(results[1]).toEqual({ title: "Result 1 for bun sqlite fts5", url: "https://example.org/1", snippet: "Snippet 1 about bun sqlite fts5" });
  });

  test("snippets lose their HTML and are trimmed to about 300 characters", async () => {
    const [first] = await searchWeb({ provider: "searxng", url: `${base}/searxng` }, "q", {});
    expect(first?.snippet).toStartWith("Sluice is a self-hosted gateway & router. It balances");
    expect(first?.snippet).not.toContain("<");
    expect(first!.snippet.length).toBeLessThanOrEqual(300);
    expect(first!.snippet.length).toBeGreaterThan(250);
    expect(first?.snippet).toEndWith("…");
  });

  test("a base URL's own query parameters are kept", async () => {
    await searchWeb({ provider: "searxng", url: `${base}/searxng/?proxy_token=abc` }, "q", {});
    expect(seen[0]?.url.pathname).toBe("/searxng/search");
    expect(seen[0]?.url.searchParams.get("proxy_token")).toBe("abc");
    expect(seen[0]?.url.searchParams.get("q")).toBe("q");
  });

  test("options.maxResults overrides config.max_results", async () => {
    expect(await searchWeb({ provider: "searxng", url: `${base}/searxng`, max_results: 6 }, "q", {})).toHaveLength(6);
    expect(await searchWeb({ provider: "searxng", url: `${base}/searxng`, max_results: 6 }, "q", { maxResults: 2 })).toHaveLength(2);
  });

  test("without a url it fails before any request", async () => {
    await expect(searchWeb({ provider: "searxng" }, "q", {})).rejects.toThrow("searxng needs a url");
    expect(seen).toHaveLength(0);
  });

  test("a 403 names the searxng setting that enables JSON", async () => {
    await expect(searchWeb({ provider: "searxng", url: `${base}/forbidden` }, "q", {})).rejects.toThrow("add json to search.formats");
  });
});

describe("brave", () => {
  const config = (): SearchConfig => ({ provider: "brave", url: `${base}/brave`, api_key: API_KEY, max_results: 3 });

  test("sends the key in X-Subscription-Token and count=N; maps web.results[].description", async () => {
    const results = await searchWeb(config(), "elysia", {});
    expect(seen[0]?.url.pathname).toBe("/brave/res/v1/web/search");
    expect(seen[0]?.url.searchParams.get("q")).toBe("elysia");
    expect(seen[0]?.url.searchParams.get("count")).toBe("3");
    expect(seen[0]?.headers.get("x-subscription-token")).toBe(API_KEY);
    expect(results).toEqual([0, 1, 2].map((i) => ({ title: `Brave ${i}`, url: `https://brave.example/${i}`, snippet: `A elysia result "${i}"` })));
  });

  test("an answer without web results is []", async () => {
    expect(await searchWeb(config(), "nothing", {})).toEqual([]);
  });

  test("needs an api_key", async () => {
    await expect(searchWeb({ provider: "brave", url: `${base}/brave` }, "q", {})).rejects.toThrow("brave needs an api_key");
  });

  test("a wrong key gives the provider's message and a hint", async () => {
    const error = await searchWeb({ ...config(), api_key: "wrong" }, "q", {}).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SearchError);
    expect((error as SearchError).status).toBe(401);
    expect((error as Error).message).toBe(`brave at ${base}/brave answered HTTP 401: The provided subscription token is invalid. (check api_key)`);
  });

  test("a redirect is not followed, so the key stays where it was configured", async () => {
    const error = await searchWeb({ ...config(), url: `${base}/redirect` }, "q", {}).catch((e: unknown) => e);
    expect((error as Error).message).toContain("answered HTTP 302");
    expect(seen).toHaveLength(1);
  });
});

describe("tavily", () => {
  test("POSTs {query, max_results} with a Bearer key; maps results[].content", async () => {
    const results = await searchWeb({ provider: "tavily", url: `${base}/tavily`, api_key: API_KEY }, "gateway", { maxResults: 2 });
    expect(seen[0]?.method).toBe("POST");
    expect(seen[0]?.url.pathname).toBe("/tavily/search");
    expect(seen[0]?.headers.get("authorization")).toBe(`Bearer ${API_KEY}`);
    expect(JSON.parse(seen[0]!.body)).toEqual({ query: "gateway", max_results: 2 });
    expect(results).toEqual([
      { title: "Tavily 0", url: "https://tavily.example/0", snippet: "gateway #0" },
      { title: "Tavily 1", url: "https://tavily.example/1", snippet: "gateway #1" },
    ]);
  });

  test("the request asks for at most 20, the provider's maximum", async () => {
    const results = await searchWeb({ provider: "tavily", url: `${base}/tavily`, api_key: API_KEY, max_results: 50 }, "q", {});
    expect(JSON.parse(seen[0]!.body).max_results).toBe(20);
    expect(results).toHaveLength(20);
  });
});

// The same failure contract for every hosted provider.
describe.each(["searxng", "brave", "tavily"] as const)("%s failures", (provider) => {
  const at = (path: string, extra: Partial<SearchConfig> = {}): SearchConfig => ({ provider, url: `${base}/${path}`, api_key: API_KEY, ...extra });

  async function failure(config: SearchConfig, signal?: AbortSignal): Promise<SearchError> {
    const error = await searchWeb(config, "q", { signal }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SearchError);
    expect((error as Error).message).not.toContain(API_KEY);
    return error as SearchError;
  }

  test("HTTP 500 says which provider answered what", async () => {
    const error = await failure(at("fail-500"));
    expect(error.message).toStartWith(`${provider} at ${base}/fail-500 answered HTTP 500: Internal Server Error`);
    expect(error.status).toBe(500);
  });

  // searxng is sent no key, so only the keyed providers can have one echoed back.
  if (provider !== "searxng") test("a provider that echoes the key does not get it into the message", async () => {
    const error = await failure(at("echo-key"));
    expect(error.message).toContain("answered HTTP 401: bad key");
    expect(error.message).toContain("[api_key]");
  });

  test("invalid JSON", async () => {
    expect((await failure(at("bad-json"))).message).toBe(`${provider} at ${base}/bad-json answered with invalid JSON (it starts with "<!doctype html><title>searx</title>")`);
  });

  test("JSON of another shape", async () => {
    expect((await failure(at("wrong-shape"))).message).toContain("without the expected results list");
  });

  test("a server that never answers hits the timeout", async () => {
    const started = performance.now();
    const error = await failure(at("stall", { timeout_ms: 150 }));
    expect(error.message).toBe(`${provider} at ${base}/stall did not answer within 150 ms (timeout_ms)`);
    expect(performance.now() - started).toBeLessThan(2000);
  });

  test("a body that stalls halfway hits the same timeout", async () => {
    expect((await failure(at("stall-body", { timeout_ms: 150 }))).message).toContain("did not answer within 150 ms");
  });

  test("an unreachable address", async () => {
    const error = await failure({ provider, url: "http://127.0.0.1:9", api_key: API_KEY, timeout_ms: 2000 });
    expect(error.message).toStartWith(`${provider} at http://127.0.0.1:9 could not be reached: `);
  });

  test("the caller's abort rejects with the caller's reason, not a SearchError", async () => {
    const controller = new AbortController();
    const reason = new Error("client went away");
    setTimeout(() => controller.abort(reason), 50);
    await expect(searchWeb(at("stall", { timeout_ms: 5000 }), "q", { signal: controller.signal })).rejects.toBe(reason);
  });
});
